/*
 * auth.h — the firm's accounts: users, passwords, sessions, roles, login
 * throttling.
 *
 * Tokens are "<session id>.<mac>": the session id is 16 random bytes, the mac
 * is crypto_auth (HMAC-SHA-512/256) of the id under a key derived from
 * SECRET_KEY *and* CLIENT_ID, both base64url without padding. A token proves
 * nothing by itself: it must also name a live row of `sessions` (not revoked,
 * not expired) whose user is active (checked once per token and then
 * remembered by this process, see auth.c). Because CLIENT_ID enters the key, a token
 * of one firm fails at another even if both were given the same secret.
 *
 * Passwords are argon2id strings (crypto_pwhash_str) at the cost PASSWORD_COST
 * names. Hashing takes 60-90 ms and 64 MiB at the default cost, so the HTTP
 * layer runs the *_hash / *_verify steps below on a worker thread: those two
 * touch no database and no global state. Every other function runs on the
 * event-loop thread, which alone uses the database.
 *
 * Throttling (auth_throttle), over the failures of the last AUTH_FAIL_WINDOW
 * seconds, so that it slows a guesser without locking the firm out:
 *  - per (username, address): after AUTH_FAIL_FREE failures since that
 *    pair's last success, each further attempt waits AUTH_DELAY_BASE seconds
 *    after the last failure, doubling with each failure up to AUTH_DELAY_MAX;
 *  - per address: AUTH_FAIL_MAX_ADDR failures, whatever the usernames, and
 *    the address waits until the oldest leaves the window (a guesser trying
 *    many usernames);
 *  - per account, a ceiling against guesses spread over many addresses:
 *    once the username has AUTH_FAIL_MAX_ACCOUNT failures since its last
 *    success, it takes one attempt per AUTH_ACCOUNT_GAP seconds, from any
 *    address. That bounds a distributed guesser to a slow rate, and holds
 *    the firm's own user, with the right password from a fresh address, for
 *    at most those few seconds: never a lock-out.
 * Each attempt is recorded in login_attempts *before* the password is
 * checked, so parallel guesses count too. The address is the peer's, or the
 * X-Real-IP the worker trusts (see peer_address in http.c).
 */
#ifndef TENANT_WORKER_AUTH_H
#define TENANT_WORKER_AUTH_H

#include <sodium.h>
#include <stddef.h>

#include "worker.h"

#define AUTH_SESSION_TTL (12 * 3600)
#define AUTH_FAIL_WINDOW (15 * 60)
#define AUTH_FAIL_FREE 5   /* per (username, address), before any delay */
#define AUTH_DELAY_BASE 60 /* seconds, after the AUTH_FAIL_FREE-th failure */
#define AUTH_DELAY_MAX 900 /* seconds, the longest a pair waits */
#define AUTH_FAIL_MAX_ADDR 20
#define AUTH_FAIL_MAX_ACCOUNT 20
#define AUTH_ACCOUNT_GAP 2 /* seconds between attempts on an account under attack */
#define AUTH_PASSWORD_MIN 8
#define AUTH_PASSWORD_MAX 256
#define AUTH_SID_LEN 22 /* base64url of 16 bytes */
#define AUTH_USERNAME_MAX 63

/*
 * Derive the token key from e and prepare the statements used on every
 * request. db and e must outlive the module (until auth_close). Returns 0 or
 * -ENOMEM / -EIO.
 */
int auth_init(const struct wenv *e, struct store *db);
void auth_close(void);

/*
 * Check a bearer token (len bytes, not NUL-terminated). On success fills *u
 * and sid (the session id, NUL-terminated) and returns 0; -EACCES for any
 * invalid, expired or revoked token; -EIO on a database error.
 */
int auth_verify(const char *token, size_t len, time_t now, struct wuser *u,
                char sid[AUTH_SID_LEN + 1]);

/* Revoke one session; from then on its token is refused, by this process at
 * once (the session cache forgets it before the database is updated).
 * Returns 0 or -EIO. */
int auth_logout(const char *sid);

/* Drop every cached session of one user: call it whenever a user's role,
 * name or active flag changes, so the next request re-reads the row. */
void auth_forget_user(int64_t user_id);

/* What auth_throttle decides on: counts of failed attempts (ok = 0) in the
 * window, and times (seconds since the epoch; 0 when there is none). */
struct auth_failures {
    int64_t pair, pair_last;   /* this username from this address, since the pair's last success */
    int64_t addr, addr_oldest; /* this address, any username */
    int64_t account, account_last; /* this username, any address, since its last success */
};

/* Pure: 0 when the attempt may go ahead, else the seconds to wait, with
 * *what naming the rule ("address", "account", "username from this
 * address"). */
int64_t auth_throttle(const struct auth_failures *f, time_t now, const char **what);

/* A login in three steps: begin (loop), verify (thread), finish (loop). */
struct auth_login {
    char username[AUTH_USERNAME_MAX + 1];
    char password[AUTH_PASSWORD_MAX + 1];
    char code[33]; /* the second factor, "" when not sent (second_factor.h) */
    char address[64];
    char hash[crypto_pwhash_STRBYTES];    /* stored hash; empty for an unknown user */
    char newhash[crypto_pwhash_STRBYTES]; /* set by verify when the cost changed */
    unsigned long long opslimit;
    size_t memlimit;
    int64_t user_id, attempt_id;
    int ok, rehash;
};

/*
 * Validate {"username","password"}, apply the throttle, record the attempt and
 * load the user's hash into *l. Returns 0 when verify must run next, or a
 * negative errno with the answer in *res (400 invalid_request, 429
 * too_many_attempts with "retry_after" seconds, 500).
 */
int auth_login_begin(struct auth_login *l, const struct wctx *c, const json_t *body,
                     const char *address, struct wres *res);
/* Thread-safe, no database: argon2id verification and, when the stored hash
 * is of another cost, the new hash. Against an unknown user, a dummy hash is
 * verified so the answer takes the same time. */
void auth_login_verify(struct auth_login *l);
/* Record the outcome; on success (password, then the second factor when
 * the user has one: sf_login_check) create the session. 200 {"token",
 * "expires_at","user"[,"totp_enrolment_required"]}, 401
 * invalid_credentials, totp_required or invalid_code (the attempt stays a
 * failure for the throttle). Wipes the password and the code. */
struct wres auth_login_finish(struct auth_login *l, const struct wctx *c);

/* Creating a user in three steps, like a login. */
struct auth_newuser {
    char username[AUTH_USERNAME_MAX + 1];
    char password[AUTH_PASSWORD_MAX + 1];
    char email[193];
    enum wrole role;
    char hash[crypto_pwhash_STRBYTES];
    unsigned long long opslimit;
    size_t memlimit;
    int hash_rc;
};
/* Validate {"username","password","role"[,"email"]} and check the username is
 * free and MAX_USERS not reached. 0, or <0 with the answer in *res (400, 402
 * plan_limit, 409 conflict, 500). */
int auth_user_prepare(struct auth_newuser *nu, const struct wctx *c, const json_t *body,
                      struct wres *res);
/* Thread-safe, no database. */
void auth_user_hash(struct auth_newuser *nu);
/* Insert (re-checking the limit and the name in the same transaction).
 * 201 {"id","username","role",...}. Wipes the password. */
struct wres auth_user_insert(struct auth_newuser *nu, const struct wctx *c);

/* GET /api/users and GET /api/me. */
struct wres auth_user_list(const struct wctx *c);
struct wres auth_me(const struct wctx *c);

/*
 * `tenant-worker --create-admin <username>`: create an admin with a generated
 * password, hashing on the calling thread. On success the password (24
 * characters) is in pw. Returns 0, -EEXIST when the username is taken,
 * -EINVAL when it is not a valid username, -EIO; err says which.
 */
int auth_create_admin(const struct wctx *c, const char *username, char *pw, size_t pwlen, char *err,
                      size_t errlen);

const char *auth_role_name(enum wrole r);

#endif
