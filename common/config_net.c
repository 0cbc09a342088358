/*
 * config_net.c — the network keys: [worker] network and allow (plan default,
 * tenant override), and the checks that keep tenant ports off tenantd's own
 * listeners (admin, proxy, TLS). See docs/isolation.md "Network".
 *
 * allow = host:port ... : words separated by blanks or commas; host is an
 * IPv4 address, "localhost" or a DNS name; port 1..65535. A destination that
 * is not loopback needs network = outbound. A port of tenantd's own (admin
 * listener) or of the tenant port range is refused: tenants reach each other
 * through the proxy, never directly.
 */
#include "config.h"
#include "config_internal.h"
#include "landlock_net.h"
#include "util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One allow word "host:port": 0 and its port and whether it is loopback, or -1. */
static int allow_word(const char *w, size_t len, uint16_t *port, bool *loopback)
{
    char buf[CONFIG_HOST_MAX + 8];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, w, len);
    buf[len] = '\0';
    char *colon = strrchr(buf, ':');
    if (!colon || colon == buf || !colon[1] || strlen(colon + 1) > 5)
        return -1;
    *colon = '\0';
    long p = 0;
    for (const char *d = colon + 1; *d; d++) {
        if (*d < '0' || *d > '9')
            return -1;
        p = p * 10 + (*d - '0');
    }
    if (p < 1 || p > 65535 || !config_valid_host(buf) || strchr(buf, ':'))
        return -1;
    *port = (uint16_t)p;
    *loopback = config_is_loopback(buf) || strcmp(buf, "localhost") == 0;
    return 0;
}

/* Walk the list; calls each word's result into ports/loopback. -1 on a bad word. */
static int allow_parse(const char *s, uint16_t *ports, bool *loopback, size_t max, size_t *n)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        p += strspn(p, " \t,");
        if (!*p)
            break;
        size_t len = strcspn(p, " \t,");
        uint16_t port;
        bool lo;
        if (*n >= max || allow_word(p, len, &port, &lo) < 0)
            return -1;
        ports[*n] = port;
        loopback[*n] = lo;
        (*n)++;
        p += len;
    }
    return 0;
}

bool config_valid_allow(const char *s)
{
    uint16_t ports[CONFIG_ALLOW_MAX];
    bool lo[CONFIG_ALLOW_MAX];
    size_t n;
    return allow_parse(s, ports, lo, CONFIG_ALLOW_MAX, &n) == 0;
}

int config_own_ports(const struct config_global *g, struct config_own_port out[3])
{
    int n = 0;
    if (g->admin_port > 0)
        out[n++] = (struct config_own_port){"admin", "listen", g->admin_port};
    if (g->proxy_mode != PROXY_OFF && g->proxy_port > 0)
        out[n++] = (struct config_own_port){"proxy", "listen", g->proxy_port};
    if (g->proxy_mode != PROXY_OFF && g->tls_cert[0] && g->tls_port > 0)
        out[n++] = (struct config_own_port){"proxy", "tls_port", g->tls_port};
    return n;
}

void config_net_global(struct pctx *c, const struct config_global *g, const int *seen)
{
    struct config_own_port own[3];
    int n = config_own_ports(g, own);
    for (int i = 0; i < n; i++)
        if (g->port_max > 0 && own[i].port >= g->port_min && own[i].port <= g->port_max)
            config_perr(c, config_seen_line(c, seen, "tenantd", "port_range"), "tenantd",
                        "port_range",
                        "%d-%d contains [%s] %s's port %d: a tenant could be given tenantd's "
                        "own listener",
                        g->port_min, g->port_max, own[i].section, own[i].key, own[i].port);
}

void config_net_tenant(struct pctx *c, const struct config_global *g, const struct config_plan *pl,
                       struct config_tenant *t, const int *seen)
{
    char q[QUOTE_MAX * 4 + 16];
    int line = config_seen_line(c, seen, "worker", "network");
    if (line == 0) {
        static const char *const names[] = {"none", "local", "outbound", "host"};
        int i = WORKER_NETWORK_HOST + 1;
        if (pl && pl->network[0])
            for (i = 0; i <= WORKER_NETWORK_HOST; i++)
                if (strcmp(pl->network, names[i]) == 0)
                    break;
        if (i <= WORKER_NETWORK_HOST)
            t->network = (enum worker_network)i;
        else
            t->network = t->command[0] ? WORKER_NETWORK_LOCAL : WORKER_NETWORK_NONE;
    }
    if (t->network == WORKER_NETWORK_HOST) {
        t->network = WORKER_NETWORK_OUTBOUND;
        t->network_was_host = true;
    }
    int aline = config_seen_line(c, seen, "worker", "allow");
    if (aline == 0 && pl)
        util_strlcpy(t->allow, pl->allow, sizeof t->allow);
    bool lo[CONFIG_ALLOW_MAX];
    if (allow_parse(t->allow, t->allow_port, lo, CONFIG_ALLOW_MAX, &t->n_allow) < 0) {
        config_quote(q, sizeof q, t->allow);
        config_perr(c, aline, "worker", "allow", "%s is not a list of host:port", q);
        t->n_allow = 0;
        return;
    }
    if (t->n_allow > 0 && t->network == WORKER_NETWORK_NONE)
        config_perr(c, aline, "worker", "allow",
                    "network = none reaches nothing: the allow list needs local or outbound");
    struct config_own_port own[3];
    int nown = g ? config_own_ports(g, own) : 0;
    for (size_t i = 0; i < t->n_allow; i++) {
        int p = t->allow_port[i];
        if (!lo[i] && t->network != WORKER_NETWORK_OUTBOUND)
            config_perr(c, aline, "worker", "allow",
                        "entry %zu is not a loopback address: it needs network = outbound", i + 1);
        if (!lo[i])
            continue; /* a remote host's port says nothing about ours */
        if (g && g->admin_port > 0 && p == g->admin_port)
            config_perr(c, aline, "worker", "allow",
                        "port %d is tenantd's admin listener, which no tenant may reach", p);
        if (g && g->port_max > 0 && p >= g->port_min && p <= g->port_max)
            config_perr(c, aline, "worker", "allow",
                        "port %d is in port_range (%d-%d): tenants reach each other through the "
                        "proxy, not directly",
                        p, g->port_min, g->port_max);
    }
    line = config_seen_line(c, seen, "worker", "port");
    for (int i = 0; line > 0 && i < nown; i++)
        if (t->port == own[i].port)
            config_perr(c, line, "worker", "port", "%d is [%s] %s's port in %s", t->port,
                        own[i].section, own[i].key, config_display_of(g, g->path));
}

int config_net_warnings(const struct config *c, void (*warn)(void *arg, const char *line),
                        void *arg)
{
    char line[CONFIG_PATH_MAX + 256];
    int n = 0, reduced = 0;
    for (size_t i = 0; i < c->n_tenants; i++) {
        const struct config_tenant_entry *e = &c->tenants[i];
        if (!e->valid)
            continue;
        if (e->t.network_was_host) {
            char file[CONFIG_TENANT_FILE_MAX];
            config_tenant_file(&c->g, e->id, file, sizeof file);
            snprintf(line, sizeof line,
                     "%s: [worker] network: \"host\" is deprecated, read as \"outbound\"", file);
            warn(arg, line);
            n++;
        }
        if (e->t.network != WORKER_NETWORK_NONE)
            reduced++;
    }
    if (!landlock_net_available()) {
        snprintf(line, sizeof line,
                 "network containment is reduced: this kernel's Landlock ABI is %d, TCP port "
                 "rules need %d (Linux 6.7); %d tenant%s with network = local or outbound can "
                 "bind and connect to any port",
                 landlock_net_abi(), LANDLOCK_NET_MIN_ABI, reduced, reduced == 1 ? "" : "s");
        warn(arg, line);
        n++;
    }
    return n;
}
