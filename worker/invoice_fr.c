/*
 * invoice_fr.c — the French invoice's texts (see invoice_fr.h).
 */
#include "invoice_fr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NNBSP "\xe2\x80\xaf" /* U+202F narrow no-break space */
#define NBSP "\xc2\xa0"      /* U+00A0 no-break space */

void invoice_amount(int64_t cents, int en, char *out, size_t n)
{
    char digits[32], grouped[96];
    const char *sign = cents < 0 ? "-" : "";
    unsigned long long v = cents < 0 ? 0ULL - (unsigned long long)cents : (unsigned long long)cents;
    size_t len = (size_t)snprintf(digits, sizeof digits, "%llu", v / 100), j = 0;
    const char *sep = en ? "," : NNBSP;
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            for (const char *s = sep; *s != '\0'; s++)
                grouped[j++] = *s;
        grouped[j++] = digits[i];
    }
    grouped[j] = '\0';
    if (en)
        snprintf(out, n, "%s€%s.%02llu", sign, grouped, v % 100);
    else
        snprintf(out, n, "%s%s,%02llu" NBSP "€", sign, grouped, v % 100);
}

/* The first want digits of s (spaces skipped) into d; the count found. */
static size_t digits_of(const char *s, char *d, size_t want)
{
    size_t k = 0;
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == ' ' || *s == '.')
            continue;
        if (*s < '0' || *s > '9' || k == want)
            return 0;
        d[k++] = *s;
    }
    d[k] = '\0';
    return k;
}

int invoice_siret(const char *siret, char *out, size_t n)
{
    char d[16];
    out[0] = '\0';
    if (digits_of(siret, d, 14) != 14)
        return -EINVAL;
    snprintf(out, n, "%.3s %.3s %.3s %.5s", d, d + 3, d + 6, d + 9);
    return 0;
}

int invoice_vat_number(const char *siret, char *out, size_t n)
{
    char d[16];
    size_t k = digits_of(siret, d, 14);
    out[0] = '\0';
    if (k != 9 && k != 14)
        return -EINVAL;
    /* The key of a French VAT number: (12 + 3 × (SIREN mod 97)) mod 97. */
    unsigned long siren = strtoul((d[9] = '\0', d), NULL, 10);
    snprintf(out, n, "FR%02lu%s", (12 + 3 * (siren % 97)) % 97, d);
    return 0;
}

int invoice_date(const char *iso_utc, int add_days, int en, char *out, size_t n)
{
    static const char *const fr[12] = {"janvier",   "février", "mars",     "avril",
                                       "mai",       "juin",    "juillet",  "août",
                                       "septembre", "octobre", "novembre", "décembre"};
    static const char *const enm[12] = {"January",   "February", "March",    "April",
                                        "May",       "June",     "July",     "August",
                                        "September", "October",  "November", "December"};
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, s = 0;
    out[0] = '\0';
    if (iso_utc == NULL ||
        sscanf(iso_utc, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) < 3 || mo < 1 ||
        mo > 12 || d < 1 || d > 31)
        return -EINVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    time_t t = timegm(&tm);
    struct tm lt;
    if (t == (time_t)-1 || localtime_r(&t, &lt) == NULL)
        return -EINVAL;
    /* Add days on the local calendar (noon avoids DST edges). */
    lt.tm_mday += add_days;
    lt.tm_hour = 12;
    lt.tm_isdst = -1;
    if (mktime(&lt) == (time_t)-1)
        return -EINVAL;
    if (en)
        snprintf(out, n, "%d %s %d", lt.tm_mday, enm[lt.tm_mon], lt.tm_year + 1900);
    else
        snprintf(out, n, "%d%s %s %d", lt.tm_mday, lt.tm_mday == 1 ? "er" : "", fr[lt.tm_mon],
                 lt.tm_year + 1900);
    return 0;
}

const char *invoice_status(const char *status, int en)
{
    static const char *const map[][2] = {
        {"draft", "brouillon"},
        {"sent", "envoyée"},
        {"paid", "payée"},
        {"cancelled", "annulée"},
    };
    if (status == NULL)
        return "";
    for (size_t i = 0; !en && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(status, map[i][0]) == 0)
            return map[i][1];
    return status;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int64_t jint(const json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

/* s, or INVOICE_MISSING (counted) when empty. */
static const char *or_missing(const char *s, struct invoice_view *v)
{
    if (s != NULL && s[0] != '\0')
        return s;
    v->missing++;
    return INVOICE_MISSING;
}

int invoice_view_make(struct invoice_view *v, const json_t *inv, const struct wenv *env)
{
    const json_t *items = json_object_get(inv, "items");
    int en = env->language != NULL && strcmp(env->language, "en") == 0;
    char a[96], b[96], tmp[96];
    memset(v, 0, sizeof *v);
    v->en = en;

    snprintf(v->title, sizeof v->title, en ? "Invoice no. %s" : "Facture n° %s",
             jstr(inv, "numero"));
    if (invoice_date(jstr(inv, "created_at"), 0, en, a, sizeof a) < 0)
        snprintf(a, sizeof a, "%s", jstr(inv, "created_at"));
    snprintf(v->issued, sizeof v->issued, en ? "Issue date: %s" : "Date d'émission : %s", a);
    if (invoice_date(jstr(inv, "created_at"), INVOICE_PAYMENT_DAYS, en, b, sizeof b) < 0)
        snprintf(b, sizeof b, "%s", INVOICE_MISSING);
    snprintf(v->due, sizeof v->due,
             en ? "Due date: %s (%d days)" : "Date d'échéance : %s (%d jours)", b,
             INVOICE_PAYMENT_DAYS);
    snprintf(v->status, sizeof v->status, en ? "Status: %s" : "Statut : %s",
             invoice_status(jstr(inv, "status"), en));

    snprintf(v->seller[0], sizeof v->seller[0], "%s", or_missing(env->client_name, v));
    snprintf(v->seller[1], sizeof v->seller[1], "%s", or_missing(env->address, v));
    if (invoice_siret(env->siret, tmp, sizeof tmp) < 0)
        snprintf(tmp, sizeof tmp, "%s", or_missing(NULL, v));
    snprintf(v->seller[2], sizeof v->seller[2], "SIRET %s", tmp);
    if (invoice_vat_number(env->siret, tmp, sizeof tmp) < 0)
        snprintf(tmp, sizeof tmp, "%s", or_missing(NULL, v));
    snprintf(v->seller[3], sizeof v->seller[3],
             en ? "EU VAT number: %s" : "N° TVA intracommunautaire : %s", tmp);
    snprintf(v->seller[4], sizeof v->seller[4], "%s%s%s", env->phone ? env->phone : "",
             env->phone && env->phone[0] && env->email && env->email[0] ? " · " : "",
             env->email ? env->email : "");

    snprintf(v->client[0], sizeof v->client[0], en ? "Billed to:" : "Client :");
    snprintf(v->client[1], sizeof v->client[1], "%s", or_missing(jstr(inv, "client_name"), v));
    /* The client's address is not stored with the invoice yet. */
    snprintf(v->client[2], sizeof v->client[2], en ? "Address: %s" : "Adresse : %s",
             or_missing(jstr(inv, "client_address"), v));

    static const char *const head_fr[4] = {"Désignation", "Qté", "Prix unitaire HT", "Total HT"};
    static const char *const head_en[4] = {"Description", "Qty", "Unit price excl. VAT",
                                           "Total excl. VAT"};
    for (int i = 0; i < 4; i++)
        snprintf(v->head[i], sizeof v->head[i], "%s", en ? head_en[i] : head_fr[i]);

    v->nlines = json_array_size(items);
    if (v->nlines > 0 && (v->lines = calloc(v->nlines, sizeof *v->lines)) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < v->nlines; i++) {
        const json_t *it = json_array_get(items, i);
        int64_t q = jint(it, "quantity"), u = jint(it, "unit_price_cents");
        int64_t t = json_object_get(it, "total_cents") ? jint(it, "total_cents") : q * u;
        snprintf(v->lines[i].description, sizeof v->lines[i].description, "%s",
                 jstr(it, "description"));
        v->lines[i].quantity = (long long)q;
        invoice_amount(u, en, v->lines[i].unit, sizeof v->lines[i].unit);
        invoice_amount(t, en, v->lines[i].total, sizeof v->lines[i].total);
    }

    int64_t ht = jint(inv, "montant_ht_cents"), ttc = jint(inv, "montant_ttc_cents");
    int64_t tva = json_object_get(inv, "tva_cents") ? jint(inv, "tva_cents") : ttc - ht;
    int64_t bp = jint(inv, "vat_rate_bp");
    snprintf(v->totals[0][0], sizeof v->totals[0][0], en ? "Total excl. VAT" : "Total HT");
    invoice_amount(ht, en, v->totals[0][1], sizeof v->totals[0][1]);
    if (bp % 100 == 0)
        snprintf(v->totals[1][0], sizeof v->totals[1][0], en ? "VAT %lld %%" : "TVA %lld" NBSP "%%",
                 (long long)(bp / 100));
    else
        snprintf(v->totals[1][0], sizeof v->totals[1][0],
                 en ? "VAT %lld.%02lld %%" : "TVA %lld,%02lld" NBSP "%%", (long long)(bp / 100),
                 (long long)(bp % 100));
    invoice_amount(tva, en, v->totals[1][1], sizeof v->totals[1][1]);
    snprintf(v->totals[2][0], sizeof v->totals[2][0], en ? "Total incl. VAT" : "Total TTC");
    invoice_amount(ttc, en, v->totals[2][1], sizeof v->totals[2][1]);

    if (en)
        snprintf(v->terms[0], sizeof v->terms[0],
                 "Payment due by %s, %d days after the issue date (Code de commerce art. L. "
                 "441-10 I).",
                 b, INVOICE_PAYMENT_DAYS);
    else
        snprintf(v->terms[0], sizeof v->terms[0],
                 "Paiement à %d jours de la date d'émission, au plus tard le %s (Code de "
                 "commerce, art. L. 441-10 I).",
                 INVOICE_PAYMENT_DAYS, b);
    snprintf(v->terms[1], sizeof v->terms[1], "%s",
             en ? "Late-payment penalties: the European Central Bank's rate for its most recent "
                  "refinancing operation plus 10 percentage points, due from the day after the "
                  "due date without any reminder (Code de commerce art. L. 441-10 II)."
                : "Pénalités de retard : taux d'intérêt appliqué par la Banque centrale "
                  "européenne à son opération de refinancement la plus récente, majoré de 10 "
                  "points de pourcentage, exigibles dès le lendemain de l'échéance sans rappel "
                  "(Code de commerce, art. L. 441-10 II).");
    snprintf(v->terms[2], sizeof v->terms[2], "%s",
             en ? "Fixed indemnity for recovery costs owed by a business client paying late: "
                  "€40 (Code de commerce art. L. 441-10 II and D. 441-5)."
                : "Indemnité forfaitaire pour frais de recouvrement due par le client "
                  "professionnel en cas de retard de paiement : 40" NBSP "€ (Code de commerce, "
                  "art. L. 441-10 II et D. 441-5).");
    snprintf(v->terms[3], sizeof v->terms[3], "%s",
             en ? "No discount for early payment." : "Pas d'escompte pour paiement anticipé.");
    return 0;
}

void invoice_view_free(struct invoice_view *v)
{
    free(v->lines);
    v->lines = NULL;
    v->nlines = 0;
}
