# One tag for every arch (issue 5), per program: the program's per-row docker-archives
# turned into one OCI image layout by tools/mkindex.py --program, under the program's
# own image name, and the app that pushes it with tools/push.sh. The logic is in
# those two scripts, which CI runs as well; this only wires them.
{
  pkgs,
  lib,
  scripts,
  version,
}: program: images: let
  # `images`: [{target; archive;}] in the table's order, all of `program`.
  imageArgs =
    lib.concatMapStringsSep " "
    (i: "--image ${lib.escapeShellArg "${i.target.platform}=${i.archive}"}")
    images;

  # An OCI image layout directory: oci-layout, index.json (one ref, the version)
  # and blobs/. mkindex.py refuses a missing, unknown or repeated platform, and an
  # image of another program.
  index =
    pkgs.runCommand "${program.name}-image-index-${version}" {
      nativeBuildInputs = [pkgs.python3];
    } ''
      python3 ${scripts}/tools/mkindex.py --program ${program.name} --out "$out" ${imageArgs}
    '';

  # `nix run .#push -- REGISTRY/REPO:TAG [skopeo copy options]` (pong's: .#pong-push):
  # copies every platform, checks the digest the registry got, prints it.
  push = pkgs.writeShellApplication {
    name = "${program.name}-push";
    runtimeInputs = [pkgs.skopeo pkgs.coreutils pkgs.gnugrep pkgs.gnused];
    text = ''
      exec ${pkgs.runtimeShell} ${scripts}/tools/push.sh ${index} "$@"
    '';
  };
in {
  inherit index push;
}
