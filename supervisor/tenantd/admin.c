/*
 * admin.c — the admin surface's lifecycle (see admin.h): the bearer token
 * file, the two listeners, peer checks on the unix socket, and the graceful
 * stop. Routing and handlers live in admin_routes.c.
 *
 * Authentication: on the unix socket the file mode (0600, in a run_dir that
 * others cannot write) is the authentication, and SO_PEERCRED refuses any uid
 * other than tenantd's own and root as a second line. On TCP every request,
 * whatever its route, must carry `Authorization: Bearer <token>`.
 *
 * Stopping h2o 2.2.5 safely (STACK-NOTES "shutdown trap"): disposing the
 * context while a connection is open, or right after request_shutdown, aborts.
 * So admin_stop closes the listeners, turns keep-alive off, half-closes every connection for
 * reading so idle keep-alive connections see EOF and close themselves, lets in-flight responses
 * finish, and disposes the context only when the last connection's handle is closed. The context's
 * memory is freed one loop turn later, after the close callbacks of the timers h2o_context_dispose
 * closed have run.
 */
#include "admin_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "http_status.h"
#include "log.h"
#include "status_json.h"
#include "sup.h"
#include "upgrade.h"

#define TOKEN_BYTES 32
#define TOKEN_TEXT_MAX 256

/* ---- token ------------------------------------------------------------------ */

/* A token file we accept: printable, no spaces, at least 32 characters. */
static bool token_text_valid(const char *t, size_t n)
{
    if (n < 32 || n > TOKEN_TEXT_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (t[i] <= 0x20 || t[i] >= 0x7f)
            return false;
    return true;
}

/* Read an existing token file. Returns 0, -ENOENT when there is none, or
 * another -errno with a message. */
static int token_read(const char *path, char *out, size_t *outlen, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e != ENOENT)
            snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        rc = -EINVAL;
        goto out;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen, "%s: owned by uid %u, not by tenantd's uid %u", path,
                 (unsigned)st.st_uid, (unsigned)geteuid());
        rc = -EPERM;
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        /* Someone loosened it by hand; tighten it again and say so, since the
         * token may have been read meanwhile. */
        log_warn(NULL, "admin: %s was mode %04o; set to 0600 (consider a new token)", path,
                 (unsigned)(st.st_mode & 07777));
        if (fchmod(fd, 0600) != 0) {
            rc = -errno;
            snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
            goto out;
        }
    }
    char buf[TOKEN_TEXT_MAX + 2];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    if (!token_text_valid(buf, (size_t)n)) {
        snprintf(err, errlen,
                 "%s: not a valid token (32 to 256 printable characters); remove it to have "
                 "a new one generated",
                 path);
        rc = -EINVAL;
        goto out;
    }
    memcpy(out, buf, (size_t)n);
    *outlen = (size_t)n;
out:
    close(fd);
    return rc;
}

/* Create a new token file without ever replacing one: the token is written to
 * a temporary name and linked into place, which fails if another appeared. */
static int token_create(const char *path, char *out, size_t *outlen, char *err, size_t errlen)
{
    unsigned char raw[TOKEN_BYTES];
    randombytes_buf(raw, sizeof raw);
    char hex[TOKEN_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);

    char tmp[CONFIG_PATH_MAX + 64];
    if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -ENAMETOOLONG;
    }
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", tmp, strerror(e));
        return -e;
    }
    char line[sizeof hex + 1];
    int n = snprintf(line, sizeof line, "%s\n", hex);
    int rc = 0;
    if (fchmod(fd, 0600) != 0 || write(fd, line, (size_t)n) != n || fsync(fd) != 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
    }
    close(fd);
    if (rc == 0 && link(tmp, path) != 0) {
        rc = -errno;
        if (rc != -EEXIST)
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
    }
    unlink(tmp);
    sodium_memzero(line, sizeof line);
    if (rc != 0)
        return rc;
    memcpy(out, hex, TOKEN_BYTES * 2);
    *outlen = TOKEN_BYTES * 2;
    sodium_memzero(hex, sizeof hex);
    log_notice(NULL, "admin: created a new token in %s", path);
    return 0;
}

/* Make sure run_dir exists and that nobody else can write into it: whoever
 * can would be able to replace admin.sock or admin.token. */
static int run_dir_check(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) == 0)
        return 0;
    if (errno != EEXIST) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", dir, strerror(e));
        return -e;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: not a directory", dir);
        return -ENOTDIR;
    }
    if ((st.st_mode & 022) != 0 && !(st.st_mode & S_ISVTX)) {
        snprintf(err, errlen, "%s: writable by group or others (mode %04o); it must not be", dir,
                 (unsigned)(st.st_mode & 07777));
        return -EPERM;
    }
    return 0;
}

static int token_load(struct admin *a, const char *run_dir, char *err, size_t errlen)
{
    char path[CONFIG_PATH_MAX + 16];
    if (snprintf(path, sizeof path, "%s/admin.token", run_dir) >= (int)sizeof path) {
        snprintf(err, errlen, "%s: path too long", run_dir);
        return -ENAMETOOLONG;
    }
    char tok[TOKEN_TEXT_MAX + 2];
    size_t len = 0;
    int rc = token_read(path, tok, &len, err, errlen);
    if (rc == -ENOENT) {
        rc = token_create(path, tok, &len, err, errlen);
        /* Lost a race with another creator: use theirs. */
        if (rc == -EEXIST)
            rc = token_read(path, tok, &len, err, errlen);
    }
    if (rc != 0)
        return rc;
    randombytes_buf(a->token_key, sizeof a->token_key);
    crypto_generichash(a->token_digest, sizeof a->token_digest, (const unsigned char *)tok, len,
                       a->token_key, sizeof a->token_key);
    sodium_memzero(tok, sizeof tok);
    return 0;
}

bool admin_token_ok(const struct admin *a, h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i == -1)
        return false;
    h2o_iovec_t v = req->headers.entries[i].value;
    static const char scheme[] = "bearer ";
    if (v.len < sizeof scheme - 1 ||
        !h2o_lcstris(v.base, sizeof scheme - 1, scheme, sizeof scheme - 1))
        return false;
    const char *t = v.base + sizeof scheme - 1;
    size_t n = v.len - (sizeof scheme - 1);
    while (n > 0 && *t == ' ') {
        t++;
        n--;
    }
    /* Hash whatever was presented, so the comparison below is always between
     * two buffers of the same length and its time says nothing about where the
     * first difference is, nor whether the lengths differ. */
    unsigned char d[crypto_generichash_BYTES];
    crypto_generichash(d, sizeof d, (const unsigned char *)t, n, a->token_key, sizeof a->token_key);
    return sodium_memcmp(d, a->token_digest, sizeof d) == 0;
}

/* ---- responses ------------------------------------------------------------- */

void admin_send(h2o_req_t *req, int status, const char *content_type, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = http_reason(status);
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-store"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0,
                          NULL, H2O_STRLIT("nosniff"));
    h2o_send_inline(req, body, len);
}

void admin_send_json(h2o_req_t *req, int status, json_t *j)
{
    size_t len = 0;
    char *s = j ? status_json_dump(j, &len) : NULL;
    json_decref(j);
    if (s == NULL) {
        static const char oom[] = "{\"error\":\"internal\",\"detail\":\"out of memory\"}\n";
        admin_send(req, 500, "application/json", oom, sizeof oom - 1);
        return;
    }
    admin_send(req, status, "application/json", s, len);
    free(s);
}

void admin_send_error(h2o_req_t *req, int status, const char *error, const char *detail)
{
    admin_send_json(req, status, status_json_error(error, detail));
}

/* ---- connections ------------------------------------------------------------- */

static void conn_unlink(struct admin_conn *c)
{
    struct admin *a = c->a;
    if (c->prev)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    a->n_conns--;
}

/* Called by h2o (through libuv) once a connection's handle is closed. */
static void on_conn_closed(uv_handle_t *h)
{
    struct admin_conn *c = (struct admin_conn *)h;
    struct admin *a = c->a;
    conn_unlink(c);
    free(c);
    admin_maybe_finish(a);
}

/* Closed before h2o took it over (refused peer, accept error). */
static void on_raw_conn_closed(uv_handle_t *h)
{
    struct admin_conn *c = (struct admin_conn *)h;
    struct admin *a = c->a;
    free(c);
    a->closing--;
    admin_maybe_finish(a);
}

static void handle_request_who(const struct admin *a, h2o_req_t *req, struct admin_caller *who,
                               bool over_unix)
{
    who->over_unix = over_unix;
    if (!over_unix) {
        snprintf(who->who, sizeof who->who, "token");
        return;
    }
    snprintf(who->who, sizeof who->who, "uid:?");
    for (const struct admin_conn *c = a->conns; c; c = c->next) {
        if (c->h2o == req->conn) {
            snprintf(who->who, sizeof who->who, "uid:%u", (unsigned)c->uid);
            break;
        }
    }
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct admin_handler *h = (struct admin_handler *)self;
    struct admin *a = h->a;
    struct admin_caller who;
    handle_request_who(a, req, &who, !h->needs_token);
    /* The dashboard page holds no data (its script asks for the token and
     * sends it with every API call), so it is the one thing served without. */
    bool is_page = admin_route_public(req);
    if (h->needs_token && !is_page && !admin_token_ok(a, req)) {
        bool presented = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1) != -1;
        const char *hdr = presented ? "Bearer realm=\"tenantd\", error=\"invalid_token\""
                                    : "Bearer realm=\"tenantd\"";
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, hdr,
                       strlen(hdr));
        admin_send_error(req, 401, "unauthorized",
                         presented ? "the bearer token is not valid"
                                   : "this listener needs Authorization: Bearer <token> (the "
                                     "token is in run_dir/admin.token)");
        return 0;
    }
    if (a->stopping) {
        admin_send_error(req, 503, "shutting down", "tenantd is stopping");
        return 0;
    }
    return admin_route(a, &who, req);
}

static void on_accept(uv_stream_t *listener, int status)
{
    struct admin *a = listener->data;
    if (status != 0) {
        log_warn(NULL, "admin: accept: %s", uv_strerror(status));
        return;
    }
    bool over_unix = listener->type == UV_NAMED_PIPE;
    struct admin_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        log_error(NULL, "admin: out of memory accepting a connection");
        return;
    }
    c->a = a;
    c->over_unix = over_unix;
    int rc = over_unix ? uv_pipe_init(a->loop, &c->h.pipe, 0) : uv_tcp_init(a->loop, &c->h.tcp);
    if (rc != 0) {
        free(c);
        log_error(NULL, "admin: %s", uv_strerror(rc));
        return;
    }
    rc = uv_accept(listener, &c->h.stream);
    if (rc == 0 && over_unix) {
        /* The socket's mode already keeps others out; this is the second
         * line, in case the file was made reachable by mistake. */
        uv_os_fd_t fd;
        struct ucred cred;
        socklen_t clen = sizeof cred;
        if (uv_fileno(&c->h.handle, &fd) != 0 ||
            getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0) {
            rc = UV_EPERM;
        } else if (cred.uid != 0 && cred.uid != geteuid()) {
            log_warn(NULL, "admin: refused a connection from uid %u pid %ld on the socket",
                     (unsigned)cred.uid, (long)cred.pid);
            rc = UV_EPERM;
        } else {
            c->uid = cred.uid;
        }
    }
    if (rc != 0 || a->stopping) {
        a->closing++;
        uv_close(&c->h.handle, on_raw_conn_closed);
        return;
    }
    if (c->over_unix == false)
        uv_tcp_nodelay(&c->h.tcp, 1);
    c->next = a->conns;
    if (a->conns)
        a->conns->prev = c;
    a->conns = c;
    a->n_conns++;
    h2o_socket_t *sock = h2o_uv_socket_create(&c->h.stream, on_conn_closed);
    h2o_accept(over_unix ? &a->accept_unix : &a->accept_tcp, sock);
    /* h2o_accept set up its HTTP/1 connection synchronously and stored it in
     * sock->data; remember it so a request can be traced back to its peer. */
    c->h2o = sock->data;
}

/* ---- listeners --------------------------------------------------------------- */

/* After an upgrade of tenantd (upgrade.h): the listener the previous image
 * handed over, if any, listening on at once; 1 when taken, else 0 or <0. */
static int adopt_listener(struct admin *a, const char *key, uv_stream_t *h)
{
    int fd = upgrade_take_fd(json_object_get(upgrade_state(), "admin"), key);
    if (fd < 0)
        return 0;
    int rc = h->type == UV_NAMED_PIPE ? uv_pipe_open((uv_pipe_t *)h, fd)
                                      : uv_tcp_open((uv_tcp_t *)h, fd);
    if (rc == 0)
        rc = uv_listen(h, 64, on_accept);
    return rc < 0 ? rc : 1;
}

static int listen_unix(struct admin *a, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sun;
    if (strlen(path) >= sizeof sun.sun_path) {
        snprintf(err, errlen, "[admin] socket: %s: longer than %zu bytes", path,
                 sizeof sun.sun_path - 1);
        return -ENAMETOOLONG;
    }
    if (upgrade_adopting()) {
        int rc = uv_pipe_init(a->loop, &a->unix_listener, 0);
        a->unix_listener.data = a;
        a->unix_open = rc == 0;
        rc = rc == 0 ? adopt_listener(a, "unix", (uv_stream_t *)&a->unix_listener) : rc;
        if (rc == 1) {
            snprintf(a->socket_path, sizeof a->socket_path, "%s", path);
            return 0;
        }
        if (a->unix_open) {
            /* Not handed over: bind afresh on a new handle. */
            snprintf(err, errlen, "[admin] socket: %s: not handed over by the previous image",
                     path);
            return rc < 0 ? rc : -EBADF;
        }
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s: exists and is not a socket; not removing it", path);
            return -EEXIST;
        }
        /* A socket file: stale if nobody answers on it. */
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            int e = errno;
            snprintf(err, errlen, "socket: %s", strerror(e));
            return -e;
        }
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, path, strlen(path) + 1);
        int crc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
        int e = errno;
        close(fd);
        if (crc == 0) {
            snprintf(err, errlen, "%s: another tenantd is answering on it", path);
            return -EADDRINUSE;
        }
        if (e != ECONNREFUSED && e != ENOENT) {
            snprintf(err, errlen, "%s: %s", path, strerror(e));
            return -e;
        }
        if (unlink(path) != 0 && errno != ENOENT) {
            e = errno;
            snprintf(err, errlen, "%s: cannot remove the stale socket: %s", path, strerror(e));
            return -e;
        }
    }

    int rc = uv_pipe_init(a->loop, &a->unix_listener, 0);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", path, uv_strerror(rc));
        return rc;
    }
    a->unix_listener.data = a;
    a->unix_open = true;
    /* The socket is created with the umask applied; narrow it for the bind so
     * there is no moment when the file is more open than 0600. */
    mode_t old = umask(0177);
    rc = uv_pipe_bind(&a->unix_listener, path);
    umask(old);
    if (rc == 0) {
        /* From here on the file is ours and is removed when we stop. */
        snprintf(a->socket_path, sizeof a->socket_path, "%s", path);
        if (chmod(path, 0600) != 0)
            rc = -errno;
    }
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&a->unix_listener, 64, on_accept);
    if (rc != 0) {
        snprintf(err, errlen, "[admin] socket: %s: %s", path, uv_strerror(rc));
        return rc;
    }
    return 0;
}

static bool addr_is_loopback(const struct sockaddr_storage *ss)
{
    /* Copies rather than casts: sockaddr_storage is aligned, but the
     * compiler cannot see it through a struct sockaddr pointer. */
    if (ss->ss_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, ss, sizeof in);
        return (ntohl(in.sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, ss, sizeof in6);
        return IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr);
    }
    return false;
}

static int listen_tcp(struct admin *a, const struct config_global *g, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    const char *host = g->admin_host;
    if (strcmp(host, "localhost") == 0 || host[0] == '\0')
        host = "127.0.0.1";
    if (uv_ip4_addr(host, g->admin_port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, g->admin_port, (struct sockaddr_in6 *)&ss) != 0) {
        snprintf(err, errlen, "[admin] listen: \"%s\" is not an IP address", g->admin_host);
        return -EINVAL;
    }
    if (!addr_is_loopback(&ss) && !g->admin_allow_remote) {
        snprintf(err, errlen,
                 "[admin] listen: %s is not a loopback address; set allow_remote = true to "
                 "expose the admin API (bearer token only, no TLS)",
                 g->admin_host);
        return -EPERM;
    }
    int rc = uv_tcp_init(a->loop, &a->tcp_listener);
    if (rc != 0) {
        snprintf(err, errlen, "[admin] listen: %s", uv_strerror(rc));
        return rc;
    }
    a->tcp_listener.data = a;
    a->tcp_open = true;
    rc = upgrade_adopting() ? adopt_listener(a, "tcp", (uv_stream_t *)&a->tcp_listener) : 0;
    if (rc != 0) {
        if (rc < 0)
            snprintf(err, errlen, "[admin] listen: handed over: %s", uv_strerror(rc));
        return rc < 0 ? rc : 0;
    }
    rc = uv_tcp_bind(&a->tcp_listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&a->tcp_listener, 64, on_accept);
    if (rc != 0) {
        snprintf(err, errlen, "[admin] listen: %s:%d: %s", g->admin_host, g->admin_port,
                 uv_strerror(rc));
        return rc;
    }
    return 0;
}

/* ---- start and stop ------------------------------------------------------------ */

static struct admin_handler *add_host(struct admin *a, const char *name, bool needs_token,
                                      h2o_hostconf_t **list)
{
    h2o_hostconf_t *host =
        h2o_config_register_host(&a->h2o_config, h2o_iovec_init(name, strlen(name)), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    struct admin_handler *h = (void *)h2o_create_handler(path, sizeof *h);
    h->super.on_req = on_req;
    h->a = a;
    h->needs_token = needs_token;
    admin_json_errors_install(host);
    list[0] = host;
    list[1] = NULL;
    return h;
}

static void on_listener_closed(uv_handle_t *h)
{
    struct admin *a = h->data;
    a->closing--;
    admin_maybe_finish(a);
}

static void close_listeners(struct admin *a)
{
    if (a->unix_open) {
        a->unix_open = false;
        a->closing++;
        uv_close((uv_handle_t *)&a->unix_listener, on_listener_closed);
        /* Only remove the file if it is still ours. */
        if (a->socket_path[0])
            unlink(a->socket_path);
    }
    if (a->tcp_open) {
        a->tcp_open = false;
        a->closing++;
        uv_close((uv_handle_t *)&a->tcp_listener, on_listener_closed);
    }
}

/* The safety net described in admin.h: hold an operator's recorded stop or
 * suspend even if the supervisor started the tenant without asking. */
static void apply_desired(const char *id, const char *state, void *arg)
{
    struct admin *a = arg;
    struct tenant_view v;
    if (sup_tenant_find(a->sup, id, &v) != 0)
        return;
    char err[256] = "";
    int rc = 0;
    if (strcmp(state, "stopped") == 0 && v.desired_up)
        rc = sup_tenant_action(a->sup, id, SUP_STOP, err, sizeof err);
    else if (strcmp(state, "suspended") == 0 && v.state != TS_SUSPENDED)
        rc = sup_tenant_action(a->sup, id, SUP_SUSPEND, err, sizeof err);
    else
        return;
    if (rc != 0)
        log_warn(id, "admin: cannot apply the recorded desired state \"%s\": %s", state,
                 err[0] ? err : strerror(-rc));
    else
        log_info(id, "admin: applied the recorded desired state \"%s\"", state);
}

int admin_start(uv_loop_t *loop, struct sup *s, struct admin **out, char *err, size_t errlen)
{
    const struct config_global *g = &sup_config(s)->g;
    *out = NULL;
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -EIO;
    }
    struct admin *a = calloc(1, sizeof *a);
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    a->loop = loop;
    a->sup = s;

    int rc = run_dir_check(g->run_dir, err, errlen);
    if (rc == 0)
        rc = token_load(a, g->run_dir, err, errlen);
    if (rc != 0) {
        free(a);
        return rc;
    }

    h2o_config_init(&a->h2o_config);
    a->h2o_config.max_request_entity_size = ADMIN_MAX_BODY;
    /* No HTTP/2 at all: nothing here needs it, and it would bring the
     * graceful-shutdown timer that makes disposing the context unsafe. */
    a->h2o_config.http1.upgrade_to_http2 = 0;
    a->h2o_config.server_name = h2o_iovec_init(H2O_STRLIT("tenantd"));
    add_host(a, "unix", false, a->hosts_unix);
    add_host(a, "tcp", true, a->hosts_tcp);
    h2o_context_init(&a->h2o_ctx, loop, &a->h2o_config);
    a->ctx_ready = true;
    a->accept_unix.ctx = &a->h2o_ctx;
    a->accept_unix.hosts = a->hosts_unix;
    a->accept_tcp.ctx = &a->h2o_ctx;
    a->accept_tcp.hosts = a->hosts_tcp;

    rc = listen_unix(a, g->admin_socket, err, errlen);
    if (rc == 0 && g->admin_port > 0)
        rc = listen_tcp(a, g, err, errlen);
    if (rc != 0) {
        /* Nothing was accepted yet, so the normal stop path tears down
         * whatever was opened. The caller exits; the loop still runs the
         * close callbacks if it is run again. */
        admin_stop(a, NULL, NULL);
        return rc;
    }
    char serr[512];
    if (admin_state_open(g->run_dir, &a->state, serr, sizeof serr) != 0)
        log_error(NULL,
                  "admin: %s; operators' stops will not survive a restart and the audit "
                  "log is off",
                  serr);
    else
        admin_state_each_desired(a->state, apply_desired, a);
    if (admin_billing_start(a) < 0)
        log_error(NULL, "admin: cannot start recording the tenants' usage for billing");
    if (g->admin_port > 0)
        log_info(NULL, "admin: listening on %s and %s:%d", g->admin_socket, g->admin_host,
                 g->admin_port);
    else
        log_info(NULL, "admin: listening on %s", g->admin_socket);
    *out = a;
    return 0;
}

static void on_finish_timer_closed(uv_handle_t *h)
{
    struct admin *a = h->data;
    void (*done)(void *) = a->done;
    void *arg = a->done_arg;
    h2o_config_dispose(&a->h2o_config);
    admin_state_close(a->state);
    sodium_memzero(a->token_key, sizeof a->token_key);
    free(a);
    if (done)
        done(arg);
}

static void on_finish_timer(uv_timer_t *t)
{
    struct admin *a = t->data;
    if (a->finish_step == 0) {
        a->finish_step = 1;
        if (a->ctx_ready) {
            a->ctx_ready = false;
            h2o_context_dispose(&a->h2o_ctx);
        }
        /* The timers h2o just closed finish closing at the end of this loop
         * turn at the latest; the context's memory holds them, so free it on
         * the next turn. */
        uv_timer_start(t, on_finish_timer, 0, 0);
        return;
    }
    uv_close((uv_handle_t *)t, on_finish_timer_closed);
}

/* Continue the stop once nothing of ours is open any more. */
void admin_maybe_finish(struct admin *a)
{
    if (!a->stopping || a->closing > 0 || a->n_conns > 0 || a->onboards != NULL ||
        a->finish_timer_init)
        return;
    a->finish_timer_init = true;
    uv_timer_init(a->loop, &a->finish_timer);
    a->finish_timer.data = a;
    uv_timer_start(&a->finish_timer, on_finish_timer, 0, 0);
}

void admin_stop(struct admin *a, void (*done)(void *arg), void *arg)
{
    if (a == NULL) {
        if (done)
            done(arg);
        return;
    }
    if (a->stopping)
        return;
    a->stopping = true;
    a->done = done;
    a->done_arg = arg;
    close_listeners(a);
    admin_onboard_abort_all(a);
    admin_backup_abort_all(a);
    admin_usage_abort_all(a);
    admin_billing_stop(a);
    admin_wait_abort_all(a);
    /* What h2o_context_request_shutdown does for HTTP/1 is only this flag
     * (keep-alive off); the call would also arm HTTP/2's one-second graceful
     * timer, which we never need (HTTP/2 is off) and which would make
     * h2o_context_dispose abort until it fired. */
    if (a->ctx_ready)
        a->h2o_ctx.shutdown_requested = 1;
    /* Half-close every connection for reading: an idle keep-alive connection
     * sees EOF and h2o closes it; one with a response in flight finishes it
     * and then closes, since keep-alive is off after request_shutdown. */
    for (struct admin_conn *c = a->conns; c; c = c->next) {
        uv_os_fd_t fd;
        if (uv_fileno(&c->h.handle, &fd) == 0)
            shutdown(fd, SHUT_RD);
    }
    admin_maybe_finish(a);
}
