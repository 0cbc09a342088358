#!/usr/bin/python3
"""
peer_app.py — the one small WSGI app bench_peers.py runs per tenant, the same
file under uWSGI Emperor (as a vassal's wsgi-file) and under tenantd (as an
`own` worker: it binds 127.0.0.1:$PORT itself, tenantd sees it ready when
GET /healthz first answers 200). Standard library only.

GET /healthz and every other path answer 200 with a small JSON body naming
the tenant and the serving pid, so that the bench can tell a restarted
process from the old one.
"""
import json
import os


def application(environ, start_response):
    body = json.dumps({
        "status": "ok",
        "client_id": os.environ.get("CLIENT_ID", ""),
        "pid": os.getpid(),
        "path": environ.get("PATH_INFO", ""),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


if __name__ == "__main__":
    # Under tenantd: a plain stdlib server on the port it was given.
    import signal
    import sys
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):  # one line per request would be the bench's cost
            pass

    srv = make_server("127.0.0.1", int(os.environ["PORT"]), application, handler_class=Quiet)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv.serve_forever()
