/*
 * ctl_cmd.h — what tenantctl's command files share: the parsed command line
 * (struct ctl), the command table's entry, and the helpers that send a
 * request and report an error the same way for every command. ctl_main.c
 * owns the table, ctl_api.c the helpers; ctl_onboard.c and ctl_wait.c hold
 * commands. Nothing here is part of the admin API's contract (ctl.h is the
 * client's).
 */
#ifndef TENANTD_CTL_CMD_H
#define TENANTD_CTL_CMD_H

#include "ctl.h"

#include "config.h"

/* Most requests answer at once; onboarding waits for the worker to be ready. */
#define CTL_TIMEOUT_MS 30000

struct ctl {
    const char *config_path;
    char socket_path[CONFIG_PATH_MAX];
    bool json;
    bool help;
    int argc; /* the command and its own arguments, global options removed */
    char **argv;
    const struct ctl_cmd *cmd; /* the command being run */
};

struct ctl_cmd {
    const char *name;
    const char *usage;
    const char *help;
    int (*run)(struct ctl *c);
};

/* ctl_main.c: the command table. */
const struct ctl_cmd *ctl_find_cmd(const char *name);

/* ctl_api.c */
/* Print "tenantctl: <message>" and the command's usage; returns exit 2. */
int ctl_usage_error(const struct ctl_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Fill c->socket_path ($TENANTD_ADMIN_SOCKET or [admin] socket); 0 or an
 * exit code (printed). */
int ctl_resolve_socket(struct ctl *c);
/* A transport error that means tenantd cannot be reached (exit 3). */
bool ctl_unreachable(int rc);
/* One request; on a transport failure print why and return exit 3 or 1. */
int ctl_request(struct ctl *c, const char *method, const char *path, const char *body,
                int timeout_ms, struct ctl_response *r);
/* Turn a non-2xx answer into a message on stderr and an exit code. */
int ctl_api_error(const struct ctl_response *r);
/* A valid tenant id, else a usage error is printed and false returned. */
bool ctl_valid_id_arg(const struct ctl_cmd *cmd, const char *id);
/* POST body (consumed) and parse the 2xx answer into *out; else exit code. */
int ctl_post_json(struct ctl *c, const char *path, json_t *body, int timeout_ms, json_t **out);

/* ctl_onboard.c */
int ctl_cmd_onboard(struct ctl *c);
int ctl_cmd_offboard(struct ctl *c);
int ctl_cmd_create_admin(struct ctl *c);

/* ctl_upgrade.c */
int ctl_cmd_upgrade(struct ctl *c);

/* ctl_wait.c */
/*
 * Wait until tenant id is in one of `states` (comma-separated) or timeout_ms
 * has passed, with GET /v1/tenants/<id>?wait= (no polling). Returns 0 with
 * *http_status and *body (the last answer's JSON, or NULL; the caller
 * decrefs it; "reached" tells the outcome when the status is 200), or the
 * transport's -errno with a message in err.
 */
int ctl_wait_state(const char *socket_path, const char *id, const char *states, int64_t timeout_ms,
                   int *http_status, json_t **body, char *err, size_t errlen);
int ctl_cmd_wait(struct ctl *c);

/* ctl_migrate.c */
int ctl_cmd_migrate(struct ctl *c);

/* ctl_billing.c */
int ctl_cmd_billing(struct ctl *c);

#endif
