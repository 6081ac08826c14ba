"""Bytes a node pulls for one image of an OCI image layout (tools/mkindex.py's output):
the index, its platform's manifest, the config and the layers, as a registry serves
them. Prints one line per platform.

Usage: pullsize.py LAYOUT_DIR
"""

import json
import sys
from pathlib import Path

import cli


def blob(layout: Path, digest: str) -> Path:
    algo, hexdigest = digest.split(":")
    return layout / "blobs" / algo / hexdigest


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    layout = Path(argv[0])
    if not (layout / "index.json").is_file():
        raise cli.Refused(f"{layout}: not an OCI image layout (no index.json)")
    try:
        (top,) = json.loads((layout / "index.json").read_text())["manifests"]
        index = json.loads(blob(layout, top["digest"]).read_text())
        manifests = [(m, json.loads(blob(layout, m["digest"]).read_text())) for m in index["manifests"]]
    except (ValueError, KeyError, TypeError) as e:
        raise cli.Refused(f"{layout}: not a layout of one image index: {type(e).__name__}: {e}") from e
    for m, manifest in manifests:
        parts = [top["size"], m["size"], manifest["config"]["size"]]
        parts += [layer["size"] for layer in manifest["layers"]]
        p = m["platform"]
        name = p["os"] + "/" + p["architecture"] + ("/" + p["variant"] if "variant" in p else "")
        print(f"{name:16} {sum(parts):5d} bytes  (index {parts[0]}, manifest {parts[1]}, "
              f"config {parts[2]}, layer {' + '.join(map(str, parts[3:]))})")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run("pullsize", main, sys.argv[1:]))
