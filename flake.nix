{
  description = "pausle: the smallest correct pause container";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    crane.url = "github:ipetkov/crane";
    fenix = {
      url = "github:nix-community/fenix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs = {
    self,
    nixpkgs,
    crane,
    fenix,
  }: let
    inherit (nixpkgs) lib;

    # The systems that build: those with a fenix host toolchain and a CI runner
    # (.github/workflows/nix.yml). This is not a list of targets: each of them
    # builds every row of Cargo.toml's [package.metadata.pausle] table.
    hosts = ["x86_64-linux" "aarch64-linux"];

    perHost = lib.genAttrs hosts (system:
      import ./nix/outputs.nix {
        inherit self nixpkgs crane fenix system;
      });

    collect = output: lib.mapAttrs (_: outputs: outputs.${output}) perHost;
  in {
    packages = collect "packages";
    checks = collect "checks";
    apps = collect "apps";
    devShells = collect "devShells";
    formatter = collect "formatter";
  };
}
