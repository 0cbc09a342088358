"""
Client load for the fault, backup and soak tests: bootstrap a firm's admin,
log in, write invoices and case analyses through a tenant's worker from
threads, remember exactly which writes were acknowledged with a 2xx, and
check a tenant's database file afterwards (integrity, every acknowledged row
present, invoice numbers without gap or duplicate).

Only loopback, bounded loops, and no process is started or killed here other
than `tenant-worker --create-admin`, which is waited for.
"""
import http.client
import json
import os
import sqlite3
import subprocess
import threading
import time

from .paths import REPO


def data_dir(root, tid):
    return os.path.join(root.path, "data", "clients", tid)


def db_path(root, tid):
    return os.path.join(data_dir(root, tid), f"{tid}.db")


def worker_request(port, method, path, body=None, token=None, timeout=10):
    """One request to a worker; returns (status, parsed JSON or None).
    Raises OSError / HTTPException when there is no answer at all."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        raw = r.read()
        try:
            parsed = json.loads(raw.decode()) if raw else None
        except ValueError:
            parsed = None
        return r.status, parsed
    finally:
        conn.close()


def bootstrap_admin(root, tid, binpath, username="admin"):
    """Create the firm's first admin with `tenant-worker --create-admin`, run
    with the tenant's environment (the worker contract's variables), and
    return its password. The tenant must have started once (data dir and
    secret exist)."""
    d = data_dir(root, tid)
    with open(os.path.join(d, "secret")) as f:
        secret = f.read().strip()
    env = {
        "PATH": "/usr/bin:/bin",
        "CLIENT_ID": tid,
        "CLIENT_NAME": f"Cabinet {tid.capitalize()}",
        "DATA_DIR": d,
        "SECRET_KEY": secret,
        "DATABASE_TYPE": "sqlite",
        "PORT": "1",
        "TEMPLATES_DIR": os.path.join(REPO, "templates", "worker"),
        "PASSWORD_COST": "min",
    }
    r = subprocess.run([binpath("tenant-worker"), "--create-admin", username], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"--create-admin failed ({r.returncode}): {r.stderr}"
    for line in r.stdout.splitlines():
        if line.startswith("password: "):
            return line[len("password: "):]
    raise AssertionError(f"no password line from --create-admin: {r.stdout!r}")


def login(port, username, password, timeout=20):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            st, body = worker_request(port, "POST", "/api/auth/login",
                                      {"username": username, "password": password})
            if st == 200 and body and body.get("token"):
                return body["token"]
            last = (st, body)
            if st < 500 and st != 429:
                break
        except (OSError, http.client.HTTPException) as e:
            last = e
        time.sleep(0.05)
    raise AssertionError(f"login to port {port} failed: {last!r}")


def invoice_body(i):
    return {"client_name": f"Client {i}",
            "items": [{"description": f"Consultation {i}", "quantity": 1 + i % 3,
                       "unit_price_cents": 10000 + i}]}


def analysis_body(i):
    return {"case_text": f"Dossier {i}: titre de séjour, recours gracieux, "
                         f"enfant scolarisé en France depuis {i % 9 + 1} ans."}


class Writer(threading.Thread):
    """POSTs invoices or analyses to one worker until stopped or max_ops,
    recording every acknowledged write (2xx): invoice numbers or analysis
    ids. Requests without an answer (worker killed, tenantd restarting) are
    not acknowledged and are retried as new writes after a short pause."""

    def __init__(self, port, token, kind, max_ops=100000, pause_on_error=0.05):
        super().__init__(daemon=True)
        self.port, self.token, self.kind = port, token, kind
        self.max_ops = max_ops
        self.pause_on_error = pause_on_error
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.acked = []          # numeros or ids, in order
        self.errors = 0          # no answer
        self.statuses = {}       # status -> count, for non-2xx answers
        self.ops = 0

    def run(self):
        path = "/api/invoices" if self.kind == "invoice" else "/api/analyses"
        key = "numero" if self.kind == "invoice" else "id"
        while not self.stop_event.is_set() and self.ops < self.max_ops:
            i = self.ops
            self.ops += 1
            body = invoice_body(i) if self.kind == "invoice" else analysis_body(i)
            try:
                st, resp = worker_request(self.port, "POST", path, body, self.token, timeout=10)
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.errors += 1
                self.stop_event.wait(self.pause_on_error)
                continue
            if 200 <= st < 300:
                assert resp is not None and key in resp, (st, resp)
                with self.lock:
                    self.acked.append(resp[key])
            else:
                with self.lock:
                    self.statuses[st] = self.statuses.get(st, 0) + 1
                self.stop_event.wait(self.pause_on_error)

    def snapshot(self):
        with self.lock:
            return list(self.acked)

    def stop(self, timeout=30):
        self.stop_event.set()
        self.join(timeout)
        assert not self.is_alive(), "writer thread did not stop"


def open_ro(path):
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def check_db(path, acked_invoices=(), acked_analyses=()):
    """The database at path passes integrity_check, holds every acknowledged
    invoice and analysis, and its invoice numbers have no gap and no
    duplicate within a year. Returns (n_invoices, n_analyses)."""
    db = open_ro(path)
    try:
        ic = db.execute("PRAGMA integrity_check").fetchall()
        assert ic == [("ok",)], f"{path}: integrity_check: {ic[:5]}"
        numeros = [r[0] for r in db.execute("SELECT numero FROM invoices")]
        assert len(numeros) == len(set(numeros)), f"{path}: duplicate invoice numbers"
        missing = set(acked_invoices) - set(numeros)
        assert not missing, f"{path}: {len(missing)} acknowledged invoices lost: {sorted(missing)[:10]}"
        for year, n, lo, hi, distinct in db.execute(
                "SELECT year, count(*), min(seq), max(seq), count(DISTINCT seq) "
                "FROM invoices GROUP BY year"):
            assert lo == 1 and hi == n == distinct, \
                f"{path}: invoice numbers of {year} have a gap or a duplicate: " \
                f"{n} rows, seq {lo}..{hi}, {distinct} distinct"
        ids = {r[0] for r in db.execute("SELECT id FROM ceseda_analyses")}
        lost = set(acked_analyses) - ids
        assert not lost, f"{path}: {len(lost)} acknowledged analyses lost: {sorted(lost)[:10]}"
        return len(numeros), len(ids)
    finally:
        db.close()
