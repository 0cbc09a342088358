/*
 * invoice_page.h — the renderings of one invoice with every mention a French
 * B2B invoice carries (invoice_fr.h): printable HTML and PDF.
 */
#ifndef TENANT_WORKER_INVOICE_PAGE_H
#define TENANT_WORKER_INVOICE_PAGE_H

#include <jansson.h>
#include <stddef.h>

#include "worker.h"

/* The printable HTML page (an <article class="invoice">, its own <style>);
 * a new NUL-terminated buffer the caller frees, or NULL when out of memory. */
char *invoice_html(const json_t *inv, const struct wenv *env, size_t *len);

/* The same invoice as a PDF 1.4 document (A4, uncompressed text, the
 * standard Helvetica and Courier fonts); a new buffer, or NULL. */
char *invoice_pdf(const json_t *inv, const struct wenv *env, size_t *len);

#endif
