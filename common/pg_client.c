/*
 * pg_client.c — see pg_client.h.
 */
#include "pg_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "util.h"

int pg_password_read(const char *path, char *out, size_t n, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        util_seterr(err, errlen, "[postgresql] password_file %s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    int rc = 0;
    ssize_t got = 0;
    if (fstat(fd, &st) < 0)
        rc = -errno;
    else if (!S_ISREG(st.st_mode))
        rc = -EINVAL;
    else if (st.st_mode & 077)
        rc = -EPERM;
    else if ((got = read(fd, out, n - 1)) < 0)
        rc = -errno;
    close(fd);
    if (rc == -EINVAL)
        util_seterr(err, errlen, "[postgresql] password_file %s is not a regular file", path);
    else if (rc == -EPERM)
        util_seterr(err, errlen,
                    "[postgresql] password_file %s is readable by group or others (mode %03o): "
                    "chmod 600 it",
                    path, (unsigned)(st.st_mode & 0777));
    else if (rc < 0)
        util_seterr(err, errlen, "[postgresql] password_file %s: %s", path, strerror(-rc));
    if (rc < 0)
        return rc;
    out[got] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    if (out[0] == '\0') {
        util_seterr(err, errlen, "[postgresql] password_file %s is empty", path);
        return -EINVAL;
    }
    return 0;
}

int pg_client_init(struct pg_client *c, const struct pg_server *srv, const char *password_file,
                   char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (srv->host[0] == '\0' && srv->sockdir[0] == '\0') {
        util_seterr(err, errlen, "tenantd.ini has no [postgresql] url");
        return -EINVAL;
    }
    char pw[PG_PASSWORD_MAX];
    int rc = pg_password_read(password_file, pw, sizeof pw, err, errlen);
    if (rc < 0)
        return rc;
    c->srv = *srv;
    snprintf(c->port, sizeof c->port, "%d", srv->port);
    snprintf(c->pw_env, sizeof c->pw_env, "PGPASSWORD=%s", pw);
    sodium_memzero(pw, sizeof pw);
    size_t k = 0;
    c->env[k++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    c->env[k++] = "LANG=C.UTF-8";
    c->env[k++] = c->pw_env;
    c->env[k++] = "PGCONNECT_TIMEOUT=10";
    c->env[k++] = "PGAPPNAME=tenantd";
    c->env[k++] = "PGPASSFILE=/dev/null"; /* never the caller's ~/.pgpass */
    c->env[k] = NULL;
    return 0;
}

void pg_client_clear(struct pg_client *c)
{
    sodium_memzero(c->pw_env, sizeof c->pw_env);
}

void pg_client_conn_args(struct pg_client *c, char **argv, size_t *k, const char *db)
{
    argv[(*k)++] = "-h";
    argv[(*k)++] = c->srv.sockdir[0] ? c->srv.sockdir : c->srv.host;
    argv[(*k)++] = "-p";
    argv[(*k)++] = c->port;
    if (c->srv.user[0]) {
        argv[(*k)++] = "-U";
        argv[(*k)++] = c->srv.user;
    }
    argv[(*k)++] = "-d";
    argv[(*k)++] = (char *)db;
}

#define LINE_CAP (64 * 1024)

int pg_client_run(struct pg_client *c, char *const *argv, char *out, size_t outlen,
                  void (*on_line)(void *arg, const char *line), void *arg, char *err, size_t errlen)
{
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(pe, O_CLOEXEC) < 0) {
        int e = errno;
        close(po[0]), close(po[1]);
        return -e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (c->stdin_fd > 0)
        posix_spawn_file_actions_adddup2(&fa, c->stdin_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, c->stdout_fd > 0 ? c->stdout_fd : po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    /* A pool thread runs with every signal blocked: the child must not. */
    posix_spawnattr_t at;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&at);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, c->env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(po[1]);
    close(pe[1]);
    if (rc != 0) {
        close(po[0]), close(pe[0]);
        util_seterr(err, errlen, "cannot run %s: %s", argv[0], strerror(rc));
        return -rc;
    }
    char ebuf[1024] = "";
    size_t elen = 0, olen = 0;
    char *line = on_line ? malloc(LINE_CAP + 1) : NULL;
    size_t llen = 0;
    if (out && outlen)
        out[0] = '\0';
    struct pollfd pf[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[8192];
            ssize_t r = read(pf[i].fd, buf, sizeof buf);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                close(pf[i].fd);
                pf[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 1) { /* stderr: keep the end */
                for (ssize_t j = 0; j < r; j++) {
                    if (elen + 1 >= sizeof ebuf) {
                        memmove(ebuf, ebuf + 512, elen - 512);
                        elen -= 512;
                    }
                    ebuf[elen++] = buf[j];
                }
                ebuf[elen] = '\0';
            } else if (on_line && line) {
                for (ssize_t j = 0; j < r; j++) {
                    if (buf[j] == '\n') {
                        line[llen] = '\0';
                        on_line(arg, line);
                        llen = 0;
                    } else if (llen < LINE_CAP) {
                        line[llen++] = buf[j];
                    }
                }
            } else if (out && olen + 1 < outlen) {
                size_t take = (size_t)r < outlen - 1 - olen ? (size_t)r : outlen - 1 - olen;
                memcpy(out + olen, buf, take);
                olen += take;
                out[olen] = '\0';
            }
        }
    }
    if (on_line && line && llen > 0) {
        line[llen] = '\0';
        on_line(arg, line);
    }
    free(line);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            st = -1;
            break;
        }
    if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    for (char *p = ebuf; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    while (elen > 0 && ebuf[elen - 1] == ' ')
        ebuf[--elen] = '\0';
    util_seterr(err, errlen, "%s failed: %s", argv[0], elen ? ebuf : "no message");
    return -EIO;
}

int pg_client_sql(struct pg_client *c, const char *db, const char *sql, char *out, size_t outlen,
                  char *err, size_t errlen)
{
    char *argv[24] = {"psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"};
    size_t k = 7;
    pg_client_conn_args(c, argv, &k, db);
    argv[k++] = "-c";
    argv[k++] = (char *)sql;
    argv[k] = NULL;
    return pg_client_run(c, argv, out, outlen, NULL, NULL, err, errlen);
}

int pg_pgpass_write(const char *data_dir, const char *id, const char *password, bool chown_it,
                    uid_t uid, gid_t gid)
{
    char path[CONFIG_PATH_MAX + 16], tmp[CONFIG_PATH_MAX + 24], line[256];
    snprintf(path, sizeof path, "%s/.pgpass", data_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int len = pg_pgpass_line(id, password, line, sizeof line);
    if (unlink(tmp) < 0 && errno != ENOENT)
        return -errno;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (write(fd, line, (size_t)len) != len || (chown_it && fchown(fd, uid, gid) < 0) ||
        fsync(fd) < 0)
        rc = errno ? -errno : -EIO;
    close(fd);
    sodium_memzero(line, sizeof line);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
    return rc;
}
