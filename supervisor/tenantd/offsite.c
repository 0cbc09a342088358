/*
 * offsite.c — restic copies and restore tests of the tenants' backups
 * (offsite.h). One queue of jobs, one restic child at a time (child.h):
 *
 *   copy:   [cat config -> init when missing] -> backup -> forget --prune
 *   verify: [cat config] -> restore latest into <run_dir>/offsite/verify-<id>
 *           -> backup_verify() of the restored file in the thread pool
 *           -> the folder removed
 *
 * restic gets -r <repository> --password-file <file> --no-cache, never a
 * shell. Snapshots are tagged tenant=<id> and grouped by host and tags, so
 * retention applies per tenant whatever the backup's file name.
 *
 * Each tenant's status (last copy and snapshot, last restore test and its
 * result, last error) is recorded in state.db (statedb_kv.h, kind "offsite")
 * when it changes and loaded at start, so it survives a restart or an upgrade.
 */
#include "offsite.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "backup_pg.h"
#include "child.h"
#include "config.h"
#include "idtab.h"
#include "log.h"
#include "statedb_kv.h"
#include "sup.h"
#include "util.h"

#define TENANTS_MAX (1u << 20)
#define QUEUE_MAX 256
#define RESTIC_TIMEOUT_MS (30 * 60 * 1000)
/* restic 0.14 has no --retry-lock: a step that finds the repository locked by
 * another restic (an operator's, another host's) is run again after a pause. */
#define LOCK_RETRY_MS 1000
#define LOCK_RETRIES 120

enum step { ST_CHECK, ST_INIT, ST_BACKUP, ST_FORGET, ST_RESTORE, ST_VERIFY };

struct job {
    struct job *next;
    bool verify;
    enum step step;
    char id[CONFIG_ID_MAX];
    char path[CONFIG_PATH_MAX];     /* copy: the backup's file */
    char manifest[CONFIG_PATH_MAX]; /* copy: its .json */
    char target[CONFIG_PATH_MAX];   /* verify: the temporary folder */
    struct config_global *g;        /* a copy taken when queued */
    uv_work_t work;
    int lock_tries;
    int rc;
    char err[512];
};

struct status {
    char id[CONFIG_ID_MAX];
    time_t copied, verified, failed_at;
    bool verified_ok;
    char snapshot[72];
    char error[256];
};

static struct {
    uv_loop_t *loop;
    struct sup *sup;
    uv_timer_t timer;
    uv_timer_t retry; /* the current job's pause before a locked step again */
    bool timer_on, started;
    struct job *head, *tail, *current;
    struct child *running;
    size_t queued;
    bool repo_ok; /* `restic cat config` answered for repo_seen */
    char repo_seen[CONFIG_TEXT_MAX];
    size_t next_verify; /* round-robin over the tenants */
    struct status *st;
    size_t nst;
} S;

/* Sorted by id (idtab.h): the alerts' round asks for every tenant's. S.st
 * and S.nst mirror the table for the loops that walk it. */
static struct status *status_of(const char *id, bool create)
{
    static struct idtab tab = {.size = sizeof(struct status), .idcap = CONFIG_ID_MAX};
    if (!create)
        return idtab_find(&tab, id);
    struct status *s = idtab_get(&tab, id, TENANTS_MAX, NULL);
    S.st = tab.rec;
    S.nst = tab.n;
    return s;
}

/* Record s in state.db: called on each change, never per tick. */
static void persist(const struct status *s)
{
    json_t *v =
        json_pack("{s:I, s:I, s:I, s:b, s:s, s:s}", "copied", (json_int_t)s->copied, "verified",
                  (json_int_t)s->verified, "failed_at", (json_int_t)s->failed_at, "verified_ok",
                  s->verified_ok, "snapshot", s->snapshot, "error", s->error);
    if (v != NULL)
        statedb_kv_put("offsite", s->id, "", v);
    json_decref(v);
}

static time_t time_of(const json_t *v, const char *key)
{
    json_int_t t = json_integer_value(json_object_get(v, key));
    return t > 0 ? (time_t)t : 0;
}

/* A record of a tenant still configured; the others are left out (and
 * dropped from state.db, their tenant is gone). */
static void load_one(void *arg, const char *id, const char *item, json_t *v)
{
    (void)arg;
    (void)item;
    if (config_find_tenant(sup_config(S.sup), id) == NULL) {
        statedb_kv_del("offsite", id, NULL);
        return;
    }
    struct status *s = status_of(id, true);
    if (s == NULL)
        return;
    const char *snap = json_string_value(json_object_get(v, "snapshot"));
    const char *err = json_string_value(json_object_get(v, "error"));
    s->copied = time_of(v, "copied");
    s->verified = time_of(v, "verified");
    s->failed_at = time_of(v, "failed_at");
    s->verified_ok = json_is_true(json_object_get(v, "verified_ok"));
    /* Only the hex id restic printed is ever stored. */
    snprintf(s->snapshot, sizeof s->snapshot, "%.*s",
             snap ? (int)strspn(snap, "0123456789abcdef") : 0, snap ? snap : "");
    snprintf(s->error, sizeof s->error, "%s", err ? err : "");
}

void offsite_check_config(const struct config_global *g, struct config_diag *d)
{
    if (g->offsite_repository[0] == '\0')
        return;
    if (g->offsite_password_file[0] == '\0') {
        config_diag_add(d, "[offsite] password_file: required when repository is set");
        return;
    }
    struct stat st;
    int fd = open(g->offsite_password_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) < 0)
        config_diag_add(d, "[offsite] password_file %s: %s", g->offsite_password_file,
                        strerror(errno));
    else if (!S_ISREG(st.st_mode))
        config_diag_add(d, "[offsite] password_file %s: not a regular file",
                        g->offsite_password_file);
    else if (st.st_mode & 077)
        config_diag_add(d,
                        "[offsite] password_file %s: mode %03o, must not be readable by group "
                        "or others (chmod 600)",
                        g->offsite_password_file, (unsigned)(st.st_mode & 0777));
    else if (st.st_size == 0)
        config_diag_add(d, "[offsite] password_file %s: empty", g->offsite_password_file);
    if (fd >= 0)
        close(fd);
}

static void job_free(struct job *j)
{
    free(j->g);
    free(j);
}

static void pump(void);

static void record_error(struct job *j, const char *err)
{
    /* A job cut short by tenantd's stop says nothing about the repository:
     * the status (kept in state.db) stays as the last real outcome left it. */
    if (S.loop == NULL || j->rc == -ECANCELED) {
        log_info(j->id, "off-site %s abandoned: %s", j->verify ? "restore test" : "copy", err);
        return;
    }
    struct status *s = status_of(j->id, true);
    if (s == NULL)
        return;
    snprintf(s->error, sizeof s->error, "%s", err);
    s->failed_at = time(NULL);
    if (j->verify) {
        s->verified = s->failed_at;
        s->verified_ok = false;
    }
    persist(s);
    log_error(j->id, "off-site %s failed: %s", j->verify ? "restore test" : "copy", err);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

static void remove_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static int run_step(struct job *j);

/* First restic error line (they start with "Fatal:" or name the file). */
static void child_error(struct job *j, const char *what, struct child_result *r)
{
    char *txt = r->err[0] ? r->err : r->out;
    char *nl = strchr(txt, '\n');
    if (nl)
        *nl = '\0';
    if (r->timed_out)
        snprintf(j->err, sizeof j->err, "restic %s timed out", what);
    else
        snprintf(j->err, sizeof j->err, "restic %s: %.400s", what,
                 txt[0] ? txt : "exited with an error");
}

static void finish(struct job *j)
{
    S.current = NULL;
    if (j->target[0])
        remove_tree(j->target);
    job_free(j);
    pump();
}

/* The pool thread: the restored file of the latest snapshot, checked. */
static char *found_db;
static int find_db(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)f;
    size_t n = strlen(p);
    if (flag == FTW_F && S_ISREG(sb->st_mode) && n > 3 &&
        (strcmp(p + n - 3, ".db") == 0 || (n > 7 && strcmp(p + n - 7, ".pgdump") == 0))) {
        free(found_db);
        found_db = strdup(p);
    }
    return 0;
}

static void verify_work(uv_work_t *w)
{
    struct job *j = w->data;
    found_db = NULL;
    nftw(j->target, find_db, 16, FTW_PHYS | FTW_MOUNT);
    if (found_db == NULL) {
        j->rc = -ENOENT;
        snprintf(j->err, sizeof j->err, "the restored snapshot holds no backup file");
        return;
    }
    size_t n = strlen(found_db);
    bool pg = n > 7 && strcmp(found_db + n - 7, ".pgdump") == 0;
    /* A PostgreSQL tenant's dump: manifest, size, SHA-256, pg_restore --list. */
    j->rc = pg ? backup_pg_verify(found_db, j->id, j->err, sizeof j->err)
               : backup_verify(found_db, j->id, j->err, sizeof j->err);
    free(found_db);
    found_db = NULL;
}

static void verify_done(uv_work_t *w, int status)
{
    struct job *j = w->data;
    if (status != 0 && j->rc == 0) {
        j->rc = -ECANCELED;
        snprintf(j->err, sizeof j->err, "tenantd is stopping");
    }
    struct status *s = status_of(j->id, true);
    if (j->rc < 0) {
        record_error(j, j->err);
    } else if (s != NULL) {
        s->verified = time(NULL);
        s->verified_ok = true;
        s->error[0] = '\0';
        persist(s);
        log_info(j->id, "off-site restore test passed");
    }
    finish(j);
}

static void on_retry(uv_timer_t *t)
{
    struct job *j = t->data;
    if (S.loop != NULL && run_step(j) == 0)
        return;
    if (S.loop == NULL)
        snprintf(j->err, sizeof j->err, "tenantd is stopping");
    record_error(j, j->err);
    finish(j);
}

static void on_child(void *arg, struct child_result *r)
{
    struct job *j = arg;
    S.running = NULL;
    bool ok = !r->timed_out && r->sig == 0 && r->status == 0;
    if (S.loop == NULL) {
        snprintf(j->err, sizeof j->err, "tenantd is stopping");
        goto fail;
    }
    if (!ok && strstr(r->err, "repository is already locked") != NULL &&
        j->lock_tries++ < LOCK_RETRIES) {
        S.retry.data = j;
        uv_timer_start(&S.retry, on_retry, LOCK_RETRY_MS, 0);
        return;
    }
    switch (j->step) {
    case ST_CHECK:
        if (ok) {
            S.repo_ok = true;
            j->step = j->verify ? ST_RESTORE : ST_BACKUP;
        } else if (!j->verify && strstr(r->err, "Is there a repository") != NULL) {
            j->step = ST_INIT;
        } else {
            child_error(j, "cat config", r);
            goto fail;
        }
        break;
    case ST_INIT:
        if (!ok) {
            child_error(j, "init", r);
            goto fail;
        }
        log_info(NULL, "off-site repository %s created (restic init)", j->g->offsite_repository);
        S.repo_ok = true;
        j->step = ST_BACKUP;
        break;
    case ST_BACKUP: {
        if (!ok) {
            child_error(j, "backup", r);
            goto fail;
        }
        struct status *s = status_of(j->id, true);
        const char *k = strstr(r->out, "\"snapshot_id\":\"");
        if (s != NULL) {
            s->copied = time(NULL);
            s->snapshot[0] = '\0';
            if (k != NULL) {
                k += strlen("\"snapshot_id\":\"");
                size_t n = strspn(k, "0123456789abcdef");
                snprintf(s->snapshot, sizeof s->snapshot, "%.*s", (int)(n < 64 ? n : 64), k);
            }
            s->error[0] = '\0';
            persist(s);
        }
        log_info(j->id, "off-site copy written snapshot=%s", s ? s->snapshot : "?");
        if (j->g->offsite_keep_last <= 0 && j->g->offsite_keep_daily <= 0) {
            finish(j);
            return;
        }
        j->step = ST_FORGET;
        break;
    }
    case ST_FORGET:
        if (!ok) {
            child_error(j, "forget --prune", r);
            goto fail;
        }
        finish(j);
        return;
    case ST_RESTORE:
        if (!ok) {
            child_error(j, "restore", r);
            goto fail;
        }
        j->step = ST_VERIFY;
        j->work.data = j;
        if (uv_queue_work(S.loop, &j->work, verify_work, verify_done) != 0) {
            snprintf(j->err, sizeof j->err, "could not queue the check");
            goto fail;
        }
        return;
    case ST_VERIFY:
        break;
    }
    if (run_step(j) == 0)
        return;
fail:
    record_error(j, j->err);
    finish(j);
}

static int run_step(struct job *j)
{
    const struct config_global *g = j->g;
    char tag[CONFIG_ID_MAX + 8], last[16], daily[16];
    snprintf(tag, sizeof tag, "tenant=%s", j->id);
    snprintf(last, sizeof last, "%d", g->offsite_keep_last);
    snprintf(daily, sizeof daily, "%d", g->offsite_keep_daily);
    char *argv[32];
    size_t k = 0;
    argv[k++] = "restic";
    argv[k++] = "-r";
    argv[k++] = (char *)g->offsite_repository;
    argv[k++] = "--password-file";
    argv[k++] = (char *)g->offsite_password_file;
    argv[k++] = "--no-cache";
    switch (j->step) {
    case ST_CHECK:
        argv[k++] = "cat";
        argv[k++] = "config";
        break;
    case ST_INIT:
        argv[k++] = "init";
        argv[k++] = "--quiet";
        break;
    case ST_BACKUP:
        argv[k++] = "backup";
        argv[k++] = "--json";
        argv[k++] = "--quiet";
        argv[k++] = "--host";
        argv[k++] = "tenantd";
        argv[k++] = "--tag";
        argv[k++] = tag;
        argv[k++] = "--";
        argv[k++] = j->path;
        argv[k++] = j->manifest;
        break;
    case ST_FORGET:
        argv[k++] = "forget";
        argv[k++] = "--quiet";
        argv[k++] = "--prune";
        argv[k++] = "--host";
        argv[k++] = "tenantd";
        argv[k++] = "--tag";
        argv[k++] = tag;
        argv[k++] = "--group-by";
        argv[k++] = "host,tags";
        if (g->offsite_keep_last > 0) {
            argv[k++] = "--keep-last";
            argv[k++] = last;
        }
        if (g->offsite_keep_daily > 0) {
            argv[k++] = "--keep-daily";
            argv[k++] = daily;
        }
        break;
    case ST_RESTORE:
        argv[k++] = "restore";
        argv[k++] = "latest";
        argv[k++] = "--host";
        argv[k++] = "tenantd";
        argv[k++] = "--tag";
        argv[k++] = tag;
        argv[k++] = "--target";
        argv[k++] = j->target;
        break;
    case ST_VERIFY:
        return -1;
    }
    argv[k] = NULL;
    struct child_opts o = {.argv = argv, .timeout_ms = RESTIC_TIMEOUT_MS, .log_label = "restic"};
    char err[256];
    if (child_start(S.loop, &o, on_child, j, &S.running, err, sizeof err) < 0) {
        snprintf(j->err, sizeof j->err, "restic: %s", err);
        return -1;
    }
    return 0;
}

static int prepare_target(struct job *j)
{
    char dir[CONFIG_PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/offsite", j->g->run_dir) >= (int)sizeof dir ||
        snprintf(j->target, sizeof j->target, "%s/verify-%s", dir, j->id) >=
            (int)sizeof j->target) {
        snprintf(j->err, sizeof j->err, "run_dir too long");
        return -1;
    }
    remove_tree(j->target);
    if (util_mkdir_p(dir, 0700) < 0 || mkdir(j->target, 0700) < 0) {
        snprintf(j->err, sizeof j->err, "%.200s: %s", j->target, strerror(errno));
        j->target[0] = '\0';
        return -1;
    }
    return 0;
}

static void pump(void)
{
    while (S.loop != NULL && S.current == NULL && S.head != NULL) {
        struct job *j = S.head;
        S.head = j->next;
        if (S.head == NULL)
            S.tail = NULL;
        S.queued--;
        S.current = j;
        if (strcmp(S.repo_seen, j->g->offsite_repository) != 0) {
            snprintf(S.repo_seen, sizeof S.repo_seen, "%s", j->g->offsite_repository);
            S.repo_ok = false;
        }
        j->step = S.repo_ok ? (j->verify ? ST_RESTORE : ST_BACKUP) : ST_CHECK;
        if ((!j->verify || prepare_target(j) == 0) && run_step(j) == 0)
            return;
        record_error(j, j->err);
        S.current = NULL;
        if (j->target[0])
            remove_tree(j->target);
        job_free(j);
    }
}

static void enqueue(const struct config_global *g, const char *id, struct job *j)
{
    snprintf(j->id, sizeof j->id, "%s", id);
    if (S.loop == NULL || S.queued >= QUEUE_MAX || (j->g = malloc(sizeof *g)) == NULL) {
        snprintf(j->err, sizeof j->err, "%s", S.loop ? "too many off-site jobs waiting" : "off");
        if (S.loop)
            record_error(j, j->err);
        job_free(j);
        return;
    }
    memcpy(j->g, g, sizeof *g);
    if (S.tail)
        S.tail->next = j;
    else
        S.head = j;
    S.tail = j;
    S.queued++;
    pump();
}

void offsite_copy(const struct config_global *g, const char *id, const char *path)
{
    if (g->offsite_repository[0] == '\0')
        return;
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return;
    snprintf(j->path, sizeof j->path, "%s", path);
    snprintf(j->manifest, sizeof j->manifest, "%s", path);
    char *dot = strrchr(j->manifest, '.');
    char *slash = strrchr(j->manifest, '/');
    if (dot == NULL || (slash != NULL && dot < slash) ||
        (size_t)(dot - j->manifest) + 6 > sizeof j->manifest) {
        free(j);
        return;
    }
    strcpy(dot, ".json");
    enqueue(g, id, j);
}

int offsite_verify_now(const char *id)
{
    if (S.sup == NULL)
        return -ENOENT;
    const struct config_global *g = &sup_config(S.sup)->g;
    if (g->offsite_repository[0] == '\0')
        return -ENOENT;
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return -ENOMEM;
    j->verify = true;
    enqueue(g, id, j);
    return 0;
}

/* A restore test of id waiting or running: the timer does not add another. */
static bool verify_pending(const char *id)
{
    if (S.current != NULL && S.current->verify && strcmp(S.current->id, id) == 0)
        return true;
    for (const struct job *j = S.head; j != NULL; j = j->next)
        if (j->verify && strcmp(j->id, id) == 0)
            return true;
    return false;
}

/* One tenant with a copy, in turn, per verify_every. */
static void on_timer(uv_timer_t *t)
{
    (void)t;
    const struct config_global *g = &sup_config(S.sup)->g;
    if (g->offsite_repository[0] == '\0' || g->offsite_verify_every_ms <= 0 || S.nst == 0)
        return;
    for (size_t n = 0; n < S.nst; n++) {
        struct status *s = &S.st[(S.next_verify + n) % S.nst];
        if (s->copied == 0)
            continue;
        S.next_verify = (S.next_verify + n + 1) % S.nst;
        if (!verify_pending(s->id))
            offsite_verify_now(s->id);
        return;
    }
}

static void arm(void)
{
    const struct config_global *g = &sup_config(S.sup)->g;
    uint64_t every = g->offsite_verify_every_ms > 0 ? (uint64_t)g->offsite_verify_every_ms : 60000;
    uv_timer_start(&S.timer, on_timer, every, every);
}

static void timer_closed(uv_handle_t *h);

int offsite_start(uv_loop_t *loop, struct sup *s)
{
    S.loop = loop;
    S.sup = s;
    int rc = uv_timer_init(loop, &S.timer);
    if (rc < 0)
        return rc;
    rc = uv_timer_init(loop, &S.retry);
    if (rc < 0) {
        uv_close((uv_handle_t *)&S.timer, timer_closed);
        return rc;
    }
    S.timer_on = true;
    if (S.nst == 0)
        statedb_kv_each("offsite", load_one, NULL);
    arm();
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    (void)h;
}

void offsite_stop(void)
{
    if (S.timer_on) {
        S.timer_on = false;
        uv_close((uv_handle_t *)&S.timer, timer_closed);
        if (uv_is_active((uv_handle_t *)&S.retry) && S.retry.data != NULL) {
            uv_timer_stop(&S.retry);
            S.loop = NULL;
            on_retry(&S.retry); /* reports "tenantd is stopping" and frees it */
        }
        uv_close((uv_handle_t *)&S.retry, timer_closed);
    }
    while (S.head != NULL) {
        struct job *j = S.head;
        S.head = j->next;
        job_free(j);
    }
    S.tail = NULL;
    S.queued = 0;
    if (S.running != NULL)
        child_kill(S.running);
    S.loop = NULL;
}

json_t *offsite_json(const char *id)
{
    if (S.sup == NULL || sup_config(S.sup)->g.offsite_repository[0] == '\0')
        return NULL;
    const struct status *s = status_of(id, false);
    json_t *o = json_object();
    char when[32];
    struct tm tm;
#define TIME(key, t)                                                                               \
    do {                                                                                           \
        if ((t) > 0) {                                                                             \
            time_t tt = (t);                                                                       \
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));                 \
            json_object_set_new(o, key, json_string(when));                                        \
        } else {                                                                                   \
            json_object_set_new(o, key, json_null());                                              \
        }                                                                                          \
    } while (0)
    TIME("last_copy", s ? s->copied : 0);
    json_object_set_new(o, "last_snapshot",
                        s && s->snapshot[0] ? json_string(s->snapshot) : json_null());
    TIME("last_verified", s ? s->verified : 0);
    json_object_set_new(o, "last_verified_ok",
                        s && s->verified ? json_boolean(s->verified_ok) : json_null());
    json_object_set_new(o, "last_error", s && s->error[0] ? json_string(s->error) : json_null());
#undef TIME
    return o;
}

void offsite_metrics(FILE *f)
{
    if (S.nst == 0)
        return;
    fprintf(f, "# HELP tenantd_tenant_offsite_last_copy_timestamp_seconds Time of the tenant's "
               "last off-site copy (restic).\n"
               "# TYPE tenantd_tenant_offsite_last_copy_timestamp_seconds gauge\n");
    for (size_t i = 0; i < S.nst; i++)
        if (S.st[i].copied > 0)
            fprintf(f, "tenantd_tenant_offsite_last_copy_timestamp_seconds{tenant=\"%s\"} %lld\n",
                    S.st[i].id, (long long)S.st[i].copied);
    fprintf(f, "# HELP tenantd_tenant_offsite_last_verified_timestamp_seconds Time of the "
               "tenant's last passed off-site restore test.\n"
               "# TYPE tenantd_tenant_offsite_last_verified_timestamp_seconds gauge\n");
    for (size_t i = 0; i < S.nst; i++)
        if (S.st[i].verified > 0 && S.st[i].verified_ok)
            fprintf(f,
                    "tenantd_tenant_offsite_last_verified_timestamp_seconds{tenant=\"%s\"} %lld\n",
                    S.st[i].id, (long long)S.st[i].verified);
}

bool offsite_failed(const char *id, char *detail, size_t n)
{
    const struct status *s = status_of(id, false);
    if (s == NULL || s->error[0] == '\0')
        return false;
    snprintf(detail, n, "%s", s->error);
    return true;
}
