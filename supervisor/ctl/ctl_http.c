/*
 * ctl_http.c — one HTTP/1.1 request over tenantd's admin unix socket, with
 * blocking I/O and a per-operation timeout. Deliberately small: the server is
 * ours and always sends Content-Length, and we ask it to close the connection
 * after the response, so reading to EOF is also correct.
 */
#include "ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* Cap on a response we are willing to hold: the largest answers (status of
 * thousands of tenants, events) stay far below it. */
#define CTL_MAX_RESPONSE (64u << 20)

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void ctl_response_free(struct ctl_response *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

/* Parse the status line and headers of buf[0..hlen); fills status and the
 * Content-Length (-1 when absent). Returns 0 or -EPROTO. */
static int parse_head(const char *buf, size_t hlen, int *status, long long *clen, bool *chunked)
{
    *clen = -1;
    *chunked = false;
    if (hlen < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
        return -EPROTO;
    const char *sp = memchr(buf, ' ', hlen);
    if (sp == NULL || sp + 4 > buf + hlen)
        return -EPROTO;
    *status = 0;
    for (int i = 1; i <= 3; i++) {
        if (sp[i] < '0' || sp[i] > '9')
            return -EPROTO;
        *status = *status * 10 + (sp[i] - '0');
    }
    const char *line = memchr(buf, '\n', hlen);
    while (line != NULL && line + 1 < buf + hlen) {
        line++;
        const char *eol = memchr(line, '\n', (size_t)(buf + hlen - line));
        if (eol == NULL)
            break;
        size_t ll = (size_t)(eol - line);
        if (ll > 15 && strncasecmp(line, "content-length:", 15) == 0) {
            char num[32];
            size_t k = 0;
            for (const char *p = line + 15; p < eol && k + 1 < sizeof num; p++)
                if (*p >= '0' && *p <= '9')
                    num[k++] = *p;
            num[k] = '\0';
            if (k == 0)
                return -EPROTO;
            *clen = strtoll(num, NULL, 10);
        } else if (ll > 18 && strncasecmp(line, "transfer-encoding:", 18) == 0) {
            *chunked = true;
        }
        line = eol;
    }
    return 0;
}

/* Decode a chunked body in place; returns the decoded length or -EPROTO. */
static long long dechunk(char *p, size_t n)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        if (in >= n)
            return -EPROTO;
        unsigned long long sz = strtoull(p + in, &end, 16);
        char *eol = memchr(p + in, '\n', n - in);
        if (eol == NULL || end == p + in)
            return -EPROTO;
        in = (size_t)(eol - p) + 1;
        if (sz == 0)
            return (long long)out;
        if (sz > n - in)
            return -EPROTO;
        memmove(p + out, p + in, sz);
        out += sz;
        in += sz;
        if (in < n && p[in] == '\r')
            in++;
        if (in < n && p[in] == '\n')
            in++;
    }
}

int ctl_http(const char *socket_path, const char *method, const char *path, const char *body,
             size_t body_len, int timeout_ms, struct ctl_response *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (strlen(socket_path) >= sizeof sun.sun_path) {
        snprintf(err, errlen, "%s: path too long for a unix socket", socket_path);
        return -ENAMETOOLONG;
    }
    strcpy(sun.sun_path, socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "socket: %s", strerror(e));
        return -e;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc = 0;
    char *buf = NULL;
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot reach tenantd at %s: %s", socket_path, strerror(errno));
        goto out;
    }
    char head[1024];
    int hn = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                      "User-Agent: tenantctl\r\nAccept: application/json\r\n"
                      "%sContent-Length: %zu\r\n\r\n",
                      method, path, body ? "Content-Type: application/json\r\n" : "",
                      body ? body_len : 0);
    if (hn < 0 || hn >= (int)sizeof head) {
        snprintf(err, errlen, "request path too long");
        rc = -E2BIG;
        goto out;
    }
    if ((rc = write_all(fd, head, (size_t)hn)) != 0 ||
        (body && (rc = write_all(fd, body, body_len)) != 0)) {
        snprintf(err, errlen, "sending to tenantd: %s", strerror(-rc));
        goto out;
    }
    size_t cap = 16384, len = 0;
    buf = malloc(cap + 1);
    if (buf == NULL) {
        rc = -ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    long long clen = -1;
    bool chunked = false, have_head = false;
    size_t hlen = 0;
    for (;;) {
        if (have_head && clen >= 0 && len >= hlen + (size_t)clen)
            break;
        if (len == cap) {
            if (cap >= CTL_MAX_RESPONSE) {
                rc = -EFBIG;
                snprintf(err, errlen, "response from tenantd too large");
                goto out;
            }
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (nb == NULL) {
                rc = -ENOMEM;
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            buf = nb;
        }
        ssize_t r = recv(fd, buf + len, cap - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT : -errno;
            snprintf(err, errlen, "reading from tenantd: %s", strerror(-rc));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (!have_head) {
            buf[len] = '\0';
            char *e = strstr(buf, "\r\n\r\n");
            if (e != NULL) {
                hlen = (size_t)(e - buf) + 4;
                have_head = true;
                if ((rc = parse_head(buf, hlen, &out->status, &clen, &chunked)) != 0) {
                    snprintf(err, errlen, "malformed response from tenantd");
                    goto out;
                }
            }
        }
    }
    if (!have_head) {
        rc = -EPROTO;
        snprintf(err, errlen, "tenantd closed the connection without a response");
        goto out;
    }
    size_t blen = len - hlen;
    if (clen >= 0 && (size_t)clen < blen)
        blen = (size_t)clen;
    if (clen >= 0 && blen < (size_t)clen) {
        rc = -EPROTO;
        snprintf(err, errlen, "truncated response from tenantd");
        goto out;
    }
    memmove(buf, buf + hlen, blen);
    if (chunked) {
        long long d = dechunk(buf, blen);
        if (d < 0) {
            rc = -EPROTO;
            snprintf(err, errlen, "malformed chunked response from tenantd");
            goto out;
        }
        blen = (size_t)d;
    }
    buf[blen] = '\0';
    out->body = buf;
    out->len = blen;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}
