# One tag for every arch (issue 5): the per-row docker-archives turned into one OCI
# image layout by tools/mkindex.py, and the app that pushes it with tools/push.sh.
# The logic is in those two scripts, which CI runs as well; this only wires them.
{
  pkgs,
  lib,
  scripts,
  version,
}: images: let
  # `images`: [{target; archive;}] in the table's order.
  imageArgs =
    lib.concatMapStringsSep " "
    (i: "--image ${lib.escapeShellArg "${i.target.platform}=${i.archive}"}")
    images;

  # An OCI image layout directory: oci-layout, index.json (one ref, the version)
  # and blobs/. mkindex.py refuses a missing, unknown or repeated platform.
  index =
    pkgs.runCommand "pausle-image-index-${version}" {
      nativeBuildInputs = [pkgs.python3];
    } ''
      python3 ${scripts}/tools/mkindex.py --out "$out" ${imageArgs}
    '';

  # `nix run .#push -- REGISTRY/REPO:TAG [skopeo copy options]`: copies every
  # platform, checks the digest the registry got, prints it.
  push = pkgs.writeShellApplication {
    name = "pausle-push";
    runtimeInputs = [pkgs.skopeo pkgs.coreutils pkgs.gnugrep pkgs.gnused];
    text = ''
      exec ${pkgs.runtimeShell} ${scripts}/tools/push.sh ${index} "$@"
    '';
  };
in {
  inherit index push;
}
