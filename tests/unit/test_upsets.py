"""Seeded Poisson upsets: reproducible, unbiased in count, kind and placement."""

from __future__ import annotations

import numpy as np
import pytest

from kubesat.core.upsets import UpsetEvents, UpsetKind, UpsetModel, sample_upsets

MODEL = UpsetModel(sefi_fraction=0.2, latchup_fraction=0.05)


def rates(satellites: int = 6, steps: int = 500, seed: int = 0) -> np.ndarray:
    """Rates with SAA-like bursts and exact zeros (a satellite with GPUs off, quiet steps)."""
    rng = np.random.default_rng(seed)
    rate = rng.uniform(0, 0.02, size=(satellites, steps))
    rate[:, ::7] = 0.0
    rate[1] = 0.0
    rate[2, 100:140] = 1.0  # a burst
    return rate


def test_same_seed_same_events_other_seed_other_events() -> None:
    rate = rates()
    a = sample_upsets(rate, 10.0, 123, MODEL, gpus=8)
    b = sample_upsets(rate, 10.0, 123, MODEL, gpus=8)
    c = sample_upsets(rate, 10.0, 124, MODEL, gpus=8)
    for name in ("satellite", "time_seconds", "kind", "gpu"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert len(a) > 50
    assert len(a) != len(c) or not np.array_equal(a.time_seconds, c.time_seconds)


def test_mean_count_matches_rate_times_duration() -> None:
    rate = rates(steps=2000)
    dt = 10.0
    expected = rate.sum() * dt
    counts = [len(sample_upsets(rate, dt, seed, MODEL)) for seed in range(20)]
    # the mean of 20 Poisson draws: sigma = sqrt(expected / 20)
    assert abs(np.mean(counts) - expected) < 5 * np.sqrt(expected / 20)
    # and per satellite, in one draw
    events = sample_upsets(rate, dt, 7, MODEL)
    per_sat = np.bincount(events.satellite, minlength=rate.shape[0])
    expect_sat = rate.sum(axis=1) * dt
    assert (np.abs(per_sat - expect_sat) <= 5 * np.sqrt(expect_sat) + 1e-9).all()


def test_kind_fractions() -> None:
    events = sample_upsets(np.full((4, 5000), 2.0), 1.0, 9, MODEL)
    n = len(events)
    for kind, fraction in (
        (UpsetKind.SEFI, MODEL.sefi_fraction),
        (UpsetKind.LATCHUP, MODEL.latchup_fraction),
        (UpsetKind.CORRECTABLE, MODEL.correctable_fraction),
    ):
        observed = np.count_nonzero(events.kind == kind)
        sigma = np.sqrt(n * fraction * (1 - fraction))
        assert abs(observed - n * fraction) < 5 * sigma, kind


def test_no_events_where_the_rate_is_zero_and_times_inside_their_step() -> None:
    rate = rates()
    dt, t0 = 10.0, 1_000.0
    events = sample_upsets(rate, dt, 5, MODEL, t0_seconds=t0, gpus=[8, 8, 4, 8, 2, 8])
    step = np.floor((events.time_seconds - t0) / dt).astype(int)
    assert (rate[events.satellite, step] > 0).all()
    assert not (events.satellite == 1).any()
    assert (events.time_seconds >= t0).all() and (events.time_seconds < t0 + 500 * dt).all()
    assert (np.diff(events.time_seconds) >= 0).all()  # sorted by time
    limits = np.array([8, 8, 4, 8, 2, 8])[events.satellite]
    assert (events.gpu >= 0).all() and (events.gpu < limits).all()
    # the burst (1/s over 40 steps of 10 s: 400 expected) lands inside its steps
    burst = events.select(events.satellite == 2)
    inside = (burst.time_seconds >= t0 + 1000) & (burst.time_seconds < t0 + 1400)
    assert inside.sum() >= 400 - 5 * np.sqrt(400)


def test_events_are_uniform_within_their_step() -> None:
    events = sample_upsets(np.full((2, 1000), 5.0), 4.0, 3, MODEL)
    phase = (events.time_seconds / 4.0) % 1.0
    n = len(events)
    assert abs(phase.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    hist = np.histogram(phase, bins=10, range=(0, 1))[0]
    assert (np.abs(hist - n / 10) < 5 * np.sqrt(n / 10)).all()
    gpu_hist = np.bincount(sample_upsets(np.full((1, 20000), 1.0), 1.0, 4, MODEL, gpus=4).gpu)
    assert (np.abs(gpu_hist - gpu_hist.sum() / 4) < 5 * np.sqrt(gpu_hist.sum() / 4)).all()


def test_model_rate_and_validation() -> None:
    model = UpsetModel()
    rate = model.rate_per_second(np.array([[0.0, 1000.0]]), 8)
    np.testing.assert_allclose(
        rate, [[8 * model.background_per_gpu_second, 8 * (1000 * 2e-6 + 1e-5)]]
    )
    with pytest.raises(ValueError, match=r"sefi_fraction: must be within \[0, 1\], got 1.5"):
        UpsetModel(sefi_fraction=1.5)
    with pytest.raises(ValueError, match=r"sefi_fraction \+ latchup_fraction: must be <= 1"):
        UpsetModel(sefi_fraction=0.7, latchup_fraction=0.5)
    with pytest.raises(ValueError, match="latchup_recovery_seconds: must be >= 0, got -1"):
        UpsetModel(latchup_recovery_seconds=-1)
    with pytest.raises(ValueError, match="rate_per_second: must be finite and >= 0, got -1"):
        sample_upsets(np.array([[-1.0]]), 1.0, 0, model)
    with pytest.raises(ValueError, match="dt_seconds: must be > 0, got 0"):
        sample_upsets(np.zeros((1, 1)), 0.0, 0, model)


def test_empty_select_and_concatenate() -> None:
    assert len(UpsetEvents.empty()) == 0
    sampled = sample_upsets(np.full((2, 100), 0.5), 1.0, 1, MODEL)
    injected = UpsetEvents(
        satellite=np.array([1]),
        time_seconds=np.array([50.25]),
        kind=np.array([UpsetKind.LATCHUP], dtype=np.int8),
        gpu=np.array([0]),
    )
    merged = UpsetEvents.concatenate([sampled, injected])
    assert len(merged) == len(sampled) + 1
    assert (np.diff(merged.time_seconds) >= 0).all()
    sefis = merged.select(merged.kind == UpsetKind.SEFI)
    assert (sefis.kind == UpsetKind.SEFI).all()
    assert len(sefis) == np.count_nonzero(sampled.kind == UpsetKind.SEFI)
