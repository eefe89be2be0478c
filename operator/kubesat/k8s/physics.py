"""The environment of every satellite on the clock's step grid, in rolling chunks.

A thin shell over the core: sunlight, ground link, proton flux and position come from
`kubesat.core.conditions.compute_conditions`, evaluated for all satellites of a
constellation at once over chunks of the step grid (30 simulated minutes each). The
operator keeps the chunks that cover "now" plus a forecast horizon (longer than an orbit
and its eclipse), so each tick reads one column, and the next eclipse and contact come
from the same arrays. Radiation upsets are drawn per chunk with a seed derived from the
constellation's seed and the chunk number: the same seed gives the same upsets, whenever
the operator computes them (a restarted operator sees the same upsets again).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kubesat.core.conditions import compute_conditions, shadow_timing
from kubesat.core.geometry import Sky
from kubesat.core.orbits import Fleet
from kubesat.core.timebase import TimeGrid
from kubesat.core.upsets import UpsetEvents, sample_upsets
from kubesat.spec import ConstellationSpec

CHUNK_SECONDS = 1800.0  # environment computed 30 simulated minutes at a time
MIN_HORIZON_SECONDS = 2.5 * 3600.0  # a LEO orbit (~95 min) plus its longest eclipse (~36 min)
MAX_HORIZON_SECONDS = 30 * 3600.0


@dataclass(frozen=True)
class Column:
    """Every satellite's environment at one step (arrays of shape (N,))."""

    step: int
    illumination: NDArray[np.float64]
    link: NDArray[np.bool_]
    flux: NDArray[np.float64]
    latitude_deg: NDArray[np.float64]
    longitude_deg: NDArray[np.float64]
    altitude_km: NDArray[np.float64]
    seconds_to_shadow: NDArray[np.float64]  # 0 in shadow, inf when none is in the horizon
    shadow_seconds: NDArray[np.float64]  # length of the coming (or remaining) shadow
    seconds_to_contact: NDArray[np.float64]  # 0 in contact, inf when none in the horizon


def flux_model_for(spec: ConstellationSpec) -> Callable[[Any, Any, Any], Any] | None:
    """The AP8 proton flux at (lat, lon, alt) for the constellation's epoch, or None."""
    if not spec.radiation.enabled:
        return None
    from kubesat.core.radiation import drifted_flux_model

    return drifted_flux_model(spec.radiation.model, spec.clock.start_utc)


def chunk_seed(seed: int, chunk: int) -> int:
    """An independent, reproducible seed for each chunk of the upset process."""
    return int(np.random.SeedSequence([int(seed), int(chunk)]).generate_state(1)[0])


class Environment:
    """Sunlight, link, flux and position of N satellites on the grid start + k x step."""

    def __init__(
        self,
        spec: ConstellationSpec,
        flux_model: Callable[[Any, Any, Any], Any] | None = None,
    ) -> None:
        self.spec = spec
        self.fleet = Fleet(spec.satellites)
        self.n = len(self.fleet)
        self.step_seconds = spec.clock.step_seconds
        self.chunk_steps = max(1, round(CHUNK_SECONDS / self.step_seconds))
        period = max(s.period_minutes for s in spec.satellites) * 60.0
        horizon = min(max(1.6 * period, MIN_HORIZON_SECONDS), MAX_HORIZON_SECONDS)
        self.horizon_steps = math.ceil(horizon / self.step_seconds)
        self.flux_model = flux_model
        self._first_chunk = 0
        self._chunks: list[dict[str, NDArray[Any]]] = []
        self._upsets: dict[int, UpsetEvents] = {}
        self._timing: dict[str, NDArray[Any]] | None = None

    # -- coverage -----------------------------------------------------------------------

    @property
    def first_step(self) -> int:
        return self._first_chunk * self.chunk_steps

    @property
    def end_step(self) -> int:
        """One past the last step computed."""
        return (self._first_chunk + len(self._chunks)) * self.chunk_steps

    def needs(self, step: int) -> bool:
        """Whether `ensure(step)` would have to compute (callers run that in a thread)."""
        return step < self.first_step or step + self.horizon_steps >= self.end_step

    def ensure(self, step: int) -> None:
        """Compute what is missing so that [step, step + horizon] is covered; drop the past."""
        first = step // self.chunk_steps
        last = (step + self.horizon_steps) // self.chunk_steps + 1
        if (
            not self._chunks
            or first < self._first_chunk
            or first > self.end_step // self.chunk_steps
        ):
            self._first_chunk, self._chunks = first, []
        drop = first - self._first_chunk
        if drop > 0:
            self._chunks = self._chunks[drop:]
            self._first_chunk = first
            for old in [c for c in self._upsets if c < first]:
                del self._upsets[old]
        changed = drop > 0
        while self._first_chunk + len(self._chunks) <= last:
            self._chunks.append(self._compute_chunk(self._first_chunk + len(self._chunks)))
            changed = True
        if changed or self._timing is None:
            self._timing = self._shadow_and_contact_timing()

    def _compute_chunk(self, chunk: int) -> dict[str, NDArray[Any]]:
        steps = np.arange(chunk * self.chunk_steps, (chunk + 1) * self.chunk_steps)
        grid = TimeGrid(self.spec.clock.start_utc, steps * self.step_seconds)
        conditions = compute_conditions(
            self.fleet, Sky.on(grid), self.spec.stations, self.flux_model
        )
        return {
            "illumination": conditions.illumination,
            "link": conditions.link,
            "flux": conditions.flux,
            "latitude_deg": conditions.latitude_deg,
            "longitude_deg": conditions.longitude_deg,
            "altitude_km": conditions.altitude_km,
        }

    def _stacked(self, name: str) -> NDArray[Any]:
        return np.concatenate([c[name] for c in self._chunks], axis=1)

    def _shadow_and_contact_timing(self) -> dict[str, NDArray[Any]]:
        to_shadow, shadow_length = shadow_timing(
            self._stacked("illumination") < 1.0, self.step_seconds
        )
        to_contact, _ = shadow_timing(self._stacked("link"), self.step_seconds)
        return {"to_shadow": to_shadow, "shadow": shadow_length, "to_contact": to_contact}

    # -- reading ------------------------------------------------------------------------

    def column(self, step: int) -> Column:
        """The environment at `step` (must be covered: call `ensure` first)."""
        if self.needs(step) or self._timing is None:
            self.ensure(step)
        assert self._timing is not None
        chunk, j = divmod(step, self.chunk_steps)
        data = self._chunks[chunk - self._first_chunk]
        k = step - self.first_step

        def f64(values: NDArray[Any]) -> NDArray[np.float64]:
            return np.asarray(values, dtype=np.float64)

        return Column(
            step=step,
            illumination=f64(data["illumination"][:, j]),
            link=np.asarray(data["link"][:, j], dtype=np.bool_),
            flux=f64(data["flux"][:, j]),
            latitude_deg=f64(data["latitude_deg"][:, j]),
            longitude_deg=f64(data["longitude_deg"][:, j]),
            altitude_km=f64(data["altitude_km"][:, j]),
            seconds_to_shadow=f64(self._timing["to_shadow"][:, k]),
            shadow_seconds=f64(self._timing["shadow"][:, k]),
            seconds_to_contact=f64(self._timing["to_contact"][:, k]),
        )

    def upsets(self, step_from: int, step_to: int) -> UpsetEvents:
        """Sampled upsets with step_from x step <= time < step_to x step (seconds since start)."""
        model = self.spec.radiation
        gpus = self.spec.power.gpus
        if not model.enabled or gpus == 0 or self.flux_model is None or step_to <= step_from:
            return UpsetEvents.empty()
        parts = []
        for chunk in range(step_from // self.chunk_steps, (step_to - 1) // self.chunk_steps + 1):
            if chunk not in self._upsets:
                self._upsets[chunk] = self._sample_chunk(chunk)
            parts.append(self._upsets[chunk])
        events = UpsetEvents.concatenate(parts) if len(parts) > 1 else parts[0]
        t0, t1 = step_from * self.step_seconds, step_to * self.step_seconds
        return events.select((events.time_seconds >= t0) & (events.time_seconds < t1))

    def _sample_chunk(self, chunk: int) -> UpsetEvents:
        if self._first_chunk <= chunk < self._first_chunk + len(self._chunks):
            flux = self._chunks[chunk - self._first_chunk]["flux"]
        else:  # outside the window (a long catch-up): computed once, not kept
            flux = self._compute_chunk(chunk)["flux"]
        model = self.spec.radiation.upsets
        rate = model.rate_per_second(flux, self.spec.power.gpus)
        return sample_upsets(
            rate,
            self.step_seconds,
            chunk_seed(self.spec.radiation.seed, chunk),
            model,
            t0_seconds=chunk * self.chunk_steps * self.step_seconds,
            gpus=self.spec.power.gpus,
        )
