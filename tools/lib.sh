# shellcheck shell=bash
# The musl build, shared by tools/check.sh and tools/image.sh (sourced, never run).
# The sourcing script sets `root` to the checkout and cds there first.
#
# The musl targets build with Debian's toolchain and -Zbuild-std=core (it ships the
# standard library's source; no prebuilt musl rust-std is needed). The flake builds
# the same sources with fenix's prebuilt rust-std instead.
#
# .cargo/config.toml links with `rust-lld`, which an official toolchain (rustup's,
# fenix's) ships in its sysroot and rustc finds there by itself. Debian's rustc has no
# rust-lld; Debian's lld-22 is the same linker (one multi-call binary that rustc drives
# with `-flavor gnu`), installed only under its versioned names. So when the sysroot
# has none, a link named rust-lld in the build's own tool folder is put first on PATH.
lld_dir() {
  local sysroot host
  sysroot=$(/usr/bin/rustc --print sysroot)
  host=$(/usr/bin/rustc -vV | sed -n 's/^host: //p')
  [ -x "$sysroot/lib/rustlib/$host/bin/rust-lld" ] && return 0
  local lld dir=${root:?}/target/tools/bin
  lld=$(command -v lld-22 || command -v lld) || {
    echo "${0##*/}: no rust-lld in $sysroot and no lld-22 on PATH (apt-get install lld-22)" >&2
    return 1
  }
  mkdir -p "$dir"
  # Replaced only when it points elsewhere: two builds starting at once must not race to
  # re-create the same link.
  [ "$(readlink "$dir/rust-lld")" = "$lld" ] || ln -sfn "$lld" "$dir/rust-lld"
  printf '%s:' "$dir"
}
lld_path=$(lld_dir)
std_cargo() { PATH=$lld_path/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo "$@"; }
# shellcheck disable=SC2034 # used by the sourcing scripts
build_std=(-Zbuild-std=core)

# Cargo.toml's table (tools/manifest.py): `field arch triple`, `field --get version`.
field() { python3 tools/manifest.py "$@"; }
