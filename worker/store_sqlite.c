/*
 * store_sqlite.c — the SQLite backend of the storage interface (store.h).
 *
 * One connection, used on the event-loop thread only. Prepared statements of
 * the connection db_open() made are cached: SQL texts are looked up by hash
 * and length, then compared in full against the text the statement itself
 * keeps (sqlite3_sql), so SQL built in a stack buffer is as safe a key as a
 * literal. The worker has a few dozen distinct statements; beyond the
 * table's size, statements are simply not cached. A statement still in use
 * (the same SQL asked for twice before a release) is never shared: the
 * second caller gets a fresh, uncached one.
 *
 * Not here: opening the file and its pragmas (db.c), the schema (schema.c).
 */
#include "store_sqlite.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE_SIZE 64

struct sstmt {
    struct store_stmt base;
    struct sqlite_store *s;
    sqlite3_stmt *st;
    uint32_t hash, len;
    int busy, cached;
};

struct sqlite_store {
    struct store base;
    sqlite3 *db;
    int owned, use_cache;
    struct sstmt cache[STMT_CACHE_SIZE];
    size_t cache_used;
};

static const struct store_ops sqlite_ops;

static uint32_t sql_hash(const char *sql, size_t *len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    const char *p = sql;

    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    *len = (size_t)(p - sql);
    return h;
}

static int fresh(struct sqlite_store *s, const char *sql, struct store_stmt **out)
{
    struct sstmt *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    if (sqlite3_prepare_v2(s->db, sql, -1, &w->st, NULL) != SQLITE_OK || w->st == NULL) {
        sqlite3_finalize(w->st);
        free(w);
        return -EIO;
    }
    w->base.ops = &sqlite_ops;
    w->s = s;
    *out = &w->base;
    return 0;
}

static int s_prepare(struct store *base, const char *sql, struct store_stmt **out)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct sstmt *e;
    sqlite3_stmt *st = NULL;
    uint32_t h;
    size_t len;

    if (!s->use_cache)
        return fresh(s, sql, out);
    h = sql_hash(sql, &len);
    for (size_t i = 0; i < s->cache_used; i++) {
        e = &s->cache[i];
        if (e->hash == h && e->len == len && memcmp(sqlite3_sql(e->st), sql, len) == 0) {
            if (e->busy)
                return fresh(s, sql, out);
            e->busy = 1;
            *out = &e->base;
            return 0;
        }
    }
    if (s->cache_used == STMT_CACHE_SIZE)
        return fresh(s, sql, out);
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK ||
        st == NULL) {
        sqlite3_finalize(st);
        return -EIO;
    }
    e = &s->cache[s->cache_used++];
    e->base.ops = &sqlite_ops;
    e->s = s;
    e->st = st;
    e->hash = h;
    e->len = (uint32_t)len;
    e->busy = 1;
    e->cached = 1;
    *out = &e->base;
    return 0;
}

static void s_release(struct store_stmt *base)
{
    struct sstmt *w = (struct sstmt *)base;
    if (w->cached) {
        sqlite3_reset(w->st);
        sqlite3_clear_bindings(w->st);
        w->busy = 0;
        return;
    }
    sqlite3_finalize(w->st);
    free(w);
}

#define ST(b) (((struct sstmt *)(b))->st)

static void s_reset(struct store_stmt *b)
{
    sqlite3_reset(ST(b));
}

static int s_rc(int rc)
{
    return rc == SQLITE_OK ? 0 : -EIO;
}

static int s_bind_int64(struct store_stmt *b, int i, int64_t v)
{
    return s_rc(sqlite3_bind_int64(ST(b), i, v));
}

static int s_bind_double(struct store_stmt *b, int i, double v)
{
    return s_rc(sqlite3_bind_double(ST(b), i, v));
}

static int s_bind_text(struct store_stmt *b, int i, const char *v, int len)
{
    return s_rc(sqlite3_bind_text(ST(b), i, v, len, SQLITE_TRANSIENT));
}

static int s_bind_null(struct store_stmt *b, int i)
{
    return s_rc(sqlite3_bind_null(ST(b), i));
}

static int s_step(struct store_stmt *b)
{
    int rc = sqlite3_step(ST(b));
    if (rc == SQLITE_ROW)
        return STORE_ROW;
    if (rc == SQLITE_DONE)
        return STORE_DONE;
    rc = sqlite3_extended_errcode(sqlite3_db_handle(ST(b)));
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return -EEXIST;
    return -EIO;
}

static int64_t s_changes(struct store_stmt *b)
{
    return sqlite3_changes64(sqlite3_db_handle(ST(b)));
}

static int64_t s_column_int64(struct store_stmt *b, int col)
{
    return sqlite3_column_int64(ST(b), col);
}

static double s_column_double(struct store_stmt *b, int col)
{
    return sqlite3_column_double(ST(b), col);
}

static const char *s_column_text(struct store_stmt *b, int col)
{
    return (const char *)sqlite3_column_text(ST(b), col);
}

static int s_column_bytes(struct store_stmt *b, int col)
{
    return sqlite3_column_bytes(ST(b), col);
}

#define DB(b) (((struct sqlite_store *)(b))->db)

static int64_t s_last_id(struct store *b)
{
    return sqlite3_last_insert_rowid(DB(b));
}

static int s_exec(struct store *b, const char *sql)
{
    return s_rc(sqlite3_exec(DB(b), sql, NULL, NULL, NULL));
}

static int s_begin_write(struct store *b)
{
    return s_exec(b, "BEGIN IMMEDIATE");
}

static int s_begin_snapshot(struct store *b)
{
    /* In WAL mode the snapshot is taken by the first read and kept until
     * the end of the transaction. */
    return s_exec(b, "BEGIN");
}

static int s_in_txn(struct store *b)
{
    return !sqlite3_get_autocommit(DB(b));
}

static const char *s_errmsg(struct store *b)
{
    return sqlite3_errmsg(DB(b));
}

static int s_full(struct store *b)
{
    return (sqlite3_errcode(DB(b)) & 0xff) == SQLITE_FULL;
}

static int s_unavailable(struct store *b)
{
    return 0;
}

static void s_trim(struct store *b)
{
    sqlite3_db_release_memory(DB(b));
}

static void s_close(struct store *b)
{
    struct sqlite_store *s = (struct sqlite_store *)b;
    for (size_t i = 0; i < s->cache_used; i++)
        sqlite3_finalize(s->cache[i].st);
    if (s->owned) {
        /* Lets SQLite refresh its statistics for the next start; cheap. */
        sqlite3_exec(s->db, "PRAGMA optimize", NULL, NULL, NULL);
        sqlite3_close_v2(s->db);
    }
    free(s);
}

static const struct store_ops sqlite_ops = {
    .kind = STORE_SQLITE,
    .name = "sqlite",
    .prepare = s_prepare,
    .release = s_release,
    .reset = s_reset,
    .bind_int64 = s_bind_int64,
    .bind_double = s_bind_double,
    .bind_text = s_bind_text,
    .bind_null = s_bind_null,
    .step = s_step,
    .changes = s_changes,
    .column_int64 = s_column_int64,
    .column_double = s_column_double,
    .column_text = s_column_text,
    .column_bytes = s_column_bytes,
    .last_id = s_last_id,
    .exec = s_exec,
    .begin_write = s_begin_write,
    .begin_snapshot = s_begin_snapshot,
    .ids_follow = NULL, /* a rowid follows the largest one by itself */
    .text_order = "",   /* BINARY: byte order */
    .in_txn = s_in_txn,
    .errmsg = s_errmsg,
    .unavailable = s_unavailable,
    .full = s_full,
    .trim = s_trim,
    .close = s_close,
};

struct store *store_sqlite_wrap(sqlite3 *db, int flags)
{
    struct sqlite_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->base.ops = &sqlite_ops;
    s->db = db;
    s->owned = (flags & STORE_SQLITE_OWN) != 0;
    s->use_cache = (flags & STORE_SQLITE_CACHE) != 0;
    return &s->base;
}

sqlite3 *store_sqlite_handle(struct store *s)
{
    return s != NULL && s->ops == &sqlite_ops ? DB(s) : NULL;
}
