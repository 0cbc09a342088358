/*
 * dbcopy.h — moving a firm's data between two databases (SQLite and
 * PostgreSQL, either way) and proving it arrived whole: the engine of
 * `tenant-worker --migrate-copy` and `--db-checksum` (dbcopy_cli.c), which
 * tenantd's `tenantctl migrate` runs.
 *
 * The checksum of a table is computed the same way on both engines, over a
 * canonical ordering and encoding of its rows, so equal data gives equal
 * sums whatever engine holds it (docs/database.md "Moving a firm"):
 *   - rows in order of the primary key (integers numerically, the sessions'
 *     text ids by their bytes);
 *   - each row is its columns in the schema's order, each column one of
 *     "N;" (SQL NULL), "I<decimal>;" (integer), "R<%.17g>;" (real, which
 *     round-trips a double exactly), "T<byte length>:<bytes>;" (text),
 *     then "\n";
 *   - SHA-256 over the rows, in hex.
 */
#ifndef TENANT_WORKER_DBCOPY_H
#define TENANT_WORKER_DBCOPY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The firm's tables, parents before children (the copy's order). */
#define DBCOPY_NTABLES 15

struct dbcopy_table {
    const char *name;
    const char *columns; /* the SQL column list, schema order, the key first */
    const char *types;   /* one letter per column: i integer, r real, t text */
};
extern const struct dbcopy_table dbcopy_tables[DBCOPY_NTABLES];

struct dbcopy_sum {
    int64_t rows;
    char sha256[65]; /* hex */
};

/*
 * The sums of every table of s, read in one snapshot. 0, or -EIO with a
 * sentence in err.
 */
int dbcopy_checksum(struct store *s, struct dbcopy_sum sums[DBCOPY_NTABLES], char *err,
                    size_t errlen);

/*
 * Copy every table of from into to, whose schema is current: from is read in
 * one snapshot, to is written in one write transaction, ids kept (and on
 * PostgreSQL the identities moved past them), then to's sums are computed
 * inside the same transaction and compared with from's; only then is it
 * committed. Any failure rolls to back. sums gets the (equal) sums.
 * Returns 0; -ENOTEMPTY when to holds a row in any table (nothing written);
 * -EIO otherwise, with a sentence in err.
 */
int dbcopy_copy(struct store *from, struct store *to, struct dbcopy_sum sums[DBCOPY_NTABLES],
                char *err, size_t errlen);

/* {"<table>":{"rows":N,"sha256":"<hex>"},...} in the tables' order; NULL
 * when out of memory. */
json_t *dbcopy_sums_json(const struct dbcopy_sum sums[DBCOPY_NTABLES]);

#endif
