#!/bin/sh
# `make run`: start tenantd in the foreground on the demo configuration of this checkout
# (three firms from the seeds, a managed nginx on 127.0.0.1:8080) and say where to look.
# Ctrl-C (or SIGTERM to this script) stops tenantd, which stops every worker and its nginx.
set -eu
b=${1:?build dir}
b=$(cd "$b" && pwd)
cd "$(dirname "$0")/.."
conf=$PWD/tenantd.ini
firms="dupont martin bernard"

"$b/tenantd" -c "$conf" -n || { echo "run: the demo configuration is invalid (see above)" >&2; exit 1; }

# tenantd needs both ports; say so plainly instead of leaving it to a bind error.
if command -v ss >/dev/null; then
    for port in 8080 7070; do
        if [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ]; then
            echo "run: port $port is in use (another make run?); stop that first" >&2
            exit 1
        fi
    done
fi

"$b/tenantd" -c "$conf" &
pid=$!
# A background job of a non-interactive shell may start with SIGINT ignored, so the stop is
# forwarded as SIGTERM; then wait until tenantd has stopped its workers and nginx.
stop() {
    trap '' INT TERM
    kill -TERM $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    exit "$1"
}
trap 'stop 0' INT TERM

# Wait (bounded) until the three firms are up, as tenantd reports them.
i=0
until [ "$("$b/tenantctl" -c "$conf" status --json 2>/dev/null | grep -o '"state": *"running"' | wc -l)" -ge 3 ]; do
    i=$((i + 1))
    if [ $i -gt 150 ] || ! kill -0 $pid 2>/dev/null; then
        echo "run: tenantd did not bring the demo firms up; its log is above" >&2
        "$b/tenantctl" -c "$conf" status >&2 2>/dev/null || true
        stop 1
    fi
    sleep 0.2
done

# One admin account per demo firm, created once. The passwords are kept beside the firms'
# databases, in data/demo-accounts (mode 0600), so a second `make run` prints the same ones and
# removing data/ starts afresh with both.
accounts=data/demo-accounts
umask 077
touch "$accounts"
for id in $firms; do
    grep -q "^$id " "$accounts" && continue
    out=$("$b/tenantctl" -c "$conf" create-admin "$id" admin) || {
        echo "run: no account for $id (see above); remove data/ to start afresh" >&2
        continue
    }
    pw=$(printf '%s\n' "$out" | sed -n 's/^password: //p')
    [ -n "$pw" ] && echo "$id admin $pw" >>"$accounts"
done

cat <<EOT

tenantd is running (pid $pid). Open:
  http://dupont.localhost:8080/     Cabinet Dupont & Associés (professional)
  http://martin.localhost:8080/     Cabinet Martin (starter)
  http://bernard.localhost:8080/    Cabinet Bernard (enterprise)
  http://127.0.0.1:7070/            the operator's status page
Admin token (for the status page and the API): $(cat run/admin.token)
Firm accounts (firm username password):
$(sed 's/^/  /' "$accounts")
Operate it from another terminal:  $b/tenantctl -c tenantd.ini status
Ctrl-C stops tenantd and every worker.
EOT
wait $pid
