"""The fleet engine on hand-made orbits whose right answer is known.

Every test drives `FleetEngine` directly through `HandMadeSky`: the columns of an (N, T)
illumination array (shadow timing from `shadow_timing`, no ground link, no proton flux) and,
at step k, the upsets of [k x 10 s, (k + 1) x 10 s). Jobs are `managed=True` (kubesat's Job
controller: no backoff after drains and ignored disruptions) unless a test is about the
built-in controller's backoff.

Times in decisions are the start of the step in which the engine decided: a pod whose work
or last checkpoint write ends during step k is stamped k x 10 s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from kubesat.core.conditions import shadow_timing
from kubesat.core.power import PowerSystem
from kubesat.core.upsets import UpsetEvents, UpsetKind
from kubesat.core.workloads import DisruptionBudget, JobSpec
from kubesat.engine.config import EngineConfig, JobController
from kubesat.engine.durable import restore_state, to_state
from kubesat.engine.environment import Column
from kubesat.engine.events import (
    Decision,
    EndReason,
    Eviction,
    EvictionReason,
    EvictionRefused,
    JobFinished,
    Notice,
    NoticeKind,
    PodEnded,
    PodStarted,
)
from kubesat.engine.fleet import FleetEngine
from kubesat.engine.slot_state import SlotState

STEP_SECONDS = 10.0
START = datetime(2026, 1, 1, tzinfo=UTC)

# A battery that carries one GPU 621.8 s into a shadow: 200 Wh above its floor (50% of
# 400 Wh) delivered at 95% to 1100 W. The array (2000 W) carries the GPU in sunlight.
SMALL = PowerSystem(
    solar_array_w=2000.0,
    bus_power_w=0.0,
    gpu_power_w=1100.0,
    gpus=1,
    battery_wh=400.0,
    charge_efficiency=1.0,
    discharge_efficiency=0.95,
    depth_of_discharge=0.5,
)
SMALL_RUNWAY_SECONDS = 200.0 * 0.95 * 3600.0 / 1100.0  # 621.8 s


class HandMadeSky:
    """An `EnvironmentSource` over an (N, T) illumination array and a set of upsets."""

    def __init__(self, illumination: Any, upsets: UpsetEvents | None = None) -> None:
        self.illumination = np.atleast_2d(np.asarray(illumination, dtype=np.float64))
        self.n, self.steps = self.illumination.shape
        to_shadow, shadow = shadow_timing(self.illumination < 1.0, STEP_SECONDS)
        self.seconds_to_shadow = to_shadow.astype(np.float64)
        self.shadow_seconds = shadow.astype(np.float64)
        self.events = UpsetEvents.empty() if upsets is None else upsets

    def column(self, step: int) -> Column:
        n = self.n
        return Column(
            step=step,
            illumination=self.illumination[:, step].copy(),
            link=np.zeros(n, np.bool_),
            flux=np.zeros(n),
            latitude_deg=np.zeros(n),
            longitude_deg=np.zeros(n),
            altitude_km=np.full(n, 550.0),
            seconds_to_shadow=self.seconds_to_shadow[:, step].copy(),
            shadow_seconds=self.shadow_seconds[:, step].copy(),
            seconds_to_contact=np.full(n, np.inf),
        )

    def upsets(self, step_from: int, step_to: int) -> UpsetEvents:
        t = self.events.time_seconds
        return self.events.select((t >= step_from * STEP_SECONDS) & (t < step_to * STEP_SECONDS))


@dataclass
class Run:
    """What a run of steps did: traces sampled after each step, and every decision."""

    busy_gpus: NDArray[np.int64]  # (N, steps)
    soc_wh: NDArray[np.float64]  # (N, steps)
    decisions: list[Decision]

    def of(self, kind: type) -> list[Any]:
        return [d for d in self.decisions if isinstance(d, kind)]


def run(engine: FleetEngine, sky: HandMadeSky, steps: int | None = None) -> Run:
    """Step `engine` on from its current step, `steps` more (default: to the sky's end)."""
    steps = sky.steps - engine.k if steps is None else steps
    busy, soc, decisions = [], [], []
    for _ in range(steps):
        k = engine.k
        engine.step(sky.column(k), sky.upsets(k, k + 1))
        decisions.extend(engine.take_decisions())
        busy.append(engine.busy_gpus())
        soc.append(engine.soc.copy())
    return Run(np.array(busy).T, np.array(soc).T, decisions)


def make_engine(
    policy: str,
    power: PowerSystem,
    jobs: list[JobSpec],
    satellites: int = 1,
    budgets: tuple[DisruptionBudget, ...] = (),
    **config: Any,
) -> FleetEngine:
    engine = FleetEngine(
        EngineConfig(power, policy, STEP_SECONDS, **config),
        tuple(f"sat-{i}" for i in range(satellites)),
    )
    for job in jobs:
        engine.add_job(job)
    engine.set_budgets(budgets)
    return engine


def orbit(sun_steps: int, shadow_steps: int, orbits: int) -> NDArray[np.float64]:
    return np.tile(np.r_[np.ones(sun_steps), np.zeros(shadow_steps)], orbits)


def endless(name: str = "train", **kw: Any) -> JobSpec:
    """A job that never finishes, disruptions ignored, run by kubesat's controller."""
    spec: dict[str, Any] = {
        "gpus_per_pod": 1,
        "work_gpu_seconds": 1e9,
        "ignores_disruptions": True,
        "managed": True,
    }
    return JobSpec(name, **{**spec, **kw})


# -- whole runs (ported from the simulator's old cluster model) ---------------------------


def test_job_in_constant_sun_completes_in_work_plus_checkpoint_writes() -> None:
    power = PowerSystem(5000.0, 100.0, 700.0, 2, 1000.0)
    job = JobSpec(
        "train",
        gpus_per_pod=2,
        work_gpu_seconds=7200.0,
        checkpoint_interval_seconds=1200.0,
        checkpoint_write_seconds=30.0,
        managed=True,
    )
    engine = make_engine("predictive", power, [job])
    result = run(engine, HandMadeSky(np.ones((1, 600))))
    # 3600 s of running at 2 GPUs plus checkpoints after 1200 s and 2400 s of running
    # (2 x 30 s): both GPUs busy for 3660 s, steps 0 to 365. The pod ends during step 365
    # (stamped 3650 s), so the trace sampled after each step shows it up to step 364.
    assert result.busy_gpus[0, :365].min() == 2
    assert result.busy_gpus[0, 365:].max() == 0
    (ended,) = result.of(PodEnded)
    assert ended.reason is EndReason.COMPLETED
    assert (ended.progress_gpu_seconds, ended.lost_gpu_seconds) == (7200.0, 0.0)
    assert ended.at_seconds == 3650.0
    assert result.of(JobFinished) == [JobFinished(0, True, 3650.0)]
    assert engine.useful_gpu_seconds() == 7200.0
    assert engine.counters.jobs_completed == 1
    assert engine.counters.lost_gpu_seconds == 0.0
    assert engine.counters.evictions == {}


def test_none_loses_work_at_power_loss_and_predictive_checkpoints_in_time() -> None:
    # 60 min of sun, 30 min of shadow (from 3600, 9000 and 14400 s): the battery carries
    # the GPU 621.8 s of those 30 min
    sky = HandMadeSky(orbit(360, 180, 3))
    job = endless(checkpoint_interval_seconds=1800.0, checkpoint_write_seconds=20.0)
    engines = {p: make_engine(p, SMALL, [job]) for p in ("none", "reactive", "predictive")}
    runs = {policy: run(engine, sky) for policy, engine in engines.items()}
    shadows = [3600.0, 9000.0, 14400.0]

    none = engines["none"].counters
    assert none.failures == {"power": 3}
    # the battery runs out during the step 620 s into each shadow: the GPU is shed then
    lost = [e for e in runs["none"].of(PodEnded) if e.reason is EndReason.POWER_LOST]
    assert [e.at_seconds for e in lost] == [s + 620.0 for s in shadows]
    # work since the last checkpoint (written by 3640, 9400 and 14800 s) is lost
    assert [e.lost_gpu_seconds for e in lost] == [580.0, 220.0, 220.0]
    assert none.lost_gpu_seconds == 1020.0

    reactive = runs["reactive"].of(Eviction)
    assert [(e.at_seconds, e.reason) for e in reactive] == [
        (s, EvictionReason.ECLIPSE) for s in shadows
    ]
    # predictive drains at the first step whose runway (621.8 s less the time spent in
    # the shadow) is below the drain lead: 20 s write + 60 s margin + one 10 s step
    predictive = runs["predictive"].of(Eviction)
    assert [(e.at_seconds, e.reason) for e in predictive] == [
        (s + 540.0, EvictionReason.RUNWAY) for s in shadows
    ]
    assert predictive[0].runway_seconds == pytest.approx(SMALL_RUNWAY_SECONDS - 540.0)
    for policy in ("reactive", "predictive"):
        assert engines[policy].counters.failures == {}
        assert engines[policy].counters.lost_gpu_seconds == 0.0
    # predictive spends most of the battery's 621.8 GPU-seconds per shadow on work;
    # reactive stops at the shadow's edge
    gain = engines["predictive"].useful_gpu_seconds() - engines["reactive"].useful_gpu_seconds()
    assert 500.0 < gain / 3 < SMALL_RUNWAY_SECONDS


def test_predictive_moves_a_pod_to_a_sunlit_satellite_and_resumes_from_checkpoint() -> None:
    # satellite 0: sun for 30 min, then shadow; satellite 1: shadow for 15 min, then sun.
    # At the start satellite 0 has the longer runway (1800 s of sun, then 621.8 s).
    light = np.stack([np.r_[np.ones(180), np.zeros(180)], np.r_[np.zeros(90), np.ones(270)]])
    job = endless(checkpoint_interval_seconds=600.0, checkpoint_write_seconds=20.0)
    engine = make_engine("predictive", SMALL, [job], satellites=2)
    result = run(engine, HandMadeSky(light))
    assert result.busy_gpus[:, 0].tolist() == [1, 0]  # started on satellite 0
    (eviction,) = result.of(Eviction)
    assert (eviction.sat, eviction.reason, eviction.at_seconds) == (
        0,
        EvictionReason.RUNWAY,
        1800.0 + 540.0,
    )
    # it ran 2340 s, less three 20 s checkpoints (after 600, 1200, 1800 s of running)
    (ended,) = result.of(PodEnded)
    assert (ended.reason, ended.progress_gpu_seconds, ended.lost_gpu_seconds) == (
        EndReason.CHECKPOINTED,
        2280.0,
        0.0,
    )
    # the replacement starts on satellite 1 the next step, from that checkpoint
    replacement = result.of(PodStarted)[1]
    assert (replacement.sat, replacement.resuming_from, replacement.at_seconds) == (
        1,
        2280.0,
        2360.0,
    )
    assert result.busy_gpus[:, -1].tolist() == [0, 1]
    assert engine.counters.lost_gpu_seconds == 0.0
    # satellite 1 adds 1240 s less the 20 s restore and one 20 s checkpoint
    assert engine.useful_gpu_seconds() == 2280.0 + 1200.0


def test_pdb_refuses_an_eviction_that_would_violate_min_available() -> None:
    light = np.repeat(orbit(360, 180, 2)[None, :], 2, axis=0)
    job = endless(parallelism=2, completions=2, labels={"app": "train"})
    budget = DisruptionBudget("train-pdb", {"app": "train"}, min_available=2)
    engine = make_engine("predictive", SMALL, [job], satellites=2, budgets=(budget,))
    result = run(engine, HandMadeSky(light))
    assert result.of(Eviction) == []
    assert engine.counters.evictions == {}
    # the drain starts when the runway drops below 100 s (30 s write + 60 s margin + a
    # step), 530 s into the shadow, and is refused every step until the power runs out
    # (the drain comes before the power balance in a step: 4220 s is refused too)
    refused = [r for r in result.of(EvictionRefused) if r.at_seconds < 5400.0]
    assert refused[:2] == [
        EvictionRefused(0, 0, 0, "train-pdb", 4130.0),
        EvictionRefused(1, 0, 1, "train-pdb", 4130.0),
    ]
    assert sorted({r.at_seconds for r in refused}) == [4130.0 + 10.0 * i for i in range(10)]
    assert len(refused) == 20
    assert engine.counters.refused_evictions == len(result.of(EvictionRefused))
    # the budget kept them there: both die when the power runs out
    lost = [(e.pod, e.at_seconds) for e in result.of(PodEnded)][:2]
    assert lost == [(0, 4220.0), (1, 4220.0)]
    assert engine.counters.failures["power"] == 4  # both pods, both shadows


SEFI_THEN_LATCHUP = UpsetEvents(
    satellite=np.array([0, 0]),
    time_seconds=np.array([1005.0, 2005.0]),
    kind=np.array([UpsetKind.SEFI, UpsetKind.LATCHUP], np.int8),
    gpu=np.array([2, 0]),
)
FOUR_GPUS = PowerSystem(20000.0, 100.0, 700.0, 4, 1000.0)


def four_pods() -> JobSpec:
    return endless(
        parallelism=4,
        completions=4,
        checkpoint_interval_seconds=600.0,
        checkpoint_write_seconds=10.0,
    )


def test_sefi_kills_the_pod_on_the_hit_gpu_and_latchup_takes_the_node_down() -> None:
    engine = make_engine("predictive", FOUR_GPUS, [four_pods()])
    result = run(engine, HandMadeSky(np.ones((1, 400)), SEFI_THEN_LATCHUP))
    assert engine.counters.failures == {"sefi": 1, "latchup": 4}
    assert engine.counters.upsets == {"sefi": 1, "latchup": 1}
    sefi = [e for e in result.of(PodEnded) if e.reason is EndReason.SEFI]
    assert [(e.pod, e.gpu, e.at_seconds) for e in sefi] == [(2, 2, 1000.0)]
    busy = result.busy_gpus[0]
    # GPU 2 resets for 60 s from the step of the SEFI (1000 s): back at step 106
    assert busy[100:106].tolist() == [3] * 6
    assert busy[106] == 4
    # down for 600 s from the step of the latch-up (2000 s): back at step 260
    assert busy[200:260].max() == 0
    assert busy[260] == 4
    # predictive does not evict the pods a SEFI spared
    assert result.of(Eviction) == []


def test_reactive_evicts_the_pods_a_sefi_spared() -> None:
    engine = make_engine("reactive", FOUR_GPUS, [four_pods()])
    result = run(engine, HandMadeSky(np.ones((1, 150)), SEFI_THEN_LATCHUP))
    evictions = result.of(Eviction)
    assert [(e.pod, e.reason, e.at_seconds) for e in evictions] == [
        (pod, EvictionReason.UPSET, 1000.0) for pod in (0, 1, 3)
    ]
    assert engine.counters.evictions == {"upset": 3}
    # nothing placed while the satellite recovers (tainted), then all four again
    assert result.busy_gpus[0, 100:106].max() == 0
    assert result.busy_gpus[0, 106] == 4


def test_same_inputs_same_outcome() -> None:
    light = np.repeat(orbit(300, 200, 3)[None, :], 3, axis=0)
    job = JobSpec("train", gpus_per_pod=1, work_gpu_seconds=5000.0, parallelism=3, completions=20)
    runs, useful = [], []
    for _ in range(2):
        engine = make_engine("predictive", SMALL, [job], satellites=3)
        runs.append(run(engine, HandMadeSky(light)))
        useful.append(engine.useful_gpu_seconds())
    assert len(runs[0].decisions) > 20
    assert runs[0].decisions == runs[1].decisions
    assert np.array_equal(runs[0].busy_gpus, runs[1].busy_gpus)
    assert useful[0] == useful[1]


# -- Job controllers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("managed", "speedup", "idle_seconds"),
    [
        # kubesat's controller creates the replacement the step after the drain ends
        (True, 60.0, 10.0),
        # the built-in one waits 10 s of wall time after a failed (evicted) pod,
        # kubernetes#130881: 10 s x 60 simulated seconds per wall second
        (False, 60.0, 600.0),
        (False, 6.0, 60.0),
    ],
    ids=["kubesat", "builtin-x60", "builtin-x6"],
)
def test_builtin_controller_backs_off_in_wall_time_after_a_drain(
    managed: bool, speedup: float, idle_seconds: float
) -> None:
    # the move of the previous test: drained on satellite 0 at 2340 s, the checkpoint
    # written by 2360 s, satellite 1 in sunlight and free the whole time
    light = np.stack([np.r_[np.ones(180), np.zeros(180)], np.r_[np.zeros(90), np.ones(270)]])
    job = endless(checkpoint_interval_seconds=600.0, checkpoint_write_seconds=20.0, managed=managed)
    engine = make_engine("predictive", SMALL, [job], satellites=2, speedup=speedup)
    expected = JobController.KUBESAT if managed else JobController.BUILTIN
    assert engine.job_controller == [expected]
    result = run(engine, HandMadeSky(light))
    (ended,) = result.of(PodEnded)
    assert (ended.reason, ended.at_seconds) == (EndReason.CHECKPOINTED, 2350.0)
    replacement = result.of(PodStarted)[1]
    assert replacement.sat == 1
    assert replacement.at_seconds - ended.at_seconds == idle_seconds
    # every GPU of the fleet idle meanwhile (the trace is sampled after each step)
    idle = result.busy_gpus.sum(axis=0) == 0
    assert idle.sum() * STEP_SECONDS == idle_seconds


# -- _power_step ---------------------------------------------------------------------------

# bus 100 W, GPUs 700 W each, array 1000 W; 90% charge and 80% discharge efficiency
LOSSY = PowerSystem(1000.0, 100.0, 700.0, 2, 1000.0, 0.9, 0.8, 0.8)


@pytest.mark.parametrize(
    ("illumination", "busy", "change_wh"),
    [
        # shadow, 2 GPUs: (100 + 1400 W) drawn at 80% for 10 s
        (0.0, 2, -1500.0 / 0.8 * 10.0 / 3600.0),
        # sunlight short of the load: the 500 W deficit drawn at 80%
        (1.0, 2, -(1500.0 - 1000.0) / 0.8 * 10.0 / 3600.0),
        # half the disc: 500 W of sunlight, 1000 W deficit
        (0.5, 2, -(1500.0 - 500.0) / 0.8 * 10.0 / 3600.0),
        # sunlight, idle GPUs: the 900 W surplus stored at 90%
        (1.0, 0, (1000.0 - 100.0) * 0.9 * 10.0 / 3600.0),
    ],
)
def test_power_step_moves_the_battery_by_the_net_power_through_its_efficiency(
    illumination: float, busy: int, change_wh: float
) -> None:
    jobs = [JobSpec("train", gpus_per_pod=2, work_gpu_seconds=1e9, managed=True)] if busy else []
    engine = make_engine("none", LOSSY, jobs, initial_state_of_charge=0.5)
    result = run(engine, HandMadeSky(np.full((1, 3), illumination)))
    assert result.busy_gpus[0].tolist() == [busy] * 3
    expected = 500.0 + change_wh * np.arange(1, 4)
    np.testing.assert_allclose(result.soc_wh[0], expected, rtol=0, atol=1e-9)
    assert engine.load_w[0] == 100.0 + 700.0 * busy


def test_power_loss_kills_the_pods_and_the_payload_restarts_after_recovery_and_boot() -> None:
    # array 540 W = bus 36 W + GPU 504 W: in full sun the battery neither charges nor drains;
    # 100 Wh battery, floor 50 Wh, starting 1 Wh above it; no conversion losses
    power = PowerSystem(540.0, 36.0, 504.0, 1, 100.0, 1.0, 1.0, 0.5)
    light = np.r_[np.ones(3), 0.0, np.ones(60)]
    job = endless(checkpoint_interval_seconds=1800.0)
    engine = make_engine("none", power, [job], initial_state_of_charge=0.51)
    result = run(engine, HandMadeSky(light), steps=7)
    # step 3 is dark: the GPU wants 1.5 Wh and 1 Wh is left above the floor, so it is shed
    # at the start of the step and only the bus draws (0.1 Wh); 30 s of work is lost
    (ended,) = result.of(PodEnded)
    assert (ended.reason, ended.at_seconds, ended.lost_gpu_seconds) == (
        EndReason.POWER_LOST,
        30.0,
        30.0,
    )
    assert Notice(NoticeKind.POWER_LOST, 0, 30.0, pods=(0,), lost_gpu_seconds=30.0) in (
        result.decisions
    )
    assert engine.counters.failures == {"power": 1}
    # back in sunlight the bus alone leaves 504 W to store: 1.4 Wh a step. The payload
    # restarts once the battery is 5% of its capacity (5 Wh) above the floor: 55 Wh.
    np.testing.assert_allclose(
        result.soc_wh[0], [51.0, 51.0, 51.0, 50.9, 52.3, 53.7, 55.1], rtol=0, atol=1e-9
    )
    # 55 Wh is reached during step 6 (60-70 s): restored at 70 s, then a 300 s boot
    assert result.of(Notice)[-1] == Notice(NoticeKind.POWER_RESTORED, 0, 70.0)
    assert engine.down_until[0] == 60.0 + 10.0 + 300.0
    assert engine.powered[0]
    assert not engine.ready[0]
    rest = run(engine, HandMadeSky(light))
    (restarted,) = rest.of(PodStarted)
    assert restarted.at_seconds == 370.0
    assert rest.busy_gpus[0, : 37 - 7].max() == 0


def test_payload_stays_off_until_the_battery_recovers() -> None:
    power = PowerSystem(540.0, 36.0, 504.0, 1, 100.0, 1.0, 1.0, 0.5)
    light = np.r_[np.ones(3), 0.0, np.ones(60)]
    engine = make_engine("none", power, [endless()], initial_state_of_charge=0.51)
    sky = HandMadeSky(light)
    powered, ready = [], []
    for _ in range(7):
        run(engine, sky, steps=1)
        powered.append(bool(engine.powered[0]))
        ready.append(bool(engine.ready[0]))
    # off (charging) after the loss at step 3 until 55 Wh at the end of step 6
    assert powered == [True, True, True, False, False, False, True]
    assert ready == [True, True, True, False, False, False, False]


# -- _progress_step ------------------------------------------------------------------------

BIG = PowerSystem(10000.0, 100.0, 700.0, 4, 1000.0)


def test_a_pod_writes_a_checkpoint_every_interval_without_progress() -> None:
    job = endless(checkpoint_interval_seconds=100.0, checkpoint_write_seconds=30.0)
    engine = make_engine("predictive", BIG, [job])
    sky = HandMadeSky(np.ones((1, 100)))
    progress, checkpoint, state = [], [], []
    for _ in range(14):
        run(engine, sky, steps=1)
        progress.append(float(engine.unit_progress[0]))
        checkpoint.append(float(engine.unit_checkpoint[0]))
        state.append(engine.pod_state(0))
    # 100 s of running (steps 0-9), a 30 s write (steps 10-12), running again
    assert progress == [10.0 * (k + 1) for k in range(10)] + [100.0] * 3 + [110.0]
    assert checkpoint == [0.0] * 12 + [100.0] * 2
    assert state[9:14] == [SlotState.WRITING] * 3 + [SlotState.RUNNING] * 2


def test_a_replacement_restores_the_checkpoint_before_it_progresses() -> None:
    job = endless(checkpoint_interval_seconds=100.0, checkpoint_write_seconds=30.0)
    engine = make_engine("none", BIG, [job])
    sky = HandMadeSky(np.ones((1, 100)))
    run(engine, sky, steps=15)  # checkpoint 100 after step 12, progress 120 after step 14
    engine.drop(0)
    (ended,) = engine.take_decisions()
    assert isinstance(ended, PodEnded)
    assert (ended.reason, ended.progress_gpu_seconds, ended.lost_gpu_seconds) == (
        EndReason.DELETED,
        100.0,
        20.0,
    )
    # kubesat's controller backs off 10 s (simulated) after a pod that failed: the
    # replacement starts at 160 s and reads the checkpoint for 30 s (steps 16-18)
    progress, starts = [], []
    for _ in range(5):
        starts += run(engine, sky, steps=1).of(PodStarted)
        progress.append(float(engine.unit_progress[0]))
    (started,) = starts
    assert (started.at_seconds, started.resuming_from, started.attempt) == (160.0, 100.0, 1)
    assert progress == [100.0, 100.0, 100.0, 100.0, 110.0]


def test_the_job_finishes_when_its_last_unit_completes() -> None:
    job = JobSpec("sweep", 1, 100.0, parallelism=2, completions=3, managed=True)
    engine = make_engine("none", BIG, [job])
    result = run(engine, HandMadeSky(np.ones((1, 40))))
    completed = [(e.unit, e.at_seconds) for e in result.of(PodEnded)]
    # 100 GPU-seconds at one GPU: 10 steps; the third unit starts when one is done
    assert completed == [(0, 90.0), (1, 90.0), (2, 190.0)]
    assert all(e.reason is EndReason.COMPLETED for e in result.of(PodEnded))
    assert result.of(JobFinished) == [JobFinished(0, True, 190.0)]
    assert engine.counters.jobs_completed == 1
    assert engine.useful_gpu_seconds() == 300.0
    assert engine.pending_pods() == 0


# -- _drain_step ---------------------------------------------------------------------------


# the half-lit step of `test_drain_timing_by_policy` draws 100 W from the battery instead
# of 1100 W: 1000 W x 10 s more in store, 9.1 s more of runway at 1100 W
PENUMBRA_RUNWAY_SECONDS = 1000.0 * 10.0 / 1100.0


@pytest.mark.parametrize(
    ("policy", "evicted_at", "reason", "runway_seconds"),
    [
        # reactive drains at the first step short of full sun, penumbra included, with
        # the whole battery still ahead
        ("reactive", 100.0, EvictionReason.ECLIPSE, SMALL_RUNWAY_SECONDS),
        # predictive waits until the runway is below its 90 s lead (20 s write, 60 s
        # margin, one step): 550 s into the shadow
        (
            "predictive",
            650.0,
            EvictionReason.RUNWAY,
            SMALL_RUNWAY_SECONDS + PENUMBRA_RUNWAY_SECONDS - 550.0,
        ),
    ],
)
def test_drain_timing_by_policy(
    policy: str, evicted_at: float, reason: EvictionReason, runway_seconds: float
) -> None:
    light = np.r_[np.ones(10), 0.5, np.zeros(200)]
    job = endless(checkpoint_interval_seconds=1e6, checkpoint_write_seconds=20.0)
    engine = make_engine(policy, SMALL, [job])
    result = run(engine, HandMadeSky(light), steps=100)
    (eviction,) = result.of(Eviction)
    assert (eviction.reason, eviction.at_seconds, eviction.write_seconds) == (
        reason,
        evicted_at,
        20.0,
    )
    assert eviction.runway_seconds == pytest.approx(runway_seconds, abs=1e-6)
    # the write takes two steps, then the pod stops with its work saved
    (ended,) = result.of(PodEnded)
    assert (ended.reason, ended.at_seconds, ended.lost_gpu_seconds) == (
        EndReason.CHECKPOINTED,
        evicted_at + 10.0,
        0.0,
    )
    assert engine.counters.evictions == {reason.value: 1}
    assert engine.counters.failures == {}


# -- _place_step ---------------------------------------------------------------------------


def place_one(policy: str, above_floor_wh: list[float]) -> FleetEngine:
    """Satellites in a long shadow, batteries `above_floor_wh` above their floor, one pod
    of a job whose next checkpoint needs a 400 s runway (20 s restore + 20 s write + 60 s
    margin + 300 s of work)."""
    job = endless(checkpoint_interval_seconds=600.0, checkpoint_write_seconds=20.0)
    engine = make_engine(policy, SMALL, [job], satellites=len(above_floor_wh))
    assert engine.required_runway(0) == 400.0
    engine.soc[:] = 200.0 + np.array(above_floor_wh)
    engine.step(HandMadeSky(np.zeros((len(above_floor_wh), 100))).column(0), UpsetEvents.empty())
    return engine


def test_predictive_refuses_a_satellite_whose_runway_is_too_short() -> None:
    # 128 Wh above the floor carries the GPU 128 x 0.95 x 3600 / 1100 = 398 s; 130 Wh, 404 s
    refused = place_one("predictive", [128.0, 128.0])
    assert [d for d in refused.take_decisions() if isinstance(d, PodStarted)] == []
    assert refused.pending_pods() == 1
    placed = place_one("predictive", [128.0, 130.0])
    (started,) = [d for d in placed.take_decisions() if isinstance(d, PodStarted)]
    assert started.sat == 1
    # without the runway rule the pod goes to the first satellite
    (anywhere,) = place_one("none", [128.0, 128.0]).take_decisions()
    assert isinstance(anywhere, PodStarted)
    assert anywhere.sat == 0


@pytest.mark.parametrize("later", [0, 1])
def test_placement_prefers_the_satellite_with_the_longer_runway(later: int) -> None:
    # both in sunlight with full batteries; `later` enters the shadow 30 min after the other
    light = np.zeros((2, 400))
    light[:, :60] = 1.0
    light[later, :180] = 1.0
    job = endless(checkpoint_interval_seconds=600.0, checkpoint_write_seconds=20.0)
    engine = make_engine("predictive", SMALL, [job], satellites=2)
    result = run(engine, HandMadeSky(light), steps=1)
    (started,) = result.of(PodStarted)
    assert started.sat == later


# -- inputs from a shell: bind, stop, drop, inject_upset -----------------------------------


def external(policy: str = "none", satellites: int = 2, **job: Any) -> FleetEngine:
    """An engine that leaves a built-in Job's pods to Kubernetes (the operator's case):
    three completions of 1 GPU, a checkpoint every 100 s written in 30 s."""
    spec = JobSpec(
        "train",
        gpus_per_pod=1,
        work_gpu_seconds=1e6,
        completions=3,
        parallelism=3,
        checkpoint_interval_seconds=100.0,
        checkpoint_write_seconds=30.0,
        **job,
    )
    power = PowerSystem(10000.0, 100.0, 700.0, 2, 1000.0)
    return make_engine(policy, power, [spec], satellites, places_builtin_pods=False)


def sun(satellites: int = 2) -> HandMadeSky:
    return HandMadeSky(np.ones((satellites, 200)))


def bound(engine: FleetEngine, job: int, sat: int, index: int | None = None) -> int:
    """Bind a 1-GPU pod that must fit; its pod id."""
    pod = engine.bind(job, sat=sat, gpus=1, index=index)
    assert pod is not None
    return pod


def test_the_engine_leaves_builtin_pods_to_kubernetes_when_told() -> None:
    engine = external()
    result = run(engine, sun(), steps=5)
    assert result.of(PodStarted) == []
    assert engine.pending_pods() == 3


def test_bind_claims_the_unit_of_the_given_completion_index() -> None:
    engine = external()
    pod = engine.bind(0, sat=0, gpus=1, index=2)
    assert engine.take_decisions() == [PodStarted(0, 0, 2, 0, 0, 1, 0.0, 0.0)]
    assert pod == 0
    assert engine.bind(0, sat=1, gpus=1, index=2) is None  # that unit is running
    assert engine.bind(0, sat=1, gpus=3) is None  # satellite 1 has 2 GPUs
    assert engine.busy_gpus().tolist() == [1, 0]


def test_stop_drains_with_a_checkpoint_and_bind_resumes_the_most_saved_unit() -> None:
    engine = external()
    pod = bound(engine, 0, sat=0, index=1)
    run(engine, sun(), steps=15)  # checkpoint 100 after step 12, 120 of progress after 14
    engine.stop(pod)
    assert engine.pod_state(pod) is SlotState.DRAINING
    result = run(engine, sun(), steps=3)  # the 30 s write
    (ended,) = result.of(PodEnded)
    assert (ended.reason, ended.progress_gpu_seconds, ended.lost_gpu_seconds) == (
        EndReason.CHECKPOINTED,
        120.0,
        0.0,
    )
    assert ended.at_seconds == 170.0
    assert engine.unit_checkpoint.tolist() == [0.0, 120.0, 0.0]
    # a pod of a NonIndexed Job takes the unfinished unit with the most saved work
    bound(engine, 0, sat=1)
    (started,) = engine.take_decisions()
    assert isinstance(started, PodStarted)
    assert (started.unit, started.attempt, started.resuming_from, started.sat) == (
        1,
        1,
        120.0,
        1,
    )


def test_drop_loses_the_work_since_the_checkpoint() -> None:
    engine = external()
    pod = bound(engine, 0, sat=0, index=0)
    run(engine, sun(), steps=18)  # checkpoint 100 after step 12, 150 of progress after 17
    engine.drop(pod)
    (ended,) = engine.take_decisions()
    assert isinstance(ended, PodEnded)
    assert (ended.reason, ended.progress_gpu_seconds, ended.lost_gpu_seconds) == (
        EndReason.DELETED,
        100.0,
        50.0,
    )
    assert engine.counters.lost_gpu_seconds == 50.0
    assert engine.useful_gpu_seconds() == 100.0
    assert engine.live_pods() == []


def test_inject_upset() -> None:
    engine = external(satellites=1)
    pods = [bound(engine, 0, sat=0) for _ in range(2)]
    engine.take_decisions()
    run(engine, sun(1), steps=3)
    # a SEFI without a GPU named hits the first busy one, GPU 0
    sefi = engine.inject_upset(0, UpsetKind.SEFI)
    assert sefi == Notice(
        NoticeKind.UPSET,
        0,
        30.0,
        upset="sefi",
        gpu=0,
        pods=(pods[0],),
        lost_gpu_seconds=30.0,
        injected=True,
    )
    assert engine.gpu_broken_until[0].tolist() == [90.0, 0.0]  # 60 s reset
    assert engine.free_gpus().tolist() == [0]
    assert engine.bind(0, sat=0, gpus=1) is None  # GPU 0 is resetting
    # a correctable upset is only counted
    corrected = engine.inject_upset(0, UpsetKind.CORRECTABLE, gpu=1)
    assert (corrected.upset, corrected.pods) == ("correctable", ())
    assert engine.live_pods() == [pods[1]]
    # a latch-up power-cycles the satellite: every pod dies, down for 600 s
    latchup = engine.inject_upset(0, UpsetKind.LATCHUP)
    assert (latchup.upset, latchup.pods, latchup.gpu) == ("latchup", (pods[1],), None)
    assert engine.down_until[0] == 630.0
    assert not engine.ready[0]
    assert engine.upsets_by_satellite[0].tolist() == [1, 1, 1]
    assert engine.counters.upsets == {"sefi": 1, "correctable": 1, "latchup": 1}
    assert engine.counters.failures == {"sefi": 1, "latchup": 1}
    assert engine.bind(0, sat=0, gpus=1) is None


# -- drain_lead_seconds --------------------------------------------------------------------


def test_drain_lead_is_the_longest_write_on_the_satellite_plus_margin_and_a_step() -> None:
    short = JobSpec("short", 1, 1e6, checkpoint_write_seconds=20.0, completions=2)
    long = JobSpec("long", 1, 1e6, checkpoint_write_seconds=45.0)
    power = PowerSystem(10000.0, 100.0, 700.0, 2, 1000.0)
    engine = make_engine(
        "predictive", power, [short, long], 3, margin_seconds=30.0, places_builtin_pods=False
    )
    bound(engine, 0, sat=0)
    bound(engine, 1, sat=0)
    bound(engine, 0, sat=1)
    # satellite 0: 45 s + 30 s + 10 s; satellite 1: 20 s + 40 s; satellite 2: no pods
    assert engine.drain_lead_seconds().tolist() == [85.0, 60.0, 40.0]


# -- snapshot ------------------------------------------------------------------------------


def test_snapshot_reports_the_fleet_now() -> None:
    # satellite 0 in sunlight, satellite 1 in shadow; one 1-GPU pod each, a third pending
    power = PowerSystem(1000.0, 100.0, 300.0, 1, 1000.0, 1.0, 1.0, 0.8)
    job = JobSpec("train", 1, 1e6, parallelism=3, completions=3, managed=True)
    engine = make_engine("none", power, [job], satellites=2, initial_state_of_charge=0.5)
    light = np.array([[1.0] * 5 + [0.0] * 5, [0.0] * 10])
    sky = HandMadeSky(light)
    run(engine, sky, steps=1)
    column = sky.column(1)
    when = datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    snap = engine.snapshot(column, when)
    assert (snap.constellation, snap.simulated_time, snap.policy) == (
        "constellation",
        when,
        "none",
    )
    assert snap.satellites == ("sat-0", "sat-1")
    assert snap.gpus_per_satellite == 1
    assert snap.illumination.tolist() == [1.0, 0.0]
    assert snap.solar_power_w.tolist() == [1000.0, 0.0]
    # both carry 400 W: satellite 0 stores its 600 W surplus, satellite 1 draws 400 W
    assert snap.load_power_w.tolist() == [400.0, 400.0]
    np.testing.assert_allclose(
        snap.state_of_charge,
        [(500.0 + 600.0 * 10 / 3600) / 1000.0, (500.0 - 400.0 * 10 / 3600) / 1000.0],
        rtol=0,
        atol=1e-12,
    )
    assert snap.solar_energy_j_total.tolist() == [10000.0, 0.0]
    assert snap.seconds_to_eclipse.tolist() == [40.0, 0.0]
    assert snap.gpus_busy.tolist() == [1, 1]
    assert snap.power_available.tolist() == [True, True]
    assert snap.ready.tolist() == [True, True]
    assert snap.ground_link.tolist() == [False, False]
    assert snap.altitude_km.tolist() == [550.0, 550.0]
    assert snap.upsets_total.tolist() == [[0, 0, 0], [0, 0, 0]]
    assert snap.pods_by_phase == {"Running": 2, "Pending": 1, "Succeeded": 0, "Failed": 0}
    assert snap.completed_gpu_seconds == 20.0
    assert snap.lost_gpu_seconds == 0.0
    assert snap.jobs_completed == 0
    assert snap.evictions_total == {}
    assert snap.pod_failures_total == {}
    assert snap.energy_bound_gpu_seconds == engine.counters.bound_gpu_seconds > 0.0
    # given by the shell, the phases are passed through
    phases = {"Running": 7}
    assert engine.snapshot(column, when, phases).pods_by_phase == phases


# -- durable state -------------------------------------------------------------------------

DURABLE_POWER = PowerSystem(1500.0, 50.0, 300.0, 4, 300.0, 0.95, 0.95, 0.6)
DURABLE_UPSETS = UpsetEvents(
    satellite=np.array([1, 0, 2, 1]),
    time_seconds=np.array([1203.0, 1405.0, 1497.0, 2222.0]),
    kind=np.array(
        [UpsetKind.SEFI, UpsetKind.LATCHUP, UpsetKind.SEFI, UpsetKind.CORRECTABLE], np.int8
    ),
    gpu=np.array([1, 0, 3, 2]),
)


def durable_engine() -> tuple[FleetEngine, HandMadeSky]:
    """Three satellites a third of an orbit apart, a kubesat-managed Job under a budget and
    a built-in one, upsets: pods mid-write, backoff pending, GPUs resetting."""
    light = np.stack([np.roll(orbit(300, 120, 2), shift) for shift in (0, 100, 250)])
    jobs = [
        endless(
            "a",
            gpus_per_pod=2,
            work_gpu_seconds=20000.0,
            parallelism=3,
            completions=6,
            checkpoint_interval_seconds=600.0,
            checkpoint_write_seconds=30.0,
            labels={"app": "a"},
        ),
        JobSpec(
            "b",
            1,
            3000.0,
            checkpoint_interval_seconds=300.0,
            checkpoint_write_seconds=20.0,
            parallelism=4,
            completions=12,
        ),
    ]
    budgets = (DisruptionBudget("a-pdb", {"app": "a"}, min_available=2),)
    engine = make_engine("predictive", DURABLE_POWER, jobs, 3, budgets)
    return engine, HandMadeSky(light, DURABLE_UPSETS)


def restored(original: FleetEngine) -> FleetEngine:
    """A fresh engine with the same Jobs, restored from the original's state as JSON."""
    fresh, _ = durable_engine()
    assert restore_state(fresh, json.loads(json.dumps(to_state(original))))
    return fresh


def test_state_round_trips_through_json() -> None:
    engine, sky = durable_engine()
    run(engine, sky, steps=150)
    state = to_state(engine)
    assert state["pods"], "the state should hold live pods"
    assert to_state(restored(engine)) == json.loads(json.dumps(state))


def test_restored_engine_continues_the_same_timeline() -> None:
    engine, sky = durable_engine()
    run(engine, sky, steps=150)
    twin = restored(engine)
    ahead, again = run(engine, sky, steps=200), run(twin, sky, steps=200)
    assert ahead.of(Eviction), "the timeline should hold a drain to compare"
    assert again.decisions == ahead.decisions
    assert twin.useful_gpu_seconds() == engine.useful_gpu_seconds()


def test_restored_engine_ends_pods_in_the_same_order() -> None:
    engine = external(satellites=1)
    pods = [bound(engine, 0, sat=0) for _ in range(2)]
    engine.drop(pods[0])  # frees the slot the next pod takes
    twin = FleetEngine(engine.config, engine.names)
    twin.add_job(engine.jobs[0])
    assert restore_state(twin, json.loads(json.dumps(to_state(engine))))
    assert engine.bind(0, sat=0, gpus=1) == twin.bind(0, sat=0, gpus=1) == 2
    assert engine.inject_upset(0, UpsetKind.LATCHUP) == twin.inject_upset(0, UpsetKind.LATCHUP)
