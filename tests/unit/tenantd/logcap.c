/*
 * logcap.c — the pure parts of log capture: what logcap_escape makes of
 * control bytes (ESC, other C0, DEL, the C1 controls in UTF-8 and raw,
 * invalid and overlong UTF-8) and what it leaves alone (text, tab, accented
 * letters, emoji); and the byte budget logcap_rate_bytes derives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "logcap.h"

static const char *esc(const char *in, size_t len)
{
    static char out[1024];
    assert_true(4 * len < sizeof out);
    size_t n = logcap_escape(in, len, out);
    assert_true(n <= 4 * len);
    out[n] = '\0';
    return out;
}

#define ESC(lit) esc(lit, sizeof lit - 1)

static void plain_text_is_kept(void **state)
{
    assert_string_equal(ESC("GET /api/me 200 1.2ms"), "GET /api/me 200 1.2ms");
    assert_string_equal(ESC("a\tb"), "a\tb");
    assert_string_equal(ESC("C:\\path \\x1b"), "C:\\path \\x1b");
    /* UTF-8 letters, three- and four-byte sequences. */
    assert_string_equal(ESC("Müller & Fils — É ✓ \xf0\x9f\x98\x80"),
                        "Müller & Fils — É ✓ \xf0\x9f\x98\x80");
}

static void terminal_escapes_are_escaped(void **state)
{
    /* Clear screen, a fake prompt, an OSC title and a bell. */
    assert_string_equal(ESC("\x1b[2J\x1b]0;pwned\x07ok"), "\\x1b[2J\\x1b]0;pwned\\x07ok");
    assert_string_equal(ESC("a\rb\bc\x7f"), "a\\x0db\\x08c\\x7f");
    assert_string_equal(ESC("nul\0x"), "nul\\x00x");
    /* CSI as a C1 control: U+009B in UTF-8, and the raw byte. */
    assert_string_equal(ESC("\xc2\x9b"
                            "31m"),
                        "\\xc2\\x9b31m");
    assert_string_equal(ESC("\x9b"
                            "31m"),
                        "\\x9b31m");
    /* U+00A0 is past C1: kept. */
    assert_string_equal(ESC("\xc2\xa0"), "\xc2\xa0");
}

static void invalid_utf8_is_escaped_byte_by_byte(void **state)
{
    /* An overlong ESC (C0 9B), a truncated sequence, a surrogate, and a lone
     * continuation byte. */
    assert_string_equal(ESC("\xc0\x9b"), "\\xc0\\x9b");
    assert_string_equal(ESC("x\xe2\x9c"), "x\\xe2\\x9c");
    assert_string_equal(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80");
    assert_string_equal(ESC("\xe0\x80\x9b"), "\\xe0\\x80\\x9b");
    assert_string_equal(ESC("\xbf"), "\\xbf");
}

static void byte_budget(void **state)
{
    struct logcap_opts o = {.line_max = 4096, .rate_lines = 1000, .rotate_bytes = 0};
    assert_int_equal(logcap_rate_bytes(&o), 1000 * LOGCAP_BYTES_PER_LINE);
    o.rate_lines = 1;
    assert_int_equal(logcap_rate_bytes(&o), LOGCAP_RATE_MIN);
}

/* Rotation inside one write: whole lines up to rotate_bytes, then rotate. */
static void take_splits_at_line_boundaries(void **state)
{
    (void)state;
    const char job[] = "aaaa\nbbbb\ncccc\n"; /* three lines of 5 bytes */
    size_t len = sizeof job - 1;
    assert_int_equal(logcap_take(job, 0, len, 0, 0), len);   /* no rotation */
    assert_int_equal(logcap_take(job, 0, len, 100, 0), len); /* no rotation, big file */
    assert_int_equal(logcap_take(job, 0, len, 0, 15), len);  /* fits exactly */
    assert_int_equal(logcap_take(job, 0, len, 0, 12), 10);   /* two lines fit */
    assert_int_equal(logcap_take(job, 0, len, 3, 12), 5);    /* one line fits */
    assert_int_equal(logcap_take(job, 0, len, 8, 12), 0);    /* none: rotate first */
    assert_int_equal(logcap_take(job, 0, len, 12, 12), 0);   /* full */
    assert_int_equal(logcap_take(job, 5, len, 0, 5), 5);     /* from an offset */
    assert_int_equal(logcap_take(job, 0, len, 0, 3), 5);     /* an empty file takes a line */
    assert_int_equal(logcap_take("no newline", 0, 10, 0, 3), 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_text_is_kept),
        cmocka_unit_test(terminal_escapes_are_escaped),
        cmocka_unit_test(invalid_utf8_is_escaped_byte_by_byte),
        cmocka_unit_test(byte_budget),
        cmocka_unit_test(take_splits_at_line_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
