"""Link-bound pods (`kubesat.io/needs-ground-link`) in the fleet engine, on hand-made
contact plans: placed only where a contact has enough left, checkpointed and moved before
loss of signal, to the satellite with the longest contact left.

Skies as in `test_fleet.py` (10 s steps, constant sun so power never decides) with ground
contacts: `contact_seconds` (what is left of a contact) comes from `shadow_timing`, as the
simulator's and the operator's environments compute it.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from kubesat.core.conditions import shadow_timing
from kubesat.core.power import PowerSystem
from kubesat.engine.durable import restore_state, to_state
from kubesat.engine.environment import Column
from kubesat.engine.events import Eviction, EvictionReason, PodStarted
from kubesat.engine.fleet import FleetEngine
from kubesat.engine.slot_state import DRAINING, LIVE_STATES
from tests.unit.engine.test_fleet import STEP_SECONDS, HandMadeSky, endless, make_engine

POWER = PowerSystem(
    solar_array_w=5000.0, bus_power_w=100.0, gpu_power_w=500.0, gpus=2, battery_wh=2000.0
)
WRITE_S = 20.0
MARGIN_S = 60.0  # the engine's default margin


class LinkSky(HandMadeSky):
    """Constant sun and a (N, T) contact plan."""

    def __init__(self, link: Any) -> None:
        self.link = np.atleast_2d(np.asarray(link, dtype=np.bool_))
        super().__init__(np.ones(self.link.shape))
        to_contact, contact = shadow_timing(self.link, STEP_SECONDS)
        self.to_contact = to_contact.astype(np.float64)
        self.contact = contact.astype(np.float64)

    def column(self, step: int) -> Column:
        base = super().column(step)
        return Column(
            **{
                **base.__dict__,
                "link": self.link[:, step].copy(),
                "seconds_to_contact": self.to_contact[:, step].copy(),
                "contact_seconds": self.contact[:, step].copy(),
            }
        )


def passes(period_steps: int, contact_steps: int, cycles: int, offset: int = 0) -> NDArray[Any]:
    row = np.r_[np.ones(contact_steps, np.bool_), np.zeros(period_steps - contact_steps, np.bool_)]
    return np.roll(np.tile(row, cycles), offset)


def serving(**kw: Any) -> Any:
    return endless(
        "serve",
        needs_ground_link=True,
        checkpoint_interval_seconds=600.0,
        checkpoint_write_seconds=WRITE_S,
        **kw,
    )


def out_of_contact_steps(engine: FleetEngine, sky: LinkSky) -> tuple[int, list[Any]]:
    """Step through the sky; count pod-steps a link-bound pod spent on a satellite with no
    contact, and collect the decisions."""
    bad, decisions = 0, []
    for k in range(sky.steps):
        engine.step(sky.column(k), sky.upsets(k, k + 1))
        decisions.extend(engine.take_decisions())
        if k + 1 >= sky.steps:
            break
        live = np.isin(engine.slot_state, (*LIVE_STATES, DRAINING))
        sats = engine.slot_sat[live]
        bad += int((~sky.link[sats, k + 1]).sum())
    return bad, decisions


@pytest.mark.parametrize("policy", ["reactive", "predictive"])
def test_link_bound_pods_never_run_out_of_contact(policy: str) -> None:
    # one satellite: 20 min contacts every hour, for 6 h
    sky = LinkSky(passes(360, 120, 6)[None, :])
    engine = make_engine(policy, POWER, [serving(parallelism=2, completions=2)])
    bad, decisions = out_of_contact_steps(engine, sky)
    assert bad == 0
    starts = [d for d in decisions if isinstance(d, PodStarted)]
    link = [d for d in decisions if isinstance(d, Eviction) and d.reason is EvictionReason.LINK]
    assert len(starts) == 12  # two pods in each of the six contacts
    assert len(link) == 12  # and both leave before each loss of signal
    # they leave when the contact left is within write + margin + one step
    lead = WRITE_S + MARGIN_S + STEP_SECONDS
    assert all(lead - STEP_SECONDS <= e.runway_seconds < lead for e in link)


def test_without_a_policy_link_bound_pods_stay_through_loss_of_signal() -> None:
    sky = LinkSky(passes(360, 120, 3)[None, :])
    engine = make_engine("none", POWER, [serving()])
    bad, decisions = out_of_contact_steps(engine, sky)
    assert bad > 0
    assert not [d for d in decisions if isinstance(d, Eviction)]


def test_pods_move_to_the_satellite_with_the_longest_contact_left() -> None:
    # sat 0 in contact for 20 min from t = 0; sat 1 for 20 min from t = 10 min; sat 2 for
    # 5 min from t = 0: the pod starts on sat 0 (longest left) and moves to sat 1 at LOS
    steps = 240
    link = np.zeros((3, steps), np.bool_)
    link[0, :120] = True
    link[1, 60:180] = True
    link[2, :30] = True
    engine = make_engine("predictive", POWER, [serving()], satellites=3)
    bad, decisions = out_of_contact_steps(engine, LinkSky(link))
    assert bad == 0
    starts = [(d.sat, d.at_seconds) for d in decisions if isinstance(d, PodStarted)]
    assert starts[0] == (0, 0.0)
    assert starts[1][0] == 1 and 1000.0 <= starts[1][1] <= 1200.0


def test_short_contacts_take_no_link_bound_pod() -> None:
    # contacts of 150 s leave less than the 2 x 20 s + 2 x 60 s a pod needs
    sky = LinkSky(passes(360, 15, 3)[None, :])
    engine = make_engine("predictive", POWER, [serving()])
    _, decisions = out_of_contact_steps(engine, sky)
    assert not [d for d in decisions if isinstance(d, PodStarted)]


# -- downlink ------------------------------------------------------------------------------

RATE_BPS = 100e6  # 12.5 MB/s


class RateSky(LinkSky):
    """A LinkSky whose contacts downlink at RATE_BPS."""

    def column(self, step: int) -> Column:
        base = super().column(step)
        rate = np.where(self.link[:, step], RATE_BPS, 0.0)
        return Column(**{**base.__dict__, "downlink_bps": rate})


def test_results_wait_for_contacts_and_land_at_the_station_rate() -> None:
    # two 10-minute units (one GPU), 3 GB of results each; contacts of 120 s at
    # t = 1000 s and 300 s at t = 2000 s: 420 s x 12.5 MB/s = 5.25 GB can go down
    link = np.zeros(300, np.bool_)
    link[100:112] = True
    link[200:230] = True
    job = endless(
        "render",
        work_gpu_seconds=600.0,
        completions=2,
        checkpoint_interval_seconds=1e6,
        downlink_bytes=3e9,
    )
    engine = make_engine("predictive", POWER, [job])
    sky = RateSky(link[None, :])
    for k in range(sky.steps):
        engine.step(sky.column(k), sky.upsets(k, k + 1))
        engine.take_decisions()
    c = engine.counters
    assert engine.unit_done.all()
    assert c.downlinked_bytes == pytest.approx(5.25e9)
    assert engine.downlink_backlog_bytes[0] == pytest.approx(0.75e9)
    # the first result: 1.5 GB in the first contact, the rest 120 s into the second
    assert c.results_landed == 1
    finished_at = 600.0  # its last 10 s step of work started at 590 s
    assert c.landed_latency_max_seconds == pytest.approx(2000.0 + 120.0 - finished_at, abs=10.0)
    # the backlog survives a restart
    twin = make_engine("predictive", POWER, [job])
    assert restore_state(twin, json.loads(json.dumps(to_state(engine))))
    assert twin.downlink_backlog_bytes.tolist() == engine.downlink_backlog_bytes.tolist()
    assert twin.counters.results_landed == 1
