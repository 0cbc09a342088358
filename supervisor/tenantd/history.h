/*
 * history.h — the status page's time series (issue 18): every
 * `[tenantd] history_every` (default 60 s; 0 = off) one sample of every
 * tenant (state, memory, CPU seconds, supervisor restarts, requests seen in
 * its nginx access log) goes into the `history` table of <run_dir>/state.db,
 * kept HISTORY_KEEP_S and pruned at each round.
 *
 * The history lives on disk, never in tenantd's memory: a round takes a
 * snapshot of the tenants on the loop thread (a few hundred bytes each,
 * freed after the round), then a libuv work thread reads the access logs
 * and writes the whole round in one transaction on its own connection.
 * Reads (history_query_async) run on work threads too, through a second
 * connection (SQLite serialises its use), and fold the samples into at most HISTORY_MAX_POINTS
 * points, so an answer stays small however short the period.
 *
 * Requests per second come from the tenant's nginx access log
 * (<log_dir>/<id>.access.log): the lines added since the previous sample,
 * counted from the byte offset stored in that sample. It is the proxy's
 * view (every request nginx logged for the tenant, whatever its status),
 * works for any worker, and is null when the proxy keeps no log (mode off).
 */
#ifndef TENANTD_HISTORY_H
#define TENANTD_HISTORY_H

#include <stdint.h>

#include <jansson.h>
#include <uv.h>

struct sup;
struct history;

#define HISTORY_KEEP_S (24 * 3600)
#define HISTORY_MAX_POINTS 288
#define HISTORY_MIN_EVERY_MS 1000

/* Open state.db's history (creating the table) and arm the timer. every_ms
 * 0: *out stays NULL and 0 is returned (history off). */
int history_start(uv_loop_t *loop, struct sup *s, int64_t every_ms, struct history **out, char *err,
                  size_t errlen);

/* Stop the timer, wait for a round in flight, close and free; done(arg)
 * then runs on the loop (at once when h is NULL). */
void history_stop(struct history *h, void (*done)(void *arg), void *arg);

/* The samples of tenant id since since_s (unix seconds; clamped to the kept
 * window, and to the oldest sample kept) as
 * {"tenant","every_s","since","until","points":[{"t","state",
 * "rss_bytes","cpu_percent","restarts","requests_per_s"}]}, oldest first;
 * NULL with err filled on a database error. */
json_t *history_query(struct history *h, const char *id, int64_t since_s, char *err, size_t errlen);

/* The same, on a libuv work thread: cb(arg, answer or NULL, err) runs on the
 * loop once it is read (cb owns the answer). history_stop waits for reads in
 * flight. 0, or -errno (stopping: -ESHUTDOWN) and cb is never called. */
typedef void (*history_read_cb)(void *arg, json_t *answer, const char *err);
int history_query_async(struct history *h, const char *id, int64_t since_s, history_read_cb cb,
                        void *arg);

/* Pure: fold rows into points (history.c's reader; exposed for its unit
 * test). A row is one stored sample; requests < 0 means "no log". */
struct history_row {
    int64_t t_ms;
    char state[16];
    uint64_t rss_bytes;
    double cpu_seconds;
    int64_t restarts;
    int64_t requests; /* lines since the previous sample; -1 = no access log */
};
struct history_point {
    int64_t t_s;
    char state[16];
    uint64_t rss_bytes; /* the bucket's maximum */
    double cpu_percent; /* CPU time over wall time in the bucket, in % of one core */
    int64_t restarts;   /* the last sample's count */
    double requests_ps; /* -1 = unknown */
    /* folding state */
    int64_t idx;            /* bucket number */
    double busy_s, wall_ms; /* CPU seconds and wall time covered */
    double req_sum, req_ms; /* requests and the time they cover */
    int n;                  /* samples folded in */
};
struct history_fold {
    int64_t since_ms, until_ms, bucket_ms;
    int64_t prev_ms; /* the previous row's time, 0 before the first */
    double prev_cpu;
    struct history_point pts[HISTORY_MAX_POINTS];
    size_t n;
};
void history_fold_init(struct history_fold *f, int64_t since_ms, int64_t until_ms);
void history_fold_add(struct history_fold *f, const struct history_row *r);
json_t *history_fold_json(const struct history_fold *f);

#endif
