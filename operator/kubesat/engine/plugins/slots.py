"""What the drain and reserve plugins read of the engine's state: the pod slots and the
Jobs they belong to. A protocol, so the plugins need not import the state they serve
(the state holds the policy made of them)."""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from kubesat.core.workloads import JobSpec
from kubesat.engine.config import EngineConfig


class FleetSlots(Protocol):
    """The engine's pod slots (struct of arrays) and per-Job arrays, read-only here."""

    config: EngineConfig
    dt: float
    jobs: list[JobSpec]
    pod_slot: dict[int, int]
    flux: NDArray[np.float64] | None
    slot_state: NDArray[np.int8]
    slot_job: NDArray[np.int64]
    slot_sat: NDArray[np.int64]
    slot_gpus: NDArray[np.int64]
    slot_since: NDArray[np.float64]
    job_gang: NDArray[np.bool_]
    job_active: NDArray[np.bool_]
    job_complete: NDArray[np.bool_]
    write: NDArray[np.float64]
    interval: NDArray[np.float64]

    def live_slots(self) -> NDArray[np.bool_]: ...

    def required_runway(self, job: int) -> float: ...
