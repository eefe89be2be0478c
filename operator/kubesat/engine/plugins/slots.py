"""What the drain and reserve plugins read of the engine's state: the pod slots and the
Jobs they belong to. A protocol, so the plugins need not import the state they serve
(the state holds the policy made of them)."""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from kubesat.core.workloads import JobSpec
from kubesat.engine.config import EngineConfig


class PodSlots(Protocol):
    """The pod slots: one entry per pod, whatever Job or satellite holds it."""

    slot_state: NDArray[np.int8]  # `slot_state.SlotState`
    slot_job: NDArray[np.int64]
    slot_sat: NDArray[np.int64]
    slot_gpus: NDArray[np.int64]
    slot_since: NDArray[np.float64]  # running seconds since the last checkpoint

    def live_slots(self) -> NDArray[np.bool_]: ...


class JobTables(Protocol):
    """The Jobs, one entry each: their specs, states and checkpoint times."""

    jobs: list[JobSpec]
    job_gang: NDArray[np.bool_]
    job_active: NDArray[np.bool_]
    job_complete: NDArray[np.bool_]

    def required_runway(self, job: int) -> float: ...


class FleetSlots(PodSlots, JobTables, Protocol):
    """The engine's pod slots and Jobs, and what drains time by, read-only here."""

    config: EngineConfig
    dt: float
    pod_slot: dict[int, int]  # pod id -> its slot
    flux: NDArray[np.float64] | None  # proton flux now (the gangs' checkpoints)
    write: NDArray[np.float64]  # per Job: seconds to write a checkpoint
    interval: NDArray[np.float64]  # per Job: seconds between periodic checkpoints
