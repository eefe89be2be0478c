"""Golden tests of Satellite resources (`kubesat.k8s.satellites`): names, manifests, the
fault-injection annotation and the instants their status gives.

Cases live in `golden/satellites/<renderer>/<case>.input.yaml` next to the expected
`<case>.output.yaml`. `KUBESAT_UPDATE_GOLDEN=1 python -m pytest -q tests/unit/k8s`
rewrites the outputs; review the diff (see `tests/unit/k8s/golden.py`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from kubesat.core.orbits import (
    SatelliteOrbit,
    satellite_from_tle,
    sun_synchronous,
    walker_delta,
)
from kubesat.core.upsets import UpsetKind
from kubesat.k8s.satellites import (
    MAX_NAME,
    instant,
    parse_injection,
    satellite_manifest,
    satellite_names,
)
from tests.unit.k8s import golden


def orbits(case: dict[str, Any]) -> tuple[tuple[SatelliteOrbit, ...], bool]:
    """The constellation's satellites, named as `kubesat.spec` names them, and from_tle."""
    if "tle" in case:
        tles = case["tle"]
        return tuple(satellite_from_tle(t["name"], t["line1"], t["line2"]) for t in tles), True
    prefix = case["constellation"]["metadata"]["name"]
    shape = "walker" if "walker" in case else "sun_synchronous"
    generate = walker_delta if shape == "walker" else sun_synchronous
    shell = {**case[shape], "epoch_utc": datetime.fromisoformat(case[shape]["epoch_utc"])}
    return tuple(generate(**shell, prefix=prefix)), False


def render_manifest(case: dict[str, Any]) -> dict[str, Any]:
    satellites, from_tle = orbits(case)
    names = satellite_names(case["constellation"]["metadata"]["name"], satellites)
    index = case["index"]
    return satellite_manifest(
        case["constellation"], satellites[index], names[index], index, from_tle
    )


def render_names(case: dict[str, Any]) -> list[str]:
    # Only the names are read: no elements needed.
    satellites = tuple(SatelliteOrbit(name, satrec=None) for name in case["names"])
    names = satellite_names(case["constellation"], satellites)
    assert all(len(name) <= MAX_NAME for name in names)
    return list(names)


def render_injections(case: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for value in case["values"]:
        try:
            kind, gpu = parse_injection(value, case["gpus"])
        except ValueError as error:
            out.append({"value": value, "error": str(error)})
        else:
            out.append({"value": value, "kind": UpsetKind(kind).name, "gpu": gpu})
    return out


def render_instants(case: dict[str, Any]) -> list[dict[str, Any]]:
    now = datetime.fromisoformat(case["now"])
    return [
        {**call, "instant": instant(now, call["seconds"], call["step_seconds"])}
        for call in case["calls"]
    ]


@pytest.mark.parametrize("path", golden.cases("satellites/satellite_manifest"))
def test_satellite_manifest(path: Path, request: pytest.FixtureRequest) -> None:
    golden.check(path, render_manifest, request)


@pytest.mark.parametrize("path", golden.cases("satellites/satellite_names"))
def test_satellite_names(path: Path, request: pytest.FixtureRequest) -> None:
    golden.check(path, render_names, request)


@pytest.mark.parametrize("path", golden.cases("satellites/parse_injection"))
def test_parse_injection(path: Path, request: pytest.FixtureRequest) -> None:
    golden.check(path, render_injections, request)


@pytest.mark.parametrize("path", golden.cases("satellites/instant"))
def test_instant(path: Path, request: pytest.FixtureRequest) -> None:
    golden.check(path, render_instants, request)


def test_a_bad_injection_names_the_value() -> None:
    for value in ("reboot", "sefi:8", "sefi:two"):
        with pytest.raises(ValueError, match=r"kubesat\.io/inject-upset") as error:
            parse_injection(value, 8)
        assert repr(value.partition(":")[2] or value) in str(error.value)
