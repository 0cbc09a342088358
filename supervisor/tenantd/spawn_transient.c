/*
 * spawn_transient.c — shortages at a worker's start (spawn_transient.h).
 */
#include "spawn_transient.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const int shortage[] = {EMFILE, ENFILE, EAGAIN, ENOMEM};

bool transient_errno(int err)
{
    for (size_t i = 0; i < sizeof shortage / sizeof shortage[0]; i++)
        if (err == shortage[i])
            return true;
    return false;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return k <= n && memcmp(s + n - k, suffix, k) == 0;
}

int transient_status_errno(const char *msg)
{
    if (msg == NULL)
        return 0;
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    /* spawn.c's child: "exec <jail>: errno <N>". */
    size_t d = n;
    while (d > 0 && msg[d - 1] >= '0' && msg[d - 1] <= '9')
        d--;
    if (d < n && n - d <= 4 && d >= 6 && memcmp(msg + d - 6, "errno ", 6) == 0) {
        int err = atoi(msg + d);
        return transient_errno(err) ? err : 0;
    }
    /* A jail step: "<step>: <what>: <strerror(errno)>". */
    for (size_t i = 0; i < sizeof shortage / sizeof shortage[0]; i++) {
        char suffix[128] = ": ";
        strncat(suffix, strerror(shortage[i]), sizeof suffix - 3);
        if (ends_with(msg, n, suffix))
            return shortage[i];
    }
    return 0;
}

int64_t transient_delay_ms(int tries, uint32_t rnd)
{
    int64_t d = TRANSIENT_MIN_MS;
    for (int i = 0; i < tries && d < TRANSIENT_MAX_MS; i++)
        d *= 2;
    if (d > TRANSIENT_MAX_MS)
        d = TRANSIENT_MAX_MS;
    return d - (int64_t)(rnd % (uint32_t)(d / 4 + 1));
}
