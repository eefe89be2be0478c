"""What the policy lets the fleet take now: per satellite, how many pods of one shape
(its filters and caps) and how it scores; and the best satellites for some pods."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from kubesat.core.policy import FleetView
from kubesat.engine.plugins.framework import Counts, FleetNow, Mask, PodShape, Points, Rows
from kubesat.engine.state import FleetState


def with_gpus(s: FleetState, view: FleetView, free: Counts, busy: Counts) -> FleetNow:
    """The fleet now as the policy sees it, with these free and busy GPUs per satellite."""
    return FleetNow(s.power, replace(view, free_gpus=free, busy_gpus=busy))


def placements(
    s: FleetState, fleet: FleetNow, pod: PodShape, count: int, allowed: Mask | None
) -> Rows:
    """Satellites for up to `count` pods of `pod`'s shape, best first (one entry per pod):
    the policy's filters, its caps on pods per satellite, and its scores."""
    capacity, points = capacity_of(s, fleet, pod, allowed)
    ok = capacity > 0
    if not ok.any():
        return np.zeros(0, np.int64)
    order = np.argsort(-points[ok], kind="stable")
    nodes = np.flatnonzero(ok)[order]
    return np.repeat(nodes, capacity[nodes])[:count].astype(np.int64)


def capacity_of(
    s: FleetState, fleet: FleetNow, pod: PodShape, allowed: Mask | None, every_score: bool = False
) -> tuple[Counts, Points]:
    """Per satellite, how many pods of `pod`'s shape the policy lets it take now (its
    filters and caps), and the policy's score of it: of every satellite with
    `every_score` (a gang's placement weighs them all), else of those the filters let
    through (0 elsewhere; only they can take a pod)."""
    policy = s.plugins
    ok = policy.feasible(fleet, pod)
    if allowed is not None:
        ok &= allowed
    if not ok.any():
        return np.zeros(s.n, np.int64), np.zeros(s.n)
    rows = np.flatnonzero(ok)
    fits = policy.caps[0].most_pods(fleet, pod, rows)
    for cap in policy.caps[1:]:
        fits = np.minimum(fits, cap.most_pods(fleet, pod, rows))
    capacity = np.zeros(s.n, np.int64)
    capacity[rows] = fits
    if every_score:
        points = policy.score(fleet, pod)
    else:
        points = np.zeros(s.n)
        points[rows] = policy.score(fleet, pod, rows)
    return capacity, np.asarray(points, np.float64)
