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

# Wait (bounded) until tenantd answers on its admin socket, then until each demo firm is
# running or failed, as tenantd reports them: `tenantctl wait` is answered on the state
# change (GET /v1/tenants/<id>?wait=running,failed), nothing polls the firms. A firm that
# failed for a reason that will not go away by itself (tenantd marks it `failed` at once)
# ends its wait early: when every firm failed, say why and stop instead of waiting out the
# bound.
i=0
until "$b/tenantctl" -c "$conf" status >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 150 ] || ! kill -0 $pid 2>/dev/null; then
        echo "run: tenantd did not come up; its log is above" >&2
        stop 1
    fi
    sleep 0.2
done
why=""
nfailed=0
for f in $firms; do
    rc=0
    line=$("$b/tenantctl" -c "$conf" wait "$f" running,failed --timeout 30 2>/dev/null) || rc=$?
    case "$line" in
    "$f: running"*) ;;
    "$f: failed"*)
        nfailed=$((nfailed + 1))
        why="$why  $line
"
        ;;
    *)
        echo "run: tenantd did not bring the demo firms up; its log is above" >&2
        "$b/tenantctl" -c "$conf" status >&2 2>/dev/null || true
        stop 1
        ;;
    esac
done
why=${why%
}
if [ $nfailed -gt 0 ] && [ $nfailed = "$(echo $firms | wc -w)" ]; then
    cat >&2 <<EOT
run: every demo firm failed to start:
$why
What to do: read the reason above and the firm's log ($b/tenantctl -c tenantd.ini logs dupont);
\`$b/tenantd -c tenantd.ini -n\` checks the configuration and the files the workers need.
Once fixed, run make run again.
EOT
    stop 1
fi
if [ $nfailed -gt 0 ]; then
    printf 'run: some demo firms failed to start (the others are up):\n%s\n' "$why" >&2
fi

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
