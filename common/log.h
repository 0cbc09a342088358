/*
 * log.h — tenantd's own log: one line per event on stderr,
 *     2026-11-21T05:40:00.123Z info  [dupont] worker ready pid=1234 latency_ms=4
 * with fixed level words (debug info notice warn error crit alert). Messages are
 * single lines: control characters in the formatted text are escaped as \xNN,
 * so a tenant's free-text name can never forge a log line.
 */
#ifndef TENANTD_LOG_H
#define TENANTD_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_NOTICE, LOG_WARN, LOG_ERROR, LOG_CRIT, LOG_ALERT };

void log_set_level(enum log_level min);
void log_set_prefix(const char *program); /* e.g. "tenant-jail"; default none */
/* `tenant` may be NULL for daemon-wide events. */
void log_msg(enum log_level lvl, const char *tenant, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(t, ...) log_msg(LOG_DEBUG, (t), __VA_ARGS__)
#define log_info(t, ...) log_msg(LOG_INFO, (t), __VA_ARGS__)
#define log_notice(t, ...) log_msg(LOG_NOTICE, (t), __VA_ARGS__)
#define log_warn(t, ...) log_msg(LOG_WARN, (t), __VA_ARGS__)
#define log_error(t, ...) log_msg(LOG_ERROR, (t), __VA_ARGS__)
#define log_crit(t, ...) log_msg(LOG_CRIT, (t), __VA_ARGS__)

#endif
