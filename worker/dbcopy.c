/*
 * dbcopy.c — copying a firm's tables between two stores and their checksums
 * (see dbcopy.h for the canonical encoding). Everything goes through the
 * storage interface (store.h), so one code path serves SQLite -> PostgreSQL,
 * PostgreSQL -> SQLite and any other pair.
 *
 * Reads: "SELECT <columns> FROM <table> ORDER BY <key>" inside the source's
 * snapshot transaction; each value is read by the type the schema gives it,
 * hashed and bound to the target's INSERT as that type, so what is hashed on
 * the source side is exactly what was written. A value the target refuses
 * (a text with invalid UTF-8 or a NUL byte on PostgreSQL, a dangling
 * reference, a broken constraint in a tampered SQLite file) fails the copy;
 * one that would arrive changed fails the comparison. Either way the target
 * is rolled back.
 *
 * A PostgreSQL result is held whole in memory (libpq's default): a firm's
 * largest table, the analyses with their case texts, is a few tens of MB at
 * the plans' largest limits.
 */
#include "dbcopy.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* The tables of schema.c and schema_pg.c; tests/unit/worker/dbcopy.c checks
 * this list against the SQLite schema, so a new migration cannot be
 * forgotten here. */
const struct dbcopy_table dbcopy_tables[DBCOPY_NTABLES] = {
    {"users", "id, username, password, email, role, active, created_at, last_login", "ittttitt"},
    {"sessions", "id, user_id, created_at, expires_at, revoked", "tiiii"},
    {"login_attempts", "id, username, address, at, ok", "ittii"},
    {"ceseda_analyses",
     "id, user_id, case_text, success_rate, urgency, positive_factors, negative_factors, "
     "factors, base_score, raw_score, model, favorable, month, overage, created_at, erased_at, "
     "erased_by, erasure_basis",
     "iitrtiitrrtititttt"},
    {"invoices",
     "id, numero, year, seq, client_name, vat_rate_bp, montant_ht_cents, tva_cents, "
     "montant_ttc_cents, status, user_id, created_at, updated_at",
     "itiitiiiititt"},
    {"invoice_items",
     "id, invoice_id, position, description, quantity, unit_price_cents, total_cents", "iiitiii"},
    {"deadlines",
     "id, type, description, notification_date, deadline_date, deadline_at, rule_reference, "
     "status, user_id, created_at, done_at, responsible_user_id, fallback_user_id",
     "itttttttittii"},
    {"monthly_usage",
     "id, month, analyses_count, overage_count, users_active, created_at, updated_at", "itiiitt"},
    {"user_totp", "id, user_id, secret, enabled, last_counter, created_at", "iitiit"},
    {"recovery_codes", "id, user_id, code_hash, used_at", "iitt"},
    {"ical_feeds", "id, user_id, token_hash, created_at", "iitt"},
    {"firm_settings", "id, key_name, value, updated_at", "ittt"},
    {"audit_logs",
     "id, user_id, username, table_name, record_id, action, old_values, new_values, ip_address, "
     "gdpr_basis, created_at",
     "iittitttttt"},
    {"reminders_sent", "id, reminder_id, sent_at", "itt"},
    {"user_reminders", "id, user_id, mode, leads, updated_at", "iittt"},
};

#define SQL_MAX 512

/* err = "<what>[ <table>]: <the store's last error>"; returns -EIO. */
static int fail_at(char *err, size_t errlen, const char *what, const char *table, struct store *s)
{
    snprintf(err, errlen, "%s%s%s: %s", what, table ? " " : "", table ? table : "",
             store_errmsg(s));
    return -EIO;
}

static int select_sql(const struct dbcopy_table *t, struct store *s, char *sql, size_t n)
{
    /* The key is the first column; a text key orders by its bytes. */
    int len = snprintf(sql, n, "SELECT %s FROM %s ORDER BY id%s", t->columns, t->name,
                       t->types[0] == 't' ? store_text_order(s) : "");
    return len > 0 && (size_t)len < n ? 0 : -ENAMETOOLONG;
}

static int insert_sql(const struct dbcopy_table *t, char *sql, size_t n)
{
    size_t ncol = strlen(t->types);
    int len = snprintf(sql, n, "INSERT INTO %s (%s) VALUES (", t->name, t->columns);

    for (size_t i = 0; i < ncol && len > 0 && (size_t)len < n; i++)
        len += snprintf(sql + len, n - (size_t)len, "%s?%zu", i ? ", " : "", i + 1);
    if (len > 0 && (size_t)len < n)
        len += snprintf(sql + len, n - (size_t)len, ")");
    return len > 0 && (size_t)len < n ? 0 : -ENAMETOOLONG;
}

static void hash_str(crypto_hash_sha256_state *h, const char *s)
{
    crypto_hash_sha256_update(h, (const unsigned char *)s, strlen(s));
}

/*
 * Hash the current row of st (canonical encoding) and, when ins is not NULL,
 * bind its values to ins. 0, or -EIO when a bind failed.
 */
static int take_row(const struct dbcopy_table *t, struct store_stmt *st, struct store_stmt *ins,
                    crypto_hash_sha256_state *h)
{
    char num[48];
    int rc = 0;

    for (int c = 0; t->types[c] != '\0'; c++) {
        const char *text = store_column_text(st, c);
        if (text == NULL) {
            hash_str(h, "N;");
            if (ins != NULL)
                rc |= store_bind_null(ins, c + 1);
            continue;
        }
        switch (t->types[c]) {
        case 'i': {
            int64_t v = store_column_int64(st, c);
            snprintf(num, sizeof num, "I%" PRId64 ";", v);
            hash_str(h, num);
            if (ins != NULL)
                rc |= store_bind_int64(ins, c + 1, v);
            break;
        }
        case 'r': {
            double v = store_column_double(st, c);
            snprintf(num, sizeof num, "R%.17g;", v);
            hash_str(h, num);
            if (ins != NULL)
                rc |= store_bind_double(ins, c + 1, v);
            break;
        }
        default: {
            int len = store_column_bytes(st, c);
            snprintf(num, sizeof num, "T%d:", len);
            hash_str(h, num);
            crypto_hash_sha256_update(h, (const unsigned char *)text, (size_t)len);
            hash_str(h, ";");
            if (ins != NULL)
                rc |= store_bind_textn(ins, c + 1, text, len);
            break;
        }
        }
    }
    hash_str(h, "\n");
    return rc != 0 ? -EIO : 0;
}

static void hex_sum(crypto_hash_sha256_state *h, struct dbcopy_sum *sum)
{
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(h, out);
    sodium_bin2hex(sum->sha256, sizeof sum->sha256, out, sizeof out);
}

/*
 * Read table t of from (inside a transaction the caller opened), summing it
 * into sum; with to, insert every row there too. 0 or -EIO (err set).
 */
static int pass_table(const struct dbcopy_table *t, struct store *from, struct store *to,
                      struct dbcopy_sum *sum, char *err, size_t errlen)
{
    char sql[SQL_MAX];
    struct store_stmt *st = NULL, *ins = NULL;
    crypto_hash_sha256_state h;
    int rc, ret = -EIO;

    sum->rows = 0;
    crypto_hash_sha256_init(&h);
    if (select_sql(t, from, sql, sizeof sql) < 0) {
        snprintf(err, errlen, "%s: statement too long", t->name);
        return -EIO;
    }
    if (store_prepare(from, sql, &st) < 0)
        return fail_at(err, errlen, "reading", t->name, from);
    if (to != NULL) {
        char isql[SQL_MAX];
        if (insert_sql(t, isql, sizeof isql) < 0 || store_prepare(to, isql, &ins) < 0) {
            fail_at(err, errlen, "writing", t->name, to);
            goto out;
        }
    }
    while ((rc = store_step(st)) == STORE_ROW) {
        if (take_row(t, st, ins, &h) < 0) {
            fail_at(err, errlen, "binding a value of", t->name, to);
            goto out;
        }
        sum->rows++;
        if (ins != NULL) {
            int irc = store_step(ins);
            if (irc != STORE_DONE) {
                snprintf(err, errlen, "writing %s, row %" PRId64 ": %s", t->name, sum->rows,
                         store_errmsg(to));
                goto out;
            }
            store_reset(ins);
        }
    }
    if (rc != STORE_DONE) {
        fail_at(err, errlen, "reading", t->name, from);
        goto out;
    }
    if (to != NULL && t->types[0] == 'i' && store_ids_follow(to, t->name) < 0) {
        fail_at(err, errlen, "setting the next id of", t->name, to);
        goto out;
    }
    hex_sum(&h, sum);
    ret = 0;
out:
    store_release(st);
    store_release(ins);
    return ret;
}

static void end_txn(struct store *s, const char *how)
{
    if (store_in_txn(s))
        store_exec(s, how);
}

static int sums_of(struct store *s, struct dbcopy_sum sums[DBCOPY_NTABLES], char *err,
                   size_t errlen)
{
    for (int i = 0; i < DBCOPY_NTABLES; i++)
        if (pass_table(&dbcopy_tables[i], s, NULL, &sums[i], err, errlen) < 0)
            return -EIO;
    return 0;
}

int dbcopy_checksum(struct store *s, struct dbcopy_sum sums[DBCOPY_NTABLES], char *err,
                    size_t errlen)
{
    int rc;

    if (store_begin_snapshot(s) < 0)
        return fail_at(err, errlen, "starting a read transaction", NULL, s);
    rc = sums_of(s, sums, err, errlen);
    end_txn(s, "COMMIT");
    return rc;
}

/* 1 when any table of s (in its open transaction) has a row, 0, or -EIO. */
static int holds_data(struct store *s, char *err, size_t errlen)
{
    char sql[SQL_MAX];

    for (int i = 0; i < DBCOPY_NTABLES; i++) {
        struct store_stmt *st = NULL;
        int found;
        snprintf(sql, sizeof sql, "SELECT 1 FROM %s LIMIT 1", dbcopy_tables[i].name);
        if (store_prepare(s, sql, &st) < 0)
            return fail_at(err, errlen, "reading", dbcopy_tables[i].name, s);
        found = store_step(st);
        store_release(st);
        if (found == STORE_ROW) {
            snprintf(err, errlen, "target not empty: table %s has rows", dbcopy_tables[i].name);
            return 1;
        }
        if (found != STORE_DONE)
            return fail_at(err, errlen, "reading", dbcopy_tables[i].name, s);
    }
    return 0;
}

int dbcopy_copy(struct store *from, struct store *to, struct dbcopy_sum sums[DBCOPY_NTABLES],
                char *err, size_t errlen)
{
    struct dbcopy_sum check[DBCOPY_NTABLES];
    int rc = -EIO;

    if (store_begin_write(to) < 0)
        return fail_at(err, errlen, "starting the target's transaction", NULL, to);
    rc = holds_data(to, err, errlen);
    if (rc != 0) {
        end_txn(to, "ROLLBACK");
        return rc > 0 ? -ENOTEMPTY : rc;
    }
    rc = -EIO;
    if (store_begin_snapshot(from) < 0) {
        fail_at(err, errlen, "starting the source's read transaction", NULL, from);
        goto out;
    }
    for (int i = 0; i < DBCOPY_NTABLES; i++)
        if (pass_table(&dbcopy_tables[i], from, to, &sums[i], err, errlen) < 0)
            goto out;
    /* Read back what the target now holds, in the same transaction. */
    if (sums_of(to, check, err, errlen) < 0)
        goto out;
    for (int i = 0; i < DBCOPY_NTABLES; i++) {
        if (check[i].rows != sums[i].rows || strcmp(check[i].sha256, sums[i].sha256) != 0) {
            snprintf(err, errlen,
                     "verification failed for table %s: source %" PRId64 " rows sha256 %.12s…, "
                     "target %" PRId64 " rows sha256 %.12s…",
                     dbcopy_tables[i].name, sums[i].rows, sums[i].sha256, check[i].rows,
                     check[i].sha256);
            goto out;
        }
    }
    if (store_exec(to, "COMMIT") < 0) {
        fail_at(err, errlen, "committing the target", NULL, to);
        goto out;
    }
    rc = 0;
out:
    end_txn(from, "COMMIT");
    if (rc < 0)
        end_txn(to, "ROLLBACK");
    return rc;
}

json_t *dbcopy_sums_json(const struct dbcopy_sum sums[DBCOPY_NTABLES])
{
    json_t *o = json_object();

    for (int i = 0; o != NULL && i < DBCOPY_NTABLES; i++) {
        json_t *t =
            json_pack("{s:I,s:s}", "rows", (json_int_t)sums[i].rows, "sha256", sums[i].sha256);
        if (t == NULL || json_object_set_new(o, dbcopy_tables[i].name, t) < 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}
