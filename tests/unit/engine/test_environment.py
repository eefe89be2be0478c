"""The simulator's and the operator's environment sources agree, column for column and
upset for upset, on a real constellation (examples/sso-12.yaml, 3 hours).

`ConditionsEnvironment` reads a run's precomputed `compute_conditions` output (the
simulator); `WindowedEnvironment` computes 30-minute chunks around "now" (the operator).
Both must give the engine the same inputs, so a run and an operator on the same spec and
seed see the same timeline. The AP8 flux model is loaded once for the module.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from kubesat.core.conditions import FleetConditions, compute_conditions
from kubesat.core.geometry import Sky
from kubesat.core.orbits import Fleet
from kubesat.core.timebase import TimeGrid
from kubesat.core.upsets import UpsetEvents
from kubesat.engine.environment import (
    Column,
    ConditionsEnvironment,
    FluxModel,
    WindowedEnvironment,
    flux_model_for,
)
from kubesat.sim.run import LOOKAHEAD_SECONDS, load_scenario
from kubesat.spec import ConstellationSpec

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sso-12.yaml"
DURATION_SECONDS = 3 * 3600.0
COLUMN_FIELDS = tuple(f.name for f in dataclasses.fields(Column) if f.name != "step")


@pytest.fixture(scope="module")
def spec() -> ConstellationSpec:
    constellation = load_scenario(EXAMPLE).constellation
    assert constellation.radiation.enabled
    assert constellation.radiation.seed == 12
    return constellation


@pytest.fixture(scope="module")
def flux_model(spec: ConstellationSpec) -> FluxModel:
    model = flux_model_for(spec)
    assert model is not None
    return model


@pytest.fixture(scope="module")
def conditions(spec: ConstellationSpec, flux_model: FluxModel) -> FleetConditions:
    """What the simulator computes: the run plus its lookahead, in one call."""
    clock = spec.clock
    grid = TimeGrid.regular(
        clock.start_utc, DURATION_SECONDS + LOOKAHEAD_SECONDS, clock.step_seconds
    )
    return compute_conditions(Fleet(spec.satellites), Sky.on(grid), spec.stations, flux_model)


@pytest.fixture(scope="module")
def steps(spec: ConstellationSpec) -> int:
    return round(DURATION_SECONDS / spec.clock.step_seconds)


def with_seed(spec: ConstellationSpec, seed: int) -> ConstellationSpec:
    return dataclasses.replace(spec, radiation=dataclasses.replace(spec.radiation, seed=seed))


def columns(
    source: ConditionsEnvironment | WindowedEnvironment, first: int, last: int
) -> dict[str, NDArray[np.float64]]:
    """Every field of the columns of steps [first, last), stacked to (steps, N)."""
    taken = [source.column(k) for k in range(first, last)]
    assert [c.step for c in taken] == list(range(first, last))
    return {name: np.stack([getattr(c, name) for c in taken]) for name in COLUMN_FIELDS}


def step_by_step(
    source: ConditionsEnvironment | WindowedEnvironment, first: int, last: int
) -> UpsetEvents:
    """The upsets as the engine asks for them: the column of a step, then its upsets."""
    parts = []
    for k in range(first, last):
        source.column(k)
        parts.append(source.upsets(k, k + 1))
    return UpsetEvents.concatenate(parts)


def assert_same_upsets(a: UpsetEvents, b: UpsetEvents) -> None:
    np.testing.assert_array_equal(a.time_seconds, b.time_seconds)
    np.testing.assert_array_equal(a.satellite, b.satellite)
    np.testing.assert_array_equal(a.kind, b.kind)
    np.testing.assert_array_equal(a.gpu, b.gpu)


def test_both_sources_give_the_same_columns(
    spec: ConstellationSpec, flux_model: FluxModel, conditions: FleetConditions, steps: int
) -> None:
    simulated = columns(ConditionsEnvironment(spec, conditions), 0, steps)
    windowed = columns(WindowedEnvironment(spec, flux_model), 0, steps)
    # the comparison covers what the policies read: every orbit of this SSO has an eclipse
    # (so a finite time to the next one), ground contacts and SAA passes
    assert np.isfinite(simulated["seconds_to_shadow"]).all()
    assert (simulated["illumination"] < 1.0).any() and (simulated["illumination"] == 1.0).any()
    assert simulated["link"].any()
    assert (simulated["flux"] > spec.radiation.saa_flux_threshold).any()
    for name in COLUMN_FIELDS:
        np.testing.assert_array_equal(windowed[name], simulated[name], err_msg=name)


def test_same_seed_same_upsets(
    spec: ConstellationSpec, flux_model: FluxModel, conditions: FleetConditions, steps: int
) -> None:
    simulated = step_by_step(ConditionsEnvironment(spec, conditions), 0, steps)
    windowed = step_by_step(WindowedEnvironment(spec, flux_model), 0, steps)
    # background alone: 1e-5 per GPU-second x 48 GPUs x 10800 s = 5.2 expected; the SAA
    # passes add most
    assert len(simulated) > 10
    assert_same_upsets(windowed, simulated)
    # step by step or all at once, the same stream
    assert_same_upsets(ConditionsEnvironment(spec, conditions).all_upsets(steps), simulated)


def test_a_different_seed_draws_different_upsets(
    spec: ConstellationSpec, flux_model: FluxModel, conditions: FleetConditions, steps: int
) -> None:
    twelve = ConditionsEnvironment(spec, conditions).all_upsets(steps)
    thirteen = ConditionsEnvironment(spec, conditions, seed=13).all_upsets(steps)
    assert len(thirteen) > 10
    assert len(thirteen) != len(twelve) or not np.array_equal(
        thirteen.time_seconds, twelve.time_seconds
    )
    # the operator takes the seed from the spec and draws the same as the simulator
    windowed = step_by_step(WindowedEnvironment(with_seed(spec, 13), flux_model), 0, steps)
    assert_same_upsets(windowed, thirteen)


def test_a_window_opened_mid_run_sees_the_same_environment(
    spec: ConstellationSpec, flux_model: FluxModel, conditions: FleetConditions, steps: int
) -> None:
    # an operator restarted 100 minutes into the run: its window starts there
    restart = 600
    simulated = ConditionsEnvironment(spec, conditions)
    late = WindowedEnvironment(spec, flux_model)
    late_columns = columns(late, restart, steps)
    assert late.first_step > 0
    for name, values in columns(simulated, restart, steps).items():
        np.testing.assert_array_equal(late_columns[name], values, err_msg=name)
    assert_same_upsets(
        step_by_step(WindowedEnvironment(spec, flux_model), restart, steps),
        simulated.upsets(restart, steps),
    )


def test_a_catch_up_slides_the_window_without_recomputing_it(spec: ConstellationSpec) -> None:
    # an operator far behind its clock: the window covers the engine's step up to the
    # target, and stepping through it computes each chunk once
    env = WindowedEnvironment(
        dataclasses.replace(spec, radiation=dataclasses.replace(spec.radiation, enabled=False))
    )
    computed: list[int] = []
    compute = env._compute_chunk

    def counting(chunk: int) -> dict[str, NDArray[np.float64]]:
        computed.append(chunk)
        return compute(chunk)

    env._compute_chunk = counting  # type: ignore[method-assign]
    target = 2 * env.horizon_steps
    env.ensure(0, target)
    for step in range(target + 1):
        env.column(step)
    assert computed == sorted(set(computed)), "a chunk was computed twice"
    assert computed[0] == 0
    assert computed[-1] == (target + env.horizon_steps) // env.chunk_steps + 1


def test_changed_stations_recompute_the_contacts_of_the_window(spec: ConstellationSpec) -> None:
    """A station added, moved or removed (a GroundStation object in the operator): the
    window's link and contact columns become those of an environment built with the new
    stations from the start; sunlight stays."""
    from kubesat.core.ground import GroundStation

    first_step = 40
    live = WindowedEnvironment(spec)
    live.ensure(first_step)
    window = range(first_step, first_step + live.horizon_steps)
    old_links = [live.column(step).link for step in window]
    stations = (
        GroundStation("svalbard", 78.23, 15.41, 500.0, 5.0),
        GroundStation("punta-arenas", -53.16, -70.91, 50.0, 5.0),
    )
    live.set_stations(stations)
    fresh = WindowedEnvironment(dataclasses.replace(spec, stations=stations))
    fresh.ensure(first_step)
    for step in window:
        a, b = live.column(step), fresh.column(step)
        for name in ("link", "seconds_to_contact", "contact_seconds", "illumination"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), (step, name)
    new_links = [live.column(step).link for step in window]
    assert any(not np.array_equal(o, n) for o, n in zip(old_links, new_links, strict=True))
    assert live.spec.stations == stations
    live.set_stations(())
    assert not any(live.column(step).link.any() for step in window)


def test_positions_are_kept_only_with_links_and_match_sgp4(spec: ConstellationSpec) -> None:
    """With spec.links the window keeps the positions it propagated (float32 TEME): each
    column's positions are SGP4's at that step to well under a metre."""
    from kubesat.core.links import LinkSettings, LinkTopology

    quiet = dataclasses.replace(spec, radiation=dataclasses.replace(spec.radiation, enabled=False))
    assert WindowedEnvironment(quiet).column(5).position_km is None
    linked = dataclasses.replace(quiet, links=LinkSettings(LinkTopology.GRID, 1e11))
    env = WindowedEnvironment(linked)
    fleet = Fleet(spec.satellites)
    for step in (0, 7, env.chunk_steps + 3, env.horizon_steps + 11):
        column = env.column(step)
        assert column.position_km is not None
        assert column.position_km.shape == (len(fleet), 3)
        offset = np.array([step * spec.clock.step_seconds])
        expected = fleet.teme_km(TimeGrid(spec.clock.start_utc, offset))[:, 0]
        assert np.abs(column.position_km - expected).max() < 1e-3  # km
