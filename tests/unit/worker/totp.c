/*
 * worker/totp.c (unit) — HOTP/TOTP against the test vectors of RFC 4226
 * (appendix D) and RFC 6238 (appendix B, SHA-1), the verification window and
 * its replay guard, and base32 round trips (RFC 4648 section 10).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "totp.h"

static const uint8_t seed[] = "12345678901234567890";
#define SEEDLEN 20

static void test_rfc4226(void **state)
{
    (void)state;
    static const int64_t want[] = {755224, 287082, 359152, 969429, 338314,
                                   254676, 287922, 162583, 399871, 520489};
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(totp_hotp(seed, SEEDLEN, i, 6), want[i]);
}

static void test_rfc6238_sha1(void **state)
{
    (void)state;
    static const struct {
        int64_t t, code;
    } v[] = {{59, 94287082},         {1111111109, 7081804},  {1111111111, 14050471},
             {1234567890, 89005924}, {2000000000, 69279037}, {20000000000LL, 65353130}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        assert_int_equal(totp_at(seed, SEEDLEN, v[i].t, 30, 8), v[i].code);
    assert_int_equal(totp_at(seed, SEEDLEN, -1, 30, 8), -1);
    assert_int_equal(totp_hotp(seed, SEEDLEN, 0, 5), -1);
}

static void test_verify_window_and_replay(void **state)
{
    (void)state;
    char code[8];
    int64_t last = 0, now = 1111111111;

    snprintf(code, sizeof code, "%06lld", (long long)totp_at(seed, SEEDLEN, now, 30, 6));
    assert_int_equal(totp_verify(seed, SEEDLEN, now, code, &last), 0);
    assert_int_equal(last, now / 30);
    /* The same code again: refused (used once). */
    assert_int_equal(totp_verify(seed, SEEDLEN, now, code, &last), -EACCES);
    /* The previous step's code, 30 s late: still accepted once, if not older than the last. */
    last = 0;
    snprintf(code, sizeof code, "%06lld", (long long)totp_at(seed, SEEDLEN, now - 30, 30, 6));
    assert_int_equal(totp_verify(seed, SEEDLEN, now, code, &last), 0);
    /* Two steps away: refused. */
    last = 0;
    snprintf(code, sizeof code, "%06lld", (long long)totp_at(seed, SEEDLEN, now - 90, 30, 6));
    if (totp_at(seed, SEEDLEN, now - 90, 30, 6) != totp_at(seed, SEEDLEN, now, 30, 6))
        assert_int_equal(totp_verify(seed, SEEDLEN, now, code, &last), -EACCES);
    /* Shapes. */
    assert_int_equal(totp_verify(seed, SEEDLEN, now, "12345", &last), -EINVAL);
    assert_int_equal(totp_verify(seed, SEEDLEN, now, "12345a", &last), -EINVAL);
    assert_int_equal(totp_verify(seed, SEEDLEN, now, "1234567", &last), -EINVAL);
    assert_int_equal(totp_verify(seed, SEEDLEN, now, NULL, &last), -EINVAL);
}

static void test_base32(void **state)
{
    (void)state;
    char out[64];
    uint8_t back[40];
    static const struct {
        const char *in, *out;
    } v[] = {{"", ""},
             {"f", "MY"},
             {"fo", "MZXQ"},
             {"foo", "MZXW6"},
             {"foob", "MZXW6YQ"},
             {"fooba", "MZXW6YTB"},
             {"foobar", "MZXW6YTBOI"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].in);
        assert_int_equal(totp_base32_encode((const uint8_t *)v[i].in, n, out, sizeof out),
                         (int)strlen(v[i].out));
        assert_string_equal(out, v[i].out);
        assert_int_equal(totp_base32_decode(out, back, sizeof back), (int)n);
        assert_memory_equal(back, v[i].in, n);
    }
    assert_int_equal(totp_base32_decode("mzxw6ytboi======", back, sizeof back), 6);
    assert_int_equal(totp_base32_decode("MZXW1", back, sizeof back), -EINVAL);
    assert_int_equal(totp_base32_decode("MZXW6YTBOI", back, 3), -ENOSPC);
    assert_int_equal(totp_base32_encode(seed, SEEDLEN, out, 33), 32);
    assert_int_equal(totp_base32_encode(seed, SEEDLEN, out, 32), -ENOSPC);
    assert_int_equal(totp_base32_encode(seed, SEEDLEN, out, 10), -ENOSPC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4226),
        cmocka_unit_test(test_rfc6238_sha1),
        cmocka_unit_test(test_verify_window_and_replay),
        cmocka_unit_test(test_base32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
