#!/bin/sh
# `make run`: start tenantd in the foreground on the demo configuration of this checkout
# (three firms from the seeds, a managed nginx on 127.0.0.1:8080) and say where to look.
# Ctrl-C stops tenantd, which stops every worker and its nginx.
set -eu
b=${1:?build dir}
cd "$(dirname "$0")/.."
conf=$PWD/tenantd.ini

"$b/tenantd" -c "$conf" -n || { echo "run: the demo configuration is invalid (see above)" >&2; exit 1; }
"$b/tenantd" -c "$conf" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; exit 0' INT TERM

# Wait (bounded) until the three firms are up, as tenantd reports them.
i=0
until "$b/tenantctl" -c "$conf" status >/dev/null 2>&1 && \
      [ "$("$b/tenantctl" -c "$conf" status --json | grep -o '"state": *"running"' | wc -l)" -ge 3 ]; do
    i=$((i + 1))
    if [ $i -gt 150 ] || ! kill -0 $pid 2>/dev/null; then
        echo "run: tenantd did not bring the demo firms up; its log is above" >&2
        kill -TERM $pid 2>/dev/null || true
        exit 1
    fi
    sleep 0.2
done

# One admin account per demo firm, created once; the passwords are kept in run/demo-accounts
# (mode 0600) so a second `make run` prints the same ones.
accounts=run/demo-accounts
if [ ! -s "$accounts" ]; then
    umask 077
    for id in dupont martin bernard; do
        pw=$("$b/tenantctl" -c "$conf" create-admin "$id" admin 2>/dev/null | sed -n 's/^password: //p') || true
        [ -n "$pw" ] && echo "$id admin $pw" >>"$accounts"
    done
fi

cat <<EOT

tenantd is running (pid $pid). Open:
  http://dupont.localhost:8080/     Cabinet Dupont & Associés (professional)
  http://martin.localhost:8080/     Cabinet Martin (starter)
  http://bernard.localhost:8080/    Cabinet Bernard (enterprise)
  http://127.0.0.1:7070/            the operator's status page
Admin token (for the status page and the API): $(cat run/admin.token)
Firm accounts (username / password):
$(sed 's/^/  /' "$accounts" 2>/dev/null)
Operate it from another terminal:  $b/tenantctl -c tenantd.ini status
Ctrl-C stops tenantd and every worker.
EOT
wait $pid
