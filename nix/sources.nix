# What each derivation may see of the repository. Narrow on purpose: editing the
# README or a Python test rebuilds nothing, editing a tool reruns only its checks.
{lib}: let
  inherit (lib.fileset) fileFilter toSource unions;
  root = ../.;
in {
  # The crate as cargo builds it, with what the build reads besides Rust and TOML:
  # .cargo/config.toml (the musl rows' link flags), src/link.ld (the linker script,
  # with the rest of src/) and build.rs; tests/ for the behaviour suite.
  crate = toSource {
    inherit root;
    fileset = unions [
      ../Cargo.toml
      ../Cargo.lock
      ../.cargo/config.toml
      ../build.rs
      ../src
      (fileFilter (f: f.hasExt "rs") ../tests)
    ];
  };

  # The repository's own checkers, which CI runs too; Cargo.toml because they read
  # the table from it (tools/manifest.py).
  scripts = toSource {
    inherit root;
    fileset = unions [
      ../Cargo.toml
      (fileFilter (f: f.hasExt "py" || f.hasExt "sh") ../tools)
    ];
  };

  # The flake's own Nix, for the formatting check.
  nix = toSource {
    inherit root;
    fileset = unions [
      ../flake.nix
      (fileFilter (f: f.hasExt "nix") ../nix)
    ];
  };
}
