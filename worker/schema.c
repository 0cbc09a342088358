/*
 * schema.c — the worker database's migrations (see schema.h for the rules).
 *
 * Migration 1 creates every table, the HTTP layer's (users, sessions,
 * login_attempts) and the model layer's (ceseda_analyses, invoices,
 * invoice_items, deadlines, monthly_usage). The seed's column names are kept
 * where they exist so a firm's data reads the same as in the seed's
 * application; money columns are new integer-cent columns instead of REAL.
 */
#include "schema.h"

#include <errno.h>
#include <stdio.h>

static const char migration_1[] =
    /* Accounts of the firm's staff. password is an argon2id string. */
    "CREATE TABLE IF NOT EXISTS users ("
    " id INTEGER PRIMARY KEY,"
    " username TEXT NOT NULL UNIQUE,"
    " password TEXT NOT NULL,"
    " email TEXT,"
    " role TEXT NOT NULL CHECK (role IN ('admin','lawyer','assistant')),"
    " active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0,1)),"
    " created_at TEXT NOT NULL,"
    " last_login TEXT);"
    /* Server-side session records: the token carries the id, revocation is here. */
    "CREATE TABLE IF NOT EXISTS sessions ("
    " id TEXT PRIMARY KEY,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);"
    /* Login throttling looks back over a time window per username and address. */
    "CREATE TABLE IF NOT EXISTS login_attempts ("
    " id INTEGER PRIMARY KEY,"
    " username TEXT,"
    " address TEXT,"
    " at INTEGER NOT NULL,"
    " ok INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS login_attempts_user_at ON login_attempts(username, at);"
    "CREATE INDEX IF NOT EXISTS login_attempts_addr_at ON login_attempts(address, at);"
    /*
     * Rule-based case assessments. factors is the JSON array that explains the
     * score: raw_score = base_score + the factors' weights, and success_rate
     * is raw_score clamped by the model; month ("YYYY-MM") and overage make the monthly count and
     * the overage bill a query on this table, monthly_usage being a summary of it.
     */
    "CREATE TABLE IF NOT EXISTS ceseda_analyses ("
    " id INTEGER PRIMARY KEY,"
    " user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,"
    " case_text TEXT NOT NULL,"
    " success_rate REAL NOT NULL CHECK (success_rate >= 0 AND success_rate <= 1),"
    " urgency TEXT NOT NULL CHECK (urgency IN ('critical','high','normal','low')),"
    " positive_factors INTEGER NOT NULL DEFAULT 0,"
    " negative_factors INTEGER NOT NULL DEFAULT 0,"
    " factors TEXT NOT NULL DEFAULT '[]',"
    " base_score REAL NOT NULL DEFAULT 0,"
    " raw_score REAL NOT NULL DEFAULT 0,"
    " model TEXT NOT NULL,"
    " favorable INTEGER NOT NULL DEFAULT 0 CHECK (favorable IN (0,1)),"
    " month TEXT NOT NULL,"
    " overage INTEGER NOT NULL DEFAULT 0 CHECK (overage IN (0,1)),"
    " created_at TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS ceseda_analyses_month ON ceseda_analyses(month);"
    /*
     * Invoices: numero is "YYYY-NNNN", derived from (year, seq); the UNIQUE
     * pair is the last line of defence against a duplicate number, the first
     * being the allocation inside the inserting BEGIN IMMEDIATE transaction.
     */
    "CREATE TABLE IF NOT EXISTS invoices ("
    " id INTEGER PRIMARY KEY,"
    " numero TEXT NOT NULL UNIQUE,"
    " year INTEGER NOT NULL,"
    " seq INTEGER NOT NULL CHECK (seq > 0),"
    " client_name TEXT NOT NULL,"
    " vat_rate_bp INTEGER NOT NULL CHECK (vat_rate_bp BETWEEN 0 AND 10000),"
    " montant_ht_cents INTEGER NOT NULL CHECK (montant_ht_cents >= 0),"
    " tva_cents INTEGER NOT NULL CHECK (tva_cents >= 0),"
    " montant_ttc_cents INTEGER NOT NULL CHECK (montant_ttc_cents >= 0),"
    " status TEXT NOT NULL DEFAULT 'draft'"
    "  CHECK (status IN ('draft','sent','paid','cancelled')),"
    " user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,"
    " created_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL,"
    " UNIQUE (year, seq));"
    "CREATE TABLE IF NOT EXISTS invoice_items ("
    " id INTEGER PRIMARY KEY,"
    " invoice_id INTEGER NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,"
    " position INTEGER NOT NULL,"
    " description TEXT NOT NULL,"
    " quantity INTEGER NOT NULL CHECK (quantity > 0),"
    " unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),"
    " total_cents INTEGER NOT NULL CHECK (total_cents >= 0),"
    " UNIQUE (invoice_id, position));"
    /*
     * Legal deadlines. deadline_date is the last day to act; deadline_at is
     * the exact instant ("YYYY-MM-DDTHH:MM") for rules counted in hours and
     * NULL otherwise. urgency is not stored: it depends on the day it is read.
     */
    "CREATE TABLE IF NOT EXISTS deadlines ("
    " id INTEGER PRIMARY KEY,"
    " type TEXT NOT NULL,"
    " description TEXT NOT NULL DEFAULT '',"
    " notification_date TEXT NOT NULL,"
    " deadline_date TEXT NOT NULL,"
    " deadline_at TEXT,"
    " rule_reference TEXT NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','done')),"
    " user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,"
    " created_at TEXT NOT NULL,"
    " done_at TEXT);"
    "CREATE INDEX IF NOT EXISTS deadlines_status_date ON deadlines(status, deadline_date);"
    /* One summary row per calendar month ("YYYY-MM"), kept current by UPSERT. */
    "CREATE TABLE IF NOT EXISTS monthly_usage ("
    " id INTEGER PRIMARY KEY,"
    " month TEXT NOT NULL UNIQUE,"
    " analyses_count INTEGER NOT NULL DEFAULT 0,"
    " overage_count INTEGER NOT NULL DEFAULT 0,"
    " users_active INTEGER NOT NULL DEFAULT 0,"
    " created_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL);";

/*
 * Migration 2 (issue 21): the second factor (user_totp: the TOTP secret,
 * sealed with a key derived from SECRET_KEY, and the last counter accepted;
 * recovery_codes: keyed hashes, each used once), the per-user calendar feed
 * (ical_feeds: the token's keyed hash only), the firm's settings (TOTP
 * enforcement, retention periods) and the GDPR access log (audit_logs, seed
 * 004's AUDIT_LOGS fields). An erased client file keeps its row with the
 * record of the erasure (erased_at, erased_by, erasure_basis).
 */
static const char migration_2[] =
    "CREATE TABLE IF NOT EXISTS user_totp ("
    " id INTEGER PRIMARY KEY,"
    " user_id INTEGER NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,"
    " secret TEXT NOT NULL,"
    " enabled INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0,1)),"
    " last_counter INTEGER NOT NULL DEFAULT 0,"
    " created_at TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS recovery_codes ("
    " id INTEGER PRIMARY KEY,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " code_hash TEXT NOT NULL,"
    " used_at TEXT);"
    "CREATE TABLE IF NOT EXISTS ical_feeds ("
    " id INTEGER PRIMARY KEY,"
    " user_id INTEGER NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,"
    " token_hash TEXT NOT NULL UNIQUE,"
    " created_at TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS firm_settings ("
    " id INTEGER PRIMARY KEY,"
    " key_name TEXT NOT NULL UNIQUE,"
    " value TEXT NOT NULL,"
    " updated_at TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit_logs ("
    " id INTEGER PRIMARY KEY,"
    " user_id INTEGER,"
    " username TEXT,"
    " table_name TEXT NOT NULL,"
    " record_id INTEGER,"
    " action TEXT NOT NULL,"
    " old_values TEXT,"
    " new_values TEXT,"
    " ip_address TEXT,"
    " gdpr_basis TEXT,"
    " created_at TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS audit_logs_record ON audit_logs(table_name, record_id);"
    "ALTER TABLE ceseda_analyses ADD COLUMN erased_at TEXT;"
    "ALTER TABLE ceseda_analyses ADD COLUMN erased_by TEXT;"
    "ALTER TABLE ceseda_analyses ADD COLUMN erasure_basis TEXT;";

/* Migration 3 (issue 21): the deadline reminders tenantd reported sent
 * (worker/reminders.c), one row per "<deadline id>-<lead>", so each is
 * mailed once. */
static const char migration_3[] = "CREATE TABLE IF NOT EXISTS reminders_sent ("
                                  " id INTEGER PRIMARY KEY,"
                                  " reminder_id TEXT NOT NULL UNIQUE,"
                                  " sent_at TEXT NOT NULL);";

/* Migration 4 (issue 21): each deadline's responsible lawyer (the creator
 * until changed) and optional fallback, who receive its reminders; each
 * user's choice of reminder lead times (reminder_prefs.h); the reminders
 * sent "on the day" are renamed from "-day" to "-morning". */
static const char migration_4[] =
    "ALTER TABLE deadlines ADD COLUMN responsible_user_id INTEGER"
    " REFERENCES users(id) ON DELETE SET NULL;"
    "ALTER TABLE deadlines ADD COLUMN fallback_user_id INTEGER"
    " REFERENCES users(id) ON DELETE SET NULL;"
    "UPDATE deadlines SET responsible_user_id = user_id;"
    "CREATE TABLE IF NOT EXISTS user_reminders ("
    " id INTEGER PRIMARY KEY,"
    " user_id INTEGER NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,"
    " mode TEXT NOT NULL CHECK (mode IN ('firm','custom','off')),"
    " leads TEXT,"
    " updated_at TEXT NOT NULL);"
    "UPDATE reminders_sent SET reminder_id ="
    " substr(reminder_id, 1, length(reminder_id) - 3) || 'morning'"
    " WHERE reminder_id LIKE '%-day';";

const char *const schema_migrations[] = {
    migration_1, migration_2, migration_3, migration_4, NULL,
};

const int schema_version = (int)(sizeof schema_migrations / sizeof schema_migrations[0]) - 1;

static void set_err(char *err, size_t errlen, const char *what, sqlite3 *db)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
}

static int user_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return 0;
    }
    sqlite3_finalize(st);
    return -EIO;
}

int schema_apply(sqlite3 *db, char *err, size_t errlen)
{
    int v = 0;
    if (user_version(db, &v) < 0) {
        set_err(err, errlen, "reading user_version", db);
        return -EIO;
    }
    if (v > schema_version) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen,
                     "the database is at schema version %d, newer than this "
                     "program's %d",
                     v, schema_version);
        return -EINVAL;
    }
    for (; v < schema_version; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
            set_err(err, errlen, "starting a migration", db);
            return -EIO;
        }
        if (sqlite3_exec(db, schema_migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK) {
            set_err(err, errlen, "applying a migration", db);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -EIO;
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            set_err(err, errlen, "committing a migration", db);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -EIO;
        }
    }
    return 0;
}
