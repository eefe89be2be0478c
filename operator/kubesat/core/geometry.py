"""The Sun and the Earth's rotation on a time grid, expressed in SGP4's TEME frame.

Shadow and visibility geometry is invariant under rotation, so rather than rotating every
satellite position (N x T) into GCRS or ITRS, the Sun (T) and the Earth's rotation angle (T)
are brought into TEME once. Off-grid instants (boundary refinement) interpolate linearly:
the Sun moves 0.04° in TEME per minute and the GMST angle is linear in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from kubesat.core.ephemeris import sun_gcrs_km
from kubesat.core.timebase import TimeGrid

TIME_CHUNK = 1024  # instants per Skyfield call when building a Sky


@dataclass(frozen=True)
class Sky:
    """Sun position and Earth rotation angle over a grid, in the TEME frame."""

    grid: TimeGrid
    sun_teme_km: NDArray[np.float64]  # (T, 3)
    gmst_rad: NDArray[np.float64]  # (T,), unwrapped: TEME -> ITRS is a z-rotation by -gmst

    @classmethod
    def on(cls, grid: TimeGrid) -> Sky:
        """Compute the Sun (DE421, light-time corrected) and GMST 1982 at each grid instant.

        TEME from GCRS is Skyfield's rotation (AIAA 2006-6753 appendix C); mixing frames
        would move shadow boundaries by up to ~15 s.
        """
        from skyfield.sgp4lib import TEME, theta_GMST1982

        sun = sun_gcrs_km(grid)
        sun_teme = np.empty_like(sun)
        theta = np.empty(len(grid))
        # Skyfield's precession-nutation matrices take ~20 kB an instant: go in chunks
        for start in range(0, len(grid), TIME_CHUNK):
            part = slice(start, min(start + TIME_CHUNK, len(grid)))
            t = grid.skyfield_times(grid.offsets_seconds[part])
            gcrs_to_teme = np.asarray(TEME.rotation_at(t), dtype=np.float64).reshape(3, 3, -1)
            sun_teme[part] = np.einsum("ijt,tj->ti", gcrs_to_teme, sun[part])
            theta[part] = np.atleast_1d(theta_GMST1982(t.whole, t.ut1_fraction)[0])
        return cls(grid, np.ascontiguousarray(sun_teme), np.unwrap(theta))

    def sun_at(self, offsets_seconds: NDArray[np.float64]) -> NDArray[np.float64]:
        """Sun position (K, 3) in TEME at arbitrary offsets within the grid."""
        x = self.grid.offsets_seconds
        return np.stack(
            [np.interp(offsets_seconds, x, self.sun_teme_km[:, j]) for j in range(3)], axis=-1
        )

    def gmst_at(self, offsets_seconds: NDArray[np.float64]) -> NDArray[np.float64]:
        """GMST 1982 angle (K,) at arbitrary offsets within the grid."""
        return np.interp(offsets_seconds, self.grid.offsets_seconds, self.gmst_rad)
