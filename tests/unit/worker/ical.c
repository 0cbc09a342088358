/*
 * worker/ical.c (unit) — the calendar feed's rendering (ical.c): RFC 5545
 * line folding at 75 octets that never splits a UTF-8 character, text
 * escaping, all-day against timed entries, one VALARM per lead time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ical.h"

/* Undo the folding: drop every CRLF followed by a space. */
static char *unfold(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    for (; *s; s++) {
        if (s[0] == '\r' && s[1] == '\n' && s[2] == ' ') {
            s += 2;
            continue;
        }
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

static int valid_utf8_line(const char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        size_t k = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
        if (k == 0 || i + k > n)
            return 0;
        for (size_t j = 1; j < k; j++)
            if (((unsigned char)p[i + j] & 0xc0) != 0x80)
                return 0;
        i += k;
    }
    return 1;
}

static void test_folding_and_escaping(void **state)
{
    (void)state;
    char summary[600] = "Recours; M. Müller, dossier \\12\nsuite ";
    for (int i = 0; i < 100; i++)
        strcat(summary, "é");
    struct ical_event ev = {.id = 7,
                            .date = "2026-03-09",
                            .at = "2026-03-09T23:59",
                            .summary = summary,
                            .reference = "CESEDA, art. L. 614-1",
                            .description = "oqtf",
                            .stamp = "20260301T080000Z"};
    size_t len = 0;
    char *cal = ical_render(&ev, 1, "Échéances — Cabinet", "Europe/Paris", "dupont", &len);
    assert_non_null(cal);
    assert_int_equal(strlen(cal), len);
    /* Every physical line: at most 75 octets, whole UTF-8 characters, CRLF. */
    for (const char *p = cal; *p;) {
        const char *e = strstr(p, "\r\n");
        assert_non_null(e);
        assert_true(e - p <= 75);
        assert_true(valid_utf8_line(p, (size_t)(e - p)));
        p = e + 2;
    }
    char *flat = unfold(cal);
    assert_non_null(strstr(flat, "\r\nSUMMARY:Recours\\; M. Müller\\, dossier \\\\12\\nsuite éé"));
    assert_non_null(strstr(flat, "\r\nDESCRIPTION:CESEDA\\, art. L. 614-1\\noqtf\r\n"));
    /* A rule in days: all-day on the last day, three reminders. */
    assert_non_null(strstr(flat, "\r\nDTSTART;VALUE=DATE:20260309\r\n"));
    assert_non_null(strstr(flat, "\r\nTRIGGER:-P7D\r\n"));
    assert_non_null(strstr(flat, "\r\nTRIGGER:-PT48H\r\n"));
    assert_non_null(strstr(flat, "\r\nTRIGGER:PT8H\r\n"));
    assert_non_null(strstr(flat, "\r\nUID:deadline-7@dupont\r\n"));
    assert_non_null(strstr(flat, "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\n"));
    assert_true(strncmp(flat, "BEGIN:VCALENDAR\r\n", 17) == 0);
    assert_true(len >= 15 && strcmp(flat + strlen(flat) - 15, "END:VCALENDAR\r\n") == 0);
    free(flat);
    free(cal);
}

static void test_timed_entry(void **state)
{
    (void)state;
    struct ical_event ev = {.id = 1,
                            .date = "2026-03-09",
                            .at = "2026-03-09T10:30",
                            .summary = "Rétention",
                            .reference = "L. 743-3",
                            .description = "",
                            .stamp = "20260301T080000Z"};
    size_t len = 0;
    char *cal = ical_render(&ev, 1, "x", "Europe/Paris", NULL, &len);
    assert_non_null(cal);
    assert_non_null(strstr(cal, "\r\nDTSTART;TZID=Europe/Paris:20260309T103000\r\n"));
    assert_null(strstr(cal, "TRIGGER:PT8H"));
    assert_non_null(strstr(cal, "\r\nDESCRIPTION:L. 743-3\r\n"));
    free(cal);
    /* No zone known: an all-day entry rather than a floating time. */
    cal = ical_render(&ev, 1, "x", "", NULL, &len);
    assert_non_null(strstr(cal, "\r\nDTSTART;VALUE=DATE:20260309\r\n"));
    assert_null(strstr(cal, "VTIMEZONE"));
    free(cal);
}

static void test_control_characters_never_reach_a_line(void **state)
{
    (void)state;
    struct ical_event ev = {.id = 2,
                            .date = "2026-03-09",
                            .summary = "a\rb\x01"
                                       "c\x7f"
                                       "d",
                            .reference = "r",
                            .stamp = "20260301T080000Z"};
    size_t len = 0;
    char *cal = ical_render(&ev, 1, "x\r\nX-EVIL:1", NULL, NULL, &len);
    assert_non_null(cal);
    assert_non_null(strstr(cal, "\r\nSUMMARY:abcd\r\n"));
    assert_null(strstr(cal, "\r\nX-EVIL"));
    free(cal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folding_and_escaping),
        cmocka_unit_test(test_timed_entry),
        cmocka_unit_test(test_control_characters_never_reach_a_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
