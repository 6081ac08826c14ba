#!/usr/bin/env python3
"""The one checker for the 10,000-pod kit's manifests.

`check_docs` holds every rule: deploy/validate.sh runs it (through this file's
command line) on the plain manifests and on each rendered kustomization, and
deploy/test_security.py runs it on the Deployment and on copies of it with one
setting stripped or weakened, to prove each rule fires. Schema validation against
the Kubernetes OpenAPI schema uses kubernetes-validate, which bundles its schemas
(no network).

Usage:
  pausle_policy.py check [--k8s-version V]... [--rendered] [--expect-replicas N]
                         [--expect-image REF] [--expect-istio]
                         [--expect-seccomp RuntimeDefault|Localhost] FILE...
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
UID = GID = 65535
# Below this, the OCI runtime's own start-up inside the container's cgroup (runc
# init: 2.4-3.9 MiB measured, see deploy/deployment.yaml) fails every pod.
MIN_MEMORY_LIMIT_BYTES = 8 * 1024 * 1024
MAX_GRACE_SECONDS = 5
MAX_REVISION_HISTORY = 5

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


def deployment_problems(dep: Doc) -> list[str]:
    """Every way a pausle Deployment falls short of the kit's settings."""
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
    grace = pod.get("terminationGracePeriodSeconds")
    if not isinstance(grace, int) or isinstance(grace, bool) or not 1 <= grace <= MAX_GRACE_SECONDS:
        p.append(f"{w}.terminationGracePeriodSeconds: must be 1..{MAX_GRACE_SECONDS}, is {grace!r}")
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


def namespace_problems(ns: Doc) -> list[str]:
    p: list[str] = []
    labels = _get(ns, "metadata", "labels") or {}
    want = "baseline" if labels.get(ISTIO_NS_LABEL) == "enabled" else "restricted"
    _require(p, f"metadata.labels[{PSA_ENFORCE}]", labels.get(PSA_ENFORCE), want)
    return p


def check_docs(docs: Iterable[Doc], rendered: bool = False) -> list[str]:
    """All problems in a set of manifests; `rendered` also wants the whole kit."""
    problems: list[str] = []
    kinds: list[str] = []
    for d in docs:
        kind = d.get("kind")
        name = _get(d, "metadata", "name")
        kinds.append(kind)
        tag = f"{kind}/{name}"
        if kind == "Deployment" and d.get("apiVersion") == "apps/v1":
            if name != NAME or _get(d, "metadata", "namespace") != NAMESPACE:
                problems.append(f"{tag}: must be Deployment pausle in namespace pausle")
            problems += [f"{tag}: {x}" for x in deployment_problems(d)]
        elif kind == "Namespace" and d.get("apiVersion") == "v1":
            if name != NAMESPACE:
                problems.append(f"{tag}: the kit's namespace is {NAMESPACE!r}")
            problems += [f"{tag}: {x}" for x in namespace_problems(d)]
        else:
            problems.append(f"{tag}: unexpected object {d.get('apiVersion')}/{kind} in the kit")
    if rendered and sorted(kinds) != ["Deployment", "Namespace"]:
        problems.append(f"rendered kit must be one Namespace and one Deployment, is {kinds}")
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
                         seccomp: str | None = None) -> list[str]:
    p: list[str] = []
    deps = [d for d in docs if d.get("kind") == "Deployment"]
    nss = [d for d in docs if d.get("kind") == "Namespace"]
    for d in deps:
        if replicas is not None and _get(d, "spec", "replicas") != replicas:
            p.append(f"expected replicas {replicas}, rendered {_get(d, 'spec', 'replicas')!r}")
        got = _get(d, "spec", "template", "spec", "containers", 0, "image")
        if image is not None and got != image:
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
    c.add_argument("--expect-replicas", type=int)
    c.add_argument("--expect-image")
    c.add_argument("--expect-istio", action="store_true")
    c.add_argument("--expect-seccomp", choices=["RuntimeDefault", "Localhost"],
                   help="the seccompProfile.type of the pod and every container")
    a = ap.parse_args(argv)

    failed = False
    for f in a.files:
        docs = load_docs(f)
        problems = schema_problems(docs, a.k8s_version) + check_docs(docs, rendered=a.rendered)
        problems += expectation_problems(docs, a.expect_replicas, a.expect_image, a.expect_istio,
                                         a.expect_seccomp)
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
