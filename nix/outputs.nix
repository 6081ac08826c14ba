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

  # One entry per row, in the table's order.
  rows =
    map (target: let
      binary = build.package target;
    in {
      inherit target binary;
      archive = mkImage {inherit target binary;};
    })
    table.targets;

  index =
    import ./index.nix {
      inherit pkgs lib;
      inherit (sources) scripts;
      inherit (table) version;
    }
    rows;

  # The row this host runs natively: packages.image (and the default).
  own = lib.findFirst (r: r.target.nix-system == system) null rows;
in {
  packages =
    lib.listToAttrs (lib.concatMap (r: [
        (lib.nameValuePair r.target.package r.binary)
        (lib.nameValuePair r.target.image r.archive)
      ])
      rows)
    // {image-index = index.index;}
    // lib.optionalAttrs (own != null) {
      image = own.archive;
      default = own.archive;
    };

  checks = import ./checks.nix {
    inherit pkgs lib system build rows revision;
    inherit (sources) scripts;
    nixSrc = sources.nix;
    inherit (index) index;
    rustSrc = fenixPkgs.stable.rust-src;
  };

  apps.push = {
    type = "app";
    program = lib.getExe index.push;
    meta.description = "Push the multi-arch image index: nix run .#push -- REGISTRY/REPO:TAG";
  };

  devShells.default = import ./shell.nix {inherit pkgs toolchain;};

  # The formatter CI checks the Nix with (nix/lint.sh, and the nix-lint check).
  formatter = pkgs.alejandra;
}
