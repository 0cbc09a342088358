/*
 * ctl_format.c — how tenantctl shows things: durations, sizes, the status
 * table, event lines. Pure: it writes only to the FILE it is given, so the
 * unit tests render into memory (fmemopen/open_memstream).
 */
#include "ctl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void ctl_format_duration(int64_t s, char *buf, size_t n)
{
    if (s <= 0)
        snprintf(buf, n, "-");
    else if (s < 60)
        snprintf(buf, n, "%" PRId64 "s", s);
    else if (s < 3600)
        snprintf(buf, n, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, n, "%" PRId64 "h%02" PRId64 "m", s / 3600, (s % 3600) / 60);
    else
        snprintf(buf, n, "%" PRId64 "d%02" PRId64 "h", s / 86400, (s % 86400) / 3600);
}

void ctl_format_bytes(uint64_t b, char *buf, size_t n)
{
    static const char units[] = "KMGT";
    if (b < 1024) {
        snprintf(buf, n, "%" PRIu64, b);
        return;
    }
    double v = (double)b;
    size_t u = 0;
    v /= 1024;
    while (v >= 1024 && u + 1 < sizeof units - 1) {
        v /= 1024;
        u++;
    }
    if (v < 10 && v != (double)(uint64_t)v)
        snprintf(buf, n, "%.1f%c", v, units[u]);
    else
        snprintf(buf, n, "%.0f%c", v, units[u]);
}

void ctl_sanitize(const char *in, char *out, size_t n)
{
    size_t o = 0;
    if (n == 0)
        return;
    for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            if (o + 5 >= n)
                break;
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", *p);
        } else {
            if (o + 1 >= n)
                break;
            out[o++] = (char)*p;
        }
    }
    out[o] = '\0';
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

#define NCOLS 9
#define CELL 96

static void row_cells(const json_t *t, char cells[NCOLS][CELL])
{
    char tmp[CELL];
    ctl_sanitize(str(t, "id"), cells[0], CELL);
    ctl_sanitize(str(t, "state"), cells[1], CELL);
    json_t *pid = json_object_get(t, "pid");
    if (json_is_integer(pid))
        snprintf(cells[2], CELL, "%" JSON_INTEGER_FORMAT, json_integer_value(pid));
    else
        snprintf(cells[2], CELL, "-");
    json_t *port = json_object_get(t, "port");
    if (json_is_integer(port) && json_integer_value(port) > 0)
        snprintf(cells[3], CELL, "%" JSON_INTEGER_FORMAT, json_integer_value(port));
    else
        snprintf(cells[3], CELL, "-");
    ctl_sanitize(str(t, "plan"), cells[4], CELL);
    if (cells[4][0] == '\0')
        snprintf(cells[4], CELL, "-");
    ctl_format_duration((int64_t)json_integer_value(json_object_get(t, "uptime_s")), cells[5],
                        CELL);
    snprintf(cells[6], CELL, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(t, "restarts")));
    /* Wake-ups of an idle tenant (scale to zero) by a waiting connection. */
    snprintf(cells[7], CELL, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(t, "wakeups")));
    ctl_sanitize(str(t, "last_exit"), tmp, sizeof tmp);
    snprintf(cells[8], CELL, "%s", tmp[0] ? tmp : "-");
}

void ctl_print_status_table(FILE *f, const json_t *tenants)
{
    static const char *const head[NCOLS] = {"ID",     "STATE",    "PID",     "PORT",     "PLAN",
                                            "UPTIME", "RESTARTS", "WAKEUPS", "LAST-EXIT"};
    /* Numbers read best right-aligned. */
    static const bool right[NCOLS] = {false, false, true, true, false, true, true, true, false};
    size_t n = json_array_size(tenants);
    size_t w[NCOLS];
    for (int c = 0; c < NCOLS; c++)
        w[c] = strlen(head[c]);
    char cells[NCOLS][CELL];
    for (size_t i = 0; i < n; i++) {
        row_cells(json_array_get(tenants, i), cells);
        for (int c = 0; c < NCOLS; c++)
            if (strlen(cells[c]) > w[c])
                w[c] = strlen(cells[c]);
    }
    for (int c = 0; c < NCOLS; c++) {
        if (c == NCOLS - 1)
            fprintf(f, "%s\n", head[c]);
        else
            fprintf(f, right[c] ? "%*s  " : "%-*s  ", (int)w[c], head[c]);
    }
    for (size_t i = 0; i < n; i++) {
        row_cells(json_array_get(tenants, i), cells);
        for (int c = 0; c < NCOLS; c++) {
            if (c == NCOLS - 1)
                fprintf(f, "%s\n", cells[c]);
            else
                fprintf(f, right[c] ? "%*s  " : "%-*s  ", (int)w[c], cells[c]);
        }
    }
    /* Problems and the workers' own status lines go below the table, in full:
     * they do not fit a column. */
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_array_get(tenants, i);
        /* worker_status: the worker's own STATUS= (sd_notify). */
        const char *fields[] = {"config_error", "state_reason", "notify_error", "worker_status"};
        const char *labels[] = {"config error", "reason", "notify error", "worker status"};
        for (int k = 0; k < 4; k++) {
            const char *v = str(t, fields[k]);
            if (!v[0])
                continue;
            if (first) {
                fputc('\n', f);
                first = false;
            }
            char id[CELL];
            ctl_sanitize(str(t, "id"), id, sizeof id);
            /* A joined diagnostic has one problem per line; keep them apart
             * but sanitise each. */
            char *copy = strdup(v);
            if (copy == NULL)
                continue;
            char *save = NULL;
            for (char *line = strtok_r(copy, "\n", &save); line;
                 line = strtok_r(NULL, "\n", &save)) {
                char clean[1200];
                ctl_sanitize(line, clean, sizeof clean);
                fprintf(f, "%s: %s: %s\n", id, labels[k], clean);
            }
            free(copy);
        }
    }
}

/* GET /v1/proxy's "ok" is false: its last apply failed. */
static bool proxy_failed(const json_t *proxy)
{
    return json_is_object(proxy) && json_is_false(json_object_get(proxy, "ok"));
}

void ctl_print_proxy_line(FILE *f, const json_t *proxy)
{
    char msg[2400];
    if (!proxy_failed(proxy))
        return;
    ctl_sanitize(str(proxy, "last_error"), msg, sizeof msg);
    fprintf(f, "\nproxy: ERROR: %s\n", msg[0] ? msg : "the last configuration was not applied");
}

void ctl_print_proxy_status(FILE *f, const json_t *proxy)
{
    char mode[32], msg[2400];
    ctl_sanitize(str(proxy, "mode"), mode, sizeof mode);
    ctl_sanitize(str(proxy, "last_error"), msg, sizeof msg);
    fprintf(f, "mode:         %s\n", mode);
    if (proxy_failed(proxy))
        fprintf(f, "config:       ERROR: %s\n", msg);
    else
        fprintf(f, "config:       ok\n");
    json_t *pid = json_object_get(proxy, "nginx_pid");
    if (json_is_integer(pid))
        fprintf(f, "nginx:        pid %" JSON_INTEGER_FORMAT "\n", json_integer_value(pid));
    else if (strcmp(mode, "managed") == 0)
        fprintf(f, "nginx:        not running\n");
    json_int_t gen = json_integer_value(json_object_get(proxy, "generation"));
    if (gen > 0)
        fprintf(f, "generation:   conf.%" JSON_INTEGER_FORMAT "\n", gen);
    else
        fprintf(f, "generation:   -\n");
    fprintf(f, "reloads:      %" JSON_INTEGER_FORMAT "\n",
            json_integer_value(json_object_get(proxy, "reloads")));
    fprintf(f, "failures:     %" JSON_INTEGER_FORMAT "\n",
            json_integer_value(json_object_get(proxy, "failures")));
    fprintf(f, "nginx starts: %" JSON_INTEGER_FORMAT "\n",
            json_integer_value(json_object_get(proxy, "nginx_starts")));
}

void ctl_print_events(FILE *f, const json_t *events)
{
    size_t n = json_array_size(events);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(events, i);
        char t[64], who[64], action[64], tenant[64], result[512];
        ctl_sanitize(str(e, "time"), t, sizeof t);
        ctl_sanitize(str(e, "who"), who, sizeof who);
        ctl_sanitize(str(e, "action"), action, sizeof action);
        ctl_sanitize(str(e, "tenant"), tenant, sizeof tenant);
        ctl_sanitize(str(e, "result"), result, sizeof result);
        fprintf(f, "%s  %-10s  %-10s  %-16s  %s\n", t, who, action, tenant[0] ? tenant : "-",
                result);
    }
}
