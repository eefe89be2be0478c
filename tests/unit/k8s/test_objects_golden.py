"""Golden tests of the views the operator's indexes keep (`kubesat.k8s.objects`):
`pod_info`, `job_info` and `budget_info`, read from small manifests.

Cases live in `golden/objects/<reader>/<case>.input.yaml` next to the expected
`<case>.output.yaml`: the view as YAML (dataclass fields by name; a JobInfo's `manifest`
JSON is shown parsed, as `body()`). `KUBESAT_UPDATE_GOLDEN=1 python -m pytest -q
tests/unit/k8s` rewrites the outputs; review the diff (see `tests/unit/k8s/golden.py`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubesat.k8s.objects import budget_info, job_info, pod_info
from tests.unit.k8s import golden


def render_pod(case: dict[str, Any]) -> dict[str, Any] | None:
    info = pod_info(case["pod"])
    if info is None:
        return None
    return {**golden.plain(info), "terminal": info.terminal}


def render_job(case: dict[str, Any]) -> dict[str, Any]:
    info = job_info(case["job"])
    view = golden.plain(info)
    del view["manifest"]
    return {**view, "body()": info.body()}


@pytest.mark.parametrize("path", golden.cases("objects/pod_info"))
def test_pod_info(path: Path, request: pytest.FixtureRequest) -> None:
    golden.check(path, render_pod, request)


@pytest.mark.parametrize("path", golden.cases("objects/job_info"))
def test_job_info(path: Path, request: pytest.FixtureRequest) -> None:
    golden.check(path, render_job, request)


@pytest.mark.parametrize("path", golden.cases("objects/budget_info"))
def test_budget_info(path: Path, request: pytest.FixtureRequest) -> None:
    golden.check(path, lambda case: budget_info(case["budget"]), request)


def test_job_manifest_is_canonical_json() -> None:
    """Index entries compare equal when nothing that matters changed: compact, sorted JSON."""
    path = golden.GOLDEN_DIR / "objects/job_info/managed-indexed.input.yaml"
    body = golden.load(path.read_text())["job"]
    info = job_info(body)
    assert info.manifest == json.dumps(info.body(), sort_keys=True, separators=(",", ":"))
    reordered = {**body, "metadata": dict(reversed(list(body["metadata"].items())))}
    assert job_info(reordered) == info
