/*
 * pg_admin.c — see pg_admin.h. One struct pg_job per request: it runs one
 * client program (psql, pg_dump) through child.h, maybe a second one to undo
 * a half-done provisioning, then calls back and frees itself.
 */
#include "pg_admin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "child.h"
#include "log.h"
#include "pg_client.h"
#include "util.h"

#define PG_ADMIN_TIMEOUT_MS (2 * 60 * 1000)
#define PG_DUMP_TIMEOUT_MS (60 * 60 * 1000)

enum job_kind { JOB_PROVISION, JOB_UNDO, JOB_DROP, JOB_DUMP };

struct pg_job {
    uv_loop_t *loop;
    enum job_kind kind;
    struct pg_client pc; /* the server, the admin role's password (pg_client.h) */
    char id[CONFIG_ID_MAX];
    char name[PG_NAME_MAX];
    char script[CONFIG_PATH_MAX + 64]; /* provisioning's script, removed when psql is done */
    pg_admin_done_fn done;
    void *arg;
    int rc;
    char error[1024];
};

/* ---- the admin password and the environment ---------------------------------------- */

void pg_admin_check_config(const struct config_global *g, struct config_diag *d)
{
    if (g->pg_url[0] == '\0')
        return;
    char pw[PG_PASSWORD_MAX], err[CONFIG_PATH_MAX + 128];
    if (pg_password_read(g->pg_password_file, pw, sizeof pw, err, sizeof err) < 0)
        config_diag_add(d, "%s", err);
    sodium_memzero(pw, sizeof pw);
}

static struct pg_job *job_new(uv_loop_t *loop, const struct config_global *g, const char *id,
                              enum job_kind kind, pg_admin_done_fn done, void *arg, char *err,
                              size_t errlen)
{
    if (g->pg_url[0] == '\0') {
        util_seterr(err, errlen, "tenantd.ini has no [postgresql] url");
        return NULL;
    }
    struct pg_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        util_seterr(err, errlen, "out of memory");
        return NULL;
    }
    if (pg_client_init(&j->pc, &g->pg, g->pg_password_file, err, errlen) < 0) {
        free(j);
        return NULL;
    }
    j->loop = loop;
    j->kind = kind;
    j->done = done;
    j->arg = arg;
    snprintf(j->id, sizeof j->id, "%s", id);
    pg_tenant_name(id, j->name, sizeof j->name);
    if (!pg_name_ok(j->name)) { /* cannot happen for a valid id; SQL below relies on it */
        util_seterr(err, errlen, "\"%s\" is not a safe database name", j->name);
        pg_client_clear(&j->pc);
        free(j);
        return NULL;
    }
    return j;
}

static void job_free(struct pg_job *j)
{
    if (j->script[0])
        unlink(j->script);
    pg_client_clear(&j->pc);
    free(j);
}

static size_t conn_args(struct pg_job *j, char **argv, size_t k, const char *db)
{
    pg_client_conn_args(&j->pc, argv, &k, db);
    return k;
}

/* The last non-empty line of a program's stderr, as the error. */
static void set_error(struct pg_job *j, const char *what, struct child_result *r)
{
    char *e = r->err_len ? r->err : r->out;
    size_t n = strlen(e);
    while (n > 0 && (e[n - 1] == '\n' || e[n - 1] == ' '))
        e[--n] = '\0';
    for (char *p = e; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    if (r->timed_out)
        snprintf(j->error, sizeof j->error, "%s timed out", what);
    else if (r->sig)
        snprintf(j->error, sizeof j->error, "%s killed by signal %d", what, r->sig);
    else
        snprintf(j->error, sizeof j->error, "%s failed (exit %lld): %.900s", what,
                 (long long)r->status, n ? e : "no message");
}

static int job_run(struct pg_job *j, char *const *argv, uint64_t timeout_ms, child_done_fn cb,
                   char *err, size_t errlen);

static void finish(struct pg_job *j)
{
    j->done(j->arg, j->rc, j->error);
    job_free(j);
}

/* ---- provisioning --------------------------------------------------------------- */

static void on_undo(void *arg, struct child_result *r)
{
    struct pg_job *j = arg;
    if (r->status != 0 || r->sig || r->timed_out) {
        char why[1024];
        snprintf(why, sizeof why, "%s", j->error);
        set_error(j, "psql (undo)", r);
        log_warn(j->id, "postgresql: could not drop what a failed provisioning created: %s",
                 j->error);
        snprintf(j->error, sizeof j->error, "%s", why);
    }
    finish(j);
}

static void on_provision(void *arg, struct child_result *r)
{
    struct pg_job *j = arg;
    unlink(j->script);
    j->script[0] = '\0';
    if (r->status == 0 && !r->sig && !r->timed_out) {
        log_info(j->id, "postgresql: database and role %s created", j->name);
        finish(j);
        return;
    }
    bool role = strstr(r->out, "step:role") != NULL, db = strstr(r->out, "step:db") != NULL;
    set_error(j, "psql", r);
    j->rc = -EIO;
    if (!role) {
        finish(j);
        return;
    }
    /* Drop exactly what this job created. */
    char drop_db[128], drop_role[128];
    snprintf(drop_db, sizeof drop_db, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", j->name);
    snprintf(drop_role, sizeof drop_role, "DROP ROLE IF EXISTS \"%s\"", j->name);
    char *argv[24] = {"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"};
    size_t k = conn_args(j, argv, 5, j->pc.srv.dbname);
    if (db) {
        argv[k++] = "-c";
        argv[k++] = drop_db;
    }
    argv[k++] = "-c";
    argv[k++] = drop_role;
    argv[k] = NULL;
    char err[256];
    log_warn(j->id, "postgresql: provisioning failed, dropping what it created: %s", j->error);
    j->kind = JOB_UNDO;
    if (job_run(j, argv, PG_ADMIN_TIMEOUT_MS, on_undo, err, sizeof err) < 0) {
        log_warn(j->id, "postgresql: cannot undo: %s", err);
        finish(j);
    }
}

int pg_admin_provision(uv_loop_t *loop, const struct config_global *g, const char *id,
                       const char *password, pg_admin_done_fn done, void *arg, char *err,
                       size_t errlen)
{
    for (const char *p = password; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            util_seterr(err, errlen, "the generated password must be hex");
            return -EINVAL;
        }
    struct pg_job *j = job_new(loop, g, id, JOB_PROVISION, done, arg, err, errlen);
    if (j == NULL)
        return -EINVAL;
    /* The script holds the tenant's password: root's run_dir, 0600, removed
     * once psql has read it. */
    snprintf(j->script, sizeof j->script, "%s/.pg-provision-%s.sql", g->run_dir, id);
    unlink(j->script);
    int fd = open(j->script, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        util_seterr(err, errlen, "%s: %s", j->script, strerror(e));
        j->script[0] = '\0';
        job_free(j);
        return -e;
    }
    char script[1024];
    int len = pg_provision_script(id, password, script, sizeof script);
    if (len < 0 || (size_t)len >= sizeof script || write(fd, script, (size_t)len) != len) {
        close(fd);
        util_seterr(err, errlen, "%s: cannot write the script", j->script);
        job_free(j);
        return -EIO;
    }
    sodium_memzero(script, sizeof script);
    if (fsync(fd) < 0) {
        int e = errno;
        close(fd);
        util_seterr(err, errlen, "%s: %s", j->script, strerror(e));
        job_free(j);
        return -e;
    }
    close(fd);
    char *argv[24] = {"psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"};
    size_t k = conn_args(j, argv, 7, j->pc.srv.dbname);
    argv[k++] = "-f";
    argv[k++] = j->script;
    argv[k] = NULL;
    int rc = job_run(j, argv, PG_ADMIN_TIMEOUT_MS, on_provision, err, errlen);
    if (rc < 0)
        job_free(j);
    return rc;
}

/* ---- drop and dump ------------------------------------------------------------- */

static void on_simple(void *arg, struct child_result *r)
{
    struct pg_job *j = arg;
    if (r->status != 0 || r->sig || r->timed_out) {
        set_error(j, j->kind == JOB_DUMP ? "pg_dump" : "psql", r);
        j->rc = -EIO;
    }
    finish(j);
}

int pg_admin_drop(uv_loop_t *loop, const struct config_global *g, const char *id,
                  pg_admin_done_fn done, void *arg, char *err, size_t errlen)
{
    struct pg_job *j = job_new(loop, g, id, JOB_DROP, done, arg, err, errlen);
    if (j == NULL)
        return -EINVAL;
    char drop_db[128], drop_role[128];
    snprintf(drop_db, sizeof drop_db, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", j->name);
    snprintf(drop_role, sizeof drop_role, "DROP ROLE IF EXISTS \"%s\"", j->name);
    char *argv[24] = {"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"};
    size_t k = conn_args(j, argv, 5, j->pc.srv.dbname);
    argv[k++] = "-c";
    argv[k++] = drop_db;
    argv[k++] = "-c";
    argv[k++] = drop_role;
    argv[k] = NULL;
    int rc = job_run(j, argv, PG_ADMIN_TIMEOUT_MS, on_simple, err, errlen);
    if (rc < 0)
        job_free(j);
    return rc;
}

int pg_admin_dump(uv_loop_t *loop, const struct config_global *g, const char *id, const char *out,
                  pg_admin_done_fn done, void *arg, char *err, size_t errlen)
{
    struct pg_job *j = job_new(loop, g, id, JOB_DUMP, done, arg, err, errlen);
    if (j == NULL)
        return -EINVAL;
    /* The dump is the firm's data: 0600 before pg_dump writes into it. */
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        util_seterr(err, errlen, "%s: %s", out, strerror(e));
        job_free(j);
        return -e;
    }
    close(fd);
    char *argv[24] = {"pg_dump", "-Fc", "--no-owner", "-f", (char *)out};
    size_t k = conn_args(j, argv, 5, j->name);
    argv[k] = NULL;
    int rc = job_run(j, argv, PG_DUMP_TIMEOUT_MS, on_simple, err, errlen);
    if (rc < 0) {
        unlink(out);
        job_free(j);
    }
    return rc;
}

static int job_run(struct pg_job *j, char *const *argv, uint64_t timeout_ms, child_done_fn cb,
                   char *err, size_t errlen)
{
    struct child_opts o = {
        .argv = argv,
        .env = j->pc.env,
        .timeout_ms = timeout_ms,
        .log_label = argv[0],
    };
    struct child *c;
    return child_start(j->loop, &o, cb, j, &c, err, errlen);
}

const char *pg_admin_expose(const struct config_global *g, const struct config_tenant *t)
{
    if (t->database != DB_POSTGRESQL || g->pg_url[0] == '\0' || g->pg.sockdir[0] == '\0' ||
        access(g->pg.sockdir, F_OK) != 0)
        return NULL;
    return g->pg.sockdir;
}

/* ---- the tenant's password file ------------------------------------------------------ */

void pg_admin_new_password(char out[33])
{
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, 33, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
}

int pg_admin_chown_pgpass(const char *data_dir, uid_t uid, gid_t gid)
{
    char path[CONFIG_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/.pgpass", data_dir);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0)
        rc = -errno;
    else if (!S_ISREG(st.st_mode))
        rc = -EINVAL;
    else if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
        rc = -errno;
    else if ((st.st_mode & 0777) != 0600 && fchmod(fd, 0600) < 0)
        rc = -errno;
    close(fd);
    return rc;
}
