# The single table, read as it is: Cargo.toml's [package.metadata.pausle]. The arches,
# their triples, platforms and emulators, and the budgets are written down there and
# nowhere in Nix; adding a row there adds its packages, image and checks here.
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
        # Output names: packages.pausle-<arch>, packages.image-<oci-arch><oci-variant>.
        package = "pausle-${t.arch}";
        image = "image-${t.oci-arch}${variant}";
        # What tools/mkindex.py and docker call the platform (the os is linux).
        platform = t.oci-arch + lib.optionalString (variant != "") "/${variant}";
      });

  targets = map row table.targets;

  unique = what: xs:
    lib.throwIf (lib.length (lib.unique xs) != lib.length xs)
    "Cargo.toml: two target rows share a ${what}"
    xs;
in {
  inherit (manifest.package) version repository;
  # Checked here only so that a clash fails evaluation with a message, not later
  # with two outputs of one name.
  targets =
    builtins.seq (unique "package name (arch)" (map (t: t.package) targets))
    (builtins.seq (unique "image name (oci-arch + oci-variant)" (map (t: t.image) targets)) targets);
}
