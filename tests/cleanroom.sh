#!/usr/bin/env bash
# `make cleanroom`: prove that `make run` and `make test` work as the very first commands on a
# fresh Debian 12 machine, as root, with the checkout in /root/tenantd (/root mode 0700).
#
# How:
#   1. A Debian minbase root (debootstrap) with only git, make and ca-certificates added. It is
#      cached as a tarball in $CLEANROOM_CACHE (default /var/cache/tenantd-cleanroom), keyed by
#      suite + mirror + apt sources + package list, and checked against its sha256 before use.
#      The mirror is read from the machine's apt sources (sources.list or deb822 .sources).
#   2. The committed HEAD of this checkout is cloned into <root>/root/tenantd (like CI's clean
#      clone: uncommitted changes are not part of the check).
#   3. Each check gets its own fresh copy of that prepared root, on which the script mounts:
#      the copy onto itself (the jail's mount(2) calls on / need / to be a mount point, as on a
#      booted machine), proc, sys and dev (--rbind, slave propagation), a tmpfs /tmp, and the
#      apt archive cache $CLEANROOM_CACHE/apt-archives (so the .deb files the project's
#      `make deps` downloads are fetched once, not by each check on each run).
#      The commands then run in a mount namespace whose root IS the copy (pivot_root, held by
#      a `sleep` this script starts and enters with nsenter), not in a plain chroot: in a
#      chroot, a jailed worker's /proc/<pid>/exe and `nsenter -m` see this machine's paths
#      (their mount namespace's root is this machine's /), which no booted machine shows.
#      The network is this machine's (no network namespace).
#   4. check "run": `make run` in its own session and process group; the host polls
#      http://<firm>.localhost:8080/ for the three demo firms and 127.0.0.1:7070; then SIGINT
#      to the process group (Ctrl-C), and no process may remain whose root is the copy, and no
#      mount besides the script's own (in the namespace and on this machine).
#      check "test": `CI=true make test`; its output is shown.
#   5. Everything is unmounted and the copies removed on every exit path (KEEP=1 keeps the
#      copies of a failed run for a look; they are unmounted all the same).
#
# Environment:
#   CLEANROOM_CACHE   cache folder (default /var/cache/tenantd-cleanroom)
#   CLEANROOM_WORK    parent folder of the temporary roots (default /var/tmp)
#   CHECKS            which checks, in order (default "run test")
#   SUITE             Debian suite (default bookworm); MIRROR overrides the apt sources' one
#   RUN_TIMEOUT       seconds for `make run` to bring the firms up (default 2400)
#   TEST_TIMEOUT      seconds for `make test` (default 3600)
#   APT_CACHE=0       do not bind the .deb cache (each check downloads everything)
#   KEEP=1            keep the copies of a failed check
set -euo pipefail
# The whole script is one brace group: bash reads it completely before running it, so editing
# or updating the file (a git pull) while it runs does not change what runs.
{
umask 022

SUITE=${SUITE:-bookworm}
CACHE=${CLEANROOM_CACHE:-/var/cache/tenantd-cleanroom}
WORKPARENT=${CLEANROOM_WORK:-/var/tmp}
CHECKS=${CHECKS:-run test}
RUN_TIMEOUT=${RUN_TIMEOUT:-2400}
TEST_TIMEOUT=${TEST_TIMEOUT:-3600}
APT_CACHE=${APT_CACHE:-1}
KEEP=${KEEP:-0}
INCLUDE=git,make,ca-certificates
CACHE_MAX_DAYS=14
FIRMS="dupont martin bernard"
# What the commands in the clean root see: a root login's environment, not this machine's.
CHROOT_ENV=(HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
# The machine's network trust goes in with its resolver (below): a machine whose traffic
# to the registries passes a TLS-inspecting gateway has its CA in the system bundle, and
# node (npm) reads only its own roots unless NODE_EXTRA_CA_CERTS names that bundle.
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then
    CHROOT_ENV+=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
fi

SRC=$(cd "$(dirname "$0")/.." && pwd)
T0=$SECONDS

say() { printf 'cleanroom: %s\n' "$*"; }
die() {
    printf 'cleanroom: FAILED: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Preflight

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, mount, namespaces)"
for c in debootstrap curl git chroot mount umount unshare nsenter pivot_root setsid ss sha256sum tar find; do
    command -v "$c" >/dev/null || die "$c is missing: run \`make cleanroom\` (it installs deploy/cleanroom-packages.txt)"
done
git -C "$SRC" rev-parse --verify -q HEAD >/dev/null || die "$SRC is not a git checkout with a commit"
HEAD_SHA=$(git -C "$SRC" rev-parse HEAD)
if [ -n "$(git -C "$SRC" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    say "note: uncommitted changes are not checked: the clean room clones the committed HEAD ${HEAD_SHA:0:12}"
fi

# make run needs the proxy's and the admin API's ports, and the demo tenants' own ones.
DEMO_PORTS=$(cat "$SRC"/tenants.d/*.ini 2>/dev/null | awk -F= '$1 ~ /^[ \t]*port[ \t]*$/ { gsub(/[ \t]/, "", $2); print $2 }' | sort -un | tr '\n' ' ')
ports_free() {
    local port busy=""
    for port in 8080 7070 $DEMO_PORTS; do
        if [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ]; then busy="$busy $port"; fi
    done
    [ -z "$busy" ] || die "port(s)$busy in use on this machine (make run inside the clean root needs 8080, 7070 and the demo tenants' ports $DEMO_PORTS; the clean root shares this machine's network): stop what listens there first"
}
case " $CHECKS " in *" run "*) ports_free ;; esac

# The Debian sources of this machine, as "URI SUITE COMPONENTS..." lines, for $SUITE and its
# -updates/-security companions. Both formats: one-line (sources.list, *.list) and deb822
# (*.sources, where a stanza may list several URIs and suites, and Enabled: no turns it off).
apt_sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" {
                i = 2
                if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                line = $(i) " " $(i + 1); for (j = i + 2; j <= NF; j++) line = line " " $j
                print line
             }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'function flush(   n, m, u, s, a, b) {
                 if (types ~ /(^| )deb( |$)/ && tolower(enabled) != "no") {
                     n = split(uris, a, " "); m = split(suites, b, " ")
                     for (u = 1; u <= n; u++) for (s = 1; s <= m; s++) print a[u] " " b[s] " " comps
                 }
                 types = uris = suites = comps = ""; enabled = "yes"
             }
             BEGIN { enabled = "yes" }
             /^[ \t]*#/ { next }
             /^[ \t]*$/ { flush(); next }
             { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
               if (key == "types") types = $0; else if (key == "uris") uris = $0
               else if (key == "suites") suites = $0; else if (key == "components") comps = $0
               else if (key == "enabled") enabled = $0 }
             END { flush() }' "$f"
    done
}
SOURCES=$(apt_sources | awk -v s="$SUITE" '$2 == s || index($2, s "-") == 1' | awk '!seen[$0]++')
if [ -z "${MIRROR:-}" ]; then
    MIRROR=$(printf '%s\n' "$SOURCES" | awk -v s="$SUITE" '$2 == s { print $1; exit }')
fi
[ -n "$MIRROR" ] || die "no Debian '$SUITE' source in /etc/apt/sources.list or /etc/apt/sources.list.d/*.{list,sources}; set MIRROR=<url>"
[ -n "$SOURCES" ] || SOURCES="$MIRROR $SUITE main"
ARCH=$(dpkg --print-architecture)

# ---------------------------------------------------------------------------------------------
# Clean-up on every exit path

mkdir -p "$WORKPARENT"
WORK=$(mktemp -d "$WORKPARENT/tenantd-cleanroom.XXXXXX")
ACTIVE=() # roots that may have mounts on them
KEEP_DIRS=()

unesc() { printf '%b' "$1"; } # mountinfo escapes space, tab, newline, backslash as \ooo

# Mount points at or below $1, deepest first.
mounts_under() {
    local root=$1 mp
    while read -r mp; do
        mp=$(unesc "$mp")
        if [ "$mp" = "$root" ] || [ "${mp#"$root"/}" != "$mp" ]; then printf '%s\n' "$mp"; fi
    done < <(awk '{ print $5 }' /proc/self/mountinfo) | sort -r
}

# Pids whose root is the copy $1 or below it, but $2 (the namespace's holder) and ours: by the
# /proc/<pid>/root link (a chroot seen from here) or by the root's device and inode (a process
# in the clean root's namespace or a jail's namespace below it, whose link reads "/" from here).
procs_under() {
    local root=$1 skip=${2:-} id
    id=$(stat -c '%d:%i' "$root") || return 0
    {
        find /proc/[0-9]*/root -maxdepth 0 -printf 'L\t%p\t%l\n' 2>/dev/null || true
        find -L /proc/[0-9]*/root -maxdepth 0 -printf 'I\t%p\t%D:%i\n' 2>/dev/null || true
    } | awk -F '\t' -v root="$root" -v id="$id" -v self=$$ -v skip="$skip" '
        { split($2, a, "/"); pid = a[3] }
        pid == self || pid == skip { next }
        $1 == "L" && ($3 == root || index($3, root "/") == 1) { print pid; next }
        $1 == "I" && $3 == id { print pid }' | sort -un
}

describe_procs() {
    local pid
    for pid in "$@"; do
        printf '  pid %s (%s): %s\n' "$pid" "$(cat "/proc/$pid/comm" 2>/dev/null)" \
            "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-200)"
    done
}

# Every process inside the copy was started by this script (through its namespace): TERM, then KILL.
kill_under() {
    local root=$1 pids sig
    for sig in TERM KILL; do
        pids=$(procs_under "$root")
        [ -z "$pids" ] && return 0
        # shellcheck disable=SC2086
        kill -"$sig" $pids 2>/dev/null || true
        for _ in $(seq 50); do
            [ -z "$(procs_under "$root")" ] && return 0
            sleep 0.1
        done
    done
    [ -z "$(procs_under "$root")" ]
}

# Unmount everything at or below $1: umount -R first, lazy as a last resort, then verify.
unmount_all() {
    local root=$1 mp
    [ -z "$(mounts_under "$root")" ] && return 0
    for _ in 1 2 3; do
        umount -R "$root" 2>/dev/null || true
        while read -r mp; do [ -n "$mp" ] && umount "$mp" 2>/dev/null; done < <(mounts_under "$root") || true
        [ -z "$(mounts_under "$root")" ] && return 0
        sleep 1
    done
    say "some mounts under $root are busy: detaching them lazily"
    umount -R -l "$root" 2>/dev/null || true
    while read -r mp; do [ -n "$mp" ] && umount -l "$mp" 2>/dev/null; done < <(mounts_under "$root") || true
    if [ -n "$(mounts_under "$root")" ]; then
        say "ERROR: mounts left under $root:"
        mounts_under "$root" | sed 's/^/  /'
        return 1
    fi
}

teardown_root() {
    local root=$1 keep=${2:-0}
    if ! kill_under "$root"; then
        say "ERROR: processes left inside $root:"
        # shellcheck disable=SC2046
        describe_procs $(procs_under "$root")
    fi
    unmount_all "$root" || return 1
    if [ "$keep" = 1 ]; then
        say "kept $root (KEEP=1)"
    else
        # --one-file-system: never descend into anything still mounted below.
        rm -rf --one-file-system "$root"
    fi
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local rc=$? r ok=1
    trap '' INT TERM
    for r in "${ACTIVE[@]}"; do
        teardown_root "$r" 0 || ok=0
    done
    if [ "$ok" = 0 ]; then
        say "ERROR: could not clean up everything under $WORK (see above)"
        rc=1
    elif [ ${#KEEP_DIRS[@]} = 0 ]; then
        rm -rf --one-file-system "$WORK"
    else
        rm -rf --one-file-system "$WORK/base"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# ---------------------------------------------------------------------------------------------
# The minbase root, from the cache when valid

mkdir -p "$CACHE"
KEY=$(printf 'v1\n%s\n%s\n%s\n%s\n%s\n' "$SUITE" "$ARCH" "$MIRROR" "$INCLUDE" "$SOURCES" | sha256sum | cut -c1-16)
TARBALL=$CACHE/minbase-$SUITE-$ARCH-$KEY.tar
BASE=$WORK/base
t=$SECONDS
minbase_how=built
if [ -f "$TARBALL" ] && [ -f "$TARBALL.sha256" ] &&
    [ -z "$(find "$TARBALL" -mtime +"$CACHE_MAX_DAYS" 2>/dev/null)" ] &&
    (cd "$CACHE" && sha256sum --status -c "$(basename "$TARBALL").sha256"); then
    say "minbase: cached $(basename "$TARBALL")"
    mkdir "$BASE"
    tar --numeric-owner --xattrs --xattrs-include='*' -xpf "$TARBALL" -C "$BASE"
    minbase_how=cached
else
    rm -f "$TARBALL" "$TARBALL.sha256"
    say "minbase: debootstrap --variant=minbase --include=$INCLUDE $SUITE from $MIRROR"
    ACTIVE+=("$BASE") # debootstrap mounts proc and sys itself; unmount them if it is interrupted
    debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$BASE" "$MIRROR" \
        >"$WORK/debootstrap.log" 2>&1 || {
        tail -n 30 "$WORK/debootstrap.log" >&2
        die "debootstrap failed (log above)"
    }
    unmount_all "$BASE"
    ACTIVE=()
    # A machine's apt sources (with -updates and -security when this one has them), and no
    # package lists nor .deb files: the project's `make deps` must fetch what it needs.
    printf '%s\n' "$SOURCES" | sed 's/^/deb /' >"$BASE/etc/apt/sources.list"
    rm -rf "$BASE/var/lib/apt/lists/"* "$BASE/var/cache/apt/archives/"*.deb "$BASE/var/cache/apt/"*.bin
    tar --numeric-owner --xattrs --xattrs-include='*' -cpf "$TARBALL.tmp" -C "$BASE" .
    (cd "$CACHE" && sha256sum "$(basename "$TARBALL").tmp" | sed 's/\.tmp$//' >"$(basename "$TARBALL").sha256.tmp")
    mv "$TARBALL.tmp" "$TARBALL"
    mv "$TARBALL.sha256.tmp" "$TARBALL.sha256"
    # Older keys of this suite are stale now.
    find "$CACHE" -maxdepth 1 -name "minbase-$SUITE-$ARCH-*.tar*" ! -name "$(basename "$TARBALL")*" -delete
fi
minbase_s=$((SECONDS - t))

# What a Debian machine has and a debootstrap root lacks, then the clone.
cp -L /etc/resolv.conf "$BASE/etc/resolv.conf"
# The CAs this machine's administrator added (as a gateway's), in the root's bundle too.
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    mkdir -p "$BASE/usr/local/share/ca-certificates"
    cp -L /usr/local/share/ca-certificates/*.crt "$BASE/usr/local/share/ca-certificates/"
    chroot "$BASE" /usr/sbin/update-ca-certificates >/dev/null
fi
cat >"$BASE/etc/hosts" <<EOF
127.0.0.1	localhost
127.0.1.1	$(cat "$BASE/etc/hostname" 2>/dev/null || echo debian)
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
[ "$(stat -c %a "$BASE/root")" = 700 ] || die "the minbase's /root is mode $(stat -c %a "$BASE/root"), not 0700 as on Debian"
git clone -q --no-local -- "$SRC" "$BASE/root/tenantd"
if [ "$(git -C "$BASE/root/tenantd" rev-parse HEAD)" != "$HEAD_SHA" ]; then
    # The source's HEAD is not its default branch's tip (a detached or other branch): take it.
    git -C "$BASE/root/tenantd" fetch -q -- "$SRC" HEAD
    git -C "$BASE/root/tenantd" checkout -q --detach "$HEAD_SHA"
fi
git -C "$BASE/root/tenantd" remote remove origin # it names a path of this machine
say "prepared: Debian $SUITE minbase + $INCLUDE, checkout ${HEAD_SHA:0:12} in /root/tenantd (minbase $minbase_how in ${minbase_s}s)"

# ---------------------------------------------------------------------------------------------
# One fresh copy per check

# Copy the prepared root to $1 and mount what a booted machine has.
make_root() {
    local r=$1
    cp -a "$BASE" "$r"
    ACTIVE+=("$r")
    HOLDER=
    mount --bind "$r" "$r"
    mount --make-private "$r"
    mount -t proc proc "$r/proc"
    mount --rbind /sys "$r/sys"
    mount --make-rslave "$r/sys"
    mount --rbind /dev "$r/dev"
    mount --make-rslave "$r/dev"
    mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r/tmp"
    if [ "$APT_CACHE" = 1 ]; then
        mkdir -p "$CACHE/apt-archives/partial"
        mount --bind "$CACHE/apt-archives" "$r/var/cache/apt/archives"
    fi
    # The namespace: a copy of this machine's mounts (slaves: nothing mounted inside comes back
    # here), the copy pivoted to be its root and the old root detached, held open by a sleep.
    # shellcheck disable=SC2016 # $1 is the inner shell's
    unshare --mount --propagation slave -- /bin/sh -c \
        'cd "$1" && pivot_root . . && umount -l . && exec chroot . /bin/sleep infinity' \
        sh "$r" </dev/null >"$r.holder.log" 2>&1 &
    HOLDER=$!
    local _
    for _ in $(seq 100); do
        [ "$(readlink "/proc/$HOLDER/exe" 2>/dev/null)" = /usr/bin/sleep ] && break
        kill -0 "$HOLDER" 2>/dev/null || break
        sleep 0.05
    done
    if [ "$(readlink "/proc/$HOLDER/exe" 2>/dev/null)" != /usr/bin/sleep ] ||
        [ "$(readlink "/proc/$HOLDER/ns/mnt")" = "$(readlink /proc/self/ns/mnt)" ]; then
        cat "$r.holder.log" >&2
        die "could not make $r the root of a mount namespace (unshare, pivot_root)"
    fi
}

# Drop $1 from ACTIVE and tear it down (keeping the folder when $2 = 1).
release_root() {
    local r=$1 keep=${2:-0} a rest=()
    teardown_root "$r" "$keep" || return 1
    for a in "${ACTIVE[@]}"; do [ "$a" = "$r" ] || rest+=("$a"); done
    ACTIVE=("${rest[@]+"${rest[@]}"}")
    [ "$keep" = 1 ] && KEEP_DIRS+=("$r")
    return 0
}

# Whether every process listening on TCP port $1 has its root in the clean root $2.
served_from() {
    local pids p inside
    pids=$(ss -Htlnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
    [ -n "$pids" ] || return 1
    inside=$(procs_under "$2")
    for p in $pids; do
        printf '%s\n' "$inside" | grep -qx "$p" || return 1
    done
}

# How many demo firms the clean root's tenantd reports running (its own view, through tenantctl).
firms_running() {
    nsenter --target "$HOLDER" --mount --root -- /usr/bin/env -i "${CHROOT_ENV[@]}" \
        /root/tenantd/build/release/tenantctl -c /root/tenantd/tenantd.ini status --json 2>/dev/null |
        grep -o '"state": *"running"' | wc -l
}

http_code() { # host-header url
    curl -s -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 5 -H "Host: $1" "$2" 2>/dev/null || true
}

# The first error lines of a log (a link error's first undefined symbol, a FAILED firm), then
# its end.
show_log() {
    local first
    first=$(grep -n -m 8 -E 'error|Error|FAILED|failed|denied' "$1" || true)
    if [ -n "$first" ]; then
        echo "  first error lines (line: text):"
        printf '%s\n' "$first" | cut -c1-240 | sed 's/^/  ! /'
    fi
    echo "  last lines:"
    tail -n 40 "$1" | cut -c1-240 | sed 's/^/  | /'
}

declare -A RESULT DURATION
TEST_COUNTS=
FAILED=0

check_run() {
    local r=$WORK/run log=$WORK/run.log pid pgid t0 ok firm code codes rc left extra n port
    ports_free
    make_root "$r"
    local mounts_before ns_mounts_before
    mounts_before=$(mounts_under "$r")
    t0=$SECONDS
    ns_mounts_before=$(awk '{ print $5 }' "/proc/$HOLDER/mountinfo" | sort)
    say "run: make run in /root/tenantd (own session; its log is shown when it is up or fails)"
    # A terminal's foreground job: its own session and process group, SIGINT not ignored (a
    # background job of a non-interactive shell starts with SIGINT ignored).
    setsid env --default-signal=INT nsenter --target "$HOLDER" --mount --root --wd -- \
        /usr/bin/env -i "${CHROOT_ENV[@]}" /bin/sh -c 'cd /root/tenantd && exec make run' \
        </dev/null >"$log" 2>&1 &
    pid=$!
    # Until the forked child has run setsid it is still in our process group: the Ctrl-C must
    # not go there. Wait (bounded) until it leads its own session.
    pgid=
    for _ in $(seq 100); do
        pgid=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print ($3 == $4) ? $3 : "" }')
        [ "$pgid" = "$pid" ] && break
        sleep 0.05
    done
    [ "$pgid" = "$pid" ] || die "run: make run's process $pid did not get its own session"
    ok=0
    while :; do
        codes=""
        ok=1
        for firm in $FIRMS; do
            code=$(http_code "$firm.localhost:8080" http://127.0.0.1:8080/)
            codes="$codes $firm=$code"
            [ "$code" = 200 ] || ok=0
        done
        code=$(http_code 127.0.0.1:7070 http://127.0.0.1:7070/)
        codes="$codes status=$code"
        [ "$code" = 200 ] || ok=0
        # Answers from another program on this machine (ports taken after the check above) or
        # from the proxy in front of someone else's workers must not count: the listeners must
        # be the clean root's and its tenantd must report the three firms running.
        if [ $ok = 1 ]; then
            n=$(firms_running)
            codes="$codes running=$n"
            [ "$n" -ge 3 ] || ok=0
            for port in 8080 7070; do
                served_from "$port" "$r" || { ok=0; codes="$codes port-$port-not-ours"; }
            done
        fi
        [ $ok = 1 ] && break
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" && rc=0 || rc=$?
            say "run: make run exited (status $rc) before the firms answered; its log:"
            show_log "$log"
            RESULT[run]="FAILED (make run exited with status $rc before the three firms and the status page answered)"
            break
        fi
        if [ $((SECONDS - t0)) -ge "$RUN_TIMEOUT" ]; then
            say "run: after ${RUN_TIMEOUT}s:$codes; its log:"
            show_log "$log"
            RESULT[run]="FAILED (not up within ${RUN_TIMEOUT}s:$codes)"
            break
        fi
        sleep 2
    done
    if [ $ok = 1 ]; then
        say "run: up after $((SECONDS - t0))s:$codes"
        # The firms answer before make run has made their demo accounts and printed where to
        # look: wait (bounded) for that, as a person would before pressing Ctrl-C.
        for _ in $(seq 120); do
            grep -q '^Ctrl-C stops' "$log" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if grep -q '^tenantd is running' "$log"; then
            sed -n '/^tenantd is running/,$p' "$log" | sed 's/^/  | /'
        else
            say "run: note: make run printed no 'tenantd is running' banner within 60s; its last lines:"
            tail -n 15 "$log" | sed 's/^/  | /'
        fi
        RESULT[run]=ok
    fi

    # Ctrl-C, then everything started inside the copy must go, and only our mounts remain.
    if [ "${RESULT[run]}" = ok ] && ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" && rc=0 || rc=$?
        say "run: make run exited by itself (status $rc) before the Ctrl-C; its last lines:"
        tail -n 30 "$log" | cut -c1-240 | sed 's/^/  | /'
        RESULT[run]="FAILED (make run exited by itself, status $rc, after the firms first answered)"
    fi
    if kill -0 "$pid" 2>/dev/null; then
        say "run: SIGINT to process group $pgid (Ctrl-C)"
        kill -INT -- -"$pgid" 2>/dev/null || true
        for _ in $(seq 600); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            say "run: make run still running 60s after SIGINT"
            RESULT[run]="FAILED (make run did not stop within 60s of SIGINT)"
        fi
        wait "$pid" 2>/dev/null && rc=0 || rc=$?
        say "run: make run exited with status $rc"
    fi
    for _ in $(seq 150); do # tenantd's workers get a grace period; wait (bounded) for them
        [ -z "$(procs_under "$r" "$HOLDER")" ] && break
        sleep 0.2
    done
    left=$(procs_under "$r" "$HOLDER")
    if [ -n "$left" ]; then
        say "run: processes left inside the root after Ctrl-C:"
        # shellcheck disable=SC2086
        describe_procs $left
        [ "${RESULT[run]}" = ok ] && RESULT[run]="FAILED (processes left after Ctrl-C: $(for p in $left; do cat "/proc/$p/comm" 2>/dev/null; done | sort | uniq -c | awk '{ printf "%s%s×%s", sep, $2, $1; sep = ", " }'))"
    fi
    extra=$(comm -13 <(printf '%s\n' "$mounts_before" | sort) <(mounts_under "$r" | sort))
    extra+=$(comm -13 <(printf '%s\n' "$ns_mounts_before") <(awk '{ print $5 }' "/proc/$HOLDER/mountinfo" | sort) |
        sed 's/^/(in the clean root) /')
    if [ -n "$extra" ]; then
        say "run: mounts left inside the root after Ctrl-C:"
        printf '%s\n' "$extra" | sed 's/^/  /'
        if [ "${RESULT[run]}" = ok ]; then
            RESULT[run]="FAILED (mounts left after Ctrl-C)"
        else
            RESULT[run]="${RESULT[run]%)}; mounts left)"
        fi
    fi
    if [ "${RESULT[run]}" = ok ]; then
        say "run: nothing left running or mounted inside the root after Ctrl-C"
    else
        cp "$log" "$WORK/run.log.kept" 2>/dev/null || true
    fi
    DURATION[run]=$((SECONDS - t0))
    local keep=0
    [ "${RESULT[run]}" != ok ] && [ "$KEEP" = 1 ] && keep=1
    release_root "$r" "$keep"
}

check_test() {
    local r=$WORK/test log=$WORK/test.log t0 rc left counts
    make_root "$r"
    t0=$SECONDS
    say "test: CI=true make test in /root/tenantd (output follows)"
    # In the background and waited for, so that a signal to this script is acted on at once.
    (timeout --kill-after=30 "$TEST_TIMEOUT" nsenter --target "$HOLDER" --mount --root --wd -- \
        /usr/bin/env -i "${CHROOT_ENV[@]}" CI=true /bin/sh -c 'cd /root/tenantd && exec make test' \
        </dev/null 2>&1 | tee "$log") &
    wait $! && rc=0 || rc=$?
    DURATION[test]=$((SECONDS - t0))
    # The runners' own closing lines, for the summary.
    counts=$({
        grep -E '^unit binaries: ' "$log" | tail -n 1
        grep -E '^=* *[0-9]+ (passed|failed|error)' "$log" | tail -n 1 | sed 's/^=* *//; s/ *=*$//'
    } | paste -sd ';' | sed 's/;/; /g')
    TEST_COUNTS=$counts
    if [ $rc = 0 ]; then
        RESULT[test]=ok
    elif [ $rc = 124 ]; then
        RESULT[test]="FAILED (not finished within ${TEST_TIMEOUT}s)"
    else
        RESULT[test]="FAILED (make test exited with status $rc${counts:+: $counts})"
    fi
    left=$(procs_under "$r" "$HOLDER")
    if [ -n "$left" ]; then
        say "test: processes left inside the root after make test (killed now):"
        # shellcheck disable=SC2086
        describe_procs $left
    fi
    local keep=0
    [ "${RESULT[test]}" != ok ] && [ "$KEEP" = 1 ] && keep=1
    release_root "$r" "$keep"
}

for c in $CHECKS; do
    case $c in
    run) check_run ;;
    test) check_test ;;
    *) die "unknown check '$c' (run, test)" ;;
    esac
    [ "${RESULT[$c]}" = ok ] || FAILED=1
done

echo
echo "== cleanroom summary: Debian $SUITE ($MIRROR), checkout ${HEAD_SHA:0:12} in /root/tenantd"
printf '  %-10s %-7s %5ss\n' minbase "$minbase_how" "$minbase_s"
for c in $CHECKS; do
    printf '  %-10s %-7s %5ss' "make $c" "$([ "${RESULT[$c]}" = ok ] && echo ok || echo FAILED)" "${DURATION[$c]}"
    if [ "${RESULT[$c]}" != ok ]; then
        printf '  %s' "${RESULT[$c]#FAILED }"
    elif [ "$c" = test ] && [ -n "$TEST_COUNTS" ]; then
        printf '  (%s)' "$TEST_COUNTS"
    fi
    echo
done
printf '  %-10s %-7s %5ss\n' total "" "$((SECONDS - T0))"
[ ${#KEEP_DIRS[@]} = 0 ] || printf '  kept for a look (KEEP=1): %s\n' "${KEEP_DIRS[@]}"
exit $FAILED
}
