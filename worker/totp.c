/*
 * totp.c — HOTP/TOTP and base32 (see totp.h). libsodium has no SHA-1, so
 * the HMAC is OpenSSL's (libcrypto, which the worker links through h2o).
 */
#include "totp.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

static const int64_t pow10_tab[] = {1,      10,      100,      1000,      10000,
                                    100000, 1000000, 10000000, 100000000, 1000000000};

int64_t totp_hotp(const uint8_t *key, size_t keylen, uint64_t counter, int digits)
{
    uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;

    if (digits < 6 || digits > 9)
        return -1;
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(counter & 0xff);
        counter >>= 8;
    }
    if (HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof msg, mac, &maclen) == NULL || maclen < 20)
        return -1;
    /* RFC 4226 5.3: dynamic truncation. */
    unsigned off = mac[maclen - 1] & 0x0f;
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
    return (int64_t)(bin % (uint32_t)pow10_tab[digits]);
}

int64_t totp_at(const uint8_t *key, size_t keylen, int64_t t, int step, int digits)
{
    if (t < 0 || step <= 0)
        return -1;
    return totp_hotp(key, keylen, (uint64_t)(t / step), digits);
}

int totp_verify(const uint8_t *key, size_t keylen, int64_t now, const char *code, int64_t *last)
{
    int64_t want = 0;

    if (code == NULL || strlen(code) != TOTP_DIGITS)
        return -EINVAL;
    for (int i = 0; i < TOTP_DIGITS; i++) {
        if (code[i] < '0' || code[i] > '9')
            return -EINVAL;
        want = want * 10 + (code[i] - '0');
    }
    if (now < 0)
        return -EACCES;
    int64_t cur = now / TOTP_STEP;
    for (int64_t c = cur - TOTP_WINDOW; c <= cur + TOTP_WINDOW; c++) {
        if (c < 0 || c <= *last)
            continue;
        /* Every candidate is computed, so the time taken does not tell
         * which step matched. */
        if (totp_hotp(key, keylen, (uint64_t)c, TOTP_DIGITS) == want) {
            *last = c;
            return 0;
        }
    }
    return -EACCES;
}

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int totp_base32_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
    size_t n = 0;
    uint32_t buf = 0;
    int bits = 0;

    if (outlen < (len * 8 + 4) / 5 + 1)
        return -ENOSPC;
    for (size_t i = 0; i < len; i++) {
        buf = (buf << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[n++] = b32[(buf >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[n++] = b32[(buf << (5 - bits)) & 31];
    out[n] = '\0';
    return (int)n;
}

int totp_base32_decode(const char *in, uint8_t *out, size_t outlen)
{
    uint32_t buf = 0;
    int bits = 0;
    size_t n = 0;

    for (; *in; in++) {
        char ch = *in;
        int v;
        if (ch == ' ' || ch == '=')
            continue;
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if (ch >= 'A' && ch <= 'Z')
            v = ch - 'A';
        else if (ch >= '2' && ch <= '7')
            v = ch - '2' + 26;
        else
            return -EINVAL;
        buf = (buf << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            if (n >= outlen)
                return -ENOSPC;
            out[n++] = (uint8_t)((buf >> (bits - 8)) & 0xff);
            bits -= 8;
        }
    }
    return (int)n;
}
