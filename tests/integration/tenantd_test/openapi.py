"""
Every admin API answer of the suite checked against tenantd's own description of it,
GET /v1/openapi.json (OpenAPI 3.1, generated from the route table): TenantdRoot.request()
calls check() on each JSON answer. The document is fetched once per tenantd (per pid);
the response schema is the one of the matched path, method and status (else the
operation's "default", the Error object; an unknown path must answer an Error too) and is
checked with jsonschema's Draft 2020-12 validator, the dialect of OpenAPI 3.1.
The document itself is validated by a real OpenAPI validator in test_openapi.py.
"""
import json
import re

try:
    import jsonschema
except ImportError:  # pragma: no cover - deploy/debian-packages.txt lists python3-jsonschema
    jsonschema = None


class ApiShapes:
    def __init__(self, doc):
        self.doc = doc
        self.routes = []
        for path, item in doc.get("paths", {}).items():
            rx = re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(path)) + "$")
            self.routes.append((rx, item))
        self.resolver = jsonschema.RefResolver.from_schema(doc)

    def schema_for(self, method, path, status):
        path = path.split("?", 1)[0]
        for rx, item in self.routes:
            if rx.match(path):
                op = item.get(method.lower())
                if op is None:
                    break
                resp = op["responses"].get(str(status)) or op["responses"].get("default")
                if resp is None:
                    raise AssertionError(f"{method} {path}: status {status} is not described")
                media = resp.get("content", {}).get("application/json")
                return media["schema"] if media else None
        return {"$ref": "#/components/schemas/Error"}

    def check(self, method, path, response):
        if method == "HEAD" or not response.headers.get("content-type", "").startswith(
                "application/json"):
            return
        schema = self.schema_for(method, path, response.status)
        if schema is None:
            raise AssertionError(f"{method} {path} answered JSON ({response.status}) where "
                                 "/v1/openapi.json describes another media type")
        body = json.loads(response.body)
        v = jsonschema.Draft202012Validator(schema, resolver=self.resolver)
        errors = sorted(v.iter_errors(body), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            raise AssertionError(
                f"{method} {path} answered {response.status} with a body that does not match "
                f"/v1/openapi.json: at {'/'.join(map(str, e.path)) or '(top)'}: {e.message}")


def shapes_from(doc_bytes):
    if jsonschema is None:
        raise AssertionError("python3-jsonschema is missing (deploy/debian-packages.txt): "
                             "admin answers cannot be checked against /v1/openapi.json")
    return ApiShapes(json.loads(doc_bytes))
