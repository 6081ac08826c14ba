# Everything one host system provides. Each host builds every row of Cargo.toml's
# table: binaries and images for every arch, and every check of every arch.
{
  self,
  nixpkgs,
  crane,
  fenix,
  system,
}: let
  pkgs = nixpkgs.legacyPackages.${system};
  inherit (pkgs) lib;

  table = import ./targets.nix {inherit lib;};
  sources = import ./sources.nix {inherit lib;};
  fenixPkgs = fenix.packages.${system};

  toolchain = import ./toolchain.nix {
    inherit lib fenixPkgs;
    inherit (table) targets;
  };
  craneLib = (crane.mkLib pkgs).overrideToolchain (_pkgs: toolchain);

  build = import ./pausle.nix {
    inherit lib craneLib;
    src = sources.crate;
  };

  # The commit, for the image's revision label: a dirty tree has none.
  revision = self.rev or null;

  mkImage = import ./image.nix {
    inherit pkgs lib revision;
    inherit (table) version repository;
  };

  # Per program (pausle, pong), one entry per row, in the table's order, with the
  # row's output names.
  perProgram =
    map (program: let
      rows =
        map (target: let
          binary = build.package program target;
        in {
          inherit program target binary;
          archive = mkImage {inherit program target binary;};
          package = "${program.name}-${target.arch}";
          image = "${program.prefix}image-${target.imageSuffix}";
        })
        table.targets;
    in {
      inherit program rows;
      index =
        import ./index.nix {
          inherit pkgs lib;
          inherit (sources) scripts;
          inherit (table) version;
        }
        program
        rows;
      # The row this host runs natively: packages.image (pong's: pong-image).
      own = lib.findFirst (r: r.target.nix-system == system) null rows;
    })
    table.programs;

  # The crate's own program, whose image is packages.default.
  primary = lib.findFirst (p: p.program.prefix == "") null perProgram;
in {
  packages =
    lib.foldl' (acc: p:
      acc
      // lib.listToAttrs (lib.concatMap (r: [
          (lib.nameValuePair r.package r.binary)
          (lib.nameValuePair r.image r.archive)
        ])
        p.rows)
      // {"${p.program.prefix}image-index" = p.index.index;}
      // lib.optionalAttrs (p.own != null) {"${p.program.prefix}image" = p.own.archive;}) {}
    perProgram
    // lib.optionalAttrs (primary != null && primary.own != null) {default = primary.own.archive;};

  checks = import ./checks.nix {
    inherit pkgs lib system build perProgram revision;
    inherit (sources) scripts;
    inherit (table) targets;
    nixSrc = sources.nix;
    rustSrc = fenixPkgs.stable.rust-src;
  };

  apps = lib.listToAttrs (map (p:
    lib.nameValuePair "${p.program.prefix}push" {
      type = "app";
      program = lib.getExe p.index.push;
      meta.description = "Push ${p.program.name}'s multi-arch image index: nix run .#${p.program.prefix}push -- REGISTRY/REPO:TAG";
    })
  perProgram);

  devShells.default = import ./shell.nix {inherit pkgs toolchain;};

  # The formatter CI checks the Nix with (nix/lint.sh, and the nix-lint check).
  formatter = pkgs.alejandra;
}
