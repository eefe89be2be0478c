"""Manifests to core objects: the `Constellation` custom resource and annotated GPU Jobs.

The same parser serves `kubesat simulate` (YAML files) and the operator (objects read from
the API server), so both run the same constellation. camelCase fields of the resource
become snake_case names with units in the core. Errors name the field path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
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
from kubesat.core.workloads import JobSpec

GROUP: Final = "kubesat.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
GPU_RESOURCE: Final = "nvidia.com/gpu"
SATELLITE_TAINT_KEY: Final = "kubesat.io/satellite"
CONSTELLATION_LABEL: Final = "kubesat.io/constellation"  # on nodes; a nodeSelector picks a fleet
SCHEDULER_NAME: Final = "kubesat-scheduler"
MAX_NAME_LENGTH: Final = 63  # a Constellation's name is a label value (63 at most)
JOB_CONTROLLER_NAME: Final = "kubesat.io/job-controller"  # spec.managedBy of Jobs kubesat runs
WORK_ANNOTATION: Final = "kubesat.io/work-gpu-seconds"
CHECKPOINT_INTERVAL_ANNOTATION: Final = "kubesat.io/checkpoint-interval-seconds"
CHECKPOINT_WRITE_ANNOTATION: Final = "kubesat.io/checkpoint-write-seconds"
NEEDS_LINK_ANNOTATION: Final = "kubesat.io/needs-ground-link"
DOWNLINK_ANNOTATION: Final = "kubesat.io/downlink-bytes"  # results of each completion
GANG_ANNOTATION: Final = "kubesat.io/gang"  # "true": every pod of the Job runs at once
COMPUTE_PER_STEP_ANNOTATION: Final = "kubesat.io/compute-seconds-per-step"
GRADIENT_BYTES_ANNOTATION: Final = "kubesat.io/gradient-bytes-per-step"
# Nodes one Kubernetes cluster is tested with (kubernetes.io/docs/setup/best-practices/
# cluster-large): the most satellites the operator runs in one cluster unless told more,
# and the most one simulation takes before the fleet is split into domains.
TESTED_CLUSTER_NODES: Final = 5000
# links of every pair grow as N^2: a formation cluster is a few hundred satellites at most
MAX_FORMATION_LINK_SATELLITES: Final = 500
DEFAULT_MAX_RANGE_KM: Final = 5000.0  # optical terminals of LEO constellations (SDA Tranche 1)
ORBIT_SOURCES: Final = ("tle", "walkerDelta", "sunSynchronous", "formation")


class SpecError(ValueError):
    """A manifest field is missing or out of range; the message names its path."""


@dataclass(frozen=True)
class RadiationSettings:
    """Whether upsets happen, their seed, the flux model and the SAA threshold."""

    enabled: bool = True
    seed: int = 0
    model: str = "AP8MIN"
    saa_flux_threshold: float = 10.0
    upsets: UpsetModel = field(default_factory=UpsetModel)


@dataclass(frozen=True)
class ClockSettings:
    """Simulated time = start + speedup x elapsed wall time, advanced in steps."""

    start_utc: datetime
    speedup: float = 60.0
    step_seconds: float = 10.0


@dataclass(frozen=True)
class ConstellationSpec:
    """A parsed `Constellation`: satellites, hardware, stations, radiation, clock, policy."""

    name: str
    satellites: tuple[SatelliteOrbit, ...]
    power: PowerSystem
    initial_state_of_charge: float
    stations: tuple[GroundStation, ...]
    radiation: RadiationSettings
    clock: ClockSettings
    policy: str
    predictive_margin_seconds: float = 60.0
    payload_restart_seconds: float = 300.0
    thermal: ThermalSystem | None = None  # spec.thermal; None: heat never limits the GPUs
    links: LinkSettings | None = None  # spec.links; None: no links between satellites
    gang_placement: GangPlacement = GangPlacement.TOPOLOGY_AWARE


def _get(
    mapping: Mapping[str, Any],
    key: str,
    path: str,
    default: Any = ...,
    kind: type | tuple[type, ...] = object,
) -> Any:
    value = mapping.get(key, default) if isinstance(mapping, Mapping) else default
    if value is ...:
        raise SpecError(f"{path}.{key}: required field is missing")
    if value is not None and kind is not object and not isinstance(value, kind):
        raise SpecError(f"{path}.{key}: expected {_kind_name(kind)}, got {value!r}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
        dict: "a mapping",
        list: "a list",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _number(
    mapping: Mapping[str, Any],
    key: str,
    path: str,
    default: Any = ...,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
) -> float:
    value = _get(mapping, key, path, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpecError(f"{path}.{key}: expected a number, got {value!r}")
    if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        sign = ">" if exclusive_minimum else ">="
        raise SpecError(f"{path}.{key}: must be {sign} {minimum:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise SpecError(f"{path}.{key}: must be <= {maximum:g}, got {value:g}")
    return float(value)


def _integer(
    mapping: Mapping[str, Any],
    key: str,
    path: str,
    default: Any = ...,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    value = _get(mapping, key, path, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{path}.{key}: expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise SpecError(f"{path}.{key}: must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SpecError(f"{path}.{key}: must be <= {maximum}, got {value}")
    return int(value)


def _mapping(mapping: Mapping[str, Any], key: str, path: str, default: Any = ...) -> dict[str, Any]:
    value = _get(mapping, key, path, default, dict)
    return {} if value is None else dict(value)


def _reword(error: ValueError, path: str) -> SpecError:
    """Prefix a core validation message with the manifest path it came from, in the
    manifest's field names (`bus_reserve_fraction` -> `busReserveFraction`)."""
    text = re.sub(
        r"\b([a-z]+(?:_[a-z]+)+)\b",
        lambda m: m.group(1).split("_")[0] + "".join(w.title() for w in m.group(1).split("_")[1:]),
        str(error),
    )
    return SpecError(f"{path}.{text}" if re.match(r"^[a-zA-Z]+:", text) else f"{path}: {text}")


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
    try:
        power = PowerSystem(
            solar_array_w=_number(hardware, "solarArrayW", path, minimum=0),
            bus_power_w=_number(hardware, "busPowerW", path, 0.0, minimum=0),
            gpu_power_w=_number(
                hardware, "gpuPowerW", path, minimum=0, maximum=5000, exclusive_minimum=True
            ),
            gpus=_integer(hardware, "gpusPerSatellite", path, minimum=0, maximum=64),
            battery_wh=_number(hardware, "batteryWh", path, minimum=0),
            charge_efficiency=_number(
                hardware,
                "chargeEfficiency",
                path,
                0.95,
                minimum=0,
                maximum=1,
                exclusive_minimum=True,
            ),
            discharge_efficiency=_number(
                hardware,
                "dischargeEfficiency",
                path,
                0.95,
                minimum=0,
                maximum=1,
                exclusive_minimum=True,
            ),
            depth_of_discharge=_number(
                hardware,
                "depthOfDischarge",
                path,
                0.8,
                minimum=0,
                maximum=1,
                exclusive_minimum=True,
            ),
            bus_reserve_fraction=(
                _number(hardware, "busReserveFraction", path, 0.1, minimum=0, maximum=1)
                if "busReserveFraction" in hardware
                else None
            ),
        )
    except SpecError:
        raise
    except ValueError as error:
        raise _reword(error, path) from None
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
    try:
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
    except SpecError:
        raise
    except ValueError as error:
        raise _reword(error, path) from None


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
    try:
        return ThermalSystem(
            heat_capacity_j_per_k=_number(
                thermal, "heatCapacityJPerK", path, minimum=0, exclusive_minimum=True
            ),
            radiator_area_m2=_number(
                thermal, "radiatorAreaM2", path, minimum=0, exclusive_minimum=True
            ),
            emissivity=_number(
                thermal,
                "emissivity",
                path,
                DEFAULT_EMISSIVITY,
                minimum=0,
                maximum=1,
                exclusive_minimum=True,
            ),
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
    except SpecError:
        raise
    except ValueError as error:
        raise _reword(error, path) from None


def _parse_clock(clock: Mapping[str, Any]) -> ClockSettings:
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


def _too_many(count: int, limit: int, path: str) -> SpecError:
    return SpecError(
        f"{path}: {count:,} satellites, more than the {limit:,} this operator runs in one "
        f"cluster (its --max-satellites, the chart's maxSatellites; Kubernetes is tested to "
        f"{TESTED_CLUSTER_NODES:,} nodes): split the fleet into Constellations of whole planes"
    )


def _check_count(orbits: Mapping[str, Any], limit: int) -> None:
    """Refuse a generated shell larger than `limit` from its counts alone."""
    walker, sso = orbits.get("walkerDelta"), orbits.get("sunSynchronous")
    cluster = orbits.get("formation")
    if isinstance(cluster, Mapping):
        count = cluster.get("count")
        if isinstance(count, int) and count > limit:
            raise _too_many(count, limit, "spec.orbits.formation.count")
    if isinstance(walker, Mapping):
        planes, per_plane = walker.get("planes"), walker.get("perPlane")
        if isinstance(planes, int) and isinstance(per_plane, int) and planes * per_plane > limit:
            raise _too_many(planes * per_plane, limit, "spec.orbits.walkerDelta")
    if isinstance(sso, Mapping):
        count = sso.get("count")
        if isinstance(count, int) and count > limit:
            raise _too_many(count, limit, "spec.orbits.sunSynchronous.count")


def _parse_orbits(
    orbits: Mapping[str, Any], default_epoch: datetime, name: str
) -> list[SatelliteOrbit]:
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
    stations = []
    for index, item in enumerate(items):
        path = f"spec.groundStations[{index}]"
        if not isinstance(item, Mapping):
            raise SpecError(f"{path}: expected a mapping, got {item!r}")
        try:
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
        except SpecError:
            raise
        except ValueError as error:
            raise _reword(error, path) from None
    names = [s.name for s in stations]
    if len(set(names)) != len(names):
        raise SpecError(f"spec.groundStations: names must be unique, got {names}")
    return stations


def _parse_radiation(radiation: Mapping[str, Any]) -> RadiationSettings:
    path = "spec.radiation"
    defaults = UpsetModel()
    try:
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
    except SpecError:
        raise
    except ValueError as error:
        raise _reword(error, path) from None
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


def parse_job(manifest: Mapping[str, Any], where: str = "Job") -> JobSpec:
    """Parse a `batch/v1` Job whose pods request `nvidia.com/gpu` and carry work annotations."""
    metadata = _mapping(manifest, "metadata", where)
    name = _get(metadata, "name", f"{where}.metadata", kind=str)
    path = f"{where} {name!r}"
    spec = _mapping(manifest, "spec", path)
    template = _mapping(spec, "template", f"{path} spec")
    pod_meta = _mapping(template, "metadata", f"{path} spec.template", {})
    annotations = {
        **dict(metadata.get("annotations") or {}),
        **dict(pod_meta.get("annotations") or {}),
    }
    pod_spec = _mapping(template, "spec", f"{path} spec.template")
    containers = _get(pod_spec, "containers", f"{path} spec.template.spec", kind=list)
    gpus = 0
    for index, container in enumerate(containers):
        limits = ((container or {}).get("resources") or {}).get("limits") or {}
        requests = ((container or {}).get("resources") or {}).get("requests") or {}
        value = limits.get(GPU_RESOURCE, requests.get(GPU_RESOURCE, 0))
        try:
            gpus += int(value)
        except (TypeError, ValueError):
            raise SpecError(
                f"{path} spec.template.spec.containers[{index}].resources.limits"
                f"[{GPU_RESOURCE}]: expected an integer, got {value!r}"
            ) from None
    if gpus < 1:
        raise SpecError(f"{path} spec.template.spec.containers: must request {GPU_RESOURCE} >= 1")

    def annotation(key: str, default: float | None) -> float:
        raw = annotations.get(key)
        if raw is None:
            if default is None:
                raise SpecError(
                    f"{path} metadata.annotations[{key}]: required annotation is missing"
                )
            return default
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise SpecError(
                f"{path} metadata.annotations[{key}]: expected a number, got {raw!r}"
            ) from None
        if not math.isfinite(value) or value < 0:
            raise SpecError(f"{path} metadata.annotations[{key}]: must be >= 0, got {raw!r}")
        return value

    tolerations = pod_spec.get("tolerations") or []
    tolerates = any(
        (t or {}).get("key") == SATELLITE_TAINT_KEY
        or ((t or {}).get("operator") == "Exists" and not (t or {}).get("key"))
        for t in tolerations
    )
    work = annotation(WORK_ANNOTATION, None)
    if work <= 0:
        raise SpecError(
            f"{path} metadata.annotations[{WORK_ANNOTATION}]: must be > 0, got {work:g}"
        )
    gang = str(annotations.get(GANG_ANNOTATION, "false")).lower() == "true"
    managed = spec.get("managedBy") == JOB_CONTROLLER_NAME
    if gang and spec.get("completionMode") != "Indexed":
        raise SpecError(
            f"{path} spec.completionMode: a gang ({GANG_ANNOTATION}) must be Indexed "
            "(each member is one completion index)"
        )
    if gang and not managed:
        raise SpecError(
            f"{path} spec.managedBy: a gang ({GANG_ANNOTATION}) must be managed by "
            f"{JOB_CONTROLLER_NAME} (the built-in Job controller replaces members one by one)"
        )
    parallelism = _integer(spec, "parallelism", f"{path} spec", 1, minimum=0)
    completions = _integer(spec, "completions", f"{path} spec", 1, minimum=1)
    if gang and parallelism != completions:
        raise SpecError(
            f"{path} spec.parallelism: a gang's members run at once, so it must equal "
            f"spec.completions ({completions}), got {parallelism}"
        )
    compute = annotation(COMPUTE_PER_STEP_ANNOTATION, 1.0)
    if gang and compute <= 0:
        raise SpecError(
            f"{path} metadata.annotations[{COMPUTE_PER_STEP_ANNOTATION}]: must be > 0, "
            f"got {compute:g}"
        )
    return JobSpec(
        name=name,
        namespace=str(metadata.get("namespace") or "default"),
        gpus_per_pod=gpus,
        work_gpu_seconds=work,
        checkpoint_interval_seconds=annotation(CHECKPOINT_INTERVAL_ANNOTATION, 1800.0),
        checkpoint_write_seconds=annotation(CHECKPOINT_WRITE_ANNOTATION, 30.0),
        parallelism=parallelism,
        completions=completions,
        backoff_limit=_integer(spec, "backoffLimit", f"{path} spec", 6, minimum=0),
        tolerates_satellites=tolerates,
        needs_ground_link=str(annotations.get(NEEDS_LINK_ANNOTATION, "false")).lower() == "true",
        ignores_disruptions=_ignores_disruptions(spec.get("podFailurePolicy")),
        managed=managed,
        labels=dict(pod_meta.get("labels") or {}),
        downlink_bytes=annotation(DOWNLINK_ANNOTATION, 0.0),
        gang=gang,
        compute_seconds_per_step=compute if compute > 0 else 1.0,
        gradient_bytes_per_step=annotation(GRADIENT_BYTES_ANNOTATION, 0.0),
    )


def _ignores_disruptions(policy: Any) -> bool:
    """True when the Job's podFailurePolicy ignores pods with a DisruptionTarget condition.

    Evicted pods, and pods the node agent kills after a power loss or a radiation upset
    (it sets DisruptionTarget as the kubelet does), then count neither toward
    backoffLimit nor toward the Job controller's backoff delay.
    """
    for rule in (policy or {}).get("rules") or []:
        if (rule or {}).get("action") != "Ignore":
            continue
        for condition in rule.get("onPodConditions") or []:
            status = str((condition or {}).get("status", "True"))
            if (condition or {}).get("type") == "DisruptionTarget" and status == "True":
                return True
    return False
