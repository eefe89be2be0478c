"""Gang jobs in the fleet engine: all members at once, lock-step progress slowed by the
gradient exchange, whole-gang restarts and drains, and the Job report's accounting.

Satellites sit at fixed positions 1 km apart on a line at 7000 km from the Earth's centre
(formation links: every pair within range is linked), so the exchange time of a ring is
known by hand: 2(N-1)/N x 8 x bytes / bandwidth + 2(N-1) x the slowest hop's latency.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from kubesat.core.links import (
    SPEED_OF_LIGHT_KM_S,
    GangPlacement,
    LinkSettings,
    LinkTopology,
    candidate_pairs,
)
from kubesat.core.power import PowerSystem
from kubesat.core.upsets import UpsetEvents, UpsetKind, UpsetModel
from kubesat.core.workloads import JobSpec
from kubesat.engine.config import EngineConfig
from kubesat.engine.durable import restore_state, to_state
from kubesat.engine.environment import Column
from kubesat.engine.events import (
    EndReason,
    Eviction,
    GangPlaced,
    GangWait,
    GangWaiting,
    PodEnded,
    PodStarted,
)
from kubesat.engine.fleet import FleetEngine
from kubesat.engine.job_stats import Activity
from tests.unit.engine.test_fleet import STEP_SECONDS, HandMadeSky, orbit, run

GPU_W = 1000.0
# a large battery and array: power never limits unless a test puts a satellite in shadow
BIG = PowerSystem(
    solar_array_w=4000.0,
    bus_power_w=0.0,
    gpu_power_w=GPU_W,
    gpus=2,
    battery_wh=2000.0,
    charge_efficiency=1.0,
    discharge_efficiency=1.0,
    depth_of_discharge=0.5,
)
BANDWIDTH_BPS = 1e9
LINKS = LinkSettings(LinkTopology.FORMATION, bandwidth_bps=BANDWIDTH_BPS, max_range_km=10.0)
SPACING_KM = 1.0
RADIUS_KM = 7000.0


class LinkedSky(HandMadeSky):
    """HandMadeSky with satellites at fixed positions on a line, 1 km apart."""

    def column(self, step: int) -> Column:
        base = super().column(step)
        position = np.zeros((self.n, 3))
        position[:, 0] = RADIUS_KM
        position[:, 1] = np.arange(self.n) * SPACING_KM
        return Column(**{**base.__dict__, "position_km": position})


def gang(members: int, gpus: int = 1, **kw: Any) -> JobSpec:
    spec: dict[str, Any] = {
        "gpus_per_pod": gpus,
        "work_gpu_seconds": 600.0,
        "checkpoint_interval_seconds": 300.0,
        "checkpoint_write_seconds": 10.0,
        "parallelism": members,
        "completions": members,
        "ignores_disruptions": True,
        "managed": True,
        "gang": True,
        "compute_seconds_per_step": 1.0,
        "gradient_bytes_per_step": 125e6,  # 1 Gbit: 2(N-1)/N s over a 1 Gbps ring
    }
    return JobSpec("train", **{**spec, **kw})


def engine_for(
    policy: str,
    satellites: int,
    jobs: list[JobSpec],
    links: LinkSettings | None = LINKS,
    placement: GangPlacement = GangPlacement.TOPOLOGY_AWARE,
    power: PowerSystem = BIG,
    upsets: UpsetModel | None = None,
) -> FleetEngine:
    pairs = None
    if links is not None:
        planes = np.zeros(satellites, np.int64)
        pairs = candidate_pairs(links.topology, planes, np.zeros(satellites))
    engine = FleetEngine(
        EngineConfig(
            power,
            policy,
            STEP_SECONDS,
            links=links,
            link_pairs=pairs,
            gang_placement=placement,
            upsets=upsets,
        ),
        tuple(f"sat-{i}" for i in range(satellites)),
    )
    for job in jobs:
        engine.add_job(job)
    return engine


def exchange_seconds(members: int, bytes_: float, hop_km: float) -> float:
    return (
        2 * (members - 1) / members * 8 * bytes_ / BANDWIDTH_BPS
        + 2 * (members - 1) * hop_km / SPEED_OF_LIGHT_KM_S
    )


def test_a_gang_runs_all_its_members_at_once_slowed_by_its_gradient_exchange() -> None:
    # three satellites of 2 GPUs; a gang of 4 members of 1 GPU packs 2 + 2 onto two of them
    spec = gang(4)
    engine = engine_for("predictive", 3, [spec])
    sky = LinkedSky(np.ones((3, 400)))
    result = run(engine, sky, 1)
    started = result.of(PodStarted)
    assert len(started) == 4 and {p.at_seconds for p in started} == {0.0}
    placed = result.of(GangPlaced)
    assert len(placed) == 1
    assert sorted(placed[0].satellites) == [0, 0, 1, 1]
    # the ring crosses the 1 Gbps link between the two satellites: the bottleneck
    exchange = exchange_seconds(4, spec.gradient_bytes_per_step, SPACING_KM)
    assert placed[0].exchange_seconds == pytest.approx(exchange, rel=1e-6)
    fraction = 1.0 / (1.0 + exchange)
    result = run(engine, sky)
    stats = engine.job_stats(0)
    assert stats.finished
    # 600 GPU-s per member at `fraction` useful, plus a checkpoint write every 300 s of
    # running (each write starts on the step grid: up to a step late)
    compute_wall = 600.0 / fraction
    writes = math.floor(compute_wall / spec.checkpoint_interval_seconds)
    expected = compute_wall + writes * spec.checkpoint_write_seconds
    assert stats.finish_seconds == pytest.approx(expected, abs=(writes + 1) * STEP_SECONDS)
    assert stats.compute_seconds == pytest.approx(600.0, abs=STEP_SECONDS)
    assert stats.exchange_seconds == pytest.approx(compute_wall - 600.0, abs=STEP_SECONDS)
    total = sum(stats.share(a) for a in Activity)
    assert total == pytest.approx(1.0)
    assert stats.gpu_seconds_used == pytest.approx(4 * (stats.finish_seconds or 0), rel=0.03)
    assert [p.reason for p in result.of(PodEnded)] == [EndReason.COMPLETED] * 4


def test_a_gang_that_does_not_fit_places_no_member_and_says_why_once() -> None:
    engine = engine_for("predictive", 2, [gang(5)])
    result = run(engine, LinkedSky(np.ones((2, 20))))
    assert result.of(PodStarted) == []
    waits = result.of(GangWaiting)
    assert len(waits) == 1
    assert waits[0].reason is GangWait.CAPACITY and waits[0].placeable == 4
    assert engine.job_stats(0).share(Activity.WAIT) == pytest.approx(1.0)


def test_without_links_a_gang_runs_only_within_one_satellite() -> None:
    engine = engine_for("predictive", 2, [gang(3)], links=None, power=BIG)
    result = run(engine, LinkedSky(np.ones((2, 5))))
    assert result.of(PodStarted) == []
    assert result.of(GangWaiting)[0].reason is GangWait.LINKS
    engine = engine_for("predictive", 2, [gang(2)], links=None)
    result = run(engine, LinkedSky(np.ones((2, 5))))
    assert {p.sat for p in result.of(PodStarted)} == {0}
    assert result.of(GangPlaced)[0].exchange_seconds == 0.0


def test_losing_one_member_restarts_the_whole_gang_from_its_checkpoint() -> None:
    spec = gang(4, work_gpu_seconds=5000.0)
    upset = UpsetEvents(
        time_seconds=np.array([405.0]),
        satellite=np.array([1]),
        kind=np.array([int(UpsetKind.SEFI)], np.int8),
        gpu=np.array([0]),
    )
    engine = engine_for("none", 3, [spec])
    sky = LinkedSky(np.ones((3, 60)), upset)
    result = run(engine, sky)
    ended = [p for p in result.of(PodEnded) if p.at_seconds == 400.0]
    reasons = sorted(p.reason.value for p in ended)
    assert reasons == ["gang-restart"] * 3 + ["sefi"]
    # every member lost the same work since the gang's checkpoint (written near 300 s of
    # compute, so the loss is the compute since then, equal for all)
    lost = {round(p.lost_gpu_seconds, 6) for p in ended}
    assert len(lost) == 1 and lost.pop() > 0
    restarts = [p for p in result.of(PodStarted) if p.at_seconds >= 400.0]
    assert len(restarts) == 4  # the gang came back whole
    assert {p.resuming_from for p in restarts} == {ended[0].progress_gpu_seconds}


def test_predictive_checkpoints_the_whole_gang_before_the_first_members_runway_ends() -> None:
    small = PowerSystem(
        solar_array_w=3000.0,
        bus_power_w=0.0,
        gpu_power_w=GPU_W,
        gpus=2,
        battery_wh=200.0,
        charge_efficiency=1.0,
        discharge_efficiency=1.0,
        depth_of_discharge=0.5,
    )
    # six members fill the three satellites; satellite 0 enters a long shadow at 600 s,
    # where its battery (100 Wh above the floor) carries its 2 GPUs for 180 s more
    spec = gang(6, work_gpu_seconds=1e6)
    illumination = np.ones((3, 120))
    illumination[0, 60:] = 0.0
    engine = engine_for("predictive", 3, [spec], power=small)
    result = run(engine, LinkedSky(illumination))
    evictions = result.of(Eviction)
    assert len(evictions) >= 6
    first = [e for e in evictions if e.at_seconds == evictions[0].at_seconds]
    assert len(first) == 6  # every member at once, not only the two in shadow
    assert {e.sat for e in first} == {0, 1, 2}
    runway_end = 600.0 + 100.0 * 3600.0 / (2 * GPU_W)
    write = spec.checkpoint_write_seconds
    assert evictions[0].at_seconds + write <= runway_end
    assert not [p for p in result.of(PodEnded) if p.reason is EndReason.POWER_LOST]
    drained = [p for p in result.of(PodEnded) if p.reason is EndReason.CHECKPOINTED]
    assert len(drained) >= 4 and engine.counters.lost_gpu_seconds == 0.0


def test_the_job_report_survives_a_restart() -> None:
    engine = engine_for("predictive", 3, [gang(4, work_gpu_seconds=1e5)])
    sky = LinkedSky(np.ones((3, 100)))
    run(engine, sky, 50)
    before = engine.job_stats(0)
    again = engine_for("predictive", 3, [gang(4, work_gpu_seconds=1e5)])
    assert restore_state(again, to_state(engine))
    after = again.job_stats(0)
    assert after.compute_seconds == pytest.approx(before.compute_seconds)
    assert after.exchange_seconds == pytest.approx(before.exchange_seconds)
    assert after.gpu_seconds_used == pytest.approx(before.gpu_seconds_used)
    assert after.satellites == before.satellites
    projected = before.projected_finish_seconds
    assert projected is not None and math.isfinite(projected) and projected > 500.0


def test_a_shadowed_orbit_makes_the_gang_wait_and_counts_it() -> None:
    sky = LinkedSky(np.tile(orbit(40, 20, 3), (3, 1)))
    engine = engine_for("predictive", 3, [gang(4, work_gpu_seconds=1e6)], power=BIG)
    run(engine, sky)
    stats = engine.job_stats(0)
    assert stats.elapsed_seconds == pytest.approx(sky.steps * STEP_SECONDS)
    assert sum(stats.share(a) for a in Activity) == pytest.approx(1.0)
    assert stats.compute_seconds > 0


def test_a_waiting_gang_drains_the_single_pods_on_the_satellites_it_needs() -> None:
    # single pods of 1 GPU hold a GPU on each satellite; the gang of 3 x 2 GPUs needs all
    # three satellites whole: it keeps them, drains the single pods (with a checkpoint)
    # and starts once they are gone, while no new single pod takes their place
    single = JobSpec(
        "rollouts",
        gpus_per_pod=1,
        work_gpu_seconds=1e6,
        parallelism=3,
        completions=30,
        ignores_disruptions=True,
        managed=True,
    )
    engine = engine_for("predictive", 3, [single])
    sky = LinkedSky(np.ones((3, 30)))
    run(engine, sky, 2)
    assert (engine.busy_gpus() >= 1).sum() >= 2  # the single pods spread or pack
    engine.add_job(gang(3, gpus=2))
    result = run(engine, sky)
    evicted = result.of(Eviction)
    assert evicted and {e.reason.value for e in evicted} == {"gang"}
    assert {e.job for e in evicted} == {0}
    placed = result.of(GangPlaced)
    assert len(placed) == 1 and sorted(placed[0].satellites) == [0, 1, 2]
    # the drained single pods kept their work (checkpointed), and none restarted on the
    # gang's satellites while it waited
    drained = [p for p in result.of(PodEnded) if p.job == 0]
    assert drained and all(p.reason is EndReason.CHECKPOINTED for p in drained)
    restarted = [p for p in result.of(PodStarted) if p.job == 0]
    assert all(p.at_seconds > placed[0].at_seconds for p in restarted)


class RadiationSky(LinkedSky):
    """LinkedSky whose satellites cross a high-flux region during [start, end) steps."""

    def __init__(self, illumination: Any, start: int, end: int) -> None:
        super().__init__(illumination)
        self.start, self.end = start, end

    def column(self, step: int) -> Column:
        base = super().column(step)
        flux = np.full(self.n, 1e3 if self.start <= step < self.end else 0.0)
        return Column(**{**base.__dict__, "flux": flux})


def test_predictive_checkpoints_a_gang_at_youngs_interval_of_its_upset_risk() -> None:
    spec = gang(3, work_gpu_seconds=1e6, checkpoint_interval_seconds=1e5)
    model = UpsetModel()
    # in the region (1000 p/cm^2/s) three GPUs lose a member at this rate; Young's
    # interval sqrt(2 x write / rate) is about three minutes; outside, days
    rate = float(np.sum(model.rate_per_second(np.full(3, 1e3), np.ones(3))))
    rate *= model.sefi_fraction + model.latchup_fraction
    young = math.sqrt(2 * spec.checkpoint_write_seconds / rate)
    assert 150.0 < young < 250.0
    checkpoints: dict[str, list[float]] = {}
    for policy in ("reactive", "predictive"):
        engine = engine_for(policy, 3, [spec], upsets=model)
        sky = RadiationSky(np.ones((3, 100)), 30, 60)
        saved = []
        for k in range(sky.steps):
            before = float(engine.unit_checkpoint[0])
            engine.step(sky.column(k), sky.upsets(k, k + 1))
            engine.take_decisions()
            if engine.unit_checkpoint[0] > before:
                saved.append(k * STEP_SECONDS)
        checkpoints[policy] = saved
    # the periodic interval (1e5 s) never comes: only the region's risk makes checkpoints
    assert checkpoints["reactive"] == []
    saved = checkpoints["predictive"]
    assert len(saved) >= 2
    assert all(300.0 <= t < 610.0 for t in saved)
    assert np.diff(saved).min() >= young
