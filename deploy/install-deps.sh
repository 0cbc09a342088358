#!/bin/sh
# Install the Debian packages listed in the file given (default deploy/debian-packages.txt)
# that are not installed yet. Needs root for apt-get; says so clearly otherwise.
set -eu
list=${1:-deploy/debian-packages.txt}
pkgs=$(grep -v '^[[:space:]]*#' "$list" | awk 'NF {print $1}')
missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
echo "deps: missing Debian packages:$missing"
if [ "$(id -u)" != 0 ]; then
    echo "deps: not root: install them with: sudo apt-get install$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; refresh them once, quietly.
apt-get update -q >/dev/null || { echo "deps: apt-get update failed" >&2; exit 1; }
# Installing Debian's nginx starts the system service; tenantd runs its own, so stop it again
# only if it was not running before.
sys_nginx_running=0
pgrep -x nginx >/dev/null 2>&1 && sys_nginx_running=1
apt-get install -y -q --no-install-recommends $missing
if [ $sys_nginx_running = 0 ] && pgrep -x nginx >/dev/null 2>&1 && [ -f /run/nginx.pid ]; then
    kill "$(cat /run/nginx.pid)" 2>/dev/null || true
fi
