"""Where AP8 can give a nonzero proton flux: a mask of the flux grid's spline sub-cells.

In LEO nine points in ten lie outside the radiation belts, where AP8 gives exactly zero,
yet each costs two tricubic spline lookups and an AP8 call. This mask lets
`ProtonFluxGrid.flux` skip them without changing a value:

- Within a sub-cell each spline piece lies inside the convex hull of its Bezier control
  points (Farin, *Curves and Surfaces for CAGD*, ch. 15), so their extremes bound 1/L
  and |B| there, hence L and B/B0.
- At a given L, AP8's trapped flux falls as B/B0 grows (particles mirror lower down the
  field line), so it is zero from a cutoff B/B0 on. A fine table of that cutoff over L
  gives, per sub-cell, the largest cutoff across its L range.
- A sub-cell is outside the belts when its lowest B/B0 is at or above that cutoff, both
  with a margin. `tests/unit/test_belts.py` checks the premise and the result: the
  masked flux equals the full evaluation at millions of random points, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
FluxAt = Callable[[FloatArray, FloatArray], FloatArray]  # AP8 flux at (L, B/B0)

# Sub-cells per grid cell along (altitude, latitude, longitude): 50 km x 1° x 2° on the
# default 100 km x 2° x 4° grid. Measured on a 550 km Walker shell, where 10.6% of the
# points see protons: 54% of the points lie in belt cells without subdividing, 30% with
# this (the mask takes ~9 s to build, once per model and energy), 25% with (4, 2, 4) (~30 s).
SUBCELLS: Final = (2, 2, 2)  # powers of two (`subcell_index` relies on it)
MARGIN: Final = 0.01  # relative widening of the L range and lowering of B/B0
CUTOFF_L_POINTS: Final = 20_000  # the cutoff table's L nodes (log-spaced)
CUTOFF_BISECTIONS: Final = 48
MIN_B_OVER_B0: Final = 1.0  # B/B0 >= 1 everywhere (B0 is the field line's minimum)
MAX_B_OVER_B0: Final = 1e6  # above any LEO value (where no AP8 flux is left)
SPLINE_SUPPORT: Final = 4  # coefficients a cubic B-spline piece depends on, per axis

_BSPLINE_TO_BEZIER: Final = np.array([[1, 4, 1, 0], [0, 4, 2, 0], [0, 2, 4, 0], [0, 1, 4, 1]]) / 6


def _blossom_weights(t: tuple[float, float, float]) -> FloatArray:
    """Weights of a cubic Bezier's 4 control points in its blossom at (t1, t2, t3)."""
    weights = np.eye(SPLINE_SUPPORT)
    for ti in t:  # de Casteljau, one parameter per level
        weights = (1.0 - ti) * weights[:-1] + ti * weights[1:]
    return np.asarray(weights[0], dtype=np.float64)


def piece_matrices(pieces: int) -> FloatArray:
    """(pieces, 4, 4): from 4 B-spline coefficients to the Bezier control points of each
    of `pieces` equal parts of their piece."""
    out = []
    for j in range(pieces):
        u0, u1 = j / pieces, (j + 1) / pieces
        corners = ((u0, u0, u0), (u0, u0, u1), (u0, u1, u1), (u1, u1, u1))
        out.append(np.array([_blossom_weights(t) for t in corners]) @ _BSPLINE_TO_BEZIER)
    return np.array(out)


def _control_points_along(values: FloatArray, axis: int, pieces: int) -> FloatArray:
    """Bezier control points of the sub-pieces along `axis`: that axis becomes
    (n - 3) x pieces long and a new last axis of 4 holds the points."""
    moved = np.moveaxis(values, axis, 0)
    n = moved.shape[0] - (SPLINE_SUPPORT - 1)
    matrices = piece_matrices(pieces)  # (p, 4 points, 4 coefficients)
    points = np.zeros((n, pieces, *moved.shape[1:], SPLINE_SUPPORT), dtype=values.dtype)
    tail = (1,) * (moved.ndim - 1)
    for k in range(SPLINE_SUPPORT):  # a sum of 4 shifted slices (contiguous, no copies)
        weights = matrices[:, :, k].reshape(pieces, *tail, SPLINE_SUPPORT)
        points += moved[k : k + n, None, ..., None] * weights
    points = points.reshape((n * pieces, *moved.shape[1:], SPLINE_SUPPORT))
    return np.moveaxis(points, 0, axis)


def spline_bounds(
    coefficients: FloatArray, subcells: tuple[int, int, int] = SUBCELLS
) -> tuple[FloatArray, FloatArray]:
    """Lowest and highest value of a tricubic spline (coefficients as `map_coordinates`
    takes them, prefilter=False) in each sub-cell: sub-cell i along an axis with p
    sub-cells per cell covers coordinates [1 + i / p, 1 + (i + 1) / p]."""
    pa, pl, po = subcells
    shape = tuple((n - 3) * p for n, p in zip(coefficients.shape, subcells, strict=True))
    low, high = np.empty(shape), np.empty(shape)
    for cell in range(coefficients.shape[0] - 3):  # one altitude cell at a time
        slab = _control_points_along(coefficients[cell : cell + SPLINE_SUPPORT], 0, pa)
        for j in range(pa):
            points = _control_points_along(slab[j], 0, pl)  # latitude
            points = _control_points_along(points, 1, po)  # longitude
            points = points.reshape((*points.shape[:2], -1))
            low[cell * pa + j], high[cell * pa + j] = points.min(axis=-1), points.max(axis=-1)
    return low, high


def cutoff_table(flux_at: FluxAt, max_l: float) -> tuple[FloatArray, FloatArray]:
    """(L nodes, the smallest B/B0 at which AP8 is zero at each), by bisection in log B/B0."""
    l_nodes = np.geomspace(1.0, max_l, CUTOFF_L_POINTS)
    low = np.full(l_nodes.shape, np.log(MIN_B_OVER_B0))
    high = np.full(l_nodes.shape, np.log(MAX_B_OVER_B0))
    zero_at_low = flux_at(l_nodes, np.exp(low)) <= 0.0
    for _ in range(CUTOFF_BISECTIONS):
        middle = 0.5 * (low + high)
        zero = flux_at(l_nodes, np.exp(middle)) <= 0.0
        high = np.where(zero, middle, high)
        low = np.where(zero, low, middle)
    cutoff = np.where(zero_at_low, MIN_B_OVER_B0, np.exp(high))
    never_zero = flux_at(l_nodes, np.full(l_nodes.shape, MAX_B_OVER_B0)) > 0.0
    return l_nodes, np.where(never_zero, np.inf, cutoff)


def _range_max(values: FloatArray, first: NDArray[np.intp], last: NDArray[np.intp]) -> FloatArray:
    """max(values[first..last]) for each pair (inclusive), from a sparse table."""
    levels = [values]
    while 2 ** len(levels) <= len(values):
        half = 2 ** (len(levels) - 1)
        previous = levels[-1]
        levels.append(np.maximum(previous[:-half], previous[half:]))
    span = last - first + 1
    level = np.floor(np.log2(span)).astype(np.intp)
    out = np.empty(first.shape)
    for k in np.unique(level):
        where = level == k
        table = levels[int(k)]
        out[where] = np.maximum(table[first[where]], table[last[where] - 2**k + 1])
    return out


def belt_subcells(
    inv_l_coef: FloatArray,
    b_coef: FloatArray,
    flux_at: FluxAt,
    max_l: float,
    dipole_b0_nt: float,
    subcells: tuple[int, int, int] = SUBCELLS,
) -> NDArray[np.bool_]:
    """True for the sub-cells where AP8 may give a nonzero flux (see the module)."""
    if any(p < 1 or p & (p - 1) for p in subcells):
        raise ValueError(f"subcells: must be powers of two, got {subcells}")
    inv_l_low, inv_l_high = spline_bounds(inv_l_coef, subcells)
    b_low, _ = spline_bounds(b_coef, subcells)
    l_low = 1.0 / np.maximum(inv_l_high, 1.0 / max_l)  # L = 1 / clip(1/L), as the grid does
    l_high = 1.0 / np.maximum(inv_l_low, 1.0 / max_l)
    beta_low = np.maximum(b_low, 0.0) * l_low**3 / dipole_b0_nt
    l_nodes, cutoff = cutoff_table(flux_at, max_l)
    last_node = len(l_nodes) - 1
    wide_low, wide_high = (l_low * (1.0 - MARGIN)).ravel(), (l_high * (1.0 + MARGIN)).ravel()
    first = np.clip(np.searchsorted(l_nodes, wide_low, side="right") - 1, 0, last_node)
    last = np.clip(np.searchsorted(l_nodes, wide_high, side="left"), first, last_node)
    highest_cutoff = _range_max(cutoff, first, last).reshape(l_low.shape)
    return ~(beta_low * (1.0 - MARGIN) >= highest_cutoff)


def subcell_index(
    coords: FloatArray, subcells: tuple[int, int, int] = SUBCELLS
) -> NDArray[np.intp]:
    """(3, M) sub-cell indices of (3, M) spline coordinates, on the piece `map_coordinates`
    uses (the one of floor(coordinate)), so a point on a cell edge is never misplaced.

    floor(c x p) - p: with p a power of two, c x p is exact, so it splits into
    floor(c) x p (the piece) plus the sub-cell within it.
    """
    parts = np.asarray(subcells, dtype=np.float64)[:, None]
    return np.asarray(np.floor(coords * parts) - parts, dtype=np.intp)


def flat_subcell_index(
    coords: FloatArray, shape: tuple[int, ...], subcells: tuple[int, int, int] = SUBCELLS
) -> NDArray[np.intp]:
    """`subcell_index` as one index into a mask of `shape` raveled (fewer passes)."""
    (pa, pl, po), (_, nl, no) = subcells, shape
    index = np.floor(coords[0] * pa) - pa
    index *= nl
    index += np.floor(coords[1] * pl) - pl
    index *= no
    index += np.floor(coords[2] * po) - po
    return np.asarray(index, dtype=np.intp)
