/*
 * usage_token.h — the credential tenantd presents to a worker's
 * GET /internal/usage (docs/worker-api.md "For tenantd only").
 *
 * Both sides know the tenant's SECRET_KEY and CLIENT_ID, so the token is
 * derived from them and never stored or sent anywhere else:
 *   key   = BLAKE2b-256("tenantd worker usage key v1" || len(id) || id ||
 *                       len(secret) || secret)
 *   token = base64url-nopad(HMAC-SHA512-256(key, "tenantd-usage:" || id))
 * The key's domain string differs from the worker's session-signing key, so
 * neither can stand in for the other. One pure function used by tenantd and
 * by tenant-worker, so the two cannot drift.
 */
#ifndef TENANTD_USAGE_TOKEN_H
#define TENANTD_USAGE_TOKEN_H

#include <stddef.h>

/* base64url without padding of crypto_auth_BYTES (32): 43 characters. */
#define USAGE_TOKEN_LEN 43

/* Write the NUL-terminated token into out (n > USAGE_TOKEN_LEN). Returns 0,
 * or -EINVAL on a NULL or empty input or a short buffer. */
int usage_token(const char *client_id, const char *secret, char *out, size_t n);

#endif
