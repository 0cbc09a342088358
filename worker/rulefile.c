/*
 * rulefile.c — a strict line parser for the worker's rule files (see
 * rulefile.h). It is fuzzed through the rule loaders.
 */
#include "rulefile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool valid_name(const char *s, const char *extra)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              strchr(extra, *s) != NULL))
            return false;
    return true;
}

int rulefile_parse(const char *text, size_t len, rulefile_fn fn, void *ud, char *err, size_t errlen)
{
    char line[RULEFILE_LINE_MAX + 1];
    char section[64] = "";
    char msg[256];
    size_t pos = 0;
    int lineno = 0, rc = 0;

    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* a UTF-8 BOM left by an editor */
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t l = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
        lineno++;
        msg[0] = '\0';
        if (l > RULEFILE_LINE_MAX) {
            snprintf(msg, sizeof msg, "the line is longer than %d bytes", RULEFILE_LINE_MAX);
            rc = -EINVAL;
            break;
        }
        memcpy(line, text + pos, l);
        line[l] = '\0';
        pos += l + (nl != NULL ? 1 : 0);
        if (memchr(line, '\0', l) != NULL) {
            snprintf(msg, sizeof msg, "the line contains a NUL byte");
            rc = -EINVAL;
            break;
        }
        if (l > 0 && line[l - 1] == '\r')
            line[--l] = '\0';
        /* Trim both ends. */
        char *s = line;
        while (is_space(*s))
            s++;
        char *e = s + strlen(s);
        while (e > s && is_space(e[-1]))
            *--e = '\0';
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            if (e[-1] != ']' || e - s < 3 || (size_t)(e - s - 2) >= sizeof section) {
                snprintf(msg, sizeof msg,
                         "a section header must read [name], at most %zu "
                         "characters",
                         sizeof section - 1);
                rc = -EINVAL;
                break;
            }
            e[-1] = '\0';
            if (!valid_name(s + 1, ".-")) {
                snprintf(msg, sizeof msg, "a section name may only hold a-z, 0-9, '_', '.', '-'");
                rc = -EINVAL;
                break;
            }
            memcpy(section, s + 1, (size_t)(e - s - 1));
            rc = fn(ud, section, NULL, NULL, msg, sizeof msg);
            if (rc < 0)
                break;
            continue;
        }
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(msg, sizeof msg, "expected \"key = value\", a [section] or a # comment");
            rc = -EINVAL;
            break;
        }
        char *k = s, *ke = eq, *v = eq + 1;
        while (ke > k && is_space(ke[-1]))
            ke--;
        *ke = '\0';
        while (is_space(*v))
            v++;
        if (!valid_name(k, "")) {
            snprintf(msg, sizeof msg, "a key may only hold a-z, 0-9 and '_'");
            rc = -EINVAL;
            break;
        }
        rc = fn(ud, section, k, v, msg, sizeof msg);
        if (rc < 0)
            break;
    }
    if (rc < 0 && err != NULL && errlen > 0)
        snprintf(err, errlen, "line %d: %s", lineno, msg[0] ? msg : "invalid line");
    return rc;
}
