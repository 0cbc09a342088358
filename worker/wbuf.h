/*
 * wbuf.h — a growable, always NUL-terminated text buffer for the worker's
 * renderers (ical.c, invoice_pdf.c). An allocation failure sets oom and
 * turns every later append into a no-op, so callers check once at the end.
 */
#ifndef TENANT_WORKER_WBUF_H
#define TENANT_WORKER_WBUF_H

#include <stdlib.h>
#include <string.h>

struct wbuf {
    char *p;
    size_t len, cap;
    int oom;
};

static inline void wbuf_put(struct wbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (q == NULL) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

#endif
