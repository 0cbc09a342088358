"""
PostgreSQL tenants, tenantd's side (docs/database.md): the [postgresql]
configuration and its checks, provisioning at onboarding (one database and
one owner role per tenant, least privilege, the password in the tenant's
.pgpass), isolation between two tenants, the rollback of a failed
onboarding, offboarding (pg_dump into the archive, drop with purge), and the
worker's environment. A real PostgreSQL 15 server (the `pg` fixture).

Until the bundled tenant-worker speaks PostgreSQL, the tenants here run the
helper pgworker (tests/helpers/pgworker.c), whose --create-admin, run by
tenantd in the tenant's jail under its uid, uses the real psql with the
environment tenantd gave it: an onboarding only succeeds when the tenant
reaches its own database with its own password.
"""
import json
import os
import stat
import subprocess

import pytest

from tenantd_test import binpath, helper, wait_for


def use_pg(root, pg, stats="0", **extra):
    """tenantd.ini's [postgresql] for this server; stats_every off unless asked
    (a psql child every second would race the fd check at teardown)."""
    pwfile = os.path.join(root.path, "pg-admin.pw")
    with open(os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(pg.password + "\n")
    root.write_global(postgresql={"url": f"postgresql://postgres@127.0.0.1:{pg.port}/postgres",
                                  "password_file": pwfile, "stats_every": stats},
                      tenantd={"worker": helper("pgworker")}, **extra)
    return pwfile


def pg_one(pg, sql, db="postgres"):
    return pg.psql(sql, db=db).stdout.strip()


def role_exists(pg, name):
    return pg_one(pg, f"SELECT count(*) FROM pg_roles WHERE rolname = '{name}'") == "1"


def db_exists(pg, name):
    return pg_one(pg, f"SELECT count(*) FROM pg_database WHERE datname = '{name}'") == "1"


def onboard(root, tid, name=None, check=True):
    return root.tenantctl("onboard", tid, name or f"Cabinet {tid}", "professional",
                          "--database", "postgresql", "--json", check=check)


def pgpass_of(root, tid):
    path = os.path.join(root.path, "data", "clients", tid, ".pgpass")
    with open(path) as f:
        host, port, db, user, pw = f.read().strip().split(":")
    return path, db, user, pw


def env_of(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return dict(kv.decode().split("=", 1) for kv in f.read().split(b"\0") if b"=" in kv)


def test_config_checks(root, tmp_path):
    """tenantd -n: the password file's mode, a password inline, a PostgreSQL
    tenant without a server; each named."""
    def check():
        r = subprocess.run([binpath("tenantd"), "-c", root.config, "-n"], capture_output=True,
                           text=True, timeout=30)
        return r.returncode, r.stdout + r.stderr

    pw = os.path.join(root.path, "pw")
    with open(pw, "w") as f:
        f.write("secret\n")
    os.chmod(pw, 0o644)
    root.write_global(postgresql={"url": "postgresql://postgres@127.0.0.1:5432/postgres",
                                  "password_file": pw})
    rc, out = check()
    assert rc == 1 and "readable by group or others" in out and "chmod 600" in out, out
    os.chmod(pw, 0o600)
    rc, out = check()
    assert rc == 0 and "configuration OK" in out, out
    root.write_global(postgresql={"url": "postgresql://postgres:hunter2@127.0.0.1/postgres"})
    rc, out = check()
    assert rc == 1 and "[postgresql] url" in out and "password_file" in out, out
    root.write_global(postgresql={"url": "postgresql://postgres@127.0.0.1/x?sslmode=disable"})
    rc, out = check()
    assert rc == 1 and "sslmode" in out and "not supported" in out, out
    # A tenant that wants PostgreSQL when tenantd has no server.
    root.global_cfg.pop("postgresql")
    root.write_global()
    root.add_tenant("dupont", database={"type": "postgresql"})
    rc, out = check()
    assert rc == 1 and "[database] type" in out and "[postgresql] url" in out, out


def test_onboard_creates_database_and_role(root, pg):
    use_pg(root, pg, stats="1s")
    root.start()
    out = json.loads(onboard(root, "dupont-avocats").stdout)
    assert out["admin"]["password"].startswith("pgworker-")
    name = "tenant_dupont_avocats"
    # The role: a plain login, nothing more.
    flags = pg_one(pg, "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, "
                       f"rolcanlogin FROM pg_roles WHERE rolname = '{name}'")
    assert flags == "f|f|f|f|t", flags
    # Its database, owned by it, that PUBLIC cannot connect to.
    owner = pg_one(pg, "SELECT pg_get_userbyid(datdba) FROM pg_database "
                       f"WHERE datname = '{name}'")
    assert owner == name
    acl = pg_one(pg, f"SELECT datacl::text FROM pg_database WHERE datname = '{name}'")
    assert "=c" not in acl.replace(f"{name}=", "").split("/")[0] and not acl.startswith("{=")
    assert pg_one(pg, f"SELECT has_database_privilege('public', '{name}', 'CONNECT')") == "f"
    # The worker reached it from its jail, as its uid, with its .pgpass.
    assert pg_one(pg, "SELECT name FROM firm_users", db=name) == "admin"
    path, db, user, pw = pgpass_of(root, "dupont-avocats")
    st = os.stat(path)
    data_dir = os.path.dirname(path)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.stat(data_dir).st_uid != 0
    assert (db, user) == (name, name) and len(pw) == 32
    # The worker's environment, the seed's names.
    env = env_of(root.status("dupont-avocats")["pid"])
    assert env["DATABASE_TYPE"] == "postgresql"
    assert env["POSTGRESQL_URL"] == f"postgresql://{name}@127.0.0.1:{pg.port}/{name}"
    assert env["PGPASSFILE"] == path
    # Its network: loopback only, with the server's port allowed (pgworker ran
    # psql from inside that jail before it was ready).
    assert root.status("dupont-avocats")["network"] == "local"
    with open(root.tenant_file("dupont-avocats")) as f:
        assert "[database]\ntype = postgresql\n" in f.read()
    # A SQLite tenant next to it keeps SQLite.
    root.tenantctl("onboard", "martin", "Cabinet Martin", "starter", "--json")
    env = env_of(root.status("martin")["pid"])
    assert env["DATABASE_TYPE"] == "sqlite" and "POSTGRESQL_URL" not in env
    # Status and metrics: the backend of each, and the database's size and sessions.
    real = int(pg_one(pg, f"SELECT pg_database_size('{name}')"))
    st = wait_for(lambda: (lambda s: s if s.get("database_state") == "ok" else None)(
        root.status("dupont-avocats")), timeout=20, interval=0.2,
        what="a database sample")
    assert st["database"] == "postgresql" and st["database_connections"] >= 0
    assert abs(st["database_size_bytes"] - real) < 4 * 1024 * 1024, (st, real)
    # No more samples (the last one stays): no psql child runs at the teardown's fd check.
    root.write_global(postgresql={"stats_every": "0"})
    assert root.post("/v1/reload").status == 200
    st = root.status("martin")
    assert st["database"] == "sqlite" and "database_size_bytes" not in st
    metrics = root.get("/metrics").text
    assert 'tenantd_tenant_database_info{tenant="martin",type="sqlite"} 1' in metrics
    assert 'tenantd_tenant_database_size_bytes{tenant="dupont-avocats"}' in metrics


def test_two_tenants_cannot_read_each_other(root, pg):
    use_pg(root, pg)
    root.start()
    onboard(root, "alpha")
    onboard(root, "beta")
    _, db_a, user_a, pw_a = pgpass_of(root, "alpha")
    _, db_b, user_b, pw_b = pgpass_of(root, "beta")
    assert pw_a != pw_b
    # Each reaches its own database...
    assert pg.psql("SELECT count(*) FROM firm_users", db=db_a, user=user_a,
                   password=pw_a).stdout.strip() == "1"
    # ...and neither the other's, in both directions.
    for user, pw, other in ((user_a, pw_a, db_b), (user_b, pw_b, db_a)):
        r = pg.psql("SELECT 1", db=other, user=user, password=pw, check=False)
        assert r.returncode != 0 and "permission denied for database" in r.stderr, r.stderr
    # A wrong password for one's own role fails too (scram, not trust).
    r = pg.psql("SELECT 1", db=db_a, user=user_a, password=pw_b, check=False)
    assert r.returncode != 0 and "password authentication failed" in r.stderr


def test_failed_onboarding_drops_what_it_created(root, pg, skip_alert):
    use_pg(root, pg)
    root.start()
    # 1. The database cannot be created (it exists, someone else's): the role
    # this onboarding created is dropped, the existing database is left alone.
    pg.psql('CREATE DATABASE "tenant_gamma"')
    r = onboard(root, "gamma", check=False)
    assert r.returncode != 0 and "already exists" in (r.stdout + r.stderr), r.stdout + r.stderr
    assert not role_exists(pg, "tenant_gamma") and db_exists(pg, "tenant_gamma")
    assert not os.path.exists(root.tenant_file("gamma"))
    assert not os.path.exists(os.path.join(root.path, "data", "clients", "gamma"))
    # 2. The role exists already (an earlier tenant's): nothing is dropped.
    pg.psql('CREATE ROLE "tenant_delta" LOGIN')
    r = onboard(root, "delta", check=False)
    assert r.returncode != 0 and "already exists" in (r.stdout + r.stderr)
    assert role_exists(pg, "tenant_delta") and not db_exists(pg, "tenant_delta")
    # 3. A later step fails (the first admin cannot be created): the database
    # and role provisioned for it are dropped by the rollback.
    r = onboard(root, "omega", name="Cabinet fail-admin", check=False)
    assert r.returncode != 0
    wait_for(lambda: not role_exists(pg, "tenant_omega") and not db_exists(pg, "tenant_omega"),
             timeout=30, what="the rollback drops tenant_omega")
    assert not os.path.exists(os.path.join(root.path, "data", "clients", "omega"))
    ev = [(e["action"], e["tenant"], e["result"]) for e in root.get("/v1/events").json()]
    assert any(a == "onboard" and t == "gamma" and res.startswith("error")
               for a, t, res in ev), ev


def test_offboard_dumps_then_purge_drops(root, pg):
    use_pg(root, pg)
    root.start()
    onboard(root, "archived")
    onboard(root, "purged")
    name = "tenant_archived"
    pg.psql("INSERT INTO firm_users SELECT 'u' || g FROM generate_series(1, 250) g", db=name)
    rows = pg_one(pg, "SELECT count(*), md5(string_agg(name, ',' ORDER BY name)) "
                      "FROM firm_users", db=name)
    r = root.request("DELETE", "/v1/tenants/archived")
    assert r.status == 200, r.text
    out = r.json()
    dump = out["database_dump"]
    assert dump == os.path.join(out["archive"], "archived.pgdump")
    assert stat.S_IMODE(os.stat(dump).st_mode) == 0o600
    # The database is kept on the server, and the dump holds every row:
    # restored into a scratch database, the rows compare equal.
    assert db_exists(pg, name) and role_exists(pg, name)
    pg.psql('CREATE DATABASE "scratch_restore"')
    env = dict(os.environ, PGPASSWORD=pg.password)
    subprocess.run(["pg_restore", "--no-owner", "-h", "127.0.0.1", "-p", str(pg.port), "-U",
                    "postgres", "-d", "scratch_restore", dump], env=env, check=True,
                   capture_output=True, timeout=60)
    assert pg_one(pg, "SELECT count(*), md5(string_agg(name, ',' ORDER BY name)) "
                      "FROM firm_users", db="scratch_restore") == rows
    pg.psql('DROP DATABASE "scratch_restore"')
    # --purge drops the database and its role.
    r = root.tenantctl("offboard", "purged", "--purge")
    assert not db_exists(pg, "tenant_purged") and not role_exists(pg, "tenant_purged")
    ev = [(e["action"], e["tenant"], e["result"]) for e in root.get("/v1/events").json()]
    assert ("offboard", "purged", "ok (purged)") in ev and ("offboard", "archived", "ok") in ev


def rows_digest(pg, db):
    return pg_one(pg, "SELECT count(*), md5(string_agg(name, ',' ORDER BY name)) FROM firm_users",
                  db=db)


def test_backup_and_restore_roundtrip(root, pg):
    use_pg(root, pg)
    root.start()
    onboard(root, "bk")
    db = "tenant_bk"
    pg.psql("INSERT INTO firm_users SELECT 'before-' || g FROM generate_series(1, 300) g", db=db)
    want = rows_digest(pg, db)
    out = json.loads(root.tenantctl("backup", "bk", "--json").stdout)
    path = out["path"]
    assert path.endswith(".pgdump") and out["via"] == "tenantd"
    with open(path[:-len(".pgdump")] + ".json") as f:
        manifest = json.load(f)
    assert manifest["engine"] == "postgresql" and manifest["tenant"] == "bk"
    assert manifest["tables"] == {"firm_users": 301}
    assert manifest["sha256"] == subprocess.run(["sha256sum", path], capture_output=True,
                                                text=True, check=True).stdout.split()[0]
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == os.stat(os.path.join(root.path, "data", "clients", "bk")).st_uid
    listed = root.tenantctl("backups", "bk", "--json").stdout
    assert os.path.basename(path) in listed
    # The firm goes on writing; then the backup is restored.
    pg.psql("DELETE FROM firm_users WHERE name LIKE 'before-1%'", db=db)
    pg.psql("INSERT INTO firm_users VALUES ('after')", db=db)
    assert rows_digest(pg, db) != want
    pid = root.status("bk")["pid"]
    r = json.loads(root.tenantctl("restore", "bk", path, "--json").stdout)
    assert r["state"] == "running" and r["previous"].startswith("tenant_bk_b")
    assert rows_digest(pg, db) == want
    # The previous database is kept, with the rows written after the backup.
    assert pg_one(pg, "SELECT count(*) FROM firm_users WHERE name = 'after'",
                  db=r["previous"]) == "1"
    # The restored database is the tenant's: it owns the table, connects with
    # its own password, and PUBLIC still cannot connect.
    _, _, user, pw = pgpass_of(root, "bk")
    assert pg_one(pg, "SELECT tableowner FROM pg_tables WHERE tablename = 'firm_users'",
                  db=db) == user
    assert pg.psql("INSERT INTO firm_users VALUES ('by-tenant') RETURNING name", db=db,
                   user=user, password=pw).stdout.strip() == "by-tenant"
    assert pg_one(pg, f"SELECT has_database_privilege('public', '{db}', 'CONNECT')") == "f"
    st = root.status("bk")
    assert st["state"] == "running" and st["pid"] != pid
    # A damaged archive is refused before the tenant is touched.
    with open(path, "ab") as f:
        f.write(b"x")
    r = root.tenantctl("restore", "bk", path, check=False)
    assert r.returncode == 1 and "size mismatch" in r.stderr, r.stderr
    assert root.status("bk")["state"] == "running"
    ev = [(e["action"], e["tenant"], e["result"]) for e in root.get("/v1/events").json()]
    assert ("backup", "bk", "ok") in ev


def test_backup_through_the_folder_fd(root, pg, tmp_path):
    """backups/ is the tenant's: pg_dump writes into a file tenantd opened in
    it without following links. A symbolic link planted as backups/ is
    refused and nothing is written where it points; once it is gone the
    backup is written, 0600 and the tenant's, with a manifest that matches."""
    use_pg(root, pg)
    root.start()
    onboard(root, "bl")
    bdir = os.path.join(root.path, "data", "clients", "bl", "backups")
    target = tmp_path / "target"
    target.mkdir()
    if os.path.isdir(bdir):
        os.rename(bdir, bdir + ".old")
    os.symlink(str(target), bdir)
    r = root.tenantctl("backup", "bl", "--json", check=False)
    assert r.returncode != 0 and "not a plain folder" in (r.stdout + r.stderr), (r.stdout,
                                                                               r.stderr)
    assert os.listdir(target) == []
    os.unlink(bdir)
    out = json.loads(root.tenantctl("backup", "bl", "--json").stdout)
    assert os.path.dirname(out["path"]) == bdir and not os.path.islink(bdir)
    assert sorted(os.listdir(bdir)) == sorted([os.path.basename(out["path"]),
                                               os.path.basename(out["path"])[:-7] + ".json"])
    st = os.stat(out["path"])
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.stat(bdir).st_uid != 0
    with open(out["path"][:-len(".pgdump")] + ".json") as f:
        manifest = json.load(f)
    assert manifest["size"] == st.st_size and manifest["tables"] == {"firm_users": 1}
    r = root.tenantctl("restore", "bl", out["path"], "--json")
    assert json.loads(r.stdout)["state"] == "running"


def test_unix_socket_server(root, pg):
    """[postgresql] url naming a socket folder: tenantd provisions through it,
    and the tenant's worker reaches it from its jail (the folder exposed)."""
    os.chmod(pg.sockdir, 0o755)  # as /run/postgresql is: tenants may enter it
    use_pg(root, pg)
    root.write_global(postgresql={
        "url": f"postgresql://postgres@:{pg.port}/postgres?host={pg.sockdir}"})
    root.start()
    onboard(root, "sock")
    name = "tenant_sock"
    assert pg_one(pg, "SELECT name FROM firm_users", db=name) == "admin"
    env = env_of(root.status("sock")["pid"])
    assert env["POSTGRESQL_URL"] == (f"postgresql://{name}@/{name}?host={pg.sockdir}"
                                     f"&port={pg.port}")
    # The worker's own view holds the socket.
    pid = root.status("sock")["pid"]
    assert os.path.exists(f"/proc/{pid}/root{pg.sockdir}/.s.PGSQL.{pg.port}")


def test_switch_database_route(root, pg):
    """POST /v1/tenants/<id>/database, the last step of tenantctl migrate:
    tenantd rewrites [database] type in the file, reloads, and audits it."""
    use_pg(root, pg)
    root.add_tenant("dupont", worker={"port": str(root.next_port), "password_cost": "min"})
    root.start()
    pid = root.status("dupont")["pid"]
    for body, status in [({}, 400), ({"type": "mongodb"}, 400), ({"type": 1}, 400),
                         ({"type": "sqlite", "reason": "x" * 500}, 400)]:
        r = root.post("/v1/tenants/dupont/database", body)
        assert r.status == status and r.json()["error"], (body, r.status, r.text)
    assert root.post("/v1/tenants/nosuch/database", {"type": "sqlite"}).status == 404
    r = root.post("/v1/tenants/dupont/database", {"type": "postgresql", "reason": "test"})
    assert r.status == 200, r.text
    assert r.json() == {"id": "dupont", "database": "postgresql", "previous": "sqlite",
                        "read_only": False}
    with open(root.tenant_file("dupont")) as f:
        text = f.read()
    assert text.count("[database]") == 1 and "type = postgresql" in text
    # The reload tried a worker with the PostgreSQL environment; it could not
    # reach a database (none was provisioned: tenantctl migrate does that), so
    # the worker it was to replace goes on serving. A changed file is an
    # operator's restart (operator_restarts), not the supervisor's.
    st = wait_for(lambda: (lambda s: s if s["database"] == "postgresql"
                           and s["restarts"] + s["operator_restarts"] >= 1
                           else None)(root.status("dupont")), timeout=30, interval=0.2,
                  what="a restart attempt on postgresql")
    assert st["pid"] == pid  # the serving worker is still the SQLite one
    # And back: the key is replaced in place, not added twice.
    assert root.post("/v1/tenants/dupont/database", {"type": "sqlite"}).status == 200
    with open(root.tenant_file("dupont")) as f:
        text = f.read()
    assert text.count("[database]") == 1 and text.count("type = ") == 1 and "type = sqlite" in text
    # Settled on SQLite again: one worker, no start attempt in flight.
    root.wait_state("dupont", "running",
                    pred=lambda s: s["database"] == "sqlite" and s["starting_pid"] is None
                    and s["next_start_in_ms"] is None)
    ev = [(e["action"], e["tenant"], e["result"]) for e in root.get("/v1/events").json()]
    assert ("migrate", "dupont", "ok: sqlite -> postgresql: test") in ev
    assert ("migrate", "dupont", "ok: postgresql -> sqlite") in ev
