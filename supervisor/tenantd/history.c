/*
 * history.c — the status page's time series in state.db (see history.h).
 *
 *   history(tenant, t, state, rss_bytes, cpu_seconds, restarts, requests,
 *           log_off)      one row per tenant per round; t in unix ms;
 *                         requests = access-log lines since the previous
 *                         row (-1: no log), log_off = where counting stopped
 *
 * A round: on the loop thread, copy what each tenant's view says into an
 * array; on a work thread, count each tenant's new access-log lines (from the
 * offset of its newest row; at most HISTORY_READ_MAX bytes a round, the rest
 * next round; from 0 again when the file shrank: rotated) and insert every
 * row, then prune rows older than HISTORY_KEEP_S, in one transaction.
 */
#include "history.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config.h"
#include "log.h"
#include "sup.h"

#define HISTORY_READ_MAX (16 * 1024 * 1024)

struct history_sample {
    char id[CONFIG_ID_MAX];
    char state[16];
    uint64_t rss_bytes;
    double cpu_seconds;
    int64_t restarts;
};

struct history {
    uv_loop_t *loop;
    struct sup *sup;
    char db_path[CONFIG_PATH_MAX + 16];
    char log_dir[CONFIG_PATH_MAX];
    sqlite3 *rd; /* loop thread: history_query */
    sqlite3 *wr; /* work thread only */
    uv_timer_t timer;
    uv_work_t work;
    bool busy, stopping, timer_closed;
    int64_t every_s;
    unsigned reads;               /* history_query_async calls in flight */
    struct history_sample *round; /* the round in flight */
    size_t round_n;
    int64_t round_ms;
    void (*done)(void *arg);
    void *done_arg;
};

static const char schema[] = "CREATE TABLE IF NOT EXISTS history ("
                             "  tenant TEXT NOT NULL,"
                             "  t INTEGER NOT NULL,"
                             "  state TEXT NOT NULL,"
                             "  rss_bytes INTEGER NOT NULL,"
                             "  cpu_seconds REAL NOT NULL,"
                             "  restarts INTEGER NOT NULL,"
                             "  requests INTEGER NOT NULL,"
                             "  log_off INTEGER NOT NULL,"
                             "  PRIMARY KEY (tenant, t)) WITHOUT ROWID;"
                             "CREATE INDEX IF NOT EXISTS history_t ON history (t);";

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int open_db(const char *path, int flags, sqlite3 **out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -EIO;
    }
    sqlite3_busy_timeout(db, 2000);
    /* A small page cache: the history is read a tenant at a time. */
    sqlite3_exec(db, "PRAGMA cache_size = -256; PRAGMA synchronous = NORMAL;", NULL, NULL, NULL);
    *out = db;
    return 0;
}

/* ---- a round ------------------------------------------------------------------- */

/* Lines added to the tenant's access log since *off; -1 when there is no log. */
static int64_t count_new_lines(const char *log_dir, const char *id, int64_t *off)
{
    char path[CONFIG_PATH_MAX + CONFIG_ID_MAX + 16];
    if (snprintf(path, sizeof path, "%s/%s.access.log", log_dir, id) >= (int)sizeof path)
        return -1;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    if (*off < 0 || st.st_size < *off) /* first sample, or rotated/truncated */
        *off = *off < 0 ? st.st_size : 0;
    int64_t lines = 0, left = st.st_size - *off;
    if (left > HISTORY_READ_MAX)
        left = HISTORY_READ_MAX;
    char buf[64 * 1024];
    while (left > 0) {
        ssize_t n = pread(fd, buf, left < (int64_t)sizeof buf ? (size_t)left : sizeof buf, *off);
        if (n <= 0)
            break;
        for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))) != NULL; p++)
            lines++;
        *off += n;
        left -= n;
    }
    close(fd);
    return lines;
}

static void round_work(uv_work_t *w)
{
    struct history *h = w->data;
    sqlite3 *db = h->wr;
    sqlite3_stmt *last = NULL, *ins = NULL, *prune = NULL;
    bool ok = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    ok = ok &&
         sqlite3_prepare_v2(db,
                            "SELECT log_off FROM history WHERE tenant = ? ORDER BY t DESC LIMIT 1",
                            -1, &last, NULL) == SQLITE_OK &&
         sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            -1, &ins, NULL) == SQLITE_OK &&
         sqlite3_prepare_v2(db, "DELETE FROM history WHERE t < ?", -1, &prune, NULL) == SQLITE_OK;
    for (size_t i = 0; ok && i < h->round_n; i++) {
        const struct history_sample *s = &h->round[i];
        int64_t off = -1;
        sqlite3_bind_text(last, 1, s->id, -1, SQLITE_STATIC);
        if (sqlite3_step(last) == SQLITE_ROW)
            off = sqlite3_column_int64(last, 0);
        sqlite3_reset(last);
        int64_t req = count_new_lines(h->log_dir, s->id, &off);
        if (req < 0)
            off = -1;
        sqlite3_bind_text(ins, 1, s->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, h->round_ms);
        sqlite3_bind_text(ins, 3, s->state, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 4, (sqlite3_int64)s->rss_bytes);
        sqlite3_bind_double(ins, 5, s->cpu_seconds);
        sqlite3_bind_int64(ins, 6, s->restarts);
        sqlite3_bind_int64(ins, 7, req);
        sqlite3_bind_int64(ins, 8, off);
        ok = sqlite3_step(ins) == SQLITE_DONE;
        sqlite3_reset(ins);
    }
    if (ok) {
        sqlite3_bind_int64(prune, 1, h->round_ms - (int64_t)HISTORY_KEEP_S * 1000);
        ok = sqlite3_step(prune) == SQLITE_DONE;
    }
    if (!ok)
        log_warn(NULL, "history: %s; this round is not recorded", sqlite3_errmsg(db));
    sqlite3_finalize(last);
    sqlite3_finalize(ins);
    sqlite3_finalize(prune);
    sqlite3_exec(db, ok ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
}

static void maybe_done(struct history *h)
{
    if (!h->stopping || h->busy || h->reads > 0 || !h->timer_closed)
        return;
    void (*done)(void *) = h->done;
    void *arg = h->done_arg;
    sqlite3_close(h->rd);
    sqlite3_close(h->wr);
    free(h);
    if (done)
        done(arg);
}

static void round_done(uv_work_t *w, int status)
{
    struct history *h = w->data;
    (void)status;
    free(h->round);
    h->round = NULL;
    h->round_n = 0;
    h->busy = false;
    maybe_done(h);
}

static void on_timer(uv_timer_t *t)
{
    struct history *h = t->data;
    if (h->busy || h->stopping)
        return; /* the previous round is still being written: skip this one */
    size_t n = sup_tenant_count(h->sup);
    if (n == 0)
        return;
    struct history_sample *round = calloc(n, sizeof *round);
    struct tenant_view *v = malloc(sizeof *v);
    if (round == NULL || v == NULL) {
        free(round);
        free(v);
        log_warn(NULL, "history: out of memory; this round is not recorded");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (sup_tenant_view(h->sup, i, v) != 0)
            continue;
        struct history_sample *s = &round[k++];
        snprintf(s->id, sizeof s->id, "%s", v->id);
        snprintf(s->state, sizeof s->state, "%s", tstate_name(v->state));
        s->rss_bytes = v->rss_bytes;
        s->cpu_seconds = v->cpu_seconds;
        s->restarts = v->restarts;
    }
    free(v);
    h->round = round;
    h->round_n = k;
    h->round_ms = now_ms();
    h->work.data = h;
    if (uv_queue_work(h->loop, &h->work, round_work, round_done) != 0) {
        free(round);
        h->round = NULL;
        return;
    }
    h->busy = true;
}

int history_start(uv_loop_t *loop, struct sup *s, int64_t every_ms, struct history **out, char *err,
                  size_t errlen)
{
    *out = NULL;
    if (every_ms <= 0)
        return 0;
    if (every_ms < HISTORY_MIN_EVERY_MS)
        every_ms = HISTORY_MIN_EVERY_MS;
    const struct config_global *g = &sup_config(s)->g;
    struct history *h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    h->loop = loop;
    h->sup = s;
    h->every_s = every_ms / 1000;
    snprintf(h->log_dir, sizeof h->log_dir, "%s", g->log_dir);
    if (snprintf(h->db_path, sizeof h->db_path, "%s/state.db", g->run_dir) >=
        (int)sizeof h->db_path) {
        snprintf(err, errlen, "run_dir is too long");
        free(h);
        return -ENAMETOOLONG;
    }
    int rc = open_db(h->db_path, SQLITE_OPEN_READWRITE, &h->wr, err, errlen);
    if (rc == 0)
        rc = open_db(h->db_path, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, &h->rd, err, errlen);
    char *msg = NULL;
    if (rc == 0 && sqlite3_exec(h->wr, schema, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: history table: %s", h->db_path, msg ? msg : "error");
        sqlite3_free(msg);
        rc = -EIO;
    }
    /* Let the reader open its files (the WAL) now, not at the first page
     * load: tenantd's set of open files is settled once it is ready. */
    if (rc == 0)
        sqlite3_exec(h->rd, "SELECT count(*) FROM (SELECT 1 FROM history LIMIT 1)", NULL, NULL,
                     NULL);
    if (rc != 0) {
        sqlite3_close(h->rd);
        sqlite3_close(h->wr);
        free(h);
        return rc;
    }
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    uv_timer_start(&h->timer, on_timer, (uint64_t)every_ms, (uint64_t)every_ms);
    *out = h;
    return 0;
}

static void on_timer_closed(uv_handle_t *t)
{
    struct history *h = t->data;
    h->timer_closed = true;
    maybe_done(h);
}

void history_stop(struct history *h, void (*done)(void *arg), void *arg)
{
    if (h == NULL) {
        if (done)
            done(arg);
        return;
    }
    if (h->stopping)
        return;
    h->stopping = true;
    h->done = done;
    h->done_arg = arg;
    uv_close((uv_handle_t *)&h->timer, on_timer_closed);
}

/* ---- reading ----------------------------------------------------------------------- */

json_t *history_query(struct history *h, const char *id, int64_t since_s, char *err, size_t errlen)
{
    int64_t until = now_ms();
    int64_t since = since_s * 1000;
    if (since < until - (int64_t)HISTORY_KEEP_S * 1000)
        since = until - (int64_t)HISTORY_KEEP_S * 1000;
    if (since > until)
        since = until;
    /* The window starts at the oldest kept sample, so a young history
     * (tenantd just started, or a short period in a test) is still drawn
     * in fine points rather than folded into one. */
    sqlite3_stmt *first = NULL;
    if (sqlite3_prepare_v2(h->rd, "SELECT MIN(t) FROM history WHERE tenant = ? AND t >= ?", -1,
                           &first, NULL) == SQLITE_OK) {
        sqlite3_bind_text(first, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(first, 2, since);
        if (sqlite3_step(first) == SQLITE_ROW && sqlite3_column_type(first, 0) == SQLITE_INTEGER)
            since = sqlite3_column_int64(first, 0);
    }
    sqlite3_finalize(first);
    struct history_fold *f = malloc(sizeof *f);
    if (f == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    history_fold_init(f, since, until);
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(h->rd,
                                "SELECT t, state, rss_bytes, cpu_seconds, restarts, requests "
                                "FROM history WHERE tenant = ? AND t >= ? ORDER BY t",
                                -1, &q, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, since);
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            struct history_row r = {0};
            r.t_ms = sqlite3_column_int64(q, 0);
            const unsigned char *st = sqlite3_column_text(q, 1);
            snprintf(r.state, sizeof r.state, "%s", st ? (const char *)st : "");
            r.rss_bytes = (uint64_t)sqlite3_column_int64(q, 2);
            r.cpu_seconds = sqlite3_column_double(q, 3);
            r.restarts = sqlite3_column_int64(q, 4);
            r.requests = sqlite3_column_int64(q, 5);
            history_fold_add(f, &r);
        }
    }
    json_t *out = NULL;
    if (rc != SQLITE_DONE)
        snprintf(err, errlen, "state.db: %s", sqlite3_errmsg(h->rd));
    else
        out = history_fold_json(f);
    sqlite3_finalize(q);
    free(f);
    if (out != NULL) {
        json_object_set_new(out, "tenant", json_string(id));
        json_object_set_new(out, "every_s", json_integer((json_int_t)h->every_s));
    } else if (rc == SQLITE_DONE) {
        snprintf(err, errlen, "out of memory");
    }
    return out;
}

/* ---- reading off the loop ----------------------------------------------------------- */

struct history_read {
    uv_work_t work;
    struct history *h;
    char id[CONFIG_ID_MAX];
    int64_t since_s;
    json_t *out;
    char err[256];
    history_read_cb cb;
    void *arg;
};

static void read_work(uv_work_t *w)
{
    struct history_read *r = w->data;
    r->out = history_query(r->h, r->id, r->since_s, r->err, sizeof r->err);
}

static void read_done(uv_work_t *w, int status)
{
    struct history_read *r = w->data;
    struct history *h = r->h;
    if (status != 0 && r->out == NULL)
        snprintf(r->err, sizeof r->err, "the read was cancelled");
    h->reads--;
    r->cb(r->arg, r->out, r->err);
    free(r);
    maybe_done(h);
}

int history_query_async(struct history *h, const char *id, int64_t since_s, history_read_cb cb,
                        void *arg)
{
    if (h->stopping)
        return -ESHUTDOWN;
    struct history_read *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -ENOMEM;
    r->h = h;
    snprintf(r->id, sizeof r->id, "%s", id);
    r->since_s = since_s;
    r->cb = cb;
    r->arg = arg;
    r->work.data = r;
    int rc = uv_queue_work(h->loop, &r->work, read_work, read_done);
    if (rc != 0) {
        free(r);
        return rc;
    }
    h->reads++;
    return 0;
}
