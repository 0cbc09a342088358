/*
 * jail_priv.c — the credential steps of the jail: empty the capability
 * bounding set, drop groups, gid and uid, verify nothing of root is left,
 * arm the parent-death signal and check the parent, and clear the remaining
 * capability sets. Called in that order by jail_run() (see jail_run.c for
 * why).
 *
 * What it does not do: choose or look up ids (no passwd entry is needed),
 * or keep any capability for the worker: it runs with none.
 */
#include "jail.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* The kernel's highest capability number is below 64 for the foreseeable
 * future; PR_CAPBSET_READ answers EINVAL past the last one. */
#define CAP_SCAN_MAX 64

int jail_priv_drop_bounding(struct jail_err *e)
{
    for (int cap = 0; cap < CAP_SCAN_MAX; cap++) {
        int r = prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0);
        if (r < 0 && errno == EINVAL)
            return 0;
        if (r < 0)
            return jail_errf(e, "capabilities", "PR_CAPBSET_READ %d: %s", cap, strerror(errno));
        if (r == 1 && prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0)
            return jail_errf(e, "capabilities",
                             "cannot drop capability %d from the bounding "
                             "set: %s",
                             cap, strerror(errno));
    }
    return 0;
}

int jail_priv_setids(const struct jail_opts *o, struct jail_err *e)
{
    if (setgroups(0, NULL) < 0)
        return jail_errf(e, "setgroups", "setgroups(0): %s", strerror(errno));
    if (setresgid(o->gid, o->gid, o->gid) < 0)
        return jail_errf(e, "setresgid", "setresgid(%u): %s", (unsigned)o->gid, strerror(errno));
    if (setresuid(o->uid, o->uid, o->uid) < 0)
        return jail_errf(e, "setresuid", "setresuid(%u): %s", (unsigned)o->uid, strerror(errno));
    return 0;
}

int jail_priv_verify(const struct jail_opts *o, bool root, struct jail_err *e)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
        return jail_errf(e, "verify", "getresuid/getresgid: %s", strerror(errno));
    if (o->has_ids) {
        if (ru != o->uid || eu != o->uid || su != o->uid)
            return jail_errf(e, "verify", "uids are %u/%u/%u, not %u", (unsigned)ru, (unsigned)eu,
                             (unsigned)su, (unsigned)o->uid);
        if (rg != o->gid || eg != o->gid || sg != o->gid)
            return jail_errf(e, "verify", "gids are %u/%u/%u, not %u", (unsigned)rg, (unsigned)eg,
                             (unsigned)sg, (unsigned)o->gid);
    }
    if (ru == 0 || eu == 0 || su == 0)
        return jail_errf(e, "verify", "a uid of 0 is left (%u/%u/%u)", (unsigned)ru, (unsigned)eu,
                         (unsigned)su);
    if (!root)
        return 0;
    /* The drop was done as root: no supplementary group may be left, and
     * getting root back must be impossible. */
    int ng = getgroups(0, NULL);
    if (ng != 0)
        return jail_errf(e, "verify", "%d supplementary groups are left", ng);
    if (setuid(0) == 0)
        return jail_errf(e, "verify", "setuid(0) succeeded after the drop");
    return 0;
}

int jail_priv_parent(pid_t expected_ppid, int parent_watch, int status_reader, struct jail_err *e)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        return jail_errf(e, "pdeathsig", "PR_SET_PDEATHSIG: %s", strerror(errno));
    if (status_reader >= 0) {
        /* Created as pid 1 of a new pid namespace by tenantd, which lives
         * outside it (getppid() says 0). tenantd holds the status pipe's
         * only read end until the worker is reaped: once it is gone, the
         * write end polls POLLERR. */
        struct pollfd p = {.fd = status_reader, .events = POLLOUT};
        int r = poll(&p, 1, 0);
        if (r < 0 || (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL))))
            return jail_errf(e, "parent", "tenantd (pid %d) is gone", (int)expected_ppid);
        return 0;
    }
    if (parent_watch >= 0) {
        /* In a pid namespace the parent (the forwarder) lives outside it and
         * getppid() says 0; its end of the watch pipe closes when it dies. */
        struct pollfd p = {.fd = parent_watch, .events = POLLIN};
        int r = poll(&p, 1, 0);
        close(parent_watch);
        if (r != 0)
            return jail_errf(e, "parent", "the jail's forwarder is gone");
        return 0;
    }
    pid_t pp = getppid();
    if (pp != expected_ppid)
        return jail_errf(e, "parent", "the parent (pid %d) is gone (parent now %d)",
                         (int)expected_ppid, (int)pp);
    return 0;
}

int jail_priv_caps(bool dropped_bounding, struct jail_err *e)
{
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        return jail_errf(e, "capabilities", "cannot clear the ambient set: %s", strerror(errno));
    if (jail_sys_capset_zero() < 0)
        return jail_errf(e, "capabilities", "capset: %s", strerror(errno));
    uint64_t eff, prm, inh;
    if (jail_sys_capget(&eff, &prm, &inh) < 0)
        return jail_errf(e, "capabilities", "capget: %s", strerror(errno));
    if (eff || prm || inh)
        return jail_errf(e, "capabilities",
                         "capabilities are left: CapEff %016llx CapPrm %016llx CapInh %016llx",
                         (unsigned long long)eff, (unsigned long long)prm, (unsigned long long)inh);
    if (dropped_bounding) {
        for (int cap = 0; cap < CAP_SCAN_MAX; cap++) {
            int r = prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0);
            if (r < 0)
                break;
            if (r == 1)
                return jail_errf(e, "capabilities", "capability %d is still in the bounding set",
                                 cap);
        }
    }
    return 0;
}
