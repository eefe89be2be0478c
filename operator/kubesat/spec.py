"""Manifests to core objects: the `Constellation` custom resource and annotated GPU Jobs.

The same parser serves `kubesat simulate` (YAML files) and the operator (objects read from
the API server), so both run the same constellation. camelCase fields of the resource
become snake_case names with units in the core. Errors name the field path.

This module parses the `Constellation`, every field of it (a test reads this file for
each field the CRD declares); `spec_jobs` parses Jobs, `spec_fields` holds the field
readers and `SpecError`, `spec_model` the parsed types. Import them all from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from kubesat.core.ground import DEFAULT_DATA_RATE_BPS, GroundStation
from kubesat.core.links import GBPS, NVLINK_BPS, GangPlacement, LinkSettings, LinkTopology
from kubesat.core.orbits import (
    SatelliteOrbit,
    formation,
    parse_tle_text,
    sun_synchronous,
    walker_delta,
)
from kubesat.core.policy import POLICIES
from kubesat.core.power import PowerSystem
from kubesat.core.thermal import (
    EARTH_ALBEDO,
    EARTH_IR_W_PER_M2,
    KELVIN_AT_ZERO_CELSIUS,
    ThermalSystem,
    earth_view_factor_horizontal_plate,
)
from kubesat.core.timebase import parse_utc
from kubesat.core.upsets import UpsetModel
from kubesat.spec_fields import SpecError as SpecError
from kubesat.spec_fields import _get, _integer, _mapping, _number, _positive_fraction, _reworded
from kubesat.spec_jobs import CHECKPOINT_INTERVAL_ANNOTATION as CHECKPOINT_INTERVAL_ANNOTATION
from kubesat.spec_jobs import CHECKPOINT_WRITE_ANNOTATION as CHECKPOINT_WRITE_ANNOTATION
from kubesat.spec_jobs import COMPUTE_PER_STEP_ANNOTATION as COMPUTE_PER_STEP_ANNOTATION
from kubesat.spec_jobs import DOWNLINK_ANNOTATION as DOWNLINK_ANNOTATION
from kubesat.spec_jobs import GANG_ANNOTATION as GANG_ANNOTATION
from kubesat.spec_jobs import GPU_RESOURCE as GPU_RESOURCE
from kubesat.spec_jobs import GRADIENT_BYTES_ANNOTATION as GRADIENT_BYTES_ANNOTATION
from kubesat.spec_jobs import JOB_CONTROLLER_NAME as JOB_CONTROLLER_NAME
from kubesat.spec_jobs import NEEDS_LINK_ANNOTATION as NEEDS_LINK_ANNOTATION
from kubesat.spec_jobs import SATELLITE_TAINT_KEY as SATELLITE_TAINT_KEY
from kubesat.spec_jobs import WORK_ANNOTATION as WORK_ANNOTATION
from kubesat.spec_jobs import parse_job as parse_job
from kubesat.spec_limits import TESTED_CLUSTER_NODES as TESTED_CLUSTER_NODES
from kubesat.spec_limits import _check_count, _too_many
from kubesat.spec_model import ClockSettings as ClockSettings
from kubesat.spec_model import ConstellationSpec as ConstellationSpec
from kubesat.spec_model import RadiationSettings as RadiationSettings

GROUP: Final = "kubesat.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
CONSTELLATION_LABEL: Final = "kubesat.io/constellation"  # on nodes; a nodeSelector picks a fleet
SCHEDULER_NAME: Final = "kubesat-scheduler"
MAX_NAME_LENGTH: Final = 63  # a Constellation's name is a label value (63 at most)
# links of every pair grow as N^2: a formation cluster is a few hundred satellites at most
MAX_FORMATION_LINK_SATELLITES: Final = 500
DEFAULT_MAX_RANGE_KM: Final = 5000.0  # optical terminals of LEO constellations (SDA Tranche 1)
ORBIT_SOURCES: Final = ("tle", "walkerDelta", "sunSynchronous", "formation")


def parse_constellation(
    manifest: Mapping[str, Any], max_satellites: int | None = None
) -> ConstellationSpec:
    """Parse a `kubesat.io/v1alpha1` `Constellation` manifest (a dict, as from YAML).

    `max_satellites`: refuse a constellation of more satellites than that (checked before
    any satellite is built, so a 300,000-satellite shell costs nothing to refuse).
    """
    if manifest.get("apiVersion") != API_VERSION or manifest.get("kind") != "Constellation":
        raise SpecError(
            f"expected apiVersion {API_VERSION} kind Constellation, got "
            f"{manifest.get('apiVersion')!r} {manifest.get('kind')!r}"
        )
    name = _get(_mapping(manifest, "metadata", ""), "name", "metadata", kind=str)
    if len(name) > MAX_NAME_LENGTH:
        raise SpecError(
            f"metadata.name: at most {MAX_NAME_LENGTH} characters (it is a label value on "
            f"the satellites' Nodes), got {len(name)}"
        )
    spec = _mapping(manifest, "spec", "")
    clock = _parse_clock(_mapping(spec, "clock", "spec"))
    orbits = _mapping(spec, "orbits", "spec")
    if max_satellites is not None:
        _check_count(orbits, max_satellites)
    satellites = _parse_orbits(orbits, clock.start_utc, name)
    if max_satellites is not None and len(satellites) > max_satellites:
        raise _too_many(len(satellites), max_satellites, "spec.orbits.tle")
    hardware = _mapping(spec, "hardware", "spec")
    path = "spec.hardware"
    with _reworded(path):
        power = PowerSystem(
            solar_array_w=_number(hardware, "solarArrayW", path, minimum=0),
            bus_power_w=_number(hardware, "busPowerW", path, 0.0, minimum=0),
            gpu_power_w=_number(
                hardware, "gpuPowerW", path, minimum=0, maximum=5000, exclusive_minimum=True
            ),
            gpus=_integer(hardware, "gpusPerSatellite", path, minimum=0, maximum=64),
            battery_wh=_number(hardware, "batteryWh", path, minimum=0),
            charge_efficiency=_positive_fraction(hardware, "chargeEfficiency", path, 0.95),
            discharge_efficiency=_positive_fraction(hardware, "dischargeEfficiency", path, 0.95),
            depth_of_discharge=_positive_fraction(hardware, "depthOfDischarge", path, 0.8),
            bus_reserve_fraction=(
                _number(hardware, "busReserveFraction", path, 0.1, minimum=0, maximum=1)
                if "busReserveFraction" in hardware
                else None
            ),
        )
    initial_soc = _number(hardware, "initialStateOfCharge", path, 1.0, minimum=0, maximum=1)
    restart = _number(hardware, "payloadRestartSeconds", path, 300.0, minimum=0, maximum=86400)
    stations = _parse_stations(_get(spec, "groundStations", "spec", [], list))
    radiation = _parse_radiation(_mapping(spec, "radiation", "spec", {}))
    policy = _get(spec, "policy", "spec", "predictive", str)
    if policy not in POLICIES:
        raise SpecError(f"spec.policy: must be one of {', '.join(POLICIES)}, got {policy!r}")
    scheduling = _mapping(spec, "scheduling", "spec", {})
    margin = _number(scheduling, "predictiveMarginSeconds", "spec.scheduling", 60.0, minimum=0)
    thermal_spec = _get(spec, "thermal", "spec", None, dict)
    thermal = None if thermal_spec is None else _parse_thermal(thermal_spec, satellites)
    links_spec = _get(spec, "links", "spec", None, dict)
    links = None if links_spec is None else _parse_links(links_spec, len(satellites))
    placement = _get(scheduling, "gangPlacement", "spec.scheduling", "topology-aware", str)
    choices = [p.value for p in GangPlacement]
    if placement not in choices:
        raise SpecError(
            f"spec.scheduling.gangPlacement: must be one of {', '.join(choices)}, got {placement!r}"
        )
    return ConstellationSpec(
        name=name,
        satellites=tuple(satellites),
        power=power,
        initial_state_of_charge=initial_soc,
        stations=tuple(stations),
        radiation=radiation,
        clock=clock,
        policy=policy,
        predictive_margin_seconds=margin,
        payload_restart_seconds=restart,
        thermal=thermal,
        links=links,
        gang_placement=GangPlacement(placement),
    )


def _parse_links(links: Mapping[str, Any], satellites: int) -> LinkSettings:
    """`spec.links`: laser links between satellites (README "Links between satellites")."""
    path = "spec.links"
    topology = _get(links, "topology", path, kind=str)
    choices = [t.value for t in LinkTopology]
    if topology not in choices:
        raise SpecError(f"{path}.topology: must be one of {', '.join(choices)}, got {topology!r}")
    if topology == LinkTopology.FORMATION.value and satellites > MAX_FORMATION_LINK_SATELLITES:
        raise SpecError(
            f"{path}.topology: formation links every pair, at most "
            f"{MAX_FORMATION_LINK_SATELLITES} satellites, got {satellites:,} (use grid)"
        )
    full_rate = links.get("fullRateRangeKm")
    with _reworded(path):
        return LinkSettings(
            topology=LinkTopology(topology),
            bandwidth_bps=_number(links, "bandwidthGbps", path, minimum=0, exclusive_minimum=True)
            * GBPS,
            max_range_km=_number(
                links,
                "maxRangeKm",
                path,
                DEFAULT_MAX_RANGE_KM,
                minimum=0,
                exclusive_minimum=True,
            ),
            grazing_height_km=_number(links, "grazingHeightKm", path, 100.0, minimum=0),
            full_rate_range_km=(
                None
                if full_rate is None
                else _number(links, "fullRateRangeKm", path, minimum=0, exclusive_minimum=True)
            ),
            intra_satellite_bps=_number(
                links,
                "intraSatelliteGbps",
                path,
                NVLINK_BPS / GBPS,
                minimum=0,
                exclusive_minimum=True,
            )
            * GBPS,
            hop_latency_seconds=_number(links, "hopLatencySeconds", path, 0.0, minimum=0),
        )


# defaults of spec.thermal (stated assumptions, README "Heat")
DEFAULT_EMISSIVITY: Final = 0.9  # white paint or optical solar reflectors, beginning of life
DEFAULT_SOLAR_ABSORPTIVITY: Final = 0.2  # the same coatings (Gilmore 2002, appendix A)
DEFAULT_MAX_TEMPERATURE_C: Final = 60.0  # coolant loop feeding GPU cold plates
DEFAULT_MIN_TEMPERATURE_C: Final = -10.0  # lowest non-operating payload temperature
DEFAULT_INITIAL_TEMPERATURE_C: Final = 20.0


def _parse_thermal(thermal: Mapping[str, Any], satellites: list[SatelliteOrbit]) -> ThermalSystem:
    """`spec.thermal`: the lumped thermal mass and radiator of every satellite."""
    path = "spec.thermal"
    altitude_km = sum(s.perigee_altitude_km for s in satellites) / max(len(satellites), 1)
    two_sided = _get(thermal, "twoSided", path, True, bool)

    def celsius(key: str, default: float) -> float:
        value = _number(thermal, key, path, default, minimum=-270, maximum=1000)
        return value + KELVIN_AT_ZERO_CELSIUS

    max_k = celsius("maxTemperatureC", DEFAULT_MAX_TEMPERATURE_C)
    min_k = celsius("minTemperatureC", DEFAULT_MIN_TEMPERATURE_C)
    initial_k = celsius("initialTemperatureC", DEFAULT_INITIAL_TEMPERATURE_C)
    if not min_k < max_k:
        raise SpecError(
            f"{path}.minTemperatureC: must be below maxTemperatureC "
            f"{max_k - KELVIN_AT_ZERO_CELSIUS:g}, got {min_k - KELVIN_AT_ZERO_CELSIUS:g}"
        )
    if not min_k <= initial_k <= max_k:
        raise SpecError(
            f"{path}.initialTemperatureC: must be within [minTemperatureC, maxTemperatureC] "
            f"= [{min_k - KELVIN_AT_ZERO_CELSIUS:g}, {max_k - KELVIN_AT_ZERO_CELSIUS:g}], "
            f"got {initial_k - KELVIN_AT_ZERO_CELSIUS:g}"
        )
    with _reworded(path):
        return ThermalSystem(
            heat_capacity_j_per_k=_number(
                thermal, "heatCapacityJPerK", path, minimum=0, exclusive_minimum=True
            ),
            radiator_area_m2=_number(
                thermal, "radiatorAreaM2", path, minimum=0, exclusive_minimum=True
            ),
            emissivity=_positive_fraction(thermal, "emissivity", path, DEFAULT_EMISSIVITY),
            two_sided=bool(two_sided),
            solar_absorptivity=_number(
                thermal,
                "solarAbsorptivity",
                path,
                DEFAULT_SOLAR_ABSORPTIVITY,
                minimum=0,
                maximum=1,
            ),
            sunlit_area_m2=_number(thermal, "sunlitAreaM2", path, 0.0, minimum=0),
            earth_view_factor=_number(
                thermal,
                "earthViewFactor",
                path,
                earth_view_factor_horizontal_plate(max(altitude_km, 1.0)),
                minimum=0,
                maximum=1,
            ),
            earth_ir_w_per_m2=_number(
                thermal, "earthInfraredWPerM2", path, EARTH_IR_W_PER_M2, minimum=0
            ),
            albedo=_number(thermal, "albedo", path, EARTH_ALBEDO, minimum=0, maximum=1),
            max_temperature_k=max_k,
            min_temperature_k=min_k,
            initial_temperature_k=initial_k,
        )


def _parse_clock(clock: Mapping[str, Any]) -> ClockSettings:
    """`spec.clock`: the simulated start time, the speedup over wall time and the step."""
    path = "spec.clock"
    start_text = _get(clock, "start", path, kind=str)
    try:
        start = parse_utc(start_text, f"{path}.start")
    except ValueError as error:
        raise SpecError(str(error)) from None
    return ClockSettings(
        start_utc=start,
        speedup=_number(clock, "speedup", path, 60.0, minimum=1, maximum=100_000),
        step_seconds=_number(
            clock, "stepSeconds", path, 10.0, minimum=0, maximum=600, exclusive_minimum=True
        ),
    )


def _parse_orbits(
    orbits: Mapping[str, Any], default_epoch: datetime, name: str
) -> list[SatelliteOrbit]:
    """`spec.orbits`: the satellites, from exactly one source (TLEs or a generated shell)."""
    path = "spec.orbits"
    sources = [k for k in ORBIT_SOURCES if orbits.get(k) is not None]
    if len(sources) != 1:
        raise SpecError(
            f"{path}: exactly one of {', '.join(ORBIT_SOURCES)} is required, got "
            f"{sources or 'none'}"
        )
    epoch = default_epoch
    if orbits.get("epoch") is not None:
        try:
            epoch = parse_utc(str(orbits["epoch"]), f"{path}.epoch")
        except ValueError as error:
            raise SpecError(str(error)) from None
    source = sources[0]
    try:
        if source == "tle":
            return parse_tle_text(_get(orbits, "tle", path, kind=str), source=f"{path}.tle")
        if source == "walkerDelta":
            w = _mapping(orbits, "walkerDelta", path)
            p = f"{path}.walkerDelta"
            return walker_delta(
                altitude_km=_number(w, "altitudeKm", p, minimum=160, maximum=40000),
                inclination_deg=_number(w, "inclinationDeg", p, minimum=0, maximum=180),
                planes=_integer(w, "planes", p, minimum=1, maximum=1000),
                per_plane=_integer(w, "perPlane", p, minimum=1, maximum=1000),
                phasing=_integer(w, "phasing", p, 0, minimum=0),
                epoch_utc=epoch,
                prefix=name,
                raan0_deg=_number(w, "raan0Deg", p, 0.0),
            )
        if source == "formation":
            f = _mapping(orbits, "formation", path)
            p = f"{path}.formation"
            return formation(
                altitude_km=_number(f, "altitudeKm", p, minimum=160, maximum=5900),
                ltan_hours=_number(f, "ltanHours", p, 18.0, minimum=0, maximum=24),
                count=_integer(f, "count", p, minimum=1, maximum=100_000),
                radius_km=_number(
                    f, "radiusKm", p, minimum=0, maximum=1000, exclusive_minimum=True
                ),
                epoch_utc=epoch,
                prefix=name,
            )
        s = _mapping(orbits, "sunSynchronous", path)
        p = f"{path}.sunSynchronous"
        return sun_synchronous(
            altitude_km=_number(s, "altitudeKm", p, minimum=160, maximum=5900),
            ltan_hours=_number(s, "ltanHours", p, 18.0, minimum=0, maximum=24),
            count=_integer(s, "count", p, minimum=1, maximum=100_000),
            epoch_utc=epoch,
            prefix=name,
            planes=_integer(s, "planes", p, 1, minimum=1),
        )
    except SpecError:
        raise
    except ValueError as error:
        message = str(error)
        return_path = f"{path}.{source}"
        raise SpecError(
            message if message.startswith(path) else f"{return_path}: {message}"
        ) from None


def _parse_stations(items: list[Any]) -> list[GroundStation]:
    """`spec.groundStations`: each station's place, elevation mask and rate; names unique."""
    stations = []
    for index, item in enumerate(items):
        path = f"spec.groundStations[{index}]"
        if not isinstance(item, Mapping):
            raise SpecError(f"{path}: expected a mapping, got {item!r}")
        with _reworded(path):
            stations.append(
                GroundStation(
                    name=_get(item, "name", path, kind=str),
                    latitude_deg=_number(item, "latitudeDeg", path, minimum=-90, maximum=90),
                    longitude_deg=_number(item, "longitudeDeg", path, minimum=-180, maximum=360),
                    altitude_m=_number(item, "altitudeM", path, 0.0),
                    min_elevation_deg=_number(
                        item, "minElevationDeg", path, 10.0, minimum=0, maximum=89.999
                    ),
                    data_rate_bps=_number(
                        item, "dataRateBps", path, DEFAULT_DATA_RATE_BPS, minimum=0
                    ),
                )
            )
    names = [s.name for s in stations]
    if len(set(names)) != len(names):
        raise SpecError(f"spec.groundStations: names must be unique, got {names}")
    return stations


def _parse_radiation(radiation: Mapping[str, Any]) -> RadiationSettings:
    """`spec.radiation`: the upset model, the AP8 flux model and the SAA threshold."""
    path = "spec.radiation"
    defaults = UpsetModel()
    with _reworded(path):
        model = UpsetModel(
            cross_section_cm2_per_gpu=_number(
                radiation,
                "crossSectionCm2PerGpu",
                path,
                defaults.cross_section_cm2_per_gpu,
                minimum=0,
            ),
            background_per_gpu_second=_number(
                radiation,
                "backgroundPerGpuSecond",
                path,
                defaults.background_per_gpu_second,
                minimum=0,
            ),
            sefi_fraction=_number(
                radiation, "sefiFraction", path, defaults.sefi_fraction, minimum=0, maximum=1
            ),
            latchup_fraction=_number(
                radiation, "latchupFraction", path, defaults.latchup_fraction, minimum=0, maximum=1
            ),
            sefi_recovery_seconds=_number(
                radiation, "sefiRecoverySeconds", path, defaults.sefi_recovery_seconds, minimum=0
            ),
            latchup_recovery_seconds=_number(
                radiation,
                "latchupRecoverySeconds",
                path,
                defaults.latchup_recovery_seconds,
                minimum=0,
            ),
        )
    flux_model = _get(radiation, "model", path, "AP8MIN", str)
    if flux_model not in ("AP8MIN", "AP8MAX"):
        raise SpecError(f"{path}.model: must be AP8MIN or AP8MAX, got {flux_model!r}")
    return RadiationSettings(
        enabled=bool(_get(radiation, "enabled", path, True, bool)),
        seed=_integer(radiation, "seed", path, 0, minimum=0),
        model=flux_model,
        saa_flux_threshold=_number(
            radiation, "saaFluxThreshold", path, 10.0, minimum=0, exclusive_minimum=True
        ),
        upsets=model,
    )
