/*
 * invoice_pdf.c — the invoice as a PDF (see invoice_page.h).
 *
 * Why a small writer of our own: the invoice is text and rules only, and a
 * PDF of that needs nothing but the 14 standard fonts every reader has
 * (Helvetica, Courier with WinAnsiEncoding, which covers French and €).
 * Rendering the HTML with headless Chromium would put a browser in every
 * worker; libharu or cairo would add a library (and fonts) for what is ~250
 * lines here. The streams are not compressed, so `pdftotext` and the tests
 * can read the text back.
 */
#include "invoice_fr.h"
#include "invoice_page.h"
#include "wbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_W 595 /* A4 in points */
#define PAGE_H 842
#define MARGIN 40
#define MAX_PAGES 64

#define PUTS(b, s) wbuf_put((b), (s), strlen(s))

static void putf(struct wbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct wbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        wbuf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* UTF-8 to WinAnsiEncoding (cp1252): what French needs, '?' for the rest. */
static size_t to_winansi(const char *s, unsigned char *out, size_t n)
{
    size_t j = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0' && j + 1 < n) {
        unsigned cp = *p, k = 1;
        if (*p >= 0xF0)
            cp = *p & 0x07, k = 4;
        else if (*p >= 0xE0)
            cp = *p & 0x0F, k = 3;
        else if (*p >= 0xC0)
            cp = *p & 0x1F, k = 2;
        for (unsigned i = 1; i < k; i++) {
            if ((p[i] & 0xC0) != 0x80) {
                k = i;
                cp = '?';
                break;
            }
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        p += k;
        unsigned char c = '?';
        if (cp < 0x80 || (cp >= 0xA0 && cp <= 0xFF))
            c = (unsigned char)cp;
        else if (cp == 0x20AC)
            c = 0x80;
        else if (cp == 0x2019)
            c = 0x92;
        else if (cp == 0x2018)
            c = 0x91;
        else if (cp == 0x201C)
            c = 0x93;
        else if (cp == 0x201D)
            c = 0x94;
        else if (cp == 0x2013)
            c = 0x96;
        else if (cp == 0x2014)
            c = 0x97;
        else if (cp == 0x2026)
            c = 0x85;
        else if (cp == 0x0152)
            c = 0x8C;
        else if (cp == 0x0153)
            c = 0x9C;
        else if (cp == 0x202F)
            c = 0xA0;
        if (c < 0x20)
            c = ' ';
        out[j++] = c;
    }
    out[j] = '\0';
    return j;
}

struct doc {
    struct wbuf pages[MAX_PAGES];
    int npages;
    int y;
};

static struct wbuf *page(struct doc *d)
{
    return &d->pages[d->npages - 1];
}

static void new_page(struct doc *d)
{
    if (d->npages < MAX_PAGES)
        d->npages++;
    d->y = PAGE_H - MARGIN;
}

/* A string operand: cp1252 bytes, ( ) \ escaped, the rest as octal. */
static void text_at(struct doc *d, const char *font, int size, double x, int y, const char *utf8)
{
    unsigned char w[1024];
    size_t n = to_winansi(utf8, w, sizeof w);
    struct wbuf *b = page(d);
    putf(b, "BT /%s %d Tf %.1f %d Td (", font, size, x, y);
    for (size_t i = 0; i < n; i++) {
        if (w[i] == '(' || w[i] == ')' || w[i] == '\\')
            putf(b, "\\%c", w[i]);
        else if (w[i] >= 0x80)
            putf(b, "\\%03o", w[i]);
        else
            wbuf_put(b, (const char *)&w[i], 1);
    }
    PUTS(b, ") Tj ET\n");
}

/* Courier is 0.6 em wide per character: right alignment is exact. */
static void mono_right(struct doc *d, int size, int xr, int y, const char *utf8)
{
    unsigned char w[256];
    size_t n = to_winansi(utf8, w, sizeof w);
    text_at(d, "F3", size, xr - (double)n * 0.6 * size, y, utf8);
}

/* Words of s on lines of at most width characters; each line drawn at x
 * with the given leading, breaking pages as needed. */
static void wrapped(struct doc *d, const char *font, int size, int x, size_t width, const char *s)
{
    char line[512];
    while (*s != '\0') {
        size_t take = strlen(s), chars = 0, cut = 0, i = 0;
        for (i = 0; i < take; i++) {
            if (((unsigned char)s[i] & 0xC0) != 0x80)
                chars++;
            if (chars > width)
                break;
            if (s[i] == ' ')
                cut = i;
        }
        if (i < take)
            take = cut > 0 ? cut : i;
        if (take >= sizeof line)
            take = sizeof line - 1;
        memcpy(line, s, take);
        line[take] = '\0';
        if (d->y < MARGIN + size)
            new_page(d);
        text_at(d, font, size, x, d->y, line);
        d->y -= size + 3;
        s += take;
        while (*s == ' ')
            s++;
    }
}

static void rule(struct doc *d, int y)
{
    putf(page(d), "%d %d m %d %d l 0.5 w S\n", MARGIN, y, PAGE_W - MARGIN, y);
}

static void body(struct doc *d, const struct invoice_view *v)
{
    new_page(d);
    int top = d->y;
    text_at(d, "F2", 16, MARGIN, d->y, v->seller[0]);
    d->y -= 20;
    for (int i = 1; i < 5; i++)
        if (v->seller[i][0] != '\0') {
            text_at(d, "F1", 9, MARGIN, d->y, v->seller[i]);
            d->y -= 12;
        }
    int y2 = top;
    text_at(d, "F2", 14, 340, y2, v->title);
    y2 -= 18;
    const char *meta[3] = {v->issued, v->due, v->status};
    for (int i = 0; i < 3; i++, y2 -= 12)
        text_at(d, "F1", 9, 340, y2, meta[i]);
    if (y2 < d->y)
        d->y = y2;
    d->y -= 6;
    rule(d, d->y);
    d->y -= 18;
    text_at(d, "F1", 10, MARGIN, d->y, v->client[0]);
    text_at(d, "F2", 10, MARGIN + 60, d->y, v->client[1]);
    d->y -= 13;
    wrapped(d, "F1", 9, MARGIN + 60, 90, v->client[2]);
    d->y -= 12;

    text_at(d, "F2", 9, MARGIN, d->y, v->head[0]);
    text_at(d, "F2", 9, 300, d->y, v->head[1]);
    text_at(d, "F2", 9, 345, d->y, v->head[2]);
    text_at(d, "F2", 9, 475, d->y, v->head[3]);
    d->y -= 5;
    rule(d, d->y);
    d->y -= 13;
    for (size_t i = 0; i < v->nlines; i++) {
        char q[32];
        if (d->y < MARGIN + 40)
            new_page(d);
        int y = d->y;
        snprintf(q, sizeof q, "%lld", v->lines[i].quantity);
        mono_right(d, 9, 325, y, q);
        mono_right(d, 9, 450, y, v->lines[i].unit);
        mono_right(d, 9, PAGE_W - MARGIN, y, v->lines[i].total);
        wrapped(d, "F1", 9, MARGIN, 48, v->lines[i].description);
        d->y -= 3;
    }
    rule(d, d->y + 8);
    d->y -= 8;
    for (int i = 0; i < 3; i++) {
        if (d->y < MARGIN + 20)
            new_page(d);
        text_at(d, i == 2 ? "F2" : "F1", 10, 345, d->y, v->totals[i][0]);
        mono_right(d, 10, PAGE_W - MARGIN, d->y, v->totals[i][1]);
        d->y -= 14;
    }
    d->y -= 14;
    for (int i = 0; i < 4; i++) {
        wrapped(d, "F1", 8, MARGIN, 115, v->terms[i]);
        d->y -= 3;
    }
}

char *invoice_pdf(const json_t *inv, const struct wenv *env, size_t *len)
{
    struct invoice_view v;
    struct doc *d = calloc(1, sizeof *d);
    struct wbuf out = {0};
    size_t *off = NULL;
    if (d == NULL)
        return NULL;
    if (invoice_view_make(&v, inv, env) < 0) {
        free(d);
        return NULL;
    }
    body(d, &v);
    invoice_view_free(&v);

    /* Objects: 1 catalog, 2 pages, 3-5 fonts, 6 info, then page + content
     * per page. */
    int nobj = 6 + 2 * d->npages;
    off = calloc((size_t)nobj + 1, sizeof *off);
    int oom = off == NULL;
    for (int i = 0; i < d->npages; i++)
        oom |= d->pages[i].oom;
    if (!oom) {
        PUTS(&out, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
        off[1] = out.len;
        PUTS(&out, "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n");
        off[2] = out.len;
        putf(&out, "2 0 obj << /Type /Pages /Count %d /Kids [", d->npages);
        for (int i = 0; i < d->npages; i++)
            putf(&out, " %d 0 R", 7 + 2 * i);
        PUTS(&out, " ] >> endobj\n");
        static const char *const fonts[3] = {"Helvetica", "Helvetica-Bold", "Courier"};
        for (int i = 0; i < 3; i++) {
            off[3 + i] = out.len;
            putf(&out,
                 "%d 0 obj << /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding "
                 "/WinAnsiEncoding >> endobj\n",
                 3 + i, fonts[i]);
        }
        off[6] = out.len;
        PUTS(&out, "6 0 obj << /Producer (tenant-worker) >> endobj\n");
        for (int i = 0; i < d->npages; i++) {
            int po = 7 + 2 * i;
            off[po] = out.len;
            putf(&out,
                 "%d 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << "
                 "/Font << /F1 3 0 R /F2 4 0 R /F3 5 0 R >> >> /Contents %d 0 R >> endobj\n",
                 po, PAGE_W, PAGE_H, po + 1);
            off[po + 1] = out.len;
            putf(&out, "%d 0 obj << /Length %zu >> stream\n", po + 1, d->pages[i].len);
            wbuf_put(&out, d->pages[i].p ? d->pages[i].p : "", d->pages[i].len);
            PUTS(&out, "\nendstream endobj\n");
        }
        size_t xref = out.len;
        putf(&out, "xref\n0 %d\n0000000000 65535 f \n", nobj + 1);
        for (int i = 1; i <= nobj; i++)
            putf(&out, "%010zu 00000 n \n", off[i]);
        putf(&out, "trailer << /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%zu\n%%%%EOF\n",
             nobj + 1, xref);
    }
    for (int i = 0; i < d->npages; i++)
        free(d->pages[i].p);
    free(d);
    free(off);
    if (oom || out.oom) {
        free(out.p);
        return NULL;
    }
    *len = out.len;
    return out.p;
}
