"""Radiation upsets of on-board GPUs as a seeded Poisson process: what hits, where and when.

Upset rates for data-center GPUs in orbit are not published, so the defaults of
`UpsetModel` are stated assumptions, chosen to be plausible in magnitude:

- cross-section 2e-6 cm² per GPU for >10 MeV protons: the order of a GPU's on-chip SRAM
  (~4e8 bits) at a typical proton SEU cross-section of ~1e-14 cm²/bit. At 550 km, 53°
  inclination the >10 MeV fluence (SAA drifted to 2026) is ~3.8e6 /cm²/day in AP8MIN
  (2.5e6 in AP8MAX), so ~7.7 (5.1) upsets per GPU per day, nearly all in SAA passes.
- background 1e-5 per GPU-second (~0.9 per GPU-day): galactic cosmic rays and untrapped
  protons outside the SAA, 10-15% of the total as is typical in low LEO.
- 10% of upsets are SEFIs (the GPU hangs and needs a reset): ~7 (AP8MIN) or ~5 (AP8MAX)
  per 8-GPU satellite per day at 550 km; 0.1% are latch-ups (the satellite power-cycles):
  about once in two to three weeks per 8-GPU satellite; the rest are corrected by ECC
  and only counted.
- a SEFI costs 60 s (GPU reset and driver reload); a latch-up 600 s (power cycle, boot,
  the node rejoining the cluster).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kubesat.core.radiation import upset_rate_per_second

FloatArray = NDArray[np.float64]

DEFAULT_CROSS_SECTION_CM2_PER_GPU: Final = 2e-6
DEFAULT_BACKGROUND_PER_GPU_SECOND: Final = 1e-5
DEFAULT_SEFI_FRACTION: Final = 0.10
DEFAULT_LATCHUP_FRACTION: Final = 0.001
DEFAULT_SEFI_RECOVERY_SECONDS: Final = 60.0
DEFAULT_LATCHUP_RECOVERY_SECONDS: Final = 600.0


class UpsetKind(IntEnum):
    """What an upset does: counted only, hangs one GPU, or power-cycles the satellite."""

    CORRECTABLE = 0
    SEFI = 1
    LATCHUP = 2


@dataclass(frozen=True)
class UpsetModel:
    """How often GPUs are upset per unit proton flux, and what the upsets cost."""

    cross_section_cm2_per_gpu: float = DEFAULT_CROSS_SECTION_CM2_PER_GPU
    background_per_gpu_second: float = DEFAULT_BACKGROUND_PER_GPU_SECOND
    sefi_fraction: float = DEFAULT_SEFI_FRACTION
    latchup_fraction: float = DEFAULT_LATCHUP_FRACTION
    sefi_recovery_seconds: float = DEFAULT_SEFI_RECOVERY_SECONDS
    latchup_recovery_seconds: float = DEFAULT_LATCHUP_RECOVERY_SECONDS

    def __post_init__(self) -> None:
        """Reject negative rates and times and fractions that do not fit in [0, 1]."""
        for name in (
            "cross_section_cm2_per_gpu",
            "background_per_gpu_second",
            "sefi_recovery_seconds",
            "latchup_recovery_seconds",
        ):
            value = getattr(self, name)
            if not (value >= 0 and np.isfinite(value)):
                raise ValueError(f"{name}: must be >= 0, got {value}")
        for name in ("sefi_fraction", "latchup_fraction"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name}: must be within [0, 1], got {value}")
        if self.sefi_fraction + self.latchup_fraction > 1:
            raise ValueError(
                "sefi_fraction + latchup_fraction: must be <= 1, "
                f"got {self.sefi_fraction} + {self.latchup_fraction}"
            )

    @property
    def correctable_fraction(self) -> float:
        """Share of upsets that ECC corrects (counted only)."""
        return 1.0 - self.sefi_fraction - self.latchup_fraction

    def rate_per_second(self, flux: ArrayLike, gpus: ArrayLike) -> FloatArray:
        """Upsets per second of satellites with `gpus` powered GPUs in `flux` (p/cm²/s)."""
        return upset_rate_per_second(
            flux, self.cross_section_cm2_per_gpu, gpus, self.background_per_gpu_second
        )


@dataclass(frozen=True, eq=False)
class UpsetEvents:
    """Upsets as parallel arrays, sorted by time (ties by satellite)."""

    satellite: NDArray[np.int64]  # index into the satellite axis of the rate array
    time_seconds: NDArray[np.float64]  # exact time, same clock as t0_seconds
    kind: NDArray[np.int8]  # UpsetKind values
    gpu: NDArray[np.int64]  # GPU hit, 0..gpus-1 on that satellite

    @classmethod
    def empty(cls) -> UpsetEvents:
        """No upsets (radiation disabled)."""
        return cls(
            np.zeros(0, np.int64),
            np.zeros(0, np.float64),
            np.zeros(0, np.int8),
            np.zeros(0, np.int64),
        )

    def __len__(self) -> int:
        """Number of events."""
        return int(self.time_seconds.size)

    def select(self, mask: ArrayLike) -> UpsetEvents:
        """The events where `mask` is true (e.g. `events.kind == UpsetKind.SEFI`)."""
        keep = np.asarray(mask, dtype=bool)
        return UpsetEvents(
            self.satellite[keep], self.time_seconds[keep], self.kind[keep], self.gpu[keep]
        )

    @classmethod
    def concatenate(cls, parts: list[UpsetEvents]) -> UpsetEvents:
        """Merge event sets (e.g. sampled plus injected upsets), re-sorted by time."""
        satellite = np.concatenate([p.satellite for p in parts]).astype(np.int64)
        time_seconds = np.concatenate([p.time_seconds for p in parts]).astype(float)
        kind = np.concatenate([p.kind for p in parts]).astype(np.int8)
        gpu = np.concatenate([p.gpu for p in parts]).astype(np.int64)
        order = np.lexsort((satellite, time_seconds))
        return cls(satellite[order], time_seconds[order], kind[order], gpu[order])


def sample_upsets(
    rate_per_second: ArrayLike,
    dt_seconds: float,
    seed: int,
    model: UpsetModel,
    t0_seconds: float = 0.0,
    gpus: ArrayLike = 1,
) -> UpsetEvents:
    """Draw upsets of N satellites over T steps from a Poisson process; same seed, same events.

    `rate_per_second` (N, T) is the step-mean rate (e.g. `UpsetModel.rate_per_second`).
    Counts per step are Poisson(rate x dt); each event is placed uniformly within its
    step (exact for a rate constant over the step), given a kind with the model's
    fractions, and a GPU uniformly among the satellite's `gpus` ((N,) or scalar).
    """
    rate = np.asarray(rate_per_second, dtype=float)
    if rate.ndim != 2:
        raise ValueError(
            f"rate_per_second: must be 2-D (satellites, times), got shape {rate.shape}"
        )
    bad = ~((rate >= 0) & np.isfinite(rate))
    if np.any(bad):
        raise ValueError(f"rate_per_second: must be finite and >= 0, got {rate[bad].flat[0]}")
    if not (dt_seconds > 0 and np.isfinite(dt_seconds)):
        raise ValueError(f"dt_seconds: must be > 0, got {dt_seconds}")
    satellites, steps = rate.shape
    gpu_count = np.broadcast_to(np.asarray(gpus, dtype=np.int64), (satellites,))
    if np.any(gpu_count < 1):
        raise ValueError(f"gpus: must be >= 1, got {gpu_count[gpu_count < 1][0]}")

    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate * dt_seconds)
    cell = np.repeat(np.arange(rate.size), counts.ravel())
    satellite, step = np.divmod(cell, steps)
    time_seconds = t0_seconds + (step + rng.random(cell.size)) * dt_seconds
    draw = rng.random(cell.size)
    kind = np.full(cell.size, UpsetKind.CORRECTABLE, dtype=np.int8)
    kind[draw < model.latchup_fraction + model.sefi_fraction] = UpsetKind.SEFI
    kind[draw < model.latchup_fraction] = UpsetKind.LATCHUP
    slots = gpu_count[satellite]
    gpu = np.minimum((rng.random(cell.size) * slots).astype(np.int64), slots - 1)
    order = np.lexsort((satellite, time_seconds))
    return UpsetEvents(
        satellite[order].astype(np.int64), time_seconds[order], kind[order], gpu[order]
    )
