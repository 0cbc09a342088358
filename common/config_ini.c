/*
 * config_ini.c — reads the text of one config file into its object, through
 * the table of its file kind (see config_internal.h for the module's files).
 *
 * How a file is read, in order:
 *  1. A pre-scan of the raw bytes finds what Debian's inih hides or gets wrong:
 *     lines longer than inih's 199-byte buffer (silently truncated otherwise),
 *     indented lines (inih joins them to the previous key), `[broken` section
 *     headers (inih attributes the following keys to the previous section), NUL
 *     bytes, unknown sections. Each is an error naming its line, and the lines
 *     concerned are marked so that the next step skips them.
 *  2. inih parses the text through a counting reader, which is how the key
 *     handler learns the true line number of every key.
 *  3. The handler looks the key up in the file kind's table (one row per key:
 *     section, name, type, bounds, default, allowlist, offset of the field) and
 *     stores the value, or reports why not. Duplicates are reported too.
 *  4. Required keys that never came are reported (without a line number),
 *     defaults are stored by parsing their text through the same code, and the
 *     values that depend on others are derived (e.g. `instance` = `<id>-prod`,
 *     in config_files.c).
 * Any error, including any nonzero ini_parse_stream result, rejects the file.
 * Messages are "file:line: [section] key: message", handed over in line order.
 *
 * What this file does not do: open files (config_files.c), know any key by
 * name, or parse a value's syntax (config_value.c).
 */
#include "config_internal.h"

#include "util.h"

#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- messages --------------------------------------------------------------- */

/* Report one error of the file, as "file:line: [section] key: message". */
void config_perr(struct pctx *c, int line, const char *section, const char *key, const char *fmt,
                 ...)
{
    char msg[512], where[64] = "";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(where, sizeof(where), ":%d", line);
    c->nerr++;
    if (c->local.n == c->msg_cap) {
        size_t cap = c->msg_cap ? c->msg_cap * 2 : 16;
        int *lines = realloc(c->msg_line, cap * sizeof(*lines));
        if (lines == NULL)
            return;
        c->msg_line = lines;
        c->msg_cap = cap;
    }
    if (section != NULL && key != NULL)
        config_diag_add(&c->local, "%s%s: [%s] %s: %s", c->display, where, section, key, msg);
    else if (section != NULL)
        config_diag_add(&c->local, "%s%s: [%s]: %s", c->display, where, section, msg);
    else
        config_diag_add(&c->local, "%s%s: %s", c->display, where, msg);
    if (c->local.n > 0)
        c->msg_line[c->local.n - 1] = line;
}

/*
 * Hand the file's messages to the caller in line order (those without a line,
 * such as missing keys, last), whatever step found them: the reader then sees
 * the file top down.
 * The sort is a stable insertion sort; a file has a handful of messages.
 */
void config_flush(struct pctx *c)
{
    for (size_t i = 1; i < c->local.n; i++) {
        char *m = c->local.lines[i];
        int l = c->msg_line[i];
        size_t j = i;
        /* A line of 0 sorts last: compare as unsigned. */
        for (; j > 0 && (unsigned)c->msg_line[j - 1] - 1 > (unsigned)l - 1; j--) {
            c->local.lines[j] = c->local.lines[j - 1];
            c->msg_line[j] = c->msg_line[j - 1];
        }
        c->local.lines[j] = m;
        c->msg_line[j] = l;
    }
    for (size_t i = 0; i < c->local.n; i++)
        config_diag_add(c->d, "%s", c->local.lines[i]);
    config_diag_clear(&c->local);
    free(c->msg_line);
    c->msg_line = NULL;
    c->msg_cap = 0;
}
/* Section and key names are shown as-is when plain, quoted otherwise. */
static bool plain_name(const char *s)
{
    if (s[0] == '\0' || strlen(s) > 40)
        return false;
    for (const char *p = s; *p; p++)
        if (!is_alnum(*p) && !strchr("_-.", *p))
            return false;
    return true;
}

/* ---- the counting reader, the pre-scan and the inih handler ----------------- */

/*
 * inih asks for at most num-1 bytes at a time. Returning one physical line per
 * call (or a piece of one, for an over-long line) lets us count lines exactly;
 * the handler runs right after the reader returned its line, so c->lineno is
 * the line of the key being handled.
 */
static char *count_reader(char *str, int num, void *stream)
{
    struct pctx *c = stream;
    size_t n = 0;

    if (c->pos >= c->len || num < 2)
        return NULL;
    if (c->at_line_start)
        c->lineno++;
    while (n < (size_t)num - 1 && c->pos < c->len) {
        char ch = c->text[c->pos++];
        str[n++] = ch;
        if (ch == '\n')
            break;
    }
    str[n] = '\0';
    c->at_line_start = str[n - 1] == '\n';
    return str;
}

static const struct key *find_key(const struct pctx *c, const char *section, const char *name,
                                  size_t *idx)
{
    for (size_t i = 0; i < c->nkeys; i++) {
        const struct key *k = &c->keys[i];
        if ((k->section == NULL || strcmp(k->section, section) == 0) &&
            strcmp(k->name, name) == 0) {
            *idx = i;
            return k;
        }
    }
    return NULL;
}

static bool section_known(const struct pctx *c, const char *section)
{
    for (size_t i = 0; i < c->nkeys; i++)
        if (c->keys[i].section != NULL && strcmp(c->keys[i].section, section) == 0)
            return true;
    return false;
}

int config_plan_index(const struct config_plans *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->plan[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* A section header seen by the pre-scan: false when its keys must be skipped. */
static bool section_open(struct pctx *c, const char *name, int line)
{
    char q[QUOTE_MAX * 4 + 16];

    if (c->plans == NULL) {
        if (section_known(c, name))
            return true;
        if (plain_name(name)) {
            config_perr(c, line, name, NULL, "unknown section");
        } else {
            config_quote(q, sizeof(q), name);
            config_perr(c, line, NULL, NULL, "[%s]: unknown section", q);
        }
        return false;
    }
    if (!config_id_form(name)) {
        config_quote(q, sizeof(q), name);
        config_perr(c, line, NULL, NULL,
                    "%s is not a valid plan name (a lowercase letter, then up to 30 "
                    "lowercase letters, digits or '-')",
                    q);
        return false;
    }
    int i = config_plan_index(c->plans, name);
    if (i >= 0) {
        config_perr(c, line, name, NULL, "plan defined twice (first on line %d)", c->plan_line[i]);
        return false;
    }
    if (c->plans->n >= CONFIG_PLANS_MAX) {
        config_perr(c, line, name, NULL, "too many plans (at most %d)", CONFIG_PLANS_MAX);
        return false;
    }
    i = (int)c->plans->n++;
    util_strlcpy(c->plans->plan[i].name, name, sizeof(c->plans->plan[i].name));
    c->plan_line[i] = line;
    return true;
}

static bool is_blank(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\v' || ch == '\f' || ch == '\r';
}

/*
 * Read the raw text line by line the way inih will, and report what inih would
 * hide. Lines reported here are marked in c->skip; so are the keys of unknown
 * or broken sections, which would otherwise be misattributed.
 */
static void prescan(struct pctx *c)
{
    enum { NONE, OPEN, CLOSED } state = NONE;
    const char *p = c->text, *end = c->text + c->len;
    int line = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *s = p, *e = p + n, *next = nl ? nl + 1 : end;

        line++;
        p = next;
        if (n > LINE_MAX_BYTES) {
            config_perr(c, line, NULL, NULL, "line is %zu bytes long (at most %d)", n,
                        LINE_MAX_BYTES);
            c->skip[line] = 1;
            /* inih reads the rest of the line as new lines, and one of them may
             * open a section: then which one is in force is unknown until the
             * next header. */
            if (memchr(s + 1, '[', n - 1) != NULL)
                state = CLOSED;
            continue;
        }
        if (memchr(s, '\0', n) != NULL) {
            config_perr(c, line, NULL, NULL, "line contains a NUL byte");
            c->skip[line] = 1;
            /* inih stops at the NUL, so it may see a section header we do not. */
            if (memchr(s, '[', n) != NULL)
                state = CLOSED;
            continue;
        }
        if (line == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
            s += 3;
        while (e > s && is_blank(e[-1]))
            e--;
        const char *t = s;
        while (t < e && is_blank(*t))
            t++;
        if (t == e || *t == ';' || *t == '#')
            continue;
        if (t > s) {
            config_perr(c, line, NULL, NULL,
                        "indented line (continuation lines are not supported)");
            c->skip[line] = 1;
            continue;
        }
        if (*t == '[') {
            const char *rb = memchr(t, ']', (size_t)(e - t));
            char name[LINE_MAX_BYTES + 1];
            /* inih stops looking for ']' at an inline comment (" ;"). */
            for (const char *x = t + 1; rb != NULL && x < rb; x++)
                if (*x == ';' && is_blank(x[-1]))
                    rb = NULL;
            if (rb == NULL) {
                config_perr(c, line, NULL, NULL, "broken section header (no closing \"]\")");
                c->skip[line] = 1;
                state = CLOSED;
                continue;
            }
            const char *after = rb + 1;
            while (after < e && is_blank(*after))
                after++;
            if (after < e && *after != ';' && *after != '#') {
                config_perr(c, line, NULL, NULL, "unexpected text after the section header");
                c->skip[line] = 1;
                state = CLOSED;
                continue;
            }
            memcpy(name, t + 1, (size_t)(rb - t - 1));
            name[rb - t - 1] = '\0';
            state = section_open(c, name, line) ? OPEN : CLOSED;
            continue;
        }
        /* A key line: inih needs '=' or ':' before any inline comment. */
        const char *sep = NULL;
        for (const char *x = t; x < e && sep == NULL; x++) {
            if (*x == ';' && x > t && is_blank(x[-1]))
                break;
            if (*x == '=' || *x == ':')
                sep = x;
        }
        if (sep == NULL) {
            config_perr(c, line, NULL, NULL, "syntax error (expected \"key = value\")");
            c->skip[line] = 1;
        } else if (state == NONE) {
            config_perr(c, line, NULL, NULL, "key outside of any section");
            c->skip[line] = 1;
        } else if (state == CLOSED) {
            c->skip[line] = 1;
        }
    }
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct pctx *c = user;
    const struct key *k;
    void *obj = c->obj;
    int *seen = c->seen;
    size_t idx;
    char why[512];

    if (c->lineno < 1 || c->lineno > c->nlines || c->skip[c->lineno])
        return 1;
    /*
     * The pre-scan skips the keys of every section it did not open, so inih
     * and the pre-scan disagreeing about the section is a bug of ours; the
     * file is refused rather than read under the wrong section.
     */
    if (c->plans != NULL) {
        int i = config_plan_index(c->plans, section);
        if (i < 0)
            goto lost;
        obj = &c->plans->plan[i];
        seen = c->plan_seen[i];
    } else if (!section_known(c, section)) {
        goto lost;
    }
    k = find_key(c, section, name, &idx);
    if (k == NULL) {
        char q[QUOTE_MAX * 4 + 16];
        /* A plain name reads better than a quoted one; odd ones stay quoted. */
        config_quote(q, sizeof(q), name);
        config_perr(c, c->lineno, section, plain_name(name) ? name : q, "unknown key");
        return 1;
    }
    if (seen[idx] != 0) {
        config_perr(c, c->lineno, section, name, "duplicate key (first set on line %d)", seen[idx]);
        return 1;
    }
    seen[idx] = c->lineno;
    if (config_store(c, k, obj, value, why, sizeof(why)) < 0)
        config_perr(c, c->lineno, section, name, "%s", why);
    return 1;
lost:
    config_perr(c, c->lineno, NULL, NULL, "key in a section that could not be read");
    return 1;
}

/* Run the pre-scan and inih over c->text, filling c->obj (or c->plans). */
void config_parse_text(struct pctx *c)
{
    int r;

    c->nlines = 1;
    for (size_t i = 0; i < c->len; i++)
        c->nlines += c->text[i] == '\n';
    c->skip = calloc((size_t)c->nlines + 2, 1);
    if (c->skip == NULL) {
        config_perr(c, 0, NULL, NULL, "out of memory");
        return;
    }
    prescan(c);
    c->pos = 0;
    c->lineno = 0;
    c->at_line_start = true;
    r = ini_parse_stream(count_reader, c, on_key, c);
    if (r == -2)
        config_perr(c, 0, NULL, NULL, "out of memory");
    else if (r != 0 && c->nerr == 0)
        config_perr(c, r > 0 ? r : 0, NULL, NULL, "syntax error");
    free(c->skip);
    c->skip = NULL;
}

/* Report missing required keys and store the defaults of the others. */
void config_finish_keys(struct pctx *c, void *obj, const int *seen, const char *section)
{
    for (size_t i = 0; i < c->nkeys; i++) {
        const struct key *k = &c->keys[i];
        const char *sec = k->section ? k->section : section;
        char why[512];
        if (seen[i] != 0)
            continue;
        if (k->flags & F_REQUIRED) {
            config_perr(c, 0, sec, k->name, "required key is missing");
        } else if (k->def != NULL && config_store(c, k, obj, k->def, why, sizeof(why)) < 0) {
            config_perr(c, 0, sec, k->name, "internal error: bad default: %s", why);
        }
    }
}

static int key_index(const struct key *keys, size_t n, const char *section, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if ((keys[i].section == NULL || strcmp(keys[i].section, section) == 0) &&
            strcmp(keys[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* The line a key was set on, 0 when it was not. */
int config_seen_line(const struct pctx *c, const int *seen, const char *section, const char *name)
{
    int i = key_index(c->keys, c->nkeys, section, name);
    return i < 0 ? 0 : seen[i];
}
