"""The manifest parser: the examples parse, and it reads every field the CRD declares."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import kubesat.spec
from kubesat.sim.run import load_scenario
from kubesat.spec import SpecError, parse_constellation, parse_job

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_parse(path):
    scenario = load_scenario(path)
    assert scenario.constellation.satellites
    assert scenario.jobs
    assert all(job.ignores_disruptions for job in scenario.jobs)


def test_example_sizes_match_their_descriptions():
    sizes = {p.stem: len(load_scenario(p).constellation.satellites) for p in EXAMPLES}
    assert sizes == {
        "starcloud-1": 1,
        "sso-12": 12,
        "suncatcher-81": 81,
        "walker-1000": 1000,
        "radiator-sso-8": 8,
        "three-body-12": 12,
        "suncatcher-formation-81": 81,
    }
    walker = load_scenario(ROOT / "examples" / "walker-1000.yaml").constellation
    assert walker.power.gpus * len(walker.satellites) == 8000


def _properties(schema: dict, prefix: str = "") -> set[str]:
    names = set()
    for name, child in (schema.get("properties") or {}).items():
        names.add(name)
        names |= _properties(child, f"{prefix}{name}.")
        if child.get("type") == "array":
            names |= _properties(child.get("items") or {}, f"{prefix}{name}[].")
    return names


def test_parser_reads_every_field_the_crd_declares():
    crd = yaml.safe_load((ROOT / "crds" / "constellations.kubesat.io.yaml").read_text())
    spec_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    source = Path(kubesat.spec.__file__).read_text()
    missing = sorted(name for name in _properties(spec_schema) if f'"{name}"' not in source)
    assert missing == []


def test_errors_name_the_field_path():
    manifest = yaml.safe_load((ROOT / "examples" / "sso-12.yaml").read_text().split("---")[0])
    manifest["spec"]["orbits"]["sunSynchronous"]["altitudeKm"] = 90
    with pytest.raises(SpecError, match=r"spec.orbits.sunSynchronous.altitudeKm: must be >= 160"):
        parse_constellation(manifest)
    manifest["spec"]["orbits"]["walkerDelta"] = {"altitudeKm": 550}
    with pytest.raises(SpecError, match="exactly one of tle, walkerDelta, sunSynchronous"):
        parse_constellation(manifest)


def test_thermal_is_off_without_spec_thermal_and_parsed_with_it():
    assert load_scenario(ROOT / "examples" / "walker-1000.yaml").constellation.thermal is None
    thermal = load_scenario(ROOT / "examples" / "radiator-sso-8.yaml").constellation.thermal
    assert thermal is not None
    assert thermal.radiating_area_m2 == pytest.approx(8.4)
    assert thermal.max_temperature_k == pytest.approx(333.15)
    # the default view factor: a plate with a horizontal normal at 535 km
    assert thermal.earth_view_factor == pytest.approx(0.26, abs=0.01)


@pytest.mark.parametrize(
    ("thermal", "message"),
    [
        (
            {"heatCapacityJPerK": 1e5, "radiatorAreaM2": 2, "minTemperatureC": 70},
            "spec.thermal.minTemperatureC: must be below maxTemperatureC 60, got 70",
        ),
        (
            {"heatCapacityJPerK": 1e5, "radiatorAreaM2": 2, "initialTemperatureC": 80},
            "spec.thermal.initialTemperatureC: must be within [minTemperatureC, "
            "maxTemperatureC] = [-10, 60], got 80",
        ),
        ({"heatCapacityJPerK": 1e5}, "spec.thermal.radiatorAreaM2: required field is missing"),
        (
            {"heatCapacityJPerK": 1e5, "radiatorAreaM2": 2, "emissivity": 0},
            "spec.thermal.emissivity: must be > 0, got 0",
        ),
    ],
)
def test_bad_thermal_names_the_field(thermal, message):
    manifest = next(yaml.safe_load_all((ROOT / "examples" / "radiator-sso-8.yaml").read_text()))
    manifest["spec"]["thermal"] = thermal
    with pytest.raises(SpecError) as error:
        parse_constellation(manifest)
    assert str(error.value) == message


def _sso_12() -> dict:
    return next(yaml.safe_load_all((ROOT / "examples" / "sso-12.yaml").read_text()))


def test_links_are_off_by_default_and_parsed_with_their_defaults():
    from kubesat.core.links import GangPlacement, LinkTopology

    manifest = _sso_12()
    plain = parse_constellation(manifest)
    assert plain.links is None
    assert plain.gang_placement is GangPlacement.TOPOLOGY_AWARE
    manifest["spec"]["links"] = {"topology": "grid", "bandwidthGbps": 100}
    manifest["spec"].setdefault("scheduling", {})["gangPlacement"] = "ignore-links"
    spec = parse_constellation(manifest)
    assert spec.gang_placement is GangPlacement.IGNORE_LINKS
    links = spec.links
    assert links is not None
    assert links.topology is LinkTopology.GRID
    assert links.bandwidth_bps == 100e9
    assert links.max_range_km == 5000.0
    assert links.grazing_height_km == 100.0
    assert links.full_rate_range_km is None
    assert links.intra_satellite_bps == 7.2e12
    assert links.hop_latency_seconds == 0.0
    manifest["spec"]["links"] = {
        "topology": "formation",
        "bandwidthGbps": 1600,
        "maxRangeKm": 10,
        "grazingHeightKm": 80,
        "fullRateRangeKm": 2,
        "intraSatelliteGbps": 3600,
        "hopLatencySeconds": 1e-6,
    }
    links = parse_constellation(manifest).links
    assert links is not None
    assert (links.topology, links.bandwidth_bps, links.max_range_km) == (
        LinkTopology.FORMATION,
        1.6e12,
        10.0,
    )
    assert (links.grazing_height_km, links.full_rate_range_km) == (80.0, 2.0)
    assert (links.intra_satellite_bps, links.hop_latency_seconds) == (3.6e12, 1e-6)


def test_formation_orbits_are_parsed_and_counted():
    manifest = _sso_12()
    manifest["spec"]["orbits"] = {
        "formation": {"altitudeKm": 650, "ltanHours": 18.0, "count": 81, "radiusKm": 1.0}
    }
    spec = parse_constellation(manifest)
    assert len(spec.satellites) == 81
    assert spec.satellites[0].name == "sso-12-000"
    manifest["spec"]["orbits"]["formation"]["count"] = 600
    with pytest.raises(SpecError, match=r"^spec.orbits.formation.count: 600 satellites, more"):
        parse_constellation(manifest, max_satellites=500)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            {"links": {"topology": "grid", "bandwidthGbps": 0}},
            "spec.links.bandwidthGbps: must be > 0, got 0",
        ),
        (
            {"links": {"topology": "mesh", "bandwidthGbps": 1}},
            "spec.links.topology: must be one of grid, formation, got 'mesh'",
        ),
        ({"links": {"bandwidthGbps": 1}}, "spec.links.topology: required field is missing"),
        (
            {"links": {"topology": "grid", "bandwidthGbps": 1, "grazingHeightKm": -1}},
            "spec.links.grazingHeightKm: must be >= 0, got -1",
        ),
        (
            {"links": {"topology": "grid", "bandwidthGbps": 1, "fullRateRangeKm": 0}},
            "spec.links.fullRateRangeKm: must be > 0, got 0",
        ),
        (
            {"scheduling": {"gangPlacement": "random"}},
            "spec.scheduling.gangPlacement: must be one of topology-aware, ignore-links, "
            "got 'random'",
        ),
        (
            {
                "orbits": {"formation": {"altitudeKm": 650, "count": 501, "radiusKm": 5}},
                "links": {"topology": "formation", "bandwidthGbps": 1},
            },
            "spec.links.topology: formation links every pair, at most 500 satellites, "
            "got 501 (use grid)",
        ),
        (
            {"orbits": {"formation": {"altitudeKm": 650, "count": 9, "radiusKm": 0}}},
            "spec.orbits.formation.radiusKm: must be > 0, got 0",
        ),
    ],
)
def test_bad_links_and_formation_name_the_field(edit, message):
    manifest = _sso_12()
    manifest["spec"].update(edit)
    with pytest.raises(SpecError) as error:
        parse_constellation(manifest)
    assert str(error.value) == message


def _gang_manifest() -> dict:
    documents = list(yaml.safe_load_all((ROOT / "examples" / "three-body-12.yaml").read_text()))
    return next(d for d in documents if d and d["kind"] == "Job")


def test_a_gang_job_reads_its_size_and_step() -> None:
    job = parse_job(_gang_manifest())
    assert job.gang and job.members == 8 == job.completions == job.parallelism
    assert job.compute_seconds_per_step == 2.0
    assert job.gradient_bytes_per_step == 2e9
    plain = _gang_manifest()
    del plain["metadata"]["annotations"]["kubesat.io/gang"]
    assert not parse_job(plain).gang


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda m: m["spec"].pop("completionMode"),
            "spec.completionMode: a gang (kubesat.io/gang) must be Indexed",
        ),
        (
            lambda m: m["spec"].pop("managedBy"),
            "spec.managedBy: a gang (kubesat.io/gang) must be managed by kubesat.io/job-controller",
        ),
        (
            lambda m: m["spec"].__setitem__("parallelism", 4),
            "spec.parallelism: a gang's members run at once, so it must equal "
            "spec.completions (8), got 4",
        ),
        (
            lambda m: m["metadata"]["annotations"].__setitem__(
                "kubesat.io/compute-seconds-per-step", "0"
            ),
            "metadata.annotations[kubesat.io/compute-seconds-per-step]: must be > 0",
        ),
        (
            lambda m: m["metadata"]["annotations"].__setitem__(
                "kubesat.io/gradient-bytes-per-step", "lots"
            ),
            "metadata.annotations[kubesat.io/gradient-bytes-per-step]: expected a number",
        ),
    ],
)
def test_a_bad_gang_job_names_the_field(edit, message) -> None:
    manifest = _gang_manifest()
    edit(manifest)
    with pytest.raises(SpecError) as error:
        parse_job(manifest)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
