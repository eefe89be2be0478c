"""Time grids: a UTC start plus offsets in seconds, and conversions for SGP4 and Skyfield.

The core never reads the wall clock: callers pass the start instant in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from skyfield.timelib import Time, Timescale

UNIX_EPOCH_JD = 2440587.5
SECONDS_PER_DAY = 86400.0


@lru_cache(maxsize=1)
def timescale() -> Timescale:
    """Skyfield's builtin timescale: offline, no finals file to download or expire."""
    from skyfield.api import load

    return load.timescale(builtin=True)


def parse_utc(text: str, field: str = "start") -> datetime:
    """Parse an ISO 8601 instant ('2026-11-24T00:00:00Z'); naive values are taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{field}: expected an ISO 8601 UTC time such as 2026-11-24T00:00:00Z, got {text!r}"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso_z(value: datetime) -> str:
    """Format a UTC instant as ISO 8601 with millisecond precision and a Z suffix."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class TimeGrid:
    """Instants `start_utc + offsets_seconds`, the common time axis of every core array."""

    start_utc: datetime
    offsets_seconds: NDArray[np.float64]

    @classmethod
    def regular(cls, start_utc: datetime, duration_seconds: float, step_seconds: float) -> TimeGrid:
        """A grid from start to start + duration inclusive, every `step_seconds`."""
        if duration_seconds <= 0:
            raise ValueError(f"duration: must be > 0 seconds, got {duration_seconds}")
        if step_seconds <= 0:
            raise ValueError(f"step: must be > 0 seconds, got {step_seconds}")
        count = int(np.floor(duration_seconds / step_seconds + 1e-9)) + 1
        offsets = np.arange(count, dtype=np.float64) * step_seconds
        if offsets[-1] < duration_seconds - 1e-9:
            offsets = np.append(offsets, duration_seconds)
        return cls(start_utc.astimezone(UTC), offsets)

    def __len__(self) -> int:
        return int(self.offsets_seconds.shape[0])

    @property
    def start_jd_utc(self) -> float:
        """Julian date (UTC) of the start instant."""
        return UNIX_EPOCH_JD + self.start_utc.timestamp() / SECONDS_PER_DAY

    def jd_utc_parts(
        self, offsets_seconds: NDArray[np.float64] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Whole and fractional UTC Julian dates, split to keep sub-millisecond precision."""
        offsets = self.offsets_seconds if offsets_seconds is None else offsets_seconds
        start = self.start_jd_utc
        whole = np.floor(start)
        fraction = (start - whole) + np.asarray(offsets, dtype=np.float64) / SECONDS_PER_DAY
        return np.full_like(fraction, whole), fraction

    def skyfield_times(self, offsets_seconds: NDArray[np.float64] | None = None) -> Time:
        """The instants as a Skyfield `Time` array (UTC, leap seconds handled by Skyfield)."""
        offsets = self.offsets_seconds if offsets_seconds is None else offsets_seconds
        s = self.start_utc
        seconds = s.second + s.microsecond / 1e6 + np.asarray(offsets, dtype=np.float64)
        return timescale().utc(s.year, s.month, s.day, s.hour, s.minute, seconds)

    def instant(self, offset_seconds: float) -> datetime:
        """The UTC datetime at one offset."""
        return self.start_utc + timedelta(seconds=float(offset_seconds))
