/*
 * model_common.c — loading the rules at start-up, and the helpers every
 * model_*.c file uses (see model_internal.h).
 *
 * The rules live in one static struct written only by model_init() and
 * model_shutdown(), both called on the main thread before and after the
 * event loop, so operations read them without locking.
 */
#include "model_internal.h"
#include "db.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

static struct model_rules rules;
static bool rules_loaded;

const struct model_rules *model_rules_get(void)
{
    return rules_loaded ? &rules : NULL;
}

int model_init(const char *rules_dir, const char *ai_model, char *err, size_t errlen)
{
    char path[PATH_MAX], file[128];
    struct model_rules next;
    int rc;

    memset(&next, 0, sizeof next);
    if (ai_model == NULL || !analysis_model_name_valid(ai_model)) {
        snprintf(err, errlen, "AI_MODEL \"%.64s\" is not a valid rule model name",
                 ai_model != NULL ? ai_model : "");
        return -EINVAL;
    }
    snprintf(file, sizeof file, "%s.rules", ai_model);
    if (util_path_join(path, sizeof path, rules_dir, file) < 0) {
        snprintf(err, errlen, "the rules folder path is too long");
        return -ENAMETOOLONG;
    }
    rc = analysis_model_load(&next.analysis, path, err, errlen);
    if (rc < 0)
        return rc;
    if (strcmp(next.analysis.name, ai_model) != 0) {
        snprintf(err, errlen, "%s: its name is \"%s\", not \"%s\"", path, next.analysis.name,
                 ai_model);
        rc = -EINVAL;
        goto fail;
    }
    if (util_path_join(path, sizeof path, rules_dir, "deadlines.rules") < 0 ||
        (rc = deadline_rules_load(&next.deadlines, path, err, errlen)) < 0)
        goto fail;
    if (util_path_join(path, sizeof path, rules_dir, "holidays.rules") < 0 ||
        (rc = deadline_holidays_load(&next.deadlines, path, err, errlen)) < 0)
        goto fail;
    /* An analysis rule that states a deadline names its type: a type missing
     * from deadlines.rules would leave the two texts free to drift apart. */
    for (size_t i = 0; i < next.analysis.nrules; i++) {
        const struct analysis_rule *ar = &next.analysis.rules[i];
        if (ar->deadline[0] != '\0' && !deadline_type_known(&next.deadlines, ar->deadline)) {
            snprintf(err, errlen, "%s: rule [%s]: deadline \"%s\" is not a type of deadlines.rules",
                     file, ar->code, ar->deadline);
            rc = -EINVAL;
            goto fail;
        }
    }
    model_shutdown();
    rules = next;
    rules_loaded = true;
    return 0;
fail:
    if (rc == 0) {
        snprintf(err, errlen, "the rules folder path is too long");
        rc = -ENAMETOOLONG;
    }
    analysis_model_free(&next.analysis);
    deadline_rules_free(&next.deadlines);
    return rc;
}

int model_init_env(const struct wenv *env, char *err, size_t errlen)
{
    char dir[PATH_MAX], probe[PATH_MAX];
    const char *base = env->templates_dir != NULL ? env->templates_dir : "templates";
    /* TEMPLATES_DIR names the templates root; accept the worker's own
     * folder too, so either convention of the HTTP layer works. */
    if (util_path_join(dir, sizeof dir, base, "worker/rules") < 0 ||
        util_path_join(probe, sizeof probe, dir, "deadlines.rules") < 0) {
        snprintf(err, errlen, "TEMPLATES_DIR is too long");
        return -ENAMETOOLONG;
    }
    FILE *f = fopen(probe, "r");
    if (f != NULL)
        fclose(f);
    else if (util_path_join(dir, sizeof dir, base, "rules") < 0) {
        snprintf(err, errlen, "TEMPLATES_DIR is too long");
        return -ENAMETOOLONG;
    }
    return model_init(dir, env->ai_model, err, errlen);
}

void model_shutdown(void)
{
    if (!rules_loaded)
        return;
    analysis_model_free(&rules.analysis);
    deadline_rules_free(&rules.deadlines);
    rules_loaded = false;
}

/* The database reached its max_page_count (the plan's storage limit, see
 * db_open) or the disk is full: the firm's own error, not a server fault. */
struct wres model_storage_full(const struct wctx *c, const char *what)
{
    const struct wenv *e = c->env;
    struct wres r;

    log_warn(e != NULL ? e->client_id : NULL, "storage full while %s", what);
    r = wres_error(507, "plan_limit",
                   "the plan's storage is full (limit %lld bytes) while %s; delete data or "
                   "upgrade the plan",
                   (long long)(e != NULL ? e->storage_limit : 0), what);
    if (r.body != NULL) {
        json_object_set_new(r.body, "limit", json_string("storage"));
        if (e != NULL && e->storage_limit > 0)
            json_object_set_new(r.body, "limit_bytes", json_integer(e->storage_limit));
    }
    return r;
}

struct wres model_unavailable(void)
{
    return wres_error(503, "unavailable", "the rule files are not loaded; see the worker's log");
}

struct wres model_db_error(const struct wctx *c, const char *what)
{
    if (c->db != NULL && (sqlite3_errcode(c->db) & 0xff) == SQLITE_FULL)
        return model_storage_full(c, what);
    log_error(c->env != NULL ? c->env->client_id : NULL, "database error while %s: %s", what,
              sqlite3_errmsg(c->db));
    return wres_error(500, "internal", "a database error occurred while %s", what);
}

int model_begin(const struct wctx *c)
{
    return db_exec(c->db, "BEGIN IMMEDIATE");
}

int model_commit(const struct wctx *c)
{
    return db_exec(c->db, "COMMIT");
}

void model_rollback(const struct wctx *c)
{
    /* Only when a transaction is open: SQLite may have rolled back already. */
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

int model_prepare(const struct wctx *c, const char *sql, sqlite3_stmt **st)
{
    if (db_prepare(c->db, sql, st) < 0)
        return -EIO;
    return *st != NULL ? 0 : -EIO;
}

void model_release(sqlite3_stmt *st)
{
    db_release(st);
}

int model_scalar(const struct wctx *c, const char *sql, const char *text1, int64_t *out)
{
    sqlite3_stmt *st;
    int rc = -EIO;
    if (model_prepare(c, sql, &st) < 0)
        return -EIO;
    if (text1 != NULL && sqlite3_bind_text(st, 1, text1, -1, SQLITE_TRANSIENT) != SQLITE_OK)
        goto out;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 0;
    }
out:
    model_release(st);
    return rc;
}

void model_iso_time(time_t t, char *buf, size_t n)
{
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        memset(&tm, 0, sizeof tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int model_parse_id(const char *arg, int64_t *id)
{
    int64_t v = 0;
    if (arg == NULL || arg[0] < '1' || arg[0] > '9' || strlen(arg) > 18)
        return -EINVAL;
    for (const char *p = arg; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        v = v * 10 + (*p - '0');
    }
    *id = v;
    return 0;
}

void model_set_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, v != NULL ? json_string(v) : json_null());
}

void model_set_int(json_t *o, const char *k, int64_t v)
{
    json_object_set_new(o, k, json_integer(v));
}

void model_set_real(json_t *o, const char *k, double v)
{
    json_object_set_new(o, k, json_real(v));
}

void model_set_bool(json_t *o, const char *k, bool v)
{
    json_object_set_new(o, k, json_boolean(v));
}

json_t *model_col_text(sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    if (s == NULL)
        return json_null();
    json_t *j = json_stringn((const char *)s, (size_t)sqlite3_column_bytes(st, col));
    return j != NULL ? j : json_string("");
}

double model_euros(int64_t cents)
{
    return (double)cents / 100.0;
}
