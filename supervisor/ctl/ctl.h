/*
 * ctl.h — tenantctl, the operator's CLI (DESIGN.md "Admin surface"): a small
 * HTTP/1.1 client of tenantd's admin API over its unix socket, and the pure
 * formatting of what it prints.
 *
 *   ctl_main.c    argument parsing, the commands, exit codes
 *   ctl_http.c    one request per connection over AF_UNIX (blocking I/O)
 *   ctl_format.c  tables, durations, sanitising text for a terminal (pure)
 *   ctl_logs.c    `logs <id> [-n N] [-f]`, straight from the log file
 *
 * Exit codes are part of the interface: scripts rely on them.
 */
#ifndef TENANTD_CTL_H
#define TENANTD_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum ctl_exit {
    CTL_EXIT_OK = 0,
    CTL_EXIT_ERROR = 1,       /* the request failed; the message is on stderr */
    CTL_EXIT_USAGE = 2,       /* bad command line */
    CTL_EXIT_UNREACHABLE = 3, /* cannot reach tenantd */
    CTL_EXIT_NOT_FOUND = 4,   /* no such tenant */
};

/* ---- ctl_http.c ------------------------------------------------------------ */

struct ctl_response {
    int status; /* HTTP status */
    char *body; /* NUL-terminated, owned; free with ctl_response_free */
    size_t len;
};

/*
 * Send one request to the admin socket and read the whole response.
 * `body` may be NULL. `timeout_ms` bounds each read and write.
 * Returns 0; -ECONNREFUSED/-ENOENT/-EACCES... when the socket cannot be
 * reached (exit 3); -EPROTO for a malformed response; -ETIMEDOUT. err gets a
 * message in every failure case.
 */
int ctl_http(const char *socket_path, const char *method, const char *path, const char *body,
             size_t body_len, int timeout_ms, struct ctl_response *out, char *err, size_t errlen);
void ctl_response_free(struct ctl_response *r);

/* ---- ctl_logs.c -------------------------------------------------------------- */

/* Print the last `lines` lines of the log file at path; with `follow`, keep
 * printing what is appended, across rotations (the file renamed and a new
 * one created) and truncations, until SIGINT/SIGTERM/SIGHUP or a write error
 * on stdout. Control characters other than tab are escaped when stdout is a
 * terminal. Returns an exit code. */
int ctl_logs(const char *path, const char *id, long lines, bool follow);

/* ---- ctl_format.c (pure) ---------------------------------------------------- */

/* "-" for 0 or less, else "12s", "4m05s", "2h05m", "3d04h". */
void ctl_format_duration(int64_t seconds, char *buf, size_t n);
/* Bytes as "0", "512K", "12.5M", "1.2G". */
void ctl_format_bytes(uint64_t bytes, char *buf, size_t n);
/* Copy text for a terminal: control characters (ESC included) become \xNN,
 * so a hostile value in a config error cannot drive the operator's terminal. */
void ctl_sanitize(const char *in, char *out, size_t n);
/* Render the status table (ID STATE PID PORT PLAN UPTIME RESTARTS WAKEUPS LAST-EXIT)
 * of a JSON array of tenants, then one line per tenant with a config error or
 * a state reason. Writes to f. */
void ctl_print_status_table(FILE *f, const json_t *tenants);
/* Render recent events (GET /v1/events) as lines. */
void ctl_print_events(FILE *f, const json_t *events);
/* Below the status table: "\nproxy: ERROR: <last_error>\n" when the proxy's
 * last apply failed (GET /v1/proxy's "ok" is false), nothing when it is fine
 * or when `proxy` is not such an object. */
void ctl_print_proxy_line(FILE *f, const json_t *proxy);
/* `proxy-status`: GET /v1/proxy as "key: value" lines (mode, config, nginx,
 * generation, reloads, failures, nginx starts). */
void ctl_print_proxy_status(FILE *f, const json_t *proxy);

#endif
