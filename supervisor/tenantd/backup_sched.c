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
 *
 * Every job has a deadline (30 s plus 1 s per 4 MiB of SQLite file, or per
 * 2 MiB of pg_database_size for pg_dump, from the last [postgresql]
 * stats_every sample, 10 min when none; at most 30 min: job_deadline_ms; at
 * shutdown STOP_WAIT_MS). The
 * files are the tenant's, and although common/backup.c refuses FIFOs and
 * symlinks, a tenant can still swap one in between a check and SQLite's
 * open and stall a read forever. A job past its deadline is abandoned: its
 * caller gets -ETIMEDOUT, the next job starts, and the job, detached from
 * the scheduler, is freed if its thread ever returns. At most MAX_STUCK
 * jobs may be abandoned at once (each holds one of libuv's pool threads);
 * past that, new backups fail at once instead of queueing behind them.
 */
#include "backup_sched.h"
#include "offsite.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "backup.h"
#include "backup_pg.h"
#include "config.h"
#include "log.h"
#include "pg_stats.h"
#include "sup.h"
#include "util.h"

#define CHECK_MAX_MS (60 * 1000)
#define JOB_BASE_MS (30 * 1000)
#define JOB_BYTES_PER_S (4 * 1024 * 1024)
#define JOB_MAX_MS (30 * 60 * 1000)
/* pg_dump reads through the server and compresses: slower than a file copy.
 * Without a size (no stats sample yet, or stats_every = 0): 10 min. */
#define JOB_PG_BYTES_PER_S (2 * 1024 * 1024)
#define JOB_PG_UNKNOWN_MS (10 * 60 * 1000)
#define STOP_WAIT_MS 3000
#define MAX_STUCK 2

/* Jobs abandoned past their deadline whose thread has not returned yet. A
 * process-wide count: an abandoned job outlives its scheduler. */
static int stuck_jobs;

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
    bool abandoned; /* past its deadline: j->bs is NULL, after_work only frees it */
    uint64_t deadline_ms;
    /* A PostgreSQL tenant: pg_dump on this server (backup_pg.h). */
    bool pg;
    struct pg_server srv;
    char pwfile[PATH_MAX];
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
    uv_timer_t watchdog; /* the running job's deadline */
    uint64_t period_ms;
    int64_t last_round_ms; /* wall clock of the last scheduled round, 0 before */
    uint64_t timeout_ms;   /* 0: job_deadline_ms; tests set a short one */
    struct job *head, *tail;
    struct job *running;
    int scheduled_pending; /* scheduled jobs queued or running: one round at a time */
    bool stopping, timer_closed, watchdog_closed;
    void (*stop_done)(void *arg);
    void *stop_arg;
};

static void pump(struct backup_sched *bs);
static void on_deadline(uv_timer_t *t);
static void watchdog_closed(uv_handle_t *h);

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
    const struct config_tenant_entry *e = config_find_tenant(c, id);
    if (e != NULL && e->valid && e->t.database == DB_POSTGRESQL && c->g.pg_url[0]) {
        j->pg = true;
        j->srv = c->g.pg;
        util_strlcpy(j->pwfile, c->g.pg_password_file, sizeof(j->pwfile));
    }
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

        if (!j->pg && stat(j->db, &st) < 0) {
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
            bool unchanged = !j->pg && newest_mtime(j->db) < (int64_t)newest;
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
    if (j->pg)
        j->rc = backup_pg_create(&j->srv, j->pwfile, j->id, j->dir, j->path, sizeof(j->path),
                                 j->err, sizeof(j->err));
    else
        j->rc =
            backup_create(j->db, j->dir, j->id, j->path, sizeof(j->path), j->err, sizeof(j->err));
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

    if (bs->running == NULL && !bs->watchdog_closed &&
        !uv_is_closing((uv_handle_t *)&bs->watchdog)) {
        uv_close((uv_handle_t *)&bs->watchdog, watchdog_closed);
        return;
    }
    if (!bs->timer_closed || !bs->watchdog_closed || bs->running != NULL)
        return;
    free(bs);
    if (done != NULL)
        done(arg);
}

static void job_finish(struct job *j)
{
    struct backup_sched *bs = j->bs;

    if (!j->on_demand && bs != NULL)
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

    if (j->abandoned) {
        /* Its caller was answered when it timed out; bs may be gone. */
        stuck_jobs--;
        log_info(j->id, "a backup abandoned after its deadline has returned (rc=%d)", j->rc);
        free(j);
        return;
    }
    bs->running = NULL;
    uv_timer_stop(&bs->watchdog);
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
        offsite_copy(&sup_config(bs->sup)->g, j->id, j->path); /* [offsite], off when unset */
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

/* How long a backup of this database may take: a copy goes at tens of MiB/s
 * here, so a deadline of 30 s plus 1 s per 4 MiB only catches a stuck one,
 * and a stuck small tenant holds the queue for about half a minute. lstat
 * only: nothing is opened on the loop. */
static uint64_t job_deadline_ms(const struct backup_sched *bs, const struct job *j)
{
    struct stat st;
    uint64_t ms = JOB_BASE_MS;

    if (bs->timeout_ms > 0)
        return bs->timeout_ms;
    if (j->pg) {
        /* The database's size on the server, not the SQLite file a
         * migration may have left behind. */
        int64_t size = -1;
        int conns = -1;
        const char *state = "";
        pg_stats_get(j->id, &size, &conns, &state);
        if (size < 0)
            return JOB_PG_UNKNOWN_MS;
        ms += (uint64_t)size / JOB_PG_BYTES_PER_S * 1000;
    } else if (lstat(j->db, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        ms += (uint64_t)st.st_size / JOB_BYTES_PER_S * 1000;
    return ms < JOB_MAX_MS ? ms : JOB_MAX_MS;
}

/* The running job is past its deadline: answer its caller, detach it, and
 * let the next one start (or the stop finish). */
static void on_deadline(uv_timer_t *t)
{
    struct backup_sched *bs = t->data;
    struct job *j = bs->running;

    if (j == NULL)
        return;
    bs->running = NULL;
    j->abandoned = true;
    stuck_jobs++;
    j->rc = -ETIMEDOUT;
    snprintf(j->err, sizeof(j->err), "the backup did not finish within %.1f s%s",
             (double)(bs->stopping ? STOP_WAIT_MS : j->deadline_ms) / 1000.0,
             bs->stopping ? " of tenantd stopping" : "");
    log_error(j->id, "backup failed: %s; it is abandoned, later backups go on", j->err);
    /* job_finish without the free: the pool thread still owns j. */
    if (!j->on_demand)
        bs->scheduled_pending--;
    if (j->done != NULL)
        j->done(j->rc, j->err, j->arg);
    j->done = NULL;
    j->bs = NULL;
    if (bs->stopping)
        finish_stop(bs);
    else
        pump(bs);
}

int backup_sched_stuck_jobs(void)
{
    return stuck_jobs;
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
        if (stuck_jobs >= MAX_STUCK) {
            j->rc = -EBUSY;
            snprintf(j->err, sizeof(j->err),
                     "%d earlier backups are stuck past their deadline; no new one starts until "
                     "they return",
                     stuck_jobs);
            log_error(j->id, "backup failed: %s", j->err);
            job_finish(j);
            continue;
        }
        r = uv_queue_work(bs->loop, &j->req, work_cb, after_work);
        if (r == 0) {
            bs->running = j;
            j->deadline_ms = job_deadline_ms(bs, j);
            uv_timer_start(&bs->watchdog, on_deadline, j->deadline_ms, 0);
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
    r = uv_timer_init(loop, &bs->watchdog);
    if (r < 0) {
        free(bs);
        return r;
    }
    bs->watchdog.data = bs;
    r = uv_timer_init(loop, &bs->timer);
    if (r < 0) {
        bs->timer_closed = true;
        bs->stopping = true;
        uv_close((uv_handle_t *)&bs->watchdog, watchdog_closed);
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

static void watchdog_closed(uv_handle_t *h)
{
    struct backup_sched *bs = h->data;

    bs->watchdog_closed = true;
    finish_stop(bs);
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
    /* A running backup gets STOP_WAIT_MS more, so shutdown stays within the
     * grace period whatever a tenant put in its folder. The watchdog is
     * closed once no job runs any more. */
    if (bs->running != NULL) {
        uint64_t left = uv_timer_get_due_in(&bs->watchdog);
        if (left == 0 || left > STOP_WAIT_MS)
            uv_timer_start(&bs->watchdog, on_deadline, STOP_WAIT_MS, 0);
    }
}
