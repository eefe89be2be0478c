"""Scores read straight off the view, each a weight times a share in [0, 1] (or a flag).

- LeastAllocated (1): the share of GPUs free, to spread load (kube-scheduler's
  LeastAllocated); `none` and `reactive` score by it.
- RunwayScore (4): the runway with the pod's GPUs added (power and heat), up to 6 h.
- BatteryScore (1): the battery's state of charge.
- LinkScore (0.5): in ground contact (results and checkpoints can go down).
- RadiationScore (-2): inside high radiation (the South Atlantic Anomaly: proton flux
  above the constellation's threshold), where upsets are likeliest.
- Packing (0.5): the share of GPUs busy, keeping whole satellites free for large pods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kubesat.core.policy import RUNWAY_SCORE_CAP_SECONDS, runway_with, thermal_runway_seconds
from kubesat.engine.plugins.framework import FleetNow, PodShape, Points, Rows, Score, of_rows

Share = Callable[[FleetNow, PodShape, Rows | None], NDArray[Any]]


def weighted(name: str, weight: float, share: Share, reads_runway: bool = False) -> Score:
    """A score of `weight` x `share` (bit for bit the product, whatever the weight)."""

    def points(fleet: FleetNow, pod: PodShape, rows: Rows | None) -> Points:
        return np.asarray(weight * share(fleet, pod, rows), dtype=np.float64)

    return Score(name, points, reads_runway)


def free_share(fleet: FleetNow, pod: PodShape, rows: Rows | None) -> NDArray[Any]:
    return of_rows(fleet.view.free_gpus, rows) / max(fleet.power.gpus, 1)


def busy_share(fleet: FleetNow, pod: PodShape, rows: Rows | None) -> NDArray[Any]:
    return 1.0 - free_share(fleet, pod, rows)


def runway_share(fleet: FleetNow, pod: PodShape, rows: Rows | None) -> NDArray[Any]:
    view = fleet.view
    loaded = of_rows(view.busy_gpus, rows) + pod.gpus
    runway = np.minimum(
        runway_with(fleet.power, view, loaded, rows), thermal_runway_seconds(view, loaded, rows)
    )
    return np.minimum(runway, RUNWAY_SCORE_CAP_SECONDS) / RUNWAY_SCORE_CAP_SECONDS


def charge_share(fleet: FleetNow, pod: PodShape, rows: Rows | None) -> NDArray[Any]:
    return of_rows(fleet.view.soc_wh, rows) / max(fleet.power.battery_wh, 1e-9)


def in_contact(fleet: FleetNow, pod: PodShape, rows: Rows | None) -> NDArray[Any]:
    return of_rows(fleet.view.link, rows)


def in_high_radiation(fleet: FleetNow, pod: PodShape, rows: Rows | None) -> NDArray[Any]:
    return of_rows(fleet.view.high_radiation, rows)


LEAST_ALLOCATED = weighted("LeastAllocated", 1.0, free_share)
RUNWAY_SCORE = weighted("RunwayScore", 4.0, runway_share, reads_runway=True)
BATTERY_SCORE = weighted("BatteryScore", 1.0, charge_share)
LINK_SCORE = weighted("LinkScore", 0.5, in_contact)
RADIATION_SCORE = weighted("RadiationScore", -2.0, in_high_radiation)
PACKING = weighted("Packing", 0.5, busy_share)
