/*
 * admin_onboard.c — onboarding (POST /v1/tenants) and offboarding (DELETE
 * /v1/tenants/<id>): the one command that turns a client into a running,
 * reachable tenant with a first admin account, and its reverse; and adding an
 * admin account to an existing tenant (POST /v1/tenants/<id>/admins), which
 * is step 5 below on its own.
 *
 * Onboarding, all or nothing:
 *   1. validate every field first (id, reserved, plan, name, subdomain and
 *      port free; a port is allocated from port_range when none is given);
 *   2. render the tenant file and parse it back with config_parse_tenant, the
 *      same validator tenantd uses, requiring the values to come back equal
 *      (inih silently cuts long lines and " ;" comments);
 *   3. write it with link(2) from a temporary name, which never replaces an
 *      existing file; create the data dir (0700) and the secret;
 *   4. sup_reload, then wait on the loop (a 50 ms timer: sup.h has no
 *      per-tenant event) until the tenant is running and ready;
 *   5. run `tenant-worker --create-admin admin` in its data dir with its
 *      environment (through tenant-jail under its uid when root) and read
 *      "password: <pw>" from its stdout;
 *   6. answer 201 {"id","url","port","admin":{"username","password"}}.
 * The HTTP response is deferred: the handler returns 0 and the answer is sent
 * from a timer or process callback. Any failure after step 3 rolls back:
 * remove the file, reload (the supervisor stops the worker), wait until the
 * worker is gone, remove the data dir and the log it wrote, then answer the
 * error with the reason.
 *
 * Adding an admin: the tenant must be known with a valid file, and its data
 * dir and secret must exist (the worker has been started at least once, so
 * the dir belongs to the tenant's uid when root); then step 5 with the given
 * username, answering 201 {"id","url","admin":{"username","password"}}, 409
 * when the user exists. Nothing to roll back: the worker either adds the
 * user in one transaction or does not.
 *
 * Offboarding: move the tenant file into <data_dir>/../archive/<id>-<UTC>/,
 * reload, wait until the worker is gone, then move the data dir and log there
 * too. Nothing is deleted unless purge is asked for.
 *
 * Every operation is one struct admin_onboard on a list in struct admin; its
 * libuv handles (a timer, maybe a process and two pipes) are counted, and it
 * is freed when the last one is closed. admin_stop answers pending ones with
 * 503 and rolls onboardings back without waiting for the worker (tenantd is
 * stopping every worker anyway).
 */
#include "admin_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spawn.h"
#include "status_json.h"
#include "sup.h"
#include "util.h"

#define POLL_MS 50
#define CREATE_ADMIN_TIMEOUT_MS 60000
#define ADMIN_USERNAME "admin"
/* tenant-worker's limit on usernames (worker/auth.h AUTH_USERNAME_MAX). */
#define USERNAME_MAX 63

enum op_kind { OP_ONBOARD, OP_OFFBOARD, OP_CREATE_ADMIN };
enum op_phase {
    PH_WAIT_READY,   /* onboarding: the worker is starting */
    PH_CREATE_ADMIN, /* onboarding, adding an admin: tenant-worker --create-admin runs */
    PH_WAIT_GONE,    /* rollback or offboarding: the worker is stopping */
    PH_DONE,         /* answered; closing handles */
};

struct admin_onboard {
    struct admin *a;
    struct admin_onboard *next;
    enum op_kind kind;
    enum op_phase phase;
    h2o_req_t *req; /* NULL once answered */
    struct admin_caller who;
    int handles; /* open libuv handles; freed at 0 in PH_DONE */

    char id[CONFIG_ID_MAX];
    char username[USERNAME_MAX + 1]; /* the account --create-admin makes */
    struct config_tenant t;          /* onboarding: the parsed-back tenant; else its file */
    char file[CONFIG_PATH_MAX + 64];
    char data_dir[CONFIG_PATH_MAX];
    char log_path[CONFIG_PATH_MAX];
    bool file_created, dir_created, log_existed;
    uint64_t deadline;

    uv_timer_t timer;
    uv_process_t proc;
    uv_pipe_t out_pipe, err_pipe;
    bool proc_running;
    bool out_eof, err_eof; /* the exit may be reported before the output is read */
    int64_t exit_status;
    int term_signal;
    char out[2048];
    size_t out_len;
    char errout[2048];
    size_t err_len;

    /* Failure to report once the rollback is complete. */
    int fail_status;
    char fail_error[128];
    char fail_detail[2048];

    /* Offboarding. */
    bool purge;
    char archive[CONFIG_PATH_MAX];
};

static const struct config *cfg(const struct admin *a)
{
    return sup_config(a->sup);
}

/* ---- small file helpers -------------------------------------------------------- */

/* Remove everything below the directory open as dfd, then close it. Each
 * entry is unlinked or opened relative to its parent with O_NOFOLLOW, never
 * through a path: the tenant owned this tree, may have planted links in it,
 * and may still be swapping a directory for a link while we walk (a worker
 * that did not stop in time), so a name must never be resolved twice. Mount
 * points are not crossed, and the depth is bounded so the fds are. */
static void remove_below(int dfd, dev_t dev, int depth)
{
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), n, 0) == 0 || errno == ENOENT)
            continue;
        if (errno != EISDIR) {
            log_warn(NULL, "admin: cannot remove %s: %s", n, strerror(errno));
            continue;
        }
        int sub = depth < 64 ? openat(dirfd(d), n,
                                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
                             : -1;
        struct stat st;
        if (sub >= 0 && fstat(sub, &st) == 0 && st.st_dev == dev)
            remove_below(sub, dev, depth + 1);
        else if (sub >= 0)
            close(sub);
        if (unlinkat(dirfd(d), n, AT_REMOVEDIR) != 0 && errno != ENOENT)
            log_warn(NULL, "admin: cannot remove the folder %s: %s", n, strerror(errno));
    }
    closedir(d);
}

/* rm -rf without following symlinks or crossing mounts (see remove_below).
 * The path itself is ours: its parents belong to root, not to the tenant. */
static void remove_tree(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        /* A link or a file where the folder was: remove the name only. */
        if ((errno == ENOTDIR || errno == ELOOP) && unlink(path) != 0 && errno != ENOENT)
            log_warn(NULL, "admin: cannot remove %s: %s", path, strerror(errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return;
    }
    remove_below(fd, st.st_dev, 0);
    if (rmdir(path) != 0 && errno != ENOENT)
        log_warn(NULL, "admin: cannot remove %s: %s", path, strerror(errno));
}

/* mkdir -p with a mode for the last component. */
static int mkdirs(const char *dir, mode_t mode)
{
    char tmp[CONFIG_PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* rename(2), or copy-and-unlink for a regular file on another filesystem. */
static int move_path(const char *from, const char *to)
{
    if (rename(from, to) == 0)
        return 0;
    if (errno != EXDEV)
        return -errno;
    struct stat st;
    if (lstat(from, &st) != 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EXDEV;
    int in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777);
    int rc = out < 0 ? -errno : 0;
    char buf[65536];
    ssize_t n;
    while (rc == 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            rc = -EIO;
    close(in);
    if (out >= 0 && (fsync(out) != 0 || close(out) != 0) && rc == 0)
        rc = -EIO;
    if (rc == 0)
        unlink(from);
    else
        unlink(to);
    return rc;
}

/* Append to a bounded message; what does not fit is cut. */
static void appendf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t cap, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}

/* ---- answering and ending an operation ---------------------------------------- */

static void op_maybe_free(struct admin_onboard *op)
{
    if (op->phase != PH_DONE || op->handles > 0)
        return;
    struct admin *a = op->a;
    for (struct admin_onboard **p = &a->onboards; *p; p = &(*p)->next) {
        if (*p == op) {
            *p = op->next;
            break;
        }
    }
    sodium_memzero(op->out, sizeof op->out);
    free(op);
    admin_maybe_finish(a);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct admin_onboard *op = h->data;
    op->handles--;
    op_maybe_free(op);
}

static void op_close_handle(struct admin_onboard *op, uv_handle_t *h)
{
    if (h->data == op && !uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

/* Answer (if not done yet) and release the operation's handles. */
static void op_finish(struct admin_onboard *op)
{
    op->phase = PH_DONE;
    uv_timer_stop(&op->timer);
    op_close_handle(op, (uv_handle_t *)&op->timer);
    if (!op->proc_running) {
        op_close_handle(op, (uv_handle_t *)&op->proc);
        op_close_handle(op, (uv_handle_t *)&op->out_pipe);
        op_close_handle(op, (uv_handle_t *)&op->err_pipe);
    }
    op_maybe_free(op);
}

static const char *op_action(const struct admin_onboard *op)
{
    return op->kind == OP_ONBOARD    ? "onboard"
           : op->kind == OP_OFFBOARD ? "offboard"
                                     : "create-admin";
}

static void op_answer_error(struct admin_onboard *op)
{
    struct admin *a = op->a;
    char res[2300];
    snprintf(res, sizeof res, "error: %s: %s", op->fail_error, op->fail_detail);
    admin_audit(a, &op->who, op_action(op), op->id, res);
    if (op->kind == OP_ONBOARD)
        a->counters.onboardings_failed++;
    if (op->req) {
        admin_send_error(op->req, op->fail_status, op->fail_error, op->fail_detail);
        op->req = NULL;
    }
}

/* ---- waiting on the supervisor --------------------------------------------------- */

static void op_tick(uv_timer_t *t);

static void op_schedule(struct admin_onboard *op)
{
    uv_timer_start(&op->timer, op_tick, POLL_MS, 0);
}

/* Gone: unknown to the supervisor, or known but with no process left. */
static bool worker_gone(struct admin_onboard *op)
{
    struct tenant_view v;
    if (sup_tenant_find(op->a->sup, op->id, &v) != 0)
        return true;
    return v.pid == 0 && (v.state == TS_STOPPED || v.state == TS_FAILED ||
                          v.state == TS_SUSPENDED || v.state == TS_BACKOFF);
}

static void begin_wait_gone(struct admin_onboard *op)
{
    const struct config_global *g = &cfg(op->a)->g;
    op->phase = PH_WAIT_GONE;
    op->deadline = uv_now(op->a->loop) + (uint64_t)g->stop_grace_ms + 5000;
    op_schedule(op);
}

/* Onboarding failed after files were created: undo in order. */
static void rollback_begin(struct admin_onboard *op, int status, const char *error, const char *fmt,
                           ...) __attribute__((format(printf, 4, 5)));
static void rollback_begin(struct admin_onboard *op, int status, const char *error, const char *fmt,
                           ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->fail_detail, sizeof op->fail_detail, fmt, ap);
    va_end(ap);
    op->fail_status = status;
    snprintf(op->fail_error, sizeof op->fail_error, "%s", error);
    log_warn(op->id, "admin: onboarding failed, rolling back: %s", op->fail_detail);
    if (op->file_created) {
        unlink(op->file);
        op->file_created = false;
        char err[512] = "";
        sup_reload(op->a->sup, err, sizeof err);
    }
    begin_wait_gone(op);
}

/* A failure of --create-admin: an onboarding rolls back; adding an admin to
 * an existing tenant has nothing to undo and answers at once. */
static void op_fail(struct admin_onboard *op, int status, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void op_fail(struct admin_onboard *op, int status, const char *error, const char *fmt, ...)
{
    char detail[sizeof op->fail_detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (op->kind == OP_ONBOARD) {
        rollback_begin(op, status, error, "%s", detail);
        return;
    }
    op->fail_status = status;
    snprintf(op->fail_error, sizeof op->fail_error, "%s", error);
    snprintf(op->fail_detail, sizeof op->fail_detail, "%s", detail);
    log_warn(op->id, "admin: %s failed: %s", op_action(op), detail);
    op_answer_error(op);
    op_finish(op);
}

static void rollback_files(struct admin_onboard *op)
{
    if (op->dir_created) {
        remove_tree(op->data_dir);
        op->dir_created = false;
    }
    if (!op->log_existed && op->log_path[0]) {
        /* The log and its rotations were all written by this attempt. */
        unlink(op->log_path);
        for (int i = 1; i <= 9; i++) {
            char p[CONFIG_PATH_MAX + 8];
            snprintf(p, sizeof p, "%s.%d", op->log_path, i);
            unlink(p);
        }
    }
    if (op->a->state)
        admin_state_set_desired(op->a->state, op->id, NULL, op->who.who);
}

static void create_admin_start(struct admin_onboard *op);
static void offboard_after_gone(struct admin_onboard *op);

static void op_tick(uv_timer_t *t)
{
    struct admin_onboard *op = t->data;
    struct admin *a = op->a;
    uint64_t now = uv_now(a->loop);
    if (op->phase == PH_WAIT_READY) {
        struct tenant_view v;
        if (sup_tenant_find(a->sup, op->id, &v) != 0) {
            if (now > op->deadline)
                rollback_begin(op, 500, "onboarding failed",
                               "tenantd did not pick up the new tenant file");
            else
                op_schedule(op);
            return;
        }
        if (v.config_error[0]) {
            rollback_begin(op, 409, "invalid tenant", "%s", v.config_error);
            return;
        }
        if (v.state == TS_RUNNING) {
            create_admin_start(op);
            return;
        }
        if (v.state == TS_FAILED || v.state == TS_BACKOFF) {
            rollback_begin(op, 500, "worker failed to start", "%s%s%s",
                           v.last_exit[0]         ? v.last_exit
                           : v.state == TS_FAILED ? "failed"
                                                  : "crashed",
                           v.state_reason[0] ? ": " : "", v.state_reason);
            return;
        }
        if (now > op->deadline) {
            rollback_begin(op, 504, "worker not ready", "the worker was not ready in time");
            return;
        }
        op_schedule(op);
        return;
    }
    if (op->phase == PH_WAIT_GONE) {
        bool gone = worker_gone(op);
        if (!gone && now <= op->deadline) {
            op_schedule(op);
            return;
        }
        if (!gone)
            log_warn(op->id, "admin: the worker did not stop in time; going on");
        if (op->kind == OP_ONBOARD) {
            rollback_files(op);
            op_answer_error(op);
            op_finish(op);
        } else {
            offboard_after_gone(op);
        }
    }
}

/* ---- tenant-worker --create-admin ------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct admin_onboard *op = h->data;
    (void)suggested;
    bool is_out = h == (uv_handle_t *)&op->out_pipe;
    char *base = is_out ? op->out : op->errout;
    size_t len = is_out ? op->out_len : op->err_len;
    size_t cap = (is_out ? sizeof op->out : sizeof op->errout) - 1;
    /* Past the cap we read into a scratch buffer and drop it. */
    static char sink[512];
    if (len >= cap) {
        *buf = uv_buf_init(sink, sizeof sink);
        return;
    }
    *buf = uv_buf_init(base + len, (unsigned)(cap - len));
}

static void create_admin_maybe_done(struct admin_onboard *op);

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct admin_onboard *op = s->data;
    bool is_out = s == (uv_stream_t *)&op->out_pipe;
    if (n < 0) {
        uv_read_stop(s);
        if (is_out)
            op->out_eof = true;
        else
            op->err_eof = true;
        create_admin_maybe_done(op);
        return;
    }
    char *base = is_out ? op->out : op->errout;
    size_t *len = is_out ? &op->out_len : &op->err_len;
    if (buf->base == base + *len)
        *len += (size_t)n;
    base[*len] = '\0';
}

/* The firm's address, as onboarding and adding an admin print it. */
static void op_url(const struct admin_onboard *op, char *buf, size_t n)
{
    status_json_tenant_url(&cfg(op->a)->g, op->t.subdomain, buf, n);
}

static void create_admin_done(struct admin_onboard *op, int64_t status, int sig)
{
    struct admin *a = op->a;
    const char *pw = NULL;
    size_t pwlen = 0;
    for (char *line = op->out; line && *line;) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, "password: ", 10) == 0) {
            pw = line + 10;
            pwlen = nl ? (size_t)(nl - pw) : strlen(pw);
            while (pwlen > 0 && (pw[pwlen - 1] == '\r' || pw[pwlen - 1] == ' '))
                pwlen--;
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    if (op->phase == PH_DONE)
        return;
    if (status != 0 || sig != 0 || pw == NULL || pwlen == 0) {
        char why[64];
        if (sig)
            snprintf(why, sizeof why, "killed by signal %d", sig);
        else if (status)
            snprintf(why, sizeof why, "exit %lld", (long long)status);
        else
            snprintf(why, sizeof why, "no \"password:\" line on its output");
        for (size_t i = 0; i < op->err_len; i++)
            if (op->errout[i] == '\n' || (unsigned char)op->errout[i] < 0x20)
                op->errout[i] = ' ';
        /* tenant-worker exits 1 for every failure; its message tells an
         * existing user apart (worker/auth.c auth_create_admin). */
        if (status == 1 && sig == 0 && strstr(op->errout, "exists already") != NULL)
            op_fail(op, 409, "user exists", "the firm %s already has a user \"%s\"", op->id,
                    op->username);
        else
            op_fail(op, 500, "cannot create the admin", "tenant-worker --create-admin: %s%s%s", why,
                    op->err_len ? ": " : "", op->errout);
        return;
    }
    json_t *o = json_object();
    json_t *adm = json_object();
    if (o == NULL || adm == NULL) {
        json_decref(o);
        json_decref(adm);
        op_fail(op, 500, "internal", "out of memory");
        return;
    }
    char url[CONFIG_HOST_MAX * 2 + 64];
    op_url(op, url, sizeof url);
    json_object_set_new(o, "id", json_string(op->id));
    json_object_set_new(o, "url", status_json_string(url));
    if (op->kind == OP_ONBOARD)
        json_object_set_new(o, "port", json_integer(op->t.port));
    json_object_set_new(adm, "username", status_json_string(op->username));
    json_object_set_new(adm, "password", json_stringn(pw, pwlen));
    json_object_set_new(o, "admin", adm);
    if (op->kind == OP_ONBOARD) {
        struct tenant_view v;
        if (sup_tenant_find(a->sup, op->id, &v) == 0)
            json_object_set_new(o, "tenant", status_json_tenant(&v));
        admin_audit(a, &op->who, "onboard", op->id, "ok");
        a->counters.onboardings_ok++;
        log_notice(op->id, "admin: onboarded on port %d", op->t.port);
    } else {
        char res[32 + USERNAME_MAX];
        snprintf(res, sizeof res, "ok: user %s", op->username);
        admin_audit(a, &op->who, "create-admin", op->id, res);
    }
    if (op->req) {
        admin_send_json(op->req, 201, o);
        op->req = NULL;
    } else {
        json_decref(o);
    }
    op_finish(op);
}

/* The answer needs both the exit status and the whole output. */
static void create_admin_maybe_done(struct admin_onboard *op)
{
    if (op->proc_running || !op->out_eof || !op->err_eof)
        return;
    uv_timer_stop(&op->timer);
    if (op->phase == PH_CREATE_ADMIN)
        create_admin_done(op, op->exit_status, op->term_signal);
    if (op->phase == PH_DONE) {
        op_close_handle(op, (uv_handle_t *)&op->proc);
        op_close_handle(op, (uv_handle_t *)&op->out_pipe);
        op_close_handle(op, (uv_handle_t *)&op->err_pipe);
        op_maybe_free(op);
    }
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    struct admin_onboard *op = p->data;
    op->proc_running = false;
    op->exit_status = status;
    op->term_signal = sig;
    if (op->phase == PH_DONE) {
        /* Aborted: nobody waits for the output any more. */
        op->out_eof = op->err_eof = true;
    }
    create_admin_maybe_done(op);
}

/* Past the time limit: kill it, or, if it is gone but something still holds
 * its output open, stop waiting for that output. */
static void on_create_admin_timeout(uv_timer_t *t)
{
    struct admin_onboard *op = t->data;
    if (op->proc_running) {
        uv_process_kill(&op->proc, SIGKILL);
        uv_timer_start(&op->timer, on_create_admin_timeout, 2000, 0);
        return;
    }
    op->out_eof = op->err_eof = true;
    create_admin_maybe_done(op);
}

/* Read the tenant's existing secret for --create-admin. The data dir is the
 * tenant's by now (the supervisor chowned it when it started the worker), so
 * whatever is at "secret" was possibly put there by the tenant: open it
 * without following a link and without blocking (a FIFO would stall the
 * whole event loop), accept only a regular file, and never create one here
 * (spawn_secret would, as root, under a running worker). */
static int read_secret(const char *data_dir, char *out, size_t n)
{
    char path[CONFIG_PATH_MAX + 16];
    if (snprintf(path, sizeof path, "%s/secret", data_dir) >= (int)sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ELOOP ? -EINVAL : -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0)
        rc = -errno;
    else if (!S_ISREG(st.st_mode))
        rc = -EINVAL;
    ssize_t got = rc == 0 ? read(fd, out, n - 1) : 0;
    if (got < 0)
        rc = -errno;
    close(fd);
    if (rc != 0)
        return rc;
    size_t len = (size_t)got;
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
        len--;
    out[len] = '\0';
    /* spawn_secret replaces a secret this short; the worker never ran on it. */
    return len >= 16 ? 0 : -EINVAL;
}

/* Programs installed beside tenantd unless the config names them. */
static void program_path(const char *configured, const char *name, char *buf, size_t n)
{
    if (configured[0]) {
        snprintf(buf, n, "%s", configured);
        return;
    }
    char dir[CONFIG_PATH_MAX];
    if (util_self_dir(dir, sizeof dir) != 0)
        snprintf(dir, sizeof dir, ".");
    if (snprintf(buf, n, "%s/%s", dir, name) >= (int)n)
        buf[0] = '\0';
}

static void create_admin_start(struct admin_onboard *op)
{
    struct admin *a = op->a;
    const struct config *c = cfg(a);
    op->phase = PH_CREATE_ADMIN;
    if (op->t.command[0]) {
        /* Another application: it has no --create-admin; the operator
         * creates accounts the application's own way. */
        op_fail(op, 422, "cannot create the admin",
                "[worker] command names another program, which has no --create-admin");
        return;
    }
    char secret[256];
    int rc = read_secret(op->data_dir, secret, sizeof secret);
    if (rc != 0) {
        sodium_memzero(secret, sizeof secret);
        op_fail(op, rc == -EINVAL ? 409 : 500, "cannot create the admin", "%s/secret: %s",
                op->data_dir,
                rc == -EINVAL ? "not a regular file holding a secret" : strerror(-rc));
        return;
    }
    char **env = config_worker_env(&c->g, &c->plans, &op->t, secret);
    sodium_memzero(secret, sizeof secret);
    if (env == NULL) {
        op_fail(op, 500, "internal", "out of memory");
        return;
    }
    char worker[CONFIG_PATH_MAX], jail[CONFIG_PATH_MAX];
    program_path(c->g.worker_path, "tenant-worker", worker, sizeof worker);
    program_path(c->g.jail_path, "tenant-jail", jail, sizeof jail);
    char s_uid[16], s_gid[16];
    struct spawn_fs_paths paths;
    const char *args[24 + SPAWN_FS_ARGS];
    size_t k = 0;
    if (geteuid() == 0) {
        /* Root: the worker runs under the tenant's uid, through the jail, like
         * the tenant's own worker. The supervisor chowned the data dir to
         * that uid when it started the worker, so its owner is the uid. */
        struct stat st;
        if (stat(op->data_dir, &st) != 0 || st.st_uid == 0) {
            free(env);
            op_fail(op, 500, "cannot create the admin",
                    "cannot tell the tenant's uid from its data dir");
            return;
        }
        snprintf(s_uid, sizeof s_uid, "%u", (unsigned)st.st_uid);
        snprintf(s_gid, sizeof s_gid, "%u", (unsigned)st.st_gid);
        args[k++] = jail;
        args[k++] = "--id";
        args[k++] = op->id;
        args[k++] = "--data";
        args[k++] = op->data_dir;
        args[k++] = "--uid";
        args[k++] = s_uid;
        args[k++] = "--gid";
        args[k++] = s_gid;
        args[k++] = "--no-core";
        /* Its own view of the files, as its worker has: the data dir the
         * only writable folder, the program and templates reachable from
         * wherever they are installed. */
        args[k++] = "--ns";
        args[k++] = "mount";
        spawn_fs_args(&c->g, worker, &paths, args, &k);
        args[k++] = "--";
    }
    args[k++] = worker;
    args[k++] = "--create-admin";
    args[k++] = op->username;
    args[k] = NULL;

    uv_pipe_init(a->loop, &op->out_pipe, 0);
    op->out_pipe.data = op;
    op->handles++;
    uv_pipe_init(a->loop, &op->err_pipe, 0);
    op->err_pipe.data = op;
    op->handles++;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&op->out_pipe},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&op->err_pipe},
    };
    uv_process_options_t po = {
        .exit_cb = on_exit_cb,
        .file = args[0],
        .args = (char **)args,
        .env = env,
        .cwd = op->data_dir,
        .stdio_count = 3,
        .stdio = stdio,
    };
    op->proc.data = op;
    rc = uv_spawn(a->loop, &op->proc, &po);
    free(env);
    /* uv_spawn initialises the handle even when it fails; it must be closed. */
    op->handles++;
    if (rc != 0) {
        op_fail(op, 500, "cannot create the admin", "%s: %s", args[0], uv_strerror(rc));
        return;
    }
    op->proc_running = true;
    uv_read_start((uv_stream_t *)&op->out_pipe, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&op->err_pipe, on_alloc, on_read);
    uv_timer_start(&op->timer, on_create_admin_timeout, CREATE_ADMIN_TIMEOUT_MS, 0);
}

/* ---- validation ----------------------------------------------------------------- */

struct onboard_req {
    const char *id, *name, *plan, *subdomain, *email;
    int port;
};

/* Is 127.0.0.1:port free to bind right now? tenantd will bind it for the
 * worker, so a port held by another program is no good. */
static bool port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
    close(fd);
    return ok;
}

static bool port_used_by_tenant(const struct admin *a, int port)
{
    size_t n = sup_tenant_count(a->sup);
    struct tenant_view v;
    for (size_t i = 0; i < n; i++)
        if (sup_tenant_view(a->sup, i, &v) == 0 && v.port == port)
            return true;
    const struct config *c = cfg(a);
    for (size_t i = 0; i < c->n_tenants; i++)
        if (c->tenants[i].valid && c->tenants[i].t.port == port)
            return true;
    for (const struct admin_onboard *op = a->onboards; op; op = op->next)
        if (op->kind == OP_ONBOARD && op->t.port == port)
            return true;
    return false;
}

static bool subdomain_used(const struct admin *a, const char *sub)
{
    size_t n = sup_tenant_count(a->sup);
    struct tenant_view v;
    for (size_t i = 0; i < n; i++)
        if (sup_tenant_view(a->sup, i, &v) == 0 && strcmp(v.subdomain, sub) == 0)
            return true;
    for (const struct admin_onboard *op = a->onboards; op; op = op->next)
        if (op->kind == OP_ONBOARD && strcmp(op->t.subdomain, sub) == 0)
            return true;
    return false;
}

static bool op_busy(const struct admin *a, const char *id)
{
    for (const struct admin_onboard *op = a->onboards; op; op = op->next)
        if (strcmp(op->id, id) == 0 && op->phase != PH_DONE)
            return true;
    return false;
}

/* Text that goes into the ini file: no control characters (a newline would
 * start a new key), bounded. The round trip catches the rest. */
static bool text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n >= max)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static const char *json_str(json_t *o, const char *k, bool *bad)
{
    json_t *v = json_object_get(o, k);
    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

/* Render the tenant file. Only validated values reach it. */
static int render_tenant(char *buf, size_t n, const struct onboard_req *r, int port,
                         const char *who)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int k = snprintf(buf, n,
                     "; tenants.d/%s.ini: onboarded %s by %s through the admin API.\n"
                     "[tenant]\nname = %s\nplan = %s\nsubdomain = %s\nstatus = active\n\n",
                     r->id, date, who, r->name, r->plan, r->subdomain ? r->subdomain : r->id);
    if (r->email && k > 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, "[firm]\nemail = %s\n\n", r->email);
    if (k > 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, "[worker]\nport = %d\n", port);
    return (k < 0 || (size_t)k >= n) ? -ENOSPC : k;
}

/* Write `text` as `path`, never replacing an existing file. */
static int write_new_file(const char *path, const char *text, size_t len)
{
    char tmp[CONFIG_PATH_MAX + 64];
    char *dup = strdup(path);
    if (dup == NULL)
        return -ENOMEM;
    /* A dot name ending in .tmp: the supervisor's inotify ignores it. */
    snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", dirname(dup), basename((char *)path),
             (long)getpid());
    free(dup);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0)
        rc = errno ? -errno : -EIO;
    close(fd);
    if (rc == 0 && link(tmp, path) != 0)
        rc = -errno;
    unlink(tmp);
    return rc;
}

static struct admin_onboard *op_new(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                                    enum op_kind kind, const char *id)
{
    struct admin_onboard *op = calloc(1, sizeof *op);
    if (op == NULL)
        return NULL;
    op->a = a;
    op->kind = kind;
    op->req = req;
    op->who = *who;
    snprintf(op->id, sizeof op->id, "%s", id);
    uv_timer_init(a->loop, &op->timer);
    op->timer.data = op;
    op->handles = 1;
    op->next = a->onboards;
    a->onboards = op;
    return op;
}

static void fail_now(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                     const char *id, int status, const char *error, const char *detail)
{
    char res[1200];
    snprintf(res, sizeof res, "error: %s: %s", error, detail);
    admin_audit(a, who, "onboard", id ? id : "", res);
    a->counters.onboardings_failed++;
    admin_send_error(req, status, error, detail);
}

void admin_onboard_post(struct admin *a, const struct admin_caller *who, h2o_req_t *req)
{
    const struct config *c = cfg(a);
    json_error_t je;
    json_t *body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &je);
    char detail[2048];
    if (body == NULL || !json_is_object(body)) {
        snprintf(detail, sizeof detail, "the body must be a JSON object: %s",
                 body ? "not an object" : je.text);
        json_decref(body);
        fail_now(a, who, req, NULL, 400, "invalid request", detail);
        return;
    }
    bool bad = false;
    struct onboard_req r = {
        .id = json_str(body, "id", &bad),
        .name = json_str(body, "name", &bad),
        .plan = json_str(body, "plan", &bad),
        .subdomain = json_str(body, "subdomain", &bad),
        .email = json_str(body, "email", &bad),
    };
    json_t *jp = json_object_get(body, "port");
    if (jp && !json_is_null(jp)) {
        if (!json_is_integer(jp) || json_integer_value(jp) < 1 || json_integer_value(jp) > 65535)
            bad = true;
        else
            r.port = (int)json_integer_value(jp);
    }
    const char *id = r.id && config_valid_id(r.id) ? r.id : NULL;
    int status = 400;
    const char *error = "invalid request";
    detail[0] = '\0';
    if (bad)
        snprintf(detail, sizeof detail,
                 "id, name, plan, subdomain and email are strings; "
                 "port is an integer");
    else if (r.id == NULL || r.name == NULL || r.plan == NULL)
        snprintf(detail, sizeof detail, "id, name and plan are required");
    else if (!config_valid_id(r.id))
        error = "invalid tenant id",
        snprintf(detail, sizeof detail,
                 "an id matches ^[a-z][a-z0-9-]{0,30}$ and is not reserved (admin, www, ...)");
    else if (!text_ok(r.name, CONFIG_TEXT_MAX))
        error = "invalid name",
        snprintf(detail, sizeof detail, "the name is 1 to %d bytes without control characters",
                 CONFIG_TEXT_MAX - 1);
    else if (config_plan_find(&c->plans, r.plan) == NULL) {
        error = "no such plan";
        int k = snprintf(detail, sizeof detail, "\"%.64s\" is not in plans.ini; plans:", r.plan);
        for (size_t i = 0; i < c->plans.n && k > 0 && (size_t)k < sizeof detail; i++)
            k += snprintf(detail + k, sizeof detail - (size_t)k, " %s", c->plans.plan[i].name);
    } else if (r.subdomain && !config_valid_subdomain(r.subdomain))
        error = "invalid subdomain",
        snprintf(detail, sizeof detail, "a subdomain is one DNS label: [a-z0-9-], 1 to 63");
    else if (r.email && !text_ok(r.email, CONFIG_TEXT_MAX))
        error = "invalid email", snprintf(detail, sizeof detail, "bad email address");
    if (detail[0]) {
        fail_now(a, who, req, id, status, error, detail);
        json_decref(body);
        return;
    }

    /* Conflicts with what exists. */
    char file[CONFIG_PATH_MAX + CONFIG_ID_MAX + 8], dir[CONFIG_PATH_MAX];
    snprintf(file, sizeof file, "%s/%s.ini", c->g.tenants_dir, r.id);
    config_tenant_data_dir(&c->g, r.id, dir, sizeof dir);
    struct tenant_view v;
    struct stat st;
    const char *sub = r.subdomain ? r.subdomain : r.id;
    status = 409;
    if (sup_tenant_find(a->sup, r.id, &v) == 0 || lstat(file, &st) == 0 || op_busy(a, r.id))
        error = "tenant exists", snprintf(detail, sizeof detail, "%s already exists", r.id);
    else if (lstat(dir, &st) == 0)
        error = "data dir exists",
        snprintf(detail, sizeof detail,
                 "%.1024s exists (left by an earlier tenant?); archive or remove it first", dir);
    else if (subdomain_used(a, sub))
        error = "subdomain taken",
        snprintf(detail, sizeof detail, "another tenant uses the subdomain %s", sub);
    else if (r.port && (r.port < c->g.port_min || r.port > c->g.port_max))
        error = "invalid port", status = 400,
        snprintf(detail, sizeof detail, "port %d is outside port_range %d-%d", r.port,
                 c->g.port_min, c->g.port_max);
    else if (r.port && (port_used_by_tenant(a, r.port) || !port_bindable(r.port)))
        error = "port taken", snprintf(detail, sizeof detail, "port %d is in use", r.port);
    if (detail[0]) {
        fail_now(a, who, req, r.id, status, error, detail);
        json_decref(body);
        return;
    }
    int port = r.port;
    for (int p = c->g.port_min; port == 0 && p <= c->g.port_max; p++)
        if (!port_used_by_tenant(a, p) && port_bindable(p))
            port = p;
    if (port == 0) {
        fail_now(a, who, req, r.id, 503, "no free port", "every port of port_range is taken");
        json_decref(body);
        return;
    }

    /* Render, then parse back with tenantd's own validator. */
    char text[2048];
    struct config_tenant *t = calloc(1, sizeof *t);
    struct config_diag d = {0};
    if (t == NULL || render_tenant(text, sizeof text, &r, port, who->who) < 0) {
        free(t);
        fail_now(a, who, req, r.id, 400, "invalid request", "the values are too long");
        json_decref(body);
        return;
    }
    char display[CONFIG_ID_MAX + 16];
    snprintf(display, sizeof display, "tenants.d/%s.ini", r.id);
    int rc = config_parse_tenant(&c->g, &c->plans, r.id, display, text, strlen(text), t, &d);
    if (rc == 0 && (strcmp(t->name, r.name) != 0 || (r.email && strcmp(t->email, r.email) != 0) ||
                    t->port != port || strcmp(t->subdomain, sub) != 0)) {
        config_diag_add(&d,
                        "%s: a value would not read back as written (inih cuts lines at "
                        "200 bytes and treats \" ;\" as a comment)",
                        display);
        rc = -EINVAL;
    }
    if (rc != 0) {
        char *msg = config_diag_join(&d);
        fail_now(a, who, req, r.id, 400, "invalid tenant", msg ? msg : "invalid");
        free(msg);
        config_diag_clear(&d);
        free(t);
        json_decref(body);
        return;
    }
    config_diag_clear(&d);

    struct admin_onboard *op = op_new(a, who, req, OP_ONBOARD, r.id);
    json_decref(body);
    if (op == NULL) {
        free(t);
        fail_now(a, who, req, NULL, 500, "internal", "out of memory");
        return;
    }
    op->t = *t;
    free(t);
    snprintf(op->username, sizeof op->username, "%s", ADMIN_USERNAME);
    snprintf(op->file, sizeof op->file, "%s", file);
    snprintf(op->data_dir, sizeof op->data_dir, "%s", dir);
    config_tenant_log_path(&c->g, op->id, op->log_path, sizeof op->log_path);
    op->log_existed = lstat(op->log_path, &st) == 0;
    op->deadline = uv_now(a->loop) + (uint64_t)c->g.ready_timeout_ms + 5000;

    /* From here on every failure rolls back. The data dir comes first, so
     * the worker finds it when the reload starts it. */
    rc = spawn_prepare_dir(dir, false, 0, 0);
    if (rc == 0) {
        op->dir_created = true;
        char secret[256];
        rc = spawn_secret(dir, false, 0, 0, secret, sizeof secret);
        sodium_memzero(secret, sizeof secret);
    }
    if (rc != 0) {
        rollback_begin(op, 500, "cannot create the data dir", "%s: %s", dir, strerror(-rc));
        return;
    }
    rc = write_new_file(file, text, strlen(text));
    if (rc != 0) {
        rollback_begin(op, rc == -EEXIST ? 409 : 500, "cannot write the tenant file", "%s: %s",
                       file, strerror(-rc));
        return;
    }
    op->file_created = true;
    char err[2048] = "";
    rc = sup_reload(a->sup, err, sizeof err);
    if (rc != 0) {
        rollback_begin(op, 500, "reload failed", "%s", err[0] ? err : strerror(-rc));
        return;
    }
    log_info(op->id, "admin: onboarding: file written, waiting for the worker");
    op->phase = PH_WAIT_READY;
    op_schedule(op);
}

/* ---- offboarding -------------------------------------------------------------- */

static void offboard_after_gone(struct admin_onboard *op)
{
    struct admin *a = op->a;
    char problems[1024] = "";
    struct stat st;
    if (op->purge) {
        remove_tree(op->data_dir);
    } else if (lstat(op->data_dir, &st) == 0) {
        char to[CONFIG_PATH_MAX + 16];
        snprintf(to, sizeof to, "%s/data", op->archive);
        int rc = move_path(op->data_dir, to);
        if (rc != 0)
            appendf(problems, sizeof problems, "data dir left at %s: %s; ", op->data_dir,
                    strerror(-rc));
    }
    if (lstat(op->log_path, &st) == 0) {
        if (op->purge) {
            unlink(op->log_path);
        } else {
            char to[CONFIG_PATH_MAX + 64];
            snprintf(to, sizeof to, "%s/%s.log", op->archive, op->id);
            int rc = move_path(op->log_path, to);
            if (rc != 0)
                appendf(problems, sizeof problems, "log left at %s: %s; ", op->log_path,
                        strerror(-rc));
        }
    }
    if (a->state)
        admin_state_set_desired(a->state, op->id, NULL, op->who.who);
    a->counters.offboardings++;
    char res[1200];
    snprintf(res, sizeof res, "ok%s%s%s", op->purge ? " (purged)" : "", problems[0] ? ": " : "",
             problems);
    admin_audit(a, &op->who, "offboard", op->id, res);
    if (op->req) {
        json_t *o = json_object();
        if (o) {
            json_object_set_new(o, "id", json_string(op->id));
            json_object_set_new(o, "purged", json_boolean(op->purge));
            json_object_set_new(o, "archive",
                                op->purge ? json_null() : status_json_string(op->archive));
            if (problems[0])
                json_object_set_new(o, "warning", status_json_string(problems));
        }
        admin_send_json(op->req, 200, o);
        op->req = NULL;
    }
    op_finish(op);
}

void admin_offboard(struct admin *a, const struct admin_caller *who, h2o_req_t *req, const char *id,
                    bool purge)
{
    const struct config *c = cfg(a);
    char file[CONFIG_PATH_MAX + CONFIG_ID_MAX + 8];
    snprintf(file, sizeof file, "%s/%s.ini", c->g.tenants_dir, id);
    struct tenant_view v;
    struct stat st;
    bool known = sup_tenant_find(a->sup, id, &v) == 0;
    bool has_file = lstat(file, &st) == 0;
    if (!known && !has_file) {
        admin_audit(a, who, "offboard", id, "error: no such tenant");
        admin_send_error(req, 404, "no such tenant", id);
        return;
    }
    if (op_busy(a, id)) {
        admin_send_error(req, 409, "busy", "an onboarding or offboarding of this tenant runs");
        return;
    }
    struct admin_onboard *op = op_new(a, who, req, OP_OFFBOARD, id);
    if (op == NULL) {
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    op->purge = purge;
    snprintf(op->file, sizeof op->file, "%s", file);
    config_tenant_data_dir(&c->g, id, op->data_dir, sizeof op->data_dir);
    config_tenant_log_path(&c->g, id, op->log_path, sizeof op->log_path);

    int rc = 0;
    if (!purge) {
        /* <data_dir>/../archive/<id>-<UTC>/ */
        char base[CONFIG_PATH_MAX];
        snprintf(base, sizeof base, "%s", c->g.data_dir);
        char *parent = dirname(base);
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        char ts[32];
        strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
        snprintf(op->archive, sizeof op->archive, "%s/archive/%s-%s", parent, id, ts);
        for (int i = 2; lstat(op->archive, &st) == 0 && i < 100; i++)
            snprintf(op->archive, sizeof op->archive, "%s/archive/%s-%s-%d", parent, id, ts, i);
        rc = mkdirs(op->archive, 0700);
        if (rc == 0 && has_file) {
            char to[CONFIG_PATH_MAX + 64];
            snprintf(to, sizeof to, "%s/%s.ini", op->archive, id);
            rc = move_path(file, to);
        }
    } else if (has_file && unlink(file) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        char d[CONFIG_PATH_MAX + 128];
        snprintf(d, sizeof d, "%s: %s", purge ? file : op->archive, strerror(-rc));
        admin_audit(a, who, "offboard", id, "error: cannot archive the tenant file");
        admin_send_error(req, 500, "cannot archive the tenant file", d);
        op->req = NULL;
        op_finish(op);
        return;
    }
    char err[2048] = "";
    sup_reload(a->sup, err, sizeof err);
    log_info(id, "admin: offboarding: file %s, waiting for the worker to stop",
             purge ? "removed" : "archived");
    begin_wait_gone(op);
}

/* ---- adding an admin to an existing tenant ---------------------------------------- */

/* The characters tenant-worker accepts in a username (worker/auth.c). */
static bool username_ok(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n > USERNAME_MAX)
        return false;
    for (const char *p = u; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-' || *p == '@'))
            return false;
    return true;
}

static void create_admin_refuse(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                                const char *id, int status, const char *error, const char *detail)
{
    char res[1200];
    snprintf(res, sizeof res, "error: %s: %.1000s", error, detail);
    admin_audit(a, who, "create-admin", id, res);
    admin_send_error(req, status, error, detail);
}

void admin_create_admin_post(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                             const char *id)
{
    const struct config *c = cfg(a);
    json_error_t je;
    json_t *body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &je);
    json_t *ju = json_is_object(body) ? json_object_get(body, "username") : NULL;
    char user[USERNAME_MAX + 1] = "";
    bool have_user = json_is_string(ju) && json_string_length(ju) < sizeof user;
    if (have_user)
        snprintf(user, sizeof user, "%s", json_string_value(ju));
    /* "a\u0000b" would otherwise become the user "a". */
    have_user = have_user && strlen(user) == json_string_length(ju);
    json_decref(body);
    if (!have_user) {
        create_admin_refuse(a, who, req, id, 400, "invalid request",
                            "the body must be a JSON object with a \"username\" string");
        return;
    }
    if (!username_ok(user)) {
        create_admin_refuse(a, who, req, id, 400, "invalid username",
                            "a username is 1 to 63 of A-Z a-z 0-9 . _ - @");
        return;
    }
    struct tenant_view *v = calloc(1, sizeof *v);
    if (v == NULL) {
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    bool known = sup_tenant_find(a->sup, id, v) == 0;
    free(v);
    if (!known) {
        create_admin_refuse(a, who, req, id, 404, "no such tenant", id);
        return;
    }
    const struct config_tenant *t = NULL;
    for (size_t i = 0; i < c->n_tenants; i++)
        if (strcmp(c->tenants[i].id, id) == 0 && c->tenants[i].valid)
            t = &c->tenants[i].t;
    char dir[CONFIG_PATH_MAX], secret[CONFIG_PATH_MAX + 16], detail[CONFIG_PATH_MAX + 128];
    config_tenant_data_dir(&c->g, id, dir, sizeof dir);
    snprintf(secret, sizeof secret, "%s/secret", dir);
    struct stat st, sst;
    if (t == NULL) {
        create_admin_refuse(a, who, req, id, 409, "invalid tenant",
                            "the tenant's file is invalid; see `tenantctl status`");
        return;
    }
    if (t->command[0]) {
        create_admin_refuse(a, who, req, id, 422, "cannot create the admin",
                            "[worker] command names another program, which has no "
                            "--create-admin");
        return;
    }
    /* The worker made its data dir its own and the secret exists only once
     * the tenant was started; before that there is no firm to add to, and
     * creating the secret here would leave it owned by root. */
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || lstat(secret, &sst) != 0 ||
        (geteuid() == 0 && st.st_uid == 0)) {
        snprintf(detail, sizeof detail,
                 "%.1024s is missing or not yet the tenant's: start the tenant once first", dir);
        create_admin_refuse(a, who, req, id, 409, "no data dir", detail);
        return;
    }
    if (op_busy(a, id)) {
        create_admin_refuse(a, who, req, id, 409, "busy",
                            "an onboarding, offboarding or admin creation of this tenant runs");
        return;
    }
    struct admin_onboard *op = op_new(a, who, req, OP_CREATE_ADMIN, id);
    if (op == NULL) {
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    op->t = *t;
    snprintf(op->username, sizeof op->username, "%s", user);
    snprintf(op->data_dir, sizeof op->data_dir, "%s", dir);
    log_info(id, "admin: creating the admin account %s", user);
    create_admin_start(op);
}

size_t admin_onboard_abort_all(struct admin *a)
{
    size_t busy = 0;
    for (struct admin_onboard *op = a->onboards, *next; op; op = next) {
        next = op->next;
        if (op->phase == PH_DONE) {
            busy++;
            continue;
        }
        if (op->kind == OP_ONBOARD) {
            /* tenantd stops every worker as it exits; remove what this attempt
             * created now rather than wait. */
            if (op->file_created)
                unlink(op->file);
            op->file_created = false;
            rollback_files(op);
            snprintf(op->fail_error, sizeof op->fail_error, "shutting down");
            snprintf(op->fail_detail, sizeof op->fail_detail,
                     "tenantd is stopping; the onboarding was rolled back");
            op->fail_status = 503;
            op_answer_error(op);
        } else if (op->kind == OP_CREATE_ADMIN) {
            snprintf(op->fail_error, sizeof op->fail_error, "shutting down");
            snprintf(op->fail_detail, sizeof op->fail_detail,
                     "tenantd is stopping; the account was probably not created");
            op->fail_status = 503;
            op_answer_error(op);
        } else if (op->req) {
            admin_send_error(op->req, 503, "shutting down",
                             "tenantd is stopping; the tenant file is archived, the data dir "
                             "stays where it is");
            op->req = NULL;
        }
        if (op->proc_running)
            uv_process_kill(&op->proc, SIGKILL);
        op_finish(op);
        busy++;
    }
    return busy;
}
