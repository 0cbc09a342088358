/*
 * history_fold.c — pure: stored history samples folded into at most
 * HISTORY_MAX_POINTS points for GET /v1/tenants/<id>/history (history.h).
 *
 * The window [since, until] is cut into equal buckets; a point per bucket
 * that holds samples. Memory is the bucket's largest value (a peak must not
 * vanish when folded), CPU the CPU seconds used over the wall time between
 * the samples (in % of one core; a counter that went back — a new cgroup —
 * counts from zero), requests per second the access-log lines over the time
 * they cover, restarts and state the bucket's last sample.
 */
#include "history.h"

#include <string.h>

void history_fold_init(struct history_fold *f, int64_t since_ms, int64_t until_ms)
{
    memset(f, 0, sizeof *f);
    f->since_ms = since_ms;
    f->until_ms = until_ms;
    int64_t span = until_ms > since_ms ? until_ms - since_ms : 1;
    f->bucket_ms = (span + HISTORY_MAX_POINTS - 1) / HISTORY_MAX_POINTS;
    if (f->bucket_ms < 1)
        f->bucket_ms = 1;
}

void history_fold_add(struct history_fold *f, const struct history_row *r)
{
    if (r->t_ms < f->since_ms)
        return;
    int64_t idx = (r->t_ms - f->since_ms) / f->bucket_ms;
    struct history_point *p = f->n ? &f->pts[f->n - 1] : NULL;
    if (p == NULL || p->idx != idx) {
        if (f->n == HISTORY_MAX_POINTS)
            return; /* cannot happen with rows in order inside the window */
        p = &f->pts[f->n++];
        memset(p, 0, sizeof *p);
        p->idx = idx;
    }
    double dt = f->prev_ms && r->t_ms > f->prev_ms ? (double)(r->t_ms - f->prev_ms) : 0;
    if (dt > 0) {
        double dcpu = r->cpu_seconds - f->prev_cpu;
        p->busy_s += dcpu >= 0 ? dcpu : r->cpu_seconds;
        p->wall_ms += dt;
        if (r->requests >= 0) {
            p->req_sum += (double)r->requests;
            p->req_ms += dt;
        }
    }
    f->prev_ms = r->t_ms;
    f->prev_cpu = r->cpu_seconds;
    p->t_s = r->t_ms / 1000;
    memcpy(p->state, r->state, sizeof p->state);
    p->state[sizeof p->state - 1] = '\0';
    if (r->rss_bytes > p->rss_bytes)
        p->rss_bytes = r->rss_bytes;
    p->restarts = r->restarts;
    p->n++;
}

json_t *history_fold_json(const struct history_fold *f)
{
    json_t *o = json_object();
    json_t *pts = json_array();
    if (o == NULL || pts == NULL) {
        json_decref(o);
        json_decref(pts);
        return NULL;
    }
    for (size_t i = 0; i < f->n; i++) {
        const struct history_point *p = &f->pts[i];
        double cpu = p->wall_ms > 0 ? 100.0 * p->busy_s * 1000.0 / p->wall_ms : 0;
        json_t *j = json_pack("{sI ss sI sf sI}", "t", (json_int_t)p->t_s, "state", p->state,
                              "rss_bytes", (json_int_t)p->rss_bytes, "cpu_percent",
                              (double)(int64_t)(cpu * 100 + 0.5) / 100, "restarts",
                              (json_int_t)p->restarts);
        if (j == NULL)
            continue;
        json_object_set_new(
            j, "requests_per_s",
            p->req_ms > 0
                ? json_real((double)(int64_t)(p->req_sum * 1000.0 / p->req_ms * 100 + 0.5) / 100)
                : json_null());
        json_array_append_new(pts, j);
    }
    json_object_set_new(o, "since", json_integer((json_int_t)(f->since_ms / 1000)));
    json_object_set_new(o, "until", json_integer((json_int_t)(f->until_ms / 1000)));
    json_object_set_new(o, "points", pts);
    return o;
}
