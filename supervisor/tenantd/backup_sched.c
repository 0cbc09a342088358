/*
 * backup_sched.c — see backup_sched.h. A FIFO of jobs, at most one of them in
 * the thread pool at any time:
 *
 *   timer tick ──> one "scheduled" job per tenant, appended ──┐
 *   backup_sched_now ──> one "on-demand" job, before those ───┤
 *                                                             v
 *                     pump(): take the head, uv_queue_work(work_cb)
 *                     work_cb (pool thread): due? backup_create, backup_prune
 *                     after_cb (loop): log, call done, free, pump() again
 *
 * The job carries copies of every path it needs, taken on the loop from
 * sup_config(), so the pool thread touches nothing of the supervisor's.
 */
#include "backup_sched.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "backup.h"
#include "config.h"
#include "log.h"
#include "sup.h"

#define CHECK_MAX_MS (60 * 1000)

struct job {
    struct job *next;
    struct backup_sched *bs;
    uv_work_t req;
    char id[CONFIG_ID_MAX];
    char db[PATH_MAX];
    char dir[PATH_MAX];
    int keep;
    int64_t slot_ms; /* scheduled jobs: run only when the newest backup is older */
    bool on_demand;
    backup_sched_done_fn done;
    void *arg;
    /* results, written by the pool thread, read in after_cb */
    int rc;
    bool skipped;
    const char *skip_reason;
    int pruned, prune_rc;
    int64_t size;
    char path[PATH_MAX];
    char err[512];
    char prune_err[256];
};

struct backup_sched {
    uv_loop_t *loop;
    struct sup *sup;
    uv_timer_t timer;
    uint64_t period_ms;
    int64_t last_round_ms; /* wall clock of the last scheduled round, 0 before */
    struct job *head, *tail;
    struct job *running;
    int scheduled_pending; /* scheduled jobs queued or running: one round at a time */
    bool stopping, timer_closed;
    void (*stop_done)(void *arg);
    void *stop_arg;
};

static void pump(struct backup_sched *bs);

static uint64_t check_period(const struct config_global *g)
{
    if (g->backup_every_ms > 0 && g->backup_every_ms < CHECK_MAX_MS)
        return (uint64_t)g->backup_every_ms;
    return CHECK_MAX_MS;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t backup_slot_ms(const char *id, int64_t every_ms, int64_t now_ms)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: stable across runs and builds */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    if (every_ms <= 0)
        return now_ms;
    int64_t phase = (int64_t)(h % (uint64_t)every_ms);
    int64_t m = (now_ms - phase) % every_ms;
    if (m < 0)
        m += every_ms;
    return now_ms - m;
}

static struct job *job_new(struct backup_sched *bs, const char *id)
{
    const struct config *c = sup_config(bs->sup);
    char data[PATH_MAX];
    struct job *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return NULL;
    if (snprintf(j->id, sizeof(j->id), "%s", id) >= (int)sizeof(j->id) ||
        config_tenant_data_dir(&c->g, id, data, sizeof(data)) >= (int)sizeof(data) ||
        snprintf(j->db, sizeof(j->db), "%s/%s.db", data, id) >= (int)sizeof(j->db) ||
        snprintf(j->dir, sizeof(j->dir), "%s/backups", data) >= (int)sizeof(j->dir)) {
        free(j);
        return NULL;
    }
    j->keep = c->g.backup_keep;
    if (c->g.backup_every_ms > 0)
        j->slot_ms = backup_slot_ms(id, c->g.backup_every_ms, wall_ms());
    j->bs = bs;
    j->req.data = j;
    return j;
}

static int64_t newest_mtime(const char *db)
{
    char wal[PATH_MAX + 8];
    struct stat st;
    int64_t m = 0;

    if (stat(db, &st) == 0)
        m = st.st_mtime;
    snprintf(wal, sizeof(wal), "%s-wal", db);
    /* An empty -wal is what opening the database leaves (a backup does too). */
    if (stat(wal, &st) == 0 && st.st_size > 0 && st.st_mtime > m)
        m = st.st_mtime;
    return m;
}

/* Pool thread. */
static void work_cb(uv_work_t *req)
{
    struct job *j = req->data;
    struct stat st;

    if (!j->on_demand) {
        struct backup_info *v = NULL;
        size_t n = 0;
        time_t now = time(NULL);

        if (stat(j->db, &st) < 0) {
            j->skipped = true;
            j->skip_reason = "no database yet";
            return;
        }
        if (backup_list(j->dir, j->id, &v, &n, NULL, 0) == 0 && n > 0) {
            time_t newest = v[0].created;
            /* Done for this period when made at or after the tenant's slot
             * (a second of slack: names have one-second resolution). A backup
             * "from the future" (the clock went back) does not block new ones. */
            bool fresh = newest <= now + 60 && (int64_t)newest * 1000 + 1000 > j->slot_ms;
            bool unchanged = newest_mtime(j->db) < (int64_t)newest;
            free(v);
            if (fresh) {
                j->skipped = true;
                j->skip_reason = "not due";
                return;
            }
            if (unchanged) {
                j->skipped = true;
                j->skip_reason = "unchanged since the last backup";
                return;
            }
        } else {
            free(v);
        }
    }
    j->rc = backup_create(j->db, j->dir, j->id, j->path, sizeof(j->path), j->err, sizeof(j->err));
    if (j->rc < 0)
        return;
    if (stat(j->path, &st) == 0)
        j->size = st.st_size;
    j->prune_rc =
        backup_prune(j->dir, j->id, j->keep, &j->pruned, j->prune_err, sizeof(j->prune_err));
}

/* Free bs once nothing refers to it any more: the timer is closed and no
 * job is in the pool. */
static void finish_stop(struct backup_sched *bs)
{
    void (*done)(void *) = bs->stop_done;
    void *arg = bs->stop_arg;

    if (!bs->timer_closed || bs->running != NULL)
        return;
    free(bs);
    if (done != NULL)
        done(arg);
}

static void job_finish(struct job *j)
{
    struct backup_sched *bs = j->bs;

    if (!j->on_demand)
        bs->scheduled_pending--;
    if (j->done != NULL)
        j->done(j->rc, j->rc == 0 ? j->path : j->err, j->arg);
    free(j);
}

/* Loop thread. */
static void after_work(uv_work_t *req, int status)
{
    struct job *j = req->data;
    struct backup_sched *bs = j->bs;

    bs->running = NULL;
    if (status == UV_ECANCELED) {
        j->rc = -ECANCELED;
        snprintf(j->err, sizeof(j->err), "tenantd is stopping");
    } else if (j->skipped) {
        log_debug(j->id, "scheduled backup skipped: %s", j->skip_reason);
    } else if (j->rc == 0) {
        log_info(j->id, "backup written path=%s size=%lld pruned=%d%s", j->path, (long long)j->size,
                 j->pruned, j->on_demand ? " on_demand=1" : "");
        if (j->prune_rc < 0)
            log_error(j->id, "pruning backups to keep=%d failed: %s", j->keep, j->prune_err);
    } else if (j->rc == -ENOENT && !j->on_demand) {
        /* Removed between the tick and the work: nothing to back up. */
        log_debug(j->id, "scheduled backup skipped: %s", j->err);
    } else {
        log_error(j->id, "backup failed: %s", j->err);
    }
    job_finish(j);
    if (bs->stopping)
        finish_stop(bs);
    else
        pump(bs);
}

/* Start the next job when none runs. */
static void pump(struct backup_sched *bs)
{
    struct job *j;
    int r;

    while (bs->running == NULL && !bs->stopping && (j = bs->head) != NULL) {
        bs->head = j->next;
        if (bs->head == NULL)
            bs->tail = NULL;
        j->next = NULL;
        r = uv_queue_work(bs->loop, &j->req, work_cb, after_work);
        if (r == 0) {
            bs->running = j;
            return;
        }
        j->rc = r;
        snprintf(j->err, sizeof(j->err), "cannot queue the backup: %s", uv_strerror(r));
        log_error(j->id, "backup failed: %s", j->err);
        job_finish(j);
    }
}

static void enqueue(struct backup_sched *bs, struct job *j)
{
    if (j->on_demand) {
        /* After the other on-demand jobs, before every scheduled one. */
        struct job **pp = &bs->head;
        while (*pp != NULL && (*pp)->on_demand)
            pp = &(*pp)->next;
        j->next = *pp;
        *pp = j;
        if (j->next == NULL)
            bs->tail = j;
    } else {
        if (bs->tail != NULL)
            bs->tail->next = j;
        else
            bs->head = j;
        bs->tail = j;
        bs->scheduled_pending++;
    }
}

static void tick(uv_timer_t *t)
{
    struct backup_sched *bs = t->data;
    const struct config *c = sup_config(bs->sup);
    uint64_t period = check_period(&c->g);
    size_t n;

    if (period != bs->period_ms) {
        /* [backup] every changed on a reload. */
        bs->period_ms = period;
        uv_timer_set_repeat(&bs->timer, period);
        uv_timer_again(&bs->timer);
    }
    if (c->g.backup_every_ms <= 0 || bs->scheduled_pending > 0)
        return;
    /* Each tenant has its slot in the period (backup_slot_ms): only those
     * whose slot came since the last round are looked at, so ten thousand
     * tenants are backed up over the whole period, a few at a time. The
     * first round looks at every tenant, to catch up on slots missed while
     * tenantd was down. */
    int64_t now = wall_ms();
    n = sup_tenant_count(bs->sup);
    for (size_t i = 0; i < n; i++) {
        struct tenant_brief b;
        struct job *j;

        if (sup_tenant_brief(bs->sup, i, &b) < 0)
            continue;
        int64_t slot = backup_slot_ms(b.id, c->g.backup_every_ms, now);
        if (bs->last_round_ms != 0 && slot <= bs->last_round_ms)
            continue;
        if ((j = job_new(bs, b.id)) != NULL)
            enqueue(bs, j);
    }
    bs->last_round_ms = now;
    pump(bs);
}

int backup_sched_start(uv_loop_t *loop, struct sup *s, struct backup_sched **out)
{
    struct backup_sched *bs = calloc(1, sizeof(*bs));
    int r;

    *out = NULL;
    if (bs == NULL)
        return -ENOMEM;
    bs->loop = loop;
    bs->sup = s;
    r = uv_timer_init(loop, &bs->timer);
    if (r < 0) {
        free(bs);
        return r;
    }
    bs->timer.data = bs;
    bs->period_ms = check_period(&sup_config(s)->g);
    r = uv_timer_start(&bs->timer, tick, bs->period_ms, bs->period_ms);
    if (r < 0) {
        /* The handle is initialised: it must be closed, and freed after. */
        bs->stopping = true;
        backup_sched_stop(bs, NULL, NULL);
        return r;
    }
    /* The timer alone must not keep tenantd's loop alive at shutdown. */
    uv_unref((uv_handle_t *)&bs->timer);
    *out = bs;
    return 0;
}

int backup_sched_now(struct backup_sched *bs, const char *id, backup_sched_done_fn done, void *arg)
{
    struct tenant_view *v;
    struct job *j;
    int r;

    if (bs->stopping)
        return -ECANCELED;
    v = calloc(1, sizeof(*v));
    if (v == NULL)
        return -ENOMEM;
    r = sup_tenant_find(bs->sup, id, v);
    free(v);
    if (r < 0)
        return r;
    j = job_new(bs, id);
    if (j == NULL)
        return -ENOMEM;
    j->on_demand = true;
    j->done = done;
    j->arg = arg;
    enqueue(bs, j);
    pump(bs);
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    struct backup_sched *bs = h->data;

    bs->timer_closed = true;
    finish_stop(bs);
}

void backup_sched_stop(struct backup_sched *bs, void (*done)(void *arg), void *arg)
{
    struct job *j;

    if (bs == NULL) {
        if (done != NULL)
            done(arg);
        return;
    }
    bs->stopping = true;
    bs->stop_done = done;
    bs->stop_arg = arg;
    while ((j = bs->head) != NULL) {
        bs->head = j->next;
        j->rc = -ECANCELED;
        snprintf(j->err, sizeof(j->err), "tenantd is stopping");
        job_finish(j);
    }
    bs->tail = NULL;
    uv_timer_stop(&bs->timer);
    uv_close((uv_handle_t *)&bs->timer, timer_closed);
}
