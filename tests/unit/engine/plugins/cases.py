"""A small fleet with known numbers for the plugin tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from kubesat.engine.plugins.framework import FleetNow
from tests.unit.power_cases import HALF_DOD as POWER
from tests.unit.power_cases import view


def fleet(**overrides: Any) -> FleetNow:
    """`power_cases.view` of `HALF_DOD` satellites (4 GPUs, 1 kWh at 50% depth)."""
    return FleetNow(POWER, view(**overrides))


def everyone(now: FleetNow) -> np.ndarray:
    return np.ones(now.view.ready.shape, bool)


__all__ = ["POWER", "everyone", "fleet", "view"]
