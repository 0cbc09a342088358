/*
 * second_factor.h — TOTP second factor per user (RFC 6238, totp.h),
 * recovery codes and the firm's enforcement (docs/worker-api.md "Second
 * factor").
 *
 * The TOTP secret is kept sealed (crypto_secretbox) under a key derived
 * from SECRET_KEY and CLIENT_ID, so a copy of the database alone does not
 * give the codes away. Recovery codes (SF_RECOVERY_CODES, shown once when
 * the second factor is confirmed) are stored as keyed BLAKE2b hashes and
 * each works once. The last accepted TOTP counter is stored: a code works
 * once, even within its 30 seconds.
 *
 * Login (auth.c) calls sf_login_check() after the password matched; a
 * refusal leaves the login attempt recorded as a failure, so wrong codes
 * count toward the login throttling like wrong passwords.
 */
#ifndef TENANT_WORKER_SECOND_FACTOR_H
#define TENANT_WORKER_SECOND_FACTOR_H

#include "worker.h"

#define SF_RECOVERY_CODES 10
#define SF_CODE_MAX 32 /* the longest "code" a login accepts */

/* POST /api/me/totp: a new (not yet enabled) secret: {"secret","otpauth_uri"}. */
struct wres sf_enrol(const struct wctx *c, json_t *body, const char *arg);
/* POST /api/me/totp/confirm {"code"}: enable; answers the recovery codes. */
struct wres sf_confirm(const struct wctx *c, json_t *body, const char *arg);
/* DELETE /api/me/totp {"code"}: a current code or a recovery code turns it off. */
struct wres sf_disable(const struct wctx *c, json_t *body, const char *arg);
/* GET /api/me/totp: {"enabled","required","recovery_codes_left"}. */
struct wres sf_status(const struct wctx *c, json_t *body, const char *arg);
/* GET and PUT /api/firm/settings {"totp_required": bool} (admin). */
struct wres sf_settings_get(const struct wctx *c, json_t *body, const char *arg);
struct wres sf_settings_put(const struct wctx *c, json_t *body, const char *arg);

/*
 * After the password of user_id matched: 0 when the login may go on, with
 * *must_enrol = 1 when the firm requires a second factor the user has not
 * set up yet; or -EACCES with the answer in *res (401 totp_required when
 * code is empty, 401 invalid_code), -EIO (500).
 */
int sf_login_check(const struct wctx *c, int64_t user_id, const char *code, int *must_enrol,
                   struct wres *res);

/* 1 when c->user must set up the second factor before using pattern (a
 * route other than those that do it), 0 otherwise (or on a database error:
 * the route then fails on its own). */
int sf_gate(const struct wctx *c, const char *pattern);

/* A firm setting (firm_settings.key_name) as text into out; 0, -ENOENT, -EIO. */
int sf_setting_get(const struct wctx *c, const char *key, char *out, size_t n);
/* Upsert a firm setting; the caller may hold a transaction. 0 or -EIO. */
int sf_setting_put(const struct wctx *c, const char *key, const char *value);

/* Keyed BLAKE2b (key derived from SECRET_KEY, CLIENT_ID and purpose) of
 * data, in hex (65 bytes), for secrets looked up by hash (recovery codes,
 * calendar tokens). */
void sf_keyed_hash(const struct wctx *c, const char *purpose, const char *data, char out[65]);

#endif
