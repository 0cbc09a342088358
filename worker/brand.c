/*
 * brand.c — the firm's monogram and the plan's label (see brand.h).
 */
#include "brand.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Compared after folding: ASCII lower case, "è é ê" → "e", "î" → "i". */
static const char *const skipped[] = {
    "cabinet",  "scp",      "selarl",    "selas", "selafa", "seleurl", "aarpi",
    "sarl",     "sas",      "maitre",    "me",    "avocat", "avocats", "associe",
    "associes", "associee", "associees", "de",    "du",     "des",     "la",
    "le",       "les",      "et",        "d",     "l",      "societe",
};

/* Fold one word (s, len bytes) into out for comparison: ASCII lower case,
 * the accented Latin-1 letters French uses to their base letter. */
static void fold(const char *s, size_t len, char *out, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < len && j + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0xC3 && i + 1 < len) {
            unsigned char d = (unsigned char)s[++i] | 0x20; /* lower-case Latin-1 */
            out[j++] = (d >= 0xA0 && d <= 0xA5)   ? 'a'
                       : (d >= 0xA8 && d <= 0xAB) ? 'e'
                       : (d >= 0xAC && d <= 0xAF) ? 'i'
                       : (d >= 0xB2 && d <= 0xB6) ? 'o'
                       : (d >= 0xB9 && d <= 0xBC) ? 'u'
                       : (d == 0xA7)              ? 'c'
                                                  : '?';
        } else {
            out[j++] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
        }
    }
    out[j] = '\0';
}

static bool is_skipped(const char *w, size_t len)
{
    char f[32];
    if (len >= sizeof f)
        return false;
    fold(w, len, f, sizeof f);
    for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++)
        if (strcmp(f, skipped[i]) == 0)
            return true;
    return false;
}

static size_t seq_len(unsigned char b)
{
    return b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
}

/* Append the first character of w, upper case (ASCII and Latin-1), to out. */
static void put_initial(const char *w, size_t len, char *out, size_t n)
{
    size_t k = seq_len((unsigned char)w[0]), at = strlen(out);
    if (k > len)
        k = len;
    if (at + k + 1 > n)
        return;
    memcpy(out + at, w, k);
    out[at + k] = '\0';
    unsigned char *c = (unsigned char *)out + at;
    if (k == 1 && c[0] >= 'a' && c[0] <= 'z')
        c[0] = (unsigned char)(c[0] - 'a' + 'A');
    else if (k == 2 && c[0] == 0xC3 && c[1] >= 0xA0 && c[1] <= 0xBE && c[1] != 0xB7)
        c[1] = (unsigned char)(c[1] - 0x20); /* é → É; not ÷ */
}

/* Word characters: letters and digits of any script; everything else
 * (spaces, &, punctuation, hyphens) separates words. */
static bool is_sep(unsigned char c)
{
    return c < 0x80 &&
           !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
}

void brand_monogram(const char *name, char *out, size_t n)
{
    int found = 0;
    if (n == 0)
        return;
    out[0] = '\0';
    for (const char *p = name; *p != '\0' && found < 2;) {
        while (*p != '\0' && is_sep((unsigned char)*p))
            p++;
        const char *w = p;
        while (*p != '\0' && !is_sep((unsigned char)*p))
            p++;
        size_t len = (size_t)(p - w);
        if (len == 0)
            break;
        /* An elided article ("d'Avocats", "l'Ordre"): the word is after it. */
        if (*p == '\'' && len == 1 && (w[0] == 'd' || w[0] == 'l' || w[0] == 'D' || w[0] == 'L'))
            continue;
        if (is_skipped(w, len))
            continue;
        put_initial(w, len, out, n);
        found++;
    }
    if (found == 0 && name[0] != '\0')
        put_initial(name, strlen(name), out, n);
}

const char *brand_plan_label(const char *label, const char *lang)
{
    static const char *const fr[][2] = {
        {"Starter", "Essentielle"},
        {"Professional", "Professionnelle"},
        {"Enterprise", "Entreprise"},
    };
    if (label == NULL)
        return "";
    if (lang == NULL || strcmp(lang, "fr") != 0)
        return label;
    for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++)
        if (strcasecmp(label, fr[i][0]) == 0)
            return fr[i][1];
    return label;
}
