/*
 * tenantd/reminders_mail.c (unit) — a worker's reminder is checked field by
 * field (it is hostile input), and the mail composed from it: French or
 * English, the firm's name in an RFC 2047 Subject, Cc only when different.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reminders.h"

static int parse(const char *text, struct reminder *r, char *why)
{
    json_t *o = json_loads(text, 0, NULL);
    assert_non_null(o);
    int rc = reminder_parse(o, r, why, 160);
    json_decref(o);
    return rc;
}

static void test_parse_good(void **state)
{
    (void)state;
    struct reminder r;
    char why[160];
    assert_int_equal(parse("{\"id\": \"12-48h\", \"title\": \"Recours\\nOQTF\", "
                           "\"deadline_date\": \"2026-12-05\", \"deadline_at\": "
                           "\"2026-12-05T16:00\", \"reference\": \"L. 921-2\", "
                           "\"to\": \"a@b.example\", \"cc\": \"a@b.example\"}",
                           &r, why),
                     0);
    assert_string_equal(r.lead, "48h");
    assert_string_equal(r.title, "Recours OQTF"); /* the newline cannot start a header */
    assert_string_equal(r.at, "16:00");
    assert_int_equal(r.ncc, 0); /* the same as "to" */
    /* A list: "to" and duplicates dropped; chosen leads. */
    assert_int_equal(parse("{\"id\": \"12-72h\", \"title\": \"t\", \"deadline_date\": "
                           "\"2026-12-05\", \"to\": \"a@b.example\", \"cc\": [\"c@b.example\", "
                           "\"a@b.example\", \"d@b.example\"], "
                           "\"responsible_status\": \"disabled\", \"responsible\": \"durand\"}",
                           &r, why),
                     0);
    assert_int_equal(r.ncc, 2);
    assert_string_equal(r.cc[0], "c@b.example");
    assert_string_equal(r.cc[1], "d@b.example");
    assert_string_equal(r.responsible_status, "disabled");
    for (const char *const *l = (const char *const[]){"1h", "2160h", "90d", "morning", NULL}; *l;
         l++) {
        char text[256];
        snprintf(text, sizeof text,
                 "{\"id\": \"4-%s\", \"title\": \"t\", \"deadline_date\": \"2026-12-05\", "
                 "\"to\": \"a@b.example\"}",
                 *l);
        assert_int_equal(parse(text, &r, why), 0);
    }
    /* A deadline until the end of the day says no hour. */
    assert_int_equal(
        parse("{\"id\": \"3-day\", \"title\": \"t\", \"deadline_date\": \"2026-12-05\","
              " \"deadline_at\": \"2026-12-05T23:59\", \"to\": \"a@b.example\"}",
              &r, why),
        0);
    assert_string_equal(r.at, "");
}

static void test_parse_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"id\": \"12-0h\", \"title\": \"t\", \"deadline_date\": \"2026-12-05\", \"to\": "
        "\"a@b.c\"}",
        "{\"id\": \"12-91d\", \"title\": \"t\", \"deadline_date\": \"2026-12-05\", \"to\": "
        "\"a@b.c\"}",
        "{\"id\": \"1-48h\", \"title\": \"t\", \"deadline_date\": \"2026-12-05\", "
        "\"to\": \"a@b.c\", \"cc\": [\"a@b.c\", \"x\"]}",
        "{\"id\": \"1-48h\", \"title\": \"t\", \"deadline_date\": \"2026-12-05\", "
        "\"to\": \"a@b.c\", \"cc\": [\"a@b.d\", \"b@b.d\", \"c@b.d\", \"e@b.d\"]}",
        "{\"id\": \"x-48h\", \"title\": \"t\", \"deadline_date\": \"2026-12-05\", \"to\": "
        "\"a@b.c\"}",
        "{\"id\": \"1-48h\", \"title\": \"\", \"deadline_date\": \"2026-12-05\", \"to\": "
        "\"a@b.c\"}",
        "{\"id\": \"1-48h\", \"title\": \"t\", \"deadline_date\": \"5/12/2026\", \"to\": "
        "\"a@b.c\"}",
        "{\"id\": \"1-48h\", \"title\": \"t\", \"deadline_date\": \"2026-12-05\", "
        "\"deadline_at\": \"2026-12-06T10:00\", \"to\": \"a@b.c\"}",
        "{\"id\": \"1-48h\", \"title\": \"t\", \"deadline_date\": \"2026-12-05\", "
        "\"to\": \"a@b.c\\r\\nBcc: x@y.z\"}",
        "{\"id\": \"1-48h\", \"title\": \"t\", \"deadline_date\": \"2026-12-05\", "
        "\"to\": \"a@b.c\", \"cc\": \"x <x@y.z>\"}",
        "{\"id\": \"1-48h\", \"title\": 7, \"deadline_date\": \"2026-12-05\", \"to\": \"a@b.c\"}",
        "{\"id\": \"1-48h\", \"title\": \"t\", \"deadline_date\": \"2026-12-05\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct reminder r;
        char why[160] = "";
        assert_int_equal(parse(bad[i], &r, why), -1);
        assert_true(why[0] != '\0');
    }
}

static void test_message_fr_and_en(void **state)
{
    (void)state;
    struct reminder r = {.id = "12-48h",
                         .lead = "48h",
                         .title = "Recours OQTF",
                         .date = "2026-12-05",
                         .at = "16:00",
                         .reference = "L. 921-2",
                         .to = "durand@dupont.example",
                         .cc = {"contact@dupont.example", "admin@dupont.example"},
                         .ncc = 2,
                         .seconds_left = -1};
    struct reminder_firm f = {.tenant = "dupont",
                              .name = "Cabinet Dupont",
                              .language = "fr",
                              .timezone = "Europe/Paris",
                              .from = "tenantd@vendor.example"};
    size_t len = 0;
    char *m = reminder_message(&r, &f, 0, &len);
    assert_non_null(m);
    assert_int_equal(strlen(m), len);
    assert_non_null(strstr(m, "From: tenantd@vendor.example\r\nTo: durand@dupont.example\r\n"
                              "Cc: contact@dupont.example,\r\n admin@dupont.example\r\n"));
    assert_non_null(strstr(m, "Subject: =?UTF-8?B?")); /* encoded, never raw */
    assert_non_null(strstr(m, "tombe le 05/12/2026 à 16:00 (heure locale, fuseau Europe/Paris)."));
    /* Stable: the deadline, its lead and date, the tenant, the sender's domain. */
    assert_non_null(
        strstr(m, "\r\nMessage-ID: <reminder.12.48h.20261205.dupont@vendor.example>\r\n"));
    assert_null(strstr(m, "à la place"));
    assert_non_null(strstr(m, "X-Tenantd-Reminder: 12-48h\r\n"));
    free(m);
    r.ncc = 0;
    snprintf(r.responsible_status, sizeof r.responsible_status, "disabled");
    snprintf(r.responsible, sizeof r.responsible, "durand");
    snprintf(r.lead, sizeof r.lead, "7d");
    f.name = "Firm\r\nBcc: x";
    f.language = "en";
    f.timezone = "../etc\r\nX: y"; /* hostile: not said */
    m = reminder_message(&r, &f, 0, &len);
    assert_non_null(m);
    assert_null(strstr(m, "Cc:"));
    assert_null(strstr(m, "\nBcc"));
    assert_null(strstr(m, "\nX: y"));
    assert_non_null(strstr(m, "falls on 2026-12-05 16:00."));
    assert_non_null(strstr(m, "in place of durand: its responsible lawyer's account is disabled"));
    free(m);
    r.lead[0] = '\0';
    snprintf(r.lead, sizeof r.lead, "1d");
    f.language = "fr";
    f.timezone = "Europe/Paris";
    m = reminder_message(&r, &f, 0, &len);
    assert_non_null(m);
    assert_non_null(strstr(m, "à la place de durand : le compte de l'avocat responsable est"));
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_message_fr_and_en),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
