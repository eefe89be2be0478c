"""Filter: a link-bound pod goes only where the contact left (when known) covers its
restore, the checkpoint written before loss of signal, and the margin."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.plugins.framework import FilterReason, FleetNow, PodShape


class ContactTime:
    name: ClassVar[str] = "ContactTime"
    reason: ClassVar[FilterReason] = FilterReason.CONTACT_TOO_SHORT
    node_level: ClassVar[bool] = False

    def passes(self, fleet: FleetNow, pod: PodShape, ok: NDArray[np.bool_]) -> NDArray[np.bool_]:
        left = fleet.view.contact_left_seconds
        if not pod.needs_link or left is None:
            return ok
        return left >= pod.contact_seconds
