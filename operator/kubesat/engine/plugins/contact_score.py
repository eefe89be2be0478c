"""Score ContactScore: a link-bound pod goes first to the longest contact left (up to ten
points at six hours); no opinion on other pods, or when contacts are not forecast."""

from __future__ import annotations

from typing import Final

import numpy as np

from kubesat.core.policy import RUNWAY_SCORE_CAP_SECONDS
from kubesat.engine.plugins.framework import FleetNow, PodShape, Points, Rows, Score, of_rows

WEIGHT: Final = 10.0


def longest_contact(fleet: FleetNow, pod: PodShape, rows: Rows | None) -> Points | None:
    left = fleet.view.contact_left_seconds
    if not pod.needs_link or left is None:
        return None
    part = WEIGHT * np.minimum(of_rows(left, rows), RUNWAY_SCORE_CAP_SECONDS)
    return np.asarray(part / RUNWAY_SCORE_CAP_SECONDS, dtype=np.float64)


CONTACT_SCORE = Score("ContactScore", longest_contact)
