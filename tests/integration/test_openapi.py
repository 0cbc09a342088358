"""
GET /v1/openapi.json (issue 18): tenantd's admin API described as OpenAPI 3.1, generated
from its route table; validated here by a real OpenAPI validator
(@seriousme/openapi-schema-validator, pinned in tests/openapi/package-lock.json, installed by
`make openapi-deps`), and used by the harness to check every admin answer of the suite
(tenantd_test/openapi.py).
"""
import json
import os
import shutil
import subprocess

import pytest

from tenantd_test import REPO, Response
from tenantd_test.openapi import shapes_from

NODE = shutil.which("node")
MODULES = os.path.join(REPO, "tests", "openapi", "node_modules")


def test_document_is_valid_openapi_31(root, tmp_path):
    root.add_tenant("dupont")
    root.start()
    r = root.get("/v1/openapi.json")
    assert r.status == 200 and r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["openapi"] == "3.1.0"
    # Every route of the table, with its method, and the one this test reads.
    for path, method in [("/v1/tenants", "get"), ("/v1/tenants", "post"),
                         ("/v1/tenants/{id}", "delete"), ("/v1/tenants/{id}/usage", "get"),
                         ("/v1/tenants/{id}/restart", "post"), ("/v1/openapi.json", "get"),
                         ("/metrics", "get")]:
        assert method in doc["paths"][path], (path, method)
    if NODE is None or not os.path.isdir(MODULES):
        pytest.fail("node or tests/openapi/node_modules is missing: run `make openapi-deps`")
    f = tmp_path / "openapi.json"
    f.write_text(json.dumps(doc))
    v = subprocess.run([NODE, os.path.join(REPO, "tests", "openapi", "validate.mjs"), str(f)],
                       capture_output=True, text=True, timeout=60)
    assert v.returncode == 0, v.stdout + v.stderr
    assert "valid: OpenAPI 3.1" in v.stdout

    # The validator is not a rubber stamp: a broken document is refused.
    doc["paths"]["/v1/tenants"]["get"]["responses"] = "nothing"
    f.write_text(json.dumps(doc))
    v = subprocess.run([NODE, os.path.join(REPO, "tests", "openapi", "validate.mjs"), str(f)],
                       capture_output=True, text=True, timeout=60)
    assert v.returncode == 1, v.stdout


def test_harness_hook_refuses_an_answer_off_the_description(root):
    root.add_tenant("dupont")
    root.start()
    shapes = shapes_from(root.get("/v1/openapi.json").body)
    good = root.get("/v1/tenants/dupont")
    shapes.check("GET", "/v1/tenants/dupont", good)  # what tenantd answers fits
    bad = dict(good.json(), restarts="three")
    resp = Response(200, {"content-type": "application/json"}, json.dumps(bad).encode())
    with pytest.raises(AssertionError, match="restarts"):
        shapes.check("GET", "/v1/tenants/dupont", resp)
    err = Response(404, {"content-type": "application/json"}, b'{"error":"x"}')
    with pytest.raises(AssertionError, match="detail"):
        shapes.check("GET", "/v1/nowhere", err)
