"""A parsed `Constellation`: `ConstellationSpec` and the settings it holds, in core units."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from kubesat.core.ground import GroundStation
from kubesat.core.links import GangPlacement, LinkSettings
from kubesat.core.orbits import SatelliteOrbit
from kubesat.core.power import PowerSystem
from kubesat.core.thermal import ThermalSystem
from kubesat.core.upsets import UpsetModel


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
