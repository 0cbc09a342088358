/*
 * k8s_render.c — see k8s_render.h. Each object is a jansson tree built in the order a
 * reader expects (apiVersion, kind, metadata, spec); jansson keeps insertion order, and the
 * YAML printer below walks it. The mappings from tenantd's model to Kubernetes (resources,
 * network rule, uid, probes) are stated next to the code that makes them and in
 * docs/kubernetes.md.
 */
#include "k8s_render.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- a growing string ------------------------------------------------------------------ */

struct sbuf {
    char *s;
    size_t len, cap;
    bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_fmt(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(struct sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->oom = true; /* only short fixed texts go through here */
        return;
    }
    sb_add(b, tmp, (size_t)n);
}

static void sb_indent(struct sbuf *b, int n)
{
    static const char sp[] = "                                                                ";
    while (n > 0) {
        int k = n < (int)sizeof sp - 1 ? n : (int)sizeof sp - 1;
        sb_add(b, sp, (size_t)k);
        n -= k;
    }
}

/* ---- YAML scalars ------------------------------------------------------------------------ */

/* The next UTF-8 code point of s (advancing *i), or -1 for a malformed sequence (one byte
 * consumed). Overlong forms, surrogates and values above U+10FFFF are malformed. */
static long utf8_next(const unsigned char *s, size_t *i)
{
    unsigned c = s[*i];
    int len;
    long cp, min;
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    if ((c & 0xe0) == 0xc0) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        (*i)++;
        return -1;
    }
    for (int k = 1; k < len; k++) {
        if ((s[*i + k] & 0xc0) != 0x80) {
            (*i)++;
            return -1;
        }
        cp = (cp << 6) | (s[*i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        (*i)++;
        return -1;
    }
    *i += (size_t)len;
    return cp;
}

/*
 * YAML 1.2's printable set (c-printable) minus what the double-quoted style must escape:
 * everything else is written as an escape. A malformed UTF-8 byte becomes U+FFFD, so the
 * output is always valid UTF-8 (the config validator already refuses such bytes).
 */
size_t k8s_yaml_quote(const char *s, char *buf, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, need = 0;
#define PUT(str, l)                                                                                \
    do {                                                                                           \
        if (need + (l) < n)                                                                        \
            memcpy(buf + need, (str), (l));                                                        \
        need += (l);                                                                               \
    } while (0)
    PUT("\"", 1);
    while (u[i] != '\0') {
        size_t start = i;
        long cp = utf8_next(u, &i);
        char esc[16];
        if (cp == '"') {
            PUT("\\\"", 2);
        } else if (cp == '\\') {
            PUT("\\\\", 2);
        } else if (cp == '\n') {
            PUT("\\n", 2);
        } else if (cp == '\t') {
            PUT("\\t", 2);
        } else if (cp == '\r') {
            PUT("\\r", 2);
        } else if (cp < 0) {
            PUT("\\uFFFD", 6);
        } else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0xfeff ||
                   cp == 0xfffe || cp == 0xffff || (cp >= 0x2028 && cp <= 0x2029)) {
            /* Controls, the BOM, the non-characters and the Unicode line separators (which
             * YAML 1.1 parsers treat as line breaks). */
            int l = snprintf(esc, sizeof esc, "\\u%04lX", (unsigned long)cp);
            PUT(esc, (size_t)l);
        } else {
            PUT(s + start, i - start);
        }
    }
    PUT("\"", 1);
#undef PUT
    if (n > 0)
        buf[need < n ? need : n - 1] = '\0';
    return need;
}

static void sb_quoted(struct sbuf *b, const char *s)
{
    char small[256];
    size_t need = k8s_yaml_quote(s, small, sizeof small);
    if (need < sizeof small) {
        sb_add(b, small, need);
        return;
    }
    char *big = malloc(need + 1);
    if (big == NULL) {
        b->oom = true;
        return;
    }
    k8s_yaml_quote(s, big, need + 1);
    sb_add(b, big, need);
    free(big);
}

/* A key is written bare only when no YAML version can read it as anything but that string:
 * a letter first, then letters, digits and "._/-", and not one of YAML 1.1's boolean or
 * null words (y, n, yes, no, on, off, true, false, null in any case). */
static bool plain_key(const char *k)
{
    static const char *const words[] = {"y",   "n",    "yes",   "no",  "on",
                                        "off", "true", "false", "null"};
    if (!((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z')))
        return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '/' || *p == '-'))
            return false;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasecmp(k, words[i]) == 0)
            return false;
    return true;
}

static void emit_key(struct sbuf *b, const char *k)
{
    if (plain_key(k))
        sb_str(b, k);
    else
        sb_quoted(b, k);
    sb_str(b, ":");
}

/* ---- YAML blocks -------------------------------------------------------------------------- */

static bool is_scalar(const json_t *v)
{
    return !(json_is_object(v) && json_object_size(v) > 0) &&
           !(json_is_array(v) && json_array_size(v) > 0);
}

static void emit_scalar(struct sbuf *b, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        sb_quoted(b, json_string_value(v));
        break;
    case JSON_INTEGER:
        sb_fmt(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_TRUE:
        sb_str(b, "true");
        break;
    case JSON_FALSE:
        sb_str(b, "false");
        break;
    case JSON_OBJECT:
        sb_str(b, "{}");
        break;
    case JSON_ARRAY:
        sb_str(b, "[]");
        break;
    default:
        sb_str(b, "null"); /* never built: reals and nulls are not used */
        break;
    }
}

static void emit_map(struct sbuf *b, const json_t *o, int indent, bool first_inline);

static void emit_list(struct sbuf *b, const json_t *a, int indent)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        sb_indent(b, indent);
        sb_str(b, "- ");
        if (is_scalar(v)) {
            emit_scalar(b, v);
            sb_str(b, "\n");
        } else if (json_is_object(v)) {
            emit_map(b, v, indent + 2, true);
        } else {
            sb_str(b, "\n");
            emit_list(b, v, indent + 2);
        }
    }
}

static void emit_map(struct sbuf *b, const json_t *o, int indent, bool first_inline)
{
    const char *k;
    json_t *v;
    bool first = true;
    json_object_foreach((json_t *)o, k, v)
    {
        if (!(first && first_inline))
            sb_indent(b, indent);
        first = false;
        emit_key(b, k);
        if (is_scalar(v)) {
            sb_str(b, " ");
            emit_scalar(b, v);
            sb_str(b, "\n");
        } else if (json_is_object(v)) {
            sb_str(b, "\n");
            emit_map(b, v, indent + 2, false);
        } else {
            sb_str(b, "\n");
            emit_list(b, v, indent + 2);
        }
    }
}

/* One document: "---", comment lines (fixed texts of this file; never a config value
 * but ids, which are [a-z0-9-]), then the object. */
static void emit_doc(struct sbuf *b, const json_t *obj, const char *comments)
{
    sb_str(b, "---\n");
    if (comments != NULL)
        sb_str(b, comments);
    emit_map(b, obj, 0, false);
}

/* ---- building objects ------------------------------------------------------------------- */

/* jansson's setters take a reference; these keep the building code short and let an
 * allocation failure surface once, at the end (a NULL value makes json_object_set_new fail
 * and the object incomplete; render() checks the flag). */
struct build {
    bool oom;
};

static json_t *jset(struct build *bd, json_t *o, const char *k, json_t *v)
{
    if (v == NULL || json_object_set_new(o, k, v) != 0)
        bd->oom = true;
    return v;
}

static json_t *jobj(struct build *bd, json_t *parent, const char *k)
{
    json_t *o = json_object();
    return parent ? jset(bd, parent, k, o) : o;
}

static json_t *jarr(struct build *bd, json_t *parent, const char *k)
{
    return jset(bd, parent, k, json_array());
}

static void jstr(struct build *bd, json_t *o, const char *k, const char *v)
{
    jset(bd, o, k, json_string(v));
}

static void jint(struct build *bd, json_t *o, const char *k, long long v)
{
    jset(bd, o, k, json_integer(v));
}

static void jbool(struct build *bd, json_t *o, const char *k, bool v)
{
    jset(bd, o, k, json_boolean(v));
}

static json_t *jpush(struct build *bd, json_t *a, json_t *v)
{
    if (v == NULL || json_array_append_new(a, v) != 0)
        bd->oom = true;
    return v;
}

void k8s_quantity(int64_t bytes, char *buf, size_t n)
{
    static const struct {
        const char *unit;
        int64_t size;
    } units[] = {{"Ti", 1LL << 40}, {"Gi", 1LL << 30}, {"Mi", 1LL << 20}, {"Ki", 1LL << 10}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (bytes >= units[i].size && bytes % units[i].size == 0) {
            snprintf(buf, n, "%" PRId64 "%s", bytes / units[i].size, units[i].unit);
            return;
        }
    snprintf(buf, n, "%" PRId64, bytes);
}

/* The labels every object of a tenant carries; the selector uses the first two. */
static json_t *labels(struct build *bd, json_t *parent, const char *k,
                      const struct config_tenant *t, bool selector_only)
{
    json_t *l = jobj(bd, parent, k);
    jstr(bd, l, "app.kubernetes.io/name", "tenant-worker");
    jstr(bd, l, "app.kubernetes.io/instance", t->id);
    if (!selector_only) {
        jstr(bd, l, "app.kubernetes.io/managed-by", "tenantctl");
        jstr(bd, l, "tenantd/plan", t->plan);
    }
    return l;
}

static json_t *object(struct build *bd, const char *api, const char *kind, const char *name,
                      const struct k8s_opts *o, const struct config_tenant *t)
{
    json_t *obj = json_object(), *md;
    if (obj == NULL) {
        bd->oom = true;
        return NULL;
    }
    jstr(bd, obj, "apiVersion", api);
    jstr(bd, obj, "kind", kind);
    md = jobj(bd, obj, "metadata");
    jstr(bd, md, "name", name);
    if (md && o->namespace_[0] && strcmp(kind, "Namespace") != 0)
        jstr(bd, md, "namespace", o->namespace_);
    if (md && t != NULL) {
        labels(bd, md, "labels", t, false);
        /* The display name is free text: an annotation (any string), never a label. */
        json_t *an = jobj(bd, md, "annotations");
        jstr(bd, an, "tenantd/name", t->name);
    }
    return obj;
}

/* ---- checks --------------------------------------------------------------------------------- */

/* RFC 1123 label: what a namespace name must be. */
static bool dns_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

/* What an image reference, a storage class or an ingress class may hold here: printable
 * ASCII without spaces (the cluster checks the rest). */
static bool plain_word(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    return true;
}

int k8s_check_opts(const struct k8s_opts *o, char *err, size_t errlen)
{
    if (!dns_label(o->namespace_)) {
        snprintf(err, errlen,
                 "--namespace: a namespace is a DNS label (a-z, 0-9, '-', 63 at most)");
        return -EINVAL;
    }
    if (!dns_label(o->ingress_namespace)) {
        snprintf(err, errlen, "--ingress-namespace: a namespace is a DNS label");
        return -EINVAL;
    }
    if (o->image[0] == '\0' || !plain_word(o->image, 255)) {
        snprintf(err, errlen, "--image: an image reference has no spaces or control characters");
        return -EINVAL;
    }
    if (!plain_word(o->storage_class, 253) || !plain_word(o->ingress_class, 253)) {
        snprintf(err, errlen, "--storage-class, --ingress-class: a class name is one word");
        return -EINVAL;
    }
    return 0;
}

int k8s_check_tenant(const struct k8s_opts *o, const struct k8s_tenant *kt, char *err,
                     size_t errlen)
{
    const struct config_tenant *t = kt->t;
    size_t n = strlen(t->id);
    /* The ids allow a trailing '-' and Kubernetes names do not; mapping it to something
     * else could collide with another tenant's name, so such a tenant is refused. */
    if (n == 0 || t->id[n - 1] == '-') {
        snprintf(err, errlen, "the id ends with '-', which a Kubernetes name cannot");
        return -EINVAL;
    }
    if (t->command[0] != '\0' && !o->image_given) {
        snprintf(err, errlen,
                 "[worker] command runs its own program, which the bundled worker's image "
                 "does not have: export it with --image naming an image whose entrypoint runs "
                 "it and binds $PORT on every address");
        return -EINVAL;
    }
    switch (t->network) {
    case WORKER_NETWORK_NONE:
    case WORKER_NETWORK_LOCAL:    /* loopback of its own pod: nothing to reach */
    case WORKER_NETWORK_OUTBOUND: /* "host" is parsed as outbound */
        break;
    default:
        snprintf(err, errlen, "[worker] network: this rule has no NetworkPolicy mapping yet");
        return -EINVAL;
    }
    if (o->include_secrets && (kt->secret == NULL || kt->secret[0] == '\0')) {
        snprintf(err, errlen, "--include-secrets: the tenant has no secret yet (it never ran)");
        return -EINVAL;
    }
    return 0;
}

/* ---- the objects -------------------------------------------------------------------------- */

static void name_of(char *buf, size_t n, const char *id, const char *suffix)
{
    snprintf(buf, n, "tenant-%s%s", id, suffix);
}

static json_t *secret_obj(struct build *bd, const struct k8s_opts *o, const struct k8s_tenant *kt)
{
    char name[CONFIG_ID_MAX + 16];
    name_of(name, sizeof name, kt->t->id, "-secret");
    json_t *s = object(bd, "v1", "Secret", name, o, kt->t);
    jstr(bd, s, "type", "Opaque");
    json_t *d = jobj(bd, s, "stringData");
    jstr(bd, d, "SECRET_KEY", kt->secret);
    return s;
}

static json_t *service_obj(struct build *bd, const struct k8s_opts *o,
                           const struct config_tenant *t)
{
    char name[CONFIG_ID_MAX + 16];
    name_of(name, sizeof name, t->id, "");
    json_t *s = object(bd, "v1", "Service", name, o, t);
    json_t *spec = jobj(bd, s, "spec");
    jstr(bd, spec, "type", "ClusterIP");
    labels(bd, spec, "selector", t, true);
    json_t *p = jpush(bd, jarr(bd, spec, "ports"), json_object());
    jstr(bd, p, "name", "http");
    jint(bd, p, "port", 80);
    jstr(bd, p, "targetPort", "http");
    jstr(bd, p, "protocol", "TCP");
    return s;
}

static void env_value(struct build *bd, json_t *env, const char *k, const char *v)
{
    json_t *e = jpush(bd, env, json_object());
    jstr(bd, e, "name", k);
    jstr(bd, e, "value", v);
}

/*
 * The worker's environment from config_worker_env, the one list tenantd also uses, with
 * the paths that differ in the pod replaced: DATA_DIR is the volume's mount, TEMPLATES_DIR
 * the image's copy; SECRET_KEY comes from the Secret, never as a literal value.
 */
static int env_list(struct build *bd, json_t *container, const struct config_global *g,
                    const struct config_plans *p, const struct config_tenant *t)
{
    char **env = config_worker_env(g, p, t, NULL);
    char secret_name[CONFIG_ID_MAX + 16];
    if (env == NULL)
        return -ENOMEM;
    json_t *list = jarr(bd, container, "env");
    name_of(secret_name, sizeof secret_name, t->id, "-secret");
    for (char **e = env; *e; e++) {
        char key[64];
        const char *eq = strchr(*e, '=');
        if (eq == NULL || (size_t)(eq - *e) >= sizeof key)
            continue;
        memcpy(key, *e, (size_t)(eq - *e));
        key[eq - *e] = '\0';
        if (strcmp(key, "DATA_DIR") == 0) {
            env_value(bd, list, key, K8S_DATA_DIR);
        } else if (strcmp(key, "TEMPLATES_DIR") == 0) {
            env_value(bd, list, key, K8S_TEMPLATES_DIR);
        } else {
            env_value(bd, list, key, eq + 1);
        }
        if (strcmp(key, "PORT") == 0) {
            /* Where the seed's list has it: right after PORT. */
            json_t *s = jpush(bd, list, json_object());
            jstr(bd, s, "name", "SECRET_KEY");
            json_t *ref = jobj(bd, jobj(bd, s, "valueFrom"), "secretKeyRef");
            jstr(bd, ref, "name", secret_name);
            jstr(bd, ref, "key", "SECRET_KEY");
        }
    }
    free(env);
    return 0;
}

static int ms_to_s(int64_t ms, int min)
{
    int64_t s = (ms + 999) / 1000;
    return s < min ? min : s > 3600 ? 3600 : (int)s;
}

static void probe(struct build *bd, json_t *c, const char *k, const struct config_global *g,
                  int failures)
{
    json_t *pr = jobj(bd, c, k);
    json_t *h = jobj(bd, pr, "httpGet");
    jstr(bd, h, "path", "/healthz");
    jstr(bd, h, "port", "http");
    jint(bd, pr, "periodSeconds", ms_to_s(g->health_interval_ms, 1));
    jint(bd, pr, "timeoutSeconds", ms_to_s(g->health_timeout_ms, 1));
    jint(bd, pr, "failureThreshold", failures);
}

static json_t *statefulset_obj(struct build *bd, const struct k8s_opts *o,
                               const struct config_global *g, const struct config_plans *p,
                               const struct k8s_tenant *kt)
{
    const struct config_tenant *t = kt->t;
    char name[CONFIG_ID_MAX + 16], q[32];
    name_of(name, sizeof name, t->id, "");
    json_t *ss = object(bd, "apps/v1", "StatefulSet", name, o, t);
    json_t *spec = jobj(bd, ss, "spec");
    jstr(bd, spec, "serviceName", name);
    /* Suspended: no pod, as on the host no worker runs (data and objects stay). */
    jint(bd, spec, "replicas", t->status == TENANT_SUSPENDED ? 0 : 1);
    labels(bd, jobj(bd, spec, "selector"), "matchLabels", t, true);
    /* Offboarding keeps the data on the host; so does deleting the StatefulSet here. */
    json_t *ret = jobj(bd, spec, "persistentVolumeClaimRetentionPolicy");
    jstr(bd, ret, "whenDeleted", "Retain");
    jstr(bd, ret, "whenScaled", "Retain");

    json_t *tpl = jobj(bd, spec, "template");
    labels(bd, jobj(bd, tpl, "metadata"), "labels", t, false);
    json_t *ps = jobj(bd, tpl, "spec");
    jbool(bd, ps, "automountServiceAccountToken", false);
    jbool(bd, ps, "enableServiceLinks", false);
    jint(bd, ps, "terminationGracePeriodSeconds", ms_to_s(g->stop_grace_ms, 1));
    /* The jail's uid drop: the tenant's own uid and gid, no root, no supplementary group;
     * fsGroup makes the volume the tenant's, as the host's data dir is (mode 0700). */
    json_t *psc = jobj(bd, ps, "securityContext");
    jbool(bd, psc, "runAsNonRoot", true);
    jint(bd, psc, "runAsUser", kt->uid);
    jint(bd, psc, "runAsGroup", kt->uid);
    jint(bd, psc, "fsGroup", kt->uid);
    jstr(bd, psc, "fsGroupChangePolicy", "OnRootMismatch");
    jstr(bd, jobj(bd, psc, "seccompProfile"), "type", "RuntimeDefault");

    json_t *c = jpush(bd, jarr(bd, ps, "containers"), json_object());
    jstr(bd, c, "name", "worker");
    jstr(bd, c, "image", o->image);
    jstr(bd, c, "imagePullPolicy", "IfNotPresent");
    json_t *port = jpush(bd, jarr(bd, c, "ports"), json_object());
    jstr(bd, port, "name", "http");
    jint(bd, port, "containerPort", t->port);
    jstr(bd, port, "protocol", "TCP");
    if (env_list(bd, c, g, p, t) != 0)
        bd->oom = true;

    /* Memory: the cgroup's hard limit, requested in full so the scheduler places it where
     * it fits. CPU: tenantd sets a weight (a share of contended CPU, never a cap), so the
     * pod gets a request of cpu_weight millicores, which keeps the tenants' ratios, and no
     * CPU limit. pids: a pod spec has no such field (see the comment above the object). */
    json_t *res = jobj(bd, c, "resources");
    json_t *req = jobj(bd, res, "requests"), *lim = jobj(bd, res, "limits");
    k8s_quantity(t->memory_bytes, q, sizeof q);
    jstr(bd, req, "memory", q);
    jstr(bd, lim, "memory", q);
    snprintf(q, sizeof q, "%dm", t->cpu_weight);
    jstr(bd, req, "cpu", q);

    json_t *csc = jobj(bd, c, "securityContext");
    jbool(bd, csc, "runAsNonRoot", true);
    jbool(bd, csc, "allowPrivilegeEscalation", false);
    jbool(bd, csc, "readOnlyRootFilesystem", true);
    jpush(bd, jarr(bd, jobj(bd, csc, "capabilities"), "drop"), json_string("ALL"));

    /* tenantd's readiness (READY=1 or the first 200 on /healthz within ready_timeout) and
     * liveness (health_failures failed checks in a row restart it) become probes. */
    json_t *sp = jobj(bd, c, "startupProbe");
    json_t *sh = jobj(bd, sp, "httpGet");
    jstr(bd, sh, "path", "/healthz");
    jstr(bd, sh, "port", "http");
    jint(bd, sp, "periodSeconds", 1);
    jint(bd, sp, "failureThreshold", ms_to_s(g->ready_timeout_ms, 1));
    probe(bd, c, "readinessProbe", g, 1);
    probe(bd, c, "livenessProbe", g, g->health_failures);

    json_t *vm = jarr(bd, c, "volumeMounts");
    json_t *m = jpush(bd, vm, json_object());
    jstr(bd, m, "name", "data");
    jstr(bd, m, "mountPath", K8S_DATA_DIR);
    m = jpush(bd, vm, json_object());
    jstr(bd, m, "name", "tmp");
    jstr(bd, m, "mountPath", "/tmp");

    /* The jail's private /tmp. */
    json_t *v = jpush(bd, jarr(bd, ps, "volumes"), json_object());
    jstr(bd, v, "name", "tmp");
    jstr(bd, jobj(bd, v, "emptyDir"), "sizeLimit", "64Mi");

    json_t *pvc = jpush(bd, jarr(bd, spec, "volumeClaimTemplates"), json_object());
    json_t *pmd = jobj(bd, pvc, "metadata");
    jstr(bd, pmd, "name", "data");
    labels(bd, pmd, "labels", t, false);
    json_t *pspec = jobj(bd, pvc, "spec");
    jpush(bd, jarr(bd, pspec, "accessModes"), json_string("ReadWriteOnce"));
    if (o->storage_class[0])
        jstr(bd, pspec, "storageClassName", o->storage_class);
    k8s_quantity(kt->storage_bytes > 0 ? kt->storage_bytes : K8S_DEFAULT_STORAGE_BYTES, q,
                 sizeof q);
    jstr(bd, jobj(bd, jobj(bd, pspec, "resources"), "requests"), "storage", q);
    return ss;
}

static json_t *ingress_obj(struct build *bd, const struct k8s_opts *o,
                           const struct config_global *g, const struct config_tenant *t)
{
    char name[CONFIG_ID_MAX + 16], host[CONFIG_HOST_MAX + 80];
    name_of(name, sizeof name, t->id, "");
    snprintf(host, sizeof host, "%s.%s", t->subdomain, g->domain);
    json_t *in = object(bd, "networking.k8s.io/v1", "Ingress", name, o, t);
    json_t *spec = jobj(bd, in, "spec");
    if (o->ingress_class[0])
        jstr(bd, spec, "ingressClassName", o->ingress_class);
    if (g->tls_cert[0]) {
        json_t *tls = jpush(bd, jarr(bd, spec, "tls"), json_object());
        jpush(bd, jarr(bd, tls, "hosts"), json_string(host));
        jstr(bd, tls, "secretName", K8S_TLS_SECRET);
    }
    json_t *rule = jpush(bd, jarr(bd, spec, "rules"), json_object());
    jstr(bd, rule, "host", host);
    json_t *path = jpush(bd, jarr(bd, jobj(bd, rule, "http"), "paths"), json_object());
    jstr(bd, path, "path", "/");
    jstr(bd, path, "pathType", "Prefix");
    json_t *svc = jobj(bd, jobj(bd, path, "backend"), "service");
    jstr(bd, svc, "name", name);
    jstr(bd, jobj(bd, svc, "port"), "name", "http");
    return in;
}

static json_t *netpol_obj(struct build *bd, const struct k8s_opts *o, const struct config_tenant *t)
{
    char name[CONFIG_ID_MAX + 16];
    name_of(name, sizeof name, t->id, "");
    json_t *np = object(bd, "networking.k8s.io/v1", "NetworkPolicy", name, o, t);
    json_t *spec = jobj(bd, np, "spec");
    labels(bd, jobj(bd, spec, "podSelector"), "matchLabels", t, true);
    json_t *types = jarr(bd, spec, "policyTypes");
    jpush(bd, types, json_string("Ingress"));
    jpush(bd, types, json_string("Egress"));
    /* In: only the ingress controller's namespace, only to the worker's port (nginx on
     * loopback is the only client on the host). */
    json_t *from = jpush(bd, jarr(bd, spec, "ingress"), json_object());
    json_t *peer = jpush(bd, jarr(bd, from, "from"), json_object());
    jstr(bd, jobj(bd, jobj(bd, peer, "namespaceSelector"), "matchLabels"),
         "kubernetes.io/metadata.name", o->ingress_namespace);
    json_t *pp = jpush(bd, jarr(bd, from, "ports"), json_object());
    jstr(bd, pp, "protocol", "TCP");
    jint(bd, pp, "port", t->port);
    /* Out: [worker] network = none is the jail's empty network namespace (no egress at all,
     * DNS included), and local only reaches loopback, which in a pod is its own; outbound
     * lets the worker open any connection, so does the policy. */
    json_t *eg = jarr(bd, spec, "egress");
    if (t->network == WORKER_NETWORK_OUTBOUND)
        jpush(bd, eg, json_object());
    return np;
}

/* ---- documents ---------------------------------------------------------------------------- */

static char *finish(struct sbuf *b, bool oom)
{
    if (oom || b->oom) {
        free(b->s);
        errno = ENOMEM;
        return NULL;
    }
    return b->s;
}

char *k8s_render_shared(const struct k8s_opts *o, const struct config_global *g)
{
    struct build bd = {0};
    struct sbuf b = {0};
    json_t *ns = object(&bd, "v1", "Namespace", o->namespace_, o, NULL);
    /* The tenants' pods meet the "restricted" Pod Security Standard (non-root, no
     * privilege escalation, no capabilities, RuntimeDefault seccomp): enforce it. */
    json_t *l = jobj(&bd, json_object_get(ns, "metadata"), "labels");
    jstr(&bd, l, "app.kubernetes.io/managed-by", "tenantctl");
    jstr(&bd, l, "pod-security.kubernetes.io/enforce", "restricted");
    jstr(&bd, l, "pod-security.kubernetes.io/enforce-version", "latest");
    if (!bd.oom)
        emit_doc(&b, ns, "# tenantctl export k8s: what every tenant shares.\n");
    json_decref(ns);
    if (g->tls_cert[0])
        sb_fmt(&b,
               "# [proxy] has a TLS certificate: the Ingress rules use the Secret \"%s\".\n"
               "# Create it from the same files (not exported):\n"
               "#   kubectl -n %s create secret tls %s --cert=CERT --key=KEY\n",
               K8S_TLS_SECRET, o->namespace_, K8S_TLS_SECRET);
    return finish(&b, bd.oom);
}

char *k8s_render_tenant(const struct k8s_opts *o, const struct config_global *g,
                        const struct config_plans *p, const struct k8s_tenant *kt)
{
    const struct config_tenant *t = kt->t;
    struct build bd = {0};
    struct sbuf b = {0};
    char err[256], q[32];
    if (k8s_check_tenant(o, kt, err, sizeof err) != 0) {
        errno = EINVAL;
        return NULL;
    }
    char head[256];
    snprintf(head, sizeof head, "# tenantctl export k8s: tenant %s (plan %s%s)\n", t->id, t->plan,
             t->status == TENANT_SUSPENDED ? ", suspended: replicas 0" : "");
    if (o->include_secrets) {
        json_t *s = secret_obj(&bd, o, kt);
        char c[320];
        snprintf(c, sizeof c, "%s# Holds the tenant's SECRET_KEY: keep this file private.\n", head);
        if (!bd.oom)
            emit_doc(&b, s, c);
        json_decref(s);
        head[0] = '\0';
    }
    json_t *objs[4] = {service_obj(&bd, o, t), statefulset_obj(&bd, o, g, p, kt),
                       ingress_obj(&bd, o, g, t), netpol_obj(&bd, o, t)};
    char notes[1024] = "";
    size_t nl = 0;
#define NOTE(...)                                                                                  \
    do {                                                                                           \
        int w_ = snprintf(notes + nl, sizeof notes - nl, __VA_ARGS__);                             \
        if (w_ > 0 && (size_t)w_ < sizeof notes - nl)                                              \
            nl += (size_t)w_;                                                                      \
    } while (0)
    if (!o->include_secrets)
        NOTE("# SECRET_KEY comes from the Secret tenant-%s-secret (key SECRET_KEY), not\n"
             "# exported: create it from the tenant's data dir, or export --include-secrets.\n",
             t->id);
    NOTE("# pids: the plan's limit (%d) has no field in a pod spec; the node's\n"
         "# podPidsLimit (kubelet) is the nearest equivalent.\n",
         t->pids);
    k8s_quantity(kt->storage_bytes > 0 ? kt->storage_bytes : K8S_DEFAULT_STORAGE_BYTES, q,
                 sizeof q);
    NOTE("# storage: %s%s.\n# cpu: cpu_weight %d -> requests.cpu %dm, no limit.\n", q,
         kt->storage_bytes > 0 ? "" : " (the default: the plan sets no storage size)",
         t->cpu_weight, t->cpu_weight);
    NOTE("# uid %u%s.\n", (unsigned)kt->uid,
         kt->uid_assigned ? " from run/uids"
                          : " is the one tenantd would assign next (not in run/uids yet)");
#undef NOTE
    const char *comments[4] = {head, notes, NULL, NULL};
    for (size_t i = 0; i < 4; i++) {
        if (objs[i] == NULL)
            bd.oom = true;
        if (!bd.oom)
            emit_doc(&b, objs[i], comments[i]);
        json_decref(objs[i]);
    }
    return finish(&b, bd.oom);
}
