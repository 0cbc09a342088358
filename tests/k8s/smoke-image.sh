#!/usr/bin/env bash
# Smoke-run the worker's OCI image (deploy/k8s/build-image.sh) the way a pod runs it, without
# a container engine: unpack the layer that index.json -> manifest names (digests checked),
# then run its entrypoint with its environment in a new mount and pid namespace, chrooted into
# the unpacked root mounted read-only (readOnlyRootFilesystem), a tmpfs on /tmp (the emptyDir),
# a fresh folder on /data (the volume), as a uid with no passwd entry (runAsUser), with no
# capabilities left (chroot --userspec drops root). Loopback only: LISTEN_ADDRESS=127.0.0.1.
# Then GET /healthz must answer 200, and the worker must not run as root.
#
#   tests/k8s/smoke-image.sh IMAGE_DIR [PORT]
set -euo pipefail
IMG=${1:?usage: smoke-image.sh IMAGE_DIR [PORT]}
PORT=${2:-$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
UID_=200123
[ "$(id -u)" = 0 ] || { echo "smoke-image: needs root (namespaces, chroot)" >&2; exit 1; }
W=$(mktemp -d /var/tmp/tenantd-smoke.XXXXXX)
pid=""
# The worker is pid 1 of its pid namespace: ending it ends everything in there. (unshare's
# --kill-child does not reach it: the uid change clears the parent-death signal.)
cleanup() {
    if [ -n "$pid" ]; then
        local child
        child=$(ps -o pid= --ppid "$pid" | tr -d ' ' || true)
        if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; fi
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if [ -n "$child" ]; then kill -KILL "$child" 2>/dev/null || true; fi
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$W"
}
trap cleanup EXIT

blob() { echo "$IMG/blobs/sha256/${1#sha256:}"; }
check() { # digest: the blob's content must hash to its name
    [ "$(sha256sum "$(blob "$1")" | cut -d' ' -f1)" = "${1#sha256:}" ] || { echo "smoke-image: blob $1 does not match its digest" >&2; exit 1; }
}
json() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
man=$(json "$IMG/index.json" 'd["manifests"][0]["digest"]'); check "$man"
cfg=$(json "$(blob "$man")" 'd["config"]["digest"]'); check "$cfg"
layer=$(json "$(blob "$man")" 'd["layers"][0]["digest"]'); check "$layer"
diff_id=$(json "$(blob "$cfg")" 'd["rootfs"]["diff_ids"][0]')
[ "sha256:$(gzip -dc "$(blob "$layer")" | sha256sum | cut -d' ' -f1)" = "$diff_id" ] || { echo "smoke-image: layer does not match diff_id" >&2; exit 1; }
entry=$(json "$(blob "$cfg")" '" ".join(d["config"]["Entrypoint"])')
mapfile -t env < <(json "$(blob "$cfg")" '"\n".join(d["config"]["Env"])')

R=$W/rootfs
mkdir -p "$R" "$W/data"
tar -C "$R" --numeric-owner -xzf "$(blob "$layer")"
chown $UID_:$UID_ "$W/data"
chmod 0700 "$W/data"

env -i "${env[@]}" PORT="$PORT" LISTEN_ADDRESS=127.0.0.1 CLIENT_ID=smoke CLIENT_NAME="Cabinet d'Essai Müller" \
    SECRET_KEY=0123456789abcdef0123456789abcdef PASSWORD_COST=min TIMEZONE=Europe/Paris \
    unshare --mount --pid --fork --kill-child --propagation private \
    sh -c 'set -e
           mount --bind "$0" "$0"; mount -o remount,bind,ro "$0"
           mount -t tmpfs -o size=64m tmpfs "$0/tmp"
           mount --bind "$1" "$0/data"
           mount -t proc proc "$0/proc"
           exec chroot --userspec='$UID_:$UID_' "$0" '"$entry" "$R" "$W/data" >"$W/worker.log" 2>&1 &
pid=$!

code=000
for _ in $(seq 1 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$PORT/healthz" || true)
    [ "$code" = 200 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if [ "$code" != 200 ]; then
    echo "smoke-image: GET /healthz answered $code; the worker said:" >&2
    cat "$W/worker.log" >&2
    exit 1
fi
child=$(ps -o pid= --ppid "$pid" | tr -d ' ' || true)
owner=$(ps -o uid=,comm= -p "$child" | awk '{print $1 "/" $2}')
[ "$owner" = "$UID_/tenant-worker" ] || { echo "smoke-image: the entrypoint became '$owner', not $UID_/tenant-worker" >&2; exit 1; }
[ -e "$W/data/smoke.db" ] || { echo "smoke-image: the worker made no database in /data" >&2; ls -la "$W/data" >&2; exit 1; }
echo "smoke-image: GET /healthz 200 from the image's entrypoint as uid $UID_ (read-only root)"
