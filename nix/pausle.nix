# The crate's programs (pausle, pong), built by crane once per program and row of the
# table, each from the host's own pkgs with cargo told the target (CARGO_BUILD_TARGET):
# no nixpkgs cross stdenv and no C cross compiler, since rust-lld links the musl rows
# (.cargo/config.toml, in `src`).
{
  lib,
  craneLib,
  src,
}: let
  # What every cargo run for row `t` shares: the builds and clippy.
  targetArgs = t:
    {
      inherit src;
      pname = "pausle-${t.arch}";
      strictDeps = true;
      CARGO_BUILD_TARGET = t.triple;
      # No deps-only pass: crane's dummy sources are a `fn main` with std, which
      # cannot link under the musl rows' flags (no C runtime, no libc, and src/link.ld
      # is not in the dummy tree); the one dependency, libc, is constants only.
      cargoArtifacts = null;
    }
    // lib.optionalAttrs t.buildStd {
      # Tier 3: no prebuilt rust-std, so core is built from the toolchain's rust-src,
      # with the same flag CI uses; a stable toolchain takes -Z under RUSTC_BOOTSTRAP.
      RUSTC_BOOTSTRAP = "1";
      cargoExtraArgs = "--locked -Zbuild-std=core";
      # The standard library's crates, offline: vendored from its own Cargo.lock.
      # That file ships in rust-src, but reading it from there at evaluation time
      # would be an import from derivation; so a copy is kept here (stdLock below),
      # and the std-lock check fails when it is not the toolchain's.
      cargoVendorDir = craneLib.vendorMultipleCargoDeps {
        inherit (craneLib.findCargoFiles src) cargoConfigs;
        cargoLockList = [../Cargo.lock stdLock];
      };
    };

  # rust-src's lib/rustlib/src/rust/library/Cargo.lock, as the pinned toolchain
  # ships it (docs/nix.md, "Pins and how to update them").
  stdLock = ./std.Cargo.lock;

  # What every cargo run for the host shares: the behaviour suite and the host lints.
  hostArgs = {
    inherit src;
    strictDeps = true;
    cargoArtifacts = null;
    doInstallCargoArtifacts = false;
  };
in {
  inherit stdLock;

  # $out/bin/<program>, byte for byte the file the linker wrote: nothing strips it,
  # patches it or rewrites store paths in it (crane's reference-removal hooks would
  # hide a leaked path; allowedReferences fails the build on one instead). One
  # program's [[bin]] per derivation (`--bin`), so each installs its own file only.
  package = program: t: let
    args = targetArgs t;
  in
    craneLib.buildPackage (args
      // {
        pname = "${program.name}-${t.arch}";
        cargoExtraArgs = "${args.cargoExtraArgs or "--locked"} --bin ${program.name}";
        doCheck = false;
        dontStrip = true;
        dontFixup = true;
        doNotRemoveReferencesToRustToolchain = true;
        doNotRemoveReferencesToVendorDir = true;
        allowedReferences = [];
        passthru = {
          target = t;
          inherit program;
        };
        meta.mainProgram = program.name;
      });

  # clippy as CI runs it for each target: the binary, warnings denied.
  clippy = t:
    craneLib.cargoClippy (targetArgs t
      // {
        doInstallCargoArtifacts = false;
        cargoClippyExtraArgs = "-- -D warnings";
      });

  # clippy on the host build, every target (the tests too).
  clippyHost = craneLib.cargoClippy (hostArgs
    // {
      pname = "pausle-host";
      cargoClippyExtraArgs = "--all-targets -- -D warnings";
    });

  fmt = craneLib.cargoFmt {
    inherit src;
    pname = "pausle";
  };

  # A program's behaviour suite, tests/<program.test>.rs (pausle's behaviour.rs,
  # pong's pong.rs), built once for the host, then run against each row's build in
  # turn (`runs`: [{target; binary; runner;}] in the table's order) as <NAME>_BIN,
  # through <NAME>_RUNNER (a qemu user emulator) when the row is not the host's arch.
  # The suites' bounds are wall-clock times, so nothing of one runs beside itself:
  # one row at a time, and one case at a time (RUST_TEST_THREADS; crane's hook sets
  # it to the builder's core count only when it is unset). A failing row does not
  # stop the later ones; the check fails once all have run. The suites need unshare
  # and nsenter (util-linux), sh and sleep (in stdenv); pong's, the sandbox's
  # loopback interface.
  behaviour = {
    program,
    runs,
    util-linux,
  }:
    craneLib.mkCargoDerivation (hostArgs
      // {
        pname = "${program.name}-behaviour";
        nativeBuildInputs = [util-linux];
        RUST_TEST_THREADS = "1";
        doCheck = true;
        buildPhaseCargoCommand = "cargoWithProfile test --locked --test ${program.test} --no-run";
        checkPhaseCargoCommand = ''
          failed=()
          ${lib.concatMapStrings (r: let
              runner = lib.optionalString (r.runner != null) r.runner;
              what = r.target.arch + lib.optionalString (r.runner != null) " under ${runner}";
            in ''
              echo ${lib.escapeShellArg "== ${program.name} behaviour suite: ${what}"}
              (
                export ${program.env}_BIN=${r.binary}/bin/${program.name} ${program.env}_RUNNER=${runner}
                cargoWithProfile test --locked --test ${program.test}
              ) || failed+=(${lib.escapeShellArg r.target.arch})
            '')
            runs}
          if [ ''${#failed[@]} -ne 0 ]; then
            echo "${program.name}'s behaviour suite FAILED for: ''${failed[*]}" >&2
            exit 1
          fi
        '';
      });
}
