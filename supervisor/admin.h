/*
 * admin.h — tenantd's admin surface: an HTTP/1.1 JSON API served by h2o on the
 * daemon's libuv loop, on the unix socket <run_dir>/admin.sock (mode 0600: the
 * file mode is the authentication) and on the TCP listener [admin] listen
 * (bearer token from <run_dir>/admin.token, mode 0600, compared in constant time).
 *
 * Routes: GET /v1/tenants, GET /v1/tenants/<id>, and (later) the rest of
 * DESIGN.md "Admin surface". Reads tenants through sup.h only.
 */
#ifndef TENANTD_ADMIN_H
#define TENANTD_ADMIN_H

#include <uv.h>

struct sup;
struct admin;

/* Create the token file if missing, bind both listeners and start serving.
 * Returns 0, or -errno with a message in err (tenantd then exits: the admin
 * surface is required). */
int admin_start(uv_loop_t *loop, struct sup *s, struct admin **out, char *err, size_t errlen);

/* Stop accepting, close connections, release everything; `done` is called on
 * the loop once every handle is closed (it may be NULL). */
void admin_stop(struct admin *a, void (*done)(void *arg), void *arg);

#endif
