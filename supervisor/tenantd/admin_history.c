/*
 * admin_history.c — GET /v1/tenants/<id>/history?since=<unix seconds>: the
 * tenant's samples from state.db (history.h), folded to at most
 * HISTORY_MAX_POINTS points; the status page draws its charts from it.
 * 404 for an unknown tenant, 400 for a bad `since`, 503 when the history is
 * off (`[tenantd] history_every = 0`) or state.db could not be opened. The
 * answer is read on a work thread and sent later.
 */
#include "admin_internal.h"

#include <stdlib.h>
#include <time.h>

#include "history.h"
#include "sup.h"

static void on_read(void *arg, json_t *answer, const char *err)
{
    h2o_req_t *req = arg;
    if (answer == NULL)
        admin_send_error(req, 500, "internal", err);
    else
        admin_send_json(req, 200, answer);
}

void admin_history_get(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                       const struct admin_req *r)
{
    (void)who;
    struct tenant_view *v = malloc(sizeof *v);
    if (v == NULL) {
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    int found = sup_tenant_find(a->sup, r->id, v);
    free(v);
    if (found != 0) {
        admin_send_error(req, 404, "no such tenant", r->id);
        return;
    }
    int64_t since = (int64_t)time(NULL) - HISTORY_KEEP_S;
    char buf[24];
    if (admin_query_get(r->query, "since", buf, sizeof buf)) {
        char *end;
        long long s = strtoll(buf, &end, 10);
        if (end == buf || *end != '\0' || s < 0) {
            admin_send_error(req, 400, "invalid since",
                             "since is a time in unix seconds (an integer >= 0); the history "
                             "keeps the last 24 h");
            return;
        }
        since = (int64_t)s;
    }
    if (a->history == NULL) {
        admin_send_error(req, 503, "no history",
                         "the history is off ([tenantd] history_every = 0) or state.db could "
                         "not be opened; see tenantd's log");
        return;
    }
    /* Folding a day of short-period samples takes tens of milliseconds:
     * off the loop, answered when read. At stop the history waits for the
     * reads in flight, and the admin surface for the history. */
    int rc = history_query_async(a->history, r->id, since, on_read, req);
    if (rc != 0)
        admin_send_error(req, 503, "no history", "the history is stopping");
}
