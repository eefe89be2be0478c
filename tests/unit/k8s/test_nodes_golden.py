"""Golden tests of what a satellite's Node and Lease say (`kubesat.k8s.nodes`).

`desired_state` for each policy (none, reactive, predictive) in sun, penumbra, eclipse,
at the battery floor, power-cycling after a latch-up and recovering from a SEFI; the
conditions and taints written from it; the Node and Lease manifests. Cases live in
`golden/nodes/<renderer>/<case>.input.yaml` next to the expected `<case>.output.yaml`.
`KUBESAT_UPDATE_GOLDEN=1 python -m pytest -q tests/unit/k8s` rewrites the outputs;
review the diff (see `tests/unit/k8s/golden.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubesat.core.policy import POLICIES
from kubesat.k8s.nodes import (
    NodeState,
    conditions_body,
    desired_state,
    lease_manifest,
    node_labels,
    node_manifest,
    selector,
    taints_body,
)
from tests.unit.k8s import golden


def node_state(fields: dict[str, Any]) -> NodeState:
    """`desired_state(**fields)`, or a NodeState spelled out (conditions, taints, GPUs)."""
    if "policy" in fields:
        return desired_state(**fields)
    return NodeState(
        tuple(tuple(c) for c in fields.get("conditions") or ()),
        tuple(tuple(t) for t in fields.get("taints") or ()),
        int(fields.get("allocatable_gpus", 0)),
    )


def state_view(state: NodeState) -> dict[str, Any]:
    """A NodeState with its tuples named, for reading."""
    return {
        "conditions": [
            {"type": kind, "status": status, "reason": reason, "message": message}
            for kind, status, reason, message in state.conditions
        ],
        "taints": [
            {"key": key, "value": value, "effect": effect} for key, value, effect in state.taints
        ],
        "allocatable_gpus": state.allocatable_gpus,
    }


def render_conditions(case: dict[str, Any]) -> dict[str, Any]:
    previous = case.get("previous")
    since = dict(case.get("since") or {})
    conditions = conditions_body(
        node_state(case["state"]),
        None if previous is None else node_state(previous),
        golden.wall(case),
        since,
    )
    return {"conditions": conditions, "since (after)": since}


def render_node(case: dict[str, Any]) -> dict[str, Any]:
    labels = node_labels(case["namespace"], case["constellation"], case["satellite"], case["plane"])
    return node_manifest(
        case["satellite"],
        labels,
        case["owner_uid"],
        case["gpus"],
        node_state(case["state"]),
        golden.wall(case),
    )


@pytest.mark.parametrize("path", golden.cases("nodes/desired_state"))
def test_desired_state(path: Path, request: pytest.FixtureRequest) -> None:
    golden.check(path, lambda case: state_view(desired_state(**case)), request)


@pytest.mark.parametrize("path", golden.cases("nodes/conditions_body"))
def test_conditions_body(path: Path, request: pytest.FixtureRequest) -> None:
    golden.check(path, render_conditions, request)


@pytest.mark.parametrize("path", golden.cases("nodes/taints_body"))
def test_taints_body(path: Path, request: pytest.FixtureRequest) -> None:
    golden.check(
        path,
        lambda case: taints_body(node_state(case["state"]), case["current"], golden.wall(case)),
        request,
    )


@pytest.mark.parametrize("path", golden.cases("nodes/node_manifest"))
def test_node_manifest(path: Path, request: pytest.FixtureRequest) -> None:
    golden.check(path, render_node, request)


@pytest.mark.parametrize("path", golden.cases("nodes/lease_manifest"))
def test_lease_manifest(path: Path, request: pytest.FixtureRequest) -> None:
    golden.check(
        path,
        lambda case: lease_manifest(
            case["name"], case["node_uid"], case["duration"], golden.wall(case)
        ),
        request,
    )


def test_every_policy_has_golden_states_for_every_situation() -> None:
    names = {
        path.name.removesuffix(golden.INPUT_SUFFIX)
        for path in (golden.GOLDEN_DIR / "nodes/desired_state").glob("*.input.yaml")
    }
    situations = ("sunlit", "penumbra", "eclipse", "low-power", "latchup", "sefi")
    # with a thermal model: the ThermalThrottling condition, and its taint under predictive
    thermal = {"predictive-thermal-throttling", "none-thermal-below-maximum"}
    expected = {f"{policy}-{situation}" for policy in POLICIES for situation in situations}
    assert names == expected | thermal


def test_the_node_selector_selects_the_node_labels() -> None:
    """The constellation lists its Nodes with `selector`: it must match `node_labels`."""
    labels = node_labels("lab", "shell", "shell-p00-s01", 0)
    pairs = dict(term.split("=", 1) for term in selector("lab", "shell").split(","))
    assert pairs.items() <= labels.items()
    assert dict(term.split("=", 1) for term in selector("lab", "other").split(",")).items() - (
        labels.items()
    )
