"""
tenantd's open fds, each classified by what it is and whom it serves, so a
leak is named rather than counted.

An fd is one of:
  base       tenantd's own: loop, signal and wake-up pipes, inotify, the admin
             listeners, state.db, its stderr, /dev/null, its sd_notify socket;
  tenant X   held for tenant X: its listening socket (matched by port), its
             notify socket (data/clients/X/.notify), its log file (logs/X.log),
             and per process of X (found by CLIENT_ID in its environment): its
             pidfd and the pipes of its stdout, stderr and jail status;
  proxy      the same, for the managed nginx and the commands tenantd runs;
  status     a jail's status pipe, its write end closed by the exec; tenantd reads
             it when that process exits, so there are at most as many as the
             tenant processes it watches;
  transient  a connection that comes and goes: a health probe or a usage
             request to a tenant's port, an admin client.
Anything else is a problem: an fd to a deleted file, a pidfd of a process that
is gone, a pipe whose other end nobody holds, the socket or log of a tenant
tenantd no longer has, two fds of one kind for one tenant or process, and any
base fd that was not there at the baseline (taken when tenantd became ready).
"""
import collections
import os
import time

from . import procs

TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
              "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
              "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"}
UNIX_TYPES = {"0001": "stream", "0002": "dgram", "0005": "seqpacket"}
SO_ACCEPTCON = 0x10000


class Fd:
    __slots__ = ("fd", "target", "owner", "kind", "problem")

    def __init__(self, fd, target, owner="base", kind=None, problem=None):
        self.fd, self.target, self.owner = fd, target, owner
        self.kind = kind or target
        self.problem = problem

    def __repr__(self):
        return f"fd {self.fd} -> {self.target} [{self.owner}: {self.kind}]"


def _net_sockets(pid):
    """inode -> description, from tenantd's view of /proc/net."""
    out = {}
    for proto in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{proto}") as f:
                next(f)
                for line in f:
                    c = line.split()
                    lport = int(c[1].rsplit(":", 1)[1], 16)
                    rport = int(c[2].rsplit(":", 1)[1], 16)
                    out[int(c[9])] = ("tcp", TCP_STATES.get(c[3], c[3]), lport, rport)
        except OSError:
            pass
    try:
        with open(f"/proc/{pid}/net/unix") as f:
            next(f)
            for line in f:
                # The path is the last column and may hold spaces.
                c = line.rstrip("\n").split(None, 7)
                path = c[7] if len(c) > 7 else ""
                listening = int(c[3], 16) & SO_ACCEPTCON
                out[int(c[6])] = ("unix", UNIX_TYPES.get(c[4], c[4]),
                                  "listen" if listening else "", path)
    except OSError:
        pass
    return out


def fd_table(pid):
    out = {}
    for f in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(f)] = os.readlink(f"/proc/{pid}/fd/{f}")
        except OSError:
            pass  # closed while we looked
    return out


def _pidfd_pid(pid, fd):
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}") as f:
            for line in f:
                if line.startswith("Pid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _owner_of_process(pid):
    tid = procs.client_id(pid)
    if tid is not None:
        return f"tenant {tid}"
    cmd = procs.cmdline(pid)
    if cmd.startswith("nginx"):
        return "proxy"
    return f"helper ({cmd})"


def classify(root, pid, tenants):
    """tenantd's fds as a list of Fd. tenants: the status objects of GET /v1/tenants."""
    sockets = _net_sockets(pid)
    table = fd_table(pid)
    below = procs.descendants(pid)
    by_port = {t["port"]: t["id"] for t in tenants}
    ids = {t["id"] for t in tenants}
    # Who else holds each pipe: inode -> owners of the processes below tenantd.
    pipe_holders = collections.defaultdict(set)
    for p in below:
        try:
            for target in fd_table(p.pid).values():
                if target.startswith("pipe:"):
                    pipe_holders[target].add(p.pid)
        except OSError:
            pass
    in_tenantd = collections.Counter(t for t in table.values() if t.startswith("pipe:"))
    prefix = root.path.rstrip("/") + "/"
    out = []
    for fd, target in sorted(table.items()):
        e = Fd(fd, target)
        if target.endswith(" (deleted)"):
            e.problem = "a deleted file is still open"
        elif target.startswith(prefix):
            rel = target[len(prefix):]
            e.kind = rel
            parts = rel.split("/")
            if rel == "logs/nginx.log":
                # The managed nginx's error log, written by tenantd's capture
                # ("nginx" is a reserved tenant id).
                e.owner, e.kind = "proxy", "nginx error log"
            elif len(parts) == 2 and parts[0] == "logs" and parts[1].endswith(".log"):
                tid = parts[1][:-4]
                e.owner, e.kind = f"tenant {tid}", "log file"
                if tid not in ids:
                    e.problem = f"the log of {tid}, a tenant tenantd no longer has"
        elif target == "anon_inode:[pidfd]":
            child = _pidfd_pid(pid, fd)
            e.kind = f"pidfd of pid {child}"
            info = procs.read_proc(child) if child and child > 0 else None
            if info is None or info.state == "Z":
                e.owner, e.problem = "transient", "a pidfd of a process that has exited"
            else:
                e.owner = _owner_of_process(child)
                e.kind = f"pidfd of {procs.describe(child)}"
        elif target.startswith("pipe:"):
            holders = pipe_holders.get(target)
            if in_tenantd[target] >= 2:
                # A child between its fork and its exec shares it for a moment.
                e.kind = "pipe (both ends in tenantd)"
            elif holders:
                holder = min(holders)
                e.owner = _owner_of_process(holder)
                e.kind = f"pipe to {procs.describe(holder)}"
            else:
                # The jail's status pipe: its write end closed at the exec, tenantd
                # reads it when the process exits. One per process tenantd spawned.
                e.owner, e.kind = "status", "a status pipe (write end closed)"
        elif target.startswith("socket:["):
            s = sockets.get(int(target[8:-1]))
            if s is None:
                e.kind = "socket (not in /proc/net: netlink or another family)"
            elif s[0] == "tcp":
                _, state, lport, rport = s
                if state == "LISTEN":
                    e.kind = f"tcp listen 127.0.0.1:{lport}"
                    if lport == root.admin_port:
                        e.kind = "tcp listen admin port"
                    elif lport in by_port:
                        e.owner, e.kind = f"tenant {by_port[lport]}", "listening socket"
                    else:
                        e.problem = f"a listening socket on port {lport}, no tenant's port"
                elif rport in by_port:
                    e.owner, e.kind = "transient", f"tcp {state} to {by_port[rport]}'s port"
                elif lport == root.admin_port:
                    e.owner, e.kind = "transient", f"admin connection ({state})"
                    if state == "CLOSE_WAIT":
                        e.problem = "an admin connection its client has closed"
                else:
                    e.owner, e.kind = "transient", f"tcp {state} :{lport} -> :{rport}"
                    e.problem = "a connection to no tenant's port"
            else:
                _, typ, listening, path = s
                e.kind = f"unix {typ} {listening} {path}".replace("  ", " ").strip()
                if path.startswith(prefix):
                    rel = path[len(prefix):]
                    parts = rel.split("/")
                    if rel == "run/admin.sock" and listening:
                        e.kind = "unix listen run/admin.sock"
                    elif rel == "run/admin.sock":
                        e.owner, e.kind = "transient", "admin connection (unix)"
                    elif len(parts) == 4 and parts[:2] == ["data", "clients"] \
                            and parts[3] == ".notify":
                        e.owner, e.kind = f"tenant {parts[2]}", "notify socket"
                        if parts[2] not in ids:
                            e.problem = f"the notify socket of {parts[2]}, a tenant tenantd no longer has"
                    else:
                        e.kind = f"unix {typ} {rel}"
        out.append(e)
    # At most one status pipe per tenant process that tenantd watches (its pidfd).
    spawned = sum(1 for e in out if e.kind.startswith("pidfd of ") and e.owner.startswith("tenant "))
    widowed = [e for e in out if e.owner == "status"]
    for e in widowed[spawned:]:
        e.problem = (f"a pipe whose other end no process holds ({len(widowed)} such pipes "
                     f"for {spawned} tenant processes)")
    # One of each per tenant, and per process: a second one is a leak.
    seen = collections.Counter()
    for e in out:
        if e.owner.startswith("tenant ") and e.owner[7:] not in ids and not e.problem:
            e.problem = f"held for {e.owner[7:]}, a tenant tenantd no longer has"
        if e.owner.startswith("tenant ") or e.owner == "proxy":
            key = (e.owner, e.kind)
            seen[key] += 1
            # A process's stdout and stderr, and the jail's status pipe until it execs.
            limit = 3 if e.kind.startswith("pipe to ") else 1
            if seen[key] > limit and not e.problem:
                e.problem = f"more than {limit} of this kind for {e.owner}"
    return out


def base_counts(entries):
    return collections.Counter(e.kind for e in entries if e.owner == "base")


def baseline(root, pid):
    """The base fds of a tenantd that has just become ready."""
    return base_counts(classify(root, pid, root.status()))


def problems(root, pid, base):
    """The fds of tenantd (pid) that are leaks: [(Fd, reason)], empty when clean."""
    entries = classify(root, pid, root.status())
    bad = [(e, e.problem) for e in entries if e.problem]
    extra = base_counts(entries) - base
    for e in entries:
        if e.owner == "base" and extra[e.kind] > 0 and not e.problem:
            extra[e.kind] -= 1
            bad.append((e, "not there at the baseline"))
    return bad


def check(root, pid, base, settle=3.0):
    """Fail, naming each fd, if tenantd leaks one. Connections and exits in flight
    settle within a few health intervals, so the check is repeated until clean
    or `settle` seconds have passed; a leak stays."""
    deadline = time.monotonic() + settle
    while True:
        bad = problems(root, pid, base)
        if not bad or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if bad:
        lines = "\n".join(f"  {e!r}: {why}" for e, why in bad)
        raise AssertionError(f"tenantd (pid {pid}) leaks {len(bad)} fd(s):\n{lines}")
