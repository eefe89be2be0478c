"""Sun positions from the DE421 ephemeris shipped by the `skyfield-data` package (offline)."""

from __future__ import annotations

import atexit
import warnings
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kubesat.core.timebase import TimeGrid


@lru_cache(maxsize=1)
def _ephemeris() -> Any:
    """Load de421.bsp from skyfield-data's own folder: no download, no expiry."""
    from skyfield.api import Loader

    with warnings.catch_warnings():
        # skyfield-data warns that its bundled finals2000A.all has expired; kubesat never
        # reads that file (Skyfield's builtin timescale is used), only de421.bsp (1900-2050).
        warnings.filterwarnings("ignore", message=".*has expired.*", category=RuntimeWarning)
        from skyfield_data import get_skyfield_data_path

        path = get_skyfield_data_path()
    kernel = Loader(path, verbose=False)("de421.bsp")
    atexit.register(kernel.close)
    return kernel


def sun_gcrs_km(grid: TimeGrid) -> NDArray[np.float64]:
    """Geocentric position of the Sun (T, 3), km, GCRS, corrected for light time.

    The shadow a satellite sees is cast by the light that left the Sun 8.3 minutes ago,
    so the astrometric (light-time corrected) position is the physically right one.
    """
    eph = _ephemeris()
    t = grid.skyfield_times()
    position = eph["earth"].at(t).observe(eph["sun"]).position.km
    return np.ascontiguousarray(np.asarray(position, dtype=np.float64).T)
