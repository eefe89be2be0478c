"""Why a Job waits, and the achievable bound, on hand-made skies whose answer is known."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from kubesat.core.workloads import JobSpec
from kubesat.engine.waiting import never_fits
from tests.unit.engine.test_fleet import STEP_SECONDS, HandMadeSky, make_engine, orbit, run
from tests.unit.power_cases import HALF_DOD

# two GPUs a satellite, power to spare in the sun; the battery carries nothing in shadow
AMPLE = replace(HALF_DOD, solar_array_w=5000.0, gpus=2, battery_wh=20.0)


def job(name: str, gpus: int = 1, parallelism: int = 1, **kw: object) -> JobSpec:
    spec = {"checkpoint_interval_seconds": 1e9, "checkpoint_write_seconds": 0.0}
    spec.update(kw)
    return JobSpec(
        name,
        gpus,
        1e9,
        parallelism=parallelism,
        completions=parallelism,
        managed=True,
        ignores_disruptions=True,
        **spec,  # type: ignore[arg-type]
    )


def test_a_pod_larger_than_any_satellite_or_a_gang_larger_than_the_fleet_never_fits() -> None:
    assert never_fits(job("big", gpus=16), 24, 8) == (
        "pods need 16 nvidia.com/gpu; a satellite has 8"
    )
    gang = job("ring", gpus=4, parallelism=7, gang=True)
    assert never_fits(gang, 3, 8) == (
        "a gang of 7 pods of 4 nvidia.com/gpu; the fleet holds 6 such pods at once"
    )
    assert never_fits(job("fits", gpus=8), 1, 8) is None


def test_a_perfect_schedule_reaches_the_achievable_bound() -> None:
    """Constant sun, no checkpoint writes: a Job of parallelism 2 computes on two GPUs
    every step, exactly its bound, though the fleet's energy bound is twice that."""
    engine = make_engine("predictive", AMPLE, [job("two", parallelism=2)], satellites=2)
    steps = 360
    run(engine, HandMadeSky(np.ones((2, steps))))
    stats = engine.job_stats(0)
    assert stats.achievable_gpu_seconds == pytest.approx(2 * steps * STEP_SECONDS)
    assert stats.useful_gpu_seconds == pytest.approx(stats.achievable_gpu_seconds)
    assert engine.counters.bound_gpu_seconds == pytest.approx(4 * steps * STEP_SECONDS)
    assert stats.waiting == {}


def test_a_finished_job_can_have_used_only_its_demand() -> None:
    small = JobSpec("small", 1, 600.0, completions=1, managed=True)
    engine = make_engine("none", AMPLE, [small], satellites=1)
    run(engine, HandMadeSky(np.ones((1, 200))))
    stats = engine.job_stats(0)
    assert stats.finished
    assert stats.achievable_gpu_seconds == pytest.approx(600.0)


def test_a_job_that_never_fits_waits_for_that_and_its_bound_is_nothing() -> None:
    engine = make_engine("predictive", AMPLE, [job("big", gpus=4), job("ok")], satellites=2)
    run(engine, HandMadeSky(np.ones((2, 60))))
    big, ok = engine.job_stats(0), engine.job_stats(1)
    assert big.never_fits == "pods need 4 nvidia.com/gpu; a satellite has 2"
    assert big.waiting == {"never-fits": pytest.approx(600.0)}
    assert big.achievable_gpu_seconds == 0.0
    assert ok.waiting == {} and ok.useful_gpu_seconds == pytest.approx(600.0)


@pytest.mark.parametrize("policy", ["reactive", "predictive"])
def test_in_shadow_with_an_empty_battery_a_job_waits_for_power(policy: str) -> None:
    # 20 steps of sun, 40 of shadow: no battery to speak of, so nothing runs in shadow
    sky = HandMadeSky(orbit(20, 40, 2)[None, :])
    engine = make_engine(policy, AMPLE, [job("train")], satellites=1)
    run(engine, sky)
    stats = engine.job_stats(0)
    assert set(stats.waiting) == {"power"}
    assert stats.waiting["power"] == pytest.approx(stats.wait_seconds)
    assert stats.wait_seconds >= 2 * 30 * STEP_SECONDS


def test_a_job_behind_another_that_holds_every_gpu_waits_for_capacity() -> None:
    hog = job("hog", gpus=2, parallelism=1)
    engine = make_engine("none", AMPLE, [hog, job("late")], satellites=1)
    run(engine, HandMadeSky(np.ones((1, 30))))
    assert engine.job_stats(1).waiting == {"capacity": pytest.approx(300.0)}
