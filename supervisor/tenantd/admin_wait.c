/*
 * admin_wait.c — GET /v1/tenants/<id>?wait=<state>[,<state>...]&timeout=<ms>:
 * the tenant's status JSON once it is in one of the states, with "reached":
 * true, or at the timeout with "reached": false; 200 either way. Several
 * states let a client wait for an outcome ("running,failed": up, or given
 * up on) rather than for a deadline. A client that waits for a
 * tenant (tenantctl wait, tenantctl restore) asks once instead of polling.
 *
 * The answer is deferred on tenantd's loop: the request is kept, a
 * sup_watch (sup.h) tells when the tenant changes state and a libuv timer
 * bounds the wait. Nothing blocks and nothing polls.
 *
 * What it does not do: the plain GET /v1/tenants/<id> (admin_routes.c).
 */
#include "admin_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status_json.h"
#include "sup.h"

/* A wait is bounded by the server, whatever the client asks: a forgotten
 * client must not hold a request (and its connection) for ever. */
#define ADMIN_WAIT_DEFAULT_MS 30000
#define ADMIN_WAIT_MAX_MS 300000

struct admin_wait {
    struct admin *a;
    struct admin_wait *next;
    h2o_req_t *req;            /* NULL once answered */
    struct admin_wait **guard; /* in req's pool: tells us if h2o frees req first */
    struct sup_watch *watch;
    uv_timer_t timer;
    char id[CONFIG_ID_MAX];
    unsigned want; /* a bit per enum tstate */
};

static void wait_unlink(struct admin_wait *w)
{
    for (struct admin_wait **p = &w->a->waits; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            return;
        }
    }
}

static void on_wait_timer_closed(uv_handle_t *h)
{
    struct admin_wait *w = h->data;
    struct admin *a = w->a;
    free(w);
    a->closing--;
    admin_maybe_finish(a);
}

/* Answer with the tenant's status and whether the state was reached, or 404
 * when the tenant went away meanwhile. */
static void answer(struct admin *a, h2o_req_t *req, const char *id, bool reached)
{
    struct tenant_view *v = calloc(1, sizeof *v);
    if (v == NULL) {
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    if (sup_tenant_find(a->sup, id, v) != 0) {
        admin_send_error(req, 404, "no such tenant", id);
        free(v);
        return;
    }
    json_t *o = status_json_tenant(v);
    free(v);
    if (o != NULL)
        json_object_set_new(o, "reached", json_boolean(reached));
    admin_send_json(req, 200, o);
}

/* Answer a waiting request, then let go of its watch and timer. */
static void finish(struct admin_wait *w, bool reached)
{
    struct admin *a = w->a;
    if (w->guard != NULL)
        *w->guard = NULL;
    w->guard = NULL;
    if (w->req != NULL)
        answer(a, w->req, w->id, reached);
    w->req = NULL;
    sup_watch_cancel(a->sup, w->watch);
    w->watch = NULL;
    wait_unlink(w);
    a->closing++;
    uv_close((uv_handle_t *)&w->timer, on_wait_timer_closed);
}

/* h2o disposes the request's pool before we answered (the connection went
 * away): forget the request and end the wait. */
static void on_req_disposed(void *p)
{
    struct admin_wait *w = *(struct admin_wait **)p;
    if (w == NULL)
        return;
    w->guard = NULL;
    w->req = NULL;
    finish(w, false);
}

static void on_state(void *arg, const char *id, enum tstate state)
{
    struct admin_wait *w = arg;
    if ((w->want & (1u << state)) && w->req != NULL)
        finish(w, true);
}

static void on_timeout(uv_timer_t *h)
{
    finish(h->data, false);
}

void admin_wait_get(struct admin *a, h2o_req_t *req, const char *id, h2o_iovec_t query)
{
    char names[128] = "", tbuf[24] = "";
    unsigned want = 0;
    bool bad = !admin_query_get(query, "wait", names, sizeof names);
    /* strsep, not strtok: an empty item ("running,") is an error too. */
    for (char *rest = names, *n; !bad && (n = strsep(&rest, ",")) != NULL;) {
        enum tstate st;
        bad = tstate_parse(n, &st) < 0;
        if (!bad)
            want |= 1u << st;
    }
    if (bad || want == 0) {
        admin_send_error(req, 400, "invalid state",
                         "wait is one or more of stopped, starting, running, stopping, backoff, "
                         "failed, suspended, idle, separated by commas");
        return;
    }
    long timeout = ADMIN_WAIT_DEFAULT_MS;
    if (admin_query_get(query, "timeout", tbuf, sizeof tbuf)) {
        char *end;
        errno = 0;
        timeout = strtol(tbuf, &end, 10);
        if (end == tbuf || *end != '\0' || errno != 0 || timeout < 0) {
            admin_send_error(req, 400, "invalid timeout",
                             "timeout is a number of milliseconds, 0 or more");
            return;
        }
    }
    if (timeout > ADMIN_WAIT_MAX_MS)
        timeout = ADMIN_WAIT_MAX_MS;

    struct tenant_view *v = calloc(1, sizeof *v);
    if (v == NULL) {
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    int found = sup_tenant_find(a->sup, id, v);
    enum tstate now = v->state;
    free(v);
    if (found != 0) {
        admin_send_error(req, 404, "no such tenant", id);
        return;
    }
    bool there = (want & (1u << now)) != 0;
    if (there || timeout == 0) {
        answer(a, req, id, there);
        return;
    }
    struct admin_wait *w = calloc(1, sizeof *w);
    if (w == NULL) {
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    w->a = a;
    w->req = req;
    w->want = want;
    snprintf(w->id, sizeof w->id, "%s", id);
    if (sup_watch_add(a->sup, id, on_state, w, &w->watch) < 0) {
        free(w);
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    w->guard = h2o_mem_alloc_shared(&req->pool, sizeof *w->guard, on_req_disposed);
    *w->guard = w;
    uv_timer_init(a->loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, on_timeout, (uint64_t)timeout, 0);
    w->next = a->waits;
    a->waits = w;
}

void admin_wait_abort_all(struct admin *a)
{
    while (a->waits) {
        struct admin_wait *w = a->waits;
        if (w->req != NULL)
            admin_send_error(w->req, 503, "shutting down", "tenantd is stopping");
        w->req = NULL;
        finish(w, false);
    }
}
