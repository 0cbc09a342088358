"""
A real PostgreSQL server for the tests: Debian's postgresql (15), run as its own
throw-away cluster. initdb and pg_ctl run as the `postgres` user (initdb refuses
root); the data and the socket folder live in one temporary folder under
TEST_TMP (not /tmp, which a jailed worker does not see), the server listens on
127.0.0.1 on a free port, and it is stopped and removed at the end.

The server's processes are registered with procs.add_service(), so the per-test
stray-process check leaves the postmaster and its backends alone (they are the
session's, not a test's).
"""
import os
import pwd
import secrets
import select
import shutil
import subprocess
import tempfile

from . import procs
from .http import free_port_block
from .paths import TEST_TMP

PG_BIN = "/usr/lib/postgresql/15/bin"


def available():
    """Why no server can be run here, or None."""
    if os.geteuid() != 0:
        return "needs root (initdb runs as the postgres user)"
    if not os.path.exists(os.path.join(PG_BIN, "initdb")):
        return "Debian's postgresql package is not installed (make deps)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres user"
    return None


class PgServer:
    """One cluster: superuser `postgres` with a password, scram on loopback."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="pg-", dir=TEST_TMP)
        os.chmod(self.tmp, 0o755)
        pw = pwd.getpwnam("postgres")
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.data = os.path.join(self.tmp, "data")
        self.sockdir = os.path.join(self.tmp, "run")
        for d in (self.data, self.sockdir):
            os.makedirs(d, mode=0o700)
            os.chown(d, self.uid, self.gid)
        self.port = free_port_block(1)
        self.password = secrets.token_hex(16)
        self.pwfile = os.path.join(self.tmp, "superuser.pw")
        with open(os.open(self.pwfile, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(self.password + "\n")
        os.chown(self.pwfile, self.uid, self.gid)
        self.log = os.path.join(self.sockdir, "server.log")
        self.postmaster = None
        self.counter = 0

    def _as_postgres(self, *argv, check=True):
        r = subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True,
                           text=True, timeout=120)
        if check:
            assert r.returncode == 0, f"{argv[0]}: {r.stderr}{r.stdout}"
        return r

    def init(self):
        self._as_postgres(os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "postgres",
                          "--pwfile", self.pwfile, "--auth-local=scram-sha-256",
                          "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
                          "--no-sync")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.sockdir}'\nmax_connections = 200\n"
                    "fsync = on\nsynchronous_commit = on\n")
        return self

    def start(self):
        self._as_postgres(os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l", self.log,
                          "-w", "-t", "60", "start")
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            self.postmaster = int(f.readline())
        procs.add_service(self.postmaster)
        return self

    def stop(self, mode="fast"):
        if self.postmaster is None:
            return
        self._as_postgres(os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", mode, "-w",
                          "-t", "60", "stop", check=False)
        procs.remove_service(self.postmaster)
        self.postmaster = None

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        self.stop("immediate")
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- SQL ---------------------------------------------------------------
    def url(self, user="postgres", password=None, db="postgres"):
        return (f"postgresql://{user}:{password or self.password}@127.0.0.1:{self.port}/{db}")

    def psql(self, sql, db="postgres", user="postgres", password=None, check=True):
        """Run sql with psql; returns the CompletedProcess (tuples only, unaligned)."""
        env = dict(os.environ, PGPASSWORD=password or self.password)
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h",
                            "127.0.0.1", "-p", str(self.port), "-U", user, "-d", db, "-c", sql],
                           env=env, capture_output=True, text=True, timeout=60)
        if check:
            assert r.returncode == 0, r.stderr
        return r

    def url_nopw(self, role, db):
        """The URI tenantd gives a worker: no password in it (PGPASSFILE has it)."""
        return f"postgresql://{role}@127.0.0.1:{self.port}/{db}"

    def write_pgpass(self, path, role, password, db):
        """A libpq password file for one database, 0600, as tenantd writes
        <data dir>/.pgpass."""
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(f"127.0.0.1:{self.port}:{db}:{role}:{password}\n")
        return path

    def new_database_pgpass(self, folder, prefix="w"):
        """new_database(), handed over as tenantd does: (url without password,
        environment with PGPASSFILE=<folder>/.pgpass)."""
        _, role, pw, db = self.new_database(prefix)
        path = self.write_pgpass(os.path.join(folder, ".pgpass"), role, pw, db)
        return self.url_nopw(role, db), {"PGPASSFILE": path}

    def lock(self, db, table, mode):
        """A psql session holding `LOCK TABLE table IN mode MODE` in db until
        its close(); returned once the lock is held."""
        return Locker(self, db, table, mode)

    def waiting_on(self, db, table):
        """How many sessions of db wait for a lock on table."""
        r = self.psql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                      f" WHERE c.relname = '{table}' AND NOT l.granted", db=db)
        return int(r.stdout.strip())

    def new_database(self, prefix="w"):
        """A fresh database owned by a fresh login role, as tenantd provisions one:
        (url, role, password, dbname)."""
        self.counter += 1
        name = f"{prefix}_{os.getpid()}_{self.counter}"
        pw = secrets.token_hex(16)
        self.psql(f"CREATE ROLE {name} LOGIN PASSWORD '{pw}'")
        self.psql(f"CREATE DATABASE {name} OWNER {name}")
        self.psql(f"REVOKE CONNECT ON DATABASE {name} FROM PUBLIC")
        return self.url(name, pw, name), name, pw, name


class Locker:
    """A psql session holding a lock on one table of db until closed."""

    def __init__(self, server, db, table, mode):
        env = dict(os.environ, PGPASSWORD=server.password)
        self.proc = subprocess.Popen(
            ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres",
             "-d", db], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, text=True)
        self.proc.stdin.write(f"BEGIN;\nLOCK TABLE {table} IN {mode} MODE;\n\\echo locked\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().strip() if ready else ""
        if line != "locked":
            self.close()
            raise AssertionError(f"psql could not lock {table}: {line!r}")

    def close(self):
        """End the session (its transaction, hence the lock, goes with it)."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
