"""What the engine decides and reports during a step: pod starts and ends, evictions, notices.

Shells turn these into actions: the simulator counts them, the operator writes them to the
API (pods created and bound, pod statuses, evictions, Events on Satellites and pods).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class EndReason(Enum):
    """Why a pod stopped (its status reason in the operator, a counter in both shells)."""

    COMPLETED = "completed"  # the unit's work is done
    CHECKPOINTED = "checkpointed"  # drained: the checkpoint was written, then it stopped
    POWER_LOST = "power-lost"  # battery at its floor: GPUs shed
    SEFI = "sefi"  # a single-event functional interrupt hung its GPU
    LATCHUP = "latchup"  # a latch-up power-cycled the satellite
    OVERHEATED = "overheated"  # the radiator could not carry its GPUs: they were held off
    DELETED = "deleted"  # gone without a checkpoint (force-deleted, Job removed)
    JOB_FAILED = "job-failed"  # the Job failed; its remaining pods stop
    GANG_RESTART = "gang-restart"  # another member of its gang died: the gang restarts

    @property
    def status_reason(self) -> str:
        """The pod's `status.reason` (and the reason of its Event)."""
        return _STATUS_REASON[self]

    @property
    def failure_metric(self) -> str | None:
        """The `reason` label of `kubesat_pod_failures_total`, for pods killed by the fleet."""
        return _FAILURE_METRIC.get(self)

    @property
    def disruption(self) -> bool:
        """Whether the pod carries a DisruptionTarget condition (a podFailurePolicy can
        ignore it): every end the satellite caused, and drains."""
        return self in (
            EndReason.POWER_LOST,
            EndReason.SEFI,
            EndReason.LATCHUP,
            EndReason.OVERHEATED,
            EndReason.CHECKPOINTED,
            EndReason.GANG_RESTART,
        )


_STATUS_REASON = {
    EndReason.COMPLETED: "Completed",
    EndReason.CHECKPOINTED: "Checkpointed",
    EndReason.POWER_LOST: "PowerLost",
    EndReason.SEFI: "RadiationUpset",
    EndReason.LATCHUP: "RadiationUpset",
    EndReason.OVERHEATED: "ThermalThrottled",
    EndReason.DELETED: "Deleted",
    EndReason.JOB_FAILED: "BackoffLimitExceeded",
    EndReason.GANG_RESTART: "GangRestart",
}

_FAILURE_METRIC = {
    EndReason.POWER_LOST: "power",
    EndReason.SEFI: "sefi",
    EndReason.LATCHUP: "latchup",
    EndReason.OVERHEATED: "thermal",
}


class EvictionReason(Enum):
    """Why the policy drained a pod (`reason` of `kubesat_pod_evictions_total`)."""

    RUNWAY = "runway"  # predictive: the power runway is about to end
    ECLIPSE = "eclipse"  # reactive: the satellite left full sunlight
    UPSET = "upset"  # reactive: the satellite is recovering from an upset
    THERMAL = "thermal"  # predictive: the satellite is about to reach its maximum temperature
    LINK = "link"  # a link-bound pod's satellite is about to lose its ground contact
    GANG = "gang"  # its satellite is kept for a gang waiting to run all its members


class NoticeKind(Enum):
    """Something that happened to a satellite."""

    UPSET = "upset"
    POWER_LOST = "power-lost"
    POWER_RESTORED = "power-restored"
    RECOVERED = "recovered"
    BUS_BROWNOUT = "bus-brownout"  # the bus reached the hard reserve: a platform fault
    THERMAL_THROTTLING = "thermal-throttling"  # the radiator cannot carry every GPU now
    THERMAL_RECOVERED = "thermal-recovered"  # every GPU fits under the radiator again


@dataclass(frozen=True)
class PodStarted:
    """The engine placed a pod of a Job it controls (the operator creates it, bound)."""

    pod: int  # the engine's pod id
    job: int
    unit: int  # index of the unit within its Job (the completion index)
    attempt: int  # how many pods this unit had before (names the pod)
    sat: int
    gpus: int
    resuming_from: float  # GPU-seconds of the checkpoint it restores (0: a fresh start)
    at_seconds: float


@dataclass(frozen=True)
class PodEnded:
    """A pod stopped: why, what work it kept and what it lost."""

    pod: int
    job: int
    unit: int
    sat: int
    reason: EndReason
    progress_gpu_seconds: float
    lost_gpu_seconds: float
    at_seconds: float
    gpu: int | None = None  # the hung GPU of a SEFI
    started_at_seconds: float = 0.0  # when the pod started
    from_gpu_seconds: float = 0.0  # the checkpoint it started from

    @property
    def succeeded(self) -> bool:
        return self.reason is EndReason.COMPLETED


@dataclass(frozen=True)
class Eviction:
    """The policy drains a pod: it writes a checkpoint (the grace period), then stops."""

    pod: int
    job: int
    sat: int
    reason: EvictionReason
    write_seconds: float
    runway_seconds: float  # the satellite's power runway with its busy GPUs, for the message
    at_seconds: float


@dataclass(frozen=True)
class EvictionRefused:
    """A PodDisruptionBudget allows no disruption now: the pod stays, the drain retries."""

    pod: int
    job: int
    sat: int
    budget: str
    at_seconds: float


@dataclass(frozen=True)
class JobFinished:
    """Every unit of a Job is done (complete) or its backoff limit was exceeded (failed)."""

    job: int
    complete: bool
    at_seconds: float


class GangWait(Enum):
    """Why a gang's members are not placed (the reason of its `GangWaiting` Event)."""

    CAPACITY = "capacity"  # the satellites the policy allows hold fewer members
    LINKS = "links"  # they hold enough, but no set of them is linked together


@dataclass(frozen=True)
class GangWaiting:
    """A gang could not be placed whole, so none of it was (said once per change)."""

    job: int
    reason: GangWait
    members: int
    placeable: int  # members the allowed satellites could take now
    at_seconds: float


@dataclass(frozen=True)
class GangPlaced:
    """Every member of a gang was placed at once: where, and its training step there."""

    job: int
    satellites: tuple[int, ...]  # the satellite of each member, in ring order
    step_seconds: float
    exchange_seconds: float
    at_seconds: float


@dataclass(frozen=True)
class Notice:
    """Something that happened to a satellite during a step, for Events and counters."""

    kind: NoticeKind
    sat: int
    at_seconds: float
    upset: str | None = None  # correctable, sefi, latchup
    gpu: int | None = None
    pods: tuple[int, ...] = ()  # pods that died
    lost_gpu_seconds: float = 0.0
    injected: bool = False


Decision = (
    PodStarted
    | PodEnded
    | Eviction
    | EvictionRefused
    | JobFinished
    | GangWaiting
    | GangPlaced
    | Notice
)
