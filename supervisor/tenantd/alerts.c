/*
 * alerts.c — see alerts.h. The conditions and their de-duplication.
 *
 * The active set is keyed by (tenant, kind); a round marks what still holds,
 * fires what is new and recovers what no longer holds (a tenant removed from
 * the configuration recovers too, so nothing stays active forever). Restart
 * loops are seen from the tenant's `restarts` counter: each increase since
 * the last round is stamped with the round's time in a small ring.
 *
 * The active set is also in state.db (statedb_kv.h, kind "alert": one record
 * per alert with its first-fired time), written when an alert fires or
 * recovers, and loaded at start: a restart or an upgrade neither fires a
 * held alert again nor forgets to send its recovery. A loaded alert is kept
 * while its condition cannot be told yet (its tenant not started again, its
 * storage not measured yet), then follows the usual rules.
 */
#include "alerts.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme.h"
#include "backup.h"
#include "config.h"
#include "log.h"
#include "offsite.h"
#include "proxy.h"
#include "statedb_kv.h"
#include "storage.h"
#include "sup.h"

#define RING 64
#define HISTORY 32

static const char *const kind_names[ALERT__COUNT] = {
    "tenant_failed",        "restart_loop", "storage_near_limit", "backup_missed",
    "proxy_config_refused", "cert_expiry",  "offsite_failed",
};

const char *alert_kind_name(enum alert_kind k)
{
    return (unsigned)k < ALERT__COUNT ? kind_names[k] : "unknown";
}

struct active {
    char tenant[CONFIG_ID_MAX]; /* "" for daemon-wide (the proxy) */
    enum alert_kind kind;
    time_t since;
    char detail[256];
    bool held;     /* seen in this round */
    bool restored; /* loaded from state.db, its condition not evaluated since */
};

struct restarts {
    char id[CONFIG_ID_MAX];
    int last;         /* the counter at the last round */
    int64_t at[RING]; /* when increases were seen (ms), a ring */
    unsigned n, head;
    bool seen;
};

struct delivery {
    time_t time;
    char channel[8], tenant[CONFIG_ID_MAX], event[12], error[160];
    enum alert_kind kind;
};

static struct {
    uv_loop_t *loop;
    struct sup *sup;
    struct proxy *proxy;
    uv_timer_t timer;
    bool running;
    time_t started;
    struct active *act;
    size_t n_act, cap_act;
    struct restarts *rs;
    size_t n_rs, cap_rs;
    struct delivery hist[HISTORY];
    unsigned n_hist, hist_head;
    uint64_t ok, failed;
} A;

static struct active *find_active(const char *tenant, enum alert_kind k)
{
    for (size_t i = 0; i < A.n_act; i++)
        if (A.act[i].kind == k && strcmp(A.act[i].tenant, tenant) == 0)
            return &A.act[i];
    return NULL;
}

static struct active *add_active(void)
{
    if (A.n_act == A.cap_act) {
        size_t cap = A.cap_act ? A.cap_act * 2 : 16;
        struct active *na = realloc(A.act, cap * sizeof *na);
        if (na == NULL)
            return NULL;
        A.act = na;
        A.cap_act = cap;
    }
    struct active *a = &A.act[A.n_act++];
    memset(a, 0, sizeof *a);
    return a;
}

static void persist(const struct active *a)
{
    json_t *v = json_pack("{s:I, s:s}", "since", (json_int_t)a->since, "detail", a->detail);
    if (v != NULL)
        statedb_kv_put("alert", a->tenant, kind_names[a->kind], v);
    json_decref(v);
}

/* One record of state.db: an alert active when tenantd last ran. */
static void load_one(void *arg, const char *tenant, const char *item, json_t *v)
{
    (void)arg;
    int k = 0;
    while (k < ALERT__COUNT && strcmp(kind_names[k], item) != 0)
        k++;
    json_t *since = json_object_get(v, "since"), *detail = json_object_get(v, "detail");
    if (k == ALERT__COUNT || strlen(tenant) >= CONFIG_ID_MAX || !json_is_integer(since) ||
        find_active(tenant, (enum alert_kind)k) != NULL) {
        log_warn(NULL, "state.db: alert record (%.40s, %.40s) ignored", tenant, item);
        return;
    }
    struct active *a = add_active();
    if (a == NULL)
        return;
    snprintf(a->tenant, sizeof a->tenant, "%s", tenant);
    a->kind = (enum alert_kind)k;
    a->since = (time_t)json_integer_value(since);
    a->restored = true;
    snprintf(a->detail, sizeof a->detail, "%s",
             json_is_string(detail) ? json_string_value(detail) : "");
}

/* A restored alert whose condition is not known yet (known false) stays
 * active without a message; once known, the usual rules apply. */
static void restored_known(const char *tenant, enum alert_kind k, bool known)
{
    struct active *a = find_active(tenant, k);
    if (a == NULL || !a->restored)
        return;
    if (known)
        a->restored = false;
    else
        a->held = true;
}

/* The tenant has been started again, or is meant to stay down. */
static bool settled(const struct tenant_view *v)
{
    switch (v->state) {
    case TS_STARTING:
    case TS_BACKOFF:
    case TS_STOPPING:
        return false;
    case TS_STOPPED:
        return !v->desired_up;
    default:
        return true;
    }
}

/* The condition (tenant, k) holds this round. */
static void hold(const struct config_global *g, const char *tenant, enum alert_kind k,
                 const char *detail)
{
    struct active *a = find_active(tenant, k);
    if (a != NULL) {
        a->held = true;
        snprintf(a->detail, sizeof a->detail, "%s", detail);
        return;
    }
    a = add_active();
    if (a == NULL)
        return; /* tried again next round */
    snprintf(a->tenant, sizeof a->tenant, "%s", tenant);
    a->kind = k;
    a->since = time(NULL);
    a->held = true;
    snprintf(a->detail, sizeof a->detail, "%s", detail);
    log_warn(tenant[0] ? tenant : NULL, "alert %s: %s", kind_names[k], detail);
    persist(a);
    alerts_send(g, tenant, k, "fired", detail, a->since);
}

/* A.rs is kept sorted by id: a round looks up every tenant, and a scan
 * made that N^2 (seconds of CPU per minute at 10,000 tenants). Rounds walk
 * the tenants in id order, so a new entry is almost always appended. */
static struct restarts *restarts_of(const char *id, int now_count)
{
    size_t lo = 0, hi = A.n_rs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(A.rs[mid].id, id);
        if (c == 0)
            return &A.rs[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (A.n_rs == A.cap_rs) {
        size_t cap = A.cap_rs ? A.cap_rs * 2 : 16;
        struct restarts *nr = realloc(A.rs, cap * sizeof *nr);
        if (nr == NULL)
            return NULL;
        A.rs = nr;
        A.cap_rs = cap;
    }
    memmove(&A.rs[lo + 1], &A.rs[lo], (A.n_rs - lo) * sizeof *A.rs);
    A.n_rs++;
    struct restarts *r = &A.rs[lo];
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", id);
    r->last = now_count;
    return r;
}

static int64_t now_ms(void)
{
    return (int64_t)uv_now(A.loop);
}

/* Restarts seen within the window, after stamping the new ones. */
static unsigned restarts_in_window(const struct config_global *g, const struct tenant_view *v)
{
    struct restarts *r = restarts_of(v->id, v->restarts);
    if (r == NULL)
        return 0;
    r->seen = true;
    int64_t t = now_ms();
    for (int k = r->last; k < v->restarts; k++) {
        r->at[r->head] = t;
        r->head = (r->head + 1) % RING;
        if (r->n < RING)
            r->n++;
    }
    r->last = v->restarts;
    unsigned in = 0;
    for (unsigned i = 0; i < r->n; i++)
        if (t - r->at[i] <= g->alerts_restarts_window_ms)
            in++;
    return in;
}

static void check_backup(const struct config_global *g, const struct tenant_view *v)
{
    if (g->backup_every_ms <= 0)
        return;
    int64_t late = g->alerts_backup_late_ms > 0 ? g->alerts_backup_late_ms : 2 * g->backup_every_ms;
    char dir[CONFIG_PATH_MAX + CONFIG_ID_MAX + 16], err[128];
    if (snprintf(dir, sizeof dir, "%s/%s/backups", g->data_dir, v->id) >= (int)sizeof dir)
        return;
    struct backup_info *list = NULL;
    size_t n = 0;
    /* A tenant is given `late` from tenantd's start, unless the alert is
     * already active (held before a restart): then from when it began. */
    const struct active *a = find_active(v->id, ALERT_BACKUP_MISSED);
    time_t newest = a != NULL ? a->since - (time_t)(late / 1000) : A.started;
    if (a != NULL && newest > A.started)
        newest = A.started;
    if (backup_list(dir, v->id, &list, &n, err, sizeof err) == 0 && n > 0 &&
        list[0].created > newest)
        newest = list[0].created;
    free(list);
    time_t now = time(NULL);
    if ((int64_t)(now - newest) * 1000 > late) {
        char d[160];
        snprintf(d, sizeof d, "no backup for %" PRId64 " s (expected every %" PRId64 " s)",
                 (int64_t)(now - newest), g->backup_every_ms / 1000);
        hold(g, v->id, ALERT_BACKUP_MISSED, d);
    }
}

/* A certificate tenantd obtained (ACME) with less than cert_expiry left:
 * renewal starts at a third of its lifetime left, so this means renewals
 * have been failing for a while. An operator's own tls_cert is not read. */
static void check_cert(const struct config_global *g, const struct tenant_view *v)
{
    int64_t left;
    bool have = acme_cert_expiry(v->id, &left);
    if (have && g->alerts_cert_expiry_ms > 0 && left * 1000 < g->alerts_cert_expiry_ms) {
        char d[160];
        if (left > 0)
            snprintf(d, sizeof d, "the certificate for %s expires in %" PRId64 " s", v->id, left);
        else
            snprintf(d, sizeof d, "the certificate for %s expired %" PRId64 " s ago", v->id, -left);
        hold(g, v->id, ALERT_CERT_EXPIRY, d);
    }
    /* Known once the certificate's file was read, or when there is none to read. */
    restored_known(v->id, ALERT_CERT_EXPIRY, have || !acme_enabled());
}

static void check_tenant(const struct config_global *g, const struct tenant_view *v)
{
    char d[256];
    if (v->state == TS_FAILED) {
        snprintf(d, sizeof d, "the tenant is failed%s%.160s%s%.40s", v->state_reason[0] ? ": " : "",
                 v->state_reason, v->last_exit[0] ? "; last exit: " : "", v->last_exit);
        hold(g, v->id, ALERT_TENANT_FAILED, d);
    }
    unsigned n = restarts_in_window(g, v);
    if (n >= (unsigned)g->alerts_restarts) {
        snprintf(d, sizeof d, "%u restarts within %" PRId64 " s", n,
                 g->alerts_restarts_window_ms / 1000);
        hold(g, v->id, ALERT_RESTART_LOOP, d);
    }
    struct storage_info si;
    bool measured = storage_lookup(v->id, &si) == 0 && si.used_bytes >= 0;
    if (measured && si.limit_bytes > 0 &&
        si.used_bytes * 100 >= si.limit_bytes * (int64_t)g->alerts_storage_percent) {
        snprintf(d, sizeof d, "storage %" PRId64 " of %" PRId64 " bytes (%" PRId64 "%%)",
                 si.used_bytes, si.limit_bytes, si.used_bytes * 100 / si.limit_bytes);
        hold(g, v->id, ALERT_STORAGE, d);
    }
    restored_known(v->id, ALERT_STORAGE, measured);
    restored_known(v->id, ALERT_TENANT_FAILED, settled(v));
    restored_known(v->id, ALERT_RESTART_LOOP, settled(v));
    if (v->state != TS_SUSPENDED)
        check_backup(g, v);
    if (offsite_failed(v->id, d, sizeof d))
        hold(g, v->id, ALERT_OFFSITE_FAILED, d);
    check_cert(g, v);
}

static void round_once(void)
{
    const struct config *cfg = sup_config(A.sup);
    const struct config_global *g = &cfg->g;
    for (size_t i = 0; i < A.n_act; i++)
        A.act[i].held = false;
    for (size_t i = 0; i < A.n_rs; i++)
        A.rs[i].seen = false;
    size_t n = sup_tenant_count(A.sup);
    for (size_t i = 0; i < n; i++) {
        struct tenant_view v;
        if (sup_tenant_view_nostats(A.sup, i, &v) == 0)
            check_tenant(g, &v);
    }
    const char *perr = A.proxy ? proxy_last_error(A.proxy) : NULL;
    if (perr != NULL && perr[0] != '\0')
        hold(g, "", ALERT_PROXY_REFUSED, perr);
    /* What no longer holds recovers, once. */
    size_t w = 0;
    for (size_t i = 0; i < A.n_act; i++) {
        struct active *a = &A.act[i];
        if (a->held) {
            A.act[w++] = *a;
            continue;
        }
        log_info(a->tenant[0] ? a->tenant : NULL, "alert %s recovered", kind_names[a->kind]);
        statedb_kv_del("alert", a->tenant, kind_names[a->kind]);
        alerts_send(g, a->tenant, a->kind, "recovered", a->detail, a->since);
    }
    A.n_act = w;
    w = 0;
    for (size_t i = 0; i < A.n_rs; i++)
        if (A.rs[i].seen)
            A.rs[w++] = A.rs[i];
    A.n_rs = w;
}

static void on_timer(uv_timer_t *t)
{
    (void)t;
    round_once();
    uv_timer_start(&A.timer, on_timer, (uint64_t)sup_config(A.sup)->g.alerts_check_ms, 0);
}

int alerts_start(uv_loop_t *loop, struct sup *s, struct proxy *proxy)
{
    if (A.running)
        return -EALREADY;
    A.loop = loop;
    A.sup = s;
    A.proxy = proxy;
    A.started = time(NULL);
    int rc = uv_timer_init(loop, &A.timer);
    if (rc < 0)
        return rc;
    statedb_kv_each("alert", load_one, NULL);
    if (A.n_act > 0)
        log_info(NULL, "alerts: %zu active alert(s) carried over from state.db", A.n_act);
    A.running = true;
    uv_timer_start(&A.timer, on_timer, (uint64_t)sup_config(s)->g.alerts_check_ms, 0);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    (void)h;
}

void alerts_stop(void)
{
    if (!A.running)
        return;
    A.running = false;
    uv_timer_stop(&A.timer);
    uv_close((uv_handle_t *)&A.timer, on_timer_closed);
    alerts_send_stop();
    free(A.act);
    free(A.rs);
    A.act = NULL;
    A.rs = NULL;
    A.n_act = A.cap_act = A.n_rs = A.cap_rs = 0;
    A.proxy = NULL;
}

void alerts_delivered(const char *channel, const char *tenant, enum alert_kind k, const char *event,
                      const char *error)
{
    struct delivery *d = &A.hist[A.hist_head];
    A.hist_head = (A.hist_head + 1) % HISTORY;
    if (A.n_hist < HISTORY)
        A.n_hist++;
    memset(d, 0, sizeof *d);
    d->time = time(NULL);
    d->kind = k;
    snprintf(d->channel, sizeof d->channel, "%s", channel);
    snprintf(d->tenant, sizeof d->tenant, "%s", tenant);
    snprintf(d->event, sizeof d->event, "%s", event);
    snprintf(d->error, sizeof d->error, "%s", error ? error : "");
    if (error) {
        A.failed++;
        log_warn(tenant[0] ? tenant : NULL, "alert %s %s: %s delivery failed: %s", kind_names[k],
                 event, channel, error);
    } else {
        A.ok++;
    }
}

static void iso(time_t t, char *buf, size_t n)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *alerts_json(void)
{
    json_t *act = json_array(), *del = json_array();
    char ts[32];
    for (size_t i = 0; i < A.n_act; i++) {
        iso(A.act[i].since, ts, sizeof ts);
        json_array_append_new(act, json_pack("{s:s, s:s, s:s, s:s}", "tenant", A.act[i].tenant,
                                             "kind", kind_names[A.act[i].kind], "since", ts,
                                             "detail", A.act[i].detail));
    }
    for (unsigned i = 0; i < A.n_hist; i++) {
        const struct delivery *d = &A.hist[(A.hist_head + HISTORY - 1 - i) % HISTORY];
        iso(d->time, ts, sizeof ts);
        json_array_append_new(del, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "time", ts,
                                             "channel", d->channel, "tenant", d->tenant, "kind",
                                             kind_names[d->kind], "event", d->event, "result",
                                             d->error[0] ? "error" : "ok", "error", d->error));
    }
    return json_pack("{s:o, s:o, s:{s:I, s:I}}", "active", act, "deliveries", del, "delivered",
                     "ok", (json_int_t)A.ok, "error", (json_int_t)A.failed);
}

void alerts_metrics(FILE *f)
{
    fprintf(f, "# HELP tenantd_alerts_active Alerts whose condition holds now, by kind.\n"
               "# TYPE tenantd_alerts_active gauge\n");
    for (int k = 0; k < ALERT__COUNT; k++) {
        int n = 0;
        for (size_t i = 0; i < A.n_act; i++)
            n += A.act[i].kind == (enum alert_kind)k;
        fprintf(f, "tenantd_alerts_active{kind=\"%s\"} %d\n", kind_names[k], n);
    }
    fprintf(f, "# HELP tenantd_alert_deliveries_total Alert messages delivered (webhook or "
               "e-mail), by result.\n# TYPE tenantd_alert_deliveries_total counter\n");
    fprintf(f, "tenantd_alert_deliveries_total{result=\"ok\"} %" PRIu64 "\n", A.ok);
    fprintf(f, "tenantd_alert_deliveries_total{result=\"error\"} %" PRIu64 "\n", A.failed);
}

uv_loop_t *alerts_loop(void)
{
    return A.loop;
}
