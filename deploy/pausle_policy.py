#!/usr/bin/env python3
"""The one checker for the 10,000-pod kit's manifests, and the pong component's
(deploy/components/pong: a Deployment and its Service).

`check_docs` holds every rule: deploy/validate.sh runs it (through this file's
command line) on the plain manifests and on each rendered kustomization, and
deploy/test_security.py runs it on the Deployment and on copies of it with one
setting stripped or weakened, to prove each rule fires. Schema validation against
the Kubernetes OpenAPI schema uses kubernetes-validate, which bundles its schemas
(no network).

Usage:
  pausle_policy.py check [--k8s-version V]... [--rendered] [--deployment NAME]
                         [--expect-replicas N] [--expect-image REF] [--expect-istio]
                         [--expect-seccomp RuntimeDefault|Localhost] [--expect-pong] FILE...
"""

from __future__ import annotations

import argparse
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import yaml

NAMESPACE = "pausle"
NAME = "pausle"
PONG = "pong"
UID = GID = 65535
# Below this, the OCI runtime's own start-up inside the container's cgroup (runc
# init: 2.4-3.9 MiB measured, see deploy/deployment.yaml) fails every pod.
MIN_MEMORY_LIMIT_BYTES = 8 * 1024 * 1024
MAX_GRACE_SECONDS = 5
MAX_REVISION_HISTORY = 5
# pong's --drain and grace period: the drain must be long enough for the endpoint's
# removal to reach every client (Envoy's EDS), and the grace period longer than the
# drain, or the kubelet SIGKILLs pong mid-drain; neither needs to be long.
MIN_PONG_DRAIN_SECONDS = 1
MAX_PONG_GRACE_SECONDS = 30
# The port pong listens on (its default --port, the image's ExposedPorts) and the
# name Istio's protocol selection reads as HTTP.
PONG_PORT = 8080
PONG_PORT_NAME = "http"

# The Pod Security Standard the namespace must enforce: "restricted", or
# "baseline" when it opts into Istio sidecar injection (Istio's documented level).
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
ISTIO_NS_LABEL = "istio-injection"
ISTIO_POD_LABEL = "sidecar.istio.io/inject"

Doc = dict[str, Any]

# The one profile of the kit besides the runtime's default: deploy/seccomp/<file>,
# which the nodes hold under their kubelet seccomp root as pausle/<file>
# (deploy/components/seccomp).
SECCOMP_FILE = Path(__file__).resolve().parent / "seccomp" / "pausle.json"
LOCALHOST_PROFILE = f"pausle/{SECCOMP_FILE.name}"


# --- loading -----------------------------------------------------------------


def load_docs(path: str | Path) -> list[Doc]:
    """Every non-empty YAML document in a file."""
    text = Path(path).read_text()
    return [d for d in yaml.safe_load_all(text) if d is not None]


# --- quantities ----------------------------------------------------------------

_SUFFIX = {
    "": 1,
    "m": Decimal("0.001"),
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


def quantity(value: Any) -> Decimal:
    """A Kubernetes resource quantity ("1Mi", "500m", 3) as a number of units."""
    m = _QUANTITY.match(str(value))
    if not m:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return Decimal(m.group(1)) * Decimal(_SUFFIX[m.group(2) or ""])


# --- the rules -------------------------------------------------------------------


def _get(obj: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(key, int):
            if not isinstance(obj, list) or key >= len(obj):
                return None
        elif not isinstance(obj, dict):
            return None
        else:
            if key not in obj:
                return None
        obj = obj[key]
    return obj


def _require(problems: list[str], where: str, got: Any, want: Any) -> None:
    # `is` for booleans, so 1 does not pass for true.
    ok = got is want if isinstance(want, bool) else (got == want and not isinstance(got, bool))
    if not ok:
        problems.append(f"{where}: must be {want!r}, is {got!r}")


def _seccomp(problems: list[str], where: str, sc: Any) -> None:
    """RuntimeDefault, or Localhost with the kit's own profile (and nothing else)."""
    w = f"{where}.seccompProfile"
    if _get(sc, "seccompProfile", "type") == "Localhost":
        _require(problems, f"{w}.localhostProfile", _get(sc, "seccompProfile", "localhostProfile"),
                 LOCALHOST_PROFILE)
        if not SECCOMP_FILE.is_file():
            problems.append(f"{w}: {SECCOMP_FILE} is missing")
        return
    _require(problems, f"{w}.type", _get(sc, "seccompProfile", "type"), "RuntimeDefault")
    if _get(sc, "seccompProfile", "localhostProfile") is not None:
        problems.append(f"{w}.localhostProfile: must be unset with RuntimeDefault")


def _identity(problems: list[str], where: str, sc: Any) -> Doc:
    """The identity rules a pod's and a container's securityContext share: it is set,
    and runs as non-root UID:GID. Returns it ({} when missing) for the rest."""
    if not isinstance(sc, dict):
        problems.append(f"{where}: must be set")
        sc = {}
    _require(problems, f"{where}.runAsNonRoot", sc.get("runAsNonRoot"), True)
    _require(problems, f"{where}.runAsUser", sc.get("runAsUser"), UID)
    _require(problems, f"{where}.runAsGroup", sc.get("runAsGroup"), GID)
    return sc


def container_problems(c: Doc, where: str) -> list[str]:
    p: list[str] = []
    if not c.get("image"):
        p.append(f"{where}.image: must be set")
    _require(p, f"{where}.imagePullPolicy", c.get("imagePullPolicy"), "IfNotPresent")

    s = f"{where}.securityContext"
    sc = _identity(p, s, c.get("securityContext"))
    _require(p, f"{s}.readOnlyRootFilesystem", sc.get("readOnlyRootFilesystem"), True)
    _require(p, f"{s}.allowPrivilegeEscalation", sc.get("allowPrivilegeEscalation"), False)
    if sc.get("privileged") is not None and sc.get("privileged") is not False:
        p.append(f"{s}.privileged: must be unset or false, is {sc.get('privileged')!r}")
    drop = _get(sc, "capabilities", "drop")
    if not isinstance(drop, list) or "ALL" not in drop:
        p.append(f"{s}.capabilities.drop: must contain 'ALL', is {drop!r}")
    add = _get(sc, "capabilities", "add")
    if add:
        p.append(f"{s}.capabilities.add: must be empty, is {add!r}")
    if sc.get("procMount") not in (None, "Default"):
        p.append(f"{s}.procMount: must be unset or 'Default', is {sc.get('procMount')!r}")
    _seccomp(p, s, sc)

    r = f"{where}.resources"
    res = c.get("resources") if isinstance(c.get("resources"), dict) else {}
    req = res.get("requests") if isinstance(res.get("requests"), dict) else {}
    lim = res.get("limits") if isinstance(res.get("limits"), dict) else {}
    for key in ("cpu", "memory"):
        if key not in req:
            p.append(f"{r}.requests.{key}: must be set")
    if "memory" not in lim:
        p.append(f"{r}.limits.memory: must be set")
    if "cpu" in lim:
        p.append(f"{r}.limits.cpu: must be unset (a CFS quota only throttles the runtime's start-up)")
    try:
        if "memory" in lim and quantity(lim["memory"]) < MIN_MEMORY_LIMIT_BYTES:
            p.append(
                f"{r}.limits.memory: must be at least {MIN_MEMORY_LIMIT_BYTES // 2**20}Mi "
                f"(runc init runs in the container's cgroup), is {lim['memory']!r}"
            )
        if "memory" in lim and "memory" in req and quantity(req["memory"]) > quantity(lim["memory"]):
            p.append(f"{r}.requests.memory: must not exceed limits.memory")
    except ValueError as e:
        p.append(f"{r}: {e}")
    return p


def deployment_problems(dep: Doc, grace: tuple[int, int] = (1, MAX_GRACE_SECONDS)) -> list[str]:
    """Every way a pausle Deployment falls short of the kit's settings (a pong one
    too: pong_deployment_problems adds its own rules to these, with its `grace`)."""
    p: list[str] = []
    spec = dep.get("spec") if isinstance(dep.get("spec"), dict) else {}
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        p.append(f"spec.replicas: must be a count, is {replicas!r}")
    rhl = spec.get("revisionHistoryLimit")
    if not isinstance(rhl, int) or isinstance(rhl, bool) or not 0 <= rhl <= MAX_REVISION_HISTORY:
        p.append(f"spec.revisionHistoryLimit: must be 0..{MAX_REVISION_HISTORY}, is {rhl!r}")
    _require(p, "spec.strategy.type", _get(spec, "strategy", "type"), "RollingUpdate")
    for key in ("maxSurge", "maxUnavailable"):
        if _get(spec, "strategy", "rollingUpdate", key) is None:
            p.append(f"spec.strategy.rollingUpdate.{key}: must be set explicitly")

    pod = _get(spec, "template", "spec")
    if not isinstance(pod, dict):
        return p + ["spec.template.spec: must be set"]
    w = "spec.template.spec"
    _require(p, f"{w}.automountServiceAccountToken", pod.get("automountServiceAccountToken"), False)
    _require(p, f"{w}.enableServiceLinks", pod.get("enableServiceLinks"), False)
    got = pod.get("terminationGracePeriodSeconds")
    if not _count(got) or not grace[0] <= got <= grace[1]:
        p.append(f"{w}.terminationGracePeriodSeconds: must be {grace[0]}..{grace[1]}, is {got!r}")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            p.append(f"{w}.{key}: must be unset or false")
    for key in ("priorityClassName", "priority"):
        if key in pod:
            p.append(f"{w}.{key}: must be unset (test pods must not preempt real workloads)")
    for v in pod.get("volumes") or []:
        if isinstance(v, dict) and "hostPath" in v:
            p.append(f"{w}.volumes: no hostPath volumes ({v.get('name')!r})")

    s = f"{w}.securityContext"
    psc = _identity(p, s, pod.get("securityContext"))
    _seccomp(p, s, psc)

    spread = [
        t for t in pod.get("topologySpreadConstraints") or []
        if isinstance(t, dict)
        and t.get("topologyKey") == "kubernetes.io/hostname"
        and t.get("whenUnsatisfiable") == "ScheduleAnyway"
        and _get(t, "labelSelector", "matchLabels") == _get(spec, "selector", "matchLabels")
    ]
    if not spread:
        p.append(
            f"{w}.topologySpreadConstraints: must spread the pods over kubernetes.io/hostname "
            "with whenUnsatisfiable ScheduleAnyway and the Deployment's selector"
        )

    containers = pod.get("containers")
    if not isinstance(containers, list) or not containers:
        p.append(f"{w}.containers: must hold the pausle container")
        containers = []
    for kind in ("containers", "initContainers", "ephemeralContainers"):
        for i, c in enumerate(pod.get(kind) or []):
            p += container_problems(c if isinstance(c, dict) else {}, f"{w}.{kind}[{i}]")
    return p


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _drain(args: Any) -> int | None:
    """The S of `--drain S` (or `--drain=S`) in a container's args, None if absent or
    not a whole number."""
    args = [str(a) for a in args] if isinstance(args, list) else []
    for i, a in enumerate(args):
        value = a.partition("=")[2] if a.startswith("--drain=") else (
            args[i + 1] if a == "--drain" and i + 1 < len(args) else None)
        if value is not None:
            return int(value) if value.isdigit() else None
    return None


def _http_probe(problems: list[str], where: str, probe: Any, path: str, port_names: set) -> None:
    """An httpGet probe of `path` on pong's port (by number or by its name)."""
    if not isinstance(probe, dict):
        problems.append(f"{where}: must be set (httpGet {path})")
        return
    _require(problems, f"{where}.httpGet.path", _get(probe, "httpGet", "path"), path)
    port = _get(probe, "httpGet", "port")
    if port != PONG_PORT and port not in port_names:
        problems.append(f"{where}.httpGet.port: must be {PONG_PORT} or its name, is {port!r}")
    for key in ("exec", "tcpSocket", "grpc"):
        if key in probe:
            problems.append(f"{where}.{key}: must be unset (the probe is httpGet {path})")


def pong_deployment_problems(dep: Doc) -> list[str]:
    """Every way the pong Deployment falls short: the kit's rules, then a drain that
    lets a scale-down finish without 503s (readiness on /readyz, --drain S, a grace
    period longer than S, no capacity lost in a rollout), liveness on /healthz and
    the port Istio reads as HTTP."""
    spec = dep.get("spec") if isinstance(dep.get("spec"), dict) else {}
    pod = _get(spec, "template", "spec") or {}
    grace = pod.get("terminationGracePeriodSeconds")
    p = deployment_problems(dep, grace=(MIN_PONG_DRAIN_SECONDS + 1, MAX_PONG_GRACE_SECONDS))
    _require(p, "spec.strategy.rollingUpdate.maxUnavailable",
             _get(spec, "strategy", "rollingUpdate", "maxUnavailable"), 0)
    containers = pod.get("containers") if isinstance(pod.get("containers"), list) else []
    if len(containers) != 1 or not isinstance(containers[0], dict):
        return p + ["spec.template.spec.containers: must hold the pong container alone"]
    c, w = containers[0], "spec.template.spec.containers[0]"
    if "command" in c:
        p.append(f"{w}.command: must be unset (the image's Entrypoint is /pong)")
    drain = _drain(c.get("args"))
    if drain is None or drain < MIN_PONG_DRAIN_SECONDS:
        p.append(f"{w}.args: must hold --drain S, S >= {MIN_PONG_DRAIN_SECONDS}, is {c.get('args')!r}")
    elif _count(grace) and grace <= drain:
        p.append(f"spec.template.spec.terminationGracePeriodSeconds: must exceed --drain {drain}, "
                 f"is {grace!r}")
    ports = c.get("ports") if isinstance(c.get("ports"), list) else []
    if [(_get(q, "name"), _get(q, "containerPort")) for q in ports] != [(PONG_PORT_NAME, PONG_PORT)]:
        p.append(f"{w}.ports: must be one port {PONG_PORT} named {PONG_PORT_NAME!r}, is {ports!r}")
    names = {_get(q, "name") for q in ports} - {None}
    _http_probe(p, f"{w}.readinessProbe", c.get("readinessProbe"), "/readyz", names)
    _http_probe(p, f"{w}.livenessProbe", c.get("livenessProbe"), "/healthz", names)
    return p


def pong_service_problems(svc: Doc, selector: Any) -> list[str]:
    """The pong Service: pong's pods (the Deployment's selector), one port 8080 named
    http (Istio's protocol selection: an unnamed port is plain TCP), on pong's port."""
    p: list[str] = []
    spec = svc.get("spec") if isinstance(svc.get("spec"), dict) else {}
    if spec.get("type", "ClusterIP") != "ClusterIP":
        p.append(f"spec.type: must be ClusterIP (a test backend stays inside), is {spec.get('type')!r}")
    if selector is not None and spec.get("selector") != selector:
        p.append(f"spec.selector: must be the pong Deployment's {selector!r}, is {spec.get('selector')!r}")
    ports = spec.get("ports") if isinstance(spec.get("ports"), list) else []
    if len(ports) != 1 or not isinstance(ports[0], dict):
        return p + [f"spec.ports: must be one port, is {ports!r}"]
    port = ports[0]
    _require(p, "spec.ports[0].name", port.get("name"), PONG_PORT_NAME)
    _require(p, "spec.ports[0].port", port.get("port"), PONG_PORT)
    if port.get("targetPort") not in (PONG_PORT, PONG_PORT_NAME):
        p.append(f"spec.ports[0].targetPort: must be {PONG_PORT} or {PONG_PORT_NAME!r}, "
                 f"is {port.get('targetPort')!r}")
    if port.get("protocol", "TCP") != "TCP":
        p.append(f"spec.ports[0].protocol: must be TCP, is {port.get('protocol')!r}")
    return p


def namespace_problems(ns: Doc) -> list[str]:
    p: list[str] = []
    labels = _get(ns, "metadata", "labels") or {}
    want = "baseline" if labels.get(ISTIO_NS_LABEL) == "enabled" else "restricted"
    _require(p, f"metadata.labels[{PSA_ENFORCE}]", labels.get(PSA_ENFORCE), want)
    return p


def check_docs(docs: Iterable[Doc], rendered: bool = False) -> list[str]:
    """All problems in a set of manifests; `rendered` also wants the whole kit (with
    or without the pong component, which brings a Deployment and a Service)."""
    docs = list(docs)
    problems: list[str] = []
    kinds: list[str] = []
    pong = [d for d in docs if d.get("kind") == "Deployment" and _get(d, "metadata", "name") == PONG]
    selector = _get(pong[0], "spec", "selector", "matchLabels") if pong else None
    for d in docs:
        kind = d.get("kind")
        name = _get(d, "metadata", "name")
        kinds.append(kind)
        tag = f"{kind}/{name}"
        if kind in ("Deployment", "Service") and _get(d, "metadata", "namespace") != NAMESPACE:
            problems.append(f"{tag}: must be in namespace {NAMESPACE}")
        if kind == "Deployment" and d.get("apiVersion") == "apps/v1" and name == PONG:
            problems += [f"{tag}: {x}" for x in pong_deployment_problems(d)]
        elif kind == "Service" and d.get("apiVersion") == "v1" and name == PONG:
            problems += [f"{tag}: {x}" for x in pong_service_problems(d, selector)]
        elif kind == "Deployment" and d.get("apiVersion") == "apps/v1":
            if name != NAME:
                problems.append(f"{tag}: must be Deployment pausle (or pong) in namespace pausle")
            problems += [f"{tag}: {x}" for x in deployment_problems(d)]
        elif kind == "Namespace" and d.get("apiVersion") == "v1":
            if name != NAMESPACE:
                problems.append(f"{tag}: the kit's namespace is {NAMESPACE!r}")
            problems += [f"{tag}: {x}" for x in namespace_problems(d)]
        else:
            problems.append(f"{tag}: unexpected object {d.get('apiVersion')}/{kind} in the kit")
    if rendered and sorted(kinds) not in (["Deployment", "Namespace"],
                                          ["Deployment", "Deployment", "Namespace", "Service"]):
        problems.append(f"rendered kit must be one Namespace and one Deployment, and with pong "
                        f"one more Deployment and a Service, is {kinds}")
    return problems


def schema_problems(docs: Iterable[Doc], versions: Iterable[str]) -> list[str]:
    """Strict OpenAPI-schema validation: unknown fields are errors too."""
    import kubernetes_validate  # only this part needs it

    problems: list[str] = []
    for d in docs:
        tag = f"{d.get('kind')}/{_get(d, 'metadata', 'name')}"
        for v in versions:
            try:
                kubernetes_validate.validate(d, v, strict=True)
            except kubernetes_validate.ValidationError as e:
                path = ".".join(str(x) for x in e.path)
                problems.append(f"{tag}: Kubernetes {v} schema: {path}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                problems.append(f"{tag}: Kubernetes {v} schema: {e.message}")
            except kubernetes_validate.utils.VersionNotSupportedError:
                raise SystemExit(
                    f"kubernetes-validate {kubernetes_validate.__version__} bundles no schema "
                    f"for Kubernetes {v} (newest: {kubernetes_validate.latest_version()})"
                )
    return problems


# --- expectations for rendered overlays ------------------------------------------------


def expectation_problems(docs: list[Doc], replicas: int | None, image: str | None, istio: bool,
                         seccomp: str | None = None, deployment: str = NAME,
                         pong: bool = False) -> list[str]:
    """What an overlay must have rendered: `replicas` and `image` of the Deployment
    named `deployment`, Istio's labels and the seccomp profile on every one, and
    with `pong` the pong component's Deployment and Service."""
    p: list[str] = []
    deps = [d for d in docs if d.get("kind") == "Deployment"]
    nss = [d for d in docs if d.get("kind") == "Namespace"]
    if pong:
        for kind in ("Deployment", "Service"):
            if not any(d.get("kind") == kind and _get(d, "metadata", "name") == PONG for d in docs):
                p.append(f"expected {kind}/{PONG} (deploy/components/pong)")
    if (replicas is not None or image is not None) and not any(
            _get(d, "metadata", "name") == deployment for d in deps):
        p.append(f"expected Deployment/{deployment}")
    for d in deps:
        mine = _get(d, "metadata", "name") == deployment
        if mine and replicas is not None and _get(d, "spec", "replicas") != replicas:
            p.append(f"expected replicas {replicas}, rendered {_get(d, 'spec', 'replicas')!r}")
        got = _get(d, "spec", "template", "spec", "containers", 0, "image")
        if mine and image is not None and got != image:
            p.append(f"expected image {image!r}, rendered {got!r}")
        if istio and _get(d, "spec", "template", "metadata", "labels", ISTIO_POD_LABEL) != "true":
            p.append(f"expected pod label {ISTIO_POD_LABEL}=\"true\"")
        pod = _get(d, "spec", "template", "spec") or {}
        scs = [pod.get("securityContext")] + [c.get("securityContext") for c in pod.get("containers") or []]
        for i, sc in enumerate(scs if seccomp else []):
            got = _get(sc, "seccompProfile", "type")
            if got != seccomp:
                where = "pod" if i == 0 else f"containers[{i - 1}]"
                p.append(f"expected {where} seccompProfile.type {seccomp}, rendered {got!r}")
    for n in nss:
        if istio and _get(n, "metadata", "labels", ISTIO_NS_LABEL) != "enabled":
            p.append(f"expected namespace label {ISTIO_NS_LABEL}=enabled")
    return p


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="pausle_policy.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="schema + policy check of manifest files")
    c.add_argument("files", nargs="+")
    c.add_argument("--k8s-version", action="append", default=[], help="schema version (repeatable)")
    c.add_argument("--rendered", action="store_true", help="file is a whole rendered kit")
    c.add_argument("--deployment", default=NAME,
                   help="the Deployment --expect-replicas and --expect-image are about")
    c.add_argument("--expect-replicas", type=int)
    c.add_argument("--expect-image")
    c.add_argument("--expect-pong", action="store_true",
                   help="the rendering holds the pong component (Deployment and Service)")
    c.add_argument("--expect-istio", action="store_true")
    c.add_argument("--expect-seccomp", choices=["RuntimeDefault", "Localhost"],
                   help="the seccompProfile.type of the pod and every container")
    a = ap.parse_args(argv)

    failed = False
    for f in a.files:
        docs = load_docs(f)
        problems = schema_problems(docs, a.k8s_version) + check_docs(docs, rendered=a.rendered)
        problems += expectation_problems(docs, a.expect_replicas, a.expect_image, a.expect_istio,
                                         a.expect_seccomp, a.deployment, a.expect_pong)
        if not docs:
            problems.append("no documents")
        for x in problems:
            print(f"FAIL {f}: {x}")
        if problems:
            failed = True
        else:
            kinds = ", ".join(f"{d['kind']}/{d['metadata']['name']}" for d in docs)
            vs = ", ".join(a.k8s_version) or "no schema"
            print(f"ok   {f}: {kinds} (schema: {vs}; policy)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
