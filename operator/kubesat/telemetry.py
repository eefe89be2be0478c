"""A snapshot of the fleet at one simulated instant: what metrics and dashboards show.

Both shells fill it: the simulator at each sampled step, the operator at each tick. The
Prometheus collector (kubesat.metrics) reads only this, so the two export the same
families with the same labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.job_stats import JobStats

UPSET_KINDS = ("correctable", "sefi", "latchup")
POD_PHASES = ("Pending", "Running", "Succeeded", "Failed")


@dataclass(frozen=True)
class FleetSnapshot:
    """Per-satellite arrays (N,) and fleet totals; counters are cumulative since start."""

    constellation: str
    simulated_time: datetime
    satellites: tuple[str, ...]
    planes: NDArray[np.int64]
    gpus_per_satellite: int
    illumination: NDArray[np.float64]  # fraction of the solar disc visible, 0..1
    state_of_charge: NDArray[np.float64]  # battery, 0..1
    solar_power_w: NDArray[np.float64]
    load_power_w: NDArray[np.float64]
    ground_link: NDArray[np.bool_]
    latitude_deg: NDArray[np.float64]
    longitude_deg: NDArray[np.float64]
    altitude_km: NDArray[np.float64]
    seconds_to_eclipse: NDArray[np.float64]  # 0 in eclipse, inf when none is forecast
    gpus_busy: NDArray[np.int64]
    power_available: NDArray[np.bool_]
    ready: NDArray[np.bool_]
    upsets_total: NDArray[np.int64]  # (N, 3) by UPSET_KINDS
    solar_energy_j_total: NDArray[np.float64]  # (N,) energy delivered by the array
    evictions_total: dict[str, int] = field(default_factory=dict)  # by reason
    pod_failures_total: dict[str, int] = field(default_factory=dict)  # by reason
    pods_by_phase: dict[str, int] = field(default_factory=dict)
    completed_gpu_seconds: float = 0.0  # useful work kept so far
    lost_gpu_seconds: float = 0.0
    energy_bound_gpu_seconds: float = 0.0  # what sunlight and batteries allowed so far
    jobs_completed: int = 0
    policy: str = "predictive"
    bus_brownout_seconds_total: NDArray[np.float64] | None = None  # (N,) at the hard reserve
    temperature_k: NDArray[np.float64] | None = None  # (N,) lumped; None without spec.thermal
    throttled_gpus: NDArray[np.int64] | None = None  # (N,) GPUs the radiator cannot carry now
    heat_rejected_j_total: NDArray[np.float64] | None = None  # (N,) radiated since the start
    downlink_backlog_bytes: NDArray[np.float64] | None = None  # (N,) results awaiting contact
    jobs: tuple[JobStats, ...] = ()  # every Job's report (time to finish, where time went)
    links_up: int | None = None  # inter-satellite links up now; None without spec.links

    @property
    def goodput_ratio(self) -> float:
        bound = self.energy_bound_gpu_seconds
        return self.completed_gpu_seconds / bound if bound > 0 else 0.0

    @property
    def sunlit(self) -> NDArray[np.bool_]:
        return self.illumination >= 1.0
