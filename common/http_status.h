/*
 * http_status.h — the HTTP helpers that tenantd's admin API and the worker
 * share without sharing a server: the reason phrase of a status code and the
 * Allow header a route table computes for a 405. Both programs run h2o, but
 * nothing here knows about it (common/ links no h2o): these are pure
 * functions on plain C strings.
 */
#ifndef TENANTD_HTTP_STATUS_H
#define TENANTD_HTTP_STATUS_H

#include <stddef.h>

/* The reason phrase of a status code ("Not Found"); a static string. An
 * unlisted code gets its class's phrase ("Client Error" for an unlisted 4xx). */
const char *http_reason(int status);

/*
 * Add method to the Allow header's value being built in allow (a string of
 * n bytes, "" to begin with), unless it is already listed: "GET, POST".
 * Adding GET also adds HEAD, which every GET route answers. Truncates
 * silently at n - 1 bytes; route tables size the buffer for all of theirs.
 */
void http_allow_add(char *allow, size_t n, const char *method);

#endif
