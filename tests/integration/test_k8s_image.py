"""The bundled worker's container image (issue 20): built without any image registry by
deploy/k8s/build-image.sh (a debootstrap root of Debian 12, cached in /var/cache/tenantd-image,
plus the worker), then smoke-run by tests/k8s/smoke-image.sh as a pod would run it: a
read-only root, a non-root uid, GET /healthz on loopback. Self-contained (no conftest fixture).

A cold cache means a debootstrap from the Debian mirror (about a minute here); a warm one,
about 15 s for the whole test. Same as `make check-image`.
"""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("TENANTD_BUILDDIR", REPO / "build" / "release"))

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="building and running the image needs root"),
    pytest.mark.skipif(not (BUILD / "tenant-listen").exists(), reason="tenant-listen is not built"),
]


def test_image_builds_and_serves_healthz_as_non_root(tmp_path):
    out = tmp_path / "image"
    t0 = time.monotonic()
    r = subprocess.run([str(REPO / "deploy/k8s/build-image.sh"), str(BUILD), str(out)],
                       capture_output=True, text=True, timeout=1500, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    built = time.monotonic() - t0
    # An OCI layout: the index names a manifest whose config runs the worker as non-root.
    assert json.loads((out / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((out / "index.json").read_text())
    man = json.loads((out / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_text())
    cfg = json.loads((out / "blobs/sha256" / man["config"]["digest"][7:]).read_text())
    assert cfg["config"]["User"] == "10001:10001"
    assert cfg["config"]["Entrypoint"] == ["/usr/local/bin/tenant-listen",
                                           "/usr/local/bin/tenant-worker"]
    t1 = time.monotonic()
    r = subprocess.run([str(REPO / "tests/k8s/smoke-image.sh"), str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "GET /healthz 200" in r.stdout
    print(f"image: built in {built:.1f} s, smoke-run in {time.monotonic() - t1:.1f} s")
