/*
 * totp.h — one-time passwords (RFC 4226 HOTP, RFC 6238 TOTP, HMAC-SHA-1)
 * and the base32 alphabet of RFC 4648 that authenticator apps read secrets
 * in. Pure: no I/O, no clock (the caller passes the time).
 */
#ifndef TENANT_WORKER_TOTP_H
#define TENANT_WORKER_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TOTP_STEP 30       /* seconds per code */
#define TOTP_DIGITS 6      /* what the apps show */
#define TOTP_SECRET_LEN 20 /* bytes: 160 bits, RFC 4226's recommendation */
#define TOTP_WINDOW 1      /* steps accepted either side of now (clock drift) */

/* HOTP value of counter under key, reduced to digits (6..9) decimal digits;
 * -1 when HMAC fails. */
int64_t totp_hotp(const uint8_t *key, size_t keylen, uint64_t counter, int digits);
/* The TOTP value at time t (Unix seconds, t >= 0) for a step of step seconds. */
int64_t totp_at(const uint8_t *key, size_t keylen, int64_t t, int step, int digits);

/*
 * Check code (exactly TOTP_DIGITS decimal digits) against the steps
 * now - TOTP_WINDOW .. now + TOTP_WINDOW that are after *last (the counter
 * of the last code accepted: a code works once). On a match returns 0 and
 * sets *last to its counter; -EINVAL for a code of the wrong shape; -EACCES
 * when it does not match.
 */
int totp_verify(const uint8_t *key, size_t keylen, int64_t now, const char *code, int64_t *last);

/* RFC 4648 base32, upper case, no padding; out holds 8 chars per 5 bytes + 1.
 * Returns the length written or -ENOSPC. */
int totp_base32_encode(const uint8_t *in, size_t len, char *out, size_t outlen);
/* Decode base32 (either case; spaces and '=' padding ignored). Returns the
 * byte count or -EINVAL / -ENOSPC. */
int totp_base32_decode(const char *in, uint8_t *out, size_t outlen);

#endif
