/*
 * invoice_page.c — the printable HTML of an invoice (see invoice_page.h).
 * Every text comes from invoice_view_make(), escaped here.
 */
#include "invoice_page.h"
#include "invoice_fr.h"
#include "pages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *invoice_html(const json_t *inv, const struct wenv *env, size_t *len)
{
    struct invoice_view v;
    struct pages_buf b = {0};
    char num[32];
    int r = 0;
    if (invoice_view_make(&v, inv, env) < 0)
        return NULL;

#define S(x) (r = r ? r : pages_buf_add(&b, (x), strlen(x)))
#define E(x) (r = r ? r : pages_buf_escape(&b, (x)))
#define MISSING(x) (strstr((x), INVOICE_MISSING) != NULL ? " class=\"missing\"" : "")
    S("<!DOCTYPE html>\n<html lang=\"");
    E(env->language);
    S("\"><head><meta charset=\"utf-8\"><title>");
    E(v.title);
    S("</title><style>"
      "body{font:14px/1.45 system-ui,sans-serif;color:#222;margin:2rem}"
      ".invoice{max-width:800px;margin:auto}"
      ".invoice header{display:flex;flex-wrap:wrap;gap:1rem;justify-content:space-between;"
      "border-bottom:4px solid ");
    E(env->color);
    S(";padding-bottom:1rem}.invoice h1{color:");
    E(env->color);
    S(";margin:0 0 .3rem}"
      ".invoice table{width:100%;border-collapse:collapse;margin:1.5rem 0}"
      ".invoice th,.invoice td{padding:.4rem;border-bottom:1px solid #ddd;text-align:left}"
      ".invoice .num{text-align:right;white-space:nowrap}.invoice .totals td{border:0}"
      ".invoice .missing{color:#b00020;font-weight:bold}.invoice .terms{font-size:12px}"
      "</style></head><body>\n<article class=\"invoice\"><header><div class=\"seller\"><h1>");
    E(v.seller[0]);
    S("</h1>");
    for (int i = 1; i < 5; i++) {
        if (v.seller[i][0] == '\0')
            continue;
        S("<div");
        S(MISSING(v.seller[i]));
        S(">");
        E(v.seller[i]);
        S("</div>");
    }
    S("</div><div class=\"meta\"><h2>");
    E(v.title);
    S("</h2><div class=\"issued\">");
    E(v.issued);
    S("</div><div class=\"due\">");
    E(v.due);
    S("</div><div class=\"status\">");
    E(v.status);
    S("</div></div></header>\n<section class=\"client\"><div>");
    E(v.client[0]);
    S(" <strong>");
    E(v.client[1]);
    S("</strong></div><div");
    S(MISSING(v.client[2]));
    S(">");
    E(v.client[2]);
    S("</div></section><table><thead><tr><th>");
    E(v.head[0]);
    for (int i = 1; i < 4; i++) {
        S("</th><th class=\"num\">");
        E(v.head[i]);
    }
    S("</th></tr></thead><tbody>");
    for (size_t i = 0; i < v.nlines; i++) {
        S("<tr><td>");
        E(v.lines[i].description);
        snprintf(num, sizeof num, "%lld", v.lines[i].quantity);
        S("</td><td class=\"num\">");
        S(num);
        S("</td><td class=\"num\">");
        E(v.lines[i].unit);
        S("</td><td class=\"num\">");
        E(v.lines[i].total);
        S("</td></tr>");
    }
    S("</tbody><tbody class=\"totals\">");
    for (int i = 0; i < 3; i++) {
        S(i == 2 ? "<tr><td colspan=\"3\" class=\"num\"><strong>"
                 : "<tr><td colspan=\"3\" class=\"num\">");
        E(v.totals[i][0]);
        S(i == 2 ? "</strong></td><td class=\"num\"><strong>" : "</td><td class=\"num\">");
        E(v.totals[i][1]);
        S(i == 2 ? "</strong></td></tr>" : "</td></tr>");
    }
    S("</tbody></table>\n<section class=\"terms\">");
    for (int i = 0; i < 4; i++) {
        S("<p>");
        E(v.terms[i]);
        S("</p>");
    }
    S("</section></article>\n</body></html>\n");
#undef S
#undef E
#undef MISSING
    invoice_view_free(&v);
    if (r != 0) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
