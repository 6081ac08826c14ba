# `nix develop`: the toolchain the flake builds with, qemu's user emulators for the
# foreign rows, the Nix and workflow linters, and what the image and index tools use.
{
  pkgs,
  toolchain,
}:
pkgs.mkShell {
  packages = [
    toolchain
    pkgs.qemu-user
    pkgs.util-linux
    pkgs.alejandra
    pkgs.deadnix
    pkgs.actionlint
    pkgs.shellcheck
    pkgs.docker-client
    pkgs.skopeo
    pkgs.python3
  ];
}
