/*
 * pg_stats.c — see pg_stats.h. The sample is one table in this file: tenantd
 * has one loop, and status and metrics read it from there.
 */
#include "pg_stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "config.h"
#include "log.h"
#include "pg_client.h"
#include "sup.h"

#define STATS_TIMEOUT_MS 30000
#define STATS_MAX 4096

struct sample {
    char name[PG_NAME_MAX];
    int64_t size;
    int conns;
};

static struct {
    struct sample *v;
    size_t n;
    bool have, reachable;
} last;

struct pg_stats {
    uv_loop_t *loop;
    struct sup *sup;
    uv_timer_t timer;
    struct child *child;
    struct pg_client pc;
    bool stopping, timer_closed;
};

static void maybe_free(struct pg_stats *ps)
{
    if (ps->stopping && ps->timer_closed && ps->child == NULL) {
        pg_client_clear(&ps->pc);
        free(ps);
    }
}

static void on_done(void *arg, struct child_result *r)
{
    struct pg_stats *ps = arg;
    ps->child = NULL;
    pg_client_clear(&ps->pc);
    bool ok = r->status == 0 && !r->sig && !r->timed_out;
    if (!ok) {
        if (last.reachable || !last.have)
            log_warn(NULL, "postgresql: cannot read the databases' sizes: %.300s",
                     r->err_len ? r->err : "no answer");
        last.have = true;
        last.reachable = false;
        maybe_free(ps);
        return;
    }
    struct sample *v = NULL;
    size_t n = 0, cap = 0;
    for (char *line = strtok(r->out, "\n"); line; line = strtok(NULL, "\n")) {
        struct sample s;
        long long size;
        int conns;
        char name[PG_NAME_MAX];
        if (sscanf(line, "%63[a-z0-9_]|%lld|%d", name, &size, &conns) != 3 || n >= STATS_MAX)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            struct sample *nv = realloc(v, cap * sizeof *v);
            if (nv == NULL)
                break;
            v = nv;
        }
        snprintf(s.name, sizeof s.name, "%s", name);
        s.size = size;
        s.conns = conns;
        v[n++] = s;
    }
    free(last.v);
    last.v = v;
    last.n = n;
    last.have = last.reachable = true;
    maybe_free(ps);
}

static void tick(uv_timer_t *t)
{
    struct pg_stats *ps = t->data;
    const struct config *c = sup_config(ps->sup);
    if (c->g.pg_stats_every_ms > 0)
        uv_timer_start(&ps->timer, tick, (uint64_t)c->g.pg_stats_every_ms, 0);
    else
        uv_timer_start(&ps->timer, tick, 60000, 0); /* re-read the setting later */
    if (ps->child != NULL || c->g.pg_url[0] == '\0' || c->g.pg_stats_every_ms == 0)
        return;
    bool any = false;
    for (size_t i = 0; i < c->n_tenants && !any; i++)
        any = c->tenants[i].valid && c->tenants[i].t.database == DB_POSTGRESQL;
    if (!any)
        return;
    char err[512];
    if (pg_client_init(&ps->pc, &c->g.pg, c->g.pg_password_file, err, sizeof err) < 0) {
        log_warn(NULL, "postgresql: %s", err);
        return;
    }
    static char q[] = "SELECT d.datname, pg_database_size(d.datname), (SELECT count(*) FROM "
                      "pg_stat_activity a WHERE a.datname = d.datname) FROM pg_database d "
                      "WHERE d.datname LIKE 'tenant\\_%' AND d.datallowconn";
    char *argv[24] = {"psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"};
    size_t k = 7;
    pg_client_conn_args(&ps->pc, argv, &k, ps->pc.srv.dbname);
    argv[k++] = "-c";
    argv[k++] = q;
    argv[k] = NULL;
    struct child_opts o = {.argv = argv, .env = ps->pc.env, .timeout_ms = STATS_TIMEOUT_MS};
    if (child_start(ps->loop, &o, on_done, ps, &ps->child, err, sizeof err) < 0) {
        ps->child = NULL;
        pg_client_clear(&ps->pc);
        log_warn(NULL, "postgresql: cannot run psql: %s", err);
    }
}

int pg_stats_start(uv_loop_t *loop, struct sup *sup, struct pg_stats **out)
{
    struct pg_stats *ps = calloc(1, sizeof *ps);
    if (ps == NULL)
        return -ENOMEM;
    ps->loop = loop;
    ps->sup = sup;
    uv_timer_init(loop, &ps->timer);
    ps->timer.data = ps;
    /* The first sample soon after start, once the workers are on their way. */
    uv_timer_start(&ps->timer, tick, 1000, 0);
    *out = ps;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct pg_stats *ps = h->data;
    ps->timer_closed = true;
    maybe_free(ps);
}

void pg_stats_stop(struct pg_stats *ps)
{
    if (ps == NULL)
        return;
    ps->stopping = true;
    if (ps->child)
        child_kill(ps->child);
    uv_close((uv_handle_t *)&ps->timer, on_timer_closed);
}

void pg_stats_get(const char *id, int64_t *size, int *conns, const char **state)
{
    char name[PG_NAME_MAX];
    *size = -1;
    *conns = -1;
    *state = "";
    if (!last.have)
        return;
    if (!last.reachable) {
        *state = "unreachable";
        return;
    }
    pg_tenant_name(id, name, sizeof name);
    *state = "missing";
    for (size_t i = 0; i < last.n; i++)
        if (strcmp(last.v[i].name, name) == 0) {
            *size = last.v[i].size;
            *conns = last.v[i].conns;
            *state = "ok";
            return;
        }
}
