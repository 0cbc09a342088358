/*
 * pq_dl.h — libpq, loaded when a tenant uses PostgreSQL, not at every start.
 *
 * Linking libpq pulls in Kerberos, LDAP, SASL, GnuTLS and their dependencies:
 * 21 more shared objects for the dynamic linker to map and relocate (with
 * -z now, every symbol) at each worker start, about 5 ms of CPU per worker
 * on this project's machine, spent by every SQLite tenant for nothing. So
 * tenant-worker is not linked with libpq: store_pg.c includes this header,
 * which turns each libpq call it makes into a call through a pointer that
 * pq_dl_load() fills from dlopen("libpq.so.5") on the first PostgreSQL open.
 * The types and prototypes still come from <libpq-fe.h> (the pointers are
 * declared with __typeof__ of the real functions), so the compiler checks
 * every call as before.
 *
 * A function store_pg.c starts to use must be added to PQ_DL_FUNCS and get
 * its #define below; a libpq call without one fails to link, so none can be
 * forgotten.
 */
#ifndef TENANT_WORKER_PQ_DL_H
#define TENANT_WORKER_PQ_DL_H

#include <libpq-fe.h>
#include <stddef.h>

#define PQ_DL_FUNCS(X)                                                                             \
    X(PQclear)                                                                                     \
    X(PQcmdTuples)                                                                                 \
    X(PQconnectdbParams)                                                                           \
    X(PQconsumeInput)                                                                              \
    X(PQerrorMessage)                                                                              \
    X(PQexec)                                                                                      \
    X(PQexecParams)                                                                                \
    X(PQfinish)                                                                                    \
    X(PQgetisnull)                                                                                 \
    X(PQgetlength)                                                                                 \
    X(PQgetvalue)                                                                                  \
    X(PQisBusy)                                                                                    \
    X(PQnfields)                                                                                   \
    X(PQntuples)                                                                                   \
    X(PQresultErrorField)                                                                          \
    X(PQresultStatus)                                                                              \
    X(PQsetNoticeReceiver)                                                                         \
    X(PQstatus)                                                                                    \
    X(PQtransactionStatus)

#define PQ_DL_DECLARE(f) extern __typeof__(f) *pq_dl_##f;
PQ_DL_FUNCS(PQ_DL_DECLARE)
#undef PQ_DL_DECLARE

/* Loads libpq and resolves every function of PQ_DL_FUNCS, once per process
 * (thread-safe). 0, or -1 with a message naming the library or the missing
 * symbol in err. */
int pq_dl_load(char *err, size_t errlen);

#ifndef PQ_DL_IMPL
#define PQclear (*pq_dl_PQclear)
#define PQcmdTuples (*pq_dl_PQcmdTuples)
#define PQconnectdbParams (*pq_dl_PQconnectdbParams)
#define PQconsumeInput (*pq_dl_PQconsumeInput)
#define PQerrorMessage (*pq_dl_PQerrorMessage)
#define PQexec (*pq_dl_PQexec)
#define PQexecParams (*pq_dl_PQexecParams)
#define PQfinish (*pq_dl_PQfinish)
#define PQgetisnull (*pq_dl_PQgetisnull)
#define PQgetlength (*pq_dl_PQgetlength)
#define PQgetvalue (*pq_dl_PQgetvalue)
#define PQisBusy (*pq_dl_PQisBusy)
#define PQnfields (*pq_dl_PQnfields)
#define PQntuples (*pq_dl_PQntuples)
#define PQresultErrorField (*pq_dl_PQresultErrorField)
#define PQresultStatus (*pq_dl_PQresultStatus)
#define PQsetNoticeReceiver (*pq_dl_PQsetNoticeReceiver)
#define PQstatus (*pq_dl_PQstatus)
#define PQtransactionStatus (*pq_dl_PQtransactionStatus)
#endif

#endif
