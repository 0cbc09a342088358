/*
 * rulefile.h — the format of the worker's editable rule files
 * (templates/worker/rules/NAME.rules): analysis rule models, deadline rules,
 * public holidays.
 *
 *     # a comment line (also ';')
 *     key = value                 top-level keys, before any section
 *     [section-name]              [a-z0-9_.-], at most 63 characters
 *     key = value                 [a-z_], value trimmed, UTF-8, may be empty
 *
 * Lines end with LF or CRLF and are at most RULEFILE_LINE_MAX bytes; a longer
 * line, a NUL byte, a line that is neither comment, section nor key = value,
 * is an error with its line number — nothing is silently cut, unlike inih.
 * What this module does not do: know which keys exist; the callback does.
 */
#ifndef TENANT_WORKER_RULEFILE_H
#define TENANT_WORKER_RULEFILE_H

#include <stddef.h>

#define RULEFILE_LINE_MAX 1024

/*
 * Called for each section start (key == NULL, value == NULL) and each key.
 * section is "" before the first section. Return 0 to go on, or a negative
 * errno after writing a sentence (without the line number) into err.
 */
typedef int (*rulefile_fn)(void *ud, const char *section, const char *key, const char *value,
                           char *err, size_t errlen);

/*
 * Parse text (len bytes, need not be NUL-terminated). Returns 0, the
 * callback's error, or -EINVAL; err then reads "line N: <sentence>".
 */
int rulefile_parse(const char *text, size_t len, rulefile_fn fn, void *ud, char *err,
                   size_t errlen);

#endif
