/*
 * usage_shape.c — see usage_shape.h.
 */
#include "usage_shape.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define STR_MAX 64

static bool nonneg_int(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

static bool month_ok(const char *s)
{
    return strlen(s) == 7 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
           isdigit((unsigned char)s[2]) && isdigit((unsigned char)s[3]) && s[4] == '-' &&
           ((s[5] == '0' && s[6] >= '1' && s[6] <= '9') ||
            (s[5] == '1' && s[6] >= '0' && s[6] <= '2'));
}

static bool short_string(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) <= STR_MAX;
}

json_t *usage_shape(const json_t *in, const char *id, char *why, size_t n)
{
    static const char *const need_count[] = {"analyses_used", "users_active"};
    static const char *const need_limit[] = {"analyses_limit", "users_limit"};
    static const char *const opt_count[] = {"overage_count", "overage_price_cents",
                                            "overage_fees_cents", "plan_price_cents",
                                            "total_due_cents"};
    static const char *const opt_money[] = {"overage_fees", "total_due"};
    static const char *const opt_text[] = {"plan", "billing_cycle", "next_billing"};
    json_t *out;
    const json_t *v;

    if (!json_is_object(in)) {
        snprintf(why, n, "the answer is not a JSON object");
        return NULL;
    }
    v = json_object_get(in, "client_id");
    if (!json_is_string(v) || strcmp(json_string_value(v), id) != 0) {
        snprintf(why, n, "client_id is missing or not the tenant's id");
        return NULL;
    }
    v = json_object_get(in, "month");
    if (!json_is_string(v) || !month_ok(json_string_value(v))) {
        snprintf(why, n, "month is missing or not YYYY-MM");
        return NULL;
    }
    for (size_t i = 0; i < sizeof need_count / sizeof *need_count; i++) {
        if (!nonneg_int(json_object_get(in, need_count[i]))) {
            snprintf(why, n, "%s is missing or not an integer >= 0", need_count[i]);
            return NULL;
        }
    }
    for (size_t i = 0; i < sizeof need_limit / sizeof *need_limit; i++) {
        v = json_object_get(in, need_limit[i]);
        if (!json_is_integer(v) && !json_is_null(v)) {
            snprintf(why, n, "%s is missing or not an integer or null", need_limit[i]);
            return NULL;
        }
    }
    for (size_t i = 0; i < sizeof opt_count / sizeof *opt_count; i++) {
        v = json_object_get(in, opt_count[i]);
        if (v != NULL && !nonneg_int(v)) {
            snprintf(why, n, "%s is not an integer >= 0", opt_count[i]);
            return NULL;
        }
    }
    for (size_t i = 0; i < sizeof opt_money / sizeof *opt_money; i++) {
        v = json_object_get(in, opt_money[i]);
        if (v != NULL &&
            !(json_is_number(v) && isfinite(json_number_value(v)) && json_number_value(v) >= 0)) {
            snprintf(why, n, "%s is not a number >= 0", opt_money[i]);
            return NULL;
        }
    }
    for (size_t i = 0; i < sizeof opt_text / sizeof *opt_text; i++) {
        v = json_object_get(in, opt_text[i]);
        if (v != NULL && !short_string(v)) {
            snprintf(why, n, "%s is not a string of at most %d bytes", opt_text[i], STR_MAX);
            return NULL;
        }
    }

    out = json_object();
    if (out == NULL) {
        snprintf(why, n, "out of memory");
        return NULL;
    }
    static const char *const all[] = {"client_id",          "month",
                                      "analyses_used",      "users_active",
                                      "analyses_limit",     "users_limit",
                                      "overage_count",      "overage_price_cents",
                                      "overage_fees_cents", "plan_price_cents",
                                      "total_due_cents",    "overage_fees",
                                      "total_due",          "plan",
                                      "billing_cycle",      "next_billing"};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        v = json_object_get(in, all[i]);
        if (v != NULL && json_object_set(out, all[i], (json_t *)v) != 0) {
            json_decref(out);
            snprintf(why, n, "out of memory");
            return NULL;
        }
    }
    return out;
}
