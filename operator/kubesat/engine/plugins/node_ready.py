"""Filter: the satellite's node is Ready (not power-cycling after a latch-up, not
rebooting its payload after a low-voltage disconnect)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.plugins.framework import FilterReason, FleetNow, PodShape


class NodeReady:
    name: ClassVar[str] = "NodeReady"
    reason: ClassVar[FilterReason] = FilterReason.NOT_READY
    node_level: ClassVar[bool] = True

    def passes(self, fleet: FleetNow, pod: PodShape, ok: NDArray[np.bool_]) -> NDArray[np.bool_]:
        return fleet.view.ready
