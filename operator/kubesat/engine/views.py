"""What the policy's plugins see of the fleet now: the `FleetView` of the state and the
environment's column, with the runway table when the policy reads runways."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from kubesat.core.policy import FleetView, runway_table
from kubesat.core.thermal import seconds_to_max_temperature
from kubesat.engine.environment import Column
from kubesat.engine.state import FleetState


def fleet_view(
    s: FleetState, column: Column, allocated: NDArray[np.int64] | None = None
) -> FleetView:
    """What the policy sees of every satellite now; `allocated`: the GPUs of the pods
    bound to each satellite, when a shell knows them better (pods bound, not running)."""
    busy = s.busy_gpus()
    if allocated is None:
        free, held = s.free_gpus(), busy
    else:
        free = np.maximum(s.healthy_gpus() - allocated, 0).astype(np.int64)
        held = allocated
    if s.thermal is not None:
        # GPUs the radiator cannot carry are held off, as a hung GPU is
        free = np.minimum(free, np.maximum(s.heat_limit_gpus - held, 0))
    return FleetView(
        illumination=column.illumination,
        soc_wh=s.soc.copy(),
        busy_gpus=busy,
        free_gpus=free,
        link=column.link,
        high_radiation=column.flux > s.config.saa_flux_threshold,
        seconds_to_shadow=column.seconds_to_shadow,
        shadow_seconds=column.shadow_seconds,
        powered=s.powered.copy(),
        ready=s.ready,
        upset=s.upset,
        thermal_seconds=thermal_forecast(s),
        throttling=s.throttling.copy() if s.thermal is not None else None,
        contact_left_seconds=(
            None
            if column.contact_seconds is None
            else np.where(column.link, column.contact_seconds, 0.0)
        ),
        runway_by_gpus=runway_lookup(s, column),
    )


def runway_lookup(s: FleetState, column: Column) -> NDArray[np.float64] | None:
    """The runway with 0..K GPUs busy on every satellite now, when the policy reads
    runways (K: every GPU, plus the largest gang member when gangs run, whose placement
    scores full satellites too), kept while the battery and forecast are the same
    objects (the drain and the placement of one step share it)."""
    if not s.plugins.reads_runway:
        return None
    inputs = (s.soc, column.seconds_to_shadow, column.shadow_seconds)
    most = s.g + max((spec.gpus_per_pod for spec in s.jobs if spec.gang), default=0)
    cached = s.runway_cache
    if (
        cached is not None
        and all(a is b for a, b in zip(cached[0], inputs, strict=True))
        and cached[1].shape[1] > most
    ):
        return cached[1]
    table = runway_table(s.power, *inputs, most)
    s.runway_cache = (inputs, table)
    return table


def thermal_forecast(s: FleetState) -> NDArray[np.float64] | None:
    """(N, gpus + 1): seconds until the maximum temperature with 0..gpus GPUs busy, in
    full sunlight (the hotter case) from each satellite's temperature now."""
    if s.thermal is None:
        return None
    p = s.power
    heat = p.bus_power_w + np.arange(s.g + 1) * p.gpu_power_w + float(s.thermal.environment_w(1.0))
    return seconds_to_max_temperature(s.thermal, s.temperature_k[:, None], heat[None, :])
