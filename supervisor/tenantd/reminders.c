/*
 * reminders.c — polling the workers and sending deadline reminders
 * (reminders.h).
 *
 * Two lists: the polls under way (one GET per running tenant and round) and
 * the jobs, one per reminder between its listing and its report: MAILING
 * while curl sends it, MARKING while the worker is told, UNMARKED when
 * telling it failed (next round tells it again instead of mailing again).
 * A reminder listed again while it has a job is skipped.
 */
#include "reminders.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerts.h"
#include "config.h"
#include "log.h"
#include "sup.h"
#include "usage_fetch.h"
#include "usage_token.h"

#define FETCH_TIMEOUT_MS 5000
#define REMINDERS_PER_ROUND 100

enum job_state { J_MAILING, J_MARKING, J_UNMARKED };

struct job {
    struct job *next;
    enum job_state state;
    char tenant[CONFIG_ID_MAX];
    char id[48];
    char msgid[256];           /* the mail's Message-ID, the ledger's key */
    struct usage_fetch *fetch; /* J_MARKING */
};

struct poll {
    struct poll *next;
    char tenant[CONFIG_ID_MAX];
    char name[CONFIG_TEXT_MAX];
    struct usage_fetch *fetch;
};

static struct {
    uv_loop_t *loop;
    struct sup *sup;
    uv_timer_t timer;
    bool running;
    struct poll *polls;
    struct job *jobs;
    uint64_t sent, failed, bad;
} R;

static struct job *job_find(const char *tenant, const char *id)
{
    for (struct job *j = R.jobs; j; j = j->next)
        if (strcmp(j->tenant, tenant) == 0 && strcmp(j->id, id) == 0)
            return j;
    return NULL;
}

static void job_free(struct job *j)
{
    for (struct job **p = &R.jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            break;
        }
    free(j);
}

static int target(const char *tenant, int *port, char *token, size_t n)
{
    return sup_tenant_usage_target(R.sup, tenant, port, token, n);
}

static void on_marked(void *arg, int result, const char *body, size_t len)
{
    struct job *j = arg;
    (void)body;
    (void)len;
    j->fetch = NULL;
    if (result >= 200 && result < 300) {
        job_free(j);
        return;
    }
    log_warn(j->tenant,
             "reminder %s: sent, but the worker did not record it (%d); told again "
             "next round",
             j->id, result);
    j->state = J_UNMARKED;
}

static void mark(struct job *j)
{
    char token[USAGE_TOKEN_LEN + 1], path[96];
    int port = 0;
    j->state = J_UNMARKED;
    if (target(j->tenant, &port, token, sizeof token) < 0) {
        log_warn(j->tenant, "reminder %s: the worker is not running; told next round", j->id);
        return;
    }
    snprintf(path, sizeof path, "/internal/reminders/%s/sent", j->id);
    int rc = usage_fetch_request(R.loop, port, token, "POST", path, FETCH_TIMEOUT_MS, on_marked, j,
                                 &j->fetch);
    sodium_memzero(token, sizeof token);
    if (rc == 0)
        j->state = J_MARKING;
}

static void on_mailed(void *arg, const char *error)
{
    struct job *j = arg;
    if (!R.running) {
        job_free(j);
        return;
    }
    if (error != NULL) {
        R.failed++;
        log_warn(j->tenant, "reminder %s: the mail failed: %s; retried next round", j->id, error);
        job_free(j);
        return;
    }
    R.sent++;
    log_info(j->tenant, "reminder %s: mailed", j->id);
    /* On disk before the worker is told: a restart from here on reports it
     * again instead of mailing it again. */
    if (reminders_ledger_put(j->tenant, j->msgid) < 0)
        log_error(j->tenant,
                  "reminder %s: mailed, but state.db cannot record it (%s): a restart of "
                  "tenantd before the worker records it would mail it again",
                  j->id, reminders_ledger_error());
    mark(j);
}

static struct job *job_new(const char *tenant, const struct reminder *r, const char *msgid)
{
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return NULL;
    snprintf(j->tenant, sizeof j->tenant, "%s", tenant);
    snprintf(j->id, sizeof j->id, "%s", r->id);
    snprintf(j->msgid, sizeof j->msgid, "%s", msgid);
    j->next = R.jobs;
    R.jobs = j;
    return j;
}

static void send_one(const struct config_global *g, const struct reminder_firm *f,
                     const struct reminder *r)
{
    const char *tenant = f->tenant;
    struct job *j = job_find(tenant, r->id);
    char msgid[256];
    if (j != NULL) {
        if (j->state == J_UNMARKED)
            mark(j);
        return;
    }
    reminder_message_id(tenant, r, g->mail_from, msgid, sizeof msgid);
    int had = reminders_ledger_has(tenant, msgid);
    if (had < 0)
        log_warn(tenant, "reminder %s: state.db cannot be read (%s); mailing it", r->id,
                 reminders_ledger_error());
    if (had > 0) { /* mailed before a restart, never recorded by the worker */
        log_info(tenant, "reminder %s: already mailed (state.db), reporting it to the worker",
                 r->id);
        if ((j = job_new(tenant, r, msgid)) != NULL)
            mark(j);
        return;
    }
    size_t len = 0;
    char *msg = reminder_message(r, f, time(NULL), &len);
    j = msg != NULL ? job_new(tenant, r, msgid) : NULL;
    if (j == NULL) {
        free(msg);
        return;
    }
    j->state = J_MAILING;
    char err[256];
    const char *cc[REMINDER_CC_MAX];
    for (size_t i = 0; i < r->ncc; i++)
        cc[i] = r->cc[i];
    if (alerts_mail(R.loop, g, r->to, cc, r->ncc, msg, len, on_mailed, j, err, sizeof err) < 0) {
        R.failed++;
        log_warn(tenant, "reminder %s: the mail cannot be queued: %s", r->id, err);
        job_free(j);
    }
    free(msg);
}

static void poll_free(struct poll *p)
{
    for (struct poll **q = &R.polls; *q; q = &(*q)->next)
        if (*q == p) {
            *q = p->next;
            break;
        }
    free(p);
}

static void bad_answer(const char *tenant, const char *why)
{
    R.bad++;
    log_warn(tenant, "reminders: bad answer from the worker (as a 502): %s", why);
}

static void on_listed(void *arg, int result, const char *body, size_t len)
{
    struct poll *p = arg;
    char tenant[CONFIG_ID_MAX], name[CONFIG_TEXT_MAX], why[160];
    snprintf(tenant, sizeof tenant, "%s", p->tenant);
    snprintf(name, sizeof name, "%s", p->name);
    poll_free(p);
    if (result != 200) {
        if (result > 0)
            bad_answer(tenant, result == 404 ? "GET /internal/reminders is not served (404)"
                                             : "GET /internal/reminders did not answer 200");
        else
            log_warn(tenant, "reminders: asking the worker: %s", uv_strerror(result));
        return;
    }
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    json_t *arr = json_object_get(j, "reminders");
    json_t *lang = json_object_get(j, "language");
    json_t *tz = json_object_get(j, "timezone");
    if (!json_is_array(arr) || (lang != NULL && !json_is_string(lang) && !json_is_null(lang))) {
        bad_answer(tenant, j == NULL ? "not JSON" : "not an object with a \"reminders\" array");
        json_decref(j);
        return;
    }
    const struct config_global *g = &sup_config(R.sup)->g;
    struct reminder_firm f = {
        .tenant = tenant,
        .name = name,
        .language = json_is_string(lang) ? json_string_value(lang) : "fr",
        .timezone = json_is_string(tz) ? json_string_value(tz) : "",
        .from = g->mail_from,
    };
    size_t i, done = 0;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        struct reminder r;
        if (done >= REMINDERS_PER_ROUND)
            break;
        if (reminder_parse(v, &r, why, sizeof why) < 0) {
            bad_answer(tenant, why);
            continue;
        }
        send_one(g, &f, &r);
        done++;
    }
    json_decref(j);
}

static void on_timer(uv_timer_t *t)
{
    (void)t;
    const struct config_global *g = &sup_config(R.sup)->g;
    if (g->mail_relay[0] && g->mail_from[0] && R.polls == NULL) {
        size_t n = sup_tenant_count(R.sup);
        char path[64];
        snprintf(path, sizeof path, "/internal/reminders?due_before=%lld", (long long)time(NULL));
        for (size_t i = 0; i < n; i++) {
            struct tenant_view v;
            char token[USAGE_TOKEN_LEN + 1];
            int port = 0;
            if (sup_tenant_view_nostats(R.sup, i, &v) < 0 || v.state != TS_RUNNING ||
                target(v.id, &port, token, sizeof token) < 0)
                continue;
            struct poll *p = calloc(1, sizeof *p);
            if (p == NULL) {
                sodium_memzero(token, sizeof token);
                break;
            }
            snprintf(p->tenant, sizeof p->tenant, "%s", v.id);
            snprintf(p->name, sizeof p->name, "%s", v.name[0] ? v.name : v.id);
            p->next = R.polls;
            R.polls = p;
            int rc = usage_fetch_request(R.loop, port, token, "GET", path, FETCH_TIMEOUT_MS,
                                         on_listed, p, &p->fetch);
            sodium_memzero(token, sizeof token);
            if (rc < 0)
                poll_free(p);
        }
    }
    uv_timer_start(&R.timer, on_timer, (uint64_t)g->mail_reminders_every_ms, 0);
}

int reminders_start(uv_loop_t *loop, struct sup *s)
{
    if (R.running)
        return -EALREADY;
    R.loop = loop;
    R.sup = s;
    int rc = uv_timer_init(loop, &R.timer);
    if (rc < 0)
        return rc;
    char err[512];
    if (reminders_ledger_open(sup_config(s)->g.run_dir, err, sizeof err) < 0)
        log_error(NULL,
                  "reminders: %s; a restart of tenantd may mail a reminder the worker had "
                  "not recorded yet a second time",
                  err);
    R.running = true;
    uv_timer_start(&R.timer, on_timer, (uint64_t)sup_config(s)->g.mail_reminders_every_ms, 0);
    return 0;
}

void reminders_stop(void)
{
    if (!R.running)
        return;
    R.running = false;
    uv_timer_stop(&R.timer);
    uv_close((uv_handle_t *)&R.timer, NULL);
    reminders_ledger_close();
    while (R.polls) {
        usage_fetch_cancel(R.polls->fetch);
        poll_free(R.polls);
    }
    /* Jobs being mailed are freed by their callback (alerts_send_stop). */
    struct job **p = &R.jobs;
    while (*p) {
        struct job *j = *p;
        if (j->state == J_MAILING) {
            p = &j->next;
            continue;
        }
        if (j->fetch)
            usage_fetch_cancel(j->fetch);
        *p = j->next;
        free(j);
    }
}

void reminders_metrics(FILE *f)
{
    fprintf(f,
            "# HELP tenantd_reminders_sent_total Deadline reminders mailed through the relay.\n"
            "# TYPE tenantd_reminders_sent_total counter\n"
            "tenantd_reminders_sent_total %" PRIu64 "\n",
            R.sent);
    fprintf(f,
            "# HELP tenantd_reminders_failed_total Deadline reminder mails that failed (retried "
            "next round).\n"
            "# TYPE tenantd_reminders_failed_total counter\n"
            "tenantd_reminders_failed_total %" PRIu64 "\n",
            R.failed);
    fprintf(f,
            "# HELP tenantd_reminders_bad_answers_total Workers' answers to "
            "/internal/reminders refused (not 200, not JSON, a bad field).\n"
            "# TYPE tenantd_reminders_bad_answers_total counter\n"
            "tenantd_reminders_bad_answers_total %" PRIu64 "\n",
            R.bad);
}
