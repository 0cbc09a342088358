/*
 * upgrade.c — tenantd re-execs itself in place and hands itself its state
 * (upgrade.h says the protocol). This file holds both ends: the old image
 * checks the new binary (-n), quiesces, serializes the state to a memfd and
 * execs; the new image reads the state, lets each module take its fds, and
 * commits, or gives everything back to the previous image.
 *
 * What it does not do: know what a tenant, a listener or nginx is. Each
 * module exports and adopts its own part (sup_upgrade.c, admin.c,
 * proxy_nginx.c) through upgrade_keep_fd / upgrade_take_fd.
 */
#include "upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "log.h"

#ifndef TENANTD_VERSION
#define TENANTD_VERSION "0"
#endif

extern char **environ;

#define MAX_KEPT 65536
#define STATE_MAX (64u << 20)

static struct {
    /* Both images. */
    char **argv; /* as this tenantd was first started, NULL-terminated */
    char binary[PATH_MAX];
    char notify_socket[PATH_MAX];
    long long exec_count;
    long long started; /* wall clock of the first start (s) */
    long long image_started;
    long long attempts; /* upgrades asked for since the first start */
    json_t *last;       /* the last upgrade's outcome, NULL when none */

    /* The new image, until commit. */
    bool adopting, rolled_back;
    json_t *state;
    int state_fd, prev_fd;
    int *kept; /* fds the state lists */
    bool *taken;
    size_t n_kept;

    /* The old image, during an upgrade. */
    uv_loop_t *loop;
    const char *config_path;
    struct upgrade_hooks h;
    bool in_progress;
    char target[PATH_MAX];
    int image_fd; /* this image, O_PATH: the new one's way back */
    struct child *check;
    upgrade_reply_fn reply;
    void *reply_arg;
    uv_timer_t exec_timer;
    bool timer_ready;
    json_t *export_fds; /* while exporting */
} U = {.state_fd = -1, .prev_fd = -1, .image_fd = -1};

/* ---- helpers ---------------------------------------------------------------- */

static int set_cloexec(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0)
        return -errno;
    fl = on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC;
    return fcntl(fd, F_SETFD, fl) < 0 ? -errno : 0;
}

static int env_fd(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return -1;
    char *end;
    long fd = strtol(v, &end, 10);
    if (*end || fd < 3 || fd > INT_MAX)
        return -1;
    return (int)fd;
}

static void set_last(const char *result, const char *reason)
{
    json_decref(U.last);
    U.last = json_pack("{s:s, s:s, s:I, s:I, s:I}", "result", result, "reason",
                       reason ? reason : "", "exec_count", (json_int_t)U.exec_count, "attempt",
                       (json_int_t)U.attempts, "at", (json_int_t)time(NULL));
}

/* ---- the crash handler of the new image, until commit --------------------------- */

static char rb_env_text[96] = UPGRADE_ENV_ROLLBACK "=the new image crashed with signal   ";
static char **rb_env;
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

static void on_fatal(int sig)
{
    /* Async-signal-safe only. The workers' parent-death signal fires when
     * the thread that forked them (the loop's, the main thread) ends, and an
     * exec from another thread (the threadpool's) ends it: hand the signal to
     * the main thread and wait there for the exec to end this one. */
    if ((pid_t)syscall(SYS_gettid) != getpid()) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal;
        sa.sa_flags = SA_RESETHAND | SA_NODEFER;
        sigaction(sig, &sa, NULL);
        syscall(SYS_tgkill, getpid(), getpid(), sig);
        for (;;)
            pause();
    }
    /* Patch the digits, exec the previous image. */
    size_t n = strlen(rb_env_text);
    rb_env_text[n - 2] = (char)('0' + (sig / 10) % 10);
    rb_env_text[n - 1] = (char)('0' + sig % 10);
    execveat(U.prev_fd, "", U.argv, rb_env, AT_EMPTY_PATH);
    _exit(70);
}

static void install_crash_handlers(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    rb_env = calloc(n + 2, sizeof *rb_env);
    if (!rb_env)
        return;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], UPGRADE_ENV_ROLLBACK "=", sizeof UPGRADE_ENV_ROLLBACK) != 0)
            rb_env[k++] = environ[i];
    rb_env[k] = rb_env_text;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        sigaction(fatal_signals[i], &sa, NULL);
}

static void remove_crash_handlers(void)
{
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        signal(fatal_signals[i], SIG_DFL);
    free(rb_env);
    rb_env = NULL;
}

static void on_atexit(void)
{
    if (U.adopting && !U.rolled_back)
        upgrade_rollback("the new image exited before it took the state");
}

/* ---- boot ------------------------------------------------------------------------ */

static int read_state(int fd, json_t **out, char *err, size_t n)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (size_t)st.st_size > STATE_MAX) {
        snprintf(err, n, "fd %d is not a state file", fd);
        return -EINVAL;
    }
    char *buf = malloc((size_t)st.st_size);
    if (!buf) {
        snprintf(err, n, "out of memory");
        return -ENOMEM;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        if (r <= 0) {
            free(buf);
            snprintf(err, n, "cannot read the state: %s", r < 0 ? strerror(errno) : "short");
            return -EIO;
        }
        got += (size_t)r;
    }
    json_error_t je;
    *out = json_loadb(buf, got, 0, &je);
    free(buf);
    if (!*out) {
        snprintf(err, n, "the state is not JSON: %s", je.text);
        return -EINVAL;
    }
    json_t *fmt = json_object_get(*out, "format");
    if (!json_is_integer(fmt) || json_integer_value(fmt) != UPGRADE_STATE_FORMAT) {
        snprintf(err, n, "state format %lld, this image reads %d",
                 json_is_integer(fmt) ? (long long)json_integer_value(fmt) : -1LL,
                 UPGRADE_STATE_FORMAT);
        json_decref(*out);
        *out = NULL;
        return -EINVAL;
    }
    return 0;
}

int upgrade_boot(int argc, char **argv)
{
    U.argv = calloc((size_t)argc + 1, sizeof *U.argv);
    for (int i = 0; U.argv && i < argc; i++)
        U.argv[i] = strdup(argv[i]);
    const char *ns = getenv("NOTIFY_SOCKET");
    if (ns)
        snprintf(U.notify_socket, sizeof U.notify_socket, "%s", ns);
    U.image_started = (long long)time(NULL);

    U.state_fd = env_fd(UPGRADE_ENV_STATE);
    U.prev_fd = env_fd(UPGRADE_ENV_PREV);
    if (U.state_fd < 0) {
        ssize_t l = readlink("/proc/self/exe", U.binary, sizeof U.binary - 1);
        U.binary[l > 0 ? l : 0] = '\0';
        U.started = U.image_started;
        return 0;
    }
    U.adopting = true;
    const char *rb = getenv(UPGRADE_ENV_ROLLBACK);
    U.rolled_back = rb != NULL;
    if (!U.rolled_back && U.prev_fd >= 0) {
        install_crash_handlers();
        atexit(on_atexit);
    }
    char err[256];
    if (read_state(U.state_fd, &U.state, err, sizeof err) < 0)
        upgrade_rollback(err);
    json_t *argvj = json_object_get(U.state, "argv");
    if (json_is_array(argvj) && json_array_size(argvj) > 0) {
        /* The original command line, whatever this image was called with. */
        char **nv = calloc(json_array_size(argvj) + 1, sizeof *nv);
        for (size_t i = 0; nv && i < json_array_size(argvj); i++)
            nv[i] = strdup(json_string_value(json_array_get(argvj, i)) ?: "");
        if (nv) {
            for (char **p = U.argv; p && *p; p++)
                free(*p);
            free(U.argv);
            U.argv = nv;
        }
    }
    snprintf(U.binary, sizeof U.binary, "%s",
             json_string_value(json_object_get(U.state, "binary")) ?: "");
    U.exec_count = json_integer_value(json_object_get(U.state, "exec_count")) + 1;
    U.started = json_integer_value(json_object_get(U.state, "started"));
    U.attempts = json_integer_value(json_object_get(U.state, "attempts"));
    snprintf(U.notify_socket, sizeof U.notify_socket, "%s",
             json_string_value(json_object_get(U.state, "notify_socket")) ?: "");
    json_t *fds = json_object_get(U.state, "fds");
    size_t nf = json_array_size(fds);
    if (nf > MAX_KEPT)
        upgrade_rollback("the state lists too many fds");
    U.kept = calloc(nf + 1, sizeof *U.kept);
    U.taken = calloc(nf + 1, sizeof *U.taken);
    if (!U.kept || !U.taken)
        upgrade_rollback("out of memory");
    for (size_t i = 0; i < nf; i++)
        U.kept[i] = (int)json_integer_value(json_array_get(fds, i));
    U.n_kept = nf;
    if (U.rolled_back)
        log_error(NULL, "upgrade: rolled back to this image (exec %lld): %s", U.exec_count, rb);
    else
        log_info(NULL, "upgrade: exec %lld, taking over the state of pid %d (%zu fds)",
                 U.exec_count, (int)getpid(), nf);
    return 1;
}

bool upgrade_adopting(void)
{
    return U.adopting;
}

json_t *upgrade_state(void)
{
    return U.adopting ? U.state : NULL;
}

int upgrade_take_fd(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!U.adopting || !json_is_integer(v))
        return -1;
    int fd = (int)json_integer_value(v);
    for (size_t i = 0; i < U.n_kept; i++) {
        if (U.kept[i] != fd || U.taken[i])
            continue;
        if (fcntl(fd, F_GETFD) < 0)
            return -1;
        U.taken[i] = true;
        return fd;
    }
    return -1;
}

void upgrade_commit(void)
{
    if (!U.adopting)
        return;
    size_t closed = 0;
    for (size_t i = 0; i < U.n_kept; i++) {
        if (U.taken[i]) {
            set_cloexec(U.kept[i], true);
        } else {
            close(U.kept[i]);
            closed++;
        }
    }
    if (!U.rolled_back)
        remove_crash_handlers();
    if (U.rolled_back)
        set_last("rolled back", getenv(UPGRADE_ENV_ROLLBACK));
    else
        set_last("ok", NULL);
    log_info(NULL, "upgrade: exec %lld serves (%zu fds taken, %zu left unused)", U.exec_count,
             U.n_kept - closed, closed);
    close(U.state_fd);
    if (U.prev_fd >= 0)
        close(U.prev_fd);
    U.state_fd = U.prev_fd = -1;
    unsetenv(UPGRADE_ENV_STATE);
    unsetenv(UPGRADE_ENV_PREV);
    unsetenv(UPGRADE_ENV_ROLLBACK);
    free(U.kept);
    free(U.taken);
    U.kept = NULL;
    U.taken = NULL;
    U.n_kept = 0;
    json_decref(U.state);
    U.state = NULL;
    U.adopting = false;
}

void upgrade_rollback(const char *why)
{
    if (!U.adopting || U.rolled_back || U.prev_fd < 0) {
        log_crit(NULL, "upgrade: %s; no image to go back to", why);
        _exit(1);
    }
    log_crit(NULL, "upgrade: %s: going back to the previous image", why);
    setenv(UPGRADE_ENV_ROLLBACK, why, 1);
    fflush(NULL);
    execveat(U.prev_fd, "", U.argv, environ, AT_EMPTY_PATH);
    log_crit(NULL, "upgrade: cannot exec the previous image: %s", strerror(errno));
    _exit(1);
}

/* ---- export and exec ---------------------------------------------------------- */

int upgrade_keep_fd(json_t *obj, const char *key, int fd)
{
    if (fd < 0 || !U.export_fds)
        return -EINVAL;
    if (json_object_set_new(obj, key, json_integer(fd)) < 0 ||
        json_array_append_new(U.export_fds, json_integer(fd)) < 0)
        return -ENOMEM;
    return 0;
}

static void cloexec_all(json_t *fds, bool on)
{
    size_t i;
    json_t *v;
    json_array_foreach(fds, i, v) set_cloexec((int)json_integer_value(v), on);
}

static int write_memfd(const char *text, char *err, size_t n)
{
    int fd = memfd_create("tenantd-state", MFD_ALLOW_SEALING);
    if (fd < 0) {
        snprintf(err, n, "memfd_create: %s", strerror(errno));
        return -1;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w <= 0) {
            snprintf(err, n, "cannot write the state: %s", strerror(errno));
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    /* The new image reads it as it is: nobody may change it. */
    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    return fd;
}

/* Returns only when the exec failed, with err filled. */
static void do_exec(char *err, size_t n)
{
    json_t *st = json_pack("{s:i, s:s, s:s, s:I, s:I, s:s, s:s, s:[]}", "format",
                           UPGRADE_STATE_FORMAT, "version", TENANTD_VERSION, "binary", U.binary,
                           "exec_count", (json_int_t)U.exec_count, "started", (json_int_t)U.started,
                           "notify_socket", U.notify_socket, "target", U.target, "fds");
    json_object_set_new(st, "attempts", json_integer((json_int_t)U.attempts));
    json_t *argvj = json_array();
    for (char **p = U.argv; p && *p; p++)
        json_array_append_new(argvj, json_string(*p));
    json_object_set_new(st, "argv", argvj);
    U.export_fds = json_object_get(st, "fds");
    int rc = U.h.export_state(U.h.arg, st, err, n);
    U.export_fds = NULL;
    char *text = rc == 0 ? json_dumps(st, JSON_COMPACT) : NULL;
    json_t *fds = json_incref(json_object_get(st, "fds"));
    json_decref(st);
    if (rc < 0 || !text) {
        if (!err[0])
            snprintf(err, n, "cannot serialize the state");
        free(text);
        json_decref(fds);
        return;
    }
    int mfd = write_memfd(text, err, n);
    free(text);
    if (mfd < 0) {
        json_decref(fds);
        return;
    }
    char v[16];
    snprintf(v, sizeof v, "%d", mfd);
    setenv(UPGRADE_ENV_STATE, v, 1);
    snprintf(v, sizeof v, "%d", U.image_fd);
    setenv(UPGRADE_ENV_PREV, v, 1);
    unsetenv(UPGRADE_ENV_ROLLBACK);
    if (U.notify_socket[0])
        setenv("NOTIFY_SOCKET", U.notify_socket, 1);
    cloexec_all(fds, false);
    set_cloexec(U.image_fd, false);
    log_notice(NULL, "upgrade: exec %s (%zu fds kept)", U.target, json_array_size(fds));
    fflush(NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* A reload or a second upgrade signalled while the new image starts must
     * not kill it (their default action): ignored until it handles them. */
    struct sigaction ign, old_hup, old_usr2;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGHUP, &ign, &old_hup);
    sigaction(SIGUSR2, &ign, &old_usr2);
    execv(U.target, U.argv);
    int e = errno;
    sigaction(SIGHUP, &old_hup, NULL);
    sigaction(SIGUSR2, &old_usr2, NULL);
    snprintf(err, n, "cannot exec %.300s: %s", U.target, strerror(e));
    cloexec_all(fds, true);
    set_cloexec(U.image_fd, true);
    json_decref(fds);
    close(mfd);
    unsetenv(UPGRADE_ENV_STATE);
    unsetenv(UPGRADE_ENV_PREV);
    unsetenv("NOTIFY_SOCKET");
}

static void upgrade_done(bool ok, const char *why)
{
    U.in_progress = false;
    if (U.image_fd >= 0)
        close(U.image_fd);
    U.image_fd = -1;
    if (!ok) {
        set_last("failed", why);
        log_error(NULL, "upgrade refused: %s", why);
    }
}

static void on_exec_timer(uv_timer_t *h)
{
    char err[512] = "";
    (void)h;
    if (!U.timer_ready)
        return; /* tenantd began to stop meanwhile */
    do_exec(err, sizeof err);
    upgrade_done(false, err);
    U.h.resume(U.h.arg);
}

static void on_quiesced(void *arg)
{
    (void)arg;
    /* From a timer rather than from inside the callback that got here:
     * answers being written on the loop get a turn to leave first. */
    uv_timer_start(&U.exec_timer, on_exec_timer, 5, 0);
}

static void on_check_done(void *arg, struct child_result *r)
{
    (void)arg;
    U.check = NULL;
    if (r->status == 0 && r->sig == 0 && !r->timed_out) {
        log_info(NULL, "upgrade: %s -n passed; quiescing", U.target);
        if (U.reply)
            U.reply(U.reply_arg, 0, "checked");
        U.reply = NULL;
        U.h.quiesce(U.h.arg, on_quiesced);
        return;
    }
    char why[1024], first[512] = "";
    const char *o = r->out ? r->out : "";
    /* The first line that says something, out of what it printed. */
    while (*o == '\n')
        o++;
    snprintf(first, sizeof first, "%.*s", (int)strcspn(o, "\n"), o);
    if (r->timed_out)
        snprintf(why, sizeof why, "the new binary %.300s did not finish its check (-n) in %d s",
                 U.target, UPGRADE_CHECK_TIMEOUT_MS / 1000);
    else if (r->sig)
        snprintf(why, sizeof why, "the new binary %.300s failed its check (-n): signal %d%s%.400s",
                 U.target, r->sig, first[0] ? ": " : "", first);
    else
        snprintf(why, sizeof why, "the new binary %.300s failed its check (-n): exit %lld%s%.400s",
                 U.target, (long long)r->status, first[0] ? ": " : "", first);
    upgrade_done(false, why);
    if (U.reply)
        U.reply(U.reply_arg, 1, why);
    U.reply = NULL;
}

void upgrade_init(uv_loop_t *loop, const char *config_path, const struct upgrade_hooks *h)
{
    U.loop = loop;
    U.config_path = config_path;
    U.h = *h;
    uv_timer_init(loop, &U.exec_timer);
    uv_unref((uv_handle_t *)&U.exec_timer);
    U.timer_ready = true;
}

static void on_timer_closed(uv_handle_t *h)
{
    (void)h;
}

void upgrade_close(void)
{
    if (!U.timer_ready)
        return;
    U.timer_ready = false;
    if (U.check)
        child_kill(U.check);
    uv_close((uv_handle_t *)&U.exec_timer, on_timer_closed);
    if (U.in_progress)
        upgrade_done(false, "tenantd is stopping");
}

int upgrade_start(const char *binary, upgrade_reply_fn reply, void *arg, char *err, size_t n)
{
    if (!U.timer_ready) {
        snprintf(err, n, "tenantd is not ready for an upgrade");
        return -EAGAIN;
    }
    if (U.in_progress) {
        snprintf(err, n, "an upgrade is already under way");
        return -EBUSY;
    }
    const char *target = binary && *binary ? binary : U.binary;
    struct stat st;
    if (target[0] != '/') {
        snprintf(err, n, "binary: \"%s\" is not an absolute path", target);
        return -EINVAL;
    }
    if (stat(target, &st) < 0 || !S_ISREG(st.st_mode) || access(target, X_OK) < 0) {
        snprintf(err, n, "binary: %s is not an executable file (%s)", target,
                 errno ? strerror(errno) : "not a regular file");
        return -EINVAL;
    }
    char why[512] = "";
    U.h.busy(U.h.arg, why, sizeof why);
    if (why[0]) {
        snprintf(err, n, "not now: %s", why);
        return -EBUSY;
    }
    snprintf(U.target, sizeof U.target, "%s", target);
    /* The way back, opened before anything changes: if the file is replaced
     * on disk, this still names the image that runs now. */
    U.image_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
    if (U.image_fd < 0) {
        int e = errno;
        snprintf(err, n, "cannot open this image (/proc/self/exe): %s", strerror(e));
        return -e;
    }
    char *argv[] = {U.target, "-n", "-c", (char *)U.config_path, NULL};
    struct child_opts o = {
        .argv = argv,
        .merge_stderr = true,
        .timeout_ms = UPGRADE_CHECK_TIMEOUT_MS,
        .log_label = "the upgrade check",
    };
    U.reply = reply;
    U.reply_arg = arg;
    U.in_progress = true;
    U.attempts++;
    int rc = child_start(U.loop, &o, on_check_done, NULL, &U.check, err, n);
    if (rc < 0) {
        U.reply = NULL;
        upgrade_done(false, err);
        return rc;
    }
    log_info(NULL, "upgrade: checking %s -n -c %s", U.target, U.config_path);
    return 0;
}

json_t *upgrade_status_json(void)
{
    return json_pack("{s:i, s:s, s:I, s:I, s:I, s:s, s:b, s:I, s:O?}", "pid", (int)getpid(),
                     "version", TENANTD_VERSION, "exec_count", (json_int_t)U.exec_count, "started",
                     (json_int_t)U.started, "image_started", (json_int_t)U.image_started, "binary",
                     U.binary, "in_progress", U.in_progress, "attempt", (json_int_t)U.attempts,
                     "last", U.last);
}
