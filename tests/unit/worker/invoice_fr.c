/*
 * worker/invoice_fr.c (unit) — the French invoice's texts (invoice_fr.c) and
 * its PDF (invoice_pdf.c): amounts grouped with U+202F, SIRET and VAT number,
 * French dates in the firm's zone, status in French, "à compléter" for a
 * missing identity field, and a PDF whose cross-reference table points at
 * its objects and whose text holds the mentions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "invoice_fr.h"
#include "invoice_page.h"

static void test_amounts(void **state)
{
    (void)state;
    char s[64];
    invoice_amount(115050, 0, s, sizeof s);
    assert_string_equal(s, "1\xe2\x80\xaf"
                           "150,50\xc2\xa0€");
    invoice_amount(5, 0, s, sizeof s);
    assert_string_equal(s, "0,05\xc2\xa0€");
    invoice_amount(123456789012, 0, s, sizeof s);
    assert_string_equal(s, "1\xe2\x80\xaf"
                           "234\xe2\x80\xaf"
                           "567\xe2\x80\xaf"
                           "890,12\xc2\xa0€");
    invoice_amount(-99900, 0, s, sizeof s);
    assert_string_equal(s, "-999,00\xc2\xa0€");
    invoice_amount(115050, 1, s, sizeof s);
    assert_string_equal(s, "€1,150.50");
    invoice_amount(INT64_MIN, 0, s, sizeof s); /* no overflow */
    assert_non_null(strstr(s, "€"));
}

static void test_identity(void **state)
{
    (void)state;
    char s[64];
    assert_int_equal(invoice_siret("12345678900012", s, sizeof s), 0);
    assert_string_equal(s, "123 456 789 00012");
    assert_int_equal(invoice_siret("123 456 789 00012", s, sizeof s), 0);
    assert_string_equal(s, "123 456 789 00012");
    assert_int_equal(invoice_siret("1234567890001", s, sizeof s), -22);
    assert_string_equal(s, "");
    assert_int_equal(invoice_siret("1234567890001X", s, sizeof s), -22);
    assert_int_equal(invoice_siret("", s, sizeof s), -22);
    assert_int_equal(invoice_siret(NULL, s, sizeof s), -22);
    /* FR + (12 + 3 × (SIREN mod 97)) mod 97 + SIREN; 123456789 mod 97 = 39. */
    assert_int_equal(invoice_vat_number("12345678900012", s, sizeof s), 0);
    assert_string_equal(s, "FR32123456789");
    assert_int_equal(invoice_vat_number("404 833 048", s, sizeof s), 0);
    assert_string_equal(s, "FR83404833048"); /* (12 + 3 × 56) mod 97 = 83 */
    assert_int_equal(invoice_vat_number("12345", s, sizeof s), -22);
}

static void test_dates_and_status(void **state)
{
    (void)state;
    char s[64];
    setenv("TZ", "Europe/Paris", 1);
    tzset();
    /* 23:30 UTC on 31 Dec is already 1 January in Paris. */
    assert_int_equal(invoice_date("2026-12-31T23:30:00Z", 0, 0, s, sizeof s), 0);
    assert_string_equal(s, "1er janvier 2027");
    assert_int_equal(invoice_date("2026-12-03T07:00:00Z", 30, 0, s, sizeof s), 0);
    assert_string_equal(s, "2 janvier 2027");
    assert_int_equal(invoice_date("2026-08-15T10:00:00Z", 0, 0, s, sizeof s), 0);
    assert_string_equal(s, "15 août 2026");
    assert_int_equal(invoice_date("2026-03-01T10:00:00Z", 0, 1, s, sizeof s), 0);
    assert_string_equal(s, "1 March 2026");
    assert_int_equal(invoice_date("yesterday", 0, 0, s, sizeof s), -22);
    assert_int_equal(invoice_date("2026-13-01T00:00:00Z", 0, 0, s, sizeof s), -22);
    assert_string_equal(invoice_status("draft", 0), "brouillon");
    assert_string_equal(invoice_status("sent", 0), "envoyée");
    assert_string_equal(invoice_status("paid", 0), "payée");
    assert_string_equal(invoice_status("cancelled", 0), "annulée");
    assert_string_equal(invoice_status("sent", 1), "sent");
}

static json_t *sample(void)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:[{s:s, s:i, s:I, s:I}]}", "numero",
                     "2026-0042", "client_name", "SARL (Conseil) \\ Karim", "status", "sent",
                     "vat_rate_bp", 2000, "montant_ht_cents", (json_int_t)95875, "tva_cents",
                     (json_int_t)19175, "montant_ttc_cents", (json_int_t)115050, "items",
                     "description", "Consultation", "quantity", 1, "unit_price_cents",
                     (json_int_t)95875, "total_cents", (json_int_t)95875);
}

static void test_missing_identity(void **state)
{
    (void)state;
    struct wenv env = {.client_name = "Cabinet Roux", .language = "fr", .color = "#123456"};
    struct invoice_view v;
    json_t *inv = sample();
    json_object_set_new(inv, "created_at", json_string("2026-12-03T07:00:00Z"));
    assert_int_equal(invoice_view_make(&v, inv, &env), 0);
    /* No address, no SIRET (so no VAT number), no client address. */
    assert_int_equal(v.missing, 4);
    assert_string_equal(v.seller[1], "à compléter");
    assert_string_equal(v.seller[2], "SIRET à compléter");
    assert_string_equal(v.client[2], "Adresse : à compléter");
    assert_string_equal(v.status, "Statut : envoyée");
    assert_string_equal(v.due, "Date d'échéance : 2 janvier 2027 (30 jours)");
    assert_string_equal(v.totals[1][0], "TVA 20\xc2\xa0%");
    invoice_view_free(&v);
    json_decref(inv);
}

static void test_pdf(void **state)
{
    (void)state;
    struct wenv env = {.client_name = "Cabinet Roux",
                       .address = "1 rue de la Paix, 75002 Paris",
                       .siret = "12345678900012",
                       .phone = "",
                       .email = "",
                       .language = "fr",
                       .color = "#123456"};
    json_t *inv = sample();
    json_object_set_new(inv, "created_at", json_string("2026-12-03T07:00:00Z"));
    size_t len = 0;
    char *pdf = invoice_pdf(inv, &env, &len);
    assert_non_null(pdf);
    assert_memory_equal(pdf, "%PDF-1.4\n", 9);
    /* Every xref entry points at "N 0 obj". */
    const char *sx = strstr(pdf, "startxref\n");
    assert_non_null(sx);
    long xref = strtol(sx + 10, NULL, 10);
    assert_true(xref > 0 && (size_t)xref < len);
    assert_memory_equal(pdf + xref, "xref\n0 ", 7);
    int n = atoi(pdf + xref + 7);
    const char *e = strchr(pdf + xref + 7, '\n') + 1 + 20; /* skip the free entry */
    for (int i = 1; i < n; i++, e += 20) {
        char want[32];
        long off = strtol(e, NULL, 10);
        snprintf(want, sizeof want, "%d 0 obj", i);
        assert_memory_equal(pdf + off, want, strlen(want));
    }
    /* The text, in WinAnsi: "é" is \351, "€" is \200, ( ) \ escaped. */
    assert_non_null(strstr(pdf, "(Facture n\\260 2026-0042)"));
    assert_non_null(strstr(pdf, "(SIRET 123 456 789 00012)"));
    assert_non_null(strstr(pdf, "FR32123456789"));
    assert_non_null(strstr(pdf, "1\\240150,50\\240\\200"));
    assert_non_null(strstr(pdf, "SARL \\(Conseil\\) \\\\ Karim"));
    assert_non_null(strstr(pdf, "40\\240\\200"));
    assert_non_null(strstr(pdf, "Statut : envoy\\351e"));
    free(pdf);
    json_decref(inv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amounts),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_dates_and_status),
        cmocka_unit_test(test_missing_identity),
        cmocka_unit_test(test_pdf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
