# The single table, read as it is: Cargo.toml's [package.metadata.pausle]. The arches,
# their triples, platforms and emulators, the programs and their budgets and images
# are written down there and nowhere in Nix; adding a row there adds its packages,
# images and checks here, for every program.
{lib}: let
  manifest = builtins.fromTOML (builtins.readFile ../Cargo.toml);
  table = manifest.package.metadata.pausle;

  required = ["arch" "triple" "nix-system" "oci-arch" "qemu"];

  row = t: let
    missing = builtins.filter (f: !(t ? ${f})) required;
    variant = t.oci-variant or "";
  in
    lib.throwIf (missing != [])
    "Cargo.toml: a [[package.metadata.pausle.targets]] row lacks ${lib.concatStringsSep ", " missing}"
    (t
      // {
        inherit variant;
        # Tier 3 targets have no prebuilt rust-std: core is built from rust-src.
        buildStd = t.build-std or false;
        # The image outputs' suffix: packages.image-<oci-arch><oci-variant>.
        imageSuffix = t.oci-arch + variant;
        # What tools/mkindex.py and docker call the platform (the os is linux).
        platform = t.oci-arch + lib.optionalString (variant != "") "/${variant}";
      });

  targets = map row table.targets;

  # What tools/manifest.py's PROGRAM_KEYS says every program's section holds.
  programKeys = ["max-binary-bytes" "max-image-bytes" "image" "entrypoint" "user" "exposed-ports" "behaviour-test"];

  program = name: p: let
    missing = builtins.filter (k: !(p ? ${k})) programKeys;
  in
    lib.throwIf (missing != [])
    "Cargo.toml: programs.${name} lacks ${lib.concatStringsSep ", " missing}"
    (lib.throwIf (lib.take 1 p.entrypoint != ["/${name}"])
      "Cargo.toml: programs.${name}.entrypoint must start with /${name}, the image's one file"
      {
        inherit name;
        inherit (p) image entrypoint user;
        exposedPorts = p.exposed-ports;
        # tests/<test>.rs, given the binary as <NAME>_BIN (and <NAME>_RUNNER).
        test = p.behaviour-test;
        env = lib.toUpper name;
        # The crate's own program keeps the plain output names (packages.image-<...>,
        # image-index, apps.push, checks.budget-<arch>); every other one's carry its
        # name first (packages.pong-image-<...>, checks.pong-budget-<arch>). Binaries
        # are <program>-<arch> for all.
        prefix = lib.optionalString (name != manifest.package.name) "${name}-";
      });

  unique = what: xs:
    lib.throwIf (lib.length (lib.unique xs) != lib.length xs)
    "Cargo.toml: two target rows share a ${what}"
    xs;
in {
  inherit (manifest.package) version repository;
  # Checked here only so that a clash fails evaluation with a message, not later
  # with two outputs of one name.
  targets =
    builtins.seq (unique "package name (arch)" (map (t: t.arch) targets))
    (builtins.seq (unique "image name (oci-arch + oci-variant)" (map (t: t.imageSuffix) targets)) targets);
  # In the table's order of names (fromTOML's attribute set: alphabetical).
  programs = lib.mapAttrsToList program table.programs;
}
