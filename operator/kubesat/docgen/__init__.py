"""The documentation site's reference pages, generated from the sources.

- `reference/constellation.md`, `satellite.md`, `groundstation.md`: every field of the
  CRDs in `crds/` (type, default, limits, description, CEL rules);
- `reference/metrics.md`: every metric family of `kubesat.metrics`;
- `reference/cli.md`: every subcommand and option of `kubesat`.

``python -m kubesat.docgen`` writes them into `docs/reference/`; ``--check`` writes
nothing and fails (exit 1) naming the stale pages. `make reference` and `make docs` run
these; `tests/unit/test_docs.py` compares the committed pages with :func:`render_all`.
"""

from __future__ import annotations

from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[3]
REFERENCE_DIR = Path("docs") / "reference"


def render_all(root: Path = REPOSITORY) -> dict[str, str]:
    """Page file name (within docs/reference) -> its Markdown, from the sources in `root`."""
    from kubesat.docgen import cli, crds, metrics

    pages = crds.render_all(root / "crds", root)
    pages["metrics.md"] = metrics.render()
    pages["cli.md"] = cli.render()
    return pages


def stale_pages(root: Path = REPOSITORY) -> list[str]:
    """The generated pages whose committed text differs from what the sources give."""
    target = root / REFERENCE_DIR
    stale = []
    for name, text in render_all(root).items():
        path = target / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append((REFERENCE_DIR / name).as_posix())
    return stale


def write_all(root: Path = REPOSITORY) -> list[str]:
    """Write every generated page under `root`; return those that changed."""
    changed = stale_pages(root)
    target = root / REFERENCE_DIR
    target.mkdir(parents=True, exist_ok=True)
    for name, text in render_all(root).items():
        (target / name).write_text(text, encoding="utf-8")
    return changed
