"""The golden files themselves: every input has its output and a test that renders it.

A known-bug case's output is written by hand and an xfail would hide its absence, so the
pairs are checked here. `KUBESAT_UPDATE_GOLDEN=1` creates missing outputs (see
`tests/unit/k8s/golden.py`), so it relaxes only that check for ordinary cases.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.unit.k8s import golden

HERE = Path(__file__).parent


def inputs() -> list[Path]:
    return sorted(golden.GOLDEN_DIR.rglob(f"*{golden.INPUT_SUFFIX}"))


def test_every_input_has_an_output() -> None:
    updating = os.environ.get(golden.UPDATE_VARIABLE) == "1"
    missing = [
        path.relative_to(golden.GOLDEN_DIR).as_posix()
        for path in inputs()
        if not golden.output_path(path).exists()
        and (not updating or golden.load(path.read_text()).get("knownBug"))
    ]
    assert not missing, f"inputs without an output: {missing}"


def test_every_output_has_an_input() -> None:
    orphans = [
        path.relative_to(golden.GOLDEN_DIR).as_posix()
        for path in sorted(golden.GOLDEN_DIR.rglob(f"*{golden.OUTPUT_SUFFIX}"))
        if not path.with_name(
            path.name.removesuffix(golden.OUTPUT_SUFFIX) + golden.INPUT_SUFFIX
        ).exists()
    ]
    assert not orphans, f"outputs without an input: {orphans}"


def test_every_golden_group_is_rendered_by_a_test() -> None:
    sources = "".join(path.read_text() for path in HERE.glob("test_*.py"))
    groups = {path.parent.relative_to(golden.GOLDEN_DIR).as_posix() for path in inputs()}
    untested = sorted(g for g in groups if f'golden.cases("{g}")' not in sources)
    assert not untested, f"golden inputs no test renders: {untested}"
