"""Filter: a link-bound pod (`kubesat.io/needs-ground-link`) goes only to a satellite in
contact with a ground station."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.plugins.framework import FilterReason, FleetNow, PodShape


class GroundLink:
    name: ClassVar[str] = "GroundLink"
    reason: ClassVar[FilterReason] = FilterReason.NO_GROUND_LINK
    node_level: ClassVar[bool] = False

    def passes(self, fleet: FleetNow, pod: PodShape, ok: NDArray[np.bool_]) -> NDArray[np.bool_]:
        return fleet.view.link if pod.needs_link else ok
