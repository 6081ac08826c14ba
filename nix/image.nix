# The container image of one program for one row of the table: one layer whose only
# file is /<program>, run as the program's section of Cargo.toml says (entrypoint,
# user, exposed ports), with no Cmd. tools/checkimage.py checks it (nix/checks.nix).
{
  pkgs,
  lib,
  version,
  repository,
  revision,
}: {
  program,
  target,
  binary,
}: let
  # A copy, not a symlink: the layer holds the file itself and no /nix/store path.
  root = pkgs.runCommand "${program.name}-${target.arch}-root" {allowedReferences = [];} ''
    mkdir "$out"
    install -m 0555 ${binary}/bin/${program.name} "$out/${program.name}"
  '';

  # Current nixpkgs' buildImage writes the config's variant itself (`variant ?
  # defaultVariant`: the build host's GOARM, "" but on 32-bit arm), so it is given
  # the row's; an older one has no such argument. lib.functionArgs, not builtins': the
  # function is a functor (lib.makeOverridable), which builtins.functionArgs refuses.
  takesVariant = (lib.functionArgs pkgs.dockerTools.buildImage) ? variant;
  buildImage = args:
    pkgs.dockerTools.buildImage (args // lib.optionalAttrs takesVariant {inherit (target) variant;});

  image = buildImage {
    inherit (program) name;
    tag = version;
    copyToRoot = root;
    architecture = target.oci-arch;
    # The layer's root entry (`./`, the container's `/`) gets this directory's mode:
    # buildImage has just made it writable by its group (`chmod ug+w`). Docker's
    # overlay ignores it, but a tool that unpacks the layer itself (umoci, for a
    # runc/crun bundle) would not. tools/checkimage.py fails a writable root.
    extraCommands = "chmod 0555 .";
    # `created` is left at dockerTools' fixed default, so a rebuild is the same bytes.
    config =
      {
        Entrypoint = program.entrypoint;
        User = program.user;
        Labels =
          {
            "org.opencontainers.image.source" = repository;
            "org.opencontainers.image.version" = version;
          }
          // lib.optionalAttrs (revision != null) {
            "org.opencontainers.image.revision" = revision;
          };
      }
      # No ExposedPorts key at all for a program that listens on nothing (pausle).
      // lib.optionalAttrs (program.exposedPorts != []) {
        ExposedPorts = lib.genAttrs program.exposedPorts (_: {});
      };
  };

  # Only for a buildImage without `variant`: for a row with an oci-variant (arm/v7)
  # the variant is added to the config, which is renamed by its new digest; the rest
  # of the archive stays as dockerTools wrote it.
  withVariant = variant:
    pkgs.runCommand image.name {
      nativeBuildInputs = [pkgs.jq];
      inherit variant;
    } ''
      mkdir image
      tar -xzf ${image} -C image
      chmod -R u+w image
      cd image
      old=$(jq -r '.[0].Config' manifest.json)
      jq --arg variant "$variant" '. + {variant: $variant}' "$old" > config.json
      new=$(sha256sum config.json | cut -d' ' -f1).json
      rm "$old"
      mv config.json "$new"
      jq --arg config "$new" '.[0].Config = $config' manifest.json > manifest.json.new
      mv manifest.json.new manifest.json
      chmod -R a-w .
      tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
        --xform 's:^\./::' -c . | gzip -9n > "$out"
    '';
in
  if takesVariant || target.variant == ""
  then image
  else withVariant target.variant
