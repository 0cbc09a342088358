/*
 * ctl_export.c — `tenantctl export k8s`: the I/O around k8s_render.c. Reads the
 * configuration, the uid map and (on request) the secrets, checks every selected tenant
 * first, then prints the manifests or writes them to a folder (one file per tenant plus
 * shared.yaml, each replaced atomically).
 */
#include "ctl_export.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "k8s_render.h"

#define USAGE                                                                                      \
    "usage: tenantctl [-c tenantd.ini] export k8s [--namespace N] [--image IMAGE]\n"               \
    "         [--storage-class C] [--ingress-class C] [--ingress-namespace N] [-o DIR]\n"          \
    "         [--include-secrets] [id...]\n"

struct uidrec {
    char id[CONFIG_ID_MAX];
    uint32_t uid;
};

struct export
{
    struct k8s_opts o;
    const char *out_dir;
    char **ids; /* as given; none = every tenant */
    int n_ids;
    struct config *cfg;
    struct uidrec *uids; /* run/uids, then the uids tenantd would assign next */
    size_t n_uids;
};

/* "tenantctl: export: <before><arg><after>" with arg made safe for a terminal. */
static int usage(const char *before, const char *arg, const char *after)
{
    char clean[128];
    ctl_sanitize(arg ? arg : "", clean, sizeof clean);
    fprintf(stderr, "tenantctl: export: %s%s%s\n" USAGE, before, clean, after);
    return CTL_EXIT_USAGE;
}

/* "--name VALUE" or "--name=VALUE": the value, advancing *i; NULL when not this option. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

static int parse_args(struct export *x, int argc, char **argv)
{
    x->o = (struct k8s_opts){.namespace_ = K8S_DEFAULT_NAMESPACE,
                             .image = K8S_DEFAULT_IMAGE,
                             .storage_class = "",
                             .ingress_class = "",
                             .ingress_namespace = K8S_DEFAULT_INGRESS_NAMESPACE};
    if (argc < 2 || strcmp(argv[1], "k8s") != 0)
        return usage("\"", argc < 2 ? "" : argv[1], "\": the only format is k8s");
    x->ids = calloc((size_t)argc, sizeof *x->ids);
    if (x->ids == NULL)
        return CTL_EXIT_ERROR;
    for (int i = 2; i < argc; i++) {
        bool missing = false;
        const char *v;
        if ((v = opt_value(argc, argv, &i, "--namespace", &missing)) != NULL) {
            x->o.namespace_ = v;
        } else if ((v = opt_value(argc, argv, &i, "--image", &missing)) != NULL) {
            x->o.image = v;
            x->o.image_given = true;
        } else if ((v = opt_value(argc, argv, &i, "--storage-class", &missing)) != NULL) {
            x->o.storage_class = v;
        } else if ((v = opt_value(argc, argv, &i, "--ingress-class", &missing)) != NULL) {
            x->o.ingress_class = v;
        } else if ((v = opt_value(argc, argv, &i, "--ingress-namespace", &missing)) != NULL) {
            x->o.ingress_namespace = v;
        } else if ((v = opt_value(argc, argv, &i, "-o", &missing)) != NULL) {
            x->out_dir = v;
        } else if (strcmp(argv[i], "--include-secrets") == 0) {
            x->o.include_secrets = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            return usage("", argv[i], ": export k8s prints YAML only");
        } else if (missing) {
            return usage("", argv[i], " needs a value");
        } else if (argv[i][0] == '-') {
            return usage("unknown option \"", argv[i], "\"");
        } else if (!config_valid_id(argv[i])) {
            return usage("\"", argv[i], "\" is not a valid tenant id");
        } else {
            x->ids[x->n_ids++] = argv[i];
        }
    }
    char err[256];
    if (k8s_check_opts(&x->o, err, sizeof err) != 0)
        return usage("", err, "");
    return 0;
}

/* ---- uids ----------------------------------------------------------------------------------- */

static int uid_add(struct export *x, const char *id, uint32_t uid)
{
    struct uidrec *u = realloc(x->uids, (x->n_uids + 1) * sizeof *u);
    if (u == NULL)
        return -ENOMEM;
    x->uids = u;
    snprintf(u[x->n_uids].id, sizeof u[x->n_uids].id, "%s", id);
    u[x->n_uids].uid = uid;
    x->n_uids++;
    return 0;
}

static const struct uidrec *uid_find(const struct export *x, const char *id)
{
    for (size_t i = 0; i < x->n_uids; i++)
        if (strcmp(x->uids[i].id, id) == 0)
            return &x->uids[i];
    return NULL;
}

/*
 * The uids tenantd gave (<run_dir>/uids, "id uid" lines, read with the rules of
 * supervisor/tenantd/uidmap.c), then, for the tenants it has not seen, the uids it would
 * give them next: one each from the highest ever handed out, in id order, as its first
 * start does. Read only: the export never writes the map. Returns how many were in the file.
 */
static int load_uids(struct export *x, size_t *from_file)
{
    char path[CONFIG_PATH_MAX + 8], line[128], id[CONFIG_ID_MAX + 1];
    unsigned long uid, next = K8S_UID_FIRST;
    snprintf(path, sizeof path, "%s/uids", x->cfg->g.run_dir);
    FILE *f = fopen(path, "re");
    if (f == NULL && errno != ENOENT) {
        fprintf(stderr, "tenantctl: export: %s: %s\n", path, strerror(errno));
        return -errno;
    }
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "%32s %lu", id, &uid) == 2 && config_valid_id(id) &&
            uid >= K8S_UID_FIRST && uid < 0x7fffffffUL && uid_find(x, id) == NULL) {
            if (uid_add(x, id, (uint32_t)uid) < 0) {
                fclose(f);
                return -ENOMEM;
            }
            if (uid >= next)
                next = uid + 1;
        }
    }
    if (f)
        fclose(f);
    *from_file = x->n_uids;
    for (size_t i = 0; i < x->cfg->n_tenants; i++)
        if (uid_find(x, x->cfg->tenants[i].id) == NULL &&
            uid_add(x, x->cfg->tenants[i].id, (uint32_t)next++) < 0)
            return -ENOMEM;
    return 0;
}

/* <data_dir>/<id>/secret as tenantd reads it: a regular file, not through a link, trailing
 * newlines dropped. Returns 0, or -errno with a reason printed. */
static int read_secret(const struct config_global *g, const char *id, char *out, size_t n)
{
    char dir[CONFIG_PATH_MAX], path[CONFIG_PATH_MAX + 16];
    config_tenant_data_dir(g, id, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/secret", dir);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    int rc = 0;
    if (fd < 0)
        rc = -errno;
    else if (fstat(fd, &st) != 0)
        rc = -errno;
    else if (!S_ISREG(st.st_mode))
        rc = -EINVAL;
    ssize_t got = rc == 0 ? read(fd, out, n - 1) : 0;
    if (got < 0)
        rc = -errno;
    if (fd >= 0)
        close(fd);
    if (rc != 0) {
        out[0] = '\0';
        return rc == -ENOENT ? 0 : rc; /* no secret yet: k8s_check_tenant says why */
    }
    size_t len = (size_t)got;
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
        len--;
    out[len] = '\0';
    return 0;
}

/* ---- output --------------------------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    char path[CONFIG_PATH_MAX + 64], tmp[CONFIG_PATH_MAX + 80];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    int rc = 0;
    if (fd < 0)
        return -errno;
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0) {
            rc = -errno;
            break;
        }
        off += (size_t)w;
    }
    if (rc == 0 && fchmod(fd, mode) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0) {
        unlink(tmp);
        fprintf(stderr, "tenantctl: export: %s: %s\n", path, strerror(-rc));
    } else {
        printf("%s\n", path);
    }
    return rc;
}

/* ---- the command ---------------------------------------------------------------------------- */

static bool selected(const struct export *x, const char *id)
{
    if (x->n_ids == 0)
        return true;
    for (int i = 0; i < x->n_ids; i++)
        if (strcmp(x->ids[i], id) == 0)
            return true;
    return false;
}

int ctl_export_cmd(int argc, char **argv, const char *config_path)
{
    struct export x = {0};
    struct config_diag d = {0};
    char **texts = NULL, *shared = NULL;
    size_t n_files = 0, from_file = 0;
    int rc = parse_args(&x, argc, argv), problems = 0;
    if (rc != 0)
        goto out;
    rc = CTL_EXIT_ERROR;
    if (config_load(config_path, &x.cfg, &d) != 0) {
        for (size_t i = 0; i < d.n; i++) {
            char clean[4096];
            ctl_sanitize(d.lines[i], clean, sizeof clean);
            fprintf(stderr, "%s\n", clean);
        }
        fprintf(stderr, "tenantctl: export: %s: the configuration is invalid\n", config_path);
        goto out;
    }
    for (int i = 0; i < x.n_ids; i++)
        if (config_find_tenant(x.cfg, x.ids[i]) == NULL) {
            fprintf(stderr, "tenantctl: export: no tenant \"%s\"\n", x.ids[i]);
            rc = CTL_EXIT_NOT_FOUND;
            goto out;
        }
    if (load_uids(&x, &from_file) < 0)
        goto out;
    texts = calloc(x.cfg->n_tenants + 1, sizeof *texts);
    char(*ids)[CONFIG_ID_MAX] = calloc(x.cfg->n_tenants + 1, CONFIG_ID_MAX);
    if (texts == NULL || ids == NULL) {
        free(ids);
        goto out;
    }

    /* Check every selected tenant before rendering any, so a refusal writes nothing. */
    for (size_t i = 0; i < x.cfg->n_tenants; i++) {
        const struct config_tenant_entry *e = &x.cfg->tenants[i];
        char err[512], secret[4096] = "", clean[4096];
        if (!selected(&x, e->id))
            continue;
        if (!e->valid) {
            ctl_sanitize(e->error ? e->error : "invalid", clean, sizeof clean);
            fprintf(stderr, "tenantctl: export k8s: %s: the tenant file is invalid:\n%s\n", e->id,
                    clean);
            problems++;
            continue;
        }
        if (e->t.status == TENANT_CANCELLED) {
            fprintf(stderr, "tenantctl: export k8s: %s: cancelled, not exported\n", e->id);
            continue;
        }
        const struct uidrec *u = uid_find(&x, e->id);
        struct k8s_tenant kt = {.t = &e->t,
                                .uid = u ? u->uid : K8S_UID_FIRST,
                                .uid_assigned = u && (size_t)(u - x.uids) < from_file,
                                .storage_bytes = 0};
        if (x.o.include_secrets && read_secret(&x.cfg->g, e->id, secret, sizeof secret) < 0) {
            fprintf(stderr, "tenantctl: export k8s: %s: cannot read its secret\n", e->id);
            problems++;
            continue;
        }
        kt.secret = secret;
        if (k8s_check_tenant(&x.o, &kt, err, sizeof err) != 0) {
            fprintf(stderr, "tenantctl: export k8s: %s: %s\n", e->id, err);
            problems++;
            continue;
        }
        if (problems == 0) {
            texts[n_files] = k8s_render_tenant(&x.o, &x.cfg->g, &x.cfg->plans, &kt);
            memcpy(ids[n_files], e->id, CONFIG_ID_MAX);
            if (texts[n_files++] == NULL) {
                fprintf(stderr, "tenantctl: export k8s: %s: %s\n", e->id, strerror(errno));
                problems++;
            }
        }
        explicit_bzero(secret, sizeof secret);
    }
    shared = problems ? NULL : k8s_render_shared(&x.o, &x.cfg->g);
    if (problems || shared == NULL) {
        if (!problems)
            fprintf(stderr, "tenantctl: export k8s: %s\n", strerror(errno));
        fprintf(stderr, "tenantctl: export k8s: nothing exported\n");
        free(ids);
        goto out;
    }

    if (x.out_dir == NULL) {
        fputs(shared, stdout);
        for (size_t i = 0; i < n_files; i++)
            fputs(texts[i], stdout);
        rc = fflush(stdout) == 0 && !ferror(stdout) ? CTL_EXIT_OK : CTL_EXIT_ERROR;
    } else {
        /* A folder with secrets in it is the operator's only. */
        mode_t mode = x.o.include_secrets ? 0600 : 0644;
        if (mkdir(x.out_dir, x.o.include_secrets ? 0700 : 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "tenantctl: export: %s: %s\n", x.out_dir, strerror(errno));
            free(ids);
            goto out;
        }
        rc = write_file(x.out_dir, "shared.yaml", shared, 0644) == 0 ? CTL_EXIT_OK : CTL_EXIT_ERROR;
        for (size_t i = 0; i < n_files && rc == CTL_EXIT_OK; i++) {
            char name[CONFIG_ID_MAX + 16];
            snprintf(name, sizeof name, "tenant-%s.yaml", ids[i]);
            if (write_file(x.out_dir, name, texts[i], mode) != 0)
                rc = CTL_EXIT_ERROR;
        }
    }
    free(ids);
out:
    if (texts)
        for (size_t i = 0; i < n_files; i++) {
            explicit_bzero(texts[i], strlen(texts[i]));
            free(texts[i]);
        }
    free(texts);
    free(shared);
    free(x.ids);
    free(x.uids);
    config_diag_clear(&d);
    config_free(x.cfg);
    return rc;
}
