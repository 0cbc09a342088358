/*
 * idtab.h — a growable array of records kept sorted by the id string each
 * record starts with (char id[...] as its first member), for tenantd's
 * per-tenant tables (storage.c, offsite.c): a lookup is a binary search, so a
 * round over 10,000 tenants that looks each one up costs N log N, not N².
 *
 * Pointers into the array are valid until the next insertion.
 */
#ifndef TENANTD_IDTAB_H
#define TENANTD_IDTAB_H

#include <stdlib.h>
#include <string.h>

struct idtab {
    void *rec; /* n records of size bytes, sorted by their leading id */
    size_t n, cap;
    size_t size;  /* bytes per record */
    size_t idcap; /* bytes of the id member, its terminator included */
};

/* The index where id is, or would be inserted; *found says which. */
static inline size_t idtab_slot(const struct idtab *t, const char *id, int *found)
{
    size_t lo = 0, hi = t->n;
    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp((const char *)t->rec + mid * t->size, id);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static inline void *idtab_find(const struct idtab *t, const char *id)
{
    int found = 0;
    size_t i = t->n ? idtab_slot(t, id, &found) : 0;
    return found ? (char *)t->rec + i * t->size : NULL;
}

/* The record of id, added zeroed with its id set when missing (then *added,
 * if given, is 1); NULL when out of memory, when id does not fit, or when
 * max records are there. */
static inline void *idtab_get(struct idtab *t, const char *id, size_t max, int *added)
{
    int found = 0;
    if (added != NULL)
        *added = 0;
    size_t i = t->n ? idtab_slot(t, id, &found) : 0;
    if (found)
        return (char *)t->rec + i * t->size;
    size_t len = strlen(id);
    if (len >= t->idcap || t->n >= max)
        return NULL;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        void *r = realloc(t->rec, cap * t->size);
        if (r == NULL)
            return NULL;
        t->rec = r;
        t->cap = cap;
    }
    char *at = (char *)t->rec + i * t->size;
    memmove(at + t->size, at, (t->n - i) * t->size);
    memset(at, 0, t->size);
    memcpy(at, id, len + 1);
    t->n++;
    if (added != NULL)
        *added = 1;
    return at;
}

static inline void idtab_free(struct idtab *t)
{
    free(t->rec);
    t->rec = NULL;
    t->n = t->cap = 0;
}

#endif
