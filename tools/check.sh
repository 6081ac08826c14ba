#!/usr/bin/env bash
# The one test command (docs/building.md): everything CI checks, in order. Stages can be
# picked for a quicker loop: `tools/check.sh build suite`. Needs the tools .ci/run
# installs (Debian bookworm's rustc-web, cargo-web, rust-web-src, rust-web-clippy,
# lld-22, qemu-user-static, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${PAUSLE_OUT:-$root/target/out}
export PAUSLE_OUT=$out

# The musl build (lld_dir, std_cargo, build_std) and `field`, shared with tools/image.sh.
# shellcheck source=tools/lib.sh
. tools/lib.sh
# The crate's programs (Cargo.toml's [[bin]]s): each is built, compared and budgeted.
programs=$(field --programs)
host_arch=$(uname -m)

say() { printf '\n== %s\n' "$*"; }

stage_lint() {
  say "format and lints"
  cargo fmt --check
  cargo clippy --all-targets -- -D warnings
  local triple
  for triple in $(field triple); do
    std_cargo clippy -q --release "${build_std[@]}" --target "$triple" -- -D warnings
  done
}

# Copies the work tree as git sees it (tracked and untracked-but-not-ignored files).
copy_tree() {
  mkdir -p "$1"
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -e "$f" ] && printf '%s\0' "$f"
  done | xargs -0 cp --parents -t "$1"
}

stage_build() {
  say "build every target twice, from two checkout paths, and compare"
  local tmp a b arch triple prog
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  a=$tmp/a
  b=$tmp/second-checkout/at/another/depth
  copy_tree "$a"
  copy_tree "$b"
  mkdir -p "$out"
  while read -r arch triple; do
    (cd "$a" && std_cargo build -q --release "${build_std[@]}" --target "$triple")
    (cd "$b" && std_cargo build -q --release "${build_std[@]}" --target "$triple")
    for prog in $programs; do
      if ! cmp "$a/target/$triple/release/$prog" "$b/target/$triple/release/$prog"; then
        echo "NOT REPRODUCIBLE: $prog for $triple differs between $a and $b" >&2
        return 1
      fi
      cp "$a/target/$triple/release/$prog" "$out/$prog-$arch"
      echo "$arch: $prog $(stat -c %s "$out/$prog-$arch") bytes, identical across both builds"
    done
  done < <(field arch triple)
}

stage_budget() {
  say "size budget"
  local arch prog bins=()
  for arch in $(field arch); do
    for prog in $programs; do bins+=("$out/$prog-$arch"); done
  done
  python3 tools/budget.py "${bins[@]}"
  say "figures in README and docs/: the built sizes and bench/results/*.json"
  python3 tools/figures.py --check
}

# Whether the kernel runs `bin` of `arch` itself (x86_64 runs i686) rather than through
# qemu: then its suite runs natively too, where /proc shows the process itself.
# binfmt_misc would route it through qemu behind our back, so only when no entry for
# this emulator is enabled; `want` is what `bin --version` must print.
runs_natively() {
  local arch=$1 qemu=$2 bin=$3 want=$4
  [ "$arch" = "$host_arch" ] && return 0
  [ "$(head -n 1 "/proc/sys/fs/binfmt_misc/qemu-$qemu" 2>/dev/null)" != enabled ] &&
    [ "$(timeout 5 "$bin" --version 2>/dev/null)" = "$want" ]
}

stage_suite() {
  say "behaviour suite: host build"
  cargo test --release --test behaviour
  local arch qemu bin
  while read -r arch qemu; do
    bin=$out/pausle-$arch
    if [ "$arch" != "$host_arch" ]; then
      say "behaviour suite: $arch under qemu-$qemu-static"
      PAUSLE_BIN=$bin PAUSLE_RUNNER=qemu-$qemu-static cargo test --release --test behaviour
    fi
    runs_natively "$arch" "$qemu" "$bin" "pausle $(field --get version)" || continue
    say "behaviour suite: $arch natively"
    PAUSLE_BIN=$bin cargo test --release --test behaviour
  done < <(field arch qemu)
}

# pong (issue #11): tests/pong.rs, its contract through real sockets, and
# tests/pong_hyper.rs, the differential test against hyper, on every arch's binary from
# the build stage: natively with the full corpus (3000 streams), under qemu-user with
# 300 (the emulator is ~10x slower; pong's whole share stays under ~10 minutes).
stage_pong() {
  local arch qemu bin seed=3001
  while read -r arch qemu; do
    bin=$out/pong-$arch
    [ -f "$bin" ] || {
      echo "check.sh: no $bin: run the build stage first" >&2
      return 1
    }
    if [ "$arch" != "$host_arch" ]; then
      # Each emulated arch gets the next 300 seeds: together they extend the corpus.
      say "pong: $arch under qemu-$qemu-static, differential streams $seed-$((seed + 299))"
      PONG_BIN=$bin PONG_RUNNER=qemu-$qemu-static PONG_CORPUS=300 PONG_SEED=$seed \
        cargo test --release --test pong --test pong_hyper
      seed=$((seed + 300))
    fi
    runs_natively "$arch" "$qemu" "$bin" "pong $(field --get version)" || continue
    say "pong: $arch natively, differential streams 1-3000"
    PONG_BIN=$bin cargo test --release --test pong --test pong_hyper
  done < <(field arch qemu)
}

# One pytest suite, as every Python stage runs it (no cache left in the tree).
pytest_suite() { python3 -m pytest -q -p no:cacheprovider "$@"; }

stage_nix() {
  say "flake: parse, format, dead code, lock pins, workflow, single source"
  nix/lint.sh
}

stage_docker() {
  say "Docker acceptance: the image from tools/mkimage.py on the engine"
  pytest_suite tests/docker
}

stage_index() {
  say "multi-arch OCI index"
  pytest_suite tests/index
}

stage_runtimes() {
  say "runtimes: podman and pods, containerd (ctr), runc and crun, rootless podman"
  pytest_suite tests/runtimes
}

stage_deploy() {
  say "Kubernetes manifests: schema and security policy"
  deploy/validate.sh
  pytest_suite deploy
}

stage_seccomp() {
  say "seccomp profile: Docker, podman, containerd, runc and crun, natively (x86_64, i686)"
  pytest_suite tests/seccomp
}

stage_tools() {
  say "tools: bad input gets one line and a non-zero exit"
  pytest_suite tests/tools
}

stage_docs() {
  say "docs: every command block of README.md and docs/ runs, or says why not"
  pytest_suite tests/docs
}

stage_bench() {
  say "benchmark, smoke run (the full run is docs/benchmarks.md's command)"
  python3 bench/run.py --quick --out target/bench-smoke
  say "pong against nginx and hyper, smoke run: wrk only, every status 200, pong's statuses = nginx's"
  # pong's binary comes from the build stage.
  python3 bench/run.py --pong "$out/pong-$host_arch" --quick --out target/bench-smoke
  # pong's table in docs/benchmarks.md is a tools/figures.py block: the budget stage's
  # `figures.py --check` compares it with bench/results/pong-results.json.
}

all=(lint build budget suite pong nix docker index runtimes deploy seccomp tools docs bench)
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=("${all[@]}")
for s in "${stages[@]}"; do
  "stage_$s"
done
say "all checks passed: ${stages[*]}"
