"""
tenantctl migrate <id> postgresql|sqlite (docs/database.md "Migration"):
sqlite -> postgresql -> sqlite on a firm with data keeps every row (compared
table by table with tenant-worker --db-checksum and through the API), a
migration that cannot reach the server or whose server stops half-way
through the copy leaves the firm serving on its old backend, every step is in
the audit log, the copy runs in the tenant's jail under its network rule,
and --cleanup removes the old copy. What tenantctl refuses with a worker
that has no --migrate-copy is tested with the helper pgworker.
"""
import http.client
import json
import os
import shutil
import subprocess

import pytest

from tenantd_test import binpath, helper, http_request, wait_for


def worker_can_migrate():
    r = subprocess.run([binpath("tenant-worker"), "--help"], capture_output=True, text=True,
                       timeout=30)
    return "--migrate-copy" in r.stdout + r.stderr


def use_pg(root, pg, worker=None):
    pwfile = os.path.join(root.path, "pg-admin.pw")
    with open(os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(pg.password + "\n")
    root.write_global(postgresql={"url": f"postgresql://postgres@127.0.0.1:{pg.port}/postgres",
                                  "password_file": pwfile})
    if worker:
        root.write_global(tenantd={"worker": worker})


def call(port, method, path, body=None, token=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return http_request(conn, method, path, body, headers)


def checksum(root, tid, src):
    """tenant-worker --db-checksum as the tenant's uid: {table: {rows, sha256}}."""
    data = os.path.join(root.path, "data", "clients", tid)
    st = os.stat(data)
    env = {"PATH": os.environ["PATH"], "PGPASSFILE": os.path.join(data, ".pgpass"),
           "DATA_DIR": data}
    # A copy the tenant's uid can reach, wherever the checkout is (a 0700 /root).
    prog = os.path.join(root.path, "tenant-worker.checksum")
    if not os.path.exists(prog):
        shutil.copy(binpath("tenant-worker"), prog)
        os.chmod(prog, 0o755)
    r = subprocess.run([prog, "--db-checksum", src], capture_output=True,
                       text=True, env=env, cwd=data, user=st.st_uid, group=st.st_gid,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is True
    return out["tables"]


def test_migrate_refused_without_worker_support(root, pg):
    """With a worker that has no --migrate-copy, nothing is touched."""
    use_pg(root, pg, worker=helper("pgworker"))
    root.start()
    root.tenantctl("onboard", "firm", "Cabinet Firm", "professional", "--json")
    pid = root.status("firm")["pid"]
    r = root.tenantctl("migrate", "firm", "postgresql", check=False)
    assert r.returncode == 1 and "--migrate-copy" in r.stderr, r.stderr
    r = root.tenantctl("migrate", "firm", "sqlite", check=False)
    assert r.returncode == 1 and "already keeps its data in sqlite" in r.stderr, r.stderr
    r = root.tenantctl("migrate", "firm", "mongodb", check=False)
    assert r.returncode == 2
    st = root.status("firm")
    assert st["state"] == "running" and st["pid"] == pid
    assert pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'tenant_firm'"
                   ).stdout.strip() == "0"


def events(root, tid="firm"):
    """The audit log's migrate entries of tid, oldest first."""
    return [e["result"] for e in reversed(root.get("/v1/events?limit=1000").json())
            if e["action"] == "migrate" and e["tenant"] == tid]


def invoices(port, tok):
    r = call(port, "GET", "/api/invoices?limit=100", token=tok)
    assert r.status == 200, r.text
    return r.json()


def test_migrate_both_ways_keeps_every_row(root, pg):
    """sqlite -> postgresql -> sqlite keeps every row (the API's answers and
    --db-checksum compared); a server that cannot be reached, and a server
    stopped half-way through a copy, leave the firm serving on its old backend
    with the error reported; every step is in the audit log."""
    use_pg(root, pg)
    root.start()
    out = json.loads(root.tenantctl("onboard", "firm", "Cabinet Firm", "professional",
                                    "--json").stdout)
    port = out["port"]
    tok = call(port, "POST", "/api/auth/login",
               {"username": "admin", "password": out["admin"]["password"]}).json()["token"]
    for i in range(20):
        r = call(port, "POST", "/api/invoices",
                 {"client_name": f"Client {i}",
                  "items": [{"description": "Consultation", "quantity": 1 + i % 3,
                             "unit_price_cents": 10000 + i}]}, token=tok)
        assert r.status in (200, 201), r.text
    data = os.path.join(root.path, "data", "clients", "firm")
    sqlite_src = f"sqlite:{data}/firm.db"
    before = checksum(root, "firm", sqlite_src)
    assert before["invoices"]["rows"] == 20
    api_before = invoices(port, tok)
    assert len(api_before) == 20

    # A server that cannot be reached: the migration fails, the firm serves on SQLite.
    pg.stop()
    try:
        r = root.tenantctl("migrate", "firm", "postgresql", check=False)
        assert r.returncode == 1, r.stdout + r.stderr
    finally:
        pg.start()
    root.wait_state("firm", "running")
    assert call(port, "GET", "/api/invoices", token=tok).status == 200
    with open(root.tenant_file("firm")) as f:
        assert "postgresql" not in f.read()
    ev = events(root)
    assert ev[0] == "started: sqlite -> postgresql", ev
    assert ev[1].startswith("failed: sqlite -> postgresql: "), ev

    # sqlite -> postgresql
    r = json.loads(root.tenantctl("migrate", "firm", "postgresql", "--json").stdout)
    assert r["to"] == "postgresql" and r["tables"] == before
    st = root.status("firm")
    assert st["state"] == "running"
    with open(f"/proc/{st['pid']}/environ", "rb") as f:
        assert b"DATABASE_TYPE=postgresql" in f.read()
    pg_url = f"postgresql://tenant_firm@127.0.0.1:{pg.port}/tenant_firm"
    assert checksum(root, "firm", pg_url) == before
    assert invoices(port, tok) == api_before
    # The old SQLite file is kept until --cleanup.
    assert os.path.exists(f"{data}/firm.db")
    ev = events(root)[2:]
    assert ev[0] == "started: sqlite -> postgresql", ev
    assert ev[1] == ("ok: sqlite -> sqlite, read-only: tenantctl migrate: read-only during the "
                     "copy"), ev
    assert ev[2] == "copy started: sqlite -> postgresql", ev
    assert ev[3] == f"copied and verified: sqlite -> postgresql: {len(before)} tables", ev
    assert ev[4].startswith("ok: sqlite -> postgresql: tenantctl migrate:"), ev
    assert len(ev) == 5, ev
    with open(root.tenant_file("firm")) as f:
        assert "read_only" not in f.read()

    # postgresql -> sqlite, the server stopped half-way through the copy:
    # another session holds invoices, so the copy has read users... and waits.
    locker = pg.lock("tenant_firm", "invoices", "ACCESS EXCLUSIVE")
    mig = subprocess.Popen([binpath("tenantctl"), "-c", root.config, "migrate", "firm",
                            "sqlite"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: pg.waiting_on("tenant_firm", "invoices") == 1, timeout=60,
                 what="the copy waiting on invoices")
        # Meanwhile the firm is served by a read-only worker: reads answered,
        # writes 503 with Retry-After.
        st = root.status("firm")
        assert st["state"] == "running" and st["draining_pid"] is None
        with open(f"/proc/{st['pid']}/environ", "rb") as f:
            assert b"WORKER_READ_ONLY=true" in f.read().split(b"\0")
        me = call(port, "GET", "/api/me", token=tok)
        assert me.status == 200, me.text
        w = call(port, "POST", "/api/invoices",
                 {"client_name": "Late", "items": [{"description": "x", "quantity": 1,
                                                    "unit_price_cents": 1}]}, token=tok)
        assert w.status == 503 and w.json()["error"] == "read_only", w.text
        assert w.headers.get("retry-after") == "5"
        pg.stop()
        wait_for(lambda: any(e.startswith("error: copy failed") for e in events(root)),
                 timeout=60, what="the copy's failure in the audit log")
    finally:
        locker.close()
        if pg.postmaster is None:
            pg.start()
    outs, errs = mig.communicate(timeout=120)
    assert mig.returncode == 1, outs + errs
    assert "copy failed" in errs and "invoices" in errs, errs
    assert "rolled back: firm keeps its data in postgresql" in errs, errs
    root.wait_state("firm", "running")
    with open(root.tenant_file("firm")) as f:
        assert "type = postgresql" in f.read()
    assert invoices(port, tok) == api_before
    assert checksum(root, "firm", pg_url) == before
    assert checksum(root, "firm", sqlite_src) == before  # the kept file, put back
    with open(root.tenant_file("firm")) as f:
        assert "read_only" not in f.read()
    with open(f"/proc/{root.status('firm')['pid']}/environ", "rb") as f:
        assert b"WORKER_READ_ONLY=true" not in f.read().split(b"\0")
    ev = events(root)[7:]
    assert ev[0] == "started: postgresql -> sqlite", ev
    assert ev[1].startswith("ok: postgresql -> postgresql, read-only: "), ev
    assert ev[2] == "copy started: postgresql -> sqlite", ev
    assert ev[3].startswith("error: copy failed: postgresql -> sqlite: ") and "invoices" in ev[3]
    assert ev[4].startswith("failed: postgresql -> sqlite: "), ev
    assert ev[5] == "ok: postgresql -> postgresql: tenantctl migrate: rolled back", ev
    assert ev[6] == "rolled-back: postgresql -> sqlite: back on postgresql, serving", ev

    # postgresql -> sqlite
    root.tenantctl("migrate", "firm", "sqlite")
    assert checksum(root, "firm", sqlite_src) == before
    assert invoices(port, tok) == api_before
    root.tenantctl("migrate", "firm", "sqlite", "--cleanup")
    assert pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'tenant_firm'"
                   ).stdout.strip() == "0"
    assert root.status("firm")["state"] == "running"
    assert events(root)[-1].startswith("ok: postgresql -> sqlite: tenantctl migrate:")


def test_copy_follows_the_tenants_network_rule(root, pg):
    """The copy runs in the tenant's jail with its network rule: a tenant
    whose file says network = none cannot reach a TCP server, and tenantd
    refuses the copy saying so, before anything is stopped."""
    use_pg(root, pg)
    root.add_tenant("closed", worker={"network": "none"})
    root.start()
    root.wait_state("closed", "running")
    r = root.post("/v1/tenants/closed/migration", {"step": "copy", "to": "postgresql"})
    assert r.status == 409 and "network" in r.json()["detail"], r.text
    for body in [{}, {"step": "copy"}, {"step": "jump", "to": "sqlite"},
                 {"step": "started", "to": "sqlite", "reason": "x" * 500}]:
        r = root.post("/v1/tenants/closed/migration", body)
        assert r.status == 400 and r.json()["error"] == "invalid request", (body, r.text)
    assert root.post("/v1/tenants/nosuch/migration",
                     {"step": "copy", "to": "postgresql"}).status == 404
    r = root.post("/v1/tenants/closed/migration", {"step": "copy", "to": "sqlite"})
    assert r.status == 409 and "already" in r.json()["detail"], r.text
    ev = events(root, "closed")
    assert ev and ev[0].startswith("error: cannot copy: ") and "network" in ev[0], ev
