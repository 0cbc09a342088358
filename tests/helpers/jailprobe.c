/*
 * jailprobe.c — a worker stand-in for tests/integration/test_isolation.py:
 * run inside tenant-jail, it reports on stdout, one JSON object per line,
 * what it can and cannot do from inside.
 *
 *   jailprobe probe [--other FILE] [--token FILE] [--connect PORT] [--accept]
 *       Try each thing and print {"check": NAME, "ok": BOOL, "errno": NAME},
 *       then its own identity ({"pid", "hostname", "cwd", "listen_pid",
 *       "tmpdir", "fds", "status": {...}}), then {"ready": true}. It then
 *       waits for stdin to close (so the test can look at /proc/<pid> from
 *       outside); with --accept it then accepts one connection on fd 3 and
 *       writes "hi\n" to it. SIGTERM makes it print {"sigterm": true} and
 *       exit 0.
 *   jailprobe hog MIB      allocate and touch MIB MiB, 1 MiB at a time.
 *   jailprobe forks N      fork up to N children that wait; print
 *                          {"forked": K, "errno": NAME}, release and reap them.
 *
 * What it does not do: anything on its own initiative; every loop is bounded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *errname(int e)
{
    switch (e) {
    case 0:
        return "";
    case EPERM:
        return "EPERM";
    case EACCES:
        return "EACCES";
    case ENOENT:
        return "ENOENT";
    case EROFS:
        return "EROFS";
    case ENETUNREACH:
        return "ENETUNREACH";
    case ECONNREFUSED:
        return "ECONNREFUSED";
    case EAGAIN:
        return "EAGAIN";
    case ENOSYS:
        return "ENOSYS";
    case EINVAL:
        return "EINVAL";
    case EAFNOSUPPORT:
        return "EAFNOSUPPORT";
    default:
        return "other";
    }
}

static void check(const char *name, int ok, int err)
{
    printf("{\"check\": \"%s\", \"ok\": %s, \"errno\": \"%s\"}\n", name, ok ? "true" : "false",
           ok ? "" : errname(err));
}

static void try_open(const char *name, const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0600);
    check(name, fd >= 0, errno);
    if (fd >= 0)
        close(fd);
}

static void on_term(int sig)
{
    static const char msg[] = "{\"sigterm\": true}\n";
    ssize_t w = write(STDOUT_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(0);
}

/* Print the interesting lines of /proc/self/status as a JSON object. */
static void print_status(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return;
    char line[512];
    printf("{\"status\": {");
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        v[strcspn(v, "\n")] = '\0';
        for (char *p = v; *p; p++)
            if (*p == '\t' || *p == '"' || *p == '\\')
                *p = ' ';
        static const char *const keep[] = {"Uid",    "Gid",    "Groups", "NoNewPrivs",
                                           "CapEff", "CapPrm", "CapBnd", "Seccomp"};
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
            if (strcmp(line, keep[i]) == 0) {
                printf("%s\"%s\": \"%s\"", first ? "" : ", ", line, v);
                first = 0;
            }
    }
    printf("}}\n");
    fclose(f);
}

static int probe(int argc, char **argv)
{
    const char *other = NULL, *token = NULL;
    int port = 0, do_accept = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--other") == 0 && i + 1 < argc)
            other = argv[++i];
        else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc)
            token = argv[++i];
        else if (strcmp(argv[i], "--connect") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--accept") == 0)
            do_accept = 1;
    }
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);

    /* The list of fds first, before this program opens any. */
    char fds[256] = "";
    DIR *d = opendir("/proc/self/fd");
    int dfd = d ? dirfd(d) : -1;
    for (struct dirent *de; d && (de = readdir(d)) != NULL;) {
        if (de->d_name[0] == '.' || atoi(de->d_name) == dfd)
            continue;
        size_t l = strlen(fds);
        snprintf(fds + l, sizeof fds - l, "%s%d", l ? ", " : "", atoi(de->d_name));
    }
    if (d)
        closedir(d);

    if (other) {
        try_open("read_other", other, O_RDONLY);
        try_open("write_other", other, O_WRONLY);
    }
    if (token)
        try_open("read_token", token, O_RDONLY);
    char path[64];
    snprintf(path, sizeof path, "/jailprobe.%d", (int)getpid());
    try_open("write_root", path, O_WRONLY | O_CREAT | O_EXCL);
    try_open("write_usr", "/usr/jailprobe", O_WRONLY | O_CREAT | O_EXCL);
    try_open("write_data", "probe-was-here", O_WRONLY | O_CREAT | O_TRUNC);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(path, sizeof path, "%s/jailprobe.%d", tmp, (int)getpid());
    try_open("write_tmp", path, O_WRONLY | O_CREAT | O_TRUNC);
    unlink(path);

    /* PTRACE_TRACEME needs no privilege: only seccomp refuses it. */
    long pr = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
    check("ptrace", pr == 0, errno);
    int mr = mount("none", tmp, "tmpfs", 0, NULL);
    check("mount", mr == 0, errno);
    /* A user namespace needs no privilege either. */
    pid_t up = fork();
    if (up == 0)
        _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : errno);
    int st = 0;
    waitpid(up, &st, 0);
    check("unshare_user", WIFEXITED(st) && WEXITSTATUS(st) == 0,
          WIFEXITED(st) ? WEXITSTATUS(st) : 0);
    /* io_uring and the netlink and vsock families: seccomp refuses them. */
    long ur = syscall(__NR_io_uring_setup, 1, NULL);
    check("io_uring", ur >= 0, errno);
    if (ur >= 0)
        close((int)ur);
    int ns = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0 /* NETLINK_ROUTE */);
    check("netlink", ns >= 0, errno);
    if (ns >= 0)
        close(ns);
    int vs = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    check("vsock", vs >= 0, errno);
    if (vs >= 0)
        close(vs);
    /* ...and glibc's resolver, which asks netlink for AI_ADDRCONFIG, still
     * answers. */
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *ai = NULL;
    int gr = getaddrinfo("localhost", "80", &hints, &ai);
    check("getaddrinfo", gr == 0 && ai != NULL, gr == EAI_SYSTEM ? errno : EINVAL);
    if (ai)
        freeaddrinfo(ai);
    if (port > 0) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int cr = s >= 0 ? connect(s, (struct sockaddr *)&a, sizeof a) : -1;
        check("connect", cr == 0, errno);
        if (s >= 0)
            close(s);
    }

    char host[128] = "", cwd[512] = "";
    gethostname(host, sizeof host);
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = '\0';
    const char *lp = getenv("LISTEN_PID");
    printf("{\"pid\": %d, \"hostname\": \"%s\", \"cwd\": \"%s\", \"listen_pid\": \"%s\", "
           "\"tmpdir\": \"%s\", \"fds\": [%s]}\n",
           (int)getpid(), host, cwd, lp ? lp : "", getenv("TMPDIR") ? getenv("TMPDIR") : "", fds);
    print_status();
    printf("{\"ready\": true}\n");
    fflush(stdout);

    char buf[64];
    while (read(STDIN_FILENO, buf, sizeof buf) > 0)
        ;
    if (do_accept) {
        int c = accept4(3, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0) {
            ssize_t w = write(c, "hi\n", 3);
            (void)w;
            close(c);
        }
        printf("{\"accepted\": %s}\n", c >= 0 ? "true" : "false");
    }
    return 0;
}

static int hog(int mib)
{
    for (int i = 0; i < mib; i++) {
        char *p = malloc(1 << 20);
        if (!p) {
            printf("{\"hog\": \"malloc failed\", \"mib\": %d}\n", i);
            return 1;
        }
        memset(p, 0x5a, 1 << 20);
        /* The block is never read: without this, clang (the ASan build)
         * removes the malloc and the memset, and nothing is allocated. */
        __asm__ volatile("" : : "r"(p) : "memory");
    }
    printf("{\"hog\": \"survived\", \"mib\": %d}\n", mib);
    return 0;
}

static int forks(int n)
{
    int gate[2];
    if (pipe(gate) < 0)
        return 1;
    int k = 0, err = 0;
    for (; k < n; k++) {
        pid_t p = fork();
        if (p < 0) {
            err = errno;
            break;
        }
        if (p == 0) {
            /* Wait for the parent to release us (EOF), then leave. */
            char c;
            close(gate[1]);
            while (read(gate[0], &c, 1) > 0)
                ;
            _exit(0);
        }
    }
    printf("{\"forked\": %d, \"errno\": \"%s\"}\n", k, errname(err));
    fflush(stdout);
    close(gate[1]);
    for (int i = 0; i < k; i++)
        wait(NULL);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* The probe tries mount(2), writes to /usr and more: as root outside a jail
     * those succeed on the host. It only ever runs as a tenant's uid. */
    if (argc >= 2 && strcmp(argv[1], "probe") == 0 && geteuid() == 0) {
        fprintf(stderr, "jailprobe: refusing to probe as root: run it through tenant-jail\n");
        return 2;
    }
    if (argc >= 2 && strcmp(argv[1], "probe") == 0)
        return probe(argc, argv);
    if (argc >= 3 && strcmp(argv[1], "hog") == 0)
        return hog(atoi(argv[2]));
    if (argc >= 3 && strcmp(argv[1], "forks") == 0)
        return forks(atoi(argv[2]));
    fprintf(stderr, "usage: jailprobe probe|hog MIB|forks N\n");
    return 2;
}
