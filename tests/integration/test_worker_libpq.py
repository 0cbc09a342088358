"""tenant-worker loads libpq only for a PostgreSQL database (worker/pq_dl.h).

A SQLite tenant's worker must not map libpq and the libraries it brings
(their relocation was ~5 ms of CPU per worker start); a PostgreSQL tenant's
worker loads it on its first open; a missing or wrong libpq is a start
failure that names the library.
"""
import ctypes
import os
import shutil

import pytest

from tenantd_test.worker import Worker


def mapped(pid):
    with open(f"/proc/{pid}/maps") as f:
        return {line.split()[-1] for line in f if "/" in line}


@pytest.fixture
def made(request):
    ws = []
    yield ws
    failed = request.node.rep_call.failed if hasattr(request.node, "rep_call") else True
    for i, w in enumerate(ws):
        w.cleanup(failed, f"{request.node.name}.{i}")


def test_sqlite_worker_maps_no_libpq(made):
    w = Worker()
    made.append(w)
    w.start()
    libs = {os.path.basename(p) for p in mapped(w.proc.pid)}
    assert any(p.startswith("libsqlite3.so") for p in libs), libs
    assert not any(p.startswith(("libpq.so", "libgssapi", "libldap", "libgnutls")) for p in libs), libs
    assert w.stop() == 0


def test_postgresql_worker_loads_libpq(made, pg):
    w = Worker(DATABASE_TYPE="postgresql")
    made.append(w)
    url, env = pg.new_database_pgpass(w.data_dir)
    w.env.update(env, POSTGRESQL_URL=url)
    w.start()
    libs = {os.path.basename(p) for p in mapped(w.proc.pid)}
    assert "libpq.so.5" in libs or any(p.startswith("libpq.so.5.") for p in libs), libs
    assert w.stop() == 0


def test_missing_or_wrong_libpq_names_it(made):
    """LD_LIBRARY_PATH puts a fake libpq.so.5 first: an empty file (not
    loadable), then a real library without libpq's functions (libz)."""
    w = Worker(DATABASE_TYPE="postgresql", POSTGRESQL_URL="postgresql://nobody@127.0.0.1:1/none")
    made.append(w)
    fake = os.path.join(w.tmp, "fakelib")
    os.makedirs(fake)
    open(os.path.join(fake, "libpq.so.5"), "w").close()
    r = w.run(env={"LD_LIBRARY_PATH": fake})
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "database: cannot load libpq.so.5 (PostgreSQL client library)" in r.stderr, r.stderr

    ctypes.CDLL("libz.so.1")
    libz = next(p for p in mapped(os.getpid()) if os.path.basename(p).startswith("libz.so.1"))
    os.unlink(os.path.join(fake, "libpq.so.5"))
    shutil.copy(libz, os.path.join(fake, "libpq.so.5"))
    r = w.run(env={"LD_LIBRARY_PATH": fake})
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "database: libpq.so.5 has no symbol PQ" in r.stderr, r.stderr
