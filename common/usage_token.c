/*
 * usage_token.c — see usage_token.h.
 */
#include "usage_token.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

int usage_token(const char *client_id, const char *secret, char *out, size_t n)
{
    static const char domain[] = "tenantd worker usage key v1";
    static const char prefix[] = "tenantd-usage:";
    unsigned char key[crypto_auth_hmacsha512256_KEYBYTES], mac[crypto_auth_hmacsha512256_BYTES];
    crypto_generichash_state st;
    crypto_auth_hmacsha512256_state ast;
    uint32_t len;

    if (client_id == NULL || secret == NULL || client_id[0] == '\0' || secret[0] == '\0' ||
        out == NULL || n <= USAGE_TOKEN_LEN)
        return -EINVAL;
    if (sodium_init() < 0)
        return -EINVAL;
    /* Lengths go in front of each part so that no two (id, secret) pairs give
     * the same input. */
    crypto_generichash_init(&st, NULL, 0, sizeof key);
    crypto_generichash_update(&st, (const unsigned char *)domain, sizeof domain);
    len = (uint32_t)strlen(client_id);
    crypto_generichash_update(&st, (const unsigned char *)&len, sizeof len);
    crypto_generichash_update(&st, (const unsigned char *)client_id, len);
    len = (uint32_t)strlen(secret);
    crypto_generichash_update(&st, (const unsigned char *)&len, sizeof len);
    crypto_generichash_update(&st, (const unsigned char *)secret, len);
    crypto_generichash_final(&st, key, sizeof key);

    crypto_auth_hmacsha512256_init(&ast, key, sizeof key);
    crypto_auth_hmacsha512256_update(&ast, (const unsigned char *)prefix, sizeof prefix - 1);
    crypto_auth_hmacsha512256_update(&ast, (const unsigned char *)client_id, strlen(client_id));
    crypto_auth_hmacsha512256_final(&ast, mac);
    sodium_memzero(key, sizeof key);
    sodium_memzero(&st, sizeof st);
    sodium_memzero(&ast, sizeof ast);

    sodium_bin2base64(out, n, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return 0;
}
