/*
 * ctl_proxy.c — see ctl_proxy.h. Reads the files (config and templates), hands
 * them to the pure renderer, prints. What tenantd adds at run time is not
 * shown: an operator's suspend (state.db) and the last good config of a
 * tenant whose file became invalid.
 */
#include "ctl_proxy.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "proxy_render.h"
#include "util.h"

#define TEMPLATE_MAX (1 << 20)

/* Print a multi-line message to stderr with each line's control bytes escaped. */
static void print_err(const char *prefix, const char *msg)
{
    fputs(prefix, stderr);
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        if (*p == '\n')
            fputc('\n', stderr);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(stderr, "\\x%02x", *p);
        else
            fputc(*p, stderr);
    }
    fputc('\n', stderr);
}

static int load_templates(const struct config_global *g, struct proxy_templates *tpl, char **owned)
{
    char dir[PATH_MAX], path[PATH_MAX + 64];
    int r;

    if (g->proxy_templates[0] != '\0')
        r = util_strlcpy(dir, g->proxy_templates, sizeof dir);
    else
        r = util_path_join(dir, sizeof dir, g->templates_dir, "nginx");
    if (r < 0) {
        fprintf(stderr, "tenantctl: the templates folder's path is too long\n");
        return r;
    }
    for (int i = 0; i < PROXY_TPL__COUNT; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, proxy_template_file[i]);
        r = util_read_file(path, TEMPLATE_MAX, &owned[i], NULL);
        if (r < 0) {
            fprintf(stderr, "tenantctl: cannot read template %s: %s\n", path, strerror(-r));
            return r;
        }
        tpl->text[i] = owned[i];
    }
    return 0;
}

int ctl_proxy_config(const char *config_path, FILE *out)
{
    struct config *c = NULL;
    struct config_diag d = {0};
    struct proxy_templates tpl = {0};
    char *owned[PROXY_TPL__COUNT] = {0};
    const struct config_tenant **list = NULL;
    struct proxy_rendered r = {0};
    char err[1024], live[PATH_MAX + 64];
    size_t n = 0;
    int rc = 1;

    if (config_load(config_path, &c, &d) < 0) {
        char *msg = config_diag_join(&d);
        print_err("tenantctl: ", msg ? msg : "cannot load the configuration");
        free(msg);
        goto out;
    }
    list = calloc(c->n_tenants ? c->n_tenants : 1, sizeof *list);
    if (list == NULL) {
        fprintf(stderr, "tenantctl: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < c->n_tenants; i++) {
        if (c->tenants[i].valid)
            list[n++] = &c->tenants[i].t;
        else
            print_err("tenantctl: left out, invalid: ",
                      c->tenants[i].error ? c->tenants[i].error : c->tenants[i].id);
    }
    if (load_templates(&c->g, &tpl, owned) < 0)
        goto out;
    /* As tenantd would render it for its nginx, prefix included. */
    static struct config_global g;
    g = c->g;
    if (proxy_render_prefix(&g, g.nginx_prefix, sizeof g.nginx_prefix) < 0)
        g.nginx_prefix[0] = '\0';
    if (proxy_render(&g, list, n, &tpl, &r, err, sizeof err) < 0) {
        print_err("tenantctl: proxy config refused: ", err);
        goto out;
    }
    if (c->g.proxy_mode == PROXY_OFF)
        fprintf(out, "# [proxy] mode = off: tenantd writes nothing; managed mode would write:\n");
    if (r.main_conf != NULL) {
        snprintf(live, sizeof live, "%s/%s/live/%s", c->g.run_dir, PROXY_PREFIX_DIR,
                 PROXY_MAIN_FILE);
        fprintf(out, "# ==> %s <==\n%s", live, r.main_conf);
        snprintf(live, sizeof live, "%s/%s/live/%s", c->g.run_dir, PROXY_PREFIX_DIR,
                 PROXY_TENANTS_FILE);
    } else if (c->g.proxy_output[0] != '\0') {
        snprintf(live, sizeof live, "%s", c->g.proxy_output);
    } else {
        snprintf(live, sizeof live, "%s/%s/%s", c->g.run_dir, PROXY_PREFIX_DIR, PROXY_TENANTS_FILE);
    }
    fprintf(out, "# ==> %s <==\n%s", live, r.tenants_conf);
    rc = fflush(out) == 0 ? 0 : 1;
out:
    proxy_rendered_free(&r);
    for (int i = 0; i < PROXY_TPL__COUNT; i++)
        free(owned[i]);
    free(list);
    if (c)
        config_free(c);
    config_diag_clear(&d);
    return rc;
}
