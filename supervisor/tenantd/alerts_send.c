/*
 * alerts_send.c — delivering alerts (alerts.h) with `curl`, one child at a
 * time, never on the loop: a webhook POST and/or an e-mail through the
 * [mail] relay (curl speaks SMTP too: `smtp://relay`, --mail-from,
 * --mail-rcpt, the message as the upload). curl is already a dependency
 * (deploy/debian-packages.txt), handles HTTP, HTTPS and SMTP with timeouts,
 * and keeps a TLS stack and a mail dialogue out of tenantd; msmtp or
 * sendmail would add a package and a configuration file of their own.
 *
 * The message goes through a 0600 file in <run_dir>/alerts/ (the child's
 * stdin is /dev/null), removed when the child is done. The webhook secret is
 * read from its file at each delivery (a rotated secret applies at once); a
 * file that others may read is refused. The queue is bounded: past
 * QUEUE_MAX waiting messages the new one is dropped and counted as an error.
 */
#include "alerts.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "util.h"

#define QUEUE_MAX 64
#define SEND_TIMEOUT_MS 20000
#define SECRET_MAX 4096

struct msg {
    struct msg *next;
    bool mail; /* else webhook */
    char tenant[CONFIG_ID_MAX];
    enum alert_kind kind;
    char event[12];
    char url[CONFIG_HOST_MAX + 16]; /* webhook URL or smtp://relay */
    char from[CONFIG_TEXT_MAX], to[CONFIG_TEXT_MAX];
    char cc[ALERTS_MAIL_CC_MAX][CONFIG_TEXT_MAX]; /* "" when unused */
    alerts_mail_cb done; /* a mail of alerts_mail(): its outcome goes there */
    void *done_arg;
    char secret_file[CONFIG_PATH_MAX];
    char file[CONFIG_PATH_MAX + 64]; /* the body, written when it starts */
    char *body;
    size_t len;
};

static struct {
    uv_loop_t *loop;
    struct msg *head, *tail;
    size_t queued;
    struct child *running; /* the one curl, or NULL */
    struct msg *current;
    unsigned seq;
    bool stopping;
} S;

void alerts_sign(const unsigned char *key, size_t keylen, const char *body, size_t len,
                 char hex[65])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, keylen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, 65, mac, sizeof mac);
    sodium_memzero(&st, sizeof st);
}

/* The secret, trailing newlines cut; -EPERM when group or others may read it. */
static int read_secret(const char *path, unsigned char *buf, size_t cap, size_t *len, char *err,
                       size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        snprintf(err, errlen, "webhook_secret_file %.160s: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    if ((st.st_mode & 077) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "webhook_secret_file %.160s: must be a file of mode 0600", path);
        return -EPERM;
    }
    ssize_t n = read(fd, buf, cap);
    close(fd);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n <= 0) {
        snprintf(err, errlen, "webhook_secret_file %.160s: empty", path);
        return -EINVAL;
    }
    *len = (size_t)n;
    return 0;
}

static void free_msg(struct msg *m)
{
    if (m == NULL)
        return;
    if (m->file[0])
        unlink(m->file);
    free(m->body);
    free(m);
}

static void pump(void);

static void report(struct msg *m, const char *err)
{
    if (m->done != NULL) {
        m->done(m->done_arg, err);
        m->done = NULL;
    } else {
        alerts_delivered(m->mail ? "email" : "webhook", m->tenant, m->kind, m->event, err);
    }
}

static void on_done(void *arg, struct child_result *r)
{
    struct msg *m = arg;
    S.running = NULL;
    S.current = NULL;
    char err[160] = "";
    if (r->timed_out) {
        snprintf(err, sizeof err, "curl timed out");
    } else if (r->sig || r->status != 0) {
        /* curl -sS prints one line "curl: (7) Failed to connect ..." */
        char *nl = strchr(r->err, '\n');
        if (nl)
            *nl = '\0';
        snprintf(err, sizeof err, "%s", r->err[0] ? r->err : "curl failed");
    } else if (!m->mail && (r->out_len < 1 || r->out[0] != '2')) {
        snprintf(err, sizeof err, "the webhook answered HTTP %.3s", r->out);
    }
    report(m, err[0] ? err : NULL);
    free_msg(m);
    if (!S.stopping)
        pump();
}

static int write_file(struct msg *m, const struct config_global *g, char *err, size_t errlen)
{
    char dir[CONFIG_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/alerts", g->run_dir);
    if (util_mkdir_p(dir, 0700) < 0) {
        snprintf(err, errlen, "%.160s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(m->file, sizeof m->file, "%s/%u.msg", dir, ++S.seq);
    int fd = open(m->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || write(fd, m->body, m->len) != (ssize_t)m->len) {
        snprintf(err, errlen, "%.160s: %s", m->file, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static int start_one(struct msg *m, char *err, size_t errlen)
{
    char sig[128] = "", data[CONFIG_PATH_MAX + 80];
    if (!m->mail) {
        unsigned char key[SECRET_MAX];
        size_t klen = 0;
        if (read_secret(m->secret_file, key, sizeof key, &klen, err, errlen) < 0)
            return -1;
        char hex[65];
        alerts_sign(key, klen, m->body, m->len, hex);
        sodium_memzero(key, sizeof key);
        snprintf(sig, sizeof sig, "X-Tenantd-Signature: sha256=%s", hex);
    }
    snprintf(data, sizeof data, "@%s", m->file);
    char *argv_hook[] = {"curl",
                         "-sS",
                         "--max-time",
                         "15",
                         "--proto",
                         "=http,https",
                         "-o",
                         "/dev/null",
                         "-w",
                         "%{http_code}",
                         "-X",
                         "POST",
                         "-H",
                         "Content-Type: application/json",
                         "-H",
                         "User-Agent: tenantd-alerts",
                         "-H",
                         sig,
                         "--data-binary",
                         data,
                         "--",
                         m->url,
                         NULL};
    char *argv_mail[12 + 2 * ALERTS_MAIL_CC_MAX + 1] = {
        "curl",        "-sS", "--max-time",    "15",   "--mail-from", m->from,
        "--mail-rcpt", m->to, "--upload-file", m->file};
    size_t na = 10;
    for (size_t i = 0; m->mail && i < ALERTS_MAIL_CC_MAX; i++)
        if (m->cc[i][0]) { /* one more envelope recipient */
            argv_mail[na++] = "--mail-rcpt";
            argv_mail[na++] = m->cc[i];
        }
    argv_mail[na++] = "--";
    argv_mail[na++] = m->url;
    argv_mail[na] = NULL;
    struct child_opts o = {.argv = m->mail ? argv_mail : argv_hook,
                           .timeout_ms = SEND_TIMEOUT_MS,
                           .log_label = "alert delivery (curl)"};
    return child_start(S.loop, &o, on_done, m, &S.running, err, errlen) < 0 ? -1 : 0;
}

static void pump(void)
{
    while (S.running == NULL && S.head != NULL) {
        struct msg *m = S.head;
        S.head = m->next;
        if (S.head == NULL)
            S.tail = NULL;
        S.queued--;
        char err[256];
        S.current = m;
        if (start_one(m, err, sizeof err) == 0)
            return;
        S.current = NULL;
        report(m, err);
        free_msg(m);
    }
}

static void enqueue(struct msg *m)
{
    if (S.queued >= QUEUE_MAX) {
        report(m, "dropped: too many messages waiting");
        free_msg(m);
        return;
    }
    if (S.tail)
        S.tail->next = m;
    else
        S.head = m;
    S.tail = m;
    S.queued++;
}

static char *json_body(const char *tenant, enum alert_kind k, const char *event, const char *detail,
                       time_t since, size_t *len)
{
    char ts[32], now[32];
    struct tm tm;
    gmtime_r(&since, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    time_t t = time(NULL);
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "event", event, "kind", alert_kind_name(k),
                  "tenant", tenant, "detail", detail, "since", ts, "time", now);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (s)
        *len = strlen(s);
    return s;
}

/* A plain-text mail; the detail may hold a worker's words, so control
 * characters are dropped and no line of it can start a header. */
static char *mail_body(const struct config_global *g, const char *tenant, enum alert_kind k,
                       const char *event, const char *detail, time_t since, size_t *len)
{
    char clean[256], date[64], ts[32];
    size_t o = 0;
    for (const char *p = detail; *p && o + 1 < sizeof clean; p++)
        clean[o++] = (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p;
    clean[o] = '\0';
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    gmtime_r(&since, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *s = NULL;
    int n =
        asprintf(&s,
                 "From: %s\r\nTo: %s\r\nDate: %s\r\nSubject: [tenantd] %s %s%s%s\r\n"
                 "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n\r\n"
                 "Alert %s: %s\r\nTenant: %s\r\nSince: %s\r\nDetail: %s\r\n",
                 g->mail_from, g->mail_to, date, alert_kind_name(k), event, tenant[0] ? " " : "",
                 tenant, event, alert_kind_name(k), tenant[0] ? tenant : "(tenantd)", ts, clean);
    if (n < 0)
        return NULL;
    *len = (size_t)n;
    return s;
}

void alerts_send(const struct config_global *g, const char *tenant, enum alert_kind k,
                 const char *event, const char *detail, time_t since)
{
    S.loop = alerts_loop();
    S.stopping = false;
    for (int mail = 0; mail < 2; mail++) {
        if (mail ? !(g->alerts_email && g->mail_relay[0]) : !g->alerts_webhook[0])
            continue;
        struct msg *m = calloc(1, sizeof *m);
        if (m == NULL)
            return;
        m->mail = mail;
        snprintf(m->tenant, sizeof m->tenant, "%s", tenant);
        m->kind = k;
        snprintf(m->event, sizeof m->event, "%s", event);
        if (mail) {
            snprintf(m->url, sizeof m->url, "smtp://%s", g->mail_relay);
            snprintf(m->from, sizeof m->from, "%s", g->mail_from);
            snprintf(m->to, sizeof m->to, "%s", g->mail_to);
            m->body = mail_body(g, tenant, k, event, detail, since, &m->len);
        } else {
            snprintf(m->url, sizeof m->url, "%s", g->alerts_webhook);
            snprintf(m->secret_file, sizeof m->secret_file, "%s", g->alerts_webhook_secret_file);
            m->body = json_body(tenant, k, event, detail, since, &m->len);
        }
        char err[256];
        if (m->body == NULL || write_file(m, g, err, sizeof err) < 0) {
            alerts_delivered(mail ? "email" : "webhook", tenant, k, event,
                             m->body ? err : "out of memory");
            free_msg(m);
            continue;
        }
        enqueue(m);
    }
    pump();
}

int alerts_mail(uv_loop_t *loop, const struct config_global *g, const char *to,
                const char *const *cc, size_t ncc, const char *message, size_t len,
                alerts_mail_cb done, void *arg, char *err, size_t errlen)
{
    if (!g->mail_relay[0] || !g->mail_from[0]) {
        snprintf(err, errlen, "[mail] relay and from are not set");
        return -1;
    }
    if (S.queued >= QUEUE_MAX) {
        snprintf(err, errlen, "too many messages waiting");
        return -1;
    }
    S.loop = loop;
    S.stopping = false;
    struct msg *m = calloc(1, sizeof *m);
    if (m == NULL || (m->body = malloc(len + 1)) == NULL) {
        free(m);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(m->body, message, len);
    m->body[len] = '\0';
    m->len = len;
    m->mail = true;
    snprintf(m->url, sizeof m->url, "smtp://%s", g->mail_relay);
    snprintf(m->from, sizeof m->from, "%s", g->mail_from);
    snprintf(m->to, sizeof m->to, "%s", to);
    for (size_t i = 0; i < ncc && i < ALERTS_MAIL_CC_MAX; i++)
        snprintf(m->cc[i], sizeof m->cc[i], "%s", cc[i] ? cc[i] : "");
    if (write_file(m, g, err, errlen) < 0) {
        free_msg(m);
        return -1;
    }
    m->done = done;
    m->done_arg = arg;
    enqueue(m);
    pump();
    return 0;
}

void alerts_send_stop(void)
{
    S.stopping = true;
    while (S.head) {
        struct msg *m = S.head;
        S.head = m->next;
        report(m, "tenantd is stopping");
        free_msg(m);
    }
    S.tail = NULL;
    S.queued = 0;
    if (S.running)
        child_kill(S.running); /* its callback frees the message */
}
