/*
 * admin_alerts.c — GET /v1/alerts: the alerts whose condition holds now, the
 * last deliveries (webhook, e-mail) with their errors, and the delivery
 * counts (alerts.h).
 */
#include "admin_internal.h"

#include "alerts.h"

void admin_alerts_get(struct admin *a, h2o_req_t *req)
{
    (void)a;
    json_t *j = alerts_json();
    if (j == NULL)
        admin_send_error(req, 500, "internal", "out of memory");
    else
        admin_send_json(req, 200, j);
}
