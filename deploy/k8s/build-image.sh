#!/usr/bin/env bash
# Build the container image of the bundled worker without any image registry, as an OCI image
# layout (https://github.com/opencontainers/image-spec, layout 1.0.0) that any registry client
# can push: `skopeo copy oci:DIR:TAG docker://registry/tenant-worker:TAG`.
#
#   deploy/k8s/build-image.sh BUILDDIR [OUTDIR]       (make image)
#
# How:
#   1. A Debian 12 minbase root made by debootstrap with the worker's runtime packages
#      (RUNTIME_PKGS below). debootstrap takes minutes, so the root is cached as a tarball in
#      $IMAGE_CACHE (default /var/cache/tenantd-image), keyed by suite + mirror + package list,
#      and checked against its sha256 before use. The mirror is the first Debian URI in this
#      machine's apt sources (one-line or deb822 format); MIRROR overrides it.
#   2. Onto a copy of it: BUILDDIR/tenant-worker and BUILDDIR/tenant-listen in /usr/local/bin,
#      templates/worker (pages and rule files) in /usr/local/share/tenantd/templates/worker, a
#      passwd/group entry for the non-root user `tenant` (uid/gid 10001; Kubernetes sets the
#      tenant's own uid with runAsUser, which needs no entry), an empty /data (the volume).
#   3. One layer (a tar of that root, numeric owners, sorted, mtimes clamped to
#      SOURCE_DATE_EPOCH), gzip -n, then the config and manifest JSON, each blob named by its
#      sha256: OUTDIR/{oci-layout,index.json,blobs/sha256/*}. Entrypoint: tenant-listen, which
#      binds [::]:$PORT (LISTEN_ADDRESS overrides) and execs tenant-worker with it as fd 3.
#
# Needs root (debootstrap, file owners in the layer). Prints the image's manifest digest.
set -euo pipefail
{
umask 022
BUILDDIR=${1:?usage: build-image.sh BUILDDIR [OUTDIR]}
OUT=${2:-$BUILDDIR/image}
SUITE=${SUITE:-bookworm}
CACHE=${IMAGE_CACHE:-/var/cache/tenantd-image}
TAG=${IMAGE_TAG:-latest}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
# What tenant-worker links (ldd), the zone files its TIMEZONE check reads, and CA certificates.
RUNTIME_PKGS=libuv1,libh2o0.13,libwslay1,libsqlite3-0,libpq5,libjansson4,libsodium23,libinih1,libssl3,zlib1g,ca-certificates,tzdata
SRC=$(cd "$(dirname "$0")/../.." && pwd)

say() { printf 'image: %s\n' "$*"; }
die() {
    printf 'image: FAILED: %s\n' "$*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap; the layer's files are owned by root)"
for c in debootstrap tar gzip sha256sum; do
    command -v "$c" >/dev/null || die "$c is missing: run \`make deps\`"
done
for f in tenant-worker tenant-listen; do
    [ -x "$BUILDDIR/$f" ] || die "$BUILDDIR/$f is missing: run \`make BUILDDIR=$BUILDDIR all\` first"
done

# The first Debian archive URI of this machine's apt sources.
apt_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                           if ($(i) !~ /security/) print $(i) }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) if ($i !~ /security/) print $i }' "$f"
    done
}
MIRROR=${MIRROR:-$(apt_mirror | head -n 1)}
[ -n "$MIRROR" ] || die "no Debian mirror in the apt sources: set MIRROR"

key=$(printf '%s\n' "$SUITE" "$MIRROR" "$RUNTIME_PKGS" minbase | sha256sum | cut -c1-16)
rootfs_tar=$CACHE/rootfs-$SUITE-$key.tar
mkdir -p "$CACHE"
WORK=$(mktemp -d /var/tmp/tenantd-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

if [ -f "$rootfs_tar" ] && [ -f "$rootfs_tar.sha256" ] &&
    (cd "$CACHE" && sha256sum --quiet -c "$(basename "$rootfs_tar").sha256" 2>/dev/null); then
    say "root from the cache ($(basename "$rootfs_tar"))"
else
    say "debootstrap $SUITE (minbase + $RUNTIME_PKGS) from $MIRROR: this takes a few minutes"
    t0=$SECONDS
    debootstrap --variant=minbase --include="$RUNTIME_PKGS" "$SUITE" "$WORK/boot" "$MIRROR" \
        >"$WORK/debootstrap.log" 2>&1 || { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap"; }
    # What a container never uses: package caches and lists, docs, manuals.
    rm -rf "$WORK/boot"/var/cache/apt/archives/*.deb "$WORK/boot"/var/lib/apt/lists/* \
        "$WORK/boot"/usr/share/doc/* "$WORK/boot"/usr/share/man/* "$WORK/boot"/usr/share/info/* \
        "$WORK/boot"/var/log/*.log "$WORK/boot"/var/cache/debconf/*-old
    tar -C "$WORK/boot" --numeric-owner --xattrs -cf "$rootfs_tar.tmp" .
    mv "$rootfs_tar.tmp" "$rootfs_tar"
    (cd "$CACHE" && sha256sum "$(basename "$rootfs_tar")" >"$(basename "$rootfs_tar").sha256")
    rm -rf "$WORK/boot"
    say "root cached in $((SECONDS - t0)) s"
fi

R=$WORK/rootfs
mkdir -p "$R"
tar -C "$R" --numeric-owner -xf "$rootfs_tar"
install -m 0755 "$BUILDDIR/tenant-worker" "$BUILDDIR/tenant-listen" "$R/usr/local/bin/"
mkdir -p "$R/usr/local/share/tenantd/templates"
cp -R "$SRC/templates/worker" "$R/usr/local/share/tenantd/templates/"
chmod -R u=rwX,go=rX "$R/usr/local/share/tenantd"
grep -q '^tenant:' "$R/etc/passwd" || echo 'tenant:x:10001:10001:tenant worker:/nonexistent:/usr/sbin/nologin' >>"$R/etc/passwd"
grep -q '^tenant:' "$R/etc/group" || echo 'tenant:x:10001:' >>"$R/etc/group"
mkdir -p "$R/data" && chown 10001:10001 "$R/data" && chmod 0700 "$R/data"

# The layer, reproducible: sorted names, numeric owners, clamped times, gzip without a name.
tar -C "$R" --sort=name --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf "$WORK/layer.tar" .
diff_id=$(sha256sum "$WORK/layer.tar" | cut -d' ' -f1)
gzip -n -6 "$WORK/layer.tar"

rm -rf "$OUT"
mkdir -p "$OUT/blobs/sha256"
blob() { # file -> prints "digest size", moves it into blobs/
    local d s
    d=$(sha256sum "$1" | cut -d' ' -f1)
    s=$(stat -c %s "$1")
    mv "$1" "$OUT/blobs/sha256/$d"
    echo "$d $s"
}
read -r layer_d layer_s < <(blob "$WORK/layer.tar.gz")
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
cat >"$WORK/config.json" <<JSON
{"created":"$created","architecture":"amd64","os":"linux","config":{"User":"10001:10001","Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","LANG=C.UTF-8","DATA_DIR=/data","TEMPLATES_DIR=/usr/local/share/tenantd/templates/worker","PORT=8080"],"Entrypoint":["/usr/local/bin/tenant-listen","/usr/local/bin/tenant-worker"],"WorkingDir":"/data","ExposedPorts":{"8080/tcp":{}},"Volumes":{"/data":{}},"StopSignal":"SIGTERM","Labels":{"org.opencontainers.image.title":"tenant-worker","org.opencontainers.image.description":"tenantd's bundled worker (h2o + SQLite) on Debian 12"}},"rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},"history":[{"created":"$created","created_by":"deploy/k8s/build-image.sh"}]}
JSON
read -r cfg_d cfg_s < <(blob "$WORK/config.json")
cat >"$WORK/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$cfg_d","size":$cfg_s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:$layer_d","size":$layer_s}]}
JSON
read -r man_d man_s < <(blob "$WORK/manifest.json")
printf '{"imageLayoutVersion":"1.0.0"}\n' >"$OUT/oci-layout"
cat >"$OUT/index.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$man_d","size":$man_s,"annotations":{"org.opencontainers.image.ref.name":"$TAG"}}]}
JSON
say "OCI layout in $OUT: tenant-worker:$TAG sha256:$man_d ($((layer_s / 1024 / 1024)) MiB compressed)"
exit 0
}
