/*
 * log.c — see log.h. Writes each line with one write(2) so lines from one
 * process never interleave mid-line.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static const char *prefix;

static const char *const level_words[] = {"debug", "info", "notice", "warn",
                                          "error", "crit", "alert"};

void log_set_level(enum log_level min)
{
    min_level = min;
}

void log_set_prefix(const char *program)
{
    prefix = program;
}

/* Copy src into dst escaping control bytes; always NUL-terminates. */
static size_t escape_into(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p && o + 5 < cap; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", *p);
        } else {
            dst[o++] = (char)*p;
        }
    }
    dst[o] = '\0';
    return o;
}

void log_msg(enum log_level lvl, const char *tenant, const char *fmt, ...)
{
    if (lvl < min_level)
        return;
    char msg[2048], line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-6s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), level_words[lvl]);
    if (prefix)
        n += snprintf(line + n, sizeof line - (size_t)n, "%s: ", prefix);
    if (tenant)
        n += snprintf(line + n, sizeof line - (size_t)n, "[%s] ", tenant);
    n += (int)escape_into(line + n, sizeof line - (size_t)n - 1, msg);
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
