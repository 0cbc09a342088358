"""
bench_boot_profile.py BUILDDIR [N] — where the CPU of a boot goes, per tenant.

Runs bench_supervisor.py (N tenants, default 100, real tenant-worker, full
isolation when root) under `perf record -g` (its own process tree only, not
the whole machine: other people's processes do not count), booting twice on
the same root: boot 1 creates every tenant's data, boot 2 finds it. From the
samples taken between tenantd's start and the last "worker ready" of each
boot, it prints milliseconds of CPU per tenant by program (tenantd,
tenant-jail, tenant-worker) and by phase (dynamic linking, CPU feature
detection, cgroups, namespaces, SQLite, fsync, ...), from the symbols on each
sample's stack. A figure, not a test; prints "skipped" when perf is missing
or cannot sample.

Samples are cpu-clock at 1999 Hz: about 0.5 ms each, so a phase under
~0.05 ms per tenant at N=100 is noise.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FREQ = 1999
PROGRAMS = ("tenantd", "tenant-jail", "tenant-worker")

# First match wins: a sample goes to the first phase whose pattern is on its
# stack (kernel and user frames alike).
PHASES = [
    ("exit", r"do_exit|exit_mmap"),
    ("execve", r"execve"),
    ("fsync", r"do_fsync|fdatasync"),
    ("sqlite", r"libsqlite3"),
    ("cpuid (ld.so)", r"intel_check_word|init_cpu_features|init_cacheinfo|"
                      r"get_common_cache_info|update_active"),
    ("dynamic linking", r"ld-linux|_dl_relocate|do_lookup_x"),
    ("cgroup", r"cgroup|kernfs"),
    ("namespaces", r"unshare|copy_net_ns|create_new_namespaces|setns"),
    ("mounts", r"mount|pivot_root"),
    ("bpf", r"bpf"),
    ("seccomp", r"seccomp"),
    ("landlock", r"landlock"),
    ("fork/clone", r"clone|copy_process"),
    ("page faults", r"page_fault"),
    ("openssl", r"libcrypto|libssl"),
    ("h2o", r"libh2o"),
    ("libuv", r"libuv"),
    ("files (open, bind, mkdir)", r"openat|bind|mkdir|mknod|rename|unlink"),
]


def samples(path):
    """(comm, time, stack text) of every sample in a perf.data."""
    out = subprocess.run(["perf", "script", "-i", path, "-F", "comm,time,ip,sym,dso"],
                         capture_output=True, text=True, check=False).stdout
    comm, when, stack = None, 0.0, []
    for line in out.splitlines() + [""]:
        if not line.strip():
            if comm is not None:
                yield comm, when, " ".join(stack)
            comm, stack = None, []
        elif not line[0].isspace():
            m = re.match(r"^(.*?)\s+(\d+\.\d+):", line)
            if m:
                comm, when = m.group(1).strip(), float(m.group(2))
        else:
            stack.append(line.strip())


def main():
    builddir = os.path.abspath(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    if shutil.which("perf") is None:
        print("bench_boot_profile: perf not installed (Debian: linux-perf): skipped")
        return
    tmp = tempfile.mkdtemp(prefix="tenantd-bootprof-")
    try:
        data = os.path.join(tmp, "perf.data")
        env = dict(os.environ, BENCH_IDLE_SECONDS="0", BENCH_BOOTS="2", BENCH_MARKS="1")
        r = subprocess.run(["perf", "record", "-q", "-F", str(FREQ), "-g",
                            "-k", "CLOCK_MONOTONIC", "-o", data, "--",
                            "/usr/bin/python3", os.path.join(HERE, "bench_supervisor.py"),
                            builddir, str(n)],
                           env=env, capture_output=True, text=True, check=False)
        marks = {}
        for line in r.stdout.splitlines():
            if line.startswith("mark "):
                f = dict(kv.split("=") for kv in line.split()[1:])
                marks[int(f["boot"])] = (float(f["start"]), float(f["ready"]))
            else:
                print(line)
        if r.returncode != 0 or not os.path.exists(data) or len(marks) != 2:
            print(f"bench_boot_profile: perf record or the bench failed, skipped "
                  f"(rc {r.returncode}): {r.stderr.strip()[-300:]}")
            return
        per_sample = 1000.0 / FREQ / n  # ms per tenant
        table = {b: {} for b in marks}
        for comm, when, stack in samples(data):
            if comm not in PROGRAMS:
                continue
            boot = next((b for b, (t0, t1) in marks.items() if t0 <= when <= t1), None)
            if boot is None:
                continue
            phase = next((p for p, rx in PHASES if re.search(rx, stack)), "other")
            key = (comm, phase)
            table[boot][key] = table[boot].get(key, 0) + per_sample
        for boot in sorted(table):
            t = table[boot]
            what = "new data" if boot == 1 else "data kept"
            print(f"N={n} boot {boot} ({what}): CPU per tenant from start to all ready, "
                  f"{sum(t.values()):.2f} ms")
            for prog in PROGRAMS:
                rows = sorted(((v, ph) for (c, ph), v in t.items() if c == prog), reverse=True)
                print(f"  {prog:14s} {sum(v for v, _ in rows):6.2f} ms: " +
                      ", ".join(f"{ph} {v:.2f}" for v, ph in rows if v >= 0.05))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
