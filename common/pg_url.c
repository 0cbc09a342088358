/*
 * pg_url.c — see pg_url.h. The parser accepts a deliberately small part of
 * libpq's URI syntax: what tenantd needs to derive every tenant's own URI
 * (host, port, socket folder), with nothing that could smuggle options or a
 * password into a world-readable tenantd.ini.
 */
#include "pg_url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static bool name_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

static bool host_char(int c)
{
    return name_char(c) || c == ':'; /* ':' only inside [v6] */
}

static bool path_ok(const char *s)
{
    if (s[0] != '/' || strstr(s, "..") != NULL)
        return false;
    for (const char *p = s; *p; p++)
        if (!name_char((unsigned char)*p) && *p != '/')
            return false;
    return true;
}

/* Copy [b, e) into dst (size n) when every byte passes ok(); else false. */
static bool take(char *dst, size_t n, const char *b, const char *e, bool (*ok)(int))
{
    size_t len = (size_t)(e - b);
    if (len >= n)
        return false;
    for (const char *p = b; p < e; p++)
        if (!ok((unsigned char)*p))
            return false;
    memcpy(dst, b, len);
    dst[len] = '\0';
    return true;
}

int pg_url_parse(const char *url, struct pg_server *out, char *err, size_t errlen)
{
    const char *p;
    memset(out, 0, sizeof *out);
    out->port = 5432;
    if (strncmp(url, "postgresql://", 13) == 0)
        p = url + 13;
    else if (strncmp(url, "postgres://", 11) == 0)
        p = url + 11;
    else {
        util_seterr(err, errlen, "must start with postgresql:// (a libpq URI)");
        return -EINVAL;
    }
    const char *end = p + strcspn(p, "/?");
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at != NULL) {
        if (memchr(p, ':', (size_t)(at - p)) != NULL) {
            util_seterr(err, errlen,
                        "holds a password: put it in password_file (mode 0600), never in "
                        "tenantd.ini");
            return -EINVAL;
        }
        if (!take(out->user, sizeof out->user, p, at, name_char) || out->user[0] == '\0') {
            util_seterr(err, errlen,
                        "the user name is empty, too long or has characters "
                        "outside [A-Za-z0-9_.-]");
            return -EINVAL;
        }
        p = at + 1;
    }
    /* host[:port], [v6][:port] or nothing (a socket folder then comes in ?host=). */
    const char *hb = p, *he = end, *colon = NULL;
    if (*hb == '[') {
        const char *rb = memchr(hb, ']', (size_t)(end - hb));
        if (rb == NULL) {
            util_seterr(err, errlen, "an IPv6 host lacks its closing ']'");
            return -EINVAL;
        }
        hb++;
        he = rb;
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
        if (rb + 1 < end && colon == NULL) {
            util_seterr(err, errlen, "unexpected text after the IPv6 host");
            return -EINVAL;
        }
    } else {
        colon = memchr(hb, ':', (size_t)(end - hb));
        if (colon)
            he = colon;
    }
    if (!take(out->host, sizeof out->host, hb, he, host_char)) {
        util_seterr(err, errlen,
                    "the host is too long or has characters outside "
                    "[A-Za-z0-9_.-]");
        return -EINVAL;
    }
    if (colon != NULL) {
        char *pe;
        long port = strtol(colon + 1, &pe, 10);
        if (pe != end || colon + 1 == end || port < 1 || port > 65535) {
            util_seterr(err, errlen, "the port is not a number 1..65535");
            return -EINVAL;
        }
        out->port = (int)port;
    }
    p = end;
    snprintf(out->dbname, sizeof out->dbname, "postgres");
    if (*p == '/') {
        const char *de = p + 1 + strcspn(p + 1, "?");
        if (de > p + 1 && !take(out->dbname, sizeof out->dbname, p + 1, de, name_char)) {
            util_seterr(err, errlen,
                        "the database name is too long or has characters outside "
                        "[A-Za-z0-9_.-]");
            return -EINVAL;
        }
        p = de;
    }
    if (*p == '?') {
        p++;
        while (*p) {
            const char *pe = p + strcspn(p, "&");
            if (strncmp(p, "host=", 5) != 0) {
                util_seterr(err, errlen,
                            "the parameter \"%.*s\" is not supported (only host=/socket/dir)",
                            (int)(pe - p > 40 ? 40 : pe - p), p);
                return -EINVAL;
            }
            if ((size_t)(pe - p - 5) >= sizeof out->sockdir) {
                util_seterr(err, errlen, "the socket folder is too long");
                return -EINVAL;
            }
            memcpy(out->sockdir, p + 5, (size_t)(pe - p - 5));
            out->sockdir[pe - p - 5] = '\0';
            if (!path_ok(out->sockdir)) {
                util_seterr(err, errlen,
                            "host= must be an absolute socket folder without \"..\" "
                            "([A-Za-z0-9_./-])");
                return -EINVAL;
            }
            p = *pe ? pe + 1 : pe;
        }
    }
    if (out->host[0] && out->sockdir[0]) {
        util_seterr(err, errlen, "names both a host and a socket folder (?host=): pick one");
        return -EINVAL;
    }
    if (!out->host[0] && !out->sockdir[0]) {
        util_seterr(err, errlen,
                    "names no server: give a host (postgresql://user@127.0.0.1:5432/"
                    "postgres) or a socket folder (?host=/run/postgresql)");
        return -EINVAL;
    }
    return 0;
}

int pg_tenant_name(const char *id, char *buf, size_t n)
{
    int k = snprintf(buf, n, "tenant_%s", id);
    for (char *c = buf; *c; c++)
        if (*c == '-')
            *c = '_';
    return k;
}

int pg_tenant_url(const struct pg_server *s, const char *id, char *buf, size_t n)
{
    char name[PG_NAME_MAX];
    pg_tenant_name(id, name, sizeof name);
    if (s->sockdir[0])
        return snprintf(buf, n, "postgresql://%s@/%s?host=%s&port=%d", name, name, s->sockdir,
                        s->port);
    if (strchr(s->host, ':'))
        return snprintf(buf, n, "postgresql://%s@[%s]:%d/%s", name, s->host, s->port, name);
    return snprintf(buf, n, "postgresql://%s@%s:%d/%s", name, s->host, s->port, name);
}

int pg_pgpass_line(const char *id, const char *password, char *buf, size_t n)
{
    char name[PG_NAME_MAX];
    pg_tenant_name(id, name, sizeof name);
    return snprintf(buf, n, "*:*:%s:%s:%s\n", name, name, password);
}

bool pg_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= PG_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

int pg_provision_script(const char *id, const char *password, char *buf, size_t n)
{
    char nm[PG_NAME_MAX];
    pg_tenant_name(id, nm, sizeof nm);
    return snprintf(buf, n,
                    "CREATE ROLE \"%s\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                    "CONNECTION LIMIT 64 PASSWORD '%s';\n"
                    "\\echo step:role\n"
                    /* A non-superuser admin role must be a member to create a
                     * database owned by the tenant's role, and to dump it later. */
                    "GRANT \"%s\" TO CURRENT_USER;\n"
                    "CREATE DATABASE \"%s\" OWNER \"%s\" TEMPLATE template0 ENCODING 'UTF8';\n"
                    "\\echo step:db\n"
                    "REVOKE ALL ON DATABASE \"%s\" FROM PUBLIC;\n"
                    "\\echo step:done\n",
                    nm, password, nm, nm, nm, nm);
}
