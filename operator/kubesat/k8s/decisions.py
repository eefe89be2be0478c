"""The engine's decisions written out for one constellation: pods of kubesat's Jobs
created, their starts and ends in the Jobs' stories, drains evicted, gang and satellite
Events; and, after a restart, the pods the engine runs that the API never got.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from kubesat.engine.events import (
    Decision,
    Eviction,
    EvictionRefused,
    GangPlaced,
    GangWaiting,
    Notice,
    PodEnded,
    PodStarted,
)
from kubesat.engine.fleet import FleetEngine
from kubesat.k8s.announcements import Announcer
from kubesat.k8s.fleet_refs import EventFunc
from kubesat.k8s.gang_events import gang_event
from kubesat.k8s.job_controller import ManagedJobs
from kubesat.k8s.jobs import JobBook
from kubesat.k8s.pods import PodRuntime
from kubesat.k8s.rescheduling import Drainer


@dataclass(frozen=True)
class DecisionConfig:
    """Where one constellation's decisions go (the runtime's writers and values)."""

    engine: FleetEngine  # the Jobs' specs and the pods it runs
    node_names: tuple[str, ...]
    book: JobBook
    pods: PodRuntime
    managed: ManagedJobs
    drainer: Drainer
    announcer: Announcer
    event: EventFunc
    node_registered: Callable[[int], bool]  # satellite i's Node exists (pods can be created)
    sim_text: Callable[[float], str]  # simulated seconds -> the instant, as text


class DecisionWriter:
    """Turns the engine's decisions of one constellation into writes and Events."""

    def __init__(self, config: DecisionConfig) -> None:
        self.config = config

    def apply(self, decisions: list[Decision]) -> None:
        """Write the engine's decisions: pods created, ends, evictions, Events."""
        config = self.config
        pods = config.pods
        notices: list[Notice] = []
        for decision in decisions:
            if isinstance(decision, PodStarted):
                self.started(decision)
            elif isinstance(decision, PodEnded):
                key = pods.key_of.get(decision.pod)
                config.book.ended(decision, key[1] if key else None, config.sim_text)
                pods.end(decision)
            elif isinstance(decision, Eviction):
                key = pods.key_of.get(decision.pod)
                info = pods.info.get(key) if key else None
                config.drainer.evict(decision, key, info.uid if info else None)
            elif isinstance(decision, EvictionRefused):
                config.drainer.refused(decision, pods.key_of.get(decision.pod))
            elif isinstance(decision, GangPlaced | GangWaiting):
                self.gang(decision)
            elif isinstance(decision, Notice):
                notices.append(decision)
        config.announcer.announce(notices)

    def gang(self, decision: GangPlaced | GangWaiting) -> None:
        """A gang placed or still waiting: an Event on its Job."""
        config = self.config
        record = config.book.records.get(decision.job)
        if record is None or record.info is None:
            return
        info = record.info
        ref = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": info.name, "namespace": info.namespace, "uid": info.uid},
        }
        spec = config.engine.jobs[decision.job]
        config.event(ref, *gang_event(decision, config.node_names, spec))

    def started(self, decision: PodStarted) -> None:
        """A pod started: created when kubesat's Job controller owns it, then told."""
        config = self.config
        record = config.book.records.get(decision.job)
        if record is None:
            return
        key = config.pods.key_of.get(decision.pod)
        if key is None and record.info is not None and record.info.managed:
            registered = config.node_registered(decision.sat)
            name = config.managed.create(decision, record, registered)
            key = (record.info.namespace, name)
            config.pods.register(decision.pod, key)
        if key is None:
            return
        node = config.node_names[decision.sat]
        config.book.started(decision)
        ref = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": key[1], "namespace": key[0]}}
        spec = config.engine.jobs[decision.job]
        if decision.resuming_from > 0:
            config.event(
                ref,
                "Normal",
                "Resuming",
                f"restoring the checkpoint at {decision.resuming_from:.0f} of "
                f"{spec.work_gpu_seconds:.0f} GPU-s on {node}",
            )
        elif math.isfinite(spec.work_gpu_seconds):
            config.event(
                ref,
                "Normal",
                "Started",
                f"running on {node}: {spec.work_gpu_seconds:.0f} GPU-s of work, checkpoint "
                f"every {spec.checkpoint_interval_seconds:.0f} s",
            )

    def missing_restored_pods(self) -> None:
        """After a restart: a pod the engine runs but the API never got (the operator
        stopped between the decision and the write) is created again if kubesat's Job
        controller owns it (its name is fixed, so this is idempotent), else given up."""
        config = self.config
        engine, pods = config.engine, config.pods
        for pod in list(engine.pod_slot):
            key = pods.key_of.get(pod)
            if key is not None and key in pods.info:
                continue
            started = engine.pod_started(pod)
            record = None if started is None else config.book.records.get(started.job)
            if key is None or record is None or record.info is None or not record.info.managed:
                engine.drop(pod)
                continue
            assert started is not None  # a record was found for its Job
            config.managed.create(started, record, config.node_registered(started.sat))
