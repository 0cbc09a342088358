/*
 * store.c — the storage interface's dispatch (see store.h). Nothing here
 * knows an engine; each call goes to the backend's operations table.
 */
#include "store.h"

#include <errno.h>

int store_prepare(struct store *s, const char *sql, struct store_stmt **out)
{
    *out = NULL;
    if (s == NULL)
        return -EIO;
    return s->ops->prepare(s, sql, out);
}

void store_release(struct store_stmt *st)
{
    if (st != NULL)
        st->ops->release(st);
}

void store_reset(struct store_stmt *st)
{
    st->ops->reset(st);
}

int store_bind_int64(struct store_stmt *st, int i, int64_t v)
{
    return st->ops->bind_int64(st, i, v);
}

int store_bind_double(struct store_stmt *st, int i, double v)
{
    return st->ops->bind_double(st, i, v);
}

int store_bind_text(struct store_stmt *st, int i, const char *v)
{
    if (v == NULL)
        return st->ops->bind_null(st, i);
    return st->ops->bind_text(st, i, v, -1);
}

int store_bind_textn(struct store_stmt *st, int i, const char *v, int len)
{
    return st->ops->bind_text(st, i, v, len);
}

int store_bind_null(struct store_stmt *st, int i)
{
    return st->ops->bind_null(st, i);
}

int store_step(struct store_stmt *st)
{
    return st->ops->step(st);
}

int64_t store_changes(struct store_stmt *st)
{
    return st->ops->changes(st);
}

int64_t store_column_int64(struct store_stmt *st, int col)
{
    return st->ops->column_int64(st, col);
}

double store_column_double(struct store_stmt *st, int col)
{
    return st->ops->column_double(st, col);
}

const char *store_column_text(struct store_stmt *st, int col)
{
    return st->ops->column_text(st, col);
}

int store_column_bytes(struct store_stmt *st, int col)
{
    return st->ops->column_bytes(st, col);
}

int64_t store_last_id(struct store *s)
{
    return s->ops->last_id(s);
}

int store_exec(struct store *s, const char *sql)
{
    return s != NULL ? s->ops->exec(s, sql) : -EIO;
}

int store_begin_write(struct store *s)
{
    return s != NULL ? s->ops->begin_write(s) : -EIO;
}

int store_begin_snapshot(struct store *s)
{
    return s != NULL ? s->ops->begin_snapshot(s) : -EIO;
}

int store_ids_follow(struct store *s, const char *table)
{
    if (s == NULL)
        return -EIO;
    return s->ops->ids_follow != NULL ? s->ops->ids_follow(s, table) : 0;
}

const char *store_text_order(const struct store *s)
{
    return s->ops->text_order;
}

int store_in_txn(struct store *s)
{
    return s->ops->in_txn(s);
}

const char *store_errmsg(struct store *s)
{
    return s != NULL ? s->ops->errmsg(s) : "no database";
}

int store_full(struct store *s)
{
    return s != NULL && s->ops->full(s);
}

int store_unavailable(struct store *s)
{
    return s == NULL || s->ops->unavailable(s);
}

int store_offload(const struct store *s)
{
    return s != NULL && s->ops->kind == STORE_POSTGRESQL;
}

enum store_kind store_kind(const struct store *s)
{
    return s->ops->kind;
}

const char *store_name(const struct store *s)
{
    return s->ops->name;
}

void store_trim(struct store *s)
{
    if (s != NULL && s->ops->trim != NULL)
        s->ops->trim(s);
}

void store_close(struct store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

int store_ping(struct store *s)
{
    struct store_stmt *st = NULL;
    int ok;

    if (s == NULL)
        return -EIO;
    ok = store_prepare(s, "SELECT 1", &st) == 0 && st != NULL && store_step(st) == STORE_ROW;
    store_release(st);
    return ok ? 0 : -EIO;
}
