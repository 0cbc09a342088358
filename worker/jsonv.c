/*
 * jsonv.c — table-driven validation of JSON bodies and query strings (see
 * jsonv.h). The error sentences quote field names the client sent; those
 * are shortened and stripped of control characters before they are quoted.
 */
#include "jsonv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSONV_PATH_MAX 160

size_t jsonv_utf8_len(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* Copy a client-chosen name into dst for quoting: at most 48 bytes, cut on a
 * character boundary, control characters replaced by '?'. */
static void quote_name(char *dst, size_t n, const char *name)
{
    size_t i = 0, j = 0;
    while (name[i] != '\0' && j + 4 < n && i < 48) {
        unsigned char ch = (unsigned char)name[i];
        dst[j++] = (ch < 0x20 || ch == 0x7F) ? '?' : (char)ch;
        i++;
    }
    /* Do not leave half of a multi-byte character at the end. */
    while (j > 0 && ((unsigned char)dst[j - 1] & 0x80) != 0) {
        size_t k = j - 1;
        while (k > 0 && ((unsigned char)dst[k] & 0xC0) == 0x80)
            k--;
        unsigned char lead = (unsigned char)dst[k];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (j - k == need)
            break;
        j = k;
    }
    if (name[i] != '\0' && j + 3 < n) {
        memcpy(dst + j, "...", 3);
        j += 3;
    }
    dst[j] = '\0';
}

/* Field paths are for messages only: a path too deep to fit is cut, which is
 * why this goes through vsnprintf rather than a checked snprintf. */
static void path_fmt(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void path_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

static void join_path(char *out, size_t n, const char *prefix, const char *name)
{
    char q[64];
    quote_name(q, sizeof q, name);
    if (prefix[0] == '\0')
        path_fmt(out, n, "%s", q);
    else
        path_fmt(out, n, "%s.%s", prefix, q);
}

static const char *type_word(enum jsonv_type t)
{
    switch (t) {
    case JSONV_STRING:
        return "a string";
    case JSONV_INT:
        return "an integer";
    case JSONV_BOOL:
        return "true or false";
    case JSONV_ARRAY:
        return "an array";
    case JSONV_OBJECT:
        return "an object";
    }
    return "a value";
}

/* A bidirectional control (U+200E, U+200F, U+202A..U+202E, U+2066..U+2069)
 * in UTF-8 at s[i], which jansson has validated: they reorder what follows,
 * so a name could display as something it is not. */
static bool bidi_at(const unsigned char *s, size_t i, size_t len)
{
    if (i + 2 >= len || s[i] != 0xE2)
        return false;
    if (s[i + 1] == 0x80)
        return s[i + 2] == 0x8E || s[i + 2] == 0x8F || (s[i + 2] >= 0xAA && s[i + 2] <= 0xAE);
    return s[i + 1] == 0x81 && s[i + 2] >= 0xA6 && s[i + 2] <= 0xA9;
}

static int check_string(const json_t *v, const struct jsonv_field *f, const char *path, char *err,
                        size_t errlen)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (memchr(s, '\0', len) != NULL) {
        snprintf(err, errlen, "the field \"%s\" must not contain a NUL character", path);
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        bool ctrl = ch < 0x20 || ch == 0x7F;
        if (ctrl && (f->flags & JSONV_MULTILINE) && (ch == '\n' || ch == '\r' || ch == '\t'))
            ctrl = false;
        if (ctrl) {
            snprintf(err, errlen, "the field \"%s\" must not contain control characters%s", path,
                     (f->flags & JSONV_MULTILINE) ? " other than tabs and line breaks" : "");
            return -EINVAL;
        }
        /* Free text (multi-line) may hold right-to-left passages with their
         * marks; one-line fields are names and labels. */
        if (!(f->flags & JSONV_MULTILINE) && bidi_at((const unsigned char *)s, i, len)) {
            snprintf(err, errlen,
                     "the field \"%s\" must not contain bidirectional control characters "
                     "(U+202A..U+202E, U+2066..U+2069, U+200E, U+200F)",
                     path);
            return -EINVAL;
        }
    }
    size_t chars = jsonv_utf8_len(s, len);
    if ((int64_t)chars < f->min || (int64_t)chars > f->max) {
        if (f->min <= 0)
            snprintf(err, errlen, "the field \"%s\" must be at most %" PRId64 " characters long",
                     path, f->max);
        else if (f->min == 1 && chars == 0)
            snprintf(err, errlen, "the field \"%s\" must not be empty", path);
        else
            snprintf(err, errlen,
                     "the field \"%s\" must be between %" PRId64 " and %" PRId64 " characters long",
                     path, f->min, f->max);
        return -EINVAL;
    }
    if (f->oneof != NULL) {
        for (const char *const *o = f->oneof; *o != NULL; o++)
            if (strcmp(*o, s) == 0)
                return 0;
        char list[200] = "";
        size_t used = 0;
        for (const char *const *o = f->oneof; *o != NULL; o++) {
            int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", *o);
            if (w < 0 || (size_t)w >= sizeof list - used)
                break;
            used += (size_t)w;
        }
        snprintf(err, errlen, "the field \"%s\" must be one of: %s", path, list);
        return -EINVAL;
    }
    return 0;
}

static int check_object(const json_t *obj, const struct jsonv_field *spec, const char *prefix,
                        char *err, size_t errlen);

static int check_value(const json_t *v, const struct jsonv_field *f, const char *path, char *err,
                       size_t errlen)
{
    switch (f->type) {
    case JSONV_STRING:
        if (!json_is_string(v))
            break;
        return check_string(v, f, path, err, errlen);
    case JSONV_INT: {
        if (!json_is_integer(v))
            break;
        json_int_t x = json_integer_value(v);
        if (x < f->min || x > f->max) {
            snprintf(err, errlen,
                     "the field \"%s\" must be an integer between %" PRId64 " and %" PRId64, path,
                     f->min, f->max);
            return -EINVAL;
        }
        return 0;
    }
    case JSONV_BOOL:
        if (!json_is_boolean(v))
            break;
        return 0;
    case JSONV_ARRAY: {
        if (!json_is_array(v))
            break;
        size_t n = json_array_size(v);
        if ((int64_t)n < f->min || (int64_t)n > f->max) {
            snprintf(err, errlen,
                     "the field \"%s\" must hold between %" PRId64 " and %" PRId64 " elements",
                     path, f->min, f->max);
            return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
            char sub[JSONV_PATH_MAX];
            path_fmt(sub, sizeof sub, "%s[%zu]", path, i);
            const json_t *e = json_array_get(v, i);
            if (!json_is_object(e)) {
                snprintf(err, errlen, "the field \"%s\" must be an object", sub);
                return -EINVAL;
            }
            int rc = check_object(e, f->items, sub, err, errlen);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    case JSONV_OBJECT:
        if (!json_is_object(v))
            break;
        return check_object(v, f->items, path, err, errlen);
    }
    snprintf(err, errlen, "the field \"%s\" must be %s", path, type_word(f->type));
    return -EINVAL;
}

static int check_object(const json_t *obj, const struct jsonv_field *spec, const char *prefix,
                        char *err, size_t errlen)
{
    char path[JSONV_PATH_MAX];
    /* Unknown fields first: a misspelt optional field must not pass silently. */
    const char *key;
    size_t keylen;
    json_t *val;
    json_object_keylen_foreach((json_t *)obj, key, keylen, val)
    {
        const struct jsonv_field *f = spec;
        while (f->name != NULL && strcmp(f->name, key) != 0)
            f++;
        /* A key with an embedded NUL would otherwise pass as its prefix. */
        if (f->name == NULL || strlen(key) != keylen) {
            join_path(path, sizeof path, prefix, key);
            snprintf(err, errlen, "the field \"%s\" is not allowed here", path);
            return -EINVAL;
        }
    }
    for (const struct jsonv_field *f = spec; f->name != NULL; f++) {
        join_path(path, sizeof path, prefix, f->name);
        const json_t *v = json_object_get(obj, f->name);
        if (v == NULL || json_is_null(v)) {
            if (f->flags & JSONV_REQUIRED) {
                snprintf(err, errlen, "the field \"%s\" is required", path);
                return -EINVAL;
            }
            if (v != NULL) {
                snprintf(err, errlen, "the field \"%s\" must be %s, not null", path,
                         type_word(f->type));
                return -EINVAL;
            }
            continue;
        }
        int rc = check_value(v, f, path, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int jsonv_check(const json_t *obj, const struct jsonv_field *spec, char *err, size_t errlen)
{
    if (!json_is_object(obj)) {
        bool anything_required = false;
        for (const struct jsonv_field *f = spec; f->name != NULL; f++)
            anything_required |= (f->flags & JSONV_REQUIRED) != 0;
        /* A missing body is only acceptable when nothing is required. */
        if (obj == NULL && !anything_required)
            return 0;
        snprintf(err, errlen, "the request body must be a JSON object");
        return -EINVAL;
    }
    return check_object(obj, spec, "", err, errlen);
}

bool jsonv_reject(const json_t *body, const struct jsonv_field *spec, struct wres *out)
{
    char err[256];
    if (jsonv_check(body, spec, err, sizeof err) == 0)
        return false;
    *out = wres_error(400, "invalid_request", "%s", err);
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..len) into a new string; NULL on a bad escape, a NUL
 * byte, or invalid UTF-8 (which jansson would refuse anyway). */
static char *pct_decode(const char *s, size_t len, size_t *outlen)
{
    char *d = malloc(len + 1);
    size_t j = 0;
    if (d == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            d[j++] = ' ';
        } else if (s[i] == '%') {
            int h = i + 2 < len ? hexval(s[i + 1]) : -1;
            int l = i + 2 < len ? hexval(s[i + 2]) : -1;
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(d);
                return NULL;
            }
            d[j++] = (char)(h * 16 + l);
            i += 2;
        } else {
            d[j++] = s[i];
        }
    }
    d[j] = '\0';
    *outlen = j;
    return d;
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    if (s[0] == '\0' || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
        return -EINVAL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -EINVAL;
    *out = v;
    return 0;
}

/* Add one decoded key=value pair of a query string to obj. */
static int query_pair(json_t *obj, const struct jsonv_field *spec, const char *k, const char *v,
                      size_t vlen, char *err, size_t errlen)
{
    const struct jsonv_field *f = spec;
    char name[64];
    json_t *jv = NULL;
    int64_t iv;

    while (f->name != NULL && strcmp(f->name, k) != 0)
        f++;
    quote_name(name, sizeof name, k);
    if (f->name == NULL) {
        snprintf(err, errlen, "the query parameter \"%s\" is not allowed here", name);
        return -EINVAL;
    }
    if (json_object_get(obj, k) != NULL) {
        snprintf(err, errlen, "the query parameter \"%s\" is given more than once", name);
        return -EINVAL;
    }
    if (f->type == JSONV_INT && parse_int(v, &iv) == 0)
        jv = json_integer(iv);
    else if (f->type == JSONV_BOOL && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0))
        jv = json_true();
    else if (f->type == JSONV_BOOL && (strcmp(v, "false") == 0 || strcmp(v, "0") == 0))
        jv = json_false();
    else if (f->type == JSONV_STRING)
        jv = json_stringn(v, vlen); /* NULL for invalid UTF-8 */
    if (jv == NULL) {
        snprintf(err, errlen, "the query parameter \"%s\" must be %s", name,
                 f->type == JSONV_STRING ? "valid UTF-8 text" : type_word(f->type));
        return -EINVAL;
    }
    if (json_object_set_new(obj, k, jv) < 0) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

int jsonv_query(const char *qs, const struct jsonv_field *spec, json_t **out, char *err,
                size_t errlen)
{
    json_t *obj = json_object();
    const char *p = qs != NULL ? qs : "";
    int rc = 0;

    if (obj == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    while (*p != '\0' && rc == 0) {
        size_t plen = strcspn(p, "&");
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq != NULL ? (size_t)(eq - p) : plen;
        if (plen > 0) {
            size_t kdl = 0, vdl = 0;
            char *k = pct_decode(p, klen, &kdl);
            char *v = eq != NULL ? pct_decode(eq + 1, plen - klen - 1, &vdl) : strdup("");
            if (k == NULL || v == NULL) {
                snprintf(err, errlen, "the query string is malformed");
                rc = -EINVAL;
            } else {
                rc = query_pair(obj, spec, k, v, vdl, err, errlen);
            }
            free(k);
            free(v);
        }
        p += plen;
        if (*p == '&')
            p++;
    }
    if (rc == 0)
        rc = jsonv_check(obj, spec, err, errlen);
    if (rc < 0) {
        json_decref(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

bool jsonv_query_reject(const char *qs, const struct jsonv_field *spec, json_t **out,
                        struct wres *res)
{
    char err[256];
    if (jsonv_query(qs, spec, out, err, sizeof err) == 0)
        return false;
    *res = wres_error(400, "invalid_request", "%s", err);
    return true;
}
