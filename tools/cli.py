"""How every Python tool here answers bad input: one line, `PROG: what is wrong`, on
stderr and a non-zero exit (1; argparse's usage errors are 2), never a traceback.

A tool's `main` raises `Refused` with the whole answer, or lets an OSError (a missing
or unreadable input, an unwritable output) or manifest's SystemExit through; `run`
turns each into that line. Outputs are checked before any work: `output_file` wants
an existing folder and no directory in the way. An existing output file is replaced
(atomically, by the tools' .tmp-and-rename), as a build step's output is. Standard
library only.
"""

import sys
from pathlib import Path
from typing import Callable


class Refused(Exception):
    """Input or output a tool will not use; the message says why."""


def output_file(path: Path) -> Path:
    """`path` can be written as a file: its folder exists, it is not a directory."""
    if not path.parent.is_dir():
        raise Refused(f"{path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise Refused(f"{path}: is a directory")
    return path


def run(prog: str, main: Callable[[list[str]], int], argv: list[str]) -> int:
    """`main(argv)`'s exit status, with every refusal as one line on stderr."""
    try:
        return main(argv)
    except Refused as e:
        message = str(e)
    except OSError as e:
        message = f"{e.filename}: {e.strerror}" if e.filename else str(e)
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            raise
        message = str(e.code)
    # One line, whatever the message: a library's may span several.
    print(f"{prog}: {' '.join(message.split())}", file=sys.stderr)
    return 1
