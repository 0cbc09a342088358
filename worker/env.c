/*
 * env.c — wenv_load(): the tenant's settings from the environment.
 *
 * Each variable is read once, here, and checked against the same rules the
 * supervisor's config validator applies to the tenant file, because a worker
 * may also be started by hand or by another launcher. Required: CLIENT_ID,
 * CLIENT_NAME, DATA_DIR, SECRET_KEY, and PORT unless a socket is passed
 * (LISTEN_FDS). Everything else has the seed's default. Not here: opening the
 * database or the templates (db.c, pages.c).
 *
 * TIMEZONE decides the firm's calendar: the year of an invoice number, the
 * billing month, "today" for deadlines. The supervisor also passes TZ, but a
 * worker started by hand may not have it, so main() applies TIMEZONE itself
 * (wenv_apply_timezone) before anything reads the clock.
 */
#include "env.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/stat.h>
#include <time.h>

#define TEXT_MAX 192  /* free text, as in config.h */
#define SECRET_MIN 16 /* bytes: a shorter SECRET_KEY is guessable */

/* The seed's published prices, used only when the launcher passes no PLAN_*
 * variables (an app started with the seed's environment alone). */
static const struct {
    const char *plan, *label;
    int64_t price_cents, overage_cents;
} seed_plans[] = {
    {"starter", "Starter", 9900, 0},
    {"professional", "Professional", 29900, 50},
    {"enterprise", "Enterprise", 59900, 30},
};

struct reader {
    char *err;
    size_t errlen;
    int failed;
};

static void fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct reader *r, const char *fmt, ...)
{
    va_list ap;

    if (r->failed++)
        return; /* the first problem is the one worth reading */
    va_start(ap, fmt);
    vsnprintf(r->err, r->errlen, fmt, ap);
    va_end(ap);
}

/* Free UTF-8 text without control characters, at most max bytes. */
static int valid_text(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n > max)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    /* jansson's checker is the one every JSON answer will go through. */
    json_t *j = json_string(s);
    if (j == NULL)
        return 0;
    json_decref(j);
    return 1;
}

static int valid_id(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > 31 || s[0] < 'a' || s[0] > 'z')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

static int valid_color(const char *s)
{
    if (strlen(s) != 7 || s[0] != '#')
        return 0;
    for (int i = 1; i < 7; i++)
        if (!strchr("0123456789abcdefABCDEF", s[i]))
            return 0;
    return 1;
}

/* A logo is shown as <img src>: only a local path or an https URL, so that
 * no "javascript:" or "data:" value can reach the page. */
static int valid_logo(const char *s)
{
    if (s[0] == '\0')
        return 1;
    if (!valid_text(s, TEXT_MAX) || strpbrk(s, " \"'<>\\`") != NULL)
        return 0;
    return (s[0] == '/' && s[1] != '/') || strncmp(s, "https://", 8) == 0;
}

/* Copy the variable (or def when unset or empty) into a new string; fails the
 * reader when required and missing, or when the text is not acceptable. */
static char *text(struct reader *r, const char *name, const char *def, int required, size_t max)
{
    const char *v = getenv(name);
    char *out;

    if (v == NULL || v[0] == '\0') {
        if (required) {
            fail(r, "%s: required variable is missing or empty", name);
            return NULL;
        }
        v = def;
    } else if (!valid_text(v, max)) {
        fail(r, "%s: must be UTF-8 text without control characters, at most %zu bytes", name, max);
        return NULL;
    }
    out = strdup(v);
    if (out == NULL)
        fail(r, "%s: out of memory", name);
    return out;
}

static long long number(struct reader *r, const char *name, long long def, long long min,
                        long long max)
{
    const char *v = getenv(name);
    char *end;
    long long n;

    if (v == NULL || v[0] == '\0')
        return def;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || end == v || n < min || n > max) {
        fail(r, "%s: \"%.40s\" is not an integer in %lld..%lld", name, v, min, max);
        return def;
    }
    return n;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The zone database glibc reads: TZDIR when set (tests), else Debian's. */
static const char *zoneinfo_dir(void)
{
    const char *d = getenv("TZDIR");
    return d != NULL && d[0] == '/' ? d : "/usr/share/zoneinfo";
}

/* An IANA zone name as the supervisor's validator accepts it (config.c):
 * segments of [A-Za-z_+-] (digits allowed after the first segment), never
 * "." or "..", so the name cannot climb out of the zone database. */
static int valid_zone_name(const char *s)
{
    int first = 1;

    if (strlen(s) > 63)
        return 0;
    for (;;) {
        size_t n = 0;
        for (; s[n] && s[n] != '/'; n++) {
            char c = s[n];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '+' ||
                  c == '-' || (!first && c >= '0' && c <= '9')))
                return 0;
        }
        if (n == 0)
            return 0;
        if (s[n] == '\0')
            return 1;
        s += n + 1;
        first = 0;
    }
}

int wenv_timezone_check(const char *name, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct stat st;

    if (!valid_zone_name(name)) {
        snprintf(err, errlen, "TIMEZONE: \"%.64s\" is not a time zone name like Europe/Paris",
                 name);
        return -EINVAL;
    }
    /* glibc silently falls back to UTC for an unknown zone: invoice years and
     * billing months would then be wrong without a word, so refuse instead. */
    if (snprintf(path, sizeof path, "%s/%s", zoneinfo_dir(), name) >= (int)sizeof path ||
        stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "TIMEZONE: \"%s\" is not in the time zone database (%s)", name,
                 zoneinfo_dir());
        return -EINVAL;
    }
    return 0;
}

int wenv_apply_timezone(const struct wenv *e)
{
    if (setenv("TZ", e->timezone, 1) != 0)
        return -errno;
    tzset();
    return 0;
}

int wenv_load(struct wenv *e, char *err, size_t errlen)
{
    struct reader r = {.err = err, .errlen = errlen};
    const char *v;
    int passed_socket = getenv("LISTEN_FDS") != NULL && getenv("LISTEN_FDS")[0] != '\0';

    memset(e, 0, sizeof *e);
    e->client_id = text(&r, "CLIENT_ID", "", 1, 31);
    if (e->client_id && !valid_id(e->client_id))
        fail(&r, "CLIENT_ID: \"%s\" must match ^[a-z][a-z0-9-]{0,30}$", e->client_id);
    e->client_name = text(&r, "CLIENT_NAME", "", 1, TEXT_MAX);
    e->instance_name = text(&r, "INSTANCE_NAME", "", 0, 63);
    e->siret = text(&r, "CLIENT_SIRET", "", 0, 14);
    if (e->siret && e->siret[0] && strspn(e->siret, "0123456789") != 14)
        fail(&r, "CLIENT_SIRET: \"%s\" is not 14 digits", e->siret);
    e->address = text(&r, "CLIENT_ADDRESS", "", 0, TEXT_MAX);
    e->phone = text(&r, "CLIENT_PHONE", "", 0, 31);
    e->email = text(&r, "CLIENT_EMAIL", "", 0, TEXT_MAX);
    e->logo = text(&r, "CLIENT_LOGO", "", 0, TEXT_MAX);
    if (e->logo && !valid_logo(e->logo))
        fail(&r, "CLIENT_LOGO: \"%.60s\" is not a local path (/static/...) or an https URL",
             e->logo);
    e->color = text(&r, "CLIENT_COLOR", "#2c3e50", 0, 7);
    if (e->color && !valid_color(e->color))
        fail(&r, "CLIENT_COLOR: \"%s\" is not #rrggbb", e->color);

    e->plan = text(&r, "SUBSCRIPTION_PLAN", "professional", 0, 31);
    e->max_users = (int)number(&r, "MAX_USERS", 10, -1, 100000);
    e->max_cases = (int)number(&r, "MAX_CASES", 2000, -1, 100000000);
    e->max_analysis_monthly = (int)number(&r, "MAX_ANALYSIS_MONTHLY", 500, -1, 100000000);
    e->ai_model = text(&r, "AI_MODEL", "ceseda-pro-v1", 0, 63);

    e->prediction_threshold = 0.87;
    v = getenv("PREDICTION_THRESHOLD");
    if (v != NULL && v[0] != '\0') {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (errno != 0 || *end != '\0' || !(d >= 0.0 && d <= 1.0))
            fail(&r, "PREDICTION_THRESHOLD: \"%.40s\" is not a number in 0..1", v);
        else
            e->prediction_threshold = d;
    }
    v = getenv("ADVANCED_FEATURES");
    e->advanced_features = true;
    if (v != NULL && v[0] != '\0') {
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
            e->advanced_features = true;
        else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
            e->advanced_features = false;
        else
            fail(&r, "ADVANCED_FEATURES: \"%.40s\" is not true or false", v);
    }

    v = getenv("DATABASE_TYPE");
    if (v != NULL && v[0] != '\0' && strcmp(v, "sqlite") != 0)
        fail(&r, "DATABASE_TYPE: \"%.40s\" is not supported (only sqlite)", v);
    e->data_dir = text(&r, "DATA_DIR", "", 1, PATH_MAX - 64);
    if (e->data_dir && !is_dir(e->data_dir))
        fail(&r, "DATA_DIR: \"%s\" is not a folder", e->data_dir);
    e->secret_key = text(&r, "SECRET_KEY", "", 1, 4096);
    if (e->secret_key && strlen(e->secret_key) < SECRET_MIN)
        fail(&r, "SECRET_KEY: must be at least %d bytes", SECRET_MIN);
    e->templates_dir = text(&r, "TEMPLATES_DIR", "templates/worker", 0, PATH_MAX - 64);
    if (e->templates_dir && !is_dir(e->templates_dir))
        fail(&r, "TEMPLATES_DIR: \"%s\" is not a folder", e->templates_dir);

    e->language = text(&r, "LANGUAGE", "fr", 0, 7);
    if (e->language && strcmp(e->language, "fr") != 0 && strcmp(e->language, "en") != 0)
        fail(&r, "LANGUAGE: \"%s\" is not fr or en", e->language);
    e->timezone = text(&r, "TIMEZONE", "Europe/Paris", 0, 63);
    if (e->timezone) {
        char zerr[256];
        if (wenv_timezone_check(e->timezone, zerr, sizeof zerr) < 0)
            fail(&r, "%s", zerr);
    }

    /* PORT is only needed when the worker binds its own socket. */
    v = getenv("PORT");
    if (v == NULL || v[0] == '\0') {
        if (!passed_socket)
            fail(&r, "PORT: required variable is missing (and no socket is passed with "
                     "LISTEN_FDS)");
    } else {
        e->port = (int)number(&r, "PORT", 0, 1, 65535);
    }

    /* Prices: the launcher's PLAN_* values, else the seed's for a known plan. */
    e->plan_price_cents = 0;
    e->plan_overage_cents = 0;
    const char *label = e->plan ? e->plan : "";
    for (size_t i = 0; e->plan && i < sizeof seed_plans / sizeof seed_plans[0]; i++) {
        if (strcmp(e->plan, seed_plans[i].plan) == 0) {
            e->plan_price_cents = seed_plans[i].price_cents;
            e->plan_overage_cents = seed_plans[i].overage_cents;
            label = seed_plans[i].label;
        }
    }
    e->plan_label = text(&r, "PLAN_LABEL", label, 0, 63);
    e->plan_price_cents = number(&r, "PLAN_PRICE_CENTS", e->plan_price_cents, 0, 100000000);
    e->plan_overage_cents = number(&r, "PLAN_OVERAGE_CENTS", e->plan_overage_cents, 0, 100000000);

    e->storage_limit = number(&r, "STORAGE_LIMIT_BYTES", 0, 0, INT64_MAX);
    v = getenv("STORAGE_FULL_FILE");
    if (v != NULL && v[0] == '/' && (e->storage_full_file = strdup(v)) == NULL)
        fail(&r, "out of memory");
    v = getenv("PASSWORD_COST");
    e->password_cost = 0;
    if (v != NULL && v[0] != '\0') {
        if (strcmp(v, "interactive") == 0)
            e->password_cost = 0;
        else if (strcmp(v, "moderate") == 0)
            e->password_cost = 1;
        else if (strcmp(v, "min") == 0)
            e->password_cost = 2;
        else
            fail(&r, "PASSWORD_COST: \"%.40s\" is not interactive, moderate or min", v);
    }

    /* Scale to zero: only a supervisor that holds the socket sets it. */
    e->idle_after_ms = number(&r, "IDLE_AFTER_MS", 0, 0, 7LL * 24 * 3600 * 1000);

    if (r.failed) {
        wenv_free(e);
        return -EINVAL;
    }
    return 0;
}

void wenv_free(struct wenv *e)
{
    char **strs[] = {&e->client_id, &e->client_name, &e->instance_name,
                     &e->siret,     &e->address,     &e->phone,
                     &e->email,     &e->logo,        &e->color,
                     &e->plan,      &e->plan_label,  &e->ai_model,
                     &e->data_dir,  &e->secret_key,  &e->templates_dir,
                     &e->language,  &e->timezone,    &e->storage_full_file};

    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (*strs[i] == e->secret_key && *strs[i] != NULL)
            sodium_memzero(*strs[i], strlen(*strs[i]));
        free(*strs[i]);
        *strs[i] = NULL;
    }
}

void wenv_pwhash_cost(const struct wenv *e, unsigned long long *opslimit, size_t *memlimit)
{
    switch (e->password_cost) {
    case 1:
        *opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
        *memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
        break;
    case 2:
        *opslimit = crypto_pwhash_OPSLIMIT_MIN;
        *memlimit = crypto_pwhash_MEMLIMIT_MIN;
        break;
    default:
        *opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        *memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
        break;
    }
}
