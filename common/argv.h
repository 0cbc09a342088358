/*
 * argv.h — a command line split into words the way a shell would quote them,
 * without a shell: `[worker] command = /usr/bin/gunicorn --workers 2 'app:make()'`.
 *
 * Words are separated by spaces and tabs. 'single quotes' keep everything
 * inside as is; "double quotes" keep everything but \" \\ \$ and \`, which
 * lose their backslash; outside quotes a backslash keeps the next character.
 * Nothing is expanded: no variables, globs, ~, redirections or pipes. So that
 * a line written for a shell is not silently run differently, an unquoted
 * | & ; < > ( ) $ ` * ? [ ] { } ~ or # at the start of a word is refused with a message
 * saying to quote it. Pure: no I/O, no allocation.
 */
#ifndef TENANTD_ARGV_H
#define TENANTD_ARGV_H

#include <stddef.h>

#define ARGV_MAX_WORDS 64

/*
 * Split `line` into at most ARGV_MAX_WORDS words. The words are written one
 * after the other, NUL-terminated, into buf (buflen bytes; strlen(line) + 1
 * is always enough) and words[i] points into it; words[n] is NULL, so `words`
 * needs ARGV_MAX_WORDS + 1 slots. Returns the number of words (0 for a blank
 * line), or -EINVAL with a one-line reason in err (e.g. "unbalanced ' quote
 * opened at column 12"), or -ENOSPC when buf is too small.
 */
int argv_split(const char *line, char **words, char *buf, size_t buflen, char *err, size_t errlen);

/* The first word of `line` (the program) into out; 0, or -EINVAL/-ENOSPC/-ENOENT
 * (a blank line). */
int argv_program(const char *line, char *out, size_t n);

#endif
