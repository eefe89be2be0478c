"""The environment the engine steps through: one column of every satellite per step.

Two sources give the same columns and the same upsets: `WindowedEnvironment` computes the
environment in rolling chunks of the clock's step grid (what the operator keeps in memory:
"now" plus a forecast horizon longer than an orbit and its eclipse), and
`ConditionsEnvironment` reads a run's precomputed `FleetConditions` (tests and tools that
hold a whole run in memory). The simulator streams through a `WindowedEnvironment` too, so
its memory grows with satellites, not with satellites x steps. Radiation upsets are one
seeded stream for both: the upsets of each 30-minute chunk are drawn from that chunk's
proton flux with a seed derived from the constellation's seed and the chunk number,
whoever asks and whenever.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

import numpy as np
from numpy.typing import NDArray

from kubesat.core.conditions import (
    EnvironmentArrays,
    FleetConditions,
    compute_conditions,
    compute_link_rate,
    shadow_timing,
)
from kubesat.core.geometry import Sky
from kubesat.core.ground import GroundStation
from kubesat.core.orbits import Fleet
from kubesat.core.timebase import TimeGrid
from kubesat.core.upsets import UpsetEvents, sample_upsets
from kubesat.spec import ConstellationSpec

UPSET_CHUNK_SECONDS: Final = 1800.0  # upsets drawn 30 simulated minutes at a time
CHUNK_SECONDS: Final = 1800.0  # the operator's environment window grows by this much
MIN_HORIZON_SECONDS: Final = 2.5 * 3600.0  # a LEO orbit (~95 min) plus its longest eclipse
MAX_HORIZON_SECONDS: Final = 30 * 3600.0
NEVER_STEP: Final = np.int32(np.iinfo(np.int32).max)  # no such step in the window

FluxModel = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True, kw_only=True)
class Column(EnvironmentArrays[np.float64]):
    """Every satellite's environment at one step: `EnvironmentArrays` of shape (N,)
    (positions (N, 3)), and the timing of its ground contacts."""

    step: int
    seconds_to_contact: NDArray[np.float64]  # 0 in contact, inf when none is forecast
    # length of the coming contact, or what is left of the current one (loss of signal
    # in that many seconds); None: not known
    contact_seconds: NDArray[np.float64] | None = None


class EnvironmentSource(Protocol):
    """Where the engine's columns and upsets come from."""

    def column(self, step: int) -> Column: ...

    def upsets(self, step_from: int, step_to: int) -> UpsetEvents: ...


def flux_model_for(spec: ConstellationSpec) -> FluxModel | None:
    """The AP8 proton flux at (lat, lon, alt) for the constellation's epoch, or None."""
    if not spec.radiation.enabled:
        return None
    from kubesat.core.radiation import drifted_flux_model

    return drifted_flux_model(spec.radiation.model, spec.clock.start_utc)


def chunk_seed(seed: int, chunk: int) -> int:
    """An independent, reproducible seed for each chunk of the upset process."""
    return int(np.random.SeedSequence([int(seed), int(chunk)]).generate_state(1)[0])


def upset_chunk_steps(step_seconds: float) -> int:
    return max(1, round(UPSET_CHUNK_SECONDS / step_seconds))


def sample_chunk_upsets(
    spec: ConstellationSpec, flux: NDArray[Any], chunk: int, seed: int | None = None
) -> UpsetEvents:
    """The upsets of one chunk (flux of shape (N, chunk steps)); the same for every caller."""
    gpus = spec.power.gpus
    if not spec.radiation.enabled or gpus == 0:
        return UpsetEvents.empty()
    step = spec.clock.step_seconds
    model = spec.radiation.upsets
    rate = model.rate_per_second(np.asarray(flux, dtype=np.float32), gpus)
    return sample_upsets(
        rate,
        step,
        chunk_seed(spec.radiation.seed if seed is None else seed, chunk),
        model,
        t0_seconds=chunk * upset_chunk_steps(step) * step,
        gpus=gpus,
    )


def _select(events: UpsetEvents, step_from: int, step_to: int, step: float) -> UpsetEvents:
    t0, t1 = step_from * step, step_to * step
    return events.select((events.time_seconds >= t0) & (events.time_seconds < t1))


def next_runs(
    mask: NDArray[np.bool_], first_step: int
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]:
    """Per satellite and step of a chunk starting at `first_step`: the step its next run of
    True starts and the step that run ends (absolute steps), and its first False step.

    `shadow_timing`'s reverse minimum-accumulates over one chunk: a run that does not start
    in the chunk is NEVER_STEP (start and end), a run or a search for False that reaches
    the chunk's end stops there (the chunk's end step), as `shadow_timing` stops at the end
    of its grid.
    """
    end_step = first_step + mask.shape[1]
    index = np.arange(first_step, end_step, dtype=np.int32)

    def next_of(values: NDArray[np.int32]) -> NDArray[np.int32]:
        return np.minimum.accumulate(values[:, ::-1], axis=1)[:, ::-1]

    start = next_of(np.where(mask, index, NEVER_STEP))
    off = next_of(np.where(mask, np.int32(end_step), index))
    # the end of the run at each True step, the first one ahead elsewhere (ends only grow)
    until = next_of(np.where(mask, off, NEVER_STEP))
    return start, until, off[:, 0].copy()


def extend_runs(
    older: Sequence[tuple[NDArray[np.int32], NDArray[np.int32]]],
    end_step: int,
    newer: tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]],
) -> None:
    """Carry runs into the chunk `newer` (`next_runs` of it) appended at `end_step`: in the
    (start, until) pairs of the chunks before it, in order, a run not found takes the new
    chunk's first run and a run reaching `end_step` ends at the new chunk's first False."""
    first_start, first_until, first_off = newer[0][:, 0], newer[1][:, 0], newer[2]
    found = first_start != NEVER_STEP  # rows with no run in the new chunk either stay open
    for start, until in reversed(older):
        # starts and ends never decrease along a row: what is still open is a suffix
        last = until[:, -1]
        rows = np.flatnonzero((last == end_step) | ((last == NEVER_STEP) & found))
        if rows.size == 0:
            break
        s, u = start[rows], until[rows]
        never = u == NEVER_STEP
        start[rows] = np.where(never, first_start[rows, None], s)
        carried = np.where(u == end_step, first_off[rows, None], u)
        until[rows] = np.where(never, first_until[rows, None], carried)


def run_timing(
    start: NDArray[np.int32], until: NDArray[np.int32], step: int, step_seconds: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Seconds to the next run and its length (or what is left) at `step`, rounded through
    float32 exactly as `shadow_timing` gives them."""
    to_run = np.where(start == NEVER_STEP, np.inf, (start - step) * step_seconds)
    length = (until - start) * step_seconds  # 0 with no run (NEVER_STEP - NEVER_STEP)
    f32 = np.float32
    return to_run.astype(f32).astype(np.float64), length.astype(f32).astype(np.float64)


class ConditionsEnvironment:
    """Columns read from a run's precomputed conditions (the simulator)."""

    def __init__(
        self, spec: ConstellationSpec, conditions: FleetConditions, seed: int | None = None
    ) -> None:
        self.spec = spec
        self.conditions = conditions
        self.seed = seed
        self.step_seconds = spec.clock.step_seconds
        self.chunk_steps = upset_chunk_steps(self.step_seconds)
        self._upsets: dict[int, UpsetEvents] = {}
        self._contact: NDArray[np.float32] | None = None
        self._contact_length: NDArray[np.float32] | None = None

    def column(self, step: int) -> Column:
        c = self.conditions
        if self._contact is None or self._contact_length is None:
            self._contact, self._contact_length = shadow_timing(c.link, self.step_seconds)

        def f64(values: NDArray[Any]) -> NDArray[np.float64]:
            return np.asarray(values[:, step], dtype=np.float64)

        return Column(
            step=step,
            illumination=f64(c.illumination),
            link=np.asarray(c.link[:, step], dtype=np.bool_),
            flux=f64(c.flux),
            latitude_deg=f64(c.latitude_deg),
            longitude_deg=f64(c.longitude_deg),
            altitude_km=f64(c.altitude_km),
            seconds_to_shadow=f64(c.seconds_to_shadow),
            shadow_seconds=f64(c.shadow_seconds),
            seconds_to_contact=f64(self._contact),
            contact_seconds=f64(self._contact_length),
            downlink_bps=None if c.downlink_bps is None else f64(c.downlink_bps),
        )

    def upsets(self, step_from: int, step_to: int) -> UpsetEvents:
        if step_to <= step_from or not self.spec.radiation.enabled:
            return UpsetEvents.empty()
        parts = []
        for chunk in range(step_from // self.chunk_steps, (step_to - 1) // self.chunk_steps + 1):
            if chunk not in self._upsets:
                lo = chunk * self.chunk_steps
                flux = self.conditions.flux[:, lo : lo + self.chunk_steps]
                self._upsets[chunk] = sample_chunk_upsets(self.spec, flux, chunk, self.seed)
            parts.append(self._upsets[chunk])
        events = UpsetEvents.concatenate(parts) if len(parts) > 1 else parts[0]
        return _select(events, step_from, step_to, self.step_seconds)

    def all_upsets(self, steps: int) -> UpsetEvents:
        """Every upset of the first `steps` steps (for reports and plots)."""
        return self.upsets(0, steps)


# chunk keys of the (start, until) steps of the next shadow and the next ground contact
SHADOW_RUNS: Final = ("shadow_from", "shadow_until")
CONTACT_RUNS: Final = ("contact_from", "contact_until")


class WindowedEnvironment:
    """Sunlight, link, flux and position of N satellites, computed chunk by chunk around now."""

    def __init__(
        self,
        spec: ConstellationSpec,
        flux_model: FluxModel | None = None,
        seed: int | None = None,
    ) -> None:
        self.spec = spec
        self.seed = seed  # of the upset process (None: spec.radiation.seed)
        self.fleet = Fleet(spec.satellites)
        self.n = len(self.fleet)
        self.step_seconds = spec.clock.step_seconds
        self.chunk_steps = upset_chunk_steps(self.step_seconds)
        period = max(s.period_minutes for s in spec.satellites) * 60.0
        horizon = min(max(1.6 * period, MIN_HORIZON_SECONDS), MAX_HORIZON_SECONDS)
        self.horizon_steps = math.ceil(horizon / self.step_seconds)
        self.flux_model = flux_model
        self._first_chunk = 0
        self._chunks: list[dict[str, NDArray[Any]]] = []
        self._upsets: dict[int, UpsetEvents] = {}

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

    def ensure(self, step: int, until: int | None = None) -> None:
        """Compute what is missing so that [step, max(step, until) + horizon] is covered;
        drop what lies before `step`."""
        first = step // self.chunk_steps
        last = (max(step, until or step) + self.horizon_steps) // self.chunk_steps + 1
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
        while self._first_chunk + len(self._chunks) <= last:
            self._chunks.append(self._compute_chunk(self._first_chunk + len(self._chunks)))
            self._add_runs(len(self._chunks) - 1, SHADOW_RUNS)
            self._add_runs(len(self._chunks) - 1, CONTACT_RUNS)

    def _grid(self, chunk: int) -> TimeGrid:
        steps = np.arange(chunk * self.chunk_steps, (chunk + 1) * self.chunk_steps)
        return TimeGrid(self.spec.clock.start_utc, (steps * self.step_seconds).astype(np.float64))

    def set_stations(self, stations: Sequence[GroundStation]) -> None:
        """Use these ground stations from now on: the link and contact columns of the whole
        window are computed again (sunlight, flux and positions stay)."""
        self.spec = replace(self.spec, stations=tuple(stations))
        for i, data in enumerate(self._chunks):
            sky = Sky.on(self._grid(self._first_chunk + i))
            data["link"], data["downlink_bps"] = compute_link_rate(
                self.fleet, sky, self.spec.stations
            )
        for i in range(len(self._chunks)):
            self._add_runs(i, CONTACT_RUNS)

    def _compute_chunk(self, chunk: int) -> dict[str, NDArray[Any]]:
        grid = self._grid(chunk)
        keep_positions = self.spec.links is not None
        conditions = compute_conditions(
            self.fleet,
            Sky.on(grid),
            self.spec.stations,
            self.flux_model,
            keep_positions,
            timing=False,  # the window times shadows over all its chunks
        )
        positions = (
            {} if conditions.position_km is None else {"position_km": conditions.position_km}
        )
        return {
            **positions,
            "illumination": conditions.illumination,
            "link": conditions.link,
            "flux": conditions.flux,
            "latitude_deg": conditions.latitude_deg,
            "longitude_deg": conditions.longitude_deg,
            "altitude_km": conditions.altitude_km,
            "downlink_bps": (
                conditions.downlink_bps
                if conditions.downlink_bps is not None
                else np.zeros(conditions.link.shape, np.float32)
            ),
        }

    def _add_runs(self, i: int, keys: tuple[str, str]) -> None:
        """The next runs (`keys`) of window chunk i, carried into chunks 0..i-1 (whose
        runs end at chunk i's start): only the new chunk is scanned."""
        data = self._chunks[i]
        mask = data["illumination"] < 1.0 if keys == SHADOW_RUNS else data["link"]
        first_step = (self._first_chunk + i) * self.chunk_steps
        runs = next_runs(mask, first_step)
        older = [(c[keys[0]], c[keys[1]]) for c in self._chunks[:i]]
        extend_runs(older, first_step, runs)
        data[keys[0]], data[keys[1]] = runs[0], runs[1]

    def longest_shadow_seconds(self) -> float:
        """The longest shadow (penumbra included) any satellite sees in the window."""
        steps = max(
            (int(np.max(c[SHADOW_RUNS[1]] - c[SHADOW_RUNS[0]])) for c in self._chunks),
            default=0,
        )
        return float(np.float32(steps * self.step_seconds))

    def column(self, step: int) -> Column:
        """The environment at `step` (computed first if the window does not cover it)."""
        if self.needs(step):
            self.ensure(step)
        chunk, j = divmod(step, self.chunk_steps)
        data = self._chunks[chunk - self._first_chunk]
        to_shadow, shadow = run_timing(
            data[SHADOW_RUNS[0]][:, j], data[SHADOW_RUNS[1]][:, j], step, self.step_seconds
        )
        to_contact, contact = run_timing(
            data[CONTACT_RUNS[0]][:, j], data[CONTACT_RUNS[1]][:, j], step, self.step_seconds
        )

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
            seconds_to_shadow=to_shadow,
            shadow_seconds=shadow,
            seconds_to_contact=to_contact,
            contact_seconds=contact,
            downlink_bps=f64(data["downlink_bps"][:, j]),
            position_km=f64(data["position_km"][:, j]) if "position_km" in data else None,
        )

    def upsets(self, step_from: int, step_to: int) -> UpsetEvents:
        """Upsets with step_from x step <= time < step_to x step (seconds since the start)."""
        if step_to <= step_from or not self.spec.radiation.enabled or self.flux_model is None:
            return UpsetEvents.empty()
        parts = []
        for chunk in range(step_from // self.chunk_steps, (step_to - 1) // self.chunk_steps + 1):
            if chunk not in self._upsets:
                self._upsets[chunk] = sample_chunk_upsets(
                    self.spec, self._flux(chunk), chunk, self.seed
                )
            parts.append(self._upsets[chunk])
        events = UpsetEvents.concatenate(parts) if len(parts) > 1 else parts[0]
        return _select(events, step_from, step_to, self.step_seconds)

    def _flux(self, chunk: int) -> NDArray[Any]:
        if self._first_chunk <= chunk < self._first_chunk + len(self._chunks):
            return self._chunks[chunk - self._first_chunk]["flux"]
        return self._compute_chunk(chunk)["flux"]  # a long catch-up: computed, not kept
