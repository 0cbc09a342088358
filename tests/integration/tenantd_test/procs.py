"""
The process table, read from /proc: liveness, descendants, and the check that
a test leaves no process behind.

The pytest process makes itself a child subreaper (become_subreaper(), called
once from conftest): a process orphaned anywhere below it -- a worker whose
tenantd died, a double-forked helper, an nginx whose master went away -- is
re-parented to pytest instead of init, so it stays in pytest's tree and the
stray check finds it by walking that tree. Nothing else depends on it.
"""
import ctypes
import os
import select
import signal
import time

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


class Proc:
    """One /proc/<pid>/stat read: enough to tell a process apart from a later one
    with the same pid (start time) and to name it."""

    __slots__ = ("pid", "ppid", "state", "session", "start")

    def __init__(self, pid, ppid, state, session, start):
        self.pid, self.ppid, self.state, self.session, self.start = pid, ppid, state, session, start

    @property
    def key(self):
        return (self.pid, self.start)


def read_proc(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    # Fields after the command: state ppid pgrp session ... starttime (the 20th).
    return Proc(pid, int(rest[1]), rest[0], int(rest[3]), int(rest[19]))


def table():
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            p = read_proc(int(d))
            if p:
                out[p.pid] = p
    return out


def pid_alive(pid):
    """True while pid runs (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    p = read_proc(pid)
    return p is not None and p.state != "Z"


def same_and_running(p):
    """True while the process p (a Proc read earlier) still runs: same pid, same
    start time, not a zombie."""
    now = read_proc(p.pid)
    return now is not None and now.start == p.start and now.state != "Z"


def descendants(pid, procs=None):
    """Every process below pid (not pid itself), from one reading of /proc."""
    procs = procs if procs is not None else table()
    kids = {}
    for p in procs.values():
        kids.setdefault(p.ppid, []).append(p.pid)
    out, todo = [], list(kids.get(pid, []))
    while todo:
        c = todo.pop()
        out.append(procs[c])
        todo.extend(kids.get(c, []))
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


def environ(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
    except OSError:
        return {}


def client_id(pid):
    """The tenant a process runs for: CLIENT_ID of the worker contract's environment."""
    v = environ(pid).get(b"CLIENT_ID")
    return v.decode(errors="replace") if v is not None else None


def describe(pid):
    """What a process is, for a failure message: its tenant when it has one."""
    tid = client_id(pid)
    what = cmdline(pid)
    return f"pid {pid} ({'tenant ' + tid + ': ' if tid else ''}{what})"


# Names given to processes while their origin was still known (say, a worker of
# tenant "aa" while tenantd ran), so a stray found later is named by it.
_labels = {}


def remember(pid, label):
    p = read_proc(pid)
    if p:
        _labels[p.key] = label


def snapshot():
    """The live processes below pytest right now: the baseline of a test."""
    return {p.key for p in descendants(os.getpid()) if p.state != "Z"}


def wait_gone(procs, timeout):
    """Wait, without polling, until every process in procs has exited or the
    timeout passes; return those still running."""
    fds = {}
    for p in procs:
        try:
            fds[os.pidfd_open(p.pid)] = p
        except ProcessLookupError:
            pass
    try:
        deadline = time.monotonic() + timeout
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        left = set(fds)
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for fd, _ in poller.poll(remaining * 1000):
                poller.unregister(fd)
                left.discard(fd)
        return [fds[fd] for fd in left if pid_alive(fds[fd].pid)]
    finally:
        for fd in fds:
            os.close(fd)


def reap_orphans():
    """Reap the zombies re-parented to pytest (it is their subreaper). Only those
    in another session: pytest's own children (Popen objects) stay for their owner."""
    me = os.getpid()
    sid = os.getsid(0)
    for p in table().values():
        if p.ppid == me and p.state == "Z" and p.session != sid:
            try:
                os.waitpid(p.pid, os.WNOHANG)
            except ChildProcessError:
                pass


# Long-lived services a session fixture runs for many tests (the PostgreSQL
# server of tenantd_test.pg): they and everything below them are not a test's.
_services = set()


def add_service(pid):
    _services.add(pid)


def remove_service(pid):
    _services.discard(pid)


def stray_processes(baseline, grace=5.0):
    """The processes below pytest that were not there at the baseline and are
    still running `grace` seconds later, each killed and named: [description].
    Called once every fixture has cleaned up, so anything left is a leak.
    Services (add_service) and their children are left alone."""
    procs_now = table()
    exempt = set(_services)
    for pid in _services:
        exempt.update(p.pid for p in descendants(pid, procs_now))
    found = [p for p in descendants(os.getpid(), procs_now)
             if p.state != "Z" and p.key not in baseline and p.pid not in exempt]
    left = wait_gone(found, grace) if found else []
    names = []
    for p in left:
        label = _labels.get(p.key)
        names.append(describe(p.pid) + (f", {label}" if label else ""))
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if left:
        wait_gone(left, 5.0)
    reap_orphans()
    return names
