"""A Constellation edited in place: the running engine takes the whole new spec (hardware,
policy and its plugins, heat), without an API server."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace as Obj
from typing import Any

import yaml

from kubesat.engine.plugins.registry import policy_named
from kubesat.k8s.runtime import FleetRuntime, Options
from kubesat.spec import ConstellationSpec, parse_constellation

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "radiator-sso-8.yaml"


def manifest() -> dict[str, Any]:
    document: dict[str, Any] = next(yaml.safe_load_all(EXAMPLE.read_text(encoding="utf-8")))
    document["metadata"] = {"name": "radiator-sso-8", "namespace": "orbit", "uid": "u-1"}
    return document


def runtime(spec: ConstellationSpec, document: dict[str, Any]) -> FleetRuntime:
    memo = Obj(api=object(), events=lambda *_: None)  # nothing is written before `run`
    return FleetRuntime(memo, document, spec, Options())


def test_a_thermal_model_added_in_place_reaches_the_engine():
    document = manifest()
    cool = copy.deepcopy(document)
    del cool["spec"]["thermal"]
    fleet = runtime(parse_constellation(cool), cool)
    assert fleet.engine.thermal is None
    hot = parse_constellation(document)
    assert fleet.update_spec(hot)
    assert fleet.engine.thermal == hot.thermal
    assert fleet.engine.heat_bound is not None


def test_a_new_policy_brings_its_plugins():
    document = manifest()
    fleet = runtime(parse_constellation(document), document)
    document["spec"]["policy"] = "reactive"
    assert fleet.update_spec(parse_constellation(document))
    assert (fleet.engine.policy, fleet.engine.plugins) == ("reactive", policy_named("reactive"))


def test_other_satellites_are_not_an_update():
    document = manifest()
    fleet = runtime(parse_constellation(document), document)
    document["spec"]["orbits"]["sunSynchronous"]["count"] = 4
    assert not fleet.update_spec(parse_constellation(document))
