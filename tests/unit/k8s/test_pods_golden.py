"""Golden tests of what a pod's status says (`kubesat.k8s.pods`): Running, its end, a rejection.

Cases live in `golden/pods/<renderer>/<case>.input.yaml` (a small pod manifest, read with
`pod_info` as the operator's index reads it, and the engine's `PodEnded`) next to the
expected `<case>.output.yaml`. `KUBESAT_UPDATE_GOLDEN=1 python -m pytest -q tests/unit/k8s`
rewrites the outputs; review the diff (see `tests/unit/k8s/golden.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubesat.engine.events import EndReason, PodEnded
from kubesat.k8s.objects import PodInfo, pod_info
from kubesat.k8s.pods import end_message, ended_status, rejected_status, running_status
from tests.unit.k8s import golden


def pod(case: dict[str, Any]) -> PodInfo:
    info = pod_info(case["pod"])
    assert info is not None, "the golden pod must be one kubesat runs (tolerations, scheduler)"
    return info


def pod_ended(fields: dict[str, Any]) -> PodEnded:
    """The engine's event; ids that no renderer reads default to 0."""
    ids = {"pod": 0, "job": 0, "unit": 0, "sat": 0, "at_seconds": 0.0}
    return PodEnded(**{**ids, **fields, "reason": EndReason(fields["reason"])})


def render_ended(case: dict[str, Any]) -> dict[str, Any]:
    """As `PodRuntime.write` does: the message of the end, then the status carrying it."""
    ended = pod_ended(case["ended"])
    message = end_message(ended, case["satellite"])
    return ended_status(pod(case), ended, message, golden.wall(case))


def render_messages(case: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for fields in case["ends"]:
        ended = pod_ended(fields)
        out.append({"reason": ended.reason.value, "message": end_message(ended, case["satellite"])})
    return out


@pytest.mark.parametrize("path", golden.cases("pods/running_status"))
def test_running_status(path: Path, request: pytest.FixtureRequest) -> None:
    golden.check(path, lambda case: running_status(pod(case), golden.wall(case)), request)


@pytest.mark.parametrize("path", golden.cases("pods/ended_status"))
def test_ended_status(path: Path, request: pytest.FixtureRequest) -> None:
    golden.check(path, render_ended, request)


@pytest.mark.parametrize("path", golden.cases("pods/end_message"))
def test_end_message(path: Path, request: pytest.FixtureRequest) -> None:
    golden.check(path, render_messages, request)


@pytest.mark.parametrize("path", golden.cases("pods/rejected_status"))
def test_rejected_status(path: Path, request: pytest.FixtureRequest) -> None:
    golden.check(path, lambda case: rejected_status(case["message"], case["reason"]), request)


def test_every_end_reason_has_a_golden_status_and_message() -> None:
    """A new EndReason must come with its golden pod status and message."""
    ended = {
        golden.load(path.read_text())["ended"]["reason"]
        for path in (golden.GOLDEN_DIR / "pods/ended_status").glob("*.input.yaml")
    }
    messages = {
        fields["reason"]
        for path in (golden.GOLDEN_DIR / "pods/end_message").glob("*.input.yaml")
        for fields in golden.load(path.read_text())["ends"]
    }
    every = {reason.value for reason in EndReason}
    assert ended == every
    assert messages == every
