/*
 * analysis_rules.c — the rule-based case assessment (see analysis_rules.h):
 * the rule file parser, text normalisation and the scoring.
 */
#include "analysis_rules.h"
#include "analysis_context.h"
#include "rulefile.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANALYSIS_MAX_RULES 200
#define ANALYSIS_MAX_PHRASES 64

const char *analysis_urgency_name(enum analysis_urgency u)
{
    switch (u) {
    case ANALYSIS_URGENCY_LOW:
        return "low";
    case ANALYSIS_URGENCY_NORMAL:
        return "normal";
    case ANALYSIS_URGENCY_HIGH:
        return "high";
    case ANALYSIS_URGENCY_CRITICAL:
        return "critical";
    case ANALYSIS_URGENCY_NONE:
        break;
    }
    return NULL;
}

static int urgency_from_name(const char *s, enum analysis_urgency *out)
{
    for (int u = ANALYSIS_URGENCY_LOW; u <= ANALYSIS_URGENCY_CRITICAL; u++)
        if (strcmp(s, analysis_urgency_name((enum analysis_urgency)u)) == 0) {
            *out = (enum analysis_urgency)u;
            return 0;
        }
    return -EINVAL;
}

bool analysis_model_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 62 || strstr(name, "..") != NULL)
        return false;
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
        return false;
    for (const char *p = name; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
            return false;
    return true;
}

/* ---- normalisation ------------------------------------------------------ */

/*
 * The ASCII letters of a Latin-1 supplement character U+00C0..U+00FF (second
 * byte of its UTF-8 form minus 0x80, upper and lower case alike), or "" for
 * the two signs (× ÷) among them.
 */
static const char *const latin1_fold[64] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "y",
};

/* Length of the UTF-8 sequence starting with byte b (1 for a stray byte). */
static size_t utf8_seq_len(unsigned char b)
{
    if (b >= 0xF0 && b < 0xF8)
        return 4;
    if (b >= 0xE0)
        return b < 0xF0 ? 3 : 1;
    if (b >= 0xC0)
        return 2;
    return 1;
}

/* Bytes that end a sentence for the negation window (analysis_context.c). */
static bool is_stop(unsigned char b)
{
    return b == '.' || b == '!' || b == '?' || b == ';' || b == ',' || b == '\n';
}

char *analysis_normalize_breaks(const char *text, size_t len, char **brk_out)
{
    /* Each input byte yields at most two output bytes ("ß" is 2 bytes and
     * gives "ss"), plus the separators around the whole. */
    if (len > (SIZE_MAX - 3) / 2)
        return NULL;
    char *out = malloc(2 * len + 3);
    char *brk = brk_out != NULL ? calloc(1, 2 * len + 3) : NULL;
    size_t j = 0;
    bool sep = true; /* the previous output character was a space */
    if (out == NULL || (brk_out != NULL && brk == NULL)) {
        free(out);
        free(brk);
        return NULL;
    }
    out[j++] = ' ';
    for (size_t i = 0; i < len;) {
        unsigned char b = (unsigned char)text[i];
        const char *fold = NULL;
        char one[2] = {0, 0};
        size_t n = utf8_seq_len(b);
        if (i + n > len)
            n = len - i;
        if (b < 0x80) {
            if (b >= 'A' && b <= 'Z')
                one[0] = (char)(b - 'A' + 'a');
            else if ((b >= 'a' && b <= 'z') || (b >= '0' && b <= '9'))
                one[0] = (char)b;
            fold = one;
        } else if (n == 2 && (b == 0xC3) && (unsigned char)text[i + 1] >= 0x80 &&
                   (unsigned char)text[i + 1] <= 0xBF) {
            fold = latin1_fold[(unsigned char)text[i + 1] - 0x80];
        } else if (n == 2 && b == 0xC5) {
            unsigned char c = (unsigned char)text[i + 1];
            fold = (c == 0x92 || c == 0x93) ? "oe" : (c == 0xB8) ? "y" : "";
        } else {
            fold = ""; /* any other character separates words */
        }
        i += n;
        if (fold[0] == '\0') {
            if (!sep)
                out[j++] = ' ';
            sep = true;
            /* The separator standing for this run of non-letters marks a
             * sentence end if any of them is one. */
            if (brk != NULL && is_stop(b))
                brk[j - 1] = 1;
            continue;
        }
        for (const char *p = fold; *p != '\0'; p++)
            out[j++] = *p;
        sep = false;
    }
    if (!sep)
        out[j++] = ' ';
    out[j] = '\0';
    if (brk_out != NULL)
        *brk_out = brk;
    return out;
}

char *analysis_normalize(const char *text, size_t len)
{
    return analysis_normalize_breaks(text, len, NULL);
}

/* ---- rule file ---------------------------------------------------------- */

/* Parse a decimal in [lo, hi] with up to 4 decimals ("+0.15", "-1", "0.0625")
 * into basis points. */
static int parse_bp(const char *s, int lo, int hi, int *out)
{
    int sign = 1, v = 0, frac = 0, digits = 0;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
        if (v > 1)
            return -EINVAL;
    }
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9') {
            if (++digits > 4)
                return -EINVAL;
            frac = frac * 10 + (*s++ - '0');
        }
        if (digits == 0)
            return -EINVAL;
        while (digits++ < 4)
            frac *= 10;
    }
    if (*s != '\0')
        return -EINVAL;
    int bp = sign * (v * 10000 + frac);
    if (bp < lo || bp > hi)
        return -EINVAL;
    *out = bp;
    return 0;
}

enum {
    SEEN_LABEL = 1,
    SEEN_REF = 2,
    SEEN_WEIGHT = 4,
    SEEN_URG = 8,
    SEEN_DEADLINE = 16,
    SEEN_BEFORE = 32,
    SEEN_AFTER = 64,
    SEEN_WINDOW = 128,
    SEEN_NOT = 256,
};
enum {
    TOP_NAME = 1,
    TOP_LABEL = 2,
    TOP_BASE = 4,
    TOP_FLOOR = 8,
    TOP_CEIL = 16,
    TOP_DEFURG = 32,
    TOP_BEFORE = 64,
    TOP_AFTER = 128,
    TOP_WINDOW = 256,
};

struct parse_state {
    struct analysis_model *m;
    unsigned seen, top_seen;
};

static int set_text(char *dst, size_t n, const char *key, const char *value, char *err,
                    size_t errlen)
{
    if (value[0] == '\0') {
        snprintf(err, errlen, "%s must not be empty", key);
        return -EINVAL;
    }
    for (const char *p = value; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F) {
            snprintf(err, errlen, "%s must not contain control characters", key);
            return -EINVAL;
        }
    if (util_strlcpy(dst, value, n) < 0) {
        snprintf(err, errlen, "%s is longer than %zu bytes", key, n - 1);
        return -EINVAL;
    }
    return 0;
}

static int once(unsigned *seen, unsigned bit, const char *key, char *err, size_t errlen)
{
    if (*seen & bit) {
        snprintf(err, errlen, "%s is given twice", key);
        return -EINVAL;
    }
    *seen |= bit;
    return 0;
}

/* window = N words, 1..ANALYSIS_WINDOW_MAX. */
static int parse_window(const char *value, int *out, char *err, size_t errlen)
{
    int v = 0;
    size_t n = strspn(value, "0123456789");
    if (n == 0 || n > 2 || value[n] != '\0' || (v = atoi(value)) < 1 || v > ANALYSIS_WINDOW_MAX) {
        snprintf(err, errlen, "window must be a number of words from 1 to %d", ANALYSIS_WINDOW_MAX);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

static int finish_rule(struct parse_state *st, char *err, size_t errlen)
{
    if (st->m->nrules == 0)
        return 0;
    struct analysis_rule *r = &st->m->rules[st->m->nrules - 1];
    unsigned need = SEEN_LABEL | SEEN_REF | SEEN_WEIGHT;
    if ((st->seen & need) != need || r->nphrases == 0) {
        snprintf(err, errlen, "rule [%s] needs label, reference, weight and keywords", r->code);
        return -EINVAL;
    }
    /* The model's context defaults, unless the rule set its own. */
    if (!(st->seen & SEEN_WINDOW))
        r->window = st->m->window;
    if ((!(st->seen & SEEN_BEFORE) &&
         analysis_phrases_copy(&r->unless_before, &st->m->unless_before) < 0) ||
        (!(st->seen & SEEN_AFTER) &&
         analysis_phrases_copy(&r->unless_after, &st->m->unless_after) < 0)) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* unless_preceded_by, unless_followed_by, window: a rule's or the model's. */
static int context_key(unsigned *seen, unsigned bits[3], struct analysis_phrases *before,
                       struct analysis_phrases *after, int *window, const char *key,
                       const char *value, char *err, size_t errlen)
{
    int rc;
    if (strcmp(key, "unless_preceded_by") == 0) {
        if ((rc = once(seen, bits[0], key, err, errlen)) < 0)
            return rc;
        return analysis_phrases_parse(before, "unless_preceded_by phrase", value, err, errlen);
    }
    if (strcmp(key, "unless_followed_by") == 0) {
        if ((rc = once(seen, bits[1], key, err, errlen)) < 0)
            return rc;
        return analysis_phrases_parse(after, "unless_followed_by phrase", value, err, errlen);
    }
    if ((rc = once(seen, bits[2], key, err, errlen)) < 0)
        return rc;
    return parse_window(value, window, err, errlen);
}

static bool is_context_key(const char *key)
{
    return strcmp(key, "unless_preceded_by") == 0 || strcmp(key, "unless_followed_by") == 0 ||
           strcmp(key, "window") == 0;
}

static int add_keywords(struct analysis_rule *r, const char *value, char *err, size_t errlen)
{
    struct analysis_phrases l = {r->phrases, r->nphrases};
    if (strcmp(value, "-") == 0) {
        snprintf(err, errlen, "keywords must not be \"-\"");
        return -EINVAL;
    }
    int rc = analysis_phrases_parse(&l, "keyword phrase", value, err, errlen);
    r->phrases = l.v;
    r->nphrases = l.n;
    return rc;
}

static int top_key(struct parse_state *st, const char *key, const char *value, char *err,
                   size_t errlen)
{
    struct analysis_model *m = st->m;
    int rc;
    if (strcmp(key, "name") == 0) {
        if ((rc = once(&st->top_seen, TOP_NAME, key, err, errlen)) < 0)
            return rc;
        if (!analysis_model_name_valid(value)) {
            snprintf(err, errlen, "name must match [a-z0-9][a-z0-9.-]*");
            return -EINVAL;
        }
        return set_text(m->name, sizeof m->name, key, value, err, errlen);
    }
    if (strcmp(key, "label") == 0) {
        if ((rc = once(&st->top_seen, TOP_LABEL, key, err, errlen)) < 0)
            return rc;
        return set_text(m->label, sizeof m->label, key, value, err, errlen);
    }
    if (strcmp(key, "default_urgency") == 0) {
        if ((rc = once(&st->top_seen, TOP_DEFURG, key, err, errlen)) < 0)
            return rc;
        if (urgency_from_name(value, &m->default_urgency) < 0) {
            snprintf(err, errlen, "default_urgency must be low, normal, high or critical");
            return -EINVAL;
        }
        return 0;
    }
    if (is_context_key(key)) {
        unsigned bits[3] = {TOP_BEFORE, TOP_AFTER, TOP_WINDOW};
        return context_key(&st->top_seen, bits, &m->unless_before, &m->unless_after, &m->window,
                           key, value, err, errlen);
    }
    unsigned bit = strcmp(key, "base") == 0      ? TOP_BASE
                   : strcmp(key, "floor") == 0   ? TOP_FLOOR
                   : strcmp(key, "ceiling") == 0 ? TOP_CEIL
                                                 : 0;
    if (bit == 0) {
        snprintf(err, errlen,
                 "unknown key \"%s\" (name, label, base, floor, ceiling, "
                 "default_urgency, unless_preceded_by, unless_followed_by, window, then [rule] "
                 "sections)",
                 key);
        return -EINVAL;
    }
    if ((rc = once(&st->top_seen, bit, key, err, errlen)) < 0)
        return rc;
    int *dst = bit == TOP_BASE ? &m->base_bp : bit == TOP_FLOOR ? &m->floor_bp : &m->ceiling_bp;
    if (parse_bp(value, 0, 10000, dst) < 0) {
        snprintf(err, errlen, "%s must be a number from 0 to 1 with at most 4 decimals", key);
        return -EINVAL;
    }
    return 0;
}

static int model_cb(void *ud, const char *section, const char *key, const char *value, char *err,
                    size_t errlen)
{
    struct parse_state *st = ud;
    struct analysis_model *m = st->m;
    int rc;
    if (key == NULL) {
        if ((rc = finish_rule(st, err, errlen)) < 0)
            return rc;
        if (strchr(section, '.') != NULL || strchr(section, '-') != NULL ||
            strlen(section) >= sizeof m->rules[0].code) {
            snprintf(err, errlen, "a rule code may only hold a-z, 0-9 and '_' (47 at most)");
            return -EINVAL;
        }
        for (size_t i = 0; i < m->nrules; i++)
            if (strcmp(m->rules[i].code, section) == 0) {
                snprintf(err, errlen, "the rule [%s] is defined twice", section);
                return -EINVAL;
            }
        if (m->nrules >= ANALYSIS_MAX_RULES) {
            snprintf(err, errlen, "more than %d rules", ANALYSIS_MAX_RULES);
            return -EINVAL;
        }
        struct analysis_rule *n = realloc(m->rules, (m->nrules + 1) * sizeof *n);
        if (n == NULL) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        m->rules = n;
        memset(&n[m->nrules], 0, sizeof *n);
        memcpy(n[m->nrules].code, section, strlen(section) + 1);
        n[m->nrules].urgency = ANALYSIS_URGENCY_NONE;
        m->nrules++;
        st->seen = 0;
        return 0;
    }
    if (section[0] == '\0')
        return top_key(st, key, value, err, errlen);
    struct analysis_rule *r = &m->rules[m->nrules - 1];
    if (strcmp(key, "label") == 0) {
        if ((rc = once(&st->seen, SEEN_LABEL, key, err, errlen)) < 0)
            return rc;
        return set_text(r->label, sizeof r->label, key, value, err, errlen);
    }
    if (strcmp(key, "reference") == 0) {
        if ((rc = once(&st->seen, SEEN_REF, key, err, errlen)) < 0)
            return rc;
        return set_text(r->reference, sizeof r->reference, key, value, err, errlen);
    }
    if (strcmp(key, "weight") == 0) {
        if ((rc = once(&st->seen, SEEN_WEIGHT, key, err, errlen)) < 0)
            return rc;
        if (parse_bp(value, -10000, 10000, &r->weight_bp) < 0) {
            snprintf(err, errlen, "weight must be a number from -1 to +1 with at most 4 decimals");
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "urgency") == 0) {
        if ((rc = once(&st->seen, SEEN_URG, key, err, errlen)) < 0)
            return rc;
        if (urgency_from_name(value, &r->urgency) < 0) {
            snprintf(err, errlen, "urgency must be low, normal, high or critical");
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "deadline") == 0) {
        if ((rc = once(&st->seen, SEEN_DEADLINE, key, err, errlen)) < 0)
            return rc;
        /* A procedure type of deadlines.rules: [a-z0-9_], checked here so a
         * typo is an error at start-up, not a silent mismatch. */
        size_t n = strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789_");
        if (value[0] == '\0' || value[n] != '\0' || n >= sizeof r->deadline) {
            snprintf(err, errlen, "deadline must be a procedure type of deadlines.rules");
            return -EINVAL;
        }
        memcpy(r->deadline, value, n + 1);
        return 0;
    }
    if (strcmp(key, "keywords") == 0)
        return add_keywords(r, value, err, errlen);
    if (is_context_key(key)) {
        unsigned bits[3] = {SEEN_BEFORE, SEEN_AFTER, SEEN_WINDOW};
        return context_key(&st->seen, bits, &r->unless_before, &r->unless_after, &r->window, key,
                           value, err, errlen);
    }
    if (strcmp(key, "not") == 0) {
        if ((rc = once(&st->seen, SEEN_NOT, key, err, errlen)) < 0)
            return rc;
        return analysis_phrases_parse(&r->not_in, "not phrase", value, err, errlen);
    }
    snprintf(err, errlen,
             "unknown key \"%s\" (label, reference, weight, urgency, deadline, keywords, "
             "unless_preceded_by, unless_followed_by, window, not)",
             key);
    return -EINVAL;
}

void analysis_model_free(struct analysis_model *m)
{
    for (size_t i = 0; i < m->nrules; i++) {
        for (size_t k = 0; k < m->rules[i].nphrases; k++)
            free(m->rules[i].phrases[k]);
        free(m->rules[i].phrases);
        analysis_phrases_free(&m->rules[i].unless_before);
        analysis_phrases_free(&m->rules[i].unless_after);
        analysis_phrases_free(&m->rules[i].not_in);
    }
    free(m->rules);
    analysis_phrases_free(&m->unless_before);
    analysis_phrases_free(&m->unless_after);
    memset(m, 0, sizeof *m);
}

int analysis_model_parse(struct analysis_model *m, const char *text, size_t len, char *err,
                         size_t errlen)
{
    struct parse_state st = {.m = m};
    char msg[256] = "";
    memset(m, 0, sizeof *m);
    m->floor_bp = 0;
    m->ceiling_bp = 10000;
    m->default_urgency = ANALYSIS_URGENCY_NORMAL;
    m->window = ANALYSIS_WINDOW_DEFAULT;
    int rc = rulefile_parse(text, len, model_cb, &st, err, errlen);
    if (rc == 0 && finish_rule(&st, msg, sizeof msg) < 0) {
        snprintf(err, errlen, "at the end: %s", msg);
        rc = -EINVAL;
    }
    if (rc == 0) {
        unsigned need = TOP_NAME | TOP_LABEL | TOP_BASE;
        if ((st.top_seen & need) != need) {
            snprintf(err, errlen, "the model needs name, label and base before its rules");
            rc = -EINVAL;
        } else if (m->floor_bp > m->ceiling_bp) {
            snprintf(err, errlen, "floor is above ceiling");
            rc = -EINVAL;
        } else if (m->nrules == 0) {
            snprintf(err, errlen, "the model has no rule");
            rc = -EINVAL;
        }
    }
    if (rc < 0)
        analysis_model_free(m);
    return rc;
}

int analysis_model_load(struct analysis_model *m, const char *path, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    char msg[320] = "";
    int rc = util_read_file(path, 1u << 20, &buf, &len);
    if (rc < 0) {
        memset(m, 0, sizeof *m);
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
        return rc;
    }
    rc = analysis_model_parse(m, buf, len, msg, sizeof msg);
    free(buf);
    if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, msg);
    return rc;
}

/* ---- scoring ------------------------------------------------------------ */

/* The first occurrence of phrase in norm that counts for rule, or NULL. */
static const char *counted_occurrence(const struct analysis_rule *rule, const char *phrase,
                                      char *norm, const char *brk, bool *seen)
{
    size_t len = strlen(phrase);
    for (const char *q = strstr(norm, phrase); q != NULL; q = strstr(q + 1, phrase)) {
        *seen = true;
        if (analysis_occurrence_counts(rule, norm, brk, (size_t)(q - norm), len))
            return q;
    }
    return NULL;
}

int analysis_run(const struct analysis_model *m, const char *text, size_t len,
                 struct analysis_result *out)
{
    struct analysis_result r = {.raw_bp = m->base_bp, .urgency = ANALYSIS_URGENCY_NONE};
    char *brk = NULL;
    char *norm = analysis_normalize_breaks(text, len, &brk);
    if (norm == NULL)
        return -ENOMEM;
    if (m->nrules > 0) {
        r.factors = calloc(m->nrules, sizeof *r.factors);
        if (r.factors == NULL) {
            free(norm);
            free(brk);
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i < m->nrules; i++) {
        const struct analysis_rule *rule = &m->rules[i];
        bool seen = false, counted = false;
        for (size_t k = 0; k < rule->nphrases && !counted; k++) {
            if (counted_occurrence(rule, rule->phrases[k], norm, brk, &seen) == NULL)
                continue;
            counted = true;
            struct analysis_factor *f = &r.factors[r.nfactors++];
            f->rule = rule;
            /* Show the phrase without the separators that delimit it. */
            const char *ph = rule->phrases[k] + 1;
            size_t pl = strlen(ph);
            if (pl > 0 && ph[pl - 1] == ' ')
                pl--;
            if (pl >= sizeof f->matched)
                pl = sizeof f->matched - 1;
            memcpy(f->matched, ph, pl);
            f->matched[pl] = '\0';
            r.raw_bp += rule->weight_bp;
            if (rule->weight_bp > 0)
                r.positive++;
            else if (rule->weight_bp < 0)
                r.negative++;
            if (rule->urgency > r.urgency)
                r.urgency = rule->urgency;
        }
        if (seen && !counted)
            r.nset_aside++;
    }
    free(norm);
    free(brk);
    if (r.urgency == ANALYSIS_URGENCY_NONE)
        r.urgency = m->default_urgency;
    r.score_bp = r.raw_bp < m->floor_bp     ? m->floor_bp
                 : r.raw_bp > m->ceiling_bp ? m->ceiling_bp
                                            : r.raw_bp;
    *out = r;
    return 0;
}

void analysis_result_free(struct analysis_result *r)
{
    free(r->factors);
    r->factors = NULL;
    r->nfactors = 0;
}
