"""The constellation's writers run on their small configs alone, without a runtime: what
they write goes through the callbacks they are given, and the Satellites' uids through
the one object they share."""

from __future__ import annotations

from types import SimpleNamespace as Obj
from typing import Any

import numpy as np

from kubesat.core.upsets import UpsetKind
from kubesat.core.workloads import JobSpec
from kubesat.engine.config import EngineConfig
from kubesat.engine.events import EvictionRefused, PodStarted
from kubesat.engine.fleet import FleetEngine
from kubesat.k8s.announcements import Announcer, AnnouncerConfig
from kubesat.k8s.decisions import DecisionConfig, DecisionWriter
from kubesat.k8s.fleet_refs import SatelliteUids
from kubesat.k8s.objects import SatelliteInfo
from kubesat.k8s.rescheduling import Drainer, DrainerConfig
from kubesat.k8s.satellites import INJECT_ANNOTATION
from tests.unit.power_cases import SMALL

NAMESPACE = "orbit"
NAMES = ("demo-0", "demo-1")


class FakeApi:
    """Records the writes submitted to the operator's write queue."""

    def __init__(self) -> None:
        self.submitted: list[tuple[Any, ...]] = []
        self.custom = Obj(patch_namespaced_custom_object=self.patched)
        self.patches: list[tuple[Any, ...]] = []

    def submit(self, key: Any, verb: str, resource: str, call: Any, **_: Any) -> None:
        self.submitted.append((key, verb, resource))
        call()

    def patched(self, *args: Any) -> None:
        self.patches.append(args)


class Events(list[tuple[dict[str, Any], str, str, str]]):
    def __call__(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.append((obj, type_, reason, message))


def announcer(
    satellites: SatelliteUids, api: FakeApi, events: Events
) -> tuple[Announcer, list[tuple[int, UpsetKind, int | None]]]:
    """An announcer of constellation `demo` whose engine records the upsets injected."""
    injected: list[tuple[int, UpsetKind, int | None]] = []
    config = AnnouncerConfig(
        NAMESPACE,
        "demo",
        satellites,
        api,  # the fake stands for `Api`: only `submit` and `custom` are used
        events,
        spec=lambda: Obj(power=Obj(gpus=4)),
        sim_text=lambda seconds: f"t+{seconds:.0f}s",
        pod_names=dict,
        inject_upset=lambda i, kind, gpu: injected.append((i, kind, gpu)),
        upset_kind=lambda i: 0,
    )
    return Announcer(config), injected


def test_the_uids_the_announcer_sees_are_shared_with_the_other_writers():
    satellites = SatelliteUids(NAMESPACE, NAMES)
    writer, _ = announcer(satellites, FakeApi(), Events())
    assert satellites.known().tolist() == [False, False]
    assert "uid" not in satellites.ref(1)["metadata"]
    index = {(NAMESPACE, "demo"): [SatelliteInfo("demo-1", "u-1", "7", None)]}
    writer.apply_injections(index)
    assert satellites.known().tolist() == [False, True]
    assert satellites.ref(1)["metadata"] == {"name": "demo-1", "namespace": NAMESPACE, "uid": "u-1"}


def test_an_injection_reaches_the_engine_once_and_its_annotation_is_cleared():
    satellites, api, events = SatelliteUids(NAMESPACE, NAMES), FakeApi(), Events()
    writer, injected = announcer(satellites, api, events)
    index = {(NAMESPACE, "demo"): [SatelliteInfo("demo-0", "u-0", "3", "sefi:2")]}
    writer.apply_injections(index)
    writer.apply_injections(index)  # the same resource version: already applied
    assert injected == [(0, UpsetKind.SEFI, 2)]
    assert api.submitted == [(("satellite-inject", NAMESPACE, "demo-0"), "patch", "satellites")]
    patch = api.patches[0][-1]
    assert patch == {"metadata": {"annotations": {INJECT_ANNOTATION: None}}}
    assert events == []


def test_a_bad_injection_is_an_event_on_its_satellite():
    satellites, api, events = SatelliteUids(NAMESPACE, NAMES), FakeApi(), Events()
    writer, injected = announcer(satellites, api, events)
    writer.apply_injections({(NAMESPACE, "demo"): [SatelliteInfo("demo-1", "u-1", "1", "boom")]})
    assert injected == []
    [(ref, type_, reason, _)] = events
    assert (ref["metadata"]["uid"], type_, reason) == ("u-1", "Warning", "InvalidInjection")


def test_a_refused_drain_is_told_on_the_pod_and_the_satellite_now_and_then():
    satellites, events = SatelliteUids(NAMESPACE, NAMES), Events()
    satellites.record("demo-1", "u-1")
    config = DrainerConfig(
        satellites,
        FakeApi(),
        events,
        column=lambda: None,
        drain_lead_seconds=lambda: np.zeros(2),
        soc_wh=lambda: np.zeros(2),
        battery_wh=lambda: 100.0,
        wall_seconds=lambda simulated: simulated,
    )
    drainer = Drainer(config)
    refusal = EvictionRefused(pod=3, job=0, sat=1, budget="keep-two", at_seconds=0.0)
    drainer.refused(refusal, ("jobs", "train-0"))
    drainer.refused(refusal, ("jobs", "train-0"))  # within the repeat interval
    assert [(e[0]["kind"], e[2]) for e in events] == [
        ("Pod", "EvictionRefused"),
        ("Satellite", "EvictionRefused"),
    ]
    assert events[1][0]["metadata"]["uid"] == "u-1"
    assert "from demo-1 refused" in events[0][3]


def test_a_restored_pod_the_api_never_got_is_created_again_from_the_engine():
    engine = FleetEngine(EngineConfig(SMALL, "reactive", 10.0), NAMES)
    managed_job = engine.add_job(JobSpec("train", 1, 3600.0, managed=True))
    builtin_job = engine.add_job(JobSpec("plain", 1, 3600.0))
    lost = engine.bind(managed_job, sat=1, gpus=1)
    stray = engine.bind(builtin_job, sat=0, gpus=1)
    assert lost is not None and stray is not None
    created: list[tuple[PodStarted, Any, bool]] = []
    book = Obj(
        records={
            managed_job: Obj(index=managed_job, info=Obj(managed=True)),
            builtin_job: Obj(index=builtin_job, info=Obj(managed=False)),
        }
    )
    pods = Obj(key_of={lost: ("jobs", "train-0"), stray: ("jobs", "plain-x")}, info={})
    writer = DecisionWriter(
        DecisionConfig(
            engine,
            NAMES,
            book,
            pods,
            Obj(create=lambda *args: created.append(args)),  # kubesat's Job controller
            drainer=None,
            announcer=None,
            event=Events(),
            node_registered=lambda i: i == 1,
            sim_text=str,
        )
    )
    expected = engine.pod_started(lost)
    writer.missing_restored_pods()
    # kubesat's Job controller owns it: the same pod is created again, on its node
    assert created == [(expected, book.records[managed_job], True)]
    assert expected is not None and (expected.job, expected.sat) == (managed_job, 1)
    # a pod of the built-in controller that the API does not have is given up
    assert engine.live_pods() == [lost]
