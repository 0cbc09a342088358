/*
 * analysis_rules.h — the rule-based assessment of an immigration case
 * ("analyse par règles"): deterministic, documented and explainable.
 *
 * A rule model is a data file (templates/worker/rules/<AI_MODEL>.rules). Each
 * rule has a code, a French label, a legal reference, a weight and a list of
 * keyword phrases; a rule applies when one of its phrases occurs in the case
 * text. Text and phrases are compared after normalisation: lower case,
 * accents removed (é → e, œ → oe, ç → c), every other character a word
 * separator, so "Placement en RÉTENTION" matches "placement en retention".
 * Phrases match whole words; a phrase ending in '*' matches a word prefix
 * ("marie*" matches "mariee", "maries").
 *
 *   raw score     = base + Σ weights of the rules that apply (each rule once)
 *   success_rate  = raw score clamped to [floor, ceiling]
 *   urgency       = the highest urgency among the applying rules that set
 *                   one, or the model's default_urgency when none does
 * Weights are in basis points internally (1.0 = 10000), so the explanation
 * adds up exactly: base + Σ factor weights == raw score.
 * Context (docs/worker-rules.md "Negation and context"): an occurrence of a
 * phrase does not count when one of the rule's unless_preceded_by phrases
 * occurs within `window` words before it, or one of its unless_followed_by
 * phrases within `window` words after it, in the same sentence ("jamais
 * condamné", "casier judiciaire vierge"), or when it lies inside one of the
 * rule's `not` phrases ("sans délai de départ volontaire" is not "délai de
 * départ volontaire"). The model's top-level unless_* and window are the
 * defaults of every rule that does not set its own ("-" = none).
 * The model is not statistics and not a prediction: it points at the factors
 * the law makes relevant and says which it found. Beyond these rules it does
 * not understand the text.
 * Everything here is pure except analysis_model_load(), which reads a file.
 */
#ifndef TENANT_WORKER_ANALYSIS_RULES_H
#define TENANT_WORKER_ANALYSIS_RULES_H

#include <stdbool.h>
#include <stddef.h>

/* A list of normalised phrases (same form as analysis_rule.phrases). */
struct analysis_phrases {
    char **v;
    size_t n;
};

#define ANALYSIS_WINDOW_DEFAULT 3
#define ANALYSIS_WINDOW_MAX 12

enum analysis_urgency {
    ANALYSIS_URGENCY_NONE = -1, /* a rule that does not set the urgency */
    ANALYSIS_URGENCY_LOW = 0,
    ANALYSIS_URGENCY_NORMAL,
    ANALYSIS_URGENCY_HIGH,
    ANALYSIS_URGENCY_CRITICAL,
};

struct analysis_rule {
    char code[48];
    char label[256];
    char reference[256];
    /* Optional: the deadlines.rules type whose deadline the label states
     * ("" when none). The label must then say that deadline's duration; a
     * unit test keeps the two equal for the rule in force today. */
    char deadline[48];
    int weight_bp; /* -10000..10000 */
    enum analysis_urgency urgency;
    char **phrases; /* normalised, with a leading and trailing space unless prefix */
    size_t nphrases;
    struct analysis_phrases unless_before, unless_after, not_in;
    int window; /* words scanned for unless_*, 1..ANALYSIS_WINDOW_MAX */
};

struct analysis_model {
    char name[64];   /* must equal the AI_MODEL it was loaded for */
    char label[256]; /* shown to the user */
    int base_bp, floor_bp, ceiling_bp;
    enum analysis_urgency default_urgency;
    /* The defaults of the rules' unless_preceded_by / unless_followed_by / window. */
    struct analysis_phrases unless_before, unless_after;
    int window;
    struct analysis_rule *rules;
    size_t nrules;
};

struct analysis_factor {
    const struct analysis_rule *rule; /* borrowed from the model */
    char matched[128];                /* the normalised phrase that matched */
};

struct analysis_result {
    int raw_bp;   /* base + Σ weights, before clamping */
    int score_bp; /* clamped */
    enum analysis_urgency urgency;
    int positive, negative;          /* factors with weight > 0 and < 0 */
    struct analysis_factor *factors; /* in the model's rule order */
    size_t nfactors;
    size_t nset_aside; /* rules whose every occurrence was negated or excluded */
};

/*
 * Parse a rule model's text into *m (zero-initialised by the caller). On
 * failure returns -EINVAL or -ENOMEM with "line N: ..." in err, and *m holds
 * nothing to free.
 */
int analysis_model_parse(struct analysis_model *m, const char *text, size_t len, char *err,
                         size_t errlen);
/* The same from a file; err names the file. */
int analysis_model_load(struct analysis_model *m, const char *path, char *err, size_t errlen);
void analysis_model_free(struct analysis_model *m);

/* Assess text (len bytes of UTF-8). Returns 0 or -ENOMEM; free the result
 * with analysis_result_free(). The result borrows from m. */
int analysis_run(const struct analysis_model *m, const char *text, size_t len,
                 struct analysis_result *out);
void analysis_result_free(struct analysis_result *r);

/*
 * The normalised form of text, between single spaces (" placement en
 * retention "); a new string the caller frees, or NULL when out of memory.
 */
char *analysis_normalize(const char *text, size_t len);

/* "critical", "high", "normal", "low" (NULL for NONE). */
const char *analysis_urgency_name(enum analysis_urgency u);

/* Is name a safe model name ([a-z0-9][a-z0-9.-]{0,62}, no ".."), usable as a file name? */
bool analysis_model_name_valid(const char *name);

#endif
