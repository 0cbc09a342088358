#!/bin/sh
# Install the node modules the OpenAPI test needs (tests/openapi/package-lock.json) into
# tests/openapi/node_modules, with `npm ci`. Offline-safe: when node_modules was installed from
# this very lock file (its hash is kept in node_modules/.lock.sha256), nothing is fetched.
# node comes from Debian's `nodejs` (deploy/debian-packages.txt); npm ships with some builds
# of nodejs and is Debian's `npm` package otherwise, installed here only when missing
# (listing it unconditionally would conflict with a nodejs that bundles npm).
set -eu
cd "$(dirname "$0")"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "openapi-deps: node and npm are needed: sudo apt-get install nodejs npm" >&2
        exit 1
    fi
    echo "openapi-deps: installing Debian's nodejs and npm"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm >/dev/null
fi
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f node_modules/.lock.sha256 ] && [ "$(cat node_modules/.lock.sha256)" = "$want" ]; then
    exit 0
fi
echo "openapi-deps: npm ci (tests/openapi/package-lock.json)"
npm ci --no-audit --no-fund --loglevel=error
echo "$want" >node_modules/.lock.sha256
