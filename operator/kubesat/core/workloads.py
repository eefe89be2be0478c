"""GPU training jobs: how much work they hold, how they checkpoint, what a pod's death costs.

A Job has `completions` work units, each `work_gpu_seconds` of useful GPU time done by one
pod of `gpus_per_pod` GPUs. A pod checkpoints every `checkpoint_interval_seconds` of running,
spending `checkpoint_write_seconds` (GPUs busy, no progress). A pod that dies loses the work
since its last checkpoint; a replacement restores that checkpoint (the same write time).

A gang Job (distributed training) runs all its `completions` pods at once or none: each
training step is `compute_seconds_per_step` of compute, then a ring all-reduce of
`gradient_bytes_per_step` over the links between its members; its members checkpoint
together, and losing one member restarts them all from the gang's last checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

BACKOFF_INITIAL_SECONDS: Final = 10.0  # Job controller: 10 s, doubling, capped at 6 min
BACKOFF_MAX_SECONDS: Final = 360.0


@dataclass(frozen=True)
class JobSpec:
    """A GPU Job as kubesat reads it from its manifest and annotations."""

    name: str
    gpus_per_pod: int
    work_gpu_seconds: float
    checkpoint_interval_seconds: float = 1800.0
    checkpoint_write_seconds: float = 30.0
    parallelism: int = 1
    completions: int = 1
    backoff_limit: int = 6
    namespace: str = "default"
    tolerates_satellites: bool = True
    needs_ground_link: bool = False
    ignores_disruptions: bool = False  # podFailurePolicy: Ignore on DisruptionTarget
    managed: bool = False  # spec.managedBy names kubesat's Job controller
    downlink_bytes: float = 0.0  # results of each completion to bring to the ground
    gang: bool = False  # every pod runs at once or none does
    compute_seconds_per_step: float = 1.0  # a gang's compute per training step
    gradient_bytes_per_step: float = 0.0  # a gang's gradients, all-reduced every step
    labels: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        where = f"Job {self.name!r}"
        if self.gpus_per_pod < 1:
            raise ValueError(f"{where} gpus per pod: must be >= 1, got {self.gpus_per_pod}")
        if not self.work_gpu_seconds > 0:
            raise ValueError(f"{where} work-gpu-seconds: must be > 0, got {self.work_gpu_seconds}")
        if self.checkpoint_interval_seconds < 0 or self.checkpoint_write_seconds < 0:
            raise ValueError(f"{where} checkpoint seconds: must be >= 0")
        if not self.downlink_bytes >= 0:
            raise ValueError(f"{where} downlink-bytes: must be >= 0, got {self.downlink_bytes}")
        if not self.compute_seconds_per_step > 0:
            raise ValueError(
                f"{where} compute-seconds-per-step: must be > 0, "
                f"got {self.compute_seconds_per_step}"
            )
        if not self.gradient_bytes_per_step >= 0:
            raise ValueError(
                f"{where} gradient-bytes-per-step: must be >= 0, got {self.gradient_bytes_per_step}"
            )
        if self.gang and self.parallelism != self.completions:
            raise ValueError(
                f"{where} gang: spec.parallelism ({self.parallelism}) must equal "
                f"spec.completions ({self.completions}): a gang's members run at once"
            )

    @property
    def run_seconds_per_unit(self) -> float:
        """Wall seconds of useful running one work unit needs."""
        return self.work_gpu_seconds / self.gpus_per_pod

    @property
    def members(self) -> int:
        """Pods that run at once: a gang's size, else the parallelism."""
        return self.completions if self.gang else self.parallelism

    @property
    def total_work_gpu_seconds(self) -> float:
        return self.work_gpu_seconds * self.completions


def backoff_seconds(failures: int) -> float:
    """Delay before the Job controller recreates a failed pod (10 s doubling, 6 min cap)."""
    if failures <= 0:
        return 0.0
    return min(BACKOFF_INITIAL_SECONDS * 2.0 ** min(failures - 1, 16), BACKOFF_MAX_SECONDS)


@dataclass(frozen=True)
class DisruptionBudget:
    """A PodDisruptionBudget over the pods whose labels match `selector`."""

    name: str
    selector: dict[str, str]
    min_available: int | None = None
    max_unavailable: int | None = None

    def matches(self, labels: dict[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.selector.items())

    def allowed_disruptions(self, healthy: int, expected: int) -> int:
        """How many more pods may be evicted now (policy/v1 semantics, integer forms)."""
        if self.min_available is not None:
            return max(0, healthy - self.min_available)
        if self.max_unavailable is not None:
            return max(0, healthy - (expected - self.max_unavailable))
        return healthy
