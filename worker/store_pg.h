/*
 * store_pg.h — the PostgreSQL backend of store.h (libpq).
 */
#ifndef TENANT_WORKER_STORE_PG_H
#define TENANT_WORKER_STORE_PG_H

#include <stddef.h>

#include "store.h"

/*
 * A pool for the libpq connection string url (a URI or key=value words; the
 * password, when not in it, comes from PGPASSFILE as libpq reads it).
 * Connections are opened per thread on first use; this call opens the
 * calling thread's at once so a wrong URL or an unreachable server is
 * reported at start-up: on failure err gets libpq's sentence and -EIO or
 * -ENOMEM is returned.
 */
int store_pg_open(const char *url, struct store **out, char *err, size_t errlen);

/* Bring the schema of the database up to date (schema_pg.c). */
int schema_pg_apply(struct store *s, char *err, size_t errlen);

#endif
