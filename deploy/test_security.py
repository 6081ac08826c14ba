"""The kit's Deployment has every setting the policy asks for, and the policy (the
same function deploy/validate.sh runs) notices each one stripped or weakened.

Run: python3 -m pytest -q deploy
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

import pausle_policy as policy

HERE = Path(__file__).resolve().parent
SCHEMA_VERSION = "1.37.0"

POD = ("spec", "template", "spec")
PSC = POD + ("securityContext",)
C0 = POD + ("containers", 0)
CSC = C0 + ("securityContext",)
RES = C0 + ("resources",)


def only_doc(path: Path) -> dict[str, Any]:
    """The one YAML document of a manifest file."""
    (doc,) = policy.load_docs(path)
    return doc


def deployment() -> dict[str, Any]:
    return only_doc(HERE / "deployment.yaml")


def namespace() -> dict[str, Any]:
    return only_doc(HERE / "namespace.yaml")


def dotted(path: tuple) -> str:
    """A path the way the checker names it: spec.template.spec.containers[0].x."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out


def parent(doc: dict, path: tuple) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


def strip(doc: dict, path: tuple) -> dict:
    doc = copy.deepcopy(doc)
    del parent(doc, path)[path[-1]]
    return doc


def put(doc: dict, path: tuple, value: Any) -> dict:
    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
    node[path[-1]] = value
    return doc


# Every setting the kit relies on, stripped one at a time (whole blocks as well as
# their leaves). test_every_setting_is_stripped keeps this list complete.
STRIPPED = [
    PSC,
    PSC + ("runAsNonRoot",),
    PSC + ("runAsUser",),
    PSC + ("runAsGroup",),
    PSC + ("seccompProfile",),
    PSC + ("seccompProfile", "type"),
    CSC,
    CSC + ("runAsNonRoot",),
    CSC + ("runAsUser",),
    CSC + ("runAsGroup",),
    CSC + ("readOnlyRootFilesystem",),
    CSC + ("allowPrivilegeEscalation",),
    CSC + ("capabilities",),
    CSC + ("capabilities", "drop"),
    CSC + ("seccompProfile",),
    CSC + ("seccompProfile", "type"),
    RES,
    RES + ("requests",),
    RES + ("requests", "cpu"),
    RES + ("requests", "memory"),
    RES + ("limits",),
    RES + ("limits", "memory"),
    C0 + ("imagePullPolicy",),
    C0 + ("image",),
    POD + ("automountServiceAccountToken",),
    POD + ("enableServiceLinks",),
    POD + ("terminationGracePeriodSeconds",),
    POD + ("topologySpreadConstraints",),
    ("spec", "replicas"),
    ("spec", "revisionHistoryLimit"),
    ("spec", "strategy"),
    ("spec", "strategy", "type"),
    ("spec", "strategy", "rollingUpdate"),
    ("spec", "strategy", "rollingUpdate", "maxSurge"),
    ("spec", "strategy", "rollingUpdate", "maxUnavailable"),
]

SPREAD = deployment()["spec"]["template"]["spec"]["topologySpreadConstraints"][0]

# Settings present but weakened, or dangerous ones added.
WEAKENED = [
    (PSC + ("runAsNonRoot",), False),
    (PSC + ("runAsUser",), 0),
    (PSC + ("runAsGroup",), 0),
    (PSC + ("seccompProfile", "type"), "Unconfined"),
    (PSC + ("seccompProfile",), {"type": "Localhost", "localhostProfile": "other/profile.json"}),
    (PSC + ("seccompProfile",), {"type": "Localhost"}),
    (PSC + ("seccompProfile",), {"type": "RuntimeDefault", "localhostProfile": policy.LOCALHOST_PROFILE}),
    (CSC + ("runAsNonRoot",), False),
    (CSC + ("runAsUser",), 0),
    (CSC + ("runAsUser",), 1000),
    (CSC + ("runAsGroup",), 0),
    (CSC + ("readOnlyRootFilesystem",), False),
    (CSC + ("allowPrivilegeEscalation",), True),
    (CSC + ("privileged",), True),
    (CSC + ("procMount",), "Unmasked"),
    (CSC + ("capabilities", "drop"), []),
    (CSC + ("capabilities", "drop"), ["NET_RAW"]),
    (CSC + ("capabilities", "add"), ["NET_ADMIN"]),
    (CSC + ("seccompProfile", "type"), "Unconfined"),
    (CSC + ("seccompProfile",), {"type": "Localhost", "localhostProfile": "../../etc/profile.json"}),
    (RES + ("limits", "cpu"), "1m"),
    (RES + ("limits", "memory"), "4Mi"),
    (RES + ("requests", "memory"), "64Mi"),
    (C0 + ("imagePullPolicy",), "Always"),
    (POD + ("automountServiceAccountToken",), True),
    (POD + ("enableServiceLinks",), True),
    (POD + ("terminationGracePeriodSeconds",), 30),
    (POD + ("terminationGracePeriodSeconds",), 0),
    (POD + ("hostNetwork",), True),
    (POD + ("hostPID",), True),
    (POD + ("hostIPC",), True),
    (POD + ("priorityClassName",), "system-cluster-critical"),
    (POD + ("topologySpreadConstraints",), [dict(SPREAD, whenUnsatisfiable="DoNotSchedule")]),
    (POD + ("topologySpreadConstraints",), [dict(SPREAD, topologyKey="topology.kubernetes.io/zone")]),
    (POD + ("topologySpreadConstraints",), [dict(SPREAD, labelSelector={"matchLabels": {"app": "x"}})]),
    (POD + ("volumes",), [{"name": "host", "hostPath": {"path": "/"}}]),
    (POD + ("initContainers",), [{"name": "init", "image": "busybox"}]),
    (("spec", "revisionHistoryLimit"), 10),
    (("spec", "strategy", "type"), "Recreate"),
]


def leaves(node: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict) and node:
        return [p for k, v in node.items() for p in leaves(v, path + (k,))]
    return [path]


def test_the_kit_passes():
    assert policy.deployment_problems(deployment()) == []
    assert policy.namespace_problems(namespace()) == []
    docs = [namespace(), deployment()]
    assert policy.check_docs(docs, rendered=True) == []


@pytest.mark.parametrize("path", STRIPPED, ids=dotted)
def test_stripped_setting_fails(path):
    problems = policy.deployment_problems(strip(deployment(), path))
    assert problems, f"{dotted(path)} stripped, but the checker passed it"
    assert any(dotted(path) in p for p in problems), problems


@pytest.mark.parametrize("path,value", WEAKENED, ids=lambda x: dotted(x) if isinstance(x, tuple) else repr(x))
def test_weakened_setting_fails(path, value):
    problems = policy.deployment_problems(put(deployment(), path, value))
    assert problems, f"{dotted(path)} = {value!r}, but the checker passed it"
    assert any(dotted(path) in p for p in problems), problems


@pytest.mark.parametrize("path", STRIPPED, ids=dotted)
def test_ci_entry_point_fails_too(path, tmp_path, capsys):
    """deploy/validate.sh's command line runs the same checker, schema included."""
    f = tmp_path / "deployment.yaml"
    f.write_text(yaml.safe_dump(strip(deployment(), path)))
    assert policy.main(["check", "--k8s-version", SCHEMA_VERSION, str(f)]) == 1
    assert "FAIL" in capsys.readouterr().out


def assert_contexts_stripped(dep, policed):
    """Every leaf of `dep`'s pod and container security contexts and resources is in
    `policed`."""
    for root in (PSC, CSC, RES):
        node = dep
        for key in root:
            node = node[key]
        for leaf in leaves(node, root):
            assert leaf in policed, f"no strip test for {dotted(leaf)}"


def test_every_setting_is_stripped():
    """Each leaf of the security contexts, the resources and the policed pod and
    Deployment fields has a strip test: a new setting cannot go unproven."""
    dep = deployment()
    policed = set(STRIPPED)
    assert_contexts_stripped(dep, policed)
    pod = dep["spec"]["template"]["spec"]
    for key in pod:
        if key not in ("containers", "securityContext"):
            assert POD + (key,) in policed, f"no strip test for {dotted(POD + (key,))}"
    for key in dep["spec"]:
        if key not in ("selector", "template"):
            assert ("spec", key) in policed, f"no strip test for spec.{key}"


def test_namespace_enforces_restricted():
    ns = namespace()
    label = ("metadata", "labels", policy.PSA_ENFORCE)
    assert policy.namespace_problems(strip(ns, label))
    assert policy.namespace_problems(put(ns, label, "baseline"))
    assert policy.namespace_problems(put(ns, label, "privileged"))


def test_istio_namespace_is_baseline():
    ns = put(namespace(), ("metadata", "labels", policy.ISTIO_NS_LABEL), "enabled")
    assert policy.namespace_problems(ns), "restricted rejects injected sidecars"
    ns = put(ns, ("metadata", "labels", policy.PSA_ENFORCE), "baseline")
    assert policy.namespace_problems(ns) == []


def test_unexpected_objects_fail():
    extra = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x"}}
    assert policy.check_docs([namespace(), deployment(), extra])
    assert policy.check_docs([deployment()], rendered=True)
    assert policy.check_docs([put(deployment(), ("metadata", "namespace"), "default")])


def test_schema_accepts_the_kit():
    docs = [namespace(), deployment()]
    assert policy.schema_problems(docs, ["1.35.0", "1.36.0", SCHEMA_VERSION]) == []


@pytest.mark.parametrize(
    "path,value",
    [
        (CSC + ("runAsNonroot",), True),  # misspelt field: strict schema rejects it
        (CSC + ("runAsUser",), "65535"),  # wrong type
        (RES + ("requests", "memory"), {"Mi": 1}),
        (POD + ("topologySpreadConstraints", 0, "maxSkew"), "one"),
    ],
    ids=["typo", "string-uid", "object-quantity", "string-skew"],
)
def test_schema_rejects(path, value):
    assert policy.schema_problems([put(deployment(), path, value)], [SCHEMA_VERSION])


@pytest.mark.parametrize(
    "text,value",
    [("1Mi", 2**20), ("32Mi", 32 * 2**20), ("500m", 0.5), ("1", 1), ("1k", 1000), ("1.5Gi", 1.5 * 2**30)],
)
def test_quantity(text, value):
    assert policy.quantity(text) == pytest.approx(value)


def test_localhost_seccomp_profile_passes():
    """The seccomp component's setting (deploy/components/seccomp), on both levels,
    names the profile deploy/seccomp holds; the expectation notices either level off."""
    local = {"type": "Localhost", "localhostProfile": policy.LOCALHOST_PROFILE}
    dep = put(put(deployment(), PSC + ("seccompProfile",), local), CSC + ("seccompProfile",), local)
    assert policy.check_docs([dep]) == []
    assert policy.SECCOMP_FILE.is_file()
    assert policy.expectation_problems([dep], None, None, False, "Localhost") == []
    half = put(deployment(), PSC + ("seccompProfile",), local)
    assert policy.expectation_problems([half], None, None, False, "Localhost") != []


# --- the pong component (deploy/components/pong) -------------------------------------

PONG_DIR = HERE / "components" / "pong"
LIVE = C0 + ("livenessProbe",)
READY = C0 + ("readinessProbe",)


def pong_deployment() -> dict[str, Any]:
    return only_doc(PONG_DIR / "deployment.yaml")


def pong_service() -> dict[str, Any]:
    return only_doc(PONG_DIR / "service.yaml")


def pong_problems(dep: dict) -> list[str]:
    return policy.pong_deployment_problems(dep)


# pausle's settings (the same hardening), and pong's own: its drain, port and probes.
PONG_STRIPPED = STRIPPED + [
    C0 + ("args",),
    C0 + ("ports",),
    READY,
    READY + ("httpGet",),
    READY + ("httpGet", "path"),
    READY + ("httpGet", "port"),
    LIVE,
    LIVE + ("httpGet",),
    LIVE + ("httpGet", "path"),
    LIVE + ("httpGet", "port"),
]

PONG_SPREAD = pong_deployment()["spec"]["template"]["spec"]["topologySpreadConstraints"][0]

PONG_WEAKENED = [
    (path, value) for path, value in WEAKENED
    if path not in (POD + ("terminationGracePeriodSeconds",), POD + ("topologySpreadConstraints",),
                    RES + ("requests", "memory"))
] + [
    (RES + ("requests", "memory"), "256Mi"),  # over pong's limit
    (POD + ("terminationGracePeriodSeconds",), 5),  # = --drain 5: SIGKILLed mid-drain
    (POD + ("terminationGracePeriodSeconds",), 1),
    (POD + ("terminationGracePeriodSeconds",), 60),
    (POD + ("topologySpreadConstraints",), [dict(PONG_SPREAD, whenUnsatisfiable="DoNotSchedule")]),
    (C0 + ("args",), ["--drain", "0"]),
    (C0 + ("args",), ["--drain", "five"]),
    (C0 + ("args",), ["--port", "8080"]),
    (C0 + ("command",), ["/bin/sh", "-c", "sleep 5; /pong"]),
    (C0 + ("ports",), [{"name": "web", "containerPort": 8080}]),
    (C0 + ("ports",), [{"name": "http", "containerPort": 80}]),
    (READY + ("httpGet", "path"), "/healthz"),
    (READY + ("httpGet", "port"), 9090),
    (READY + ("exec",), {"command": ["true"]}),
    (LIVE + ("httpGet", "path"), "/readyz"),
    (LIVE + ("httpGet", "port"), "metrics"),
    (("spec", "strategy", "rollingUpdate", "maxUnavailable"), 1),
]


def test_pong_passes():
    assert pong_problems(pong_deployment()) == []
    docs = [namespace(), deployment(), pong_deployment(), pong_service()]
    assert policy.check_docs(docs, rendered=True) == []
    assert policy.schema_problems(docs[2:], ["1.35.0", "1.36.0", SCHEMA_VERSION]) == []


@pytest.mark.parametrize("path", PONG_STRIPPED, ids=dotted)
def test_pong_stripped_setting_fails(path):
    problems = pong_problems(strip(pong_deployment(), path))
    assert problems, f"{dotted(path)} stripped, but the checker passed it"
    assert any(dotted(path) in p for p in problems), problems


@pytest.mark.parametrize("path,value", PONG_WEAKENED,
                         ids=lambda x: dotted(x) if isinstance(x, tuple) else repr(x))
def test_pong_weakened_setting_fails(path, value):
    problems = pong_problems(put(pong_deployment(), path, value))
    assert problems, f"{dotted(path)} = {value!r}, but the checker passed it"
    assert any(dotted(path) in p for p in problems), problems


def test_pong_every_setting_is_stripped():
    """As for pausle: each policed leaf, and every key of pong's container, has a
    strip test."""
    dep = pong_deployment()
    policed = set(PONG_STRIPPED)
    assert_contexts_stripped(dep, policed)
    for key in dep["spec"]["template"]["spec"]["containers"][0]:
        if key not in ("name", "securityContext", "resources"):
            assert C0 + (key,) in policed, f"no strip test for {dotted(C0 + (key,))}"


def test_pong_drain_is_read_either_way():
    for args, drain in ((["--drain", "5"], 5), (["--drain=7"], 7), ([], None), (["--drain"], None)):
        assert policy._drain(args) == drain, args


SVC = ("spec",)
PORT0 = SVC + ("ports", 0)


@pytest.mark.parametrize("path", [SVC + ("selector",), SVC + ("ports",), PORT0 + ("name",),
                                  PORT0 + ("port",), PORT0 + ("targetPort",)], ids=dotted)
def test_pong_service_stripped_fails(path):
    selector = pong_deployment()["spec"]["selector"]["matchLabels"]
    problems = policy.pong_service_problems(strip(pong_service(), path), selector)
    assert any(dotted(path) in p for p in problems), problems


@pytest.mark.parametrize("path,value", [
    (PORT0 + ("name",), "tcp"),  # Istio: plain TCP, no HTTP routing or metrics
    (PORT0 + ("name",), "grpc"),
    (PORT0 + ("port",), 80),
    (PORT0 + ("targetPort",), 9090),
    (PORT0 + ("protocol",), "UDP"),
    (SVC + ("type",), "LoadBalancer"),
    (SVC + ("selector",), {"app.kubernetes.io/name": "pausle"}),
    (SVC + ("ports",), [{"name": "http", "port": 8080}, {"name": "http-2", "port": 8081}]),
], ids=lambda x: dotted(x) if isinstance(x, tuple) else repr(x))
def test_pong_service_weakened_fails(path, value):
    selector = pong_deployment()["spec"]["selector"]["matchLabels"]
    problems = policy.pong_service_problems(put(pong_service(), path, value), selector)
    assert any(dotted(path) in p for p in problems), problems


def test_pong_in_the_rendered_kit():
    """The kit is pausle alone or pausle with the whole pong component; half of it,
    or pong's objects outside the namespace, fail."""
    base = [namespace(), deployment()]
    assert policy.check_docs(base + [pong_deployment()], rendered=True)
    assert policy.check_docs(base + [pong_service()], rendered=True)
    moved = put(pong_service(), ("metadata", "namespace"), "default")
    assert policy.check_docs(base + [pong_deployment(), moved], rendered=True)
    full = base + [pong_deployment(), pong_service()]
    assert policy.expectation_problems(full, None, None, False, pong=True) == []
    assert policy.expectation_problems(base, None, None, False, pong=True)
    assert policy.expectation_problems(full, 12, None, False, deployment="pong")
