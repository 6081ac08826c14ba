# `nix flake check`: every program and row of the table, on each host. The checks run
# the repository's own tools (tools/*.py, tests/<behaviour-test>.rs), the ones CI runs.
# A program's checks carry its prefix (none for the crate's own: budget-<arch>; pong's:
# pong-budget-<arch>, see nix/targets.nix).
{
  pkgs,
  lib,
  system,
  scripts,
  nixSrc,
  build,
  perProgram,
  targets,
  revision,
  rustSrc,
}: let
  python = pkgs.python3;

  # The host's own arch runs the binary directly, any other through its qemu user
  # emulator (Cargo.toml's qemu field), which is what <NAME>_RUNNER is for.
  runner = target:
    if target.nix-system == system
    then null
    else "${pkgs.qemu-user}/bin/qemu-${target.qemu}";

  perRow = {
    program,
    target,
    binary,
    archive,
    package,
    image,
  }: let
    inherit (program) name prefix;
    file = "bin/${name}";

    # What the image's config must say: tools/checkimage.py's flags.
    imageFlags = lib.escapeShellArgs (
      ["--program" name "--arch" target.oci-arch]
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
    # The program's max-binary-bytes in Cargo.toml, by tools/budget.py.
    "${prefix}budget-${target.arch}" = pkgs.runCommand "${package}-budget" {nativeBuildInputs = [python];} ''
      set -o pipefail
      python3 ${scripts}/tools/budget.py --program ${name} ${binary}/${file} | tee "$out"
    '';

    "${prefix}reproducible-${target.arch}" = pkgs.runCommand "${package}-reproducible" {} ''
      cmp ${binary}/${file} ${again}/${file}
      echo "${package}: identical across two builds" | tee "$out"
    '';

    # The image's contents, config and the program's max-image-bytes, by
    # tools/checkimage.py --program.
    "${image}" = pkgs.runCommand "${package}-image-check" {nativeBuildInputs = [python];} ''
      set -o pipefail
      python3 ${scripts}/tools/checkimage.py ${archive} ${imageFlags} | tee "$out"
    '';
  };

  perProgramChecks = p: {
    # tests/<behaviour-test>.rs against every row's binary, one row after another.
    "${p.program.prefix}behaviour" = build.behaviour {
      inherit (p) program;
      runs =
        map (r: {
          inherit (r) target binary;
          runner = runner r.target;
        })
        p.rows;
      inherit (pkgs) util-linux;
    };
    # mkindex.py over every row's image: one index of the program, every platform.
    "${p.program.prefix}image-index" = p.index.index;
  };
in
  lib.foldl' (acc: p: acc // lib.foldl' (a: row: a // perRow row) {} p.rows // perProgramChecks p) {} perProgram
  # clippy checks the whole crate (every [[bin]]) for each target: once per row.
  // lib.listToAttrs (map (t: lib.nameValuePair "clippy-${t.arch}" (build.clippy t)) targets)
  // {
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
    # The flake's own Nix: formatted as the formatter output formats it, no dead code.
    nix-lint = pkgs.runCommand "pausle-nix-lint" {nativeBuildInputs = [pkgs.alejandra pkgs.deadnix];} ''
      alejandra --check ${nixSrc}
      deadnix --fail ${nixSrc}
      touch "$out"
    '';
  }
