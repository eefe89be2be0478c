"""``python -m kubesat.docgen [--check] [--root DIR]``: write or check the reference pages."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from kubesat.docgen import REPOSITORY, stale_pages, write_all


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kubesat.docgen",
        description="Generate docs/reference/ (CRD fields, metrics, CLI) from the sources.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a committed page differs from the sources",
    )
    parser.add_argument(
        "--root", type=Path, default=REPOSITORY, help="the repository (default: this checkout)"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_pages(args.root)
        for page in stale:
            print(f"{page}: stale (run `make reference`)", file=sys.stderr)
        return 1 if stale else 0
    for page in write_all(args.root):
        print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
