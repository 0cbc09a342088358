/*
 * proxy_files.c — the proxy's files under <run_dir>/nginx (see proxy.c for
 * the layout): reading the templates, collecting the tenants, rendering the
 * candidate configuration with proxy_render() and writing the suspended
 * pages; and the small helpers on the prefix (the live generation, removing
 * a flat folder).
 *
 * What it does not do: test, swap or reload a configuration (proxy.c), or run
 * nginx (proxy_nginx.c).
 */
#include "acme.h"
#include "proxy_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sup.h"
#include "util.h"

/* Remove a folder of plain files (staging/, conf.<n>/): they hold no subfolders. */
void proxy_remove_flat_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (util_path_fmt(path, sizeof path, "%s/%s", dir, e->d_name) == 0)
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

void proxy_digest_of(const struct proxy_rendered *r, struct proxy_digest *d)
{
    crypto_generichash_state st;
    const char *parts[2] = {r->main_conf ? r->main_conf : "",
                            r->tenants_conf ? r->tenants_conf : ""};
    crypto_generichash_init(&st, NULL, 0, sizeof d->h);
    for (int i = 0; i < 2; i++) {
        /* With its NUL, so that no split of the same bytes collides. */
        crypto_generichash_update(&st, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
    }
    crypto_generichash_final(&st, d->h, sizeof d->h);
    d->set = true;
}

bool proxy_digest_same(const struct proxy_digest *a, const struct proxy_digest *b)
{
    return a->set && b->set && memcmp(a->h, b->h, sizeof a->h) == 0;
}

/* The number of the conf.<n> the live link points to, 0 when there is none. */
unsigned proxy_live_generation(const struct proxy *p)
{
    char link[PATH_MAX], target[64];
    ssize_t n;
    unsigned g = 0;

    if (util_path_fmt(link, sizeof link, "%s/live", p->prefix) < 0)
        return 0;
    n = readlink(link, target, sizeof target - 1);
    if (n <= 0)
        return 0;
    target[n] = '\0';
    if (sscanf(target, "conf.%u", &g) != 1)
        return 0;
    return g;
}

/* ---- collecting and rendering --------------------------------------------- */

static int load_templates(const struct config_global *g, struct proxy_templates *tpl, char **owned,
                          char *err, size_t errlen)
{
    char dir[PATH_MAX], path[PATH_MAX];

    memset(tpl, 0, sizeof *tpl);
    if (g->proxy_templates[0] != '\0')
        util_strlcpy(dir, g->proxy_templates, sizeof dir);
    else if (util_path_fmt(dir, sizeof dir, "%s/nginx", g->templates_dir) < 0)
        return -ENAMETOOLONG;
    for (int i = 0; i < PROXY_TPL__COUNT; i++) {
        int r = util_path_fmt(path, sizeof path, "%s/%s", dir, proxy_template_file[i]);
        if (r == 0)
            r = util_read_file(path, TEMPLATE_MAX, &owned[i], NULL);
        if (r < 0) {
            util_seterr(err, errlen, "cannot read template %s: %s", path, strerror(-r));
            return r;
        }
        tpl->text[i] = owned[i];
    }
    return 0;
}

/*
 * The tenants to render, from the supervisor's view (what runs now) joined
 * with the configuration (status from the file). A tenant whose file became
 * invalid keeps its last good port and subdomain from the view; one that was
 * never valid has none and is left out. An operator's suspend shows the
 * suspended page whatever the file says.
 */
static int collect_tenants(struct proxy *p, const struct config *c, struct config_tenant **arr_out,
                           const struct config_tenant ***ptr_out, size_t *n_out)
{
    size_t n = sup_tenant_count(p->sup), k = 0;
    /* Most tenants are rendered from their config entry in place; a copy
     * (arr[k]) is made only for the few whose view differs. malloc, not
     * calloc: the untouched copies cost no memory (2.8 KiB x 10,000). */
    struct config_tenant *arr = malloc((n ? n : 1) * sizeof *arr);
    const struct config_tenant **ptr = calloc(n ? n : 1, sizeof *ptr);
    struct tenant_view v;

    if (arr == NULL || ptr == NULL) {
        free(arr);
        free(ptr);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (sup_tenant_view_nostats(p->sup, i, &v) < 0)
            continue;
        const struct config_tenant_entry *e = config_find_tenant(c, v.id);
        struct config_tenant *t = &arr[k];
        if (e != NULL && e->valid) {
            if (!(v.state == TS_SUSPENDED && e->t.status == TENANT_ACTIVE)) {
                ptr[k++] = &e->t;
                continue;
            }
            *t = e->t;
        } else {
            if (v.port <= 0 || proxy_check_id(v.id) < 0 || proxy_check_host(v.subdomain) < 0)
                continue;
            memset(t, 0, sizeof *t);
            util_strlcpy(t->id, v.id, sizeof t->id);
            util_strlcpy(t->subdomain, v.subdomain, sizeof t->subdomain);
            util_strlcpy(t->name, v.name, sizeof t->name);
            t->port = v.port;
            t->status = TENANT_ACTIVE;
        }
        if (v.state == TS_SUSPENDED && t->status == TENANT_ACTIVE)
            t->status = TENANT_SUSPENDED;
        ptr[k] = t;
        k++;
    }
    *arr_out = arr;
    *ptr_out = ptr;
    *n_out = k;
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

bool proxy_page_ids_has(const struct page_ids *s, const char *id)
{
    return s->n > 0 && bsearch(id, s->id, s->n, sizeof s->id[0], cmp_id) != NULL;
}

void proxy_page_ids_clear(struct page_ids *s)
{
    free(s->id);
    s->id = NULL;
    s->n = 0;
}

static const char fallback_page[] =
    "<!DOCTYPE html>\n<html lang=\"{{language}}\"><head><meta charset=\"utf-8\"><title>{{name}}"
    "</title></head>\n<body><h1>{{name}}</h1><p>This service is suspended.</p></body></html>\n";

/* Write the suspended page of every suspended tenant (they are content, not
 * config: writing one early is harmless, and nginx reads it per request), and
 * note their ids in p->cand_pages. */
static int write_pages(struct proxy *p, const struct config_global *g,
                       const struct config_tenant *const *t, size_t n, char *err, size_t errlen)
{
    char path[PATH_MAX], *tpl = NULL, *page = NULL;
    int r = 0;

    proxy_page_ids_clear(&p->cand_pages);
    p->cand_pages.id = calloc(n ? n : 1, sizeof p->cand_pages.id[0]);
    if (p->cand_pages.id == NULL) {
        util_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (util_path_fmt(path, sizeof path, "%s/%s", g->templates_dir, PROXY_PAGE_TEMPLATE) == 0 &&
        util_read_file(path, TEMPLATE_MAX, &tpl, NULL) < 0) {
        tpl = NULL;
    }
    for (size_t i = 0; i < n && r == 0; i++) {
        if (t[i]->status != TENANT_SUSPENDED)
            continue;
        r = proxy_render_page(tpl ? tpl : fallback_page, t[i], &page, err, errlen);
        if (r < 0)
            break;
        util_strlcpy(p->cand_pages.id[p->cand_pages.n++], t[i]->id, sizeof p->cand_pages.id[0]);
        r = util_path_fmt(path, sizeof path, "%s/%s/%s.html", p->prefix, PROXY_SUSPENDED_DIR,
                          t[i]->id);
        if (r == 0)
            r = util_write_file_atomic(path, page, strlen(page), 0644);
        if (r < 0)
            util_seterr(err, errlen, "cannot write %s: %s", path, strerror(-r));
        free(page);
        page = NULL;
    }
    free(tpl);
    qsort(p->cand_pages.id, p->cand_pages.n, sizeof p->cand_pages.id[0], cmp_id);
    return r;
}

/* Render the candidate into p->cand (and the pages to disk). */
int proxy_render_candidate(struct proxy *p, char *err, size_t errlen)
{
    const struct config *c = sup_config(p->sup);
    struct proxy_templates tpl;
    char *owned[PROXY_TPL__COUNT] = {0};
    struct config_tenant *arr = NULL;
    const struct config_tenant **ptr = NULL;
    size_t n = 0;
    int r;

    r = load_templates(&c->g, &tpl, owned, err, errlen);
    if (r == 0) {
        r = collect_tenants(p, c, &arr, &ptr, &n);
        if (r < 0)
            util_seterr(err, errlen, "out of memory");
    }
    if (r == 0) {
        struct config_global g = c->g;
        /* The mode is fixed at start; the prefix was made for it. */
        g.proxy_mode = p->mode;
        snprintf(g.nginx_prefix, sizeof g.nginx_prefix, "%s", p->prefix);
        /* ACME: each served tenant's own certificate, if any (acme.h). */
        static unsigned acme_gen;
        const char **certs = acme_enabled() ? calloc(n ? n : 1, sizeof *certs) : NULL;
        acme_gen++;
        for (size_t i = 0; certs != NULL && i < n; i++)
            certs[i] = acme_cert_for(ptr[i]->id, ptr[i]->subdomain,
                                     ptr[i]->status != TENANT_CANCELLED, acme_gen);
        if (certs != NULL)
            acme_render_done(acme_gen);
        r = proxy_render_certs(&g, ptr, (const char *const *)certs, n, &tpl, &p->cand, err, errlen);
        free(certs);
    }
    if (r == 0)
        r = write_pages(p, &c->g, ptr, n, err, errlen);
    for (int i = 0; i < PROXY_TPL__COUNT; i++)
        free(owned[i]);
    free(arr);
    free(ptr);
    return r;
}
