/*
 * pq_dl.c — loads libpq on the first PostgreSQL open (see pq_dl.h).
 */
#define PQ_DL_IMPL
#include "pq_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

/* The soname of the libpq whose <libpq-fe.h> we compile against (5 since
 * PostgreSQL 8.4). */
#define PQ_DL_SONAME "libpq.so.5"

#define PQ_DL_DEFINE(f) __typeof__(f) *pq_dl_##f;
PQ_DL_FUNCS(PQ_DL_DEFINE)
#undef PQ_DL_DEFINE

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_err[256];
static int load_rc = -1;

static void load(void)
{
    void *h = dlopen(PQ_DL_SONAME, RTLD_NOW | RTLD_LOCAL);
    const char *missing = NULL;

    if (h == NULL) {
        const char *why = dlerror();
        snprintf(load_err, sizeof load_err, "cannot load %s (PostgreSQL client library): %s",
                 PQ_DL_SONAME, why != NULL ? why : "unknown error");
        return;
    }
    /* Assign through a void ** alias: ISO C has no cast from the void * of
     * dlsym to a function pointer, POSIX guarantees the representation. */
#define PQ_DL_RESOLVE(f)                                                                           \
    if (missing == NULL && (*(void **)&pq_dl_##f = dlsym(h, #f)) == NULL)                          \
        missing = #f;
    PQ_DL_FUNCS(PQ_DL_RESOLVE)
#undef PQ_DL_RESOLVE
    if (missing != NULL) {
        snprintf(load_err, sizeof load_err, "%s has no symbol %s", PQ_DL_SONAME, missing);
        dlclose(h);
        return;
    }
    load_rc = 0; /* h stays open for the life of the process */
}

int pq_dl_load(char *err, size_t errlen)
{
    pthread_once(&once, load);
    if (load_rc != 0)
        snprintf(err, errlen, "%s", load_err);
    return load_rc;
}
