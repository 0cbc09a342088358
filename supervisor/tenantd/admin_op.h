/*
 * admin_op.h — what the admin API's long operations share: onboarding
 * (admin_onboard.c), offboarding (admin_offboard.c) and adding an admin
 * account (admin_create_admin.c) are each one struct admin_onboard on a list
 * in struct admin, answered later; admin_op.c holds their common life cycle
 * (answering, waiting on the supervisor's state watches, rolling back,
 * freeing) and admin_files.c the file helpers they use. Nothing outside
 * these files includes it.
 */
#ifndef TENANTD_ADMIN_OP_H
#define TENANTD_ADMIN_OP_H

#include "admin_internal.h"

#define CREATE_ADMIN_TIMEOUT_MS 60000
#define ADMIN_USERNAME "admin"
/* tenant-worker's limit on usernames (worker/auth.h AUTH_USERNAME_MAX). */
#define USERNAME_MAX 63

enum op_kind { OP_ONBOARD, OP_OFFBOARD, OP_CREATE_ADMIN, OP_MIGRATE_COPY };
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

    uv_timer_t timer;        /* the deadline of a wait, or a check on the next turn */
    struct sup_watch *watch; /* the tenant's state changes while waiting */
    struct child *child;     /* tenant-worker --create-admin, while it runs (child.h) */

    /* Failure to report once the rollback is complete. */
    int fail_status;
    char fail_error[128];
    char fail_detail[2048];

    /* Offboarding. */
    bool purge;
    char archive[CONFIG_PATH_MAX];

    /* PostgreSQL tenants (pg_admin.h): the tenant's database and role exist
     * because this onboarding created them (a rollback drops them), or the
     * offboarded tenant has them (dumped into the archive, dropped on purge). */
    bool pg, pg_created, pg_done;
    char text[2048]; /* onboarding: the tenant file, written once provisioned */

    /* The copy of a migration (admin_migrate.c): FROM and TO of the tool,
     * the backends' names, the step running, what the copy reported. */
    char mig_from[CONFIG_PATH_MAX + 80], mig_to[CONFIG_PATH_MAX + 80];
    char mig_from_w[16], mig_to_w[16];
    int mig_step;
    json_t *mig_tables;
};

static inline const struct config *cfg(const struct admin *a)
{
    return sup_config(a->sup);
}

/* admin_op.c: the life cycle of an operation. */
struct admin_onboard *admin_op_new(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                                   enum op_kind kind, const char *id);
/* An operation on this tenant is in progress. */
bool admin_op_busy(const struct admin *a, const char *id);
/* Answer (if not done yet) and release the operation's handles. */
void admin_op_finish(struct admin_onboard *op);
/* Free the operation once it is done and its handles are closed. */
void admin_op_maybe_free(struct admin_onboard *op);
/* Wait (PH_WAIT_READY or PH_WAIT_GONE, set by the caller) on the tenant's
 * state watch, until op->deadline. */
void admin_op_wait(struct admin_onboard *op);
/* Wait until the worker is gone, then roll back or finish offboarding. */
void admin_op_wait_gone(struct admin_onboard *op);
/* Onboarding failed after files were created: undo in order. */
void admin_op_rollback_begin(struct admin_onboard *op, int status, const char *error,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A failure of --create-admin: an onboarding rolls back; adding an admin to
 * an existing tenant has nothing to undo and answers at once. */
void admin_op_fail(struct admin_onboard *op, int status, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* admin_create_admin.c: step 5, tenant-worker --create-admin. */
void admin_op_create_admin_start(struct admin_onboard *op);
/* admin_offboard.c: the worker is gone; move the data dir and log. */
void admin_op_offboard_after_gone(struct admin_onboard *op);

/* admin_pg.c: the PostgreSQL steps of onboarding and offboarding. */
/* Onboarding: create the database and role, then admin_onboard_write_file. */
void admin_op_pg_provision(struct admin_onboard *op);
/* Rollback: drop what the onboarding created (logged, not awaited). */
void admin_op_pg_rollback(struct admin_onboard *op);
/* Offboarding, once the worker is gone: pg_dump into the archive, or drop
 * with purge; then admin_op_offboard_after_gone again (op->pg_done set). */
void admin_op_pg_offboard(struct admin_onboard *op);
/* admin_onboard.c: write the tenant file (op->text), reload, wait for ready. */
void admin_onboard_write_file(struct admin_onboard *op);

/* admin_files.c */
/* rm -rf without following symlinks or crossing mounts; logs what it cannot
 * remove. The path itself is ours: its parents belong to root. */
void admin_remove_tree(const char *path);
/* rename(2), or copy-and-unlink for a regular file on another filesystem.
 * Returns 0 or -errno. */
int admin_move_path(const char *from, const char *to);

#endif
