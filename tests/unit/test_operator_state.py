"""The operator's cluster-free parts: its clock, fleet state machine, Job progress, names.

The fleet state machine must follow the simulator's semantics (kubesat.sim.engine): pods
progress while powered, write checkpoints, lose what they did since the last one when
power is lost, and keep it when drained; durable state round-trips through status.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from kubesat.k8s.clock import SimClock
from kubesat.k8s.fleet import DRAINING, RESTORING, RUNNING, FleetState, PodRun, Unit, Work
from kubesat.k8s.jobs import JobProgress
from kubesat.k8s.objects import JobInfo, PodInfo, pod_info
from kubesat.k8s.physics import Environment
from kubesat.k8s.satellites import parse_injection, satellite_names
from kubesat.spec import parse_constellation

START = datetime(2026, 11, 24, tzinfo=UTC)


def spec(battery_wh: float = 50.0, count: int = 1, step: float = 20.0):
    return parse_constellation(
        {
            "apiVersion": "kubesat.io/v1alpha1",
            "kind": "Constellation",
            "metadata": {"name": "unit"},
            "spec": {
                "orbits": {
                    "walkerDelta": {
                        "altitudeKm": 550,
                        "inclinationDeg": 53,
                        "planes": 1,
                        "perPlane": count,
                    }
                },
                "hardware": {
                    "gpusPerSatellite": 4,
                    "gpuPowerW": 500,
                    "busPowerW": 50,
                    "solarArrayW": 3000,
                    "batteryWh": battery_wh,
                },
                "radiation": {"enabled": False},
                "clock": {"start": "2026-11-24T00:00:00Z", "speedup": 120, "stepSeconds": step},
            },
        }
    )


def pod(uid: str, work: float = 4 * 3600.0, unit: Unit | None = None) -> PodRun:
    return PodRun(
        uid=uid,
        name=uid,
        namespace="ns",
        sat=0,
        gpus=4,
        work=Work(work, 300.0, 30.0),
        unit=unit or Unit("u0"),
        node="unit-p00-s00",
    )


# -- clock -----------------------------------------------------------------------------


def test_clock_maps_wall_to_simulated_time_and_rebases_continuously():
    wall = datetime(2026, 1, 1, tzinfo=UTC)
    clock = SimClock.starting(START, 60.0, 10.0, wall)
    later = wall + timedelta(seconds=30)
    assert clock.offset_seconds(later) == pytest.approx(1800.0)
    assert clock.step_index(later) == 180
    faster = clock.rebased(120.0, 10.0, later)
    assert faster.offset_seconds(later) == pytest.approx(1800.0)
    assert faster.offset_seconds(later + timedelta(seconds=1)) == pytest.approx(1920.0)
    assert clock.wall_at(600.0) == wall + timedelta(seconds=10)


def test_clock_resumes_the_recorded_timeline_unless_the_start_moved():
    wall = datetime(2026, 1, 1, tzinfo=UTC)
    clock = SimClock.starting(START, 60.0, 10.0, wall)
    status = clock.as_status(600.0)
    again = SimClock.resumed(
        status, "2026-11-24T00:00:00Z", START, 60.0, 10.0, wall + timedelta(hours=1)
    )
    assert again.epoch_wall == clock.epoch_wall
    moved = SimClock.resumed(
        status, "2026-11-23T00:00:00Z", START, 60.0, 10.0, wall + timedelta(hours=1)
    )
    assert moved.epoch_wall == wall + timedelta(hours=1)


# -- fleet state -----------------------------------------------------------------------


def test_pod_progresses_checkpoints_and_completes():
    s = spec(battery_wh=4000.0)
    env = Environment(s)
    state = FleetState(s, ("unit-p00-s00",))
    run = pod("a", work=4 * 700.0)
    state.add_pod(run)
    assert run.unit.state == RUNNING and state.busy[0] == 4
    state.advance(env, 15)  # 300 s: a checkpoint write starts
    assert run.unit.state == "writing" and run.unit.progress == pytest.approx(4 * 300.0)
    state.advance(env, 17)  # the 30 s write (two 20 s steps) ends: checkpoint saved
    assert run.unit.checkpoint == pytest.approx(4 * 300.0)
    state.advance(env, 60)
    assert run.end is not None and run.end.phase == "Succeeded"
    assert run.unit.done and state.busy[0] == 0
    assert state.progress_gpu_seconds == pytest.approx(4 * 700.0)


def test_power_loss_kills_pods_and_loses_work_since_the_checkpoint():
    s = spec(battery_wh=50.0)
    env = Environment(s)
    state = FleetState(s, ("unit-p00-s00",))
    run = pod("a", work=4 * 1e6)
    state.add_pod(run)
    notices: list = []
    while not any(n.kind == "power-lost" for n in notices) and state.k < 600:
        notices = state.advance(env, state.k + 1)  # until the first eclipse drains it
    lost = [n for n in notices if n.kind == "power-lost"]
    assert lost and lost[0].pods == ("a",)
    assert run.end.reason == "PowerLost" and run.end.disruption == "PowerLost"
    assert run.end.lost_gpu_seconds > 0
    assert run.unit.progress == run.unit.checkpoint
    assert state.failures == {"power": 1}
    assert state.lost_gpu_seconds == pytest.approx(run.end.lost_gpu_seconds)
    # the payload is off until the battery is 5% above its floor (here the shed GPUs leave
    # that much: it restarts at once), then boots for payloadRestartSeconds (300 s)
    notices += state.advance(env, state.k + 1)
    assert any(n.kind == "power-restored" for n in notices)
    assert not state.ready[0] and state.down_until[0] > state.now
    state.advance(env, state.k + 300 // 20 + 1)
    assert state.ready[0]


def test_drained_pod_writes_a_checkpoint_and_loses_nothing():
    s = spec(battery_wh=4000.0)
    env = Environment(s)
    state = FleetState(s, ("unit-p00-s00",))
    run = pod("a")
    state.add_pod(run)
    state.advance(env, 10)  # 200 s of running
    state.start_drain(run)
    assert run.unit.state == DRAINING and run.unit.left == pytest.approx(30.0)
    state.advance(env, 12)
    assert run.end.reason == "Checkpointed" and run.end.lost_gpu_seconds == 0
    assert run.unit.checkpoint == pytest.approx(4 * 200.0)
    # a replacement restores the checkpoint (a write's time), then runs on from it
    again = pod("b", unit=run.unit)
    state.add_pod(again)
    assert again.unit.state == RESTORING and again.unit.progress == pytest.approx(800.0)
    state.advance(env, 15)
    assert again.unit.progress == pytest.approx(800.0 + 4 * 20.0)


def test_state_round_trips_through_status():
    s = spec(battery_wh=50.0, count=2)
    env = Environment(s)
    names = satellite_names("unit", s.satellites)
    state = FleetState(s, names)
    state.add_pod(pod("a", work=4 * 1e6))
    state.advance(env, 600)
    state.apply_upset(1, 1, 2, state.now, injected=True)
    document = json.loads(json.dumps(state.to_state()))
    again = FleetState(s, names)
    assert again.restore_state(document)
    assert again.k == state.k
    np.testing.assert_allclose(again.soc, state.soc, atol=1e-3)
    assert again.upset_until[1] == pytest.approx(state.upset_until[1])
    assert again.gpu_broken_until[1, 2] == pytest.approx(state.gpu_broken_until[1, 2])
    assert again.failures == state.failures
    assert again.upsets_by_satellite.tolist() == state.upsets_by_satellite.tolist()


def test_environment_forecasts_the_next_eclipse():
    s = spec()
    env = Environment(s)
    column = env.column(0)
    assert column.illumination.shape == (1,)
    if column.illumination[0] >= 1.0:
        assert 0 < column.seconds_to_shadow[0] < 100 * 60
        assert 20 * 60 < column.shadow_seconds[0] < 40 * 60
    # far ahead, the window rolls on
    far = env.column(3 * 24 * 180)
    assert np.isfinite(far.seconds_to_shadow[0])


# -- Job progress ----------------------------------------------------------------------


def info(progress: str | None = None) -> JobInfo:
    return JobInfo("uid-1", "job", "ns", None, None, progress, 3, False)


def pod_view(uid: str, index: str | None = None) -> PodInfo:
    body = {
        "metadata": {
            "uid": uid,
            "name": uid,
            "namespace": "ns",
            "annotations": {"batch.kubernetes.io/job-completion-index": index} if index else {},
        },
        "spec": {"schedulerName": "kubesat-scheduler", "containers": []},
    }
    view = pod_info(body)
    assert view is not None
    return view


def test_a_new_pod_takes_the_unit_with_the_most_saved_work():
    job = JobProgress.load(info())
    first = job.claim(pod_view("p1"))
    first.pod, first.checkpoint = "p1", 500.0
    second = job.claim(pod_view("p2"))
    second.pod, second.checkpoint = "p2", 100.0
    assert {first.key, second.key} == {"u0", "u1"}
    first.pod = second.pod = None  # both pods died
    assert job.claim(pod_view("p3")) is first
    # a restarted operator finds the unit its pod held
    first.pod = "p3"
    again = JobProgress.load(info(job.to_annotation()))
    assert again.claim(pod_view("p3")).checkpoint == 500.0
    # indexed Jobs key units by completion index
    assert job.claim(pod_view("p4", index="7")).key == "7"


def test_units_of_vanished_pods_are_released_or_done():
    job = JobProgress.load(info())
    held = job.claim(pod_view("gone"))
    held.pod, held.checkpoint, held.progress = "gone", 100.0, 180.0
    done = job.claim(pod_view("finished"))
    done.pod, done.progress = "finished", 300.0
    job.release_orphans(live=set(), succeeded={"finished"})
    assert held.pod is None and held.progress == 100.0
    assert done.done
    document = json.loads(job.to_annotation())
    assert document["done"] == 1
    assert document["lostGpuSeconds"] == pytest.approx(80.0)


# -- names and injection ---------------------------------------------------------------


def test_satellite_names_are_dns_labels_prefixed_by_the_constellation():
    from kubesat.core.orbits import parse_tle_text

    text = (Path(__file__).resolve().parents[1] / "data" / "reference.tle").read_text()
    names = satellite_names("fleet", tuple(parse_tle_text(text)))
    assert names[0] == "fleet-iss-zarya"
    assert all(len(n) <= 63 and n.startswith("fleet-") for n in names)
    assert len(set(names)) == len(names)


def test_injection_annotation_is_parsed_with_errors_naming_it():
    assert parse_injection("sefi", 4) == (1, None)
    assert parse_injection("SEFI:3", 4) == (1, 3)
    assert parse_injection("latchup", 4) == (2, None)
    with pytest.raises(ValueError, match=r"kubesat.io/inject-upset.*got 'boom'"):
        parse_injection("boom", 4)
    with pytest.raises(ValueError, match=r"GPU must be within \[0, 3\]"):
        parse_injection("sefi:9", 4)
