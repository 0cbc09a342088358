/*
 * http_status.c — see http_status.h. One reason-phrase table for every
 * program; it lists the codes tenantd's admin API and the worker send.
 */
#include "http_status.h"

#include <stdio.h>
#include <string.h>

const char *http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 507:
        return "Insufficient Storage";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status < 400 ? "OK" : status < 500 ? "Client Error" : "Internal Server Error";
    }
}

/* A whole-word search in a ", "-separated list: "GET" must not match inside
 * another method's name. */
static int listed(const char *allow, const char *method)
{
    size_t m = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += m) {
        int start = p == allow || p[-1] == ' ';
        int end = p[m] == '\0' || p[m] == ',';
        if (start && end)
            return 1;
    }
    return 0;
}

void http_allow_add(char *allow, size_t n, const char *method)
{
    if (n == 0 || listed(allow, method))
        return;
    size_t l = strlen(allow);
    snprintf(allow + l, n - l, "%s%s", l ? ", " : "", method);
    if (strcmp(method, "GET") == 0)
        http_allow_add(allow, n, "HEAD");
}
