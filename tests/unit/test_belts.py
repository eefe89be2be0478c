"""The belt mask: its Bezier bounds, its premise (AP8 falls with B/B0) and its result (the
masked flux is the full evaluation, bit for bit)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from kubesat.core import belts
from kubesat.core.radiation import (
    AP8_ENERGY_RANGE_MEV,
    DEFAULT_ENERGY_MEV,
    GridSpec,
    ProtonFluxGrid,
    ap8_integral_flux,
    saa_drift_deg,
)

LEO_SPEC = GridSpec(altitude_min_km=300.0, altitude_max_km=900.0, altitude_step_km=100.0)
YEAR = 2026.9


def bspline_1d(coefficients: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A uniform cubic B-spline at x, from its definition (no prefilter)."""
    return ndimage.map_coordinates(coefficients, x[None, :], order=3, prefilter=False)


def test_piece_matrices_give_the_bezier_points_of_each_sub_piece() -> None:
    rng = np.random.default_rng(0)
    coefficients = rng.normal(size=12)
    for pieces in (1, 2, 4):
        matrices = belts.piece_matrices(pieces)
        for cell in range(1, 8):
            for j in range(pieces):
                points = matrices[j] @ coefficients[cell - 1 : cell + 3]
                t = np.linspace(0.0, 1.0, 9)
                bernstein = np.stack([(1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t**2 * (1 - t), t**3])
                x = cell + (j + t) / pieces
                np.testing.assert_allclose(points @ bernstein, bspline_1d(coefficients, x), 1e-12)


@pytest.mark.parametrize("subcells", [(1, 1, 1), (2, 2, 2), (1, 2, 4)])
def test_spline_bounds_hold_the_spline_in_every_sub_cell(subcells: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(1)
    coefficients = rng.normal(size=(7, 8, 9))
    low, high = belts.spline_bounds(coefficients, subcells)
    x = np.stack([rng.uniform(1.0, n - 2.0, 20_000) for n in coefficients.shape])
    values = ndimage.map_coordinates(coefficients, x, order=3, prefilter=False)
    index = belts.subcell_index(x, subcells)
    cell = (index[0], index[1], index[2])
    assert np.all(values >= low[cell] - 1e-12)
    assert np.all(values <= high[cell] + 1e-12)
    # and the bounds are tight: somewhere the spline comes close to them
    assert np.max(values - low[cell]) > 0 and np.min(high[cell] - values) < 0.5


def test_a_point_on_a_cell_edge_is_in_the_piece_map_coordinates_uses() -> None:
    x = np.array([[5.0, np.nextafter(5.0, 0.0), 5.5, np.nextafter(6.0, 0.0)]] * 3)
    index = belts.subcell_index(x, (2, 2, 2))
    # floor(x) - 1 is the piece; x - floor(x) picks the half within it
    assert index[0].tolist() == [8, 7, 9, 9]


def test_sub_cell_indices_match_their_definition() -> None:
    rng = np.random.default_rng(4)
    x = rng.uniform(2.0, 40.0, (3, 100_000))
    x[:, :100] = np.floor(x[:, :100])  # on cell edges
    x[:, 100:200] = np.nextafter(np.floor(x[:, 100:200]), 0.0)  # just below them
    subcells = (2, 4, 1)
    whole = np.floor(x)
    parts = np.array(subcells)[:, None]
    expected = (whole.astype(int) - 1) * parts + np.floor((x - whole) * parts).astype(int)
    np.testing.assert_array_equal(belts.subcell_index(x, subcells), expected)
    shape = (200, 200, 200)
    flat = belts.flat_subcell_index(x, shape, subcells)
    np.testing.assert_array_equal(flat, np.ravel_multi_index(tuple(expected), shape))
    with pytest.raises(ValueError, match="subcells: must be powers of two"):
        belts.belt_subcells(np.zeros((5, 5, 5)), np.zeros((5, 5, 5)), np.abs, 20.0, 1.0, (3, 1, 1))


@pytest.mark.parametrize("solar", ["min", "max"])
@pytest.mark.parametrize("energy_mev", [DEFAULT_ENERGY_MEV, 1.0, 100.0])
def test_ap8_flux_falls_as_b_over_b0_grows(solar: str, energy_mev: float) -> None:
    """The premise of the mask: at a given L, once AP8 is zero it stays zero at higher B/B0."""
    low, high = AP8_ENERGY_RANGE_MEV
    assert low <= energy_mev <= high
    l_shell, beta = np.meshgrid(
        np.geomspace(1.0, 20.0, 400), np.geomspace(1.0, 1e4, 600), indexing="ij"
    )
    flux = ap8_integral_flux(l_shell.ravel(), beta.ravel(), energy_mev, solar)  # type: ignore[arg-type]
    flux = flux.reshape(l_shell.shape)
    assert (flux > 0).any()
    assert np.all(np.diff(flux, axis=1) <= 1e-9 * flux[:, :-1] + 1e-300)


def masked_and_full(grid: ProtonFluxGrid, points: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    spec = grid.spec
    rng = np.random.default_rng(seed)
    lat = rng.uniform(-90.0, 90.0, points)
    lon = rng.uniform(-180.0, 180.0, points)
    alt = rng.uniform(spec.altitude_min_km, spec.altitude_max_km, points)
    masked = grid.flux(lat, lon, alt, YEAR)
    north, west = saa_drift_deg(YEAR, grid.solar)
    l_shell, b_over_b0 = grid.magnetic_coordinates(lat - north, lon + west, alt)
    return masked, ap8_integral_flux(l_shell, b_over_b0, grid.energy_mev, grid.solar)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("belts-cache")


@pytest.mark.parametrize("solar", ["min", "max"])
def test_masked_flux_is_the_full_evaluation_bit_for_bit(solar: str, cache_dir: Path) -> None:
    grid = ProtonFluxGrid.load_or_build(solar, spec=LEO_SPEC, cache_dir=cache_dir)  # type: ignore[arg-type]
    masked, full = masked_and_full(grid, 1_000_000, seed=2)
    assert np.array_equal(masked, full)
    inside = grid.belt_cells()
    assert 0.0 < (full > 0).mean() < 0.5  # the belts are there, and most of LEO is outside
    assert inside.mean() < 0.6  # and the mask skips most of the grid
    assert grid.belt_cells_path is not None and grid.belt_cells_path.exists()


def test_the_default_grid_is_exact_at_every_altitude() -> None:
    grid = ProtonFluxGrid.load_or_build("min")
    masked, full = masked_and_full(grid, 2_000_000, seed=3)
    assert np.array_equal(masked, full)


def test_a_cached_mask_is_reused_and_a_bad_one_rebuilt(cache_dir: Path) -> None:
    grid = ProtonFluxGrid.load_or_build("min", spec=LEO_SPEC, cache_dir=cache_dir)
    path = grid.belt_cells_path
    assert path is not None
    first = grid.belt_cells()
    assert path.exists()
    again = ProtonFluxGrid.load_or_build("min", spec=LEO_SPEC, cache_dir=cache_dir)
    assert np.array_equal(again.belt_cells(), first)
    np.save(path, np.zeros((2, 2), np.bool_))  # a mask for another grid
    rebuilt = ProtonFluxGrid.load_or_build("min", spec=LEO_SPEC, cache_dir=cache_dir)
    assert np.array_equal(rebuilt.belt_cells(), first)
    assert np.load(path).shape == first.shape
