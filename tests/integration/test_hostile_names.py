"""
What a tenant file may show to the firm's users and the operator (issue 12):
`tenantd -n` refuses a logo that names another host (protocol-relative
`//host/x.png`, `http://...`) and bidirectional control characters in the
displayed name and identity fields, each with a message naming the file, the
key and what is wrong; ordinary accented names stay valid.
"""
import subprocess

import pytest

from tenantd_test import binpath


def check(root):
    r = subprocess.run([binpath("tenantd"), "-c", root.config, "-n"], capture_output=True,
                       text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


def test_valid_names_and_logo_pass(root):
    root.add_tenant("nm-ok", name="Cabinet d'Avocats Müller & Fils — عربي",
                    firm={"logo": "/static/logo-ok.png", "address": "12 rue de l'Église"})
    rc, out = check(root)
    assert rc == 0, out


@pytest.mark.parametrize("logo", ["//other.host/x.png", "http://other.host/x.png",
                                  "https://other.host/x.png", "///x.png"])
def test_logo_naming_another_host_is_refused(root, logo):
    root.add_tenant("nm-logo", firm={"logo": logo})
    rc, out = check(root)
    assert rc != 0
    assert "nm-logo.ini" in out and "[firm] logo" in out, out
    assert "another host" in out, out


@pytest.mark.parametrize("cp", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200e", "\u200f"])
def test_bidi_controls_in_displayed_text_are_refused(root, cp):
    root.add_tenant("nm-bidi", name=f"Cabinet {cp}fdp.exe")
    rc, out = check(root)
    assert rc != 0
    assert "nm-bidi.ini" in out and "[tenant] name" in out, out
    assert "bidirectional control character" in out, out


def test_bidi_control_in_the_address_is_refused(root):
    root.add_tenant("nm-addr", firm={"address": "1 rue \u202eX"})
    rc, out = check(root)
    assert rc != 0 and "[firm] address" in out and "bidirectional" in out, out
