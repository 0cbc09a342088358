/*
 * analysis_context.h — the context of a keyword occurrence in the rule-based
 * assessment (analysis_rules.h): phrase lists, negators before or after an
 * occurrence within a window of words in the same sentence, and the `not`
 * phrases an occurrence must not lie inside. Pure; internal to the worker's
 * analysis (analysis_rules.c and its unit tests).
 */
#ifndef TENANT_WORKER_ANALYSIS_CONTEXT_H
#define TENANT_WORKER_ANALYSIS_CONTEXT_H

#include "analysis_rules.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * analysis_normalize() that also returns, in *brk (same length as the
 * result, the caller frees it), a 1 at each separator that stands for a
 * sentence end (. ! ? ; or a line break) — the negation window stops there.
 */
char *analysis_normalize_breaks(const char *text, size_t len, char **brk);

/*
 * Parse "a | b* | c" into normalised phrases appended to *l (a trailing '*'
 * makes a prefix phrase); what names a phrase in errors ("keyword phrase").
 * "-" alone adds nothing (a rule's way to drop an inherited list).
 * Returns 0, -EINVAL or -ENOMEM with a sentence in err.
 */
int analysis_phrases_parse(struct analysis_phrases *l, const char *what, const char *value,
                           char *err, size_t errlen);
/* A deep copy of src appended to *dst; 0 or -ENOMEM. */
int analysis_phrases_copy(struct analysis_phrases *dst, const struct analysis_phrases *src);
void analysis_phrases_free(struct analysis_phrases *l);

/*
 * Does the occurrence of a phrase at norm[pos, pos + len) count for rule r?
 * Not when it lies inside one of r->not_in, nor when one of r->unless_before
 * occurs within r->window words before it (or r->unless_after after it)
 * without a sentence end (brk) in between. norm is analysis_normalize_breaks()'s
 * result; it is modified during the call and restored.
 */
bool analysis_occurrence_counts(const struct analysis_rule *r, char *norm, const char *brk,
                                size_t pos, size_t len);

#endif
