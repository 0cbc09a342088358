"""
tenantctl migrate <id> postgresql|sqlite (docs/database.md "Migration"):
sqlite -> postgresql -> sqlite on a firm with data keeps every row (compared
table by table with tenant-worker --db-checksum), a migration that cannot
reach the server leaves the firm serving on SQLite, and --cleanup removes
the old copy. Needs the bundled tenant-worker's PostgreSQL side
(--migrate-copy, --db-checksum): skipped until it is there. What tenantctl
refuses without it is tested in any case.
"""
import http.client
import json
import os
import subprocess

import pytest

from tenantd_test import binpath, helper, http_request


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
    r = subprocess.run([binpath("tenant-worker"), "--db-checksum", src], capture_output=True,
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


@pytest.mark.skipif(not worker_can_migrate(), reason="needs tenant-worker --migrate-copy")
def test_migrate_both_ways_keeps_every_row(root, pg):
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

    # sqlite -> postgresql
    r = json.loads(root.tenantctl("migrate", "firm", "postgresql", "--json").stdout)
    assert r["to"] == "postgresql"
    st = root.status("firm")
    assert st["state"] == "running"
    with open(f"/proc/{st['pid']}/environ", "rb") as f:
        assert b"DATABASE_TYPE=postgresql" in f.read()
    pg_url = f"postgresql://tenant_firm@127.0.0.1:{pg.port}/tenant_firm"
    assert checksum(root, "firm", pg_url) == before
    r = call(port, "GET", "/api/invoices?limit=100", token=tok)
    assert r.status == 200 and len(r.json()) == 20
    # The old SQLite file is kept until --cleanup.
    assert os.path.exists(f"{data}/firm.db")

    # postgresql -> sqlite
    root.tenantctl("migrate", "firm", "sqlite")
    assert checksum(root, "firm", sqlite_src) == before
    root.tenantctl("migrate", "firm", "sqlite", "--cleanup")
    assert pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'tenant_firm'"
                   ).stdout.strip() == "0"
    assert root.status("firm")["state"] == "running"
