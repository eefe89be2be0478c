"""The simulated cluster on hand-made orbits whose right answer is known."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from kubesat.core.conditions import FleetConditions, shadow_timing
from kubesat.core.power import PowerSystem
from kubesat.core.timebase import TimeGrid
from kubesat.core.upsets import UpsetEvents, UpsetKind
from kubesat.core.workloads import DisruptionBudget, JobSpec
from kubesat.sim.engine import Cluster

DT = 10.0
START = datetime(2026, 1, 1, tzinfo=UTC)


def conditions(illumination: np.ndarray) -> FleetConditions:
    """A fleet whose sunlight follows `illumination` (N, T); no link, no radiation."""
    illumination = np.asarray(illumination, dtype=np.float32)
    n, t = illumination.shape
    grid = TimeGrid(START, np.arange(t) * DT)
    to_shadow, length = shadow_timing(illumination < 1.0, DT)
    zeros = np.zeros((n, t), np.float32)
    return FleetConditions(
        grid,
        illumination,
        np.zeros((n, t), bool),
        zeros,
        zeros,
        zeros,
        zeros + 550.0,
        to_shadow,
        length,
    )


def orbit(sun_steps: int, shadow_steps: int, orbits: int) -> np.ndarray:
    return np.tile(np.r_[np.ones(sun_steps), np.zeros(shadow_steps)], orbits)


def cluster(policy, illumination, power, jobs, budgets=(), upsets=None, **kw) -> Cluster:
    return Cluster(
        policy=policy,
        power=power,
        conditions=conditions(illumination),
        jobs=jobs,
        budgets=budgets,
        upsets=upsets or UpsetEvents.empty(),
        initial_soc=1.0,
        sefi_recovery_seconds=60.0,
        latchup_recovery_seconds=600.0,
        saa_threshold=10.0,
        **kw,
    )


# A battery that carries one GPU 600 s into a shadow: 200 Wh above the floor at 95%.
SMALL = PowerSystem(
    solar_array_w=2000.0,
    bus_power_w=0.0,
    gpu_power_w=1140.0,
    gpus=1,
    battery_wh=400.0,
    charge_efficiency=1.0,
    discharge_efficiency=0.95,
    depth_of_discharge=0.5,
)


def test_job_in_constant_sun_completes_in_work_plus_checkpoint_writes():
    power = PowerSystem(5000.0, 100.0, 700.0, 2, 1000.0)
    job = JobSpec(
        "train",
        gpus_per_pod=2,
        work_gpu_seconds=7200.0,
        checkpoint_interval_seconds=1200.0,
        checkpoint_write_seconds=30.0,
    )
    c = cluster("predictive", np.ones((1, 600)), power, [job])
    outcome = c.run(600)
    # 3600 s of running at 2 GPUs, checkpoints after 1200 s and 2400 s of running (2 x 30 s);
    # the pod finishes at step 366 (3660 s): done well inside the 6000 s span
    assert outcome.jobs_completed == 1
    assert outcome.completed_gpu_seconds == pytest.approx(7200.0)
    assert outcome.lost_gpu_seconds == 0.0
    assert not outcome.evictions


def test_none_loses_work_at_power_loss_and_predictive_checkpoints_in_time():
    # 60 min of sun, 30 min of shadow: the battery carries the GPU only 10 of those 30 min
    light = orbit(360, 180, 3)[None, :]
    job = JobSpec(
        "train",
        gpus_per_pod=1,
        work_gpu_seconds=1e9,
        checkpoint_interval_seconds=1800.0,
        checkpoint_write_seconds=20.0,
        ignores_disruptions=True,
    )
    steps = light.shape[1]
    none = cluster("none", light, SMALL, [job]).run(steps)
    reactive = cluster("reactive", light, SMALL, [job]).run(steps)
    predictive = cluster("predictive", light, SMALL, [job]).run(steps)
    assert none.pod_failures.get("power", 0) == 3  # once per shadow
    assert none.lost_gpu_seconds > 0
    assert predictive.pod_failures == {}
    assert predictive.lost_gpu_seconds == 0.0
    assert predictive.evictions == {"runway": 3}
    assert reactive.evictions == {"eclipse": 3}
    # predictive runs on the battery until just before the runway ends; reactive stops
    # at the shadow's edge: predictive gets ~8 more minutes of work per orbit
    gain = (predictive.completed_gpu_seconds - reactive.completed_gpu_seconds) / 3
    assert 300.0 < gain < 600.0
    assert predictive.completed_gpu_seconds > reactive.completed_gpu_seconds


def test_predictive_moves_a_pod_to_a_sunlit_satellite_and_resumes_from_checkpoint():
    # satellite 0: sun for 30 min, then shadow; satellite 1: shadow for 15 min, then sun.
    # At the start only satellite 0 has the runway for a checkpoint interval.
    light = np.stack([np.r_[np.ones(180), np.zeros(180)], np.r_[np.zeros(90), np.ones(270)]])
    job = JobSpec(
        "train",
        gpus_per_pod=1,
        work_gpu_seconds=1e9,
        checkpoint_interval_seconds=600.0,
        checkpoint_write_seconds=20.0,
        ignores_disruptions=True,
    )
    c = cluster("predictive", light, SMALL, [job])
    outcome = c.run(360)
    busy = outcome.timeline["busy_gpus"]
    assert busy[0, 0] == 1 and busy[1, 0] == 0  # started on satellite 0
    assert outcome.evictions == {"runway": 1}
    assert outcome.lost_gpu_seconds == 0.0
    assert busy[1, -1] == 1 and busy[0, -1] == 0  # the replacement runs on satellite 1
    # it resumed from the checkpoint written at eviction, not from zero: all the work
    # done is kept (useful = GPU-seconds run minus checkpoint writes and the restore)
    running_seconds = float(busy.sum()) * 10.0
    assert c.useful_gpu_seconds() > running_seconds - 10 * 20.0


def test_pdb_refuses_an_eviction_that_would_violate_min_available():
    light = orbit(360, 180, 2)[None, :].repeat(2, axis=0)
    power = PowerSystem(2000.0, 0.0, 1140.0, 1, 400.0, 1.0, 0.95, 0.5)
    job = JobSpec(
        "train",
        gpus_per_pod=1,
        work_gpu_seconds=1e9,
        parallelism=2,
        completions=2,
        ignores_disruptions=True,
        labels={"app": "train"},
    )
    budget = DisruptionBudget("train-pdb", {"app": "train"}, min_available=2)
    outcome = cluster("predictive", light, power, [job], budgets=[budget]).run(light.shape[1])
    assert outcome.evictions.get("runway", 0) == 0
    assert outcome.evictions.get("refused-by-pdb", 0) > 0
    assert outcome.pod_failures.get("power", 0) > 0  # the budget kept them there


def test_sefi_kills_the_pod_on_the_hit_gpu_and_latchup_takes_the_node_down():
    power = PowerSystem(20000.0, 100.0, 700.0, 4, 1000.0)
    job = JobSpec(
        "train",
        gpus_per_pod=1,
        work_gpu_seconds=1e9,
        parallelism=4,
        completions=4,
        checkpoint_interval_seconds=600.0,
        checkpoint_write_seconds=10.0,
        ignores_disruptions=True,
    )
    upsets = UpsetEvents(
        satellite=np.array([0, 0]),
        time_seconds=np.array([1005.0, 2005.0]),
        kind=np.array([UpsetKind.SEFI, UpsetKind.LATCHUP], np.int8),
        gpu=np.array([2, 0]),
    )
    c = cluster("predictive", np.ones((1, 400)), power, [job], upsets=upsets)
    outcome = c.run(400)
    assert outcome.pod_failures == {"sefi": 1, "latchup": 4}
    assert outcome.upsets == {"sefi": 1, "latchup": 1}
    busy = outcome.timeline["busy_gpus"][0]
    # down for 600 s after the latch-up at 2005 s: no GPU busy from step 201 to 260
    assert busy[202:260].max() == 0
    assert busy[-1] == 4


def test_same_inputs_same_outcome():
    light = orbit(300, 200, 3)[None, :].repeat(3, axis=0)
    job = JobSpec("train", gpus_per_pod=1, work_gpu_seconds=5000.0, parallelism=3, completions=20)
    runs = [cluster("predictive", light, SMALL, [job]).run(light.shape[1]) for _ in range(2)]
    assert runs[0].completed_gpu_seconds == runs[1].completed_gpu_seconds
    assert runs[0].evictions == runs[1].evictions
    assert np.array_equal(runs[0].timeline["busy_gpus"], runs[1].timeline["busy_gpus"])
