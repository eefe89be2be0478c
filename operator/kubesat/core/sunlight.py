"""Sunlight: conical Earth shadow with umbra and penumbra, and the fraction of Sun visible.

Geometry as seen from the satellite (Montenbruck & Gill, Satellite Orbits, 3.4.2): the Sun's
apparent radius a, the Earth's apparent radius b and their angular separation c. Full sun when
c >= a + b, umbra when c <= b - a, penumbra in between. Earth is a sphere of the WGS-84
equatorial radius (no atmosphere), as `kubesat forecast` documents.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

from kubesat.core.orbits import EARTH_RADIUS_KM

SUN_RADIUS_KM: Final = 695_700.0  # IAU 2015 nominal solar radius
# cos c below cos(a + b) by more than this: clearly in full sun (far above the ~1e-16
# rounding of either test, far below any real penumbra's width in cos c)
FULL_SUN_MARGIN: Final = 1e-9


def _shadow_cosines(
    sat_km: NDArray[np.float64], sun_km: NDArray[np.float64]
) -> tuple[
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
]:
    """cos c, and sines and cosines of the apparent radii a (Sun) and b (Earth)."""
    to_sun = sun_km - sat_km
    d_sun = np.sqrt(np.einsum("...i,...i->...", to_sun, to_sun))
    d_earth = np.sqrt(np.einsum("...i,...i->...", sat_km, sat_km))
    cos_c = -np.einsum("...i,...i->...", sat_km, to_sun) / (d_earth * d_sun)
    sin_a = SUN_RADIUS_KM / d_sun
    sin_b = np.minimum(EARTH_RADIUS_KM / d_earth, 1.0)
    return cos_c, sin_a, np.sqrt(1.0 - sin_a**2), sin_b, np.sqrt(1.0 - sin_b**2)


def shadow_margins_rad(
    sat_km: NDArray[np.float64], sun_km: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Angular margins (c - (a+b), c - (b-a)): >0 means outside penumbra / outside umbra.

    Smooth in time, so their zeros are the eclipse boundaries that root finding refines.
    """
    cos_c, sin_a, _, sin_b, _ = _shadow_cosines(sat_km, sun_km)
    c = np.arccos(np.clip(cos_c, -1.0, 1.0))
    a = np.arcsin(sin_a)
    b = np.arcsin(sin_b)
    return c - (a + b), c - (b - a)


def sunlit_mask(sat_km: NDArray[np.float64], sun_km: NDArray[np.float64]) -> NDArray[np.bool_]:
    """True where the whole solar disc is visible (penumbra counts as not sunlit).

    c >= a + b written as cos c <= cos(a + b): no inverse trigonometry in the hot path.
    """
    cos_c, sin_a, cos_a, sin_b, cos_b = _shadow_cosines(sat_km, sun_km)
    lit: NDArray[np.bool_] = cos_c <= cos_a * cos_b - sin_a * sin_b
    return lit


def illuminated_fraction(
    sat_km: NDArray[np.float64], sun_km: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Fraction of the solar disc visible from each satellite (0 in umbra, 1 in full sun).

    In penumbra, the area of the solar disc not covered by the Earth's disc (two circles of
    radii a and b at distance c, small-angle plane geometry). Arrays are (..., 3), same frame.
    """
    cos_c, sin_a, cos_a, sin_b, cos_b = _shadow_cosines(sat_km, sun_km)
    # clearly in full sun (c > a + b by more than rounding, without inverse trigonometry):
    # 1, as below; the geometry runs only for the rest (in LEO, under half the points)
    rest = ~(cos_c < cos_a * cos_b - sin_a * sin_b - FULL_SUN_MARGIN)
    out = np.ones(cos_c.shape)
    if rest.any():
        out[rest] = _disc_fraction(cos_c[rest], sin_a[rest], sin_b[rest])
    return out


def _disc_fraction(
    cos_c: NDArray[np.float64], sin_a: NDArray[np.float64], sin_b: NDArray[np.float64]
) -> NDArray[np.float64]:
    """`illuminated_fraction` from the separation's cosine and the discs' sines."""
    c = np.arccos(np.clip(cos_c, -1.0, 1.0))
    a = np.arcsin(sin_a)
    b = np.arcsin(sin_b)
    fraction = np.ones_like(c)
    partial = (c < a + b) & (c > np.abs(b - a))
    with np.errstate(invalid="ignore", divide="ignore"):
        x = (c**2 + a**2 - b**2) / (2.0 * c)
        y = np.sqrt(np.maximum(a**2 - x**2, 0.0))
        overlap = (
            a**2 * np.arccos(np.clip(x / a, -1.0, 1.0))
            + b**2 * np.arccos(np.clip((c - x) / b, -1.0, 1.0))
            - c * y
        )
    fraction = np.where(partial, 1.0 - overlap / (np.pi * a**2), fraction)
    covered = c <= np.abs(b - a)
    # Earth's disc (b > a in LEO) hides the Sun entirely: umbra.
    fraction = np.where(covered & (b >= a), 0.0, fraction)
    # Annular case (Sun larger than Earth, far beyond the Moon): a ring stays lit.
    fraction = np.where(covered & (b < a), 1.0 - (b / a) ** 2, fraction)
    return np.clip(fraction, 0.0, 1.0)
