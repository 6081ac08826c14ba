#!/usr/bin/env bash
# tools/image.sh [--program NAME] [--engine docker|podman]: builds this host's image of
# a program (Cargo.toml's programs.NAME, default pausle) and loads it into the local
# engine (Docker if `docker` is on PATH, else podman). Prints the image's reference
# (`<image>:<version>`, Cargo.toml's) on stdout, everything else on stderr, so
# `docker run -d "$(tools/image.sh)"` works.
#
# The build is tools/check.sh's (tools/lib.sh: Debian's rustc and cargo with
# -Zbuild-std=core and lld-22, which `.ci/run` installs), one target: this host's row
# of Cargo.toml's table. The image is tools/mkimage.py's, written to
# target/image/<program>-<oci-arch>.tar.
set -euo pipefail

usage() { echo "usage: tools/image.sh [--program NAME] [--engine docker|podman]" >&2; }
program=pausle engine=
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --program | --engine)
      if [ $# -lt 2 ] || [ -z "$2" ]; then usage; exit 2; fi
      if [ "$1" = --program ]; then program=$2; else engine=$2; fi
      shift 2
      ;;
    *) usage; exit 2 ;;
  esac
done
case $engine in
  "" | docker | podman) ;;
  *) usage; exit 2 ;;
esac

cd "$(dirname "$(readlink -f "$0")")/.."
root=$PWD
if ! [ -x /usr/bin/rustc ] || ! [ -x /usr/bin/cargo ]; then
  echo "image.sh: no /usr/bin/rustc or /usr/bin/cargo (Debian's rustc-web, cargo-web: .ci/run installs them)" >&2
  exit 1
fi

# shellcheck source=tools/lib.sh
. tools/lib.sh
# The list in full first: `field ... | grep -q` would stop reading at the first match,
# and under pipefail manifest.py's broken pipe would then read as "no such program".
programs=$(field --programs)
if ! grep -qx -- "$program" <<<"$programs"; then
  echo "image.sh: no program '$program' in Cargo.toml (programs: $(paste -sd ' ' <<<"$programs"))" >&2
  exit 2
fi
host=$(uname -m)
[ "$host" != armv7l ] || host=armv7
row=$(field arch triple oci-arch oci-variant | awk -v a="$host" '$1 == a')
if [ -z "$row" ]; then
  echo "image.sh: this host's arch $host is no row of Cargo.toml's table (arches: $(field arch | paste -sd ' '))" >&2
  exit 1
fi
read -r _ triple oci_arch oci_variant <<<"$row"
if [ -z "$engine" ]; then
  if command -v docker >/dev/null; then engine=docker
  elif command -v podman >/dev/null; then engine=podman
  else
    echo "image.sh: neither docker nor podman is on PATH" >&2
    exit 1
  fi
fi
command -v "$engine" >/dev/null || { echo "image.sh: $engine is not on PATH" >&2; exit 1; }
std_cargo build -q --release "${build_std[@]}" --target "$triple" --bin "$program" >&2
args=(--program "$program" --binary "target/$triple/release/$program" --arch "$oci_arch")
[ "$oci_variant" = - ] || args+=(--variant "$oci_variant")
if rev=$(git rev-parse -q --verify HEAD 2>/dev/null); then args+=(--revision "$rev"); fi
mkdir -p target/image
tar=target/image/$program-$oci_arch${oci_variant#-}.tar
python3 tools/mkimage.py "${args[@]}" --out "$tar" >&2
"$engine" load -i "$tar" >&2
echo "$(field --program "$program" --get image):$(field --get version)"
