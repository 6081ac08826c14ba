# `nix flake check`: every row of the table, on each host. The checks run the
# repository's own tools (tools/*.py, tests/behaviour.rs), the ones CI runs.
{
  pkgs,
  lib,
  system,
  scripts,
  nixSrc,
  build,
  rows,
  revision,
  index,
  rustSrc,
}: let
  python = pkgs.python3;

  # The host's own arch runs the binary directly, any other through its qemu user
  # emulator (Cargo.toml's qemu field), which is what PAUSLE_RUNNER is for.
  runner = target:
    if target.nix-system == system
    then null
    else "${pkgs.qemu-user}/bin/qemu-${target.qemu}";

  perRow = {
    target,
    binary,
    archive,
  }: let
    # What the image's config must say: tools/checkimage.py's flags.
    imageFlags = lib.escapeShellArgs (
      ["--arch" target.oci-arch]
      ++ lib.optionals (target.variant != "") ["--variant" target.variant]
      ++ lib.optionals (revision != null) ["--revision" revision]
    );

    # The same build again as a different derivation, from a checkout at another
    # path: what cargo wrote must not depend on the path or on the run.
    again = binary.overrideAttrs (old: {
      PAUSLE_SECOND_BUILD = "1";
      postUnpack =
        (old.postUnpack or "")
        + ''
          mkdir -p second/checkout/at/another/depth
          mv "$sourceRoot" second/checkout/at/another/depth/
          sourceRoot=second/checkout/at/another/depth/$sourceRoot
        '';
    });
  in {
    # Cargo.toml's max-binary-bytes, by tools/budget.py.
    "budget-${target.arch}" = pkgs.runCommand "${target.package}-budget" {nativeBuildInputs = [python];} ''
      set -o pipefail
      python3 ${scripts}/tools/budget.py ${binary}/bin/pausle | tee "$out"
    '';

    "reproducible-${target.arch}" = pkgs.runCommand "${target.package}-reproducible" {} ''
      cmp ${binary}/bin/pausle ${again}/bin/pausle
      echo "${target.package}: identical across two builds" | tee "$out"
    '';

    # The image's contents, config and Cargo.toml's max-image-bytes, by
    # tools/checkimage.py.
    "${target.image}" = pkgs.runCommand "${target.package}-image-check" {nativeBuildInputs = [python];} ''
      set -o pipefail
      python3 ${scripts}/tools/checkimage.py ${archive} ${imageFlags} | tee "$out"
    '';

    "clippy-${target.arch}" = build.clippy target;
  };
in
  lib.foldl' (acc: row: acc // perRow row) {} rows
  // {
    # tests/behaviour.rs against every row's binary, one row after another.
    behaviour = build.behaviour {
      runs =
        map (r: {
          inherit (r) target binary;
          runner = runner r.target;
        })
        rows;
      inherit (pkgs) util-linux;
    };
    # nix/std.Cargo.lock, which the build-std rows vendor the standard library's
    # crates from, is the toolchain's own library/Cargo.lock (pausle.nix).
    std-lock = pkgs.runCommand "pausle-std-lock" {passthru = {inherit rustSrc;};} ''
      if ! cmp ${build.stdLock} ${rustSrc}/lib/rustlib/src/rust/library/Cargo.lock; then
        echo "nix/std.Cargo.lock is not the pinned toolchain's rust-src library/Cargo.lock; refresh it with:" >&2
        echo '  install -m 0644 "$(nix build --no-link --print-out-paths .#checks.${system}.std-lock.rustSrc)/lib/rustlib/src/rust/library/Cargo.lock" nix/std.Cargo.lock' >&2
        exit 1
      fi
      touch "$out"
    '';
    clippy = build.clippyHost;
    inherit (build) fmt;
    # mkindex.py over every row's image: one index, every platform of the table.
    image-index = index;
    # The flake's own Nix: formatted as the formatter output formats it, no dead code.
    nix-lint = pkgs.runCommand "pausle-nix-lint" {nativeBuildInputs = [pkgs.alejandra pkgs.deadnix];} ''
      alejandra --check ${nixSrc}
      deadnix --fail ${nixSrc}
      touch "$out"
    '';
  }
