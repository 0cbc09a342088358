/*
 * admin_pg.c — the PostgreSQL steps of the admin API's long operations
 * (admin_op.h), over pg_admin.h:
 *   - onboarding a tenant with [database] type = postgresql: after its data
 *     dir and secret exist, generate a password, write <data_dir>/.pgpass
 *     (0600; given to the tenant's uid when its worker first starts), create
 *     the role and the database, and only then write the tenant file. A
 *     failure of any later step drops them again (rollback_files);
 *   - offboarding such a tenant, once its worker is gone: pg_dump -Fc into
 *     <archive>/<id>.pgdump (the database and role are kept: an archive can
 *     be brought back), or with purge: drop the database and the role.
 *
 * What it does not do: the SQL itself (pg_admin.c).
 */
#include "admin_op.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "pg_admin.h"
#include "pg_client.h"

static void on_provisioned(void *arg, int rc, const char *error)
{
    struct admin_onboard *op = arg;
    op->handles--;
    if (op->phase == PH_DONE) { /* tenantd stopped meanwhile: the op is answered */
        if (rc == 0)
            admin_op_pg_rollback(op); /* and rolled back: drop what was just made */
        admin_op_maybe_free(op);
        return;
    }
    if (rc != 0) {
        admin_op_rollback_begin(op, 502, "cannot provision the database", "%s", error);
        return;
    }
    op->pg_created = true;
    admin_onboard_write_file(op);
}

void admin_op_pg_provision(struct admin_onboard *op)
{
    struct admin *a = op->a;
    char pw[33], err[1024];
    pg_admin_new_password(pw);
    int rc = pg_pgpass_write(op->data_dir, op->id, pw, false, 0, 0);
    if (rc != 0) {
        sodium_memzero(pw, sizeof pw);
        admin_op_rollback_begin(op, 500, "cannot write .pgpass", "%s/.pgpass: %s", op->data_dir,
                                strerror(-rc));
        return;
    }
    log_info(op->id, "admin: onboarding: creating the PostgreSQL database and role");
    /* The job counts as one of the op's handles, so the op outlives it. */
    rc = pg_admin_provision(a->loop, &cfg(a)->g, op->id, pw, on_provisioned, op, err, sizeof err);
    sodium_memzero(pw, sizeof pw);
    if (rc != 0)
        admin_op_rollback_begin(op, 500, "cannot provision the database", "%s", err);
    else
        op->handles++;
}

static void on_rollback_dropped(void *arg, int rc, const char *error)
{
    char *id = arg;
    if (rc != 0)
        log_warn(id, "admin: rollback: the PostgreSQL database and role stay: %s", error);
    else
        log_info(id, "admin: rollback: PostgreSQL database and role dropped");
    free(id);
}

void admin_op_pg_rollback(struct admin_onboard *op)
{
    char err[1024];
    op->pg_created = false;
    char *id = strdup(op->id);
    if (id == NULL || pg_admin_drop(op->a->loop, &cfg(op->a)->g, op->id, on_rollback_dropped, id,
                                    err, sizeof err) != 0) {
        log_warn(op->id, "admin: rollback: cannot drop the PostgreSQL database and role: %s",
                 id ? err : "out of memory");
        free(id);
    }
}

static void on_offboard_pg(void *arg, int rc, const char *error)
{
    struct admin_onboard *op = arg;
    op->pg_done = true;
    op->handles--;
    if (op->phase == PH_DONE) {
        admin_op_maybe_free(op);
        return;
    }
    if (rc != 0) {
        /* The tenant file is archived and the worker gone: finish the
         * offboarding, keep the database, and say so. */
        log_warn(op->id, "admin: offboarding: %s; the PostgreSQL database is kept", error);
        snprintf(op->fail_detail, sizeof op->fail_detail, "%s", error);
    } else {
        log_info(op->id, "admin: offboarding: PostgreSQL database %s",
                 op->purge ? "and role dropped" : "dumped into the archive");
    }
    admin_op_offboard_after_gone(op);
}

void admin_op_pg_offboard(struct admin_onboard *op)
{
    struct admin *a = op->a;
    char err[1024], out[CONFIG_PATH_MAX + 64];
    int rc;
    if (op->purge) {
        rc = pg_admin_drop(a->loop, &cfg(a)->g, op->id, on_offboard_pg, op, err, sizeof err);
    } else {
        snprintf(out, sizeof out, "%s/%s.pgdump", op->archive, op->id);
        rc = pg_admin_dump(a->loop, &cfg(a)->g, op->id, out, on_offboard_pg, op, err, sizeof err);
    }
    op->handles++;
    if (rc != 0)
        on_offboard_pg(op, rc, err);
}
