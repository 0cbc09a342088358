"""
tenant-worker --migrate-copy FROM TO and --db-checksum SRC (worker/dbcopy*.c),
the copy tenantd's `tenantctl migrate` runs, against a real PostgreSQL server
(the session's `pg` cluster) and real SQLite files: a firm's data goes
SQLite -> PostgreSQL -> SQLite with every row kept (compared table by table
and through the API), a target with data is refused, and a copy that fails
half-way (the server stopped mid-copy, in either direction) leaves the target
without a row.
"""
import json
import os
import subprocess

import pytest

from tenantd_test import wait_for
from tenantd_test.hygiene import SANITIZER_MARKS
from tenantd_test.worker import WORKER, Worker

TABLES = ["users", "sessions", "login_attempts", "ceseda_analyses", "invoices",
          "invoice_items", "deadlines", "monthly_usage", "user_totp", "recovery_codes",
          "ical_feeds", "firm_settings", "audit_logs", "reminders_sent", "user_reminders"]


@pytest.fixture
def workers(request):
    made = []

    def make(**kw):
        w = Worker(**kw)
        made.append(w)
        return w

    yield make
    failed = request.node.rep_call.failed if hasattr(request.node, "rep_call") else True
    for i, w in enumerate(made):
        w.cleanup(failed, f"{request.node.name}.{i}")


def tool(*args, env=None, timeout=120):
    """Run the copy tool; (exit status, the one JSON object it printed)."""
    e = {"PATH": "/usr/bin:/bin"}
    e.update(env or {})
    r = subprocess.run([WORKER, *args], env=e, capture_output=True, text=True, timeout=timeout)
    assert not any(m in r.stderr for m in SANITIZER_MARKS), r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1, (r.returncode, r.stdout, r.stderr)
    return r.returncode, json.loads(lines[0])


def sums(spec, env=None):
    rc, out = tool("--db-checksum", spec, env=env)
    assert rc == 0 and out["ok"] is True, out
    assert list(out["tables"]) == TABLES
    return out["tables"]


def fill(w):
    """A firm with a bit of everything (text with quotes, accents, newlines,
    NULLs, reals), written through the API; returns (admin token, invoices)."""
    pw = w.create_admin("admin")
    w.start()
    w.login("admin", "wrong-password", expect=401)  # a failed login is data too
    token = w.login("admin", pw)
    r = w.post("/api/users", {"username": "maitre.obrien", "password": "s3cret-pass-1234",
                              "role": "lawyer"}, token=token)
    assert r.status == 201, r.text
    for text in ("Demande d'asile, « réfugié » en France depuis 2015.\nMarié, deux enfants.",
                 "OQTF notifiée hier; recours urgent 😀"):
        assert w.post("/api/analyses", {"case_text": text}, token=token).status == 201
    for name, n in (("Société Générale", 2), ('Client "cité"', 1)):
        items = [{"description": f"Consultation {i}", "quantity": i + 1,
                  "unit_price_cents": 15000 + i} for i in range(n)]
        assert w.post("/api/invoices", {"client_name": name, "items": items},
                      token=token).status == 201
    for d in ({"type": "oqtf_retention", "notification_date": "2026-01-05",
               "notification_time": "09:30", "description": "Recours"},
              {"type": "recours_cnda", "notification_date": "2026-01-05"}):
        r = w.post("/api/deadlines", d, token=token)
        assert r.status == 201, r.text
    invoices = w.get("/api/invoices", token=token).json()
    assert w.stop() == 0
    return token, invoices


def pg_worker(workers, pg, url, env, **kw):
    w = workers(DATABASE_TYPE="postgresql", POSTGRESQL_URL=url, **kw)
    w.env.update(env)
    return w


def test_sqlite_to_postgresql_and_back_keeps_every_row(workers, pg):
    a = workers(client_id="dupont")
    token, invoices = fill(a)
    src = "sqlite:" + os.path.join(a.data_dir, "dupont.db")
    before = sums(src)
    assert before["users"]["rows"] == 2 and before["invoice_items"]["rows"] == 3
    assert before["login_attempts"]["rows"] == 2 and before["sessions"]["rows"] == 1

    # To PostgreSQL, with tenantd's environment: no password in the URL.
    url, env = pg.new_database_pgpass(a.tmp, prefix="cp")
    rc, out = tool("--migrate-copy", src, url, env=env)
    assert rc == 0 and out == {"ok": True, "tables": before}, out
    assert sums(url, env) == before
    assert sums(src) == before  # the source is left as it was

    # The firm runs on PostgreSQL: same secret, so the same session still
    # works; same answers; numbering and ids go on after the copied ones.
    b = pg_worker(workers, pg, url, env, client_id="dupont", SECRET_KEY=a.env["SECRET_KEY"])
    b.start()
    assert b.get("/api/invoices", token=token).json() == invoices
    r = b.post("/api/invoices", {"client_name": "Après", "items": [
        {"description": "x", "quantity": 1, "unit_price_cents": 100}]}, token=token)
    assert r.status == 201 and r.json()["numero"].endswith("-0003"), r.text
    r = b.post("/api/users", {"username": "assistant1", "password": "another-pass-5678",
                              "role": "assistant"}, token=token)
    assert r.status == 201 and r.json()["id"] == 3, r.text
    invoices = b.get("/api/invoices", token=token).json()
    assert b.stop() == 0
    on_pg = sums(url, env)
    assert on_pg["invoices"]["rows"] == 3 and on_pg["users"]["rows"] == 3

    # And back to a new SQLite file, which a worker then serves.
    c = workers(client_id="dupont", SECRET_KEY=a.env["SECRET_KEY"])
    dst = "sqlite:" + os.path.join(c.data_dir, "dupont.db")
    rc, out = tool("--migrate-copy", url, dst, env=env)
    assert rc == 0 and out == {"ok": True, "tables": on_pg}, out
    assert sums(dst) == on_pg
    c.start()
    assert c.get("/api/invoices", token=token).json() == invoices
    assert c.stop() == 0


def test_target_with_data_is_refused(workers, pg):
    a = workers(client_id="dupont")
    fill(a)
    src = "sqlite:" + os.path.join(a.data_dir, "dupont.db")
    url, env = pg.new_database_pgpass(a.tmp, prefix="cp")
    assert tool("--migrate-copy", src, url, env=env)[0] == 0
    first = sums(url, env)
    rc, out = tool("--migrate-copy", src, url, env=env)
    assert rc == 2 and out["ok"] is False and out["error"].startswith("target not empty"), out
    assert sums(url, env) == first
    # Bad arguments: a clear error, never the URI (it may hold a password).
    rc, out = tool("--migrate-copy", src, "mysql://u:hunter2@h/db")
    assert rc == 1 and "TO is neither sqlite:PATH nor a postgresql:// URI" in out["error"]
    assert "hunter2" not in out["error"]
    rc, out = tool("--migrate-copy", "sqlite:" + os.path.join(a.tmp, "absent.db"), url, env=env)
    assert rc == 1 and out["ok"] is False and out["error"].startswith("FROM: "), out
    rc, out = tool("--db-checksum")
    assert rc == 64 and out["ok"] is False
    # The data dir is the tenant's: a database path that is a symbolic link is
    # refused (the tool may run with more rights than the tenant).
    link = os.path.join(a.tmp, "link.db")
    os.symlink(os.path.join(a.data_dir, "dupont.db"), link)
    rc, out = tool("--db-checksum", "sqlite:" + link)
    assert rc == 1 and out["error"].startswith("SRC: "), out


def stop_server_mid_copy(pg, db, table, mode, argv, env):
    """Start the copy, wait until it waits on the lock another session holds
    on table (it is half-way: the tables before it are copied or read), stop
    the server, and return what the copy said."""
    locker = pg.lock(db, table, mode)
    e = {"PATH": "/usr/bin:/bin"}
    e.update(env)
    copy = subprocess.Popen([WORKER, *argv], env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: pg.waiting_on(db, table) == 1, timeout=30,
                 what=f"the copy waiting on {table}")
        pg.stop()
        out, errs = copy.communicate(timeout=60)
        assert not any(m in errs for m in SANITIZER_MARKS), errs
    finally:
        if copy.poll() is None:
            copy.kill()
            copy.wait()
        locker.close()
        if pg.postmaster is None:
            pg.start()
    return copy.returncode, json.loads(out.strip()), errs


def test_server_stopped_mid_copy_leaves_the_target_empty(workers, pg):
    a = workers(client_id="dupont")
    fill(a)
    src = "sqlite:" + os.path.join(a.data_dir, "dupont.db")
    before = sums(src)

    # SQLite -> PostgreSQL: the schema exists, then a session holds invoices in
    # SHARE mode: the copy's emptiness check (a read) passes, its inserts into
    # users... go through and the first insert into invoices waits.
    url, env = pg.new_database_pgpass(a.tmp, prefix="cp")
    db = url.rsplit("/", 1)[1]
    assert all(t["rows"] == 0 for t in sums(url, env).values())
    rc, out, errs = stop_server_mid_copy(pg, db, "invoices", "SHARE",
                                         ["--migrate-copy", src, url], env)
    assert rc == 1 and out["ok"] is False and "invoices" in out["error"], (out, errs)
    assert all(t["rows"] == 0 for t in sums(url, env).values())  # rolled back
    assert sums(src) == before

    # Once the server is back the same copy succeeds.
    rc, out = tool("--migrate-copy", src, url, env=env)
    assert rc == 0 and out["tables"] == before, out

    # PostgreSQL -> SQLite: the source's invoices are locked outright, so the
    # copy has written users... into the SQLite file when its read waits.
    path = os.path.join(a.tmp, "back.db")
    rc, out, errs = stop_server_mid_copy(pg, db, "invoices", "ACCESS EXCLUSIVE",
                                         ["--migrate-copy", url, "sqlite:" + path], env)
    assert rc == 1 and out["ok"] is False and "invoices" in out["error"], (out, errs)
    assert all(t["rows"] == 0 for t in sums("sqlite:" + path).values())  # rolled back
    assert sums(url, env) == before
