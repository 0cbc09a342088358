/*
 * second_factor.c — TOTP enrolment, confirmation, removal, the login check,
 * recovery codes and the firm's enforcement (see second_factor.h).
 */
#include "second_factor.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "jsonv.h"
#include "log.h"
#include "model_internal.h"
#include "totp.h"

/* ---- keys ------------------------------------------------------------------ */

/* A key for purpose, from SECRET_KEY and CLIENT_ID (a firm's key is worthless
 * at another firm even if both were given the same secret). */
static void derive_key(const struct wctx *c, const char *purpose, unsigned char key[32])
{
    crypto_generichash_state st;
    const char *secret = c->env != NULL && c->env->secret_key ? c->env->secret_key : "";
    const char *id = c->env != NULL && c->env->client_id ? c->env->client_id : "";
    uint32_t n;

    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const unsigned char *)"tenant-worker/", 14);
    crypto_generichash_update(&st, (const unsigned char *)purpose, strlen(purpose) + 1);
    n = (uint32_t)strlen(id);
    crypto_generichash_update(&st, (const unsigned char *)&n, sizeof n);
    crypto_generichash_update(&st, (const unsigned char *)id, n);
    crypto_generichash_update(&st, (const unsigned char *)secret, strlen(secret));
    crypto_generichash_final(&st, key, 32);
}

void sf_keyed_hash(const struct wctx *c, const char *purpose, const char *data, char out[65])
{
    unsigned char key[32], h[32];
    derive_key(c, purpose, key);
    crypto_generichash(h, sizeof h, (const unsigned char *)data, strlen(data), key, sizeof key);
    sodium_bin2hex(out, 65, h, sizeof h);
    sodium_memzero(key, sizeof key);
}

/* Seal the raw secret: base64(nonce || box). */
static int seal(const struct wctx *c, const uint8_t *raw, size_t len, char *out, size_t n)
{
    unsigned char key[32], buf[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + 64];
    if (len > 64 || n < sodium_base64_ENCODED_LEN(sizeof buf, sodium_base64_VARIANT_ORIGINAL))
        return -ENOSPC;
    derive_key(c, "totp-seal", key);
    randombytes_buf(buf, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(buf + crypto_secretbox_NONCEBYTES, raw, len, buf, key);
    sodium_memzero(key, sizeof key);
    sodium_bin2base64(out, n, buf, crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len,
                      sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

/* Open a sealed secret into raw; its length, or -EINVAL (altered, or sealed
 * under another SECRET_KEY). */
static int unseal(const struct wctx *c, const char *sealed, uint8_t *raw, size_t n)
{
    unsigned char key[32], buf[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + 64];
    size_t len = 0;
    if (sealed == NULL ||
        sodium_base642bin(buf, sizeof buf, sealed, strlen(sealed), NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES ||
        len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES > n)
        return -EINVAL;
    derive_key(c, "totp-seal", key);
    int r = crypto_secretbox_open_easy(raw, buf + crypto_secretbox_NONCEBYTES,
                                       len - crypto_secretbox_NONCEBYTES, buf, key);
    sodium_memzero(key, sizeof key);
    if (r != 0)
        return -EINVAL;
    return (int)(len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES);
}

/* ---- settings --------------------------------------------------------------- */

int sf_setting_get(const struct wctx *c, const char *key, char *out, size_t n)
{
    struct store_stmt *st;
    int rc;
    if (model_prepare(c, "SELECT value FROM firm_settings WHERE key_name = ?1", &st) < 0)
        return -EIO;
    store_bind_text(st, 1, key);
    rc = store_step(st);
    if (rc == STORE_ROW) {
        const char *v = store_column_text(st, 0);
        snprintf(out, n, "%s", v ? v : "");
        rc = 0;
    } else {
        rc = rc == STORE_DONE ? -ENOENT : -EIO;
    }
    model_release(st);
    return rc;
}

int sf_setting_put(const struct wctx *c, const char *key, const char *value)
{
    struct store_stmt *st;
    char now[32];
    int rc;
    model_iso_time(c->now, now, sizeof now);
    if (model_prepare(c,
                      "INSERT INTO firm_settings (key_name, value, updated_at) VALUES (?1, ?2, ?3)"
                      " ON CONFLICT (key_name) DO UPDATE SET value = excluded.value,"
                      " updated_at = excluded.updated_at",
                      &st) < 0)
        return -EIO;
    store_bind_text(st, 1, key);
    store_bind_text(st, 2, value);
    store_bind_text(st, 3, now);
    rc = store_step(st) == STORE_DONE ? 0 : -EIO;
    model_release(st);
    return rc;
}

static int totp_required(const struct wctx *c)
{
    char v[8];
    return sf_setting_get(c, "totp_required", v, sizeof v) == 0 && strcmp(v, "1") == 0;
}

/* ---- the user's row --------------------------------------------------------- */

struct totp_row {
    int found, enabled;
    int64_t last;
    uint8_t key[64];
    int keylen;
};

static int load_row(const struct wctx *c, int64_t user_id, struct totp_row *r)
{
    struct store_stmt *st;
    int step;
    memset(r, 0, sizeof *r);
    if (model_prepare(c, "SELECT secret, enabled, last_counter FROM user_totp WHERE user_id = ?1",
                      &st) < 0)
        return -EIO;
    store_bind_int64(st, 1, user_id);
    step = store_step(st);
    if (step == STORE_ROW) {
        r->found = 1;
        r->enabled = store_column_int64(st, 1) != 0;
        r->last = store_column_int64(st, 2);
        r->keylen = unseal(c, store_column_text(st, 0), r->key, sizeof r->key);
    }
    model_release(st);
    if (step != STORE_ROW && step != STORE_DONE)
        return -EIO;
    if (r->found && r->keylen <= 0) {
        log_error(c->env ? c->env->client_id : NULL,
                  "second factor of user %lld cannot be opened (SECRET_KEY changed?)",
                  (long long)user_id);
        return -EIO;
    }
    return 0;
}

/* Run sql with ?1 = a and, when the statement has them, ?2 = b or ?2 = t.
 * The rows changed, or -EIO. */
static int exec_bound(const struct wctx *c, const char *sql, int64_t a, int64_t b, const char *t)
{
    struct store_stmt *st;
    int rc;
    if (model_prepare(c, sql, &st) < 0)
        return -EIO;
    store_bind_int64(st, 1, a);
    if (t != NULL)
        store_bind_text(st, 2, t);
    else if (strstr(sql, "?2") != NULL)
        store_bind_int64(st, 2, b);
    rc = store_step(st) == STORE_DONE ? (int)store_changes(st) : -EIO;
    model_release(st);
    return rc;
}

/* Recovery code: 10 base32 characters shown as "xxxxx-xxxxx"; compared
 * without case, dashes or spaces. */
static void normalise_code(const char *in, char *out, size_t n)
{
    size_t k = 0;
    for (; *in && k + 1 < n; in++) {
        char ch = *in;
        if (ch == '-' || ch == ' ')
            continue;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        out[k++] = ch;
    }
    out[k] = '\0';
}

/* A current TOTP code (advancing last_counter) or an unused recovery code
 * (marking it used). 0, -EACCES, -EINVAL (shape), -EIO. */
static int check_code(const struct wctx *c, int64_t user_id, struct totp_row *r, const char *code)
{
    char now[32], norm[SF_CODE_MAX + 1], h[65];
    int64_t last = r->last;
    int rc = totp_verify(r->key, (size_t)r->keylen, (int64_t)c->now, code, &last);

    if (rc == 0) {
        /* Only if no other login took the same step meanwhile. */
        rc = exec_bound(c,
                        "UPDATE user_totp SET last_counter = ?2 WHERE user_id = ?1"
                        " AND last_counter < ?2",
                        user_id, last, NULL);
        return rc < 0 ? -EIO : rc == 1 ? 0 : -EACCES;
    }
    if (rc != -EINVAL || !r->enabled)
        return rc;
    normalise_code(code, norm, sizeof norm);
    if (strlen(norm) != 10)
        return -EINVAL;
    sf_keyed_hash(c, "recovery", norm, h);
    model_iso_time(c->now, now, sizeof now);
    struct store_stmt *st;
    if (model_prepare(c,
                      "UPDATE recovery_codes SET used_at = ?3 WHERE user_id = ?1 AND code_hash = ?2"
                      " AND used_at IS NULL",
                      &st) < 0)
        return -EIO;
    store_bind_int64(st, 1, user_id);
    store_bind_text(st, 2, h);
    store_bind_text(st, 3, now);
    rc = store_step(st) == STORE_DONE ? (int)store_changes(st) : -EIO;
    model_release(st);
    return rc < 0 ? -EIO : rc == 1 ? 0 : -EACCES;
}

/* ---- routes ----------------------------------------------------------------- */

static void append_enc(char *out, size_t n, const char *s)
{
    size_t k = strlen(out);
    static const char hex[] = "0123456789ABCDEF";
    for (; *s && k + 4 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            out[k++] = (char)ch;
        } else {
            out[k++] = '%';
            out[k++] = hex[ch >> 4];
            out[k++] = hex[ch & 15];
        }
    }
    out[k] = '\0';
}

struct wres sf_enrol(const struct wctx *c, json_t *body, const char *arg)
{
    struct totp_row r;
    uint8_t raw[TOTP_SECRET_LEN];
    char b32[64], sealed[256], now[32], uri[1024] = "otpauth://totp/";
    const char *issuer = c->env && c->env->client_name ? c->env->client_name : "tenant-worker";
    struct store_stmt *st;

    if (load_row(c, c->user->id, &r) < 0)
        return model_db_error(c, "reading the second factor");
    if (r.enabled)
        return wres_error(
            409, "conflict",
            "the second factor is already on; turn it off first (DELETE /api/me/totp)");
    randombytes_buf(raw, sizeof raw);
    totp_base32_encode(raw, sizeof raw, b32, sizeof b32);
    if (seal(c, raw, sizeof raw, sealed, sizeof sealed) < 0)
        return wres_error(500, "internal", "the secret could not be sealed");
    sodium_memzero(raw, sizeof raw);
    model_iso_time(c->now, now, sizeof now);
    if (model_prepare(c,
                      "INSERT INTO user_totp (user_id, secret, enabled, last_counter, created_at)"
                      " VALUES (?1, ?2, 0, 0, ?3) ON CONFLICT (user_id) DO UPDATE SET"
                      " secret = excluded.secret, enabled = 0, last_counter = 0,"
                      " created_at = excluded.created_at",
                      &st) < 0)
        return model_db_error(c, "storing the second factor");
    store_bind_int64(st, 1, c->user->id);
    store_bind_text(st, 2, sealed);
    store_bind_text(st, 3, now);
    int rc = store_step(st);
    model_release(st);
    if (rc != STORE_DONE)
        return model_db_error(c, "storing the second factor");
    /* otpauth://totp/<issuer>:<user>?secret=...&issuer=... (Key Uri Format). */
    append_enc(uri, sizeof uri, issuer);
    append_enc(uri, sizeof uri, ":");
    append_enc(uri, sizeof uri, c->user->username);
    snprintf(uri + strlen(uri), sizeof uri - strlen(uri), "?secret=%s&issuer=", b32);
    append_enc(uri, sizeof uri, issuer);
    snprintf(uri + strlen(uri), sizeof uri - strlen(uri), "&algorithm=SHA1&digits=%d&period=%d",
             TOTP_DIGITS, TOTP_STEP);
    json_t *out = json_pack("{s:s, s:s, s:b, s:i, s:i}", "secret", b32, "otpauth_uri", uri,
                            "enabled", 0, "digits", TOTP_DIGITS, "period", TOTP_STEP);
    sodium_memzero(b32, sizeof b32);
    return wres_ok(201, out);
}

static const struct jsonv_field code_spec[] = {
    {"code", JSONV_STRING, JSONV_REQUIRED, 1, SF_CODE_MAX, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static struct wres code_refused(int rc)
{
    return rc == -EINVAL ? wres_error(400, "invalid_request",
                                      "code: 6 digits from the authenticator app, or a "
                                      "recovery code (xxxxx-xxxxx)")
                         : wres_error(401, "invalid_code", "the code is wrong or was already used");
}

struct wres sf_confirm(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres res;
    struct totp_row r;
    json_t *codes;
    int rc;

    if (jsonv_reject(body, code_spec, &res))
        return res;
    if (model_begin(c) < 0)
        return model_db_error(c, "starting a transaction");
    if (load_row(c, c->user->id, &r) < 0)
        goto dberr;
    if (!r.found || r.enabled) {
        model_rollback(c);
        return wres_error(409, "conflict",
                          r.found ? "the second factor is already on"
                                  : "no enrolment in progress: POST /api/me/totp first");
    }
    rc = check_code(c, c->user->id, &r, json_string_value(json_object_get(body, "code")));
    sodium_memzero(r.key, sizeof r.key);
    if (rc == -EIO)
        goto dberr;
    if (rc < 0) {
        model_rollback(c);
        return code_refused(rc);
    }
    if (exec_bound(c, "UPDATE user_totp SET enabled = 1 WHERE user_id = ?1", c->user->id, 0, NULL) <
            0 ||
        exec_bound(c, "DELETE FROM recovery_codes WHERE user_id = ?1", c->user->id, 0, NULL) < 0)
        goto dberr;
    codes = json_array();
    for (int i = 0; i < SF_RECOVERY_CODES; i++) {
        uint8_t raw[7];
        char b32[16], shown[16], norm[16], h[65];
        randombytes_buf(raw, sizeof raw);
        totp_base32_encode(raw, sizeof raw, b32, sizeof b32); /* 12 chars, 10 used: 50 bits */
        normalise_code(b32, norm, sizeof norm);
        norm[10] = '\0';
        snprintf(shown, sizeof shown, "%.5s-%.5s", norm, norm + 5);
        sf_keyed_hash(c, "recovery", norm, h);
        if (exec_bound(c,
                       "INSERT INTO recovery_codes (user_id, code_hash, used_at)"
                       " VALUES (?1, ?2, NULL)",
                       c->user->id, 0, h) < 0) {
            json_decref(codes);
            goto dberr;
        }
        json_array_append_new(codes, json_string(shown));
    }
    if (model_commit(c) < 0) {
        json_decref(codes);
        goto dberr;
    }
    return wres_ok(200, json_pack("{s:b, s:o}", "enabled", 1, "recovery_codes", codes));
dberr:
    res = model_db_error(c, "confirming the second factor");
    model_rollback(c);
    return res;
}

struct wres sf_disable(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres res;
    struct totp_row r;
    int rc;

    if (jsonv_reject(body, code_spec, &res))
        return res;
    if (model_begin(c) < 0)
        return model_db_error(c, "starting a transaction");
    if (load_row(c, c->user->id, &r) < 0)
        goto dberr;
    if (!r.found || !r.enabled) {
        model_rollback(c);
        return wres_error(409, "conflict", "the second factor is not on");
    }
    rc = check_code(c, c->user->id, &r, json_string_value(json_object_get(body, "code")));
    sodium_memzero(r.key, sizeof r.key);
    if (rc == -EIO)
        goto dberr;
    if (rc < 0) {
        model_rollback(c);
        return code_refused(rc);
    }
    if (exec_bound(c, "DELETE FROM user_totp WHERE user_id = ?1", c->user->id, 0, NULL) < 0 ||
        exec_bound(c, "DELETE FROM recovery_codes WHERE user_id = ?1", c->user->id, 0, NULL) < 0 ||
        model_commit(c) < 0)
        goto dberr;
    return wres_ok(200, json_pack("{s:b}", "enabled", 0));
dberr:
    res = model_db_error(c, "turning the second factor off");
    model_rollback(c);
    return res;
}

struct wres sf_status(const struct wctx *c, json_t *body, const char *arg)
{
    struct totp_row r;
    int64_t left = 0;
    struct store_stmt *st;
    if (load_row(c, c->user->id, &r) < 0)
        return model_db_error(c, "reading the second factor");
    sodium_memzero(r.key, sizeof r.key);
    if (model_prepare(c,
                      "SELECT count(*) FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
                      &st) < 0)
        return model_db_error(c, "reading the recovery codes");
    store_bind_int64(st, 1, c->user->id);
    if (store_step(st) == STORE_ROW)
        left = store_column_int64(st, 0);
    model_release(st);
    return wres_ok(200, json_pack("{s:b, s:b, s:I}", "enabled", r.enabled, "required",
                                  totp_required(c), "recovery_codes_left", (json_int_t)left));
}

struct wres sf_settings_get(const struct wctx *c, json_t *body, const char *arg)
{
    return wres_ok(200, json_pack("{s:b}", "totp_required", totp_required(c)));
}

static const struct jsonv_field settings_spec[] = {
    {"totp_required", JSONV_BOOL, JSONV_REQUIRED, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

struct wres sf_settings_put(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres res;
    if (jsonv_reject(body, settings_spec, &res))
        return res;
    int on = json_is_true(json_object_get(body, "totp_required"));
    if (sf_setting_put(c, "totp_required", on ? "1" : "0") < 0)
        return model_db_error(c, "storing the firm's settings");
    return sf_settings_get(c, NULL, NULL);
}

/* ---- login and the enrolment gate ------------------------------------------- */

int sf_login_check(const struct wctx *c, int64_t user_id, const char *code, int *must_enrol,
                   struct wres *res)
{
    struct totp_row r;
    int rc;

    *must_enrol = 0;
    if (load_row(c, user_id, &r) < 0) {
        *res = model_db_error(c, "reading the second factor");
        return -EIO;
    }
    if (!r.enabled) {
        sodium_memzero(r.key, sizeof r.key);
        *must_enrol = totp_required(c);
        return 0;
    }
    if (code == NULL || code[0] == '\0') {
        sodium_memzero(r.key, sizeof r.key);
        *res = wres_error(401, "totp_required",
                          "this account has a second factor: send \"code\" with the password");
        return -EACCES;
    }
    rc = check_code(c, user_id, &r, code);
    sodium_memzero(r.key, sizeof r.key);
    if (rc == -EIO) {
        *res = model_db_error(c, "checking the second factor");
        return -EIO;
    }
    if (rc < 0) {
        *res = wres_error(401, "invalid_code", "wrong username, password or code");
        return -EACCES;
    }
    return 0;
}

int sf_gate(const struct wctx *c, const char *pattern)
{
    static const char *const open_routes[] = {"/api/me", "/api/me/totp", "/api/me/totp/confirm",
                                              "/api/auth/logout", NULL};
    struct totp_row r;

    if (c->user == NULL)
        return 0;
    for (int i = 0; open_routes[i]; i++)
        if (strcmp(pattern, open_routes[i]) == 0)
            return 0;
    if (!totp_required(c) || load_row(c, c->user->id, &r) < 0)
        return 0;
    sodium_memzero(r.key, sizeof r.key);
    return !r.enabled;
}
