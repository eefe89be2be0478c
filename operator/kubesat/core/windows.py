"""Time windows from sampled margins: sign changes on the grid, refined by root finding.

A margin is a smooth function of time whose sign says whether a satellite is inside a
window (in shadow, above a station's mask). The grid finds the brackets; the Illinois
variant of regula falsi (Dowell & Jarratt 1971) refines every boundary at once, vectorised
over events, to a tolerance well under a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Evaluate = Callable[[NDArray[np.int64], NDArray[np.float64]], NDArray[np.float64]]


@dataclass(frozen=True)
class Intervals:
    """Windows as parallel arrays, sorted by satellite then start time (offsets in seconds)."""

    satellite: NDArray[np.int64]
    start_seconds: NDArray[np.float64]
    end_seconds: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.satellite.shape[0])

    def of(self, satellite: int) -> list[tuple[float, float]]:
        """The (start, end) pairs of one satellite."""
        chosen = self.satellite == satellite
        return list(zip(self.start_seconds[chosen], self.end_seconds[chosen], strict=True))

    @classmethod
    def concat(cls, parts: list[Intervals]) -> Intervals:
        if not parts:
            return cls.empty()
        satellite = np.concatenate([p.satellite for p in parts])
        start = np.concatenate([p.start_seconds for p in parts])
        end = np.concatenate([p.end_seconds for p in parts])
        order = np.lexsort((start, satellite))
        return cls(satellite[order], start[order], end[order])

    @classmethod
    def empty(cls) -> Intervals:
        return cls(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))

    def shifted(self, satellite_offset: int) -> Intervals:
        return Intervals(self.satellite + satellite_offset, self.start_seconds, self.end_seconds)


def refine_roots(
    evaluate: Evaluate,
    satellite: NDArray[np.int64],
    t_lo: NDArray[np.float64],
    t_hi: NDArray[np.float64],
    g_lo: NDArray[np.float64],
    g_hi: NDArray[np.float64],
    tolerance_seconds: float = 1e-3,
    max_iterations: int = 60,
) -> NDArray[np.float64]:
    """Roots of `evaluate(satellite, t)` bracketed by [t_lo, t_hi] (opposite signs)."""
    t_lo, t_hi = t_lo.astype(np.float64).copy(), t_hi.astype(np.float64).copy()
    g_lo, g_hi = g_lo.astype(np.float64).copy(), g_hi.astype(np.float64).copy()
    side = np.zeros(t_lo.shape, dtype=np.int8)  # which end was kept last time (Illinois)
    active = np.flatnonzero(t_hi - t_lo > tolerance_seconds)
    for _ in range(max_iterations):
        if active.size == 0:
            break
        lo, hi, glo, ghi = t_lo[active], t_hi[active], g_lo[active], g_hi[active]
        denominator = ghi - glo
        t_new = np.where(denominator != 0, lo - glo * (hi - lo) / denominator, 0.5 * (lo + hi))
        # keep the step strictly inside the bracket, falling back to bisection
        t_new = np.where((t_new > lo) & (t_new < hi), t_new, 0.5 * (lo + hi))
        g_new = evaluate(satellite[active], t_new)
        same_as_lo = np.sign(g_new) == np.sign(glo)
        # replace the end whose sign matches; halve the other end's value if kept twice
        t_lo[active] = np.where(same_as_lo, t_new, lo)
        g_lo[active] = np.where(same_as_lo, g_new, np.where(side[active] == -1, glo, glo * 0.5))
        t_hi[active] = np.where(same_as_lo, hi, t_new)
        g_hi[active] = np.where(same_as_lo, np.where(side[active] == 1, ghi, ghi * 0.5), g_new)
        side[active] = np.where(same_as_lo, 1, -1)
        exact = g_new == 0
        t_lo[active[exact]] = t_new[exact]
        t_hi[active[exact]] = t_new[exact]
        active = active[(t_hi[active] - t_lo[active]) > tolerance_seconds]
    # the root lies where the linear model puts it within the final small bracket
    denominator = g_hi - g_lo
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.where(denominator != 0, t_lo - g_lo * (t_hi - t_lo) / denominator, t_lo)
    return np.clip(np.where(np.isfinite(root), root, 0.5 * (t_lo + t_hi)), t_lo, t_hi)


def windows_where_positive(
    margin: NDArray[np.float64],
    offsets_seconds: NDArray[np.float64],
    evaluate: Evaluate | None,
    tolerance_seconds: float = 1e-3,
) -> Intervals:
    """Windows where `margin` (N, T) > 0, clipped to the grid, boundaries refined.

    Without `evaluate` the boundaries are interpolated linearly between samples.
    """
    inside = margin > 0
    change = np.diff(inside.astype(np.int8), axis=1)
    sat, step = np.nonzero(change)
    g_lo = margin[sat, step]
    g_hi = margin[sat, step + 1]
    t_lo = offsets_seconds[step]
    t_hi = offsets_seconds[step + 1]
    if evaluate is not None and sat.size:
        crossing = refine_roots(
            evaluate, sat.astype(np.int64), t_lo, t_hi, g_lo, g_hi, tolerance_seconds
        )
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            crossing = t_lo - g_lo * (t_hi - t_lo) / (g_hi - g_lo)
    entering = change[sat, step] > 0
    starts_sat = np.concatenate([np.flatnonzero(inside[:, 0]), sat[entering]])
    starts_t = np.concatenate(
        [np.full(int(inside[:, 0].sum()), offsets_seconds[0]), crossing[entering]]
    )
    ends_sat = np.concatenate([sat[~entering], np.flatnonzero(inside[:, -1])])
    ends_t = np.concatenate(
        [crossing[~entering], np.full(int(inside[:, -1].sum()), offsets_seconds[-1])]
    )
    start_order = np.lexsort((starts_t, starts_sat))
    end_order = np.lexsort((ends_t, ends_sat))
    return Intervals(
        starts_sat[start_order].astype(np.int64), starts_t[start_order], ends_t[end_order]
    )


def golden_section_max(
    evaluate: Evaluate,
    satellite: NDArray[np.int64],
    t_lo: NDArray[np.float64],
    t_hi: NDArray[np.float64],
    tolerance_seconds: float = 0.05,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Time and value of the maximum of a unimodal function on each [t_lo, t_hi]."""
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = t_lo.astype(np.float64).copy(), t_hi.astype(np.float64).copy()
    c = b - ratio * (b - a)
    d = a + ratio * (b - a)
    fc, fd = evaluate(satellite, c), evaluate(satellite, d)
    iterations = (
        int(
            np.ceil(
                np.log(max(float(np.max(b - a, initial=0.0)), 1e-9) / tolerance_seconds)
                / -np.log(ratio)
            )
        )
        + 1
    )
    for _ in range(max(iterations, 0)):
        left = fc > fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        new_c = b - ratio * (b - a)
        new_d = a + ratio * (b - a)
        # one of c, d is reused; evaluating both keeps the arrays simple and costs little
        c, d = new_c, new_d
        fc, fd = evaluate(satellite, c), evaluate(satellite, d)
    t = 0.5 * (a + b)
    return t, evaluate(satellite, t)
