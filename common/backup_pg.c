/*
 * backup_pg.c — see backup_pg.h.
 */
#include "backup_pg.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "backup.h"
#include "backup_internal.h"
#include "pg_client.h"
#include "safefile.h"
#include "util.h"

/* ---- row counts from a dump ----------------------------------------------------- */

struct counter {
    json_t *tables;
    char table[256];
    json_int_t rows;
    int in_copy;
};

/* pg_restore's script: "COPY public.users (id, name) FROM stdin;", one line
 * per row (COPY's text format escapes newlines), then "\.". */
static void count_line(void *arg, const char *line)
{
    struct counter *c = arg;
    if (c->in_copy) {
        if (strcmp(line, "\\.") == 0) {
            json_object_set_new(c->tables, c->table, json_integer(c->rows));
            c->in_copy = 0;
        } else {
            c->rows++;
        }
        return;
    }
    if (strncmp(line, "COPY ", 5) != 0)
        return;
    const char *name = line + 5, *end = strchr(name, ' ');
    if (end == NULL)
        return;
    if (strncmp(name, "public.", 7) == 0)
        name += 7;
    snprintf(c->table, sizeof c->table, "%.*s", (int)(end - name), name);
    c->rows = 0;
    c->in_copy = 1;
}

/* The row counts of the dump read from fd (pg_restore's stdin). */
static int dump_counts_fd(struct pg_client *pc, int fd, json_t *tables, char *err, size_t errlen)
{
    struct counter c = {.tables = tables};
    char *argv[] = {"pg_restore", "--data-only", "-f", "-", NULL};
    if (lseek(fd, 0, SEEK_SET) < 0) {
        int e = errno;
        util_seterr(err, errlen, "cannot read the dump back: %s", strerror(e));
        return -e;
    }
    pc->stdin_fd = fd;
    int rc = pg_client_run(pc, argv, NULL, 0, count_line, &c, err, errlen);
    pc->stdin_fd = 0;
    return rc;
}

/* SHA-256 and size of what fd holds, from its start. */
static int sha256_fd(int fd, char hex[65], int64_t *size)
{
    crypto_hash_sha256_state st;
    unsigned char buf[65536], digest[crypto_hash_sha256_BYTES];
    int64_t total = 0;
    if (sodium_init() < 0 || lseek(fd, 0, SEEK_SET) < 0)
        return -EIO;
    crypto_hash_sha256_init(&st);
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        crypto_hash_sha256_update(&st, buf, (unsigned long long)r);
        total += r;
    }
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(hex, 65, digest, sizeof digest);
    *size = total;
    return 0;
}

/* ---- create ------------------------------------------------------------------ */

/* Everything below works relative to dfd, the backups/ folder opened without
 * following a link: the tenant owns that folder and can put anything in it,
 * so no name in it is ever followed, and the dump is never opened by path
 * (pg_dump writes to its stdout, an fd opened here; pg_restore and the
 * SHA-256 read that same fd). */
static int write_json_at(int dfd, const char *name, json_t *m, uid_t uid, gid_t gid, char *err,
                         size_t errlen)
{
    char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text == NULL) {
        util_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = 0;
    size_t len = strlen(text);
    if (fd < 0)
        rc = -errno;
    else {
        if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
            backup_set_owner_mode(fd, uid, gid, 0600) < 0 || fsync(fd) < 0)
            rc = errno ? -errno : -EIO;
        close(fd);
    }
    free(text);
    if (rc < 0) {
        unlinkat(dfd, name, 0);
        util_seterr(err, errlen, "cannot write backups/%s: %s", name, strerror(-rc));
    }
    return rc;
}

/* backups/ in the data dir: created when missing (0700, the data dir's
 * owner), opened without following a link, checked to be a folder. */
static int open_backups(const char *backup_dir, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    if (mkdir(backup_dir, 0700) < 0 && errno != EEXIST) {
        int e = errno;
        util_seterr(err, errlen, "cannot create %s: %s", backup_dir, strerror(e));
        return -e;
    }
    int dfd = safefile_open_dir(AT_FDCWD, backup_dir);
    if (dfd < 0) {
        bool notdir = dfd == -ELOOP || dfd == -ENOTDIR || dfd == -EINVAL;
        util_seterr(err, errlen, "%s is %s: refused", backup_dir,
                    notdir ? "not a plain folder (a symbolic link?)" : strerror(-dfd));
        return notdir ? -ENOTDIR : dfd;
    }
    if (geteuid() == 0 && fchown(dfd, uid, gid) < 0) {
        int e = errno;
        close(dfd);
        util_seterr(err, errlen, "cannot chown %s: %s", backup_dir, strerror(e));
        return -e;
    }
    return dfd;
}

int backup_pg_create(const struct pg_server *srv, const char *password_file, const char *tenant_id,
                     const char *backup_dir, char *out_path, size_t n, char *err, size_t errlen)
{
    struct pg_client pc;
    char name[PG_NAME_MAX], final[PATH_MAX], fname[NAME_MAX + 1], tmp[NAME_MAX + 8],
        mname[NAME_MAX + 8], mtmp[NAME_MAX + 16], parent[PATH_MAX], stamp[32], iso[32], hex[65];
    struct stat st;
    int rc;

    pg_tenant_name(tenant_id, name, sizeof name);
    if (!pg_name_ok(name)) {
        util_seterr(err, errlen, "\"%s\" is not a valid database name", name);
        return -EINVAL;
    }
    /* The folder belongs to whoever owns the data dir (the tenant's uid). */
    if (backup_dir_of(backup_dir, parent, sizeof parent) < 0 || stat(parent, &st) < 0) {
        rc = -errno;
        util_seterr(err, errlen, "%s: %s", parent, strerror(errno));
        return rc ? rc : -EINVAL;
    }
    uid_t uid = st.st_uid;
    gid_t gid = st.st_gid;
    int dfd = open_backups(backup_dir, uid, gid, err, errlen);
    if (dfd < 0)
        return dfd;
    time_t now = time(NULL);
    backup_utc_stamp(now, stamp);
    backup_iso_time(now, iso);
    for (int i = 0;; i++) {
        int k = i == 0 ? snprintf(fname, sizeof fname, "%s-%s.pgdump", tenant_id, stamp)
                       : snprintf(fname, sizeof fname, "%s-%s-%d.pgdump", tenant_id, stamp, i + 1);
        if (k < 0 || (size_t)k >= sizeof fname || i > 98) {
            util_seterr(err, errlen, "no free backup name in %s", backup_dir);
            close(dfd);
            return -EEXIST;
        }
        if (fstatat(dfd, fname, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
            break;
    }
    if (util_path_fmt(final, sizeof final, "%s/%s", backup_dir, fname) < 0 ||
        backup_manifest_path(fname, mname, sizeof mname) < 0) {
        util_seterr(err, errlen, "%s: name too long", backup_dir);
        close(dfd);
        return -ENAMETOOLONG;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", fname);
    snprintf(mtmp, sizeof mtmp, "%s.tmp", mname);
    unlinkat(dfd, tmp, 0);
    unlinkat(dfd, mtmp, 0);

    rc = pg_client_init(&pc, srv, password_file, err, errlen);
    if (rc < 0) {
        close(dfd);
        return rc;
    }
    int fd = openat(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || backup_set_owner_mode(fd, uid, gid, 0600) < 0) {
        rc = -errno;
        util_seterr(err, errlen, "cannot create %s/%s: %s", backup_dir, tmp, strerror(errno));
        if (fd >= 0)
            close(fd), unlinkat(dfd, tmp, 0);
        pg_client_clear(&pc);
        close(dfd);
        return rc;
    }
    char *argv[24] = {"pg_dump", "-Fc"};
    size_t k = 2;
    pg_client_conn_args(&pc, argv, &k, name);
    argv[k] = NULL;
    json_t *m = json_object(), *tables = json_object();
    int64_t size = 0;
    pc.stdout_fd = fd;
    rc = pg_client_run(&pc, argv, NULL, 0, NULL, NULL, err, errlen);
    pc.stdout_fd = 0;
    if (rc == 0 && fsync(fd) < 0) {
        rc = -errno;
        util_seterr(err, errlen, "cannot sync %s/%s: %s", backup_dir, tmp, strerror(errno));
    }
    if (rc == 0)
        rc = dump_counts_fd(&pc, fd, tables, err, errlen);
    pg_client_clear(&pc);
    if (rc == 0 && (rc = sha256_fd(fd, hex, &size)) < 0)
        util_seterr(err, errlen, "cannot read %s/%s: %s", backup_dir, tmp, strerror(-rc));
    close(fd);
    if (rc == 0) {
        json_object_set_new(m, "format", json_integer(BACKUP_FORMAT));
        json_object_set_new(m, "engine", json_string("postgresql"));
        json_object_set_new(m, "tenant", json_string(tenant_id));
        json_object_set_new(m, "created", json_string(iso));
        json_object_set_new(m, "created_unix", json_integer((json_int_t)now));
        json_object_set_new(m, "file", json_string(fname));
        json_object_set_new(m, "size", json_integer(size));
        json_object_set_new(m, "sha256", json_string(hex));
        json_object_set_new(m, "database", json_string(name));
        json_object_set_new(m, "schema_version", json_integer(-1));
        json_object_set(m, "tables", tables);
        rc = write_json_at(dfd, mtmp, m, uid, gid, err, errlen);
    }
    json_decref(m);
    json_decref(tables);
    if (rc == 0 && (renameat(dfd, mtmp, dfd, mname) < 0 || renameat(dfd, tmp, dfd, fname) < 0)) {
        rc = -errno;
        util_seterr(err, errlen, "cannot rename into %s: %s", backup_dir, strerror(errno));
        unlinkat(dfd, mname, 0);
    }
    if (rc < 0) {
        unlinkat(dfd, tmp, 0);
        unlinkat(dfd, mtmp, 0);
        close(dfd);
        return rc;
    }
    fsync(dfd);
    close(dfd);
    if (util_strlcpy(out_path, final, n) < 0)
        return -ENAMETOOLONG;
    return 0;
}

/* ---- verify ------------------------------------------------------------------- */

static json_t *load_manifest(const char *backup_path, const char *tenant_id, char *err,
                             size_t errlen)
{
    char mpath[PATH_MAX], hex[65];
    int64_t size = 0;
    if (backup_manifest_path(backup_path, mpath, sizeof mpath) < 0) {
        util_seterr(err, errlen, "%s is not a .pgdump file", backup_path);
        return NULL;
    }
    json_error_t je;
    json_t *m = json_load_file(mpath, 0, &je);
    if (m == NULL || !json_is_object(m)) {
        util_seterr(err, errlen, "%s: no readable manifest (an unfinished backup?)", mpath);
        json_decref(m);
        return NULL;
    }
    const char *file = json_string_value(json_object_get(m, "file"));
    const char *tenant = json_string_value(json_object_get(m, "tenant"));
    const char *engine = json_string_value(json_object_get(m, "engine"));
    const char *sha = json_string_value(json_object_get(m, "sha256"));
    json_t *jsize = json_object_get(m, "size");
    if (!engine || strcmp(engine, "postgresql") != 0)
        util_seterr(err, errlen, "%s is not a PostgreSQL backup", backup_path);
    else if (!file || strcmp(file, backup_base_name(backup_path)) != 0)
        util_seterr(err, errlen, "the manifest names another file (%s)", file ? file : "none");
    else if (!tenant || strcmp(tenant, tenant_id) != 0)
        util_seterr(err, errlen, "belongs to tenant %s, not %s", tenant ? tenant : "?", tenant_id);
    else if (backup_sha256_file(backup_path, hex, &size) < 0)
        util_seterr(err, errlen, "cannot read %s: %s", backup_path, strerror(errno));
    else if (!json_is_integer(jsize) || json_integer_value(jsize) != size)
        util_seterr(err, errlen, "size mismatch: %lld bytes, the manifest says %lld",
                    (long long)size, (long long)json_integer_value(jsize));
    else if (!sha || strcmp(sha, hex) != 0)
        util_seterr(err, errlen, "checksum mismatch: sha256 %s, the manifest says %s", hex,
                    sha ? sha : "none");
    else
        return m;
    json_decref(m);
    return NULL;
}

int backup_pg_verify(const char *backup_path, const char *tenant_id, char *err, size_t errlen)
{
    json_t *m = load_manifest(backup_path, tenant_id, err, errlen);
    if (m == NULL)
        return -EINVAL;
    json_decref(m);
    /* pg_restore reads the archive's table of contents without a server. */
    struct pg_client pc = {0};
    pc.env[0] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    char *argv[] = {"pg_restore", "--list", (char *)backup_path, NULL};
    char out[256];
    if (pg_client_run(&pc, argv, out, sizeof out, NULL, NULL, err, errlen) < 0)
        return -EINVAL;
    return 0;
}

/* ---- restore ------------------------------------------------------------------ */

/* Every table's exact row count in db, compared with the manifest's. */
static int compare_counts(struct pg_client *pc, const char *db, json_t *want, char *err,
                          size_t errlen)
{
    static const char q[] =
        "SELECT c.relname || '=' || (xpath('/row/n/text()', query_to_xml(format("
        "'SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public' ORDER BY 1";
    char out[16384];
    int rc = pg_client_sql(pc, db, q, out, sizeof out, err, errlen);
    if (rc < 0)
        return rc;
    size_t seen = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char *eq = strrchr(line, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        json_t *w = json_object_get(want, line);
        long long got = atoll(eq + 1);
        if (w && json_integer_value(w) == got) {
            seen++;
            continue;
        }
        util_seterr(err, errlen, "restored table %s has %lld rows, the manifest says %s", line, got,
                    w ? "otherwise" : "it does not exist");
        return -EINVAL;
    }
    if (seen != json_object_size(want)) {
        util_seterr(err, errlen, "the restored database lacks %zu of the manifest's tables",
                    json_object_size(want) - seen);
        return -EINVAL;
    }
    return 0;
}

static void stamp14(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, n, "%Y%m%d%H%M%S", &tm);
}

static int rename_db(struct pg_client *pc, const char *from, const char *to, char *err,
                     size_t errlen)
{
    char sql[512];
    /* The worker is stopped; end any other session (a stray psql) so the
     * rename cannot be refused. */
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '%s' "
             "AND pid <> pg_backend_pid()",
             from);
    char out[64];
    int rc = pg_client_sql(pc, pc->srv.dbname, sql, out, sizeof out, err, errlen);
    if (rc == 0) {
        snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" RENAME TO \"%s\"", from, to);
        rc = pg_client_sql(pc, pc->srv.dbname, sql, out, sizeof out, err, errlen);
    }
    return rc;
}

int backup_pg_restore(const struct pg_server *srv, const char *password_file, const char *tenant_id,
                      const char *backup_path, char *aside, size_t asidelen, char *err,
                      size_t errlen)
{
    char name[PG_NAME_MAX], fresh[PG_NAME_MAX + 40], old[PG_NAME_MAX + 40], st[32], sql[512],
        out[256];
    json_t *m = load_manifest(backup_path, tenant_id, err, errlen);
    if (m == NULL)
        return -EINVAL;
    struct pg_client pc;
    int rc = pg_client_init(&pc, srv, password_file, err, errlen);
    if (rc < 0) {
        json_decref(m);
        return rc;
    }
    pg_tenant_name(tenant_id, name, sizeof name);
    stamp14(st, sizeof st);
    snprintf(fresh, sizeof fresh, "%s_r%s", name, st);
    snprintf(old, sizeof old, "%s_b%s", name, st);
    if (!pg_name_ok(name) || !pg_name_ok(fresh) || !pg_name_ok(old)) {
        util_seterr(err, errlen, "no valid database name for %s", tenant_id);
        rc = -EINVAL;
        goto out;
    }
    snprintf(sql, sizeof sql,
             "CREATE DATABASE \"%s\" OWNER \"%s\" TEMPLATE template0 ENCODING 'UTF8'", fresh, name);
    rc = pg_client_sql(&pc, pc.srv.dbname, sql, out, sizeof out, err, errlen);
    if (rc < 0)
        goto out;
    snprintf(sql, sizeof sql, "REVOKE ALL ON DATABASE \"%s\" FROM PUBLIC", fresh);
    rc = pg_client_sql(&pc, pc.srv.dbname, sql, out, sizeof out, err, errlen);
    if (rc == 0) {
        /* As the tenant's role, so that it owns every object, in one
         * transaction: a damaged archive leaves an empty database. */
        char *argv[24] = {"pg_restore",           "--no-owner", "--exit-on-error",
                          "--single-transaction", "--role",     name};
        size_t k = 6;
        pg_client_conn_args(&pc, argv, &k, fresh);
        argv[k++] = (char *)backup_path;
        argv[k] = NULL;
        rc = pg_client_run(&pc, argv, NULL, 0, NULL, NULL, err, errlen);
    }
    if (rc == 0)
        rc = compare_counts(&pc, fresh, json_object_get(m, "tables"), err, errlen);
    if (rc == 0) {
        rc = rename_db(&pc, name, old, err, errlen);
        if (rc == 0 && (rc = rename_db(&pc, fresh, name, err, errlen)) < 0) {
            char e2[256];
            rename_db(&pc, old, name, e2, sizeof e2);
        }
    }
    if (rc < 0) {
        char e2[256];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", fresh);
        pg_client_sql(&pc, pc.srv.dbname, sql, out, sizeof out, e2, sizeof e2);
    } else {
        util_strlcpy(aside, old, asidelen);
    }
out:
    pg_client_clear(&pc);
    json_decref(m);
    return rc;
}

int backup_pg_unrestore(const struct pg_server *srv, const char *password_file,
                        const char *tenant_id, const char *aside, char *err, size_t errlen)
{
    char name[PG_NAME_MAX], failed[PG_NAME_MAX + 40], st[32];
    struct pg_client pc;
    if (!pg_name_ok(aside)) {
        util_seterr(err, errlen, "\"%s\" is not a database name", aside);
        return -EINVAL;
    }
    int rc = pg_client_init(&pc, srv, password_file, err, errlen);
    if (rc < 0)
        return rc;
    pg_tenant_name(tenant_id, name, sizeof name);
    stamp14(st, sizeof st);
    snprintf(failed, sizeof failed, "%s_f%s", name, st);
    rc = rename_db(&pc, name, failed, err, errlen);
    if (rc == 0)
        rc = rename_db(&pc, aside, name, err, errlen);
    pg_client_clear(&pc);
    return rc;
}
