/*
 * acme.c — certificates per tenant from an ACME server, through lego (see
 * acme.h for the files and the contract with the proxy).
 *
 * Why lego: Debian ships it (one static Go binary, no Python stack as certbot
 * needs), it takes everything on its command line (--server, --email,
 * --http.webroot, --dns exec with EXEC_PATH), trusts a test CA through
 * LEGO_CA_CERTIFICATES, and writes the certificate and key to known files.
 * uacme would need a hook script for http-01; certbot wants its own state
 * tree in /etc and a Python runtime.
 *
 * Schedule of one tenant: no certificate -> issue now; valid -> issue again
 * when renew_fraction of its lifetime remains; a failure -> retry after
 * retry_min * 2^(n-1), capped at retry_max, minus up to a quarter of jitter
 * (backoff.h). One issuance runs at a time; a single timer wakes the queue at
 * the earliest due time.
 *
 * Each issuance's outcome (state, failures, next attempt, last error, count,
 * expiry) is recorded in state.db (statedb_kv.h, kind "acme") and read back
 * when the tenant is first rendered after a restart or an upgrade: a refused
 * certificate keeps its error and waits for its retry time instead of being
 * asked for again at once. The certificate file stays the truth about expiry.
 */
#include "acme.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "backoff.h"
#include "child.h"
#include "config.h"
#include "log.h"
#include "proxy.h"
#include "proxy_render.h"
#include "statedb_kv.h"
#include "sup.h"
#include "util.h"

enum cert_state { CS_NONE = 0, CS_PENDING, CS_VALID, CS_ERROR };
static const char *const state_names[] = {"none", "pending", "valid", "error"};

struct tcert {
    char id[CONFIG_ID_MAX];
    char host[CONFIG_HOST_MAX + 64];
    char path[CONFIG_PATH_MAX + 64]; /* live/<id>.<not_after>.pem, "" = none */
    enum cert_state state;
    bool have_file;                /* a certificate not yet expired is on disk */
    int64_t not_before, not_after; /* unix seconds, when have_file */
    int64_t next_ms;               /* wall clock ms of the next attempt, 0 = none */
    int failures;
    uint64_t issued;
    char last_error[256];
    unsigned seen;
};

static struct {
    bool on;
    uv_loop_t *loop;
    struct sup *sup;
    struct proxy *proxy;
    acme_audit_fn audit;
    void *audit_arg;
    uv_timer_t timer;
    bool timer_open;
    struct child *running;
    char running_id[CONFIG_ID_MAX];
    struct tcert *t;
    size_t n, cap;
    char dir[CONFIG_PATH_MAX];
    char webroot[CONFIG_PATH_MAX + 16];
    json_t *saved; /* id -> record from state.db, until the tenant is first rendered */
} A;

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct tcert *find(const char *id)
{
    for (size_t i = 0; i < A.n; i++)
        if (strcmp(A.t[i].id, id) == 0)
            return &A.t[i];
    return NULL;
}

/* Read notBefore/notAfter of the first certificate of a PEM file. */
static int read_dates(const char *path, int64_t *nb, int64_t *na)
{
    FILE *f = fopen(path, "re");
    X509 *x;
    int r = -EINVAL;
    struct tm tm;

    if (f == NULL)
        return -errno;
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x == NULL)
        return -EINVAL;
    if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm) == 1) {
        *nb = (int64_t)timegm(&tm);
        if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
            *na = (int64_t)timegm(&tm);
            r = 0;
        }
    }
    X509_free(x);
    return r;
}

/* When a valid certificate is due for renewal (wall ms). */
static int64_t renew_at(const struct tcert *c)
{
    const struct config_global *g = &sup_config(A.sup)->g;
    double life = (double)(c->not_after - c->not_before);
    double at = (double)c->not_after - life * g->acme_renew_fraction;
    return (int64_t)(at * 1000.0);
}

/* The newest live/<id>.<not_after>.pem: a new name per issuance, so the
 * rendered config changes and the proxy tests and reloads it. */
static void find_newest(struct tcert *c)
{
    char live[CONFIG_PATH_MAX + 16];
    size_t idl = strlen(c->id);
    long long best = -1;
    DIR *d;
    struct dirent *e;

    c->path[0] = '\0';
    snprintf(live, sizeof live, "%s/live", A.dir);
    if ((d = opendir(live)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char *end;
        if (strncmp(e->d_name, c->id, idl) != 0 || e->d_name[idl] != '.')
            continue;
        long long v = strtoll(e->d_name + idl + 1, &end, 10);
        if (end != e->d_name + idl + 1 && strcmp(end, ".pem") == 0 && v > best)
            best = v;
    }
    closedir(d);
    if (best >= 0)
        snprintf(c->path, sizeof c->path, "%s/%s.%lld.pem", live, c->id, best);
}

/* Remove this tenant's files but the one in use and keep_too (the one the
 * live nginx config may still name until the next reload). */
static void prune(const struct tcert *c, const char *keep_too)
{
    char live[CONFIG_PATH_MAX + 16], path[CONFIG_PATH_MAX + 300];
    size_t idl = strlen(c->id);
    DIR *d;
    struct dirent *e;

    snprintf(live, sizeof live, "%s/live", A.dir);
    if ((d = opendir(live)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, c->id, idl) != 0 || e->d_name[idl] != '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", live, e->d_name);
        if (strcmp(path, c->path) != 0 && strcmp(path, keep_too) != 0)
            unlink(path);
    }
    closedir(d);
}

static void load_file(struct tcert *c)
{
    int64_t nb = 0, na = 0;
    c->have_file = c->path[0] && read_dates(c->path, &nb, &na) == 0 && na * 1000 > wall_ms();
    if (c->have_file) {
        c->not_before = nb;
        c->not_after = na;
    }
}

static void arm(void);

/* The tenant's record in state.db, after each outcome. */
static void persist(const struct tcert *c)
{
    json_t *v = json_pack("{s:s, s:i, s:I, s:s, s:I, s:I}", "state", state_names[c->state],
                          "failures", c->failures, "next_ms", (json_int_t)c->next_ms, "last_error",
                          c->last_error, "issued", (json_int_t)c->issued, "not_after",
                          (json_int_t)(c->have_file ? c->not_after : 0));
    if (v != NULL)
        statedb_kv_put("acme", c->id, "", v);
    json_decref(v);
}

static void load_saved(void *arg, const char *tenant, const char *item, json_t *v)
{
    (void)arg;
    (void)item;
    json_object_set(A.saved, tenant, v);
}

/* A tenant new to this run: what the previous run recorded (after
 * find_newest: the file on disk decides about expiry). */
static void restore(struct tcert *c)
{
    json_t *v = A.saved ? json_object_get(A.saved, c->id) : NULL;
    if (!json_is_object(v))
        return;
    const char *st = json_string_value(json_object_get(v, "state"));
    const char *le = json_string_value(json_object_get(v, "last_error"));
    json_int_t f = json_integer_value(json_object_get(v, "failures"));
    json_int_t next = json_integer_value(json_object_get(v, "next_ms"));
    json_int_t issued = json_integer_value(json_object_get(v, "issued"));
    c->failures = f > 0 && f < 1000 ? (int)f : 0;
    c->issued = issued > 0 ? (uint64_t)issued : 0;
    util_strlcpy(c->last_error, le ? le : "", sizeof c->last_error);
    load_file(c);
    /* An error waits for its retry; a valid certificate for its renewal if
     * its file is still there. Anything else starts over. */
    if (st && next > 0 &&
        (strcmp(st, "error") == 0 || (strcmp(st, "valid") == 0 && c->have_file))) {
        c->state = strcmp(st, "error") == 0 ? CS_ERROR : CS_VALID;
        c->next_ms = next;
        uv_timer_start(&A.timer, (uv_timer_cb)arm, 0, 0);
        if (c->state == CS_ERROR)
            log_info(c->id, "acme: last issuance failed (%s); next attempt in %llds", c->last_error,
                     (long long)((next - wall_ms()) / 1000));
    } else {
        c->have_file = false; /* as for any new tenant: acme_cert_for decides */
    }
    json_object_del(A.saved, c->id);
}

static void schedule_retry(struct tcert *c)
{
    const struct config_global *g = &sup_config(A.sup)->g;
    struct backoff_policy pol = {.min_ms = g->acme_retry_min_ms, .max_ms = g->acme_retry_max_ms};
    c->failures++;
    c->next_ms = wall_ms() + backoff_delay(&pol, c->failures, randombytes_random());
}

/* The last non-empty line of lego's output, without its log prefix: the reason. */
static void last_line(const char *out, char *buf, size_t n)
{
    const char *end = out + strlen(out), *s;
    while (end > out && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
        end--;
    s = end;
    while (s > out && s[-1] != '\n')
        s--;
    while (s < end && *s == ' ')
        s++;
    size_t len = (size_t)(end - s);
    if (len >= n)
        len = n - 1;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) /* lego quotes the CA's JSON: keep it printable */
        buf[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : ' ';
    buf[k] = '\0';
}

/* lego's files for host: certificates/<host>.crt (chain) and .key; into a
 * new live/<id>.<not_after>.pem (0600). */
static int install(struct tcert *c, char *err, size_t errlen)
{
    char crt[CONFIG_PATH_MAX + 128], key[CONFIG_PATH_MAX + 128], dst[sizeof c->path];
    char prev[sizeof c->path];
    char *a = NULL, *b = NULL, *both = NULL;
    size_t al = 0, bl = 0, k = 0;
    int64_t nb, na;
    int r;

    if (util_path_fmt(crt, sizeof crt, "%s/lego/certificates/%s.crt", A.dir, c->host) < 0 ||
        util_path_fmt(key, sizeof key, "%s/lego/certificates/%s.key", A.dir, c->host) < 0)
        return -ENAMETOOLONG;
    r = read_dates(crt, &nb, &na);
    if (r == 0 &&
        util_path_fmt(dst, sizeof dst, "%s/live/%s.%lld.pem", A.dir, c->id, (long long)na) < 0)
        r = -ENAMETOOLONG;
    if (r == 0)
        r = util_read_file(crt, 1 << 20, &a, &al);
    if (r == 0)
        r = util_read_file(key, 1 << 20, &b, &bl);
    if (r == 0 && (both = malloc(al + bl + 2)) == NULL)
        r = -ENOMEM;
    if (r == 0) {
        memcpy(both, a, al);
        k = al;
        if (k > 0 && both[k - 1] != '\n')
            both[k++] = '\n';
        memcpy(both + k, b, bl);
        r = util_write_file_atomic(dst, both, k + bl, 0600);
        sodium_memzero(both, k + bl);
    }
    if (b)
        sodium_memzero(b, bl);
    free(a);
    free(b);
    free(both);
    if (r < 0) {
        util_seterr(err, errlen, "cannot install the certificate: %s", strerror(-r));
        return r;
    }
    util_strlcpy(prev, c->path, sizeof prev);
    util_strlcpy(c->path, dst, sizeof c->path);
    prune(c, prev);
    return 0;
}

static void on_done(void *arg, struct child_result *res)
{
    struct tcert *c;
    char err[256] = "", result[640];

    (void)arg;
    A.running = NULL;
    c = find(A.running_id);
    A.running_id[0] = '\0';
    if (c == NULL) { /* offboarded meanwhile */
        arm();
        return;
    }
    if (res->status == 0 && !res->timed_out && res->sig == 0 && install(c, err, sizeof err) == 0) {
        load_file(c);
        if (c->have_file) {
            c->state = CS_VALID;
            c->failures = 0;
            c->issued++;
            c->last_error[0] = '\0';
            c->next_ms = renew_at(c);
            persist(c);
            snprintf(result, sizeof result, "certificate issued for %s, valid until %lld", c->host,
                     (long long)c->not_after);
            log_info(c->id, "acme: %s", result);
            if (A.audit)
                A.audit(A.audit_arg, c->id, result);
            if (A.proxy)
                proxy_request_apply(A.proxy);
            arm();
            return;
        }
        util_seterr(err, sizeof err, "the issued certificate cannot be read");
    }
    if (err[0] == '\0') {
        if (res->timed_out)
            util_seterr(err, sizeof err, "the ACME client took too long");
        else
            last_line(res->out, err, sizeof err);
        if (err[0] == '\0')
            snprintf(err, sizeof err, "the ACME client failed (status %lld, signal %d)",
                     (long long)res->status, res->sig);
    }
    util_strlcpy(c->last_error, err, sizeof c->last_error);
    c->state = CS_ERROR;
    schedule_retry(c);
    persist(c);
    log_warn(c->id, "acme: issuance for %s failed: %s; next attempt in %llds", c->host, err,
             (long long)((c->next_ms - wall_ms()) / 1000));
    snprintf(result, sizeof result, "certificate for %s refused: %s", c->host, err);
    if (A.audit)
        A.audit(A.audit_arg, c->id, result);
    arm();
}

static int issue(struct tcert *c)
{
    const struct config_global *g = &sup_config(A.sup)->g;
    char path[CONFIG_PATH_MAX + 16], server[CONFIG_PATH_MAX + 16], email[CONFIG_TEXT_MAX + 16];
    char dom[CONFIG_HOST_MAX + 80], web[CONFIG_PATH_MAX + 32];
    char envca[CONFIG_PATH_MAX + 32], envexec[CONFIG_PATH_MAX + 16];
    char *argv[16], *envp[8], err[256];
    size_t k = 0, e = 0;

    snprintf(path, sizeof path, "--path=%s/lego", A.dir);
    snprintf(server, sizeof server, "--server=%s", g->acme_directory);
    snprintf(email, sizeof email, "--email=%s", g->acme_email);
    snprintf(dom, sizeof dom, "--domains=%s", c->host);
    snprintf(web, sizeof web, "--http.webroot=%s", A.webroot);
    argv[k++] = (char *)g->acme_client;
    argv[k++] = "--accept-tos";
    argv[k++] = server;
    argv[k++] = email;
    argv[k++] = path;
    argv[k++] = "--key-type=ec256";
    argv[k++] = dom;
    if (g->acme_challenge == ACME_DNS01) {
        argv[k++] = "--dns=exec";
        snprintf(envexec, sizeof envexec, "EXEC_PATH=%s", g->acme_dns_hook);
        envp[e++] = envexec;
    } else {
        argv[k++] = "--http";
        argv[k++] = web;
    }
    argv[k++] = "run";
    argv[k] = NULL;
    envp[e++] = "PATH=/usr/local/bin:/usr/bin:/bin";
    envp[e++] = "HOME=/nonexistent";
    if (g->acme_ca_bundle[0]) {
        snprintf(envca, sizeof envca, "LEGO_CA_CERTIFICATES=%s", g->acme_ca_bundle);
        envp[e++] = envca;
    }
    envp[e] = NULL;

    struct child_opts o = {.argv = argv,
                           .env = envp,
                           .merge_stderr = true,
                           .timeout_ms = (uint64_t)g->acme_timeout_ms,
                           .log_label = "acme client"};
    util_strlcpy(A.running_id, c->id, sizeof A.running_id);
    c->state = c->state == CS_VALID ? CS_VALID : (c->state == CS_ERROR ? CS_ERROR : CS_PENDING);
    c->next_ms = 0;
    log_info(c->id, "acme: requesting a certificate for %s", c->host);
    int r = child_start(A.loop, &o, on_done, NULL, &A.running, err, sizeof err);
    if (r < 0) {
        A.running_id[0] = '\0';
        util_strlcpy(c->last_error, err, sizeof c->last_error);
        c->state = CS_ERROR;
        schedule_retry(c);
        persist(c);
        log_error(c->id, "acme: %s", err);
    }
    return r;
}

/* Start the most overdue issuance, or sleep until the next one is due. */
static void arm(void)
{
    int64_t now = wall_ms(), best = INT64_MAX;
    struct tcert *due = NULL;

    if (!A.on || A.running != NULL)
        return;
    for (size_t i = 0; i < A.n; i++) {
        if (A.t[i].next_ms > 0 && A.t[i].next_ms < best) {
            best = A.t[i].next_ms;
            due = &A.t[i];
        }
    }
    if (due == NULL) {
        uv_timer_stop(&A.timer);
        return;
    }
    if (best <= now) {
        if (issue(due) < 0)
            uv_timer_start(&A.timer, (uv_timer_cb)arm, 0, 0);
        return;
    }
    uv_timer_start(&A.timer, (uv_timer_cb)arm, (uint64_t)(best - now), 0);
}

int acme_start(uv_loop_t *loop, struct sup *s, struct proxy *p, acme_audit_fn audit,
               void *audit_arg, char *err, size_t errlen)
{
    const struct config_global *g = &sup_config(s)->g;
    char prefix[CONFIG_PATH_MAX], live[CONFIG_PATH_MAX + 16];
    int r;

    if (!g->acme_enabled)
        return 0;
    if (util_path_fmt(A.dir, sizeof A.dir, "%s/acme", g->run_dir) < 0 ||
        util_path_fmt(live, sizeof live, "%s/live", A.dir) < 0 ||
        proxy_render_prefix(g, prefix, sizeof prefix) < 0 ||
        util_path_fmt(A.webroot, sizeof A.webroot, "%s/%s", prefix, PROXY_ACME_DIR) < 0) {
        util_seterr(err, errlen, "[tenantd] run_dir is too long for the ACME files");
        return -ENAMETOOLONG;
    }
    /* Private keys: a root-only folder in the run dir. */
    r = util_mkdir_p_modes(live, 0711, 0700);
    if (r == 0 && chmod(A.dir, 0700) < 0)
        r = -errno;
    if (r == 0)
        r = util_mkdir_p(A.webroot, 0755);
    if (r < 0) {
        util_seterr(err, errlen, "cannot make %s: %s", A.dir, strerror(-r));
        return r;
    }
    A.loop = loop;
    A.sup = s;
    A.proxy = p;
    A.audit = audit;
    A.audit_arg = audit_arg;
    uv_timer_init(loop, &A.timer);
    A.timer_open = true;
    A.on = true;
    A.saved = json_object();
    if (A.saved != NULL)
        statedb_kv_each("acme", load_saved, NULL);
    log_info(NULL, "acme: certificates from %s (%s)", g->acme_directory,
             g->acme_challenge == ACME_DNS01 ? "dns-01" : "http-01");
    if (p)
        proxy_request_apply(p);
    return 0;
}

static void closed(uv_handle_t *h)
{
    (void)h;
}

void acme_stop(void)
{
    if (!A.on)
        return;
    A.on = false;
    if (A.running)
        child_kill(A.running);
    if (A.timer_open)
        uv_close((uv_handle_t *)&A.timer, closed);
    A.timer_open = false;
    free(A.t);
    A.t = NULL;
    A.n = A.cap = 0;
    json_decref(A.saved);
    A.saved = NULL;
}

bool acme_enabled(void)
{
    return A.on;
}

bool acme_busy(void)
{
    return A.running != NULL;
}

const char *acme_cert_for(const char *id, const char *sub, bool served, unsigned generation)
{
    struct tcert *c;

    if (!A.on || !served)
        return NULL;
    c = find(id);
    if (c == NULL) {
        if (A.n == A.cap) {
            size_t nc = A.cap ? A.cap * 2 : 16;
            struct tcert *t = realloc(A.t, nc * sizeof *t);
            if (t == NULL)
                return NULL;
            A.t = t;
            A.cap = nc;
        }
        c = &A.t[A.n++];
        memset(c, 0, sizeof *c);
        util_strlcpy(c->id, id, sizeof c->id);
        find_newest(c);
        c->state = CS_PENDING;
        restore(c);
    }
    snprintf(c->host, sizeof c->host, "%s.%s", sub, sup_config(A.sup)->g.domain);
    c->seen = generation;
    if (!c->have_file && c->next_ms == 0 && strcmp(A.running_id, id) != 0) {
        load_file(c);
        if (c->have_file) {
            c->state = CS_VALID;
            c->next_ms = renew_at(c);
        } else {
            c->next_ms = wall_ms(); /* new tenant: issue now */
        }
        uv_timer_start(&A.timer, (uv_timer_cb)arm, 0, 0);
    }
    if (c->have_file && c->not_after * 1000 <= wall_ms())
        c->have_file = false; /* expired: back to HTTP until a new one */
    return c->have_file ? c->path : NULL;
}

void acme_render_done(unsigned generation)
{
    size_t k = 0;
    if (!A.on)
        return;
    for (size_t i = 0; i < A.n; i++) {
        if (A.t[i].seen == generation)
            A.t[k++] = A.t[i];
        else {
            /* Offboarded (or its file removed): no more renewals, and its
             * key does not outlive it. Said once it is done. */
            A.t[i].path[0] = '\0';
            prune(&A.t[i], "");
            static const char *const lego_files[] = {".crt", ".key", ".issuer.crt", ".json"};
            for (size_t k2 = 0; k2 < sizeof lego_files / sizeof lego_files[0]; k2++) {
                char f[CONFIG_PATH_MAX + 160];
                if (util_path_fmt(f, sizeof f, "%s/lego/certificates/%s%s", A.dir, A.t[i].host,
                                  lego_files[k2]) == 0)
                    unlink(f);
            }
            statedb_kv_del("acme", A.t[i].id, "");
            log_info(A.t[i].id, "acme: tenant gone, its certificate is no longer renewed");
        }
    }
    A.n = k;
}

json_t *acme_cert_json(const char *id)
{
    const struct tcert *c;
    int64_t now = wall_ms();

    if (!A.on)
        return NULL;
    c = find(id);
    /* Not rendered yet (onboarding answers before the proxy's next render):
     * the request is about to be queued. */
    if (c == NULL)
        return json_pack("{s:s,s:n,s:n,s:s,s:n,s:i}", "state", "pending", "not_after",
                         "expires_in_s", "last_error", "", "next_attempt_in_s", "issued", 0);
    json_t *o = json_object();
    json_object_set_new(o, "state", json_string(state_names[c->state]));
    json_object_set_new(o, "not_after", c->have_file ? json_integer(c->not_after) : json_null());
    json_object_set_new(o, "expires_in_s",
                        c->have_file ? json_integer(c->not_after - now / 1000) : json_null());
    json_object_set_new(o, "last_error", json_string(c->last_error));
    json_object_set_new(o, "next_attempt_in_s",
                        c->next_ms > 0
                            ? json_integer(c->next_ms > now ? (c->next_ms - now) / 1000 : 0)
                            : json_null());
    json_object_set_new(o, "issued", json_integer((json_int_t)c->issued));
    return o;
}

bool acme_cert_expiry(const char *id, int64_t *seconds)
{
    const struct tcert *c = A.on ? find(id) : NULL;
    if (c == NULL || !c->have_file)
        return false;
    *seconds = c->not_after - wall_ms() / 1000;
    return true;
}

int acme_renew_now(const char *id)
{
    struct tcert *c;
    if (!A.on)
        return -ENOTSUP;
    c = find(id);
    if (c == NULL)
        return -ENOENT;
    if (strcmp(A.running_id, id) != 0)
        c->next_ms = 1; /* first in the queue */
    arm();
    return 0;
}
