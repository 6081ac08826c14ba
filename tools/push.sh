#!/bin/sh
# Pushes pausle's multi-arch OCI layout (tools/mkindex.py --out, or `nix build
# .#image-index`) as one tag, and prints the pushed index digest.
#
# Usage: push.sh [-t TAG] LAYOUT DEST [SKOPEO-COPY-OPTION...]
#   LAYOUT  the OCI image layout directory
#   DEST    registry/repo:tag (docker:// is implied), or any skopeo destination
#           with its transport (docker://..., oci:DIR:TAG, dir:DIR, ...)
#   -t TAG  the tag inside LAYOUT (default: the one index.json names)
#   further options go to `skopeo copy` (e.g. --dest-creds USER:PASS,
#   --dest-tls-verify=false)
#
# Every platform is copied (--all), digests are kept as built (--preserve-digests,
# where skopeo has it), and the digest the destination got is checked against the
# local one: the script fails rather than leave a tag whose digest is not the
# built one. Its last line on stdout is the digest; the pinned reference is on
# stderr. Needs skopeo and sha256sum. The flake's push app runs this same script.
set -eu

tag=
if [ "${1-}" = -t ]; then
	[ $# -ge 2 ] || { echo "push.sh: -t needs a TAG" >&2; exit 2; }
	tag=$2
	shift 2
fi
if [ $# -lt 2 ]; then
	sed -n '5,11s/^# \{0,1\}//p' "$0" >&2
	exit 2
fi
layout=$1 dest=$2
shift 2

[ -f "$layout/index.json" ] || { echo "push.sh: $layout is not an OCI layout" >&2; exit 1; }
if [ -z "$tag" ]; then
	# mkindex writes compact JSON with exactly one ref.name.
	tag=$(grep -o '"org.opencontainers.image.ref.name":"[^"]*"' "$layout/index.json" |
		sed 's/.*:"\(.*\)"$/\1/')
	case $tag in
	'' | *"
"*) echo "push.sh: $layout/index.json must name exactly one tag; give -t TAG" >&2; exit 1 ;;
	esac
fi

case $dest in
docker://* | oci:* | oci-archive:* | dir:* | docker-archive:* | docker-daemon:* | containers-storage:*) ;;
*) dest=docker://$dest ;;
esac

# A local layout is the source, so there is no signature to check; skopeo wants a
# policy all the same, and Nix users often have no /etc/containers/policy.json.
policy=
if [ ! -e /etc/containers/policy.json ] && [ ! -e "${HOME:-/nonexistent}/.config/containers/policy.json" ]; then
	policy=--insecure-policy
fi
preserve=
if skopeo copy --help 2>/dev/null | grep -q -- --preserve-digests; then
	preserve=--preserve-digests
fi

src="oci:$layout:$tag"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
skopeo $policy inspect --raw "$src" >"$tmp/index"
want=sha256:$(sha256sum <"$tmp/index" | cut -d' ' -f1)

# shellcheck disable=SC2086 # $policy and $preserve are one word or none
skopeo $policy copy --all $preserve --digestfile "$tmp/digest" "$@" "$src" "$dest" >&2
got=$(cat "$tmp/digest")
if [ "$got" != "$want" ]; then
	echo "push.sh: $dest got $got, but $src is $want" >&2
	exit 1
fi
case $dest in
docker://*)
	repo=${dest#docker://}
	# Strip the tag (a ':' after the last '/') to print repo@digest.
	case ${repo##*/} in *:*) repo=${repo%:*} ;; esac
	echo "push.sh: pushed $dest; pin it as $repo@$got" >&2
	;;
*) echo "push.sh: copied to $dest" >&2 ;;
esac
echo "$got"
