/*
 * config_value.c — one value of a config file: the scalar parsers (integers,
 * sizes like "256M", durations like "5s", listen addresses, port ranges, the
 * prediction threshold), UTF-8 and control-character checks, the quoting of a
 * value for a message, and config_store(), which turns a value's text into its
 * field by the type of its key's row, or explains in one sentence why not.
 *
 * What this file does not do: know which keys exist (config_keys.c), read a
 * file or count lines (config_ini.c), or check one key against another
 * (config_files.c). It has no I/O.
 */
#include "config_internal.h"
#include "argv.h"

#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Validate UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF) and,
 * per `flags`, refuse control characters: C0, DEL, C1 and the Unicode line
 * separators could end a log line where a single line is expected.
 */
bool config_utf8_check(const char *s, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        uint32_t cp;
        int n;
        if (*p < 0x80) {
            if ((flags & U8_NO_C0) && (*p < 0x20 || *p == 0x7f))
                return false;
            p++;
            continue;
        }
        if ((*p & 0xe0) == 0xc0) {
            cp = *p & 0x1f;
            n = 1;
        } else if ((*p & 0xf0) == 0xe0) {
            cp = *p & 0x0f;
            n = 2;
        } else if ((*p & 0xf8) == 0xf0) {
            cp = *p & 0x07;
            n = 3;
        } else {
            return false;
        }
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        if ((flags & U8_NO_C1) && ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029))
            return false;
        if ((flags & U8_NO_BIDI) && config_is_bidi_control(cp))
            return false;
        p += n + 1;
    }
    return true;
}

/* The Unicode bidirectional formatting characters: embeddings and overrides
 * (U+202A..U+202E), isolates (U+2066..U+2069) and the marks U+200E, U+200F.
 * In a displayed name they reorder what follows ("Cabinet \u202Efdp.exe"),
 * so a name could show as something it is not. */
bool config_is_bidi_control(uint32_t cp)
{
    return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e ||
           cp == 0x200f;
}

static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}
/* ---- scalar parsers -------------------------------------------------------- */

/* A decimal integer, optionally negative; no spaces, no '+', no hex. */
static int parse_i64(const char *s, int64_t *out)
{
    bool neg = false;
    uint64_t v = 0, lim;

    if (*s == '-') {
        neg = true;
        s++;
    }
    if (!is_digit(*s))
        return -EINVAL;
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; is_digit(*s); s++) {
        unsigned dgt = (unsigned)(*s - '0');
        if (v > (lim - dgt) / 10)
            return -ERANGE;
        v = v * 10 + dgt;
    }
    if (*s != '\0')
        return -EINVAL;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Digits followed by an optional unit; the unit's multiplier comes from `units`. */
static int parse_scaled(const char *s, const char *const *names, const int64_t *mult, size_t n,
                        bool bare_ok, int64_t *out)
{
    uint64_t v = 0;
    const char *p = s;

    if (!is_digit(*p))
        return -EINVAL;
    for (; is_digit(*p); p++) {
        if (v > ((uint64_t)INT64_MAX - (unsigned)(*p - '0')) / 10)
            return -ERANGE;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (*p == '\0') {
        /* A bare zero means "none" in every unit, so it is always accepted. */
        if (!bare_ok && v != 0)
            return -EINVAL;
        *out = (int64_t)v;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p, names[i]) != 0)
            continue;
        if (v > (uint64_t)(INT64_MAX / mult[i]))
            return -ERANGE;
        *out = (int64_t)v * mult[i];
        return 0;
    }
    return -EINVAL;
}

int config_parse_size(const char *s, int64_t *out)
{
    static const char *const names[] = {"K", "M", "G", "T", "k", "m", "g", "t"};
    static const int64_t mult[] = {KIB, MIB, GIB, TIB, KIB, MIB, GIB, TIB};

    if (s == NULL || out == NULL)
        return -EINVAL;
    return parse_scaled(s, names, mult, 8, true, out);
}

int config_parse_duration(const char *s, int64_t *out_ms)
{
    static const char *const names[] = {"ms", "s", "m", "h", "d"};
    static const int64_t mult[] = {1, SEC, MIN_, HOUR, DAY};

    if (s == NULL || out_ms == NULL)
        return -EINVAL;
    return parse_scaled(s, names, mult, 5, false, out_ms);
}

static void fmt_size(char *buf, size_t n, int64_t v)
{
    if (v != 0 && v % TIB == 0)
        snprintf(buf, n, "%lldT", (long long)(v / TIB));
    else if (v != 0 && v % GIB == 0)
        snprintf(buf, n, "%lldG", (long long)(v / GIB));
    else if (v != 0 && v % MIB == 0)
        snprintf(buf, n, "%lldM", (long long)(v / MIB));
    else if (v != 0 && v % KIB == 0)
        snprintf(buf, n, "%lldK", (long long)(v / KIB));
    else
        snprintf(buf, n, "%lld", (long long)v);
}

static void fmt_duration(char *buf, size_t n, int64_t v)
{
    if (v == 0)
        snprintf(buf, n, "0");
    else if (v % DAY == 0)
        snprintf(buf, n, "%lldd", (long long)(v / DAY));
    else if (v % HOUR == 0)
        snprintf(buf, n, "%lldh", (long long)(v / HOUR));
    else if (v % MIN_ == 0)
        snprintf(buf, n, "%lldm", (long long)(v / MIN_));
    else if (v % SEC == 0)
        snprintf(buf, n, "%llds", (long long)(v / SEC));
    else
        snprintf(buf, n, "%lldms", (long long)v);
}

/*
 * Quote a value for a message: cut to QUOTE_MAX bytes (on a character
 * boundary), with control bytes, quotes and backslashes as \xNN, and every
 * byte above 0x7f escaped too when the value is not valid UTF-8. The result is
 * always one printable line, whatever the file held.
 */
void config_quote(char *buf, size_t n, const char *v)
{
    bool utf8 = config_utf8_check(v, U8_NO_C1);
    size_t o = 0, i = 0;

    buf[o++] = '"';
    for (; v[i] && o + 8 < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (i >= QUOTE_MAX && (c & 0xc0) != 0x80)
            break;
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\' || (c >= 0x80 && !utf8))
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    if (v[i] != '\0')
        o += (size_t)snprintf(buf + o, n - o, "...");
    snprintf(buf + o, n - o, "\"");
}
/* ---- storing one value ------------------------------------------------------ */

static void fmt_bound(const struct key *k, char *buf, size_t n, int64_t v)
{
    if (k->type == K_SIZE)
        fmt_size(buf, n, v);
    else if (k->type == K_DURATION)
        fmt_duration(buf, n, v);
    else
        snprintf(buf, n, "%lld", (long long)v);
}

static void put_string(void *obj, const struct key *k, const char *v)
{
    util_strlcpy((char *)obj + k->off, v, k->size);
}

/* Join the names of an enum as "a, b, c" for a message. */
static void join_names(char *buf, size_t n, const char *const *names)
{
    size_t o = 0;

    buf[0] = '\0';
    for (size_t i = 0; names[i] && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? ", " : "", names[i]);
}

static int find_name(const char *const *names, const char *v)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], v) == 0)
            return i;
    return -1;
}

/* host:port, [v6]:port; the host is stored without brackets. */
static bool parse_listen(const char *v, char *host, size_t hn, int *port)
{
    const char *colon, *h = v;
    size_t hl;
    char tmp[CONFIG_HOST_MAX];
    int64_t p;

    if (v[0] == '[') {
        const char *rb = strchr(v, ']');
        if (rb == NULL || rb[1] != ':')
            return false;
        h = v + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(v, ':');
        if (colon == NULL)
            return false;
        hl = (size_t)(colon - v);
    }
    if (hl == 0 || hl >= hn || hl >= sizeof(tmp))
        return false;
    memcpy(tmp, h, hl);
    tmp[hl] = '\0';
    if (v[0] == '[' && strchr(tmp, ':') == NULL)
        return false;
    if (v[0] != '[' && strchr(tmp, ':') != NULL)
        return false;
    if (!config_valid_host(tmp) || parse_i64(colon + 1, &p) < 0 || p < 1 || p > 65535)
        return false;
    memcpy(host, tmp, hl + 1);
    *port = (int)p;
    return true;
}

/*
 * Store value v of key k into obj, or explain in `why` (the part after
 * "[section] key: ") why it is refused. Returns 0 or -1.
 */
int config_store(struct pctx *c, const struct key *k, void *obj, const char *v, char *why,
                 size_t wn)
{
    char q[QUOTE_MAX * 4 + 16], lo[32], hi[32], names[128];
    char *field = (char *)obj + k->off;
    int64_t n = 0;
    int r;

    config_quote(q, sizeof(q), v);
    if (v[0] == '\0') {
        if (!(k->flags & F_EMPTY_OK)) {
            snprintf(why, wn, "value is empty");
            return -1;
        }
        if (k->type == K_STR || k->type == K_TEXT || k->type == K_PATH || k->type == K_CMDLINE ||
            k->type == K_ARGV) {
            field[0] = '\0';
            return 0;
        }
    }
    /* Control characters are refused in every value, whatever its type. */
    if (has_control(v)) {
        snprintf(why, wn, "%s contains a control character", q);
        return -1;
    }
    switch (k->type) {
    case K_INT:
    case K_I64:
    case K_SIZE:
    case K_DURATION:
        if (k->type == K_SIZE)
            r = config_parse_size(v, &n);
        else if (k->type == K_DURATION)
            r = config_parse_duration(v, &n);
        else
            r = parse_i64(v, &n);
        fmt_bound(k, lo, sizeof(lo), k->min);
        fmt_bound(k, hi, sizeof(hi), k->max);
        if (r == -EINVAL) {
            snprintf(why, wn, "%s is not %s", q,
                     k->type == K_SIZE       ? "a size (like 512K, 256M, 1G)"
                     : k->type == K_DURATION ? "a duration (like 100ms, 5s, 2m, 24h, 7d)"
                                             : "an integer");
            return -1;
        }
        if (r == -ERANGE || n < k->min || n > k->max) {
            snprintf(why, wn, "%s is out of range (%s..%s)", q, lo, hi);
            return -1;
        }
        if (k->type == K_INT) {
            int i = (int)n;
            memcpy(field, &i, sizeof(i));
        } else {
            memcpy(field, &n, sizeof(n));
        }
        return 0;
    case K_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1", NULL};
        static const char *const no[] = {"false", "no", "off", "0", NULL};
        bool b;
        if (find_name(yes, v) >= 0) {
            b = true;
        } else if (find_name(no, v) >= 0) {
            b = false;
        } else {
            snprintf(why, wn, "%s is not a boolean (true/false, yes/no, on/off, 1/0)", q);
            return -1;
        }
        memcpy(field, &b, sizeof(b));
        return 0;
    }
    case K_ENUM: {
        int i = find_name(k->names, v);
        if (i < 0) {
            join_names(names, sizeof(names), k->names);
            snprintf(why, wn, "%s is not one of %s", q, names);
            return -1;
        }
        /* Every enum of config.h is int-sized; the table's size is checked in tests. */
        memcpy(field, &i, sizeof(i));
        return 0;
    }
    case K_STR:
        if (k->names != NULL && find_name(k->names, v) < 0) {
            join_names(names, sizeof(names), k->names);
            snprintf(why, wn, "%s is not one of %s", q, names);
            return -1;
        }
        if (k->check != NULL && !k->check->ok(v)) {
            snprintf(why, wn, "%s is not %s", q, k->check->what);
            return -1;
        }
        if (strlen(v) >= k->size) {
            snprintf(why, wn, "%s is too long (at most %zu bytes)", q, k->size - 1);
            return -1;
        }
        put_string(obj, k, v);
        return 0;
    case K_TEXT:
        if (!config_utf8_check(v, 0)) {
            snprintf(why, wn, "%s is not valid UTF-8 text", q);
            return -1;
        }
        if (!config_utf8_check(v, U8_NO_C1)) {
            snprintf(why, wn, "%s contains a control character", q);
            return -1;
        }
        if (!config_utf8_check(v, U8_NO_BIDI)) {
            snprintf(why, wn,
                     "%s contains a bidirectional control character (U+202A..U+202E, "
                     "U+2066..U+2069, U+200E, U+200F), which would reorder the text shown",
                     q);
            return -1;
        }
        if (strlen(v) >= k->size) {
            snprintf(why, wn, "%s is too long (at most %zu bytes)", q, k->size - 1);
            return -1;
        }
        put_string(obj, k, v);
        return 0;
    case K_CMDLINE:
        if (!config_utf8_check(v, U8_NO_C0 | U8_NO_C1) || strlen(v) >= k->size) {
            snprintf(why, wn, "%s is not a command line (valid UTF-8, at most %zu bytes)", q,
                     k->size - 1);
            return -1;
        }
        put_string(obj, k, v);
        return 0;
    case K_ARGV: {
        char buf[CONFIG_PATH_MAX], aerr[192], *words[ARGV_MAX_WORDS + 1];
        int nw;
        if (!config_utf8_check(v, U8_NO_C0 | U8_NO_C1) || strlen(v) >= k->size ||
            strlen(v) >= sizeof buf) {
            snprintf(why, wn, "%s is not a command (valid UTF-8, at most %zu bytes)", q,
                     k->size - 1);
            return -1;
        }
        nw = argv_split(v, words, buf, sizeof buf, aerr, sizeof aerr);
        if (nw < 0) {
            snprintf(why, wn, "%s: %s", q, nw == -EINVAL ? aerr : "too long");
            return -1;
        }
        if (nw == 0) {
            snprintf(why, wn, "%s names no program", q);
            return -1;
        }
        if (k->check != NULL && !k->check->ok(words[0])) {
            char qp[QUOTE_MAX * 4 + 16];
            config_quote(qp, sizeof(qp), words[0]);
            if (nw == 1)
                snprintf(why, wn, "%s is not %s", q, k->check->what);
            else
                snprintf(why, wn, "%s: its program %s is not %s", q, qp, k->check->what);
            return -1;
        }
        put_string(obj, k, v);
        return 0;
    }
    case K_PROGRAM:
        if (!k->check->ok(v)) {
            snprintf(why, wn, "%s is not %s", q, k->check->what);
            return -1;
        }
        if (strchr(v, '/') == NULL) {
            put_string(obj, k, v);
            return 0;
        }
        /* A program with a slash is a path, so it resolves like the others. */
        __attribute__((fallthrough));
    case K_PATH:
        if (!config_utf8_check(v, U8_NO_C0 | U8_NO_C1) ||
            util_path_join(field, k->size, c->base, v) < 0) {
            snprintf(why, wn, "%s is not a usable path (valid UTF-8, at most %zu bytes)", q,
                     k->size - 1);
            return -1;
        }
        return 0;
    case K_LISTEN: {
        int port = 0;
        if ((k->flags & F_OFF_OK) && strcmp(v, "off") == 0) {
            field[0] = '\0';
            memcpy((char *)obj + k->off2, &port, sizeof(port));
            return 0;
        }
        if (!parse_listen(v, field, k->size, &port)) {
            snprintf(why, wn, "%s is not a listen address (like 127.0.0.1:7070 or [::1]:7070%s)", q,
                     (k->flags & F_OFF_OK) ? ", or off" : "");
            return -1;
        }
        memcpy((char *)obj + k->off2, &port, sizeof(port));
        return 0;
    }
    case K_PORTRANGE: {
        const char *dash = strchr(v, '-');
        char a[16];
        int64_t p1 = 0, p2 = 0;
        int i1, i2;
        bool ok = dash != NULL && dash != v && (size_t)(dash - v) < sizeof(a);
        if (ok) {
            memcpy(a, v, (size_t)(dash - v));
            a[dash - v] = '\0';
            ok = parse_i64(a, &p1) == 0 && parse_i64(dash + 1, &p2) == 0;
        }
        if (!ok) {
            snprintf(why, wn, "%s is not a port range (like 5001-5999)", q);
            return -1;
        }
        if (p1 < k->min || p2 > k->max || p1 > p2) {
            snprintf(why, wn, "%s is out of range (low-high within %lld..%lld)", q,
                     (long long)k->min, (long long)k->max);
            return -1;
        }
        i1 = (int)p1;
        i2 = (int)p2;
        memcpy(field, &i1, sizeof(i1));
        memcpy((char *)obj + k->off2, &i2, sizeof(i2));
        return 0;
    }
    case K_THRESHOLD: {
        /* Digits, then at most one '.' and up to 6 digits: no exponent, no
         * hex float, nothing strtod would take that a reader would not. */
        size_t i = 0, frac = 0;
        bool dot = false;
        double x;
        for (; v[i]; i++) {
            if (v[i] == '.' && !dot && i > 0)
                dot = true;
            else if (is_digit(v[i]))
                frac += dot;
            else
                break;
        }
        if (v[i] != '\0' || (dot && frac == 0) || frac > 6 || i >= k->size2 || i > 12) {
            snprintf(why, wn, "%s is not a decimal number (like 0.87)", q);
            return -1;
        }
        x = strtod(v, NULL);
        if (x < 0.0 || x > 1.0) {
            snprintf(why, wn, "%s is out of range (0..1)", q);
            return -1;
        }
        memcpy(field, &x, sizeof(x));
        util_strlcpy((char *)obj + k->off2, v, k->size2);
        return 0;
    }
    }
    snprintf(why, wn, "internal error: unknown key type");
    return -1;
}
