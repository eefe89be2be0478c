"""What a simulated run achieved, in GPU-seconds and counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from numpy.typing import NDArray

from kubesat.engine.job_stats import JobStats

REFUSED_BY_PDB = "refused-by-pdb"  # evictions a PodDisruptionBudget refused (not disruptions)


@dataclass(frozen=True)
class GangView:
    """A gang's satellites and the links up around them, at the last sample it ran."""

    at_seconds: float
    position_km: NDArray[Any]  # (N, 3) every satellite
    links_up: NDArray[Any]  # (L, 2) satellite pairs whose link was up
    satellites: tuple[int, ...]  # the gang's, one per member in ring order
    step_seconds: float | None


@dataclass
class Outcome:
    """The totals of one policy's run and its sampled timelines."""

    policy: str
    completed_gpu_seconds: float = 0.0
    lost_gpu_seconds: float = 0.0
    energy_bound_gpu_seconds: float = 0.0
    demand_gpu_seconds: float = 0.0
    evictions: dict[str, int] = field(default_factory=dict)
    pod_failures: dict[str, int] = field(default_factory=dict)
    jobs_completed: int = 0
    jobs_failed: int = 0
    upsets: dict[str, int] = field(default_factory=dict)
    bus_brownout_seconds: float = 0.0  # satellite-seconds with the bus at the hard reserve
    bus_brownouts: int = 0  # times a satellite's bus browned out
    bus_brownout_satellites: int = 0  # satellites whose bus browned out at least once
    thermal: dict[str, float] | None = None  # heat totals (spec.thermal), None without it
    downlink: dict[str, float] | None = None  # results brought down, None without any asked
    timeline: dict[str, NDArray[Any]] = field(default_factory=dict)
    jobs: dict[str, JobStats] = field(default_factory=dict)  # per Job, at the end
    # per Job, its progress ratio at each timeline sample
    job_progress: dict[str, NDArray[Any]] = field(default_factory=dict)
    gang_views: dict[str, GangView] = field(default_factory=dict)  # where each gang ran
    # what the Jobs could use: each Job's parallelism's GPUs over its open time, at most
    # its demand (a gang whole, a pod that can never fit nothing), summed
    achievable_gpu_seconds: float = 0.0

    @property
    def bound_gpu_seconds(self) -> float:
        """The achievable bound: the lesser of what sunlight and heat allowed and what the
        Jobs could use. Both are upper bounds on the useful work of any schedule."""
        return min(self.energy_bound_gpu_seconds, self.achievable_gpu_seconds)

    @property
    def goodput_ratio(self) -> float:
        """Useful GPU-seconds over the achievable bound."""
        bound = self.bound_gpu_seconds
        return self.completed_gpu_seconds / bound if bound > 0 else 0.0

    @property
    def energy_goodput_ratio(self) -> float:
        """Useful GPU-seconds over what sunlight allowed (or what the Jobs asked, if less)."""
        reachable = min(self.energy_bound_gpu_seconds, self.demand_gpu_seconds)
        return self.completed_gpu_seconds / reachable if reachable > 0 else 0.0
