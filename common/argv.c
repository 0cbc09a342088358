/*
 * argv.c — see argv.h.
 */
#include "argv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* Characters a shell would give a meaning to, refused when unquoted. */
static bool shell_special(char c)
{
    return strchr("|&;<>()$`*?[]{}~", c) != NULL;
}

int argv_split(const char *line, char **words, char *buf, size_t buflen, char *err, size_t errlen)
{
    size_t o = 0, n = 0;
    const char *p = line;

    if (err && errlen)
        err[0] = '\0';
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        if (n == ARGV_MAX_WORDS)
            return fail(err, errlen, "more than %d words (at column %zu)", ARGV_MAX_WORDS,
                        (size_t)(p - line) + 1);
        if (*p == '#')
            return fail(err, errlen,
                        "'%c' at column %zu would start a comment in a shell: quote it", *p,
                        (size_t)(p - line) + 1);
        if (o >= buflen)
            return -ENOSPC;
        words[n++] = buf + o;
        while (*p != '\0' && *p != ' ' && *p != '\t') {
            char c = *p;
            size_t col = (size_t)(p - line) + 1;
            if (c == '\'') {
                const char *close = strchr(p + 1, '\'');
                if (close == NULL)
                    return fail(err, errlen, "unbalanced %c quote opened at column %zu", c, col);
                for (p++; p < close; p++) {
                    if (o + 1 >= buflen)
                        return -ENOSPC;
                    buf[o++] = *p;
                }
                p++;
            } else if (c == '"') {
                for (p++;; p++) {
                    if (*p == '\0')
                        return fail(err, errlen, "unbalanced %c quote opened at column %zu", c,
                                    col);
                    if (*p == '"')
                        break;
                    if (*p == '\\' && p[1] != '\0' && strchr("\"\\$`", p[1]) != NULL)
                        p++;
                    if (o + 1 >= buflen)
                        return -ENOSPC;
                    buf[o++] = *p;
                }
                p++;
            } else if (c == '\\') {
                if (p[1] == '\0')
                    return fail(err, errlen, "a %c at column %zu ends the line", c, col);
                if (o + 1 >= buflen)
                    return -ENOSPC;
                buf[o++] = p[1];
                p += 2;
            } else if (shell_special(c)) {
                return fail(err, errlen,
                            "'%c' at column %zu has a meaning in a shell, and no shell runs "
                            "the command: quote it to pass it as is",
                            c, col);
            } else {
                if (o + 1 >= buflen)
                    return -ENOSPC;
                buf[o++] = c;
                p++;
            }
        }
        if (o >= buflen)
            return -ENOSPC;
        buf[o++] = '\0';
    }
    words[n] = NULL;
    return (int)n;
}

int argv_program(const char *line, char *out, size_t n)
{
    char buf[4096], *words[ARGV_MAX_WORDS + 1];
    int nw = argv_split(line, words, buf, sizeof buf, NULL, 0);
    if (nw < 0)
        return nw;
    if (nw == 0)
        return -ENOENT;
    if ((size_t)snprintf(out, n, "%s", words[0]) >= n)
        return -ENOSPC;
    return 0;
}
