/*
 * analysis_context.c — whether a keyword occurrence counts, given its context
 * (see analysis_context.h and docs/worker-rules.md "Negation and context").
 */
#include "analysis_context.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PHRASES_MAX 64
#define PHRASE_BYTES 128 /* as analysis_factor.matched */

void analysis_phrases_free(struct analysis_phrases *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int push(struct analysis_phrases *l, char *s)
{
    char **nv = realloc(l->v, (l->n + 1) * sizeof *nv);
    if (nv == NULL)
        return -ENOMEM;
    l->v = nv;
    l->v[l->n++] = s;
    return 0;
}

int analysis_phrases_copy(struct analysis_phrases *dst, const struct analysis_phrases *src)
{
    for (size_t i = 0; i < src->n; i++) {
        char *s = strdup(src->v[i]);
        if (s == NULL || push(dst, s) < 0) {
            free(s);
            return -ENOMEM;
        }
    }
    return 0;
}

int analysis_phrases_parse(struct analysis_phrases *l, const char *what, const char *value,
                           char *err, size_t errlen)
{
    const char *p = value;
    if (strcmp(value, "-") == 0)
        return 0;
    while (*p != '\0') {
        size_t n = strcspn(p, "|");
        bool prefix = false;
        const char *q = p + n;
        /* Trim the phrase; a trailing '*' asks for a prefix match. */
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n > 0 && p[n - 1] == '*') {
            prefix = true;
            n--;
        }
        if (memchr(p, '*', n) != NULL) {
            snprintf(err, errlen, "a '*' may only end a %s", what);
            return -EINVAL;
        }
        char *norm = analysis_normalize(p, n);
        if (norm == NULL) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        if (strlen(norm) <= 1 || strlen(norm) >= PHRASE_BYTES) {
            snprintf(err, errlen, "a %s must hold letters or digits (%d bytes at most)", what,
                     PHRASE_BYTES - 2);
            free(norm);
            return -EINVAL;
        }
        if (prefix)
            norm[strlen(norm) - 1] = '\0'; /* no separator after the last word */
        if (l->n >= PHRASES_MAX) {
            snprintf(err, errlen, "more than %d %ss in one rule", PHRASES_MAX, what);
            free(norm);
            return -EINVAL;
        }
        if (push(l, norm) < 0) {
            snprintf(err, errlen, "out of memory");
            free(norm);
            return -ENOMEM;
        }
        p = *q == '|' ? q + 1 : q;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    return 0;
}

/* Does one of l occur within norm[from, to] (both separators)? */
static bool any_within(const struct analysis_phrases *l, char *norm, size_t from, size_t to)
{
    char saved = norm[to + 1];
    bool found = false;
    norm[to + 1] = '\0';
    for (size_t i = 0; i < l->n && !found; i++)
        found = strstr(norm + from, l->v[i]) != NULL;
    norm[to + 1] = saved;
    return found;
}

bool analysis_occurrence_counts(const struct analysis_rule *r, char *norm, const char *brk,
                                size_t pos, size_t len)
{
    /* Inside a `not` phrase: "sans delai de depart volontaire" holds
     * "delai de depart volontaire" but is not it. */
    for (size_t i = 0; i < r->not_in.n; i++) {
        const char *x = r->not_in.v[i];
        size_t xl = strlen(x);
        for (const char *q = strstr(norm, x); q != NULL && (size_t)(q - norm) <= pos;
             q = strstr(q + 1, x))
            if ((size_t)(q - norm) + xl >= pos + len)
                return false;
    }
    /* The words before the occurrence, back to the window or a sentence end;
     * pos is the separator that starts the occurrence. */
    if (r->unless_before.n > 0) {
        size_t i = pos;
        for (int w = 0; w < r->window && i > 0 && !brk[i]; w++) {
            i--;
            while (i > 0 && norm[i] != ' ')
                i--;
        }
        if (i < pos && any_within(&r->unless_before, norm, i, pos))
            return false;
    }
    /* The words after it; a prefix phrase ends inside a word. */
    if (r->unless_after.n > 0) {
        size_t e = pos + len - 1;
        while (norm[e] != ' ')
            e++;
        size_t i = e;
        for (int w = 0; w < r->window && norm[i + 1] != '\0' && !brk[i]; w++) {
            i++;
            while (norm[i] != ' ')
                i++;
        }
        if (i > e && any_within(&r->unless_after, norm, e, i))
            return false;
    }
    return true;
}
