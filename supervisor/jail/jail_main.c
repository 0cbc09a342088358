/*
 * jail_main.c — tenant-jail's main(): parse the command line, then hand over
 * to jail_run() (jail_run.c), which applies the steps and execs the worker.
 * See jail.h for the options and jail_run.c for the order of the steps.
 */
#include "jail.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef JAIL_ASAN
/* Read by the ASan runtime before main; ASAN_OPTIONS from the environment
 * still wins. Leak checking of the worker itself stays on where it runs
 * without the jail (tests/integration/test_worker.py). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "detect_leaks=0";
}
#endif

int main(int argc, char **argv)
{
    struct jail_opts o;
    char err[512];
    if (jail_parse_args(argc, argv, &o, err, sizeof err) < 0) {
        /* The status fd is used when it was parsed before the error. */
        if (o.status_fd >= 0) {
            char line[600];
            int n = snprintf(line, sizeof line, "args: %s", err);
            if (n > 0 && write(o.status_fd, line, strlen(line)) < 0)
                perror("tenant-jail: status fd");
        }
        fprintf(stderr, "tenant-jail: [%s] args: %s\n", o.id[0] ? o.id : "?", err);
        return EXITCODE_JAIL;
    }
    return jail_run(&o);
}
