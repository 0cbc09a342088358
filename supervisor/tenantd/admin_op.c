/*
 * admin_op.c — the life cycle shared by onboarding, offboarding and adding an
 * admin (admin_op.h): answering and ending an operation, waiting on the
 * supervisor through a per-tenant state watch (sup_watch_add, no polling)
 * until a deadline, rolling an onboarding back, and answering every pending
 * operation with 503 when tenantd stops.
 *
 * Every operation's libuv handles (its timer, and the --create-admin runner
 * while it runs) are counted, and it is freed when the last one is closed.
 * What it does not do: validate a request or touch a tenant's files other
 * than by rolling back (admin_onboard.c, admin_offboard.c).
 */
#include "admin_op.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "spawn.h"
#include "status_json.h"
#include "sup.h"
#include "util.h"

/* ---- answering and ending an operation ---------------------------------------- */

void admin_op_maybe_free(struct admin_onboard *op)
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
    json_decref(op->mig_tables);
    free(op);
    admin_maybe_finish(a);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct admin_onboard *op = h->data;
    op->handles--;
    admin_op_maybe_free(op);
}

static void op_close_handle(struct admin_onboard *op, uv_handle_t *h)
{
    if (h->data == op && !uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

/* Answer (if not done yet) and release the operation's handles. */
void admin_op_finish(struct admin_onboard *op)
{
    op->phase = PH_DONE;
    sup_watch_cancel(op->a->sup, op->watch);
    op->watch = NULL;
    uv_timer_stop(&op->timer);
    op_close_handle(op, (uv_handle_t *)&op->timer);
    admin_op_maybe_free(op);
}

static const char *op_action(const struct admin_onboard *op)
{
    return op->kind == OP_ONBOARD        ? "onboard"
           : op->kind == OP_OFFBOARD     ? "offboard"
           : op->kind == OP_MIGRATE_COPY ? "migrate"
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

/* Nothing to do until the tenant changes state or the deadline passes. */
static void op_schedule(struct admin_onboard *op)
{
    uint64_t now = uv_now(op->a->loop);
    uv_timer_start(&op->timer, op_tick, op->deadline >= now ? op->deadline - now + 1 : 0, 0);
}

/* A state change of the tenant: look on the next loop turn (a watcher must
 * not feed the supervisor, and a rollback reloads it). */
static void on_op_state(void *arg, const char *id, enum tstate state)
{
    struct admin_onboard *op = arg;
    (void)id;
    (void)state;
    if (op->phase == PH_WAIT_READY || op->phase == PH_WAIT_GONE)
        uv_timer_start(&op->timer, op_tick, 0, 0);
}

/* Enter a wait: watch the tenant (once) and look at it on the next turn. */
void admin_op_wait(struct admin_onboard *op)
{
    if (op->watch == NULL && sup_watch_add(op->a->sup, op->id, on_op_state, op, &op->watch) < 0)
        log_warn(op->id, "admin: out of memory for a state watch; waiting until the deadline");
    uv_timer_start(&op->timer, op_tick, 0, 0);
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

void admin_op_wait_gone(struct admin_onboard *op)
{
    const struct config_global *g = &cfg(op->a)->g;
    op->phase = PH_WAIT_GONE;
    op->deadline = uv_now(op->a->loop) + (uint64_t)g->stop_grace_ms + 5000;
    admin_op_wait(op);
}

/* Onboarding failed after files were created: undo in order. */
void admin_op_rollback_begin(struct admin_onboard *op, int status, const char *error,
                             const char *fmt, ...)
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
    admin_op_wait_gone(op);
}

/* A failure of --create-admin: an onboarding rolls back; adding an admin to
 * an existing tenant has nothing to undo and answers at once. */
void admin_op_fail(struct admin_onboard *op, int status, const char *error, const char *fmt, ...)
{
    char detail[sizeof op->fail_detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (op->kind == OP_ONBOARD) {
        admin_op_rollback_begin(op, status, error, "%s", detail);
        return;
    }
    op->fail_status = status;
    snprintf(op->fail_error, sizeof op->fail_error, "%s", error);
    snprintf(op->fail_detail, sizeof op->fail_detail, "%s", detail);
    log_warn(op->id, "admin: %s failed: %s", op_action(op), detail);
    op_answer_error(op);
    admin_op_finish(op);
}

static void rollback_files(struct admin_onboard *op)
{
    if (op->pg_created)
        admin_op_pg_rollback(op);
    if (op->dir_created) {
        admin_remove_tree(op->data_dir);
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

static void op_tick(uv_timer_t *t)
{
    struct admin_onboard *op = t->data;
    struct admin *a = op->a;
    uint64_t now = uv_now(a->loop);
    if (op->phase == PH_WAIT_READY) {
        struct tenant_view v;
        if (sup_tenant_find(a->sup, op->id, &v) != 0) {
            if (now > op->deadline)
                admin_op_rollback_begin(op, 500, "onboarding failed",
                                        "tenantd did not pick up the new tenant file");
            else
                op_schedule(op);
            return;
        }
        if (v.config_error[0]) {
            admin_op_rollback_begin(op, 409, "invalid tenant", "%s", v.config_error);
            return;
        }
        if (v.state == TS_RUNNING) {
            admin_op_create_admin_start(op);
            return;
        }
        if (v.state == TS_IDLE) {
            /* Its plan idles, so it was added idle: the onboarding still
             * checks that a worker comes up and creates the first admin. */
            (void)sup_tenant_wake(a->sup, op->id);
            op_schedule(op);
            return;
        }
        if (v.state == TS_FAILED || v.state == TS_BACKOFF) {
            admin_op_rollback_begin(op, 500, "worker failed to start", "%s%s%s",
                                    v.last_exit[0]         ? v.last_exit
                                    : v.state == TS_FAILED ? "failed"
                                                           : "crashed",
                                    v.state_reason[0] ? ": " : "", v.state_reason);
            return;
        }
        if (now > op->deadline) {
            admin_op_rollback_begin(op, 504, "worker not ready",
                                    "the worker was not ready in time");
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
            admin_op_finish(op);
        } else {
            admin_op_offboard_after_gone(op);
        }
    }
}

struct admin_onboard *admin_op_new(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
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

bool admin_op_busy(const struct admin *a, const char *id)
{
    for (const struct admin_onboard *op = a->onboards; op; op = op->next)
        if (strcmp(op->id, id) == 0 && op->phase != PH_DONE)
            return true;
    return false;
}

/* Text that goes into the ini file: no control characters (a newline would
 * start a new key), bounded. The round trip catches the rest. */
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
        } else if (op->kind == OP_CREATE_ADMIN || op->kind == OP_MIGRATE_COPY) {
            snprintf(op->fail_error, sizeof op->fail_error, "shutting down");
            snprintf(op->fail_detail, sizeof op->fail_detail, "%s",
                     op->kind == OP_MIGRATE_COPY
                         ? "tenantd is stopping; the copy was stopped, the tenant keeps its backend"
                         : "tenantd is stopping; the account was probably not created");
            op->fail_status = 503;
            op_answer_error(op);
        } else if (op->req) {
            admin_send_error(op->req, 503, "shutting down",
                             "tenantd is stopping; the tenant file is archived, the data dir "
                             "stays where it is");
            op->req = NULL;
        }
        if (op->child)
            child_kill(op->child);
        admin_op_finish(op);
        busy++;
    }
    return busy;
}
