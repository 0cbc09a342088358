/*
 * pages.h — the firm's web pages: the branded single-page app (index.html,
 * app.css, app.js from TEMPLATES_DIR), the files under TEMPLATES_DIR/static,
 * and the printable invoice.
 *
 * Every value of the tenant that reaches HTML (name, address, colour...) is
 * HTML-escaped here, once, server-side; the colour was validated as #rrggbb
 * by env.c. This module has no h2o: it produces bytes and a content type, the
 * HTTP layer sends them. Templates are read and rendered once by pages_init(),
 * because the tenant's branding does not change while the worker runs.
 */
#ifndef TENANT_WORKER_PAGES_H
#define TENANT_WORKER_PAGES_H

#include <jansson.h>
#include <stddef.h>

#include "worker.h"

struct pages_blob {
    const char *data;
    size_t len;
    const char *content_type;
};

/* Read and render the templates. Returns 0, or a negative errno with a
 * sentence naming the file in err. */
int pages_init(const struct wenv *e, char *err, size_t errlen);
void pages_free(void);

/* The rendered app page, app.css, app.js and brand.css (the tenant's colour as
 * a CSS variable); owned by the module. Returns -ENOENT for any other name. */
int pages_get(const char *name, struct pages_blob *out);

/*
 * Read TEMPLATES_DIR/static/<rel> (rel is the path after "/static/"). Only
 * names made of [A-Za-z0-9._-] segments not starting with '.', with no
 * symbolic link anywhere, regular files up to 4 MiB. On success out->data is
 * a new buffer the caller frees with free(). Returns 0, -ENOENT or -EIO.
 */
int pages_static(const char *rel, struct pages_blob *out);

/*
 * Render the printable HTML of one invoice (the JSON model_invoice_get
 * returns) with the firm's identity. Returns a new NUL-terminated buffer the
 * caller frees, or NULL on allocation failure.
 */
char *pages_invoice(const json_t *inv, size_t *len);

/* Append s to b HTML-escaped (&<>"' and nothing else); exposed for tests.
 * Returns 0 or -ENOMEM. */
struct pages_buf {
    char *p;
    size_t len, cap;
};
int pages_buf_add(struct pages_buf *b, const char *s, size_t n);
int pages_buf_escape(struct pages_buf *b, const char *s);

#endif
