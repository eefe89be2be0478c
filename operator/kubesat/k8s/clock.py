"""The simulated clock of a Constellation: simulated time = start + speedup x elapsed wall time.

The anchor (the wall time at which the simulated clock read ``spec.clock.start``) is kept
in the Constellation's ``status.clock.epochWallTime``, so a restarted operator continues
the same timeline rather than starting over. A change of speedup re-anchors the clock so
that simulated time stays continuous.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kubesat.core.timebase import iso_z, parse_utc


def wall_now() -> datetime:
    """The wall clock (UTC). The only place the shell reads it, so tests can reason about it."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class SimClock:
    """Maps wall time to simulated time for one Constellation."""

    start_utc: datetime  # spec.clock.start: the simulated time at the anchor
    epoch_wall: datetime  # wall time at which the simulated clock read start_utc
    speedup: float  # simulated seconds per wall second
    step_seconds: float  # the simulation step: ticks happen on this grid

    def offset_seconds(self, wall: datetime | None = None) -> float:
        """Simulated seconds since ``start_utc`` at ``wall`` (now by default)."""
        wall = wall or wall_now()
        return (wall - self.epoch_wall).total_seconds() * self.speedup

    def now(self, wall: datetime | None = None) -> datetime:
        return self.start_utc + timedelta(seconds=self.offset_seconds(wall))

    def at(self, offset_seconds: float) -> datetime:
        """The simulated instant ``offset_seconds`` after start."""
        return self.start_utc + timedelta(seconds=offset_seconds)

    def step_index(self, wall: datetime | None = None) -> int:
        """The last step of the grid that the simulated clock has reached."""
        return math.floor(self.offset_seconds(wall) / self.step_seconds + 1e-9)

    def wall_at(self, offset_seconds: float) -> datetime:
        """The wall time at which the simulated clock reaches ``offset_seconds``."""
        return self.epoch_wall + timedelta(seconds=offset_seconds / self.speedup)

    def wall_seconds(self, simulated_seconds: float) -> float:
        """Wall seconds that ``simulated_seconds`` take at this speedup."""
        return simulated_seconds / self.speedup

    def rebased(
        self, speedup: float, step_seconds: float, wall: datetime | None = None
    ) -> SimClock:
        """The same simulated instant now, running at another speedup from here on."""
        wall = wall or wall_now()
        offset = self.offset_seconds(wall)
        epoch = wall - timedelta(seconds=offset / speedup)
        return SimClock(self.start_utc, epoch, speedup, step_seconds)

    def paused_at(self, offset_seconds: float, wall: datetime | None = None) -> SimClock:
        """A clock that reads ``offset_seconds`` now: the timeline resumes where it stopped."""
        wall = wall or wall_now()
        epoch = wall - timedelta(seconds=offset_seconds / self.speedup)
        return SimClock(self.start_utc, epoch, self.speedup, self.step_seconds)

    def as_status(self, offset_seconds: float) -> dict[str, Any]:
        """``status.clock`` of the Constellation (the simulated time of the last tick)."""
        return {
            "simulatedTime": iso_z(self.at(offset_seconds)),
            "epochWallTime": iso_z(self.epoch_wall),
            "speedup": self.speedup,
        }

    @classmethod
    def starting(
        cls, start_utc: datetime, speedup: float, step_seconds: float, wall: datetime | None = None
    ) -> SimClock:
        """A new timeline: the simulated clock reads ``start_utc`` now."""
        return cls(start_utc, wall or wall_now(), speedup, step_seconds)

    @classmethod
    def resumed(
        cls,
        status_clock: dict[str, Any] | None,
        anchored_start: str | None,
        start_utc: datetime,
        speedup: float,
        step_seconds: float,
        wall: datetime | None = None,
    ) -> SimClock:
        """The timeline recorded in status, or a new one when there is none (or the spec's
        start moved). A changed speedup keeps the simulated time and re-anchors."""
        wall = wall or wall_now()
        epoch_text = (status_clock or {}).get("epochWallTime")
        if not epoch_text or anchored_start is None or parse_utc(anchored_start) != start_utc:
            return cls.starting(start_utc, speedup, step_seconds, wall)
        recorded = float((status_clock or {}).get("speedup") or speedup)
        clock = cls(start_utc, parse_utc(epoch_text), recorded, step_seconds)
        if not math.isclose(recorded, speedup):
            clock = clock.rebased(speedup, step_seconds, wall)
        return clock
