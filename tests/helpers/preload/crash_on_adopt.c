/*
 * crash_on_adopt.so — LD_PRELOAD into a tenantd that is taking over an
 * upgrade's state (TENANTD_UPGRADE_STATE set, no TENANTD_UPGRADE_ROLLBACK):
 * when it reads the state (its first json_loadb), a second thread raises
 * SIGABRT while the main thread waits, as a crash in the threadpool would.
 * The image must then give the state back to the previous one (upgrade.c's
 * crash handler). Anywhere else it only forwards to jansson's json_loadb.
 * SIGABRT rather than SIGSEGV so that it also works under ASan, which keeps
 * SEGV for itself.
 */
#include <dlfcn.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

static void *crash(void *arg)
{
    (void)arg;
    raise(SIGABRT);
    return NULL;
}

json_t *json_loadb(const char *buffer, size_t buflen, size_t flags, json_error_t *error)
{
    static int done;
    json_t *(*real)(const char *, size_t, size_t, json_error_t *) =
        (json_t * (*)(const char *, size_t, size_t, json_error_t *)) dlsym(RTLD_NEXT, "json_loadb");
    if (!done && getenv("TENANTD_UPGRADE_STATE") && !getenv("TENANTD_UPGRADE_ROLLBACK")) {
        pthread_t t;
        done = 1;
        if (pthread_create(&t, NULL, crash, NULL) == 0) {
            /* The signal ends this wait: the handler execs the previous image. */
            struct timespec ts = {5, 0};
            nanosleep(&ts, NULL);
        }
    }
    return real(buffer, buflen, flags, error);
}
