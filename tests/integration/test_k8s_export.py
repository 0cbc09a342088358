"""`tenantctl export k8s` (issue 20): the Kubernetes manifests of the tenants.

Self-contained (no conftest fixture): each test writes its own tenantd root in a temporary
folder and runs the built tenantctl offline. The manifests are checked with the real
validator (tests/k8s/validate.js: the Kubernetes OpenAPI schemas of the npm package
kubernetes-models, pinned in tests/k8s/package-lock.json; `make test` installs it) and
parsed back with the npm `yaml` parser, as YAML 1.2 and as YAML 1.1.

Golden files: tests/k8s/golden/*.yaml. After a deliberate change of the output, regenerate
them with
    TENANTD_REGEN_GOLDEN=1 make integration BUILDDIR=build/mine PYTEST_ARGS='-k k8s'
and review the diff.
"""
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "tests" / "k8s"
GOLDEN = K8S / "golden"
BUILD = Path(os.environ.get("TENANTD_BUILDDIR", REPO / "build" / "release"))
CTL = BUILD / "tenantctl"
SECRET = "k8s-test-secret-6f1d2c9a8b7e4d3c"


def node_available():
    return shutil.which("node") and (K8S / "node_modules" / "kubernetes-models").is_dir()


pytestmark = pytest.mark.skipif(not CTL.exists(), reason="tenantctl is not built")


def make_root(tmp, tenants=None, tls=False, uids="dupont 200042\n"):
    """A tenantd root: the repo's plans and, unless `tenants` is given, its three demo firms."""
    tdir = tmp / "tenants.d"
    tdir.mkdir()
    if tenants is None:
        for f in sorted((REPO / "tenants.d").glob("*.ini")):
            shutil.copy(f, tdir / f.name)
    else:
        for tid, text in tenants.items():
            (tdir / f"{tid}.ini").write_text(text, encoding="utf-8")
    (tmp / "run").mkdir()
    if uids is not None:
        (tmp / "run" / "uids").write_text(uids)
    tls_lines = "tls_cert = /etc/tenantd/tls.crt\ntls_key = /etc/tenantd/tls.key\n" if tls else ""
    (tmp / "tenantd.ini").write_text(
        "[tenantd]\n"
        "tenants_dir = tenants.d\n"
        f"plans = {REPO / 'plans.ini'}\n"
        "data_dir = data\n"
        "log_dir = logs\n"
        "run_dir = run\n"
        "domain = avocats.example\n"
        "port_range = 5001-5999\n"
        "[proxy]\n"
        "mode = off\n" + tls_lines
    )
    return tmp / "tenantd.ini"


def export(cfg, *args, check=True):
    r = subprocess.run([str(CTL), "-c", str(cfg), "export", "k8s", *args],
                       capture_output=True, text=True, timeout=30)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def validate(path_or_text, tmp=None):
    """Run the validator; returns (returncode, stderr)."""
    if isinstance(path_or_text, str):
        p = tmp / "in.yaml"
        p.write_text(path_or_text, encoding="utf-8")
    else:
        p = path_or_text
    r = subprocess.run(["node", str(K8S / "validate.js"), str(p)], capture_output=True,
                       text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def parse(text, tmp):
    """The documents as the npm YAML parser reads them (after validate.js checks them)."""
    p = tmp / "parse.yaml"
    p.write_text(text, encoding="utf-8")
    r = subprocess.run(["node", str(K8S / "validate.js"), "--json", str(p)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def by_kind(docs, kind, name=None):
    out = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert out, f"no {kind} {name or ''}"
    return out[0]


def env_of(sts):
    c = sts["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


# ---- golden files ------------------------------------------------------------------------------

@pytest.mark.parametrize("name,args,tls", [
    ("demo", [], False),
    ("demo-options", ["--namespace", "firms", "--image", "registry.example/tenant-worker:1",
                      "--storage-class", "fast-ssd", "--ingress-class", "nginx",
                      "--ingress-namespace", "ingress", "martin"], True),
])
def test_golden(tmp_path, name, args, tls):
    cfg = make_root(tmp_path, tls=tls)
    out = export(cfg, *args).stdout
    golden = GOLDEN / f"{name}.yaml"
    if os.environ.get("TENANTD_REGEN_GOLDEN"):
        golden.write_text(out, encoding="utf-8")
    assert golden.exists(), f"{golden} is missing: regenerate with TENANTD_REGEN_GOLDEN=1"
    assert out == golden.read_text(encoding="utf-8"), \
        f"the export differs from {golden.name}; if on purpose, regenerate (see the module doc)"


def test_demo_firms_one_per_plan(tmp_path):
    """The three demo firms, one per plan: resources and uids from their plans and run/uids."""
    docs = parse(export(make_root(tmp_path)).stdout, tmp_path)
    want = {"martin": ("starter", "128Mi", "50m"), "dupont": ("professional", "256Mi", "100m"),
            "bernard": ("enterprise", None, None)}
    plans = set()
    for tid, (plan, mem, cpu) in want.items():
        sts = by_kind(docs, "StatefulSet", f"tenant-{tid}")
        assert sts["metadata"]["labels"]["tenantd/plan"] == plan
        plans.add(plan)
        res = sts["spec"]["template"]["spec"]["containers"][0]["resources"]
        if mem:
            assert res["limits"]["memory"] == mem and res["requests"]["memory"] == mem
            assert res["requests"]["cpu"] == cpu
        assert "cpu" not in res["limits"]
        assert sts["spec"]["replicas"] == 1
        claim = sts["spec"]["volumeClaimTemplates"][0]
        assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
        ing = by_kind(docs, "Ingress", f"tenant-{tid}")
        assert ing["spec"]["rules"][0]["host"] == f"{tid}.avocats.example"
        assert "tls" not in ing["spec"]
    assert plans == {"starter", "professional", "enterprise"}
    # dupont is in run/uids; the others get the next uids, in id order (bernard, martin).
    uid = {t: by_kind(docs, "StatefulSet", f"tenant-{t}")["spec"]["template"]["spec"]
           ["securityContext"]["runAsUser"] for t in want}
    assert uid == {"dupont": 200042, "bernard": 200043, "martin": 200044}


def test_pod_mirrors_the_jail_and_the_worker_contract(tmp_path):
    text = export(make_root(tmp_path), "dupont").stdout
    docs = parse(text, tmp_path)
    sts = by_kind(docs, "StatefulSet", "tenant-dupont")
    pod = sts["spec"]["template"]["spec"]
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True
    assert psc["runAsUser"] == psc["runAsGroup"] == psc["fsGroup"] == 200042
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
    c = pod["containers"][0]
    csc = c["securityContext"]
    assert csc["readOnlyRootFilesystem"] is True
    assert csc["allowPrivilegeEscalation"] is False
    assert csc["capabilities"] == {"drop": ["ALL"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert mounts == {"/data": "data", "/tmp": "tmp"}
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
    for p in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[p]["httpGet"] == {"path": "/healthz", "port": "http"}
    env = env_of(sts)
    # The seed's variables, from config_worker_env, with the pod's paths.
    for k in ("CLIENT_ID CLIENT_NAME INSTANCE_NAME CLIENT_SIRET CLIENT_ADDRESS CLIENT_PHONE "
              "CLIENT_EMAIL CLIENT_LOGO CLIENT_COLOR SUBSCRIPTION_PLAN MAX_USERS MAX_CASES "
              "MAX_ANALYSIS_MONTHLY AI_MODEL PREDICTION_THRESHOLD ADVANCED_FEATURES DATA_DIR PORT "
              "SECRET_KEY DATABASE_TYPE").split():
        assert k in env, k
    assert env["DATA_DIR"] == "/data"
    assert env["PORT"] == "5001" and c["ports"][0]["containerPort"] == 5001
    assert env["SECRET_KEY"] == {"secretKeyRef": {"name": "tenant-dupont-secret", "key": "SECRET_KEY"}}
    assert env["TEMPLATES_DIR"] == "/usr/local/share/tenantd/templates/worker"
    for k in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID"):
        assert k not in env
    assert "# pids: the plan's limit (64) has no field in a pod spec" in text


def test_every_export_validates(tmp_path):
    if not node_available():
        pytest.fail("node or tests/k8s/node_modules is missing: run `make k8s-deps`")
    cfg = make_root(tmp_path, tls=True)
    data = tmp_path / "data"
    for t in ("dupont", "martin", "bernard"):
        (data / t).mkdir(parents=True)
        (data / t / "secret").write_text(SECRET + "\n")
    outdir = tmp_path / "out"
    r = export(cfg, "-o", str(outdir), "--include-secrets")
    files = sorted(p.name for p in outdir.iterdir())
    assert files == ["shared.yaml", "tenant-bernard.yaml", "tenant-dupont.yaml",
                     "tenant-martin.yaml"], files
    assert r.stdout.split() == [str(outdir / f) for f in files]
    for f in files:
        rc, out = validate(outdir / f)
        assert rc == 0, f"{f}: {out}"
    rc, out = validate(export(cfg).stdout, tmp_path)
    assert rc == 0 and "13 objects valid" in out, out


def test_the_validator_refuses_a_broken_manifest(tmp_path):
    """The validator must be able to fail: a wrong type, an unknown field, an ambiguous scalar."""
    text = export(make_root(tmp_path), "dupont").stdout
    for bad, why in [
        (text.replace("runAsUser: 200042", 'runAsUser: "200042"'), "must be integer"),
        (text.replace("readOnlyRootFilesystem:", "readOnlyRootFileSystem:"), "readOnlyRootFileSystem"),
        (text.replace('type: "ClusterIP"', "type: ClusterIP\n  publishNotReadyAddresses: on"),
         "YAML 1.1 and 1.2"),
        (text.replace('kind: "NetworkPolicy"', 'kind: "NetworkPolicee"'), "unknown apiVersion/kind"),
    ]:
        assert bad != text
        rc, out = validate(bad, tmp_path)
        assert rc == 1 and why in out, out


# ---- secrets -----------------------------------------------------------------------------------

def test_no_secret_value_unless_asked(tmp_path):
    cfg = make_root(tmp_path)
    (tmp_path / "data" / "dupont").mkdir(parents=True)
    (tmp_path / "data" / "dupont" / "secret").write_text(SECRET + "\n")
    plain = export(cfg).stdout
    assert SECRET not in plain
    assert "kind: \"Secret\"" not in plain
    out = export(cfg, "--include-secrets", "dupont").stdout
    docs = parse(out, tmp_path)
    s = by_kind(docs, "Secret", "tenant-dupont-secret")
    assert s["stringData"] == {"SECRET_KEY": SECRET}
    assert out.count(SECRET) == 1
    # The env still refers to the Secret: the value is in one place only.
    assert env_of(by_kind(docs, "StatefulSet"))["SECRET_KEY"]["secretKeyRef"]["name"] == \
        "tenant-dupont-secret"
    outdir = tmp_path / "private"
    export(cfg, "--include-secrets", "-o", str(outdir), "dupont")
    assert stat.S_IMODE(os.stat(outdir / "tenant-dupont.yaml").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(outdir).st_mode) == 0o700
    # A tenant that never ran has no secret: refused, named, nothing printed.
    r = export(cfg, "--include-secrets", "martin", check=False)
    assert r.returncode == 1 and r.stdout == ""
    assert "martin" in r.stderr and "no secret" in r.stderr


# ---- hostile values, rules, refusals -----------------------------------------------------------

HOSTILE = "Cabinet \"O'Brien\": #1 & Ünïcødé — 東京 🙂 \\ back: yes"


def firm(name, plan="starter", port=5101, extra=""):
    return (f"[tenant]\nname = {name}\nplan = {plan}\n" + extra.split("|")[0] +
            f"[firm]\naddress = 1 rue: \"quoted\" # not a comment\n"
            f"[worker]\nport = {port}\n" + (extra.split("|")[1] if "|" in extra else ""))


def test_hostile_values_are_valid_yaml_strings(tmp_path):
    cfg = make_root(tmp_path, tenants={"hostile": firm(HOSTILE), "on": firm("on", port=5102)},
                    uids=None)
    out = export(cfg).stdout
    rc, msg = validate(out, tmp_path)
    assert rc == 0, msg
    docs = parse(out, tmp_path)
    sts = by_kind(docs, "StatefulSet", "tenant-hostile")
    assert sts["metadata"]["annotations"]["tenantd/name"] == HOSTILE
    env = env_of(sts)
    assert env["CLIENT_NAME"] == HOSTILE
    assert env["CLIENT_ADDRESS"] == "1 rue: \"quoted\" # not a comment"
    # An id that YAML 1.1 reads as a boolean stays a string everywhere.
    on = by_kind(docs, "StatefulSet", "tenant-on")
    assert env_of(on)["CLIENT_ID"] == "on" and env_of(on)["CLIENT_NAME"] == "on"
    assert on["metadata"]["labels"]["app.kubernetes.io/instance"] == "on"


def test_suspended_and_network_rules(tmp_path):
    cfg = make_root(tmp_path, uids=None, tenants={
        "sleepy": firm("Sleepy", extra="status = suspended\n|network = none\n"),
        "open": firm("Open", port=5102, extra="|network = host\n"),
        "gone": firm("Gone", port=5103, extra="status = cancelled\n|"),
    })
    r = export(cfg)
    assert "gone: cancelled, not exported" in r.stderr
    docs = parse(r.stdout, tmp_path)
    assert not [d for d in docs if d["metadata"]["name"] == "tenant-gone"]
    assert by_kind(docs, "StatefulSet", "tenant-sleepy")["spec"]["replicas"] == 0
    assert by_kind(docs, "StatefulSet", "tenant-open")["spec"]["replicas"] == 1
    sleepy = by_kind(docs, "NetworkPolicy", "tenant-sleepy")["spec"]
    assert sleepy["egress"] == [] and sleepy["policyTypes"] == ["Ingress", "Egress"]
    assert by_kind(docs, "NetworkPolicy", "tenant-open")["spec"]["egress"] == [{}]
    peer = sleepy["ingress"][0]["from"][0]
    assert peer == {"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "ingress-nginx"}}}
    assert sleepy["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 5101}]


def test_own_command_is_refused_without_image(tmp_path):
    cfg = make_root(tmp_path, uids=None, tenants={
        "seed": firm("Seed", extra="|command = /opt/seed/app.py\nsocket = own\n"),
        "plain": firm("Plain", port=5102),
    })
    r = export(cfg, check=False)
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""
    assert "seed: [worker] command" in r.stderr and "--image" in r.stderr
    assert "nothing exported" in r.stderr
    out = export(cfg, "--image", "registry.example/seed-app:3", "seed").stdout
    docs = parse(out, tmp_path)
    c = by_kind(docs, "StatefulSet")["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "registry.example/seed-app:3"
    assert "command" not in c


def test_command_line_errors(tmp_path):
    cfg = make_root(tmp_path)
    assert export(cfg, "zed", check=False).returncode == 4
    assert export(cfg, "--namespace", "Bad_NS", check=False).returncode == 2
    assert export(cfg, "--image", "two words", check=False).returncode == 2
    assert export(cfg, "--frobnicate", check=False).returncode == 2
    r = export(cfg, "--json", check=False)
    assert r.returncode == 2 and "prints YAML only" in r.stderr
    r = subprocess.run([str(CTL), "-c", str(cfg), "export", "helm"], capture_output=True, text=True)
    assert r.returncode == 2 and "the only format is k8s" in r.stderr
