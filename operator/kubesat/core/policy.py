"""What the scheduling policies read: the fleet's view now and the runway arithmetic.

Pure functions over per-satellite arrays. The policies themselves (`none`, `reactive`,
`predictive`) are named lists of plugins in `kubesat.engine.plugins.registry`; the
predictive ones read the runway worked out here: how long a satellite can carry some
GPUs on sunlight plus battery (the bus served first), and how long before its maximum
temperature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from kubesat.core.power import SECONDS_PER_HOUR, PowerSystem

POLICIES: Final = ("none", "reactive", "predictive")
RUNWAY_SCORE_CAP_SECONDS: Final = 6 * 3600.0


@dataclass(frozen=True)
class FleetView:
    """What a policy sees of every satellite at one instant (arrays of shape (N,))."""

    illumination: NDArray[np.float64]  # fraction of the solar disc visible now
    soc_wh: NDArray[np.float64]  # battery energy stored
    busy_gpus: NDArray[np.int64]  # GPUs running or checkpointing pods
    free_gpus: NDArray[np.int64]  # healthy GPUs not allocated
    link: NDArray[np.bool_]  # in contact with a ground station
    high_radiation: NDArray[np.bool_]  # inside the SAA (flux above threshold)
    seconds_to_shadow: NDArray[np.float64]  # 0 when already out of full sun
    shadow_seconds: NDArray[np.float64]  # length of the coming (or remaining) shadow
    powered: NDArray[np.bool_]  # battery above its floor (no power loss in progress)
    ready: NDArray[np.bool_]  # not power-cycling after a latch-up
    upset: NDArray[np.bool_]  # recovering from a radiation upset
    # (N, gpus + 1): seconds until the maximum temperature with 0..gpus GPUs busy (the
    # thermal forecast); None without a thermal model
    thermal_seconds: NDArray[np.float64] | None = None
    # the radiator cannot carry every GPU now (node condition ThermalThrottling)
    throttling: NDArray[np.bool_] | None = None
    # seconds of ground contact left (0 out of contact); None: not known
    contact_left_seconds: NDArray[np.float64] | None = None
    # (N, K + 1): `runway_table` of soc_wh, seconds_to_shadow and shadow_seconds (the
    # runway with 0..K GPUs busy), computed once for the instant; None: computed per call
    runway_by_gpus: NDArray[np.float64] | None = None


def required_contact_seconds(checkpoint_write_seconds: float, margin_seconds: float) -> float:
    """Contact a satellite must have left before a link-bound pod is placed there: the
    restore and the checkpoint written before loss of signal, and the margin twice (the
    drain leaves that much before LOS, and the pod should do some work in between)."""
    return 2.0 * checkpoint_write_seconds + 2.0 * margin_seconds


def thermal_runway_seconds(
    view: FleetView, gpus: NDArray[np.int64], rows: NDArray[np.int64] | None = None
) -> NDArray[np.float64]:
    """Per satellite (or per satellite of `rows`), seconds until the maximum temperature
    with `gpus` GPUs busy (inf without a thermal model)."""
    if view.thermal_seconds is None:
        return np.full(gpus.shape, np.inf)
    top = view.thermal_seconds.shape[1] - 1
    if rows is None:
        rows = np.arange(view.thermal_seconds.shape[0])
    out: NDArray[np.float64] = view.thermal_seconds[rows, np.clip(gpus, 0, top)]
    return np.where(gpus > top, 0.0, out)


def runway_seconds(
    power: PowerSystem,
    soc_wh: NDArray[np.float64],
    gpus: NDArray[np.float64],
    seconds_to_shadow: NDArray[np.float64],
    shadow_seconds: NDArray[np.float64],
) -> NDArray[np.float64]:
    """How long `gpus` GPUs can keep running from now on sunlight plus battery, leaving
    the bus the energy it needs to the forecast sunrise.

    Analytic over the forecast: full sun for `seconds_to_shadow` (charging or draining at
    the net power), then no sun for `shadow_seconds` (penumbra counted as shadow, the safe
    side). The bus is served first, so the GPUs may spend only the battery above its floor
    less the bus's energy for the whole coming shadow. `inf` when the battery carries the
    GPUs and the bus through the shadow. Broadcasts.
    """
    de = power.discharge_efficiency
    floor_wh = power.battery_wh * (1.0 - power.depth_of_discharge)
    gpu_w = np.asarray(gpus, dtype=np.float64) * power.gpu_power_w
    load_w = power.bus_power_w + gpu_w
    net_sun_w = power.solar_array_w - load_w
    tau = np.asarray(seconds_to_shadow, dtype=np.float64)
    shadow = np.asarray(shadow_seconds, dtype=np.float64)
    stored_wh = np.asarray(soc_wh, dtype=np.float64)
    usable_wh = np.maximum(stored_wh - floor_wh, 0.0)
    # stored energy the bus needs for the coming shadow (none forecast: nothing to keep)
    bus_keep_wh = np.where(
        np.isfinite(tau), power.bus_power_w * shadow / SECONDS_PER_HOUR / de, 0.0
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        # sunlit part: charge (capped at full; a battery below its floor refills that gap
        # first) or drain at the net power
        after_sun_wh = np.where(
            net_sun_w >= 0,
            np.minimum(
                stored_wh + net_sun_w * power.charge_efficiency * tau / SECONDS_PER_HOUR,
                power.battery_wh,
            ),
            stored_wh + net_sun_w * tau / SECONDS_PER_HOUR / de,
        )
        sun_runway = np.where(
            net_sun_w >= 0,
            np.inf,
            np.maximum(usable_wh - bus_keep_wh, 0.0) * de * SECONDS_PER_HOUR / -net_sun_w,
        )
        at_entry_wh = np.maximum(after_sun_wh - floor_wh, 0.0)
        # in the shadow the GPUs get what is left above the bus's need for all of it
        for_gpus_j = (at_entry_wh - bus_keep_wh) * de * SECONDS_PER_HOUR
        dark_runway = np.where(
            gpu_w > 0,
            np.maximum(for_gpus_j, 0.0) / gpu_w,
            np.where(
                for_gpus_j >= 0,
                np.inf,
                at_entry_wh * de * SECONDS_PER_HOUR / max(power.bus_power_w, 1e-9),
            ),
        )
        runway = np.where(
            sun_runway < tau,
            sun_runway,
            np.where(dark_runway >= shadow, np.inf, tau + dark_runway),
        )
    # no shadow in the forecast: only the sunlit balance matters
    runway = np.where(np.isinf(tau), sun_runway, runway)
    return np.asarray(runway, dtype=np.float64)


RUNWAY_TABLE_ROWS: Final = 2048  # satellites per block of the runway table (fastest measured)


def runway_table(
    power: PowerSystem,
    soc_wh: NDArray[np.float64],
    seconds_to_shadow: NDArray[np.float64],
    shadow_seconds: NDArray[np.float64],
    most_gpus: int,
) -> NDArray[np.float64]:
    """(N, most_gpus + 1): per satellite, `runway_seconds` with 0..most_gpus GPUs busy.

    The same numbers as calling `runway_seconds` per count, bit for bit (the same
    operations on the same values), computed once per step for the whole fleet: a policy
    that asks for many counts at one instant looks them up here instead
    (`FleetView.runway_by_gpus`). Which branch of the sunlit balance applies depends only
    on the count, so each group of counts computes only its own; rows go in blocks whose
    temporaries stay in the CPU's cache.
    """
    soc, tau, shadow = (
        np.asarray(a, dtype=np.float64) for a in (soc_wh, seconds_to_shadow, shadow_seconds)
    )
    out = np.empty((soc.shape[0], most_gpus + 1))
    for lo in range(0, soc.shape[0], RUNWAY_TABLE_ROWS):
        rows = slice(lo, lo + RUNWAY_TABLE_ROWS)
        out[rows] = _runway_rows(power, soc[rows], tau[rows], shadow[rows], most_gpus)
    return out


def _runway_rows(
    power: PowerSystem,
    soc_wh: NDArray[np.float64],
    seconds_to_shadow: NDArray[np.float64],
    shadow_seconds: NDArray[np.float64],
    most_gpus: int,
) -> NDArray[np.float64]:
    """`runway_table` of a block of satellites."""
    de, ce = power.discharge_efficiency, power.charge_efficiency
    floor_wh = power.battery_wh * (1.0 - power.depth_of_discharge)
    counts = np.arange(most_gpus + 1, dtype=np.float64)
    gpu_w = counts * power.gpu_power_w
    net_sun_w = power.solar_array_w - (power.bus_power_w + gpu_w)
    tau = np.asarray(seconds_to_shadow, dtype=np.float64)[:, None]
    shadow = np.asarray(shadow_seconds, dtype=np.float64)[:, None]
    stored_wh = np.asarray(soc_wh, dtype=np.float64)[:, None]
    usable_wh = np.maximum(stored_wh - floor_wh, 0.0)
    forecast = np.isfinite(tau)
    bus_keep_wh = np.where(forecast, power.bus_power_w * shadow / SECONDS_PER_HOUR / de, 0.0)
    out = np.empty((tau.shape[0], counts.size))
    charging = net_sun_w >= 0
    unknown = np.isinf(tau)  # no shadow forecast: only the sunlit balance counts
    with np.errstate(divide="ignore", invalid="ignore"):
        for sunlit_charges, loaded in ((True, True), (True, False), (False, True), (False, False)):
            columns = np.flatnonzero((charging == sunlit_charges) & ((gpu_w > 0) == loaded))
            if columns.size == 0:
                continue
            net, gpus_w = net_sun_w[columns][None, :], gpu_w[columns][None, :]
            if sunlit_charges:
                after_sun_wh = np.minimum(
                    stored_wh + net * ce * tau / SECONDS_PER_HOUR, power.battery_wh
                )
            else:
                after_sun_wh = stored_wh + net * tau / SECONDS_PER_HOUR / de
            at_entry_wh = np.maximum(after_sun_wh - floor_wh, 0.0)
            for_gpus_j = (at_entry_wh - bus_keep_wh) * de * SECONDS_PER_HOUR
            if loaded:
                dark_runway = np.maximum(for_gpus_j, 0.0) / gpus_w
            else:
                dark_runway = np.where(
                    for_gpus_j >= 0,
                    np.inf,
                    at_entry_wh * de * SECONDS_PER_HOUR / max(power.bus_power_w, 1e-9),
                )
            through_shadow = np.where(dark_runway >= shadow, np.inf, tau + dark_runway)
            if sunlit_charges:  # the sunlit runway is endless: the shadow decides
                out[:, columns] = np.where(unknown, np.inf, through_shadow)
                continue
            spare = np.maximum(usable_wh - bus_keep_wh, 0.0) * de * SECONDS_PER_HOUR
            sun_runway = spare / -net
            runway = np.where(sun_runway < tau, sun_runway, through_shadow)
            out[:, columns] = np.where(unknown, sun_runway, runway)
    return out


def runway_with(
    power: PowerSystem,
    view: FleetView,
    gpus: NDArray[np.int64],
    rows: NDArray[np.int64] | None = None,
) -> NDArray[np.float64]:
    """Per satellite (or per satellite of `rows`), `runway_seconds` with `gpus[i]` GPUs
    busy: looked up in the view's table where it covers the count, computed elsewhere."""
    soc, tau, shadow = view.soc_wh, view.seconds_to_shadow, view.shadow_seconds
    if rows is not None:
        soc, tau, shadow = soc[rows], tau[rows], shadow[rows]
    table = view.runway_by_gpus
    if table is None or gpus.dtype.kind not in "iu":
        return runway_seconds(power, soc, gpus.astype(np.float64), tau, shadow)
    index = np.arange(table.shape[0]) if rows is None else rows
    inside = (gpus >= 0) & (gpus < table.shape[1])
    out = np.empty(gpus.shape)
    out[inside] = table[index[inside], gpus[inside]]
    outside = ~inside
    if outside.any():
        out[outside] = runway_seconds(
            power, soc[outside], gpus[outside].astype(np.float64), tau[outside], shadow[outside]
        )
    return out


def max_gpus_with_runway(
    power: PowerSystem,
    view: FleetView,
    required_seconds: float | NDArray[np.float64],
    rows: NDArray[np.int64] | None = None,
) -> NDArray[np.int64]:
    """Per satellite (or per satellite of `rows`), the most GPUs (0..gpus) whose runway is
    at least `required_seconds` (one for all, or per satellite of the fleet)."""
    table = view.runway_by_gpus
    required = np.asarray(required_seconds, dtype=np.float64)
    if rows is not None and required.ndim:
        required = required[rows]
    if table is not None and table.shape[1] > power.gpus:
        runway = table[:, : power.gpus + 1] if rows is None else table[rows, : power.gpus + 1]
    else:
        soc, tau, shadow = view.soc_wh, view.seconds_to_shadow, view.shadow_seconds
        if rows is not None:
            soc, tau, shadow = soc[rows], tau[rows], shadow[rows]
        runway = runway_table(power, soc, tau, shadow, power.gpus)
    required = required.reshape(1, -1)
    # one row per GPU count (contiguous rows: numpy reduces short trailing axes slowly)
    ok = np.ascontiguousarray(runway.T) >= required
    if view.thermal_seconds is not None:
        # the heat forecast: no more GPUs than stay below the maximum temperature as long
        thermal = view.thermal_seconds if rows is None else view.thermal_seconds[rows]
        ok &= np.ascontiguousarray(thermal.T) >= required
    # runway falls with load: the count of leading True values (the first False's index)
    alive = ok[0].copy()
    leading = alive.astype(np.int64)
    for row in ok[1:]:
        alive &= row
        leading += alive
    leading -= 1
    # -1: not even the bus alone reaches the required runway; no GPU may run
    return np.asarray(np.maximum(leading, 0), dtype=np.int64)


def required_runway_seconds(
    checkpoint_interval_seconds: float, checkpoint_write_seconds: float, margin_seconds: float
) -> float:
    """Runway a satellite must offer before the predictive policy places a pod there.

    The pod's next checkpoint is the sooner of its periodic one and the one the policy
    forces when it drains the pod just in time. So the runway must cover the restore,
    that checkpoint's write, the margin, and enough useful work to pay for the move
    (four times its restore-plus-write overhead, at least five minutes).
    """
    overhead = 2.0 * checkpoint_write_seconds
    useful = min(max(4.0 * overhead, 300.0), checkpoint_interval_seconds)
    return overhead + margin_seconds + useful
