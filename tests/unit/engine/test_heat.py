"""Heat in the fleet engine, on hand-made skies whose right answer is known.

The satellite: four 500 W GPUs and a 100 W bus under a one-sided radiator of 2.1474 m^2 at
emissivity 0.9 and no environmental load, so at its 60 C maximum it rejects
0.9 x sigma x 2.148 x 333.15^4 = 1350 W: the bus and 2.5 GPUs. Its heat capacity (50 kJ/K)
lets four GPUs reach the maximum from 20 C in about ten minutes. Power never limits
(constant sun, a large array and battery), so only heat does.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from kubesat.core.power import PowerSystem
from kubesat.core.thermal import KELVIN_AT_ZERO_CELSIUS, ThermalSystem
from kubesat.engine.durable import restore_state, to_state
from kubesat.engine.events import EndReason, Eviction, EvictionReason, Notice, NoticeKind, PodEnded
from kubesat.engine.fleet import FleetEngine
from kubesat.engine.plugins.framework import FilterReason, PodShape, Rejections
from tests.unit.engine.test_fleet import HandMadeSky, endless, make_engine, run

POWER = PowerSystem(
    solar_array_w=5000.0, bus_power_w=100.0, gpu_power_w=500.0, gpus=4, battery_wh=2000.0
)
MAX_K = 60.0 + KELVIN_AT_ZERO_CELSIUS
HOT = ThermalSystem(
    heat_capacity_j_per_k=50_000.0,
    radiator_area_m2=2.14744,
    emissivity=0.9,
    max_temperature_k=MAX_K,
    min_temperature_k=-10.0 + KELVIN_AT_ZERO_CELSIUS,
    earth_view_factor=0.0,
    two_sided=False,
    initial_temperature_k=20.0 + KELVIN_AT_ZERO_CELSIUS,
)
STEPS = 1080  # three hours of 10 s steps


def job() -> list:
    return [
        endless(
            parallelism=4,
            completions=4,
            checkpoint_interval_seconds=600.0,
            checkpoint_write_seconds=20.0,
        )
    ]


def hot_engine(policy: str, thermal: ThermalSystem = HOT) -> FleetEngine:
    return make_engine(policy, POWER, job(), thermal=thermal)


def test_the_radiator_carries_the_bus_and_two_and_a_half_gpus() -> None:
    assert HOT.max_rejection_w == pytest.approx(100.0 + 2.5 * 500.0, rel=1e-4)


def test_without_a_policy_heat_holds_gpus_off_and_kills_their_pods() -> None:
    engine = hot_engine("none")
    sky = HandMadeSky(np.ones((1, STEPS)))
    temps = []
    decisions = []
    for k in range(STEPS):
        engine.step(sky.column(k), sky.upsets(k, k + 1))
        decisions.extend(engine.take_decisions())
        temps.append(float(engine.temperature_k[0]))
    assert max(temps) <= MAX_K + 1e-6
    assert max(temps) == pytest.approx(MAX_K, abs=0.01)
    overheated = [
        d for d in decisions if isinstance(d, PodEnded) and d.reason is EndReason.OVERHEATED
    ]
    assert overheated, "pods should die when their GPUs are held off"
    assert engine.counters.failures["thermal"] == len(overheated)
    assert engine.counters.thermal_throttles >= 1
    kinds = {d.kind for d in decisions if isinstance(d, Notice)}
    assert NoticeKind.THERMAL_THROTTLING in kinds
    # at the maximum the radiator carries two GPUs and half a third: some steps hold 2 off
    assert engine.heat_limit_gpus[0] in (2, 3)


def test_predictive_drains_ahead_of_the_maximum_and_loses_nothing_to_heat() -> None:
    engine = hot_engine("predictive")
    result = run(engine, HandMadeSky(np.ones((1, STEPS))))
    assert not [d for d in result.of(PodEnded) if d.reason is EndReason.OVERHEATED], (
        "predictive should never let heat kill a pod"
    )
    thermal = [e for e in result.of(Eviction) if e.reason is EvictionReason.THERMAL]
    assert thermal, "predictive should checkpoint pods before the maximum"
    assert float(engine.temperature_k[0]) <= MAX_K
    # in the last hour it runs what the radiator sustains, 2.5 GPUs on average: two,
    # and a third while the thermal mass has room for it, drained before the maximum
    last_hour = result.busy_gpus[0, -360:]
    assert set(np.unique(last_hour)) <= {2, 3}
    assert 2.2 <= last_hour.mean() <= 2.5
    assert engine.counters.lost_gpu_seconds == 0.0


@pytest.mark.parametrize("policy", ["none", "reactive", "predictive"])
def test_work_stays_under_the_energy_and_heat_bound(policy: str) -> None:
    engine = hot_engine(policy)
    run(engine, HandMadeSky(np.ones((1, STEPS))))
    assert engine.heat_bound is not None
    energy = float(engine.bound.gpu_seconds()[0])
    heat = float(engine.heat_bound.gpu_joules()[0]) / POWER.gpu_power_w
    assert heat < energy, "the radiator binds here, not the power"
    assert engine.counters.bound_gpu_seconds == pytest.approx(heat)
    # headroom from 20 C to 60 C, then 2.5 GPUs for good
    expected = (HOT.heat_capacity_j_per_k * 40.0 + 2.5 * 500.0 * STEPS * 10.0) / 500.0
    assert heat == pytest.approx(expected, rel=1e-4)
    assert engine.useful_gpu_seconds() <= heat
    if policy == "predictive":
        assert engine.useful_gpu_seconds() >= 0.75 * heat


def test_heater_holds_the_minimum_temperature_in_the_cold() -> None:
    cold = ThermalSystem(
        heat_capacity_j_per_k=50_000.0,
        radiator_area_m2=2.14744,
        emissivity=0.9,
        max_temperature_k=MAX_K,
        min_temperature_k=-10.0 + KELVIN_AT_ZERO_CELSIUS,
        earth_view_factor=0.0,
        two_sided=False,
        initial_temperature_k=-5.0 + KELVIN_AT_ZERO_CELSIUS,
    )
    engine = make_engine("none", POWER, [], thermal=cold)
    run(engine, HandMadeSky(np.zeros((1, 360))))
    assert float(engine.temperature_k[0]) == pytest.approx(cold.min_temperature_k, abs=1e-6)
    # at -10 C the radiator sheds 0.9 sigma 2.1477 263.15^4 = 525 W; the bus gives 100 W
    rejection_w = cold.radiative_w_per_k4 * cold.min_temperature_k**4
    assert engine.heater_w[0] == pytest.approx(rejection_w - 100.0, rel=1e-6)
    assert engine.load_w[0] == pytest.approx(rejection_w, rel=1e-6)
    assert engine.counters.heater_energy_j > 0.0


def test_temperature_survives_a_restart() -> None:
    engine = hot_engine("predictive")
    sky = HandMadeSky(np.ones((1, STEPS)))
    run(engine, sky, steps=300)
    state = json.loads(json.dumps(to_state(engine)))
    assert state["thermal"]["temperatureK"] == [float(engine.temperature_k[0])]
    twin = hot_engine("predictive")
    assert restore_state(twin, state)
    assert twin.temperature_k.tolist() == engine.temperature_k.tolist()
    ahead, again = run(engine, sky, steps=300), run(twin, sky, steps=300)
    assert again.decisions == ahead.decisions
    assert twin.temperature_k.tolist() == engine.temperature_k.tolist()
    assert twin.counters.bound_gpu_seconds == engine.counters.bound_gpu_seconds


def test_the_filters_name_heat_where_the_radiator_holds_off_the_gpus_a_pod_needs() -> None:
    """What kubesat-scheduler's FailedScheduling message says comes from these filters."""
    engine = hot_engine("none")  # nothing forecasts heat: the radiator throttles
    sky = HandMadeSky(np.ones((1, STEPS)))
    for k in range(STEPS):
        engine.step(sky.column(k), sky.upsets(k, k + 1))
        if engine.throttling[0]:
            break
    assert engine.throttling[0] and engine.heat_limit_gpus[0] < POWER.gpus
    view = engine.view(sky.column(engine.k))
    passing, reasons = engine.why_not(view, PodShape(POWER.gpus))
    assert not passing.any()
    assert reasons == {str(FilterReason.HEAT_THROTTLING): 1}
    message = Rejections(1, Counter(reasons)).message()
    assert message == "0/1 nodes are available: 1 heat throttling (the radiator holds GPUs off)."
    # a shell that counts its bound pods sees the same radiator limit
    allocated = engine.busy_gpus()
    assert engine.view(sky.column(engine.k), allocated).free_gpus.tolist() == (
        view.free_gpus.tolist()
    )


@pytest.mark.parametrize("policy", ["none", "predictive"])
def test_a_new_spec_brings_its_heat_model_and_policy(policy: str) -> None:
    """`reconfigure` (a Constellation edited in place): heat and policy follow the spec."""
    engine = make_engine("reactive", POWER, job())
    assert engine.thermal is None and engine.heat_bound is None
    engine.reconfigure(replace(engine.config, policy=policy, thermal=HOT))
    assert engine.thermal is HOT and engine.heat_bound is not None
    assert engine.plugins.name == policy
    assert engine.temperature_k.tolist() == [HOT.initial_temperature_k]
    sky = HandMadeSky(np.ones((1, STEPS)))
    run(engine, sky)
    # the radiator now limits the GPUs: they throttle, or predictive drains them for heat
    c = engine.counters
    assert c.thermal_throttles + c.evictions.get(EvictionReason.THERMAL.value, 0) >= 1
    assert HOT.initial_temperature_k + 20.0 < engine.temperature_k[0] <= MAX_K + 1e-6
    engine.reconfigure(replace(engine.config, thermal=None))
    assert engine.heat_bound is None and not engine.throttling.any()
    assert engine.heat_limit_gpus.tolist() == [POWER.gpus]
    with pytest.raises(ValueError, match="step_seconds"):
        engine.reconfigure(replace(engine.config, step_seconds=5.0))
