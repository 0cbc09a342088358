/*
 * auth.c — see auth.h.
 *
 * The module keeps the database handle, the settings and the derived token
 * key in statics: there is one tenant and one connection per process. The
 * statement checking a token runs on every API request and is prepared once;
 * the rest are prepared when used (logins and user changes are rare).
 *
 * The session cache: every API request carries a token, and checking it costs
 * an HMAC and a join of sessions and users, more than the rest of a small GET.
 * So a token that passed the full check is remembered (the whole token, its
 * user and the session's expiry) in a small direct-mapped table indexed by the
 * session id. A later request presenting the very same token bytes (compared
 * in constant time) is the same session and skips both; nothing weaker than
 * the full check ever fills the table. The cache is exact because this process
 * is the only writer of sessions and users while it runs (one process per
 * tenant; `--create-admin` only adds users): auth_logout() drops the entry
 * before it answers, and any change to a user must call auth_forget_user().
 * Expiry is checked against the remembered expires_at on every hit.
 * Not here: HTTP (http_routes.c decides who may call what and runs the hashing
 * steps on its thread pool).
 */
#include "auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "env.h"
#include "jsonv.h"
#include "log.h"
#include "model.h"
#include "store.h"
#include "second_factor.h"

#define MAC_B64_LEN 43 /* base64url of crypto_auth_BYTES (32) */
#define TOKEN_LEN (AUTH_SID_LEN + 1 + MAC_B64_LEN)

static struct store *db;
static const struct wenv *env;
static unsigned char key[crypto_auth_KEYBYTES];
/* Requests run on several threads when the database is a server (store.h):
 * the session cache is shared, so it is read and written under this lock. */
static pthread_mutex_t sessions_lock = PTHREAD_MUTEX_INITIALIZER;
#define VERIFY_SQL                                                                                 \
    "SELECT u.id, u.username, u.role, s.expires_at FROM sessions s"                                \
    " JOIN users u ON u.id = s.user_id"                                                            \
    " WHERE s.id = ?1 AND s.revoked = 0 AND s.expires_at > ?2"                                     \
    " AND u.active = 1"

#define SESSION_CACHE_SIZE 64 /* a power of two */
struct session_entry {
    int used;
    char token[TOKEN_LEN];
    time_t expires_at;
    struct wuser user;
};
static struct session_entry sessions[SESSION_CACHE_SIZE];

/* The slot of a session id: its first characters are random base64url. */
static struct session_entry *session_slot(const char *sid)
{
    uint32_t h = 0;
    for (int i = 0; i < 4; i++)
        h = h * 64 + (unsigned char)sid[i];
    return &sessions[h & (SESSION_CACHE_SIZE - 1)];
}

/* The dummy hash an unknown username is checked against (see verify). */
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[crypto_pwhash_STRBYTES];
static unsigned long long cost_ops;
static size_t cost_mem;

static const char *const role_names[] = {"admin", "lawyer", "assistant", NULL};

const char *auth_role_name(enum wrole r)
{
    return (unsigned)r <= ROLE_ASSISTANT ? role_names[r] : "assistant";
}

static int role_parse(const char *s, enum wrole *out)
{
    for (int i = 0; role_names[i]; i++) {
        if (strcmp(s, role_names[i]) == 0) {
            *out = (enum wrole)i;
            return 0;
        }
    }
    return -EINVAL;
}

static void iso_time(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void log_sql(const char *what)
{
    log_error(env ? env->client_id : NULL, "auth: %s: %s", what, store_errmsg(db));
}

int auth_init(const struct wenv *e, struct store *handle)
{
    static const char domain[] = "tenantd worker session key v1";
    crypto_generichash_state st;
    uint32_t n;

    env = e;
    db = handle;
    wenv_pwhash_cost(e, &cost_ops, &cost_mem);
    /* Lengths are hashed in front of each part so that no two (id, secret)
     * pairs give the same input. */
    crypto_generichash_init(&st, NULL, 0, sizeof key);
    crypto_generichash_update(&st, (const unsigned char *)domain, sizeof domain);
    n = (uint32_t)strlen(e->client_id);
    crypto_generichash_update(&st, (const unsigned char *)&n, sizeof n);
    crypto_generichash_update(&st, (const unsigned char *)e->client_id, n);
    n = (uint32_t)strlen(e->secret_key);
    crypto_generichash_update(&st, (const unsigned char *)&n, sizeof n);
    crypto_generichash_update(&st, (const unsigned char *)e->secret_key, n);
    crypto_generichash_final(&st, key, sizeof key);

    memset(sessions, 0, sizeof sessions);
    return 0;
}

void auth_close(void)
{
    sodium_memzero(key, sizeof key);
    sodium_memzero(sessions, sizeof sessions);
}

/* ---- tokens ----------------------------------------------------------------- */

static void make_token(const char *sid, char out[TOKEN_LEN + 1])
{
    unsigned char mac[crypto_auth_BYTES];

    crypto_auth(mac, (const unsigned char *)sid, AUTH_SID_LEN, key);
    memcpy(out, sid, AUTH_SID_LEN);
    out[AUTH_SID_LEN] = '.';
    sodium_bin2base64(out + AUTH_SID_LEN + 1, MAC_B64_LEN + 1, mac, sizeof mac,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int auth_verify(const char *token, size_t len, time_t now, struct wuser *u,
                char sid[AUTH_SID_LEN + 1])
{
    unsigned char mac[crypto_auth_BYTES];
    struct store_stmt *verify_st = NULL;
    size_t maclen = 0;
    int rc, ret = -EACCES;

    if (len != TOKEN_LEN || token[AUTH_SID_LEN] != '.')
        return -EACCES;
    struct session_entry *e = session_slot(token);
    pthread_mutex_lock(&sessions_lock);
    if (e->used && sodium_memcmp(e->token, token, TOKEN_LEN) == 0) {
        if (now < e->expires_at) {
            *u = e->user;
            pthread_mutex_unlock(&sessions_lock);
            memcpy(sid, token, AUTH_SID_LEN);
            sid[AUTH_SID_LEN] = '\0';
            return 0;
        }
        sodium_memzero(e, sizeof *e); /* expired: the full check says so */
    }
    pthread_mutex_unlock(&sessions_lock);
    if (sodium_base642bin(mac, sizeof mac, token + AUTH_SID_LEN + 1, MAC_B64_LEN, NULL, &maclen,
                          NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        maclen != sizeof mac)
        return -EACCES;
    if (crypto_auth_verify(mac, (const unsigned char *)token, AUTH_SID_LEN, key) != 0)
        return -EACCES;

    memcpy(sid, token, AUTH_SID_LEN);
    sid[AUTH_SID_LEN] = '\0';
    if (store_prepare(db, VERIFY_SQL, &verify_st) < 0) {
        log_sql("preparing the session check");
        return -EIO;
    }
    store_bind_textn(verify_st, 1, sid, AUTH_SID_LEN);
    store_bind_int64(verify_st, 2, (int64_t)now);
    rc = store_step(verify_st);
    if (rc == STORE_ROW) {
        const char *name = (const char *)store_column_text(verify_st, 1);
        const char *role = (const char *)store_column_text(verify_st, 2);
        u->id = store_column_int64(verify_st, 0);
        snprintf(u->username, sizeof u->username, "%s", name ? name : "");
        if (role == NULL || role_parse(role, &u->role) < 0)
            u->role = ROLE_ASSISTANT; /* the least privilege, should a row be odd */
        ret = 0;
        pthread_mutex_lock(&sessions_lock);
        e->used = 1;
        memcpy(e->token, token, TOKEN_LEN);
        e->expires_at = (time_t)store_column_int64(verify_st, 3);
        e->user = *u;
        pthread_mutex_unlock(&sessions_lock);
    } else if (rc != STORE_DONE) {
        log_sql("checking a session");
        ret = -EIO;
    }
    store_release(verify_st);
    return ret;
}

void auth_forget_user(int64_t user_id)
{
    pthread_mutex_lock(&sessions_lock);
    for (size_t i = 0; i < SESSION_CACHE_SIZE; i++)
        if (sessions[i].used && sessions[i].user.id == user_id)
            sodium_memzero(&sessions[i], sizeof sessions[i]);
    pthread_mutex_unlock(&sessions_lock);
}

int auth_logout(const char *sid)
{
    struct session_entry *e = session_slot(sid);
    struct store_stmt *st = NULL;
    int ok;

    /* Forgotten first: even if the update fails below, this process stops
     * accepting the token at once (the next request re-checks the row). */
    pthread_mutex_lock(&sessions_lock);
    if (e->used && memcmp(e->token, sid, AUTH_SID_LEN) == 0)
        sodium_memzero(e, sizeof *e);
    pthread_mutex_unlock(&sessions_lock);

    ok = store_prepare(db, "UPDATE sessions SET revoked = 1 WHERE id = ?1", &st) == 0;
    if (ok) {
        store_bind_text(st, 1, sid);
        ok = store_step(st) == STORE_DONE;
    }
    if (!ok)
        log_sql("revoking a session");
    store_release(st);
    return ok ? 0 : -EIO;
}

/* ---- small SQL helpers ---------------------------------------------------- */

static int exec_sql(const char *sql)
{
    if (store_exec(db, sql) != 0) {
        log_sql(sql);
        return -EIO;
    }
    return 0;
}

static int user_exists(const char *username)
{
    struct store_stmt *st = NULL;
    int r = -EIO;

    if (store_prepare(db, "SELECT 1 FROM users WHERE username = ?1", &st) == 0) {
        store_bind_text(st, 1, username);
        int rc = store_step(st);
        r = rc == STORE_ROW ? 1 : rc == STORE_DONE ? 0 : -EIO;
    }
    if (r < 0)
        log_sql("looking up a username");
    store_release(st);
    return r;
}

/* One count(*) and one min/max(at) over login_attempts: ?1 the username or
 * address, ?2 the window's start, ?3 the address when given. */
static int count_failures(const char *sql, const char *value, time_t since, const char *address,
                          int64_t *count, int64_t *at)
{
    struct store_stmt *st = NULL;
    int r = -EIO;

    if (store_prepare(db, sql, &st) == 0) {
        store_bind_text(st, 1, value);
        store_bind_int64(st, 2, (int64_t)since);
        if (address)
            store_bind_text(st, 3, address);
        if (store_step(st) == STORE_ROW) {
            *count = store_column_int64(st, 0);
            *at = store_column_int64(st, 1);
            r = 0;
        }
    }
    if (r < 0)
        log_sql("counting failed logins");
    store_release(st);
    return r;
}

int64_t auth_throttle(const struct auth_failures *f, time_t now, const char **what)
{
    int64_t wait;

    if (f->addr >= AUTH_FAIL_MAX_ADDR) {
        wait = f->addr_oldest + AUTH_FAIL_WINDOW - (int64_t)now;
        *what = "address";
        return wait < 1 ? 1 : wait;
    }
    if (f->pair >= AUTH_FAIL_FREE) {
        int64_t delay = AUTH_DELAY_BASE;
        for (int64_t k = AUTH_FAIL_FREE; k < f->pair && delay < AUTH_DELAY_MAX; k++)
            delay *= 2;
        if (delay > AUTH_DELAY_MAX)
            delay = AUTH_DELAY_MAX;
        wait = f->pair_last + delay - (int64_t)now;
        if (wait > 0) {
            *what = "username from this address";
            return wait;
        }
    }
    /* The ceiling bounds the guesses on one account whatever the number of
     * addresses (they are cheap: a botnet, IPv6, a forged X-Real-IP), but
     * only ever by a couple of seconds, so it never locks the firm out: the
     * right password from a fresh address gets in on its first or second
     * try. */
    if (f->account >= AUTH_FAIL_MAX_ACCOUNT) {
        wait = f->account_last + AUTH_ACCOUNT_GAP - (int64_t)now;
        if (wait > 0) {
            *what = "account";
            return wait;
        }
    }
    return 0;
}

static int valid_username(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > AUTH_USERNAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '@'))
            return 0;
    }
    return 1;
}

/* ---- login ----------------------------------------------------------------- */

static const struct jsonv_field login_spec[] = {
    {"username", JSONV_STRING, JSONV_REQUIRED, 1, AUTH_USERNAME_MAX, NULL, NULL},
    {"password", JSONV_STRING, JSONV_REQUIRED, 1, AUTH_PASSWORD_MAX, NULL, NULL},
    {"code", JSONV_STRING, 0, 1, SF_CODE_MAX, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static struct wres too_many(const char *what, int64_t after)
{
    struct wres w;

    w = wres_error(429, "too_many_attempts",
                   "too many failed logins for this %s; retry in %lld seconds", what,
                   (long long)after);
    if (w.body)
        json_object_set_new(w.body, "retry_after", json_integer(after));
    return w;
}

int auth_login_begin(struct auth_login *l, const struct wctx *c, const json_t *body,
                     const char *address, struct wres *res)
{
    time_t since = c->now - AUTH_FAIL_WINDOW;
    struct auth_failures f = {0};
    const char *what = "";
    int64_t wait;
    struct store_stmt *st = NULL;

    if (jsonv_reject(body, login_spec, res))
        return -EINVAL;
    snprintf(l->username, sizeof l->username, "%s",
             json_string_value(json_object_get(body, "username")));
    snprintf(l->password, sizeof l->password, "%s",
             json_string_value(json_object_get(body, "password")));
    if (json_object_get(body, "code") != NULL)
        snprintf(l->code, sizeof l->code, "%s", json_string_value(json_object_get(body, "code")));
    snprintf(l->address, sizeof l->address, "%s", address);
    l->opslimit = cost_ops;
    l->memlimit = cost_mem;

    /* The counts and the attempt's record are one write transaction: with
     * PostgreSQL logins run on several threads at once, and without the
     * write lock a burst of parallel guesses would all read the same counts
     * and all pass. (With SQLite it is also the one commit the insert made.) */
    if (store_begin_write(db) < 0)
        goto fail;
    /* Failures before a success do not count: whoever got in has proven who
     * they are. For a pair, only that pair's success resets it, so the
     * firm's login elsewhere does not hand a guesser fresh attempts. */
    if (count_failures("SELECT count(*), coalesce(max(at), 0) FROM login_attempts"
                       " WHERE username = ?1 AND address = ?3 AND ok = 0 AND at > ?2 AND id > "
                       "coalesce((SELECT max(id) FROM login_attempts"
                       " WHERE username = ?1 AND address = ?3 AND ok = 1), 0)",
                       l->username, since, l->address, &f.pair, &f.pair_last) < 0 ||
        count_failures("SELECT count(*), coalesce(min(at), 0) FROM login_attempts"
                       " WHERE address = ?1 AND ok = 0 AND at > ?2",
                       l->address, since, NULL, &f.addr, &f.addr_oldest) < 0 ||
        count_failures("SELECT count(*), coalesce(max(at), 0) FROM login_attempts"
                       " WHERE username = ?1 AND ok = 0 AND at > ?2 AND id > coalesce("
                       "(SELECT max(id) FROM login_attempts WHERE username = ?1 AND ok = 1), 0)",
                       l->username, since, NULL, &f.account, &f.account_last) < 0)
        goto fail;
    wait = auth_throttle(&f, c->now, &what);
    if (wait > 0) {
        *res = too_many(what, wait);
        goto refused;
    }

    /* Recorded as a failure now, turned into a success by finish: attempts
     * still being hashed count against the limit. */
    if (store_prepare(db,
                      "INSERT INTO login_attempts (username, address, at, ok)"
                      " VALUES (?1, ?2, ?3, 0)",
                      &st) != 0)
        goto fail;
    store_bind_text(st, 1, l->username);
    store_bind_text(st, 2, l->address);
    store_bind_int64(st, 3, (int64_t)c->now);
    if (store_step(st) != STORE_DONE)
        goto fail;
    l->attempt_id = store_last_id(db);
    store_release(st);
    st = NULL;
    if (store_exec(db, "COMMIT") < 0)
        goto fail;

    st = NULL;
    if (store_prepare(db, "SELECT id, password FROM users WHERE username = ?1 AND active = 1",
                      &st) != 0)
        goto fail;
    store_bind_text(st, 1, l->username);
    int rc = store_step(st);
    if (rc == STORE_ROW) {
        const char *h = (const char *)store_column_text(st, 1);
        l->user_id = store_column_int64(st, 0);
        snprintf(l->hash, sizeof l->hash, "%s", h ? h : "");
    } else if (rc != STORE_DONE) {
        goto fail;
    }
    store_release(st);
    return 0;

fail:
    log_sql("starting a login");
    store_release(st);
    *res = wres_error(500, "internal", "the login could not be processed");
refused:
    if (store_in_txn(db))
        store_exec(db, "ROLLBACK");
    sodium_memzero(l->password, sizeof l->password);
    return -EIO;
}

static void make_dummy(void)
{
    char pw[33];
    randombytes_buf(pw, 32);
    for (int i = 0; i < 32; i++)
        pw[i] = (char)('a' + ((unsigned char)pw[i] % 26));
    pw[32] = '\0';
    if (crypto_pwhash_str(dummy_hash, pw, 32, cost_ops, cost_mem) != 0)
        dummy_hash[0] = '\0';
}

void auth_login_verify(struct auth_login *l)
{
    size_t n = strlen(l->password);

    l->ok = 0;
    l->rehash = 0;
    if (l->hash[0] == '\0') {
        /* Same work as for a real user, so the time taken does not tell
         * whether the username exists. */
        pthread_once(&dummy_once, make_dummy);
        if (dummy_hash[0] && crypto_pwhash_str_verify(dummy_hash, l->password, n) == 0)
            l->ok = 0; /* a guessed dummy password still opens nothing */
        return;
    }
    l->ok = crypto_pwhash_str_verify(l->hash, l->password, n) == 0;
    if (l->ok && crypto_pwhash_str_needs_rehash(l->hash, l->opslimit, l->memlimit) != 0)
        l->rehash = crypto_pwhash_str(l->newhash, l->password, n, l->opslimit, l->memlimit) == 0;
}

static json_t *user_json(struct store_stmt *st)
{
    /* Columns: id, username, email, role, active, created_at, last_login. */
    json_t *u = json_object();
    const char *email = (const char *)store_column_text(st, 2);
    const char *last = (const char *)store_column_text(st, 6);

    json_object_set_new(u, "id", json_integer(store_column_int64(st, 0)));
    json_object_set_new(u, "username", json_string((const char *)store_column_text(st, 1)));
    json_object_set_new(u, "email", email ? json_string(email) : json_null());
    json_object_set_new(u, "role", json_string((const char *)store_column_text(st, 3)));
    json_object_set_new(u, "active", json_boolean((int)store_column_int64(st, 4)));
    json_object_set_new(u, "created_at", json_string((const char *)store_column_text(st, 5)));
    json_object_set_new(u, "last_login", last ? json_string(last) : json_null());
    return u;
}

#define USER_COLUMNS "id, username, email, role, active, created_at, last_login"

static json_t *user_by_id(int64_t id)
{
    struct store_stmt *st = NULL;
    json_t *u = NULL;

    if (store_prepare(db, "SELECT " USER_COLUMNS " FROM users WHERE id = ?1", &st) == 0) {
        store_bind_int64(st, 1, id);
        if (store_step(st) == STORE_ROW)
            u = user_json(st);
    }
    store_release(st);
    return u;
}

static int step_done(struct store_stmt *st)
{
    int ok = store_step(st) == STORE_DONE;
    store_release(st);
    return ok ? 0 : -EIO;
}

struct wres auth_login_finish(struct auth_login *l, const struct wctx *c)
{
    unsigned char raw[16];
    char sid[AUTH_SID_LEN + 1], token[TOKEN_LEN + 1], now_s[32], exp_s[32];
    time_t expires = c->now + AUTH_SESSION_TTL;
    struct store_stmt *st = NULL;
    json_t *user, *out;

    struct wres sf;
    int must_enrol = 0;

    sodium_memzero(l->password, sizeof l->password);
    if (!l->ok) {
        sodium_memzero(l->code, sizeof l->code);
        return wres_error(401, "invalid_credentials", "wrong username or password");
    }
    /* The second factor, after the password: a refusal leaves the attempt a
     * failure, so wrong codes are throttled like wrong passwords. */
    int sfr = sf_login_check(c, l->user_id, l->code, &must_enrol, &sf);
    sodium_memzero(l->code, sizeof l->code);
    if (sfr < 0)
        return sf;

    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(sid, sizeof sid, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    iso_time(c->now, now_s);
    iso_time(expires, exp_s);

    if (store_begin_write(db) < 0)
        goto fail;
    if (store_prepare(db, "UPDATE login_attempts SET ok = 1 WHERE id = ?1", &st) != 0)
        goto rollback;
    store_bind_int64(st, 1, l->attempt_id);
    if (step_done(st) < 0)
        goto rollback;
    if (store_prepare(db,
                      "UPDATE users SET last_login = ?2,"
                      " password = coalesce(?3, password) WHERE id = ?1",
                      &st) != 0)
        goto rollback;
    store_bind_int64(st, 1, l->user_id);
    store_bind_text(st, 2, now_s);
    if (l->rehash)
        store_bind_text(st, 3, l->newhash);
    if (step_done(st) < 0)
        goto rollback;
    if (store_prepare(db,
                      "INSERT INTO sessions (id, user_id, created_at, expires_at)"
                      " VALUES (?1, ?2, ?3, ?4)",
                      &st) != 0)
        goto rollback;
    store_bind_text(st, 1, sid);
    store_bind_int64(st, 2, l->user_id);
    store_bind_int64(st, 3, (int64_t)c->now);
    store_bind_int64(st, 4, (int64_t)expires);
    if (step_done(st) < 0)
        goto rollback;
    /* Housekeeping rides on logins, which are rare: old sessions and
     * attempts have no use after their window. */
    char sql[160];
    snprintf(sql, sizeof sql,
             "DELETE FROM sessions WHERE expires_at < %lld;"
             "DELETE FROM login_attempts WHERE at < %lld;",
             (long long)c->now - 86400, (long long)c->now - 30 * 86400);
    if (exec_sql(sql) < 0 || exec_sql("COMMIT") < 0)
        goto rollback;
    sodium_memzero(l->newhash, sizeof l->newhash);

    make_token(sid, token);
    user = user_by_id(l->user_id);
    out = json_pack("{s:s, s:s, s:i, s:o*}", "token", token, "expires_at", exp_s, "expires_in",
                    AUTH_SESSION_TTL, "user", user);
    if (out != NULL && must_enrol)
        json_object_set_new(out, "totp_enrolment_required", json_true());
    sodium_memzero(token, sizeof token);
    return wres_ok(200, out);

rollback:
    log_sql("finishing a login");
    store_exec(db, "ROLLBACK");
fail:
    return wres_error(500, "internal", "the session could not be created");
}

/* ---- users ----------------------------------------------------------------- */

static const char *const role_oneof[] = {"admin", "lawyer", "assistant", NULL};
static const struct jsonv_field user_spec[] = {
    {"username", JSONV_STRING, JSONV_REQUIRED, 1, AUTH_USERNAME_MAX, NULL, NULL},
    {"password", JSONV_STRING, JSONV_REQUIRED, AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX, NULL, NULL},
    {"role", JSONV_STRING, JSONV_REQUIRED, 1, 16, role_oneof, NULL},
    {"email", JSONV_STRING, 0, 0, 192, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static struct wres plan_limit(const struct wctx *c)
{
    struct wres w =
        wres_error(402, "plan_limit", "the plan allows %d active users; deactivate one or upgrade",
                   c->env->max_users);
    if (w.body) {
        json_object_set_new(w.body, "limit", json_string("max_users"));
        json_object_set_new(w.body, "max", json_integer(c->env->max_users));
    }
    return w;
}

int auth_user_prepare(struct auth_newuser *nu, const struct wctx *c, const json_t *body,
                      struct wres *res)
{
    const char *email;
    int r;

    if (jsonv_reject(body, user_spec, res))
        return -EINVAL;
    snprintf(nu->username, sizeof nu->username, "%s",
             json_string_value(json_object_get(body, "username")));
    if (!valid_username(nu->username)) {
        *res = wres_error(400, "invalid_request",
                          "username: only letters, digits and . _ - @ are allowed");
        return -EINVAL;
    }
    role_parse(json_string_value(json_object_get(body, "role")), &nu->role);
    email = json_string_value(json_object_get(body, "email"));
    snprintf(nu->email, sizeof nu->email, "%s", email ? email : "");

    r = user_exists(nu->username);
    if (r == 1) {
        *res = wres_error(409, "conflict", "the username %s is taken", nu->username);
        return -EEXIST;
    }
    if (r == 0)
        r = model_users_limit_reached(c);
    if (r == 1) {
        *res = plan_limit(c);
        return -EDQUOT;
    }
    if (r < 0) {
        *res = wres_error(500, "internal", "the user could not be checked");
        return -EIO;
    }
    snprintf(nu->password, sizeof nu->password, "%s",
             json_string_value(json_object_get(body, "password")));
    nu->opslimit = cost_ops;
    nu->memlimit = cost_mem;
    return 0;
}

void auth_user_hash(struct auth_newuser *nu)
{
    nu->hash_rc =
        crypto_pwhash_str(nu->hash, nu->password, strlen(nu->password), nu->opslimit, nu->memlimit);
    sodium_memzero(nu->password, sizeof nu->password);
}

/* Insert one user; the caller holds a write transaction. Returns the new id,
 * 0 when the username is taken, or -EIO. */
static int64_t insert_user(const char *username, const char *hash, const char *email,
                           enum wrole role, time_t now)
{
    struct store_stmt *st = NULL;
    char now_s[32];
    int rc;

    iso_time(now, now_s);
    if (store_prepare(db,
                      "INSERT INTO users (username, password, email, role, active, created_at)"
                      " VALUES (?1, ?2, ?3, ?4, 1, ?5)",
                      &st) != 0)
        return -EIO;
    store_bind_text(st, 1, username);
    store_bind_text(st, 2, hash);
    if (email && email[0])
        store_bind_text(st, 3, email);
    store_bind_text(st, 4, auth_role_name(role));
    store_bind_text(st, 5, now_s);
    rc = store_step(st);
    store_release(st);
    if (rc == STORE_DONE)
        return store_last_id(db);
    if (rc == -EEXIST)
        return 0;
    return -EIO;
}

struct wres auth_user_insert(struct auth_newuser *nu, const struct wctx *c)
{
    struct wres w;
    int64_t id;
    int r;

    if (nu->hash_rc != 0)
        return wres_error(500, "internal", "the password could not be hashed (out of memory?)");
    /* The checks of prepare are repeated inside the transaction: another
     * creation may have landed while this password was being hashed. */
    if (store_begin_write(db) < 0)
        return wres_error(500, "internal", "the user could not be created");
    r = model_users_limit_reached(c);
    if (r == 1) {
        w = plan_limit(c);
        goto rollback;
    }
    if (r < 0)
        goto fail;
    id = insert_user(nu->username, nu->hash, nu->email, nu->role, c->now);
    if (id == 0) {
        w = wres_error(409, "conflict", "the username %s is taken", nu->username);
        goto rollback;
    }
    if (id < 0 || exec_sql("COMMIT") < 0)
        goto fail;
    sodium_memzero(nu->hash, sizeof nu->hash);
    if (model_usage_refresh_users(c) < 0)
        log_warn(c->env->client_id, "auth: monthly usage not refreshed after a new user");
    log_info(c->env->client_id, "user %s created (%s) by %s", nu->username,
             auth_role_name(nu->role), c->user ? c->user->username : "-");
    return wres_ok(201, json_pack("{s:I, s:s, s:s, s:s?}", "id", (json_int_t)id, "username",
                                  nu->username, "role", auth_role_name(nu->role), "email",
                                  nu->email[0] ? nu->email : NULL));
fail:
    log_sql("creating a user");
    w = wres_error(500, "internal", "the user could not be created");
rollback:
    store_exec(db, "ROLLBACK");
    sodium_memzero(nu->hash, sizeof nu->hash);
    return w;
}

struct wres auth_user_list(const struct wctx *c)
{
    struct store_stmt *st = NULL;
    json_t *arr = json_array();
    int rc = -EIO;

    if (store_prepare(db, "SELECT " USER_COLUMNS " FROM users ORDER BY id", &st) == 0) {
        while ((rc = store_step(st)) == STORE_ROW)
            json_array_append_new(arr, user_json(st));
    }
    store_release(st);
    if (rc != STORE_DONE) {
        log_sql("listing users");
        json_decref(arr);
        return wres_error(500, "internal", "the users could not be listed");
    }
    return wres_ok(200, json_pack("{s:o, s:i}", "users", arr, "max_users", c->env->max_users));
}

struct wres auth_me(const struct wctx *c)
{
    json_t *u = c->user ? user_by_id(c->user->id) : NULL;
    if (u == NULL)
        return wres_error(404, "not_found", "no such user");
    return wres_ok(200, u);
}

int auth_create_admin(const struct wctx *c, const char *username, char *pw, size_t pwlen, char *err,
                      size_t errlen)
{
    unsigned char raw[18];
    char hash[crypto_pwhash_STRBYTES];
    int64_t id;
    int r;

    if (!valid_username(username)) {
        snprintf(err, errlen, "\"%.80s\" is not a valid username (1-%d of A-Z a-z 0-9 . _ - @)",
                 username, AUTH_USERNAME_MAX);
        return -EINVAL;
    }
    if (pwlen < 25)
        return -EINVAL;
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(pw, pwlen, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    if (crypto_pwhash_str(hash, pw, strlen(pw), cost_ops, cost_mem) != 0) {
        snprintf(err, errlen, "hashing the password failed (out of memory?)");
        return -ENOMEM;
    }
    if (store_begin_write(db) < 0) {
        snprintf(err, errlen, "database: %s", store_errmsg(db));
        return -EIO;
    }
    r = user_exists(username);
    if (r == 1) {
        store_exec(db, "ROLLBACK");
        snprintf(err, errlen, "the user \"%s\" exists already", username);
        return -EEXIST;
    }
    id = r == 0 ? insert_user(username, hash, NULL, ROLE_ADMIN, c->now) : -EIO;
    if (id <= 0 || exec_sql("COMMIT") < 0) {
        snprintf(err, errlen, "database: %s", store_errmsg(db));
        store_exec(db, "ROLLBACK");
        return -EIO;
    }
    sodium_memzero(hash, sizeof hash);
    (void)model_usage_refresh_users(c);
    return 0;
}
