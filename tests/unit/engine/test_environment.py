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

from kubesat.core.conditions import (
    EnvironmentArrays,
    FleetConditions,
    compute_conditions,
    shadow_timing,
)
from kubesat.core.geometry import Sky
from kubesat.core.orbits import Fleet
from kubesat.core.timebase import TimeGrid
from kubesat.core.upsets import UpsetEvents
from kubesat.engine.environment import (
    Column,
    ConditionsEnvironment,
    FluxModel,
    WindowedEnvironment,
    extend_runs,
    flux_model_for,
    next_runs,
    run_timing,
)
from kubesat.sim.run import LOOKAHEAD_SECONDS, load_scenario
from kubesat.spec import ConstellationSpec

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sso-12.yaml"
DURATION_SECONDS = 3 * 3600.0
COLUMN_FIELDS = tuple(f.name for f in dataclasses.fields(Column) if f.name != "step")
SHARED_FIELDS = tuple(f.name for f in dataclasses.fields(EnvironmentArrays))


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


def test_a_column_is_the_conditions_at_its_step(
    spec: ConstellationSpec, conditions: FleetConditions, steps: int
) -> None:
    """`Column` and `FleetConditions` share their quantities (`EnvironmentArrays`): a
    column read from the conditions holds each of them at its step, as float64."""
    source = ConditionsEnvironment(spec, conditions)
    for step in (0, steps // 2, steps - 1):
        column = source.column(step)
        for name in SHARED_FIELDS:
            series, value = getattr(conditions, name), getattr(column, name)
            if series is None:
                assert value is None, name
            else:
                np.testing.assert_array_equal(value, series[:, step], err_msg=name)


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


# -- shadow and contact timing, kept incrementally chunk by chunk ---------------------------

TIMING_FIELDS = ("seconds_to_shadow", "shadow_seconds", "seconds_to_contact", "contact_seconds")
DAWN_DUSK = EXAMPLE.parent / "suncatcher-81.yaml"  # LTAN 18 h: no eclipse in November


def whole_window_timing(env: WindowedEnvironment) -> dict[str, NDArray[np.float32]]:
    """The timing of every step of the current window as `shadow_timing` gives it for the
    window's masks stacked: (N, window steps) per field."""
    chunks = env._chunks
    shadow = np.concatenate([c["illumination"] for c in chunks], axis=1) < 1.0
    link = np.concatenate([c["link"] for c in chunks], axis=1)
    to_shadow, shadow_length = shadow_timing(shadow, env.step_seconds)
    to_contact, contact_length = shadow_timing(link, env.step_seconds)
    return dict(
        zip(TIMING_FIELDS, (to_shadow, shadow_length, to_contact, contact_length), strict=True)
    )


def kept_timing(env: WindowedEnvironment, step: int) -> tuple[NDArray[np.float64], ...]:
    """The timing fields at any step of the window, from the runs the window keeps."""
    chunk, j = divmod(step, env.chunk_steps)
    data = env._chunks[chunk - env._first_chunk]
    shadow = run_timing(data["shadow_from"][:, j], data["shadow_until"][:, j], step, 10.0)
    contact = run_timing(data["contact_from"][:, j], data["contact_until"][:, j], step, 10.0)
    return shadow + contact


class Reference:
    """Checks columns against the whole window recomputed; on each new window, every step
    of it (the steps near its end too, which no column reaches before the window grows)."""

    def __init__(self, env: WindowedEnvironment) -> None:
        assert env.step_seconds == 10.0
        self.env = env
        self.window = (-1, -1)
        self.timing: dict[str, NDArray[np.float32]] = {}
        self.windows = 0
        self.seen: set[str] = set()

    def check(self, step: int) -> Column:
        column = self.env.column(step)
        if (self.env.first_step, self.env.end_step) != self.window:
            self.new_window()
        k = step - self.env.first_step
        for name in TIMING_FIELDS:
            expected = np.asarray(self.timing[name][:, k], dtype=np.float64)
            value = getattr(column, name)
            assert value.dtype == expected.dtype and value.tobytes() == expected.tobytes(), (
                step,
                name,
            )
        return column

    def new_window(self) -> None:
        env = self.env
        self.window = (env.first_step, env.end_step)
        self.timing = timing = whole_window_timing(env)
        self.windows += 1
        assert env.longest_shadow_seconds() == float(np.max(timing["shadow_seconds"], initial=0.0))
        for k, step in enumerate(range(env.first_step, env.end_step)):
            for name, value in zip(TIMING_FIELDS, kept_timing(env, step), strict=True):
                expected = np.asarray(timing[name][:, k], dtype=np.float64)
                assert value.tobytes() == expected.tobytes(), (step, name)
        # which of the cases the sentinels handle this window has
        cases = {
            "never in shadow": np.isinf(timing["seconds_to_shadow"][:, 0]),
            "shadow past the end": timing["seconds_to_shadow"][:, -1] == 0.0,
            "never in contact": np.isinf(timing["seconds_to_contact"][:, 0]),
            "contact past the end": timing["seconds_to_contact"][:, -1] == 0.0,
        }
        self.seen |= {case for case, rows in cases.items() if rows.any()}


@pytest.fixture(scope="module")
def mixed_spec(spec: ConstellationSpec) -> ConstellationSpec:
    """sso-12 (an eclipse every orbit) plus three dawn-dusk satellites that stay in
    sunlight, with sso-12's one mid-latitude station (hours between passes), without
    radiation (not what is tested here)."""
    dawn_dusk = load_scenario(DAWN_DUSK).constellation.satellites[:3]
    station = [s for s in spec.stations if s.name == "hartebeesthoek"]
    return dataclasses.replace(
        spec,
        satellites=spec.satellites + dawn_dusk,
        stations=tuple(station),
        radiation=dataclasses.replace(spec.radiation, enabled=False),
    )


def test_incremental_timing_equals_the_whole_window_recomputed(
    mixed_spec: ConstellationSpec,
) -> None:
    """Stepping through more than two windows' worth of steps: every timing field of every
    column is, byte for byte, `shadow_timing` of the window at that moment."""
    env = WindowedEnvironment(mixed_spec)
    env.ensure(0)
    window_steps = env.end_step - env.first_step
    reference = Reference(env)
    no_shadow_column = False
    for step in range(2 * window_steps + env.chunk_steps):
        column = reference.check(step)
        no_shadow_column |= bool(np.isinf(column.seconds_to_shadow).any())
    # the window slid past its first steps more than once, growing and dropping chunks
    assert env.first_step > window_steps and reference.windows > 4
    # the cases the sentinels handle all came up: the dawn-dusk satellites see no shadow
    assert no_shadow_column
    assert reference.seen == {
        "never in shadow",
        "shadow past the end",
        "never in contact",
        "contact past the end",
    }


def test_incremental_timing_through_catch_ups_restarts_and_station_changes(
    mixed_spec: ConstellationSpec,
) -> None:
    """Several chunks appended at once, a window restarted ahead and behind, and the
    stations changed mid-window: the timing stays that of the whole window recomputed."""
    from kubesat.core.ground import GroundStation

    env = WindowedEnvironment(mixed_spec)
    reference = Reference(env)
    for step in range(0, 200, 7):
        reference.check(step)
    env.ensure(200, 200 + 5 * env.chunk_steps)  # a catch-up: five more chunks in one call
    for step in range(200, 200 + 6 * env.chunk_steps, 5):
        reference.check(step)
    env.set_stations((GroundStation("svalbard", 78.23, 15.41, 500.0, 5.0),))
    reference.window = (-1, -1)
    for step in range(1300, 1700, 3):
        reference.check(step)
    for step in (5000, 5001, 400, 401):  # far ahead, then back: a new window each time
        reference.check(step)
    env.set_stations(())
    reference.window = (-1, -1)
    column = reference.check(402)
    assert np.isinf(column.seconds_to_contact).all()


@pytest.mark.parametrize("seed", range(4))
def test_runs_kept_chunk_by_chunk_equal_shadow_timing(seed: int) -> None:
    """Random masks with runs shorter and longer than a chunk, rows always and never True,
    grown a chunk at a time and dropped from the front: `shadow_timing` of the kept steps."""
    rng = np.random.default_rng(seed)
    chunk_steps, chunks, step_seconds = 6, 12, 10.0
    run_lengths = rng.integers(1, 3 * chunk_steps, size=(5, 4 * chunks))
    rows = [np.repeat(np.arange(run_lengths.shape[1]) % 2 == 0, lengths) for lengths in run_lengths]
    mask = np.stack([r[: chunk_steps * chunks] for r in rows])
    mask[0], mask[1] = True, False
    mask[2, -1] = True  # a run reaching the end of the grid
    kept: list[tuple[NDArray[np.int32], NDArray[np.int32]]] = []
    first_step = 0
    for c in range(chunks):
        if c >= 4 and c % 3 == 0:  # drop the two oldest chunks
            kept, first_step = kept[2:], first_step + 2 * chunk_steps
        lo = c * chunk_steps
        runs = next_runs(mask[:, lo : lo + chunk_steps], lo)
        extend_runs(kept, lo, runs)
        kept.append((runs[0], runs[1]))
        end_step = lo + chunk_steps
        to_run, length = shadow_timing(mask[:, first_step:end_step], step_seconds)
        start = np.concatenate([k[0] for k in kept], axis=1)
        until = np.concatenate([k[1] for k in kept], axis=1)
        for step in range(first_step, end_step):
            j = step - first_step
            got = run_timing(start[:, j], until[:, j], step, step_seconds)
            assert got[0].tobytes() == to_run[:, j].astype(np.float64).tobytes(), (c, step)
            assert got[1].tobytes() == length[:, j].astype(np.float64).tobytes(), (c, step)
