# One stable Rust toolchain from fenix for every row of the table: cargo, rustc (with
# the host's std), clippy, rustfmt, rust-src (for rows built with -Zbuild-std), and the
# prebuilt rust-std of every other row's triple, all from one channel manifest.
#
# The musl rows link with rust-lld (.cargo/config.toml), which ships in the rustc
# component at lib/rustlib/<host>/bin/: rustc finds it there by itself (it puts that
# directory on the linker's PATH), so no C toolchain for any target is needed.
{
  lib,
  fenixPkgs,
  targets,
}: let
  channel = fenixPkgs.stable;

  rustStd = t:
    fenixPkgs.targets.${t.triple}.stable.rust-std
    or (throw "fenix's stable channel has no prebuilt rust-std for ${t.triple}: mark its row build-std = true in Cargo.toml");
in
  fenixPkgs.combine (
    [
      channel.cargo
      channel.rustc
      channel.clippy
      channel.rustfmt
      channel.rust-src
    ]
    ++ map rustStd (lib.filter (t: !t.buildStd) targets)
  )
