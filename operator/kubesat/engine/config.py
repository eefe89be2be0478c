"""What the engine needs to know of a constellation, and who controls each Job."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from numpy.typing import NDArray

from kubesat.core.links import GangPlacement, LinkSettings, candidate_pairs, phase_rad_of
from kubesat.core.power import PowerSystem
from kubesat.core.thermal import ThermalSystem
from kubesat.core.upsets import UpsetModel
from kubesat.spec import ConstellationSpec


class JobController(Enum):
    """Who creates a Job's pods, which decides how failures delay the next pod."""

    # `spec.managedBy: kubesat.io/job-controller`: the engine creates pods in simulated
    # time; drains and disruptions never delay the next pod
    KUBESAT = "kubesat"
    # Kubernetes' Job controller: every failed pod (evicted ones too, kubernetes#130881)
    # delays the next creation by 10 s doubling to 6 min of *wall* time
    BUILTIN = "builtin"


@dataclass(frozen=True)
class EngineConfig:
    """A constellation's hardware, policy and recovery times, as the engine uses them."""

    power: PowerSystem
    policy: str
    step_seconds: float
    initial_state_of_charge: float = 1.0
    sefi_recovery_seconds: float = 60.0
    latchup_recovery_seconds: float = 600.0
    saa_flux_threshold: float = 10.0
    margin_seconds: float = 60.0
    payload_restart_seconds: float = 300.0
    speedup: float = 60.0  # simulated seconds per wall second (scales wall-clock backoff)
    # whether the engine also creates the pods of BUILTIN Jobs (the simulator models that
    # controller; the operator leaves them to the real one and adopts their bound pods)
    places_builtin_pods: bool = True
    # the lumped thermal model (spec.thermal); None: heat never limits the GPUs
    thermal: ThermalSystem | None = None
    # laser links between satellites (spec.links); None: a gang runs within one satellite
    links: LinkSettings | None = None
    # (P, 2) the satellite pairs the topology may link (each up when in range and sight)
    link_pairs: NDArray[np.int64] | None = field(default=None, compare=False)
    gang_placement: GangPlacement = GangPlacement.TOPOLOGY_AWARE
    # the upset model (spec.radiation.upsets) when upsets happen: the predictive policy
    # checkpoints gangs as often as their risk of losing a member calls for
    upsets: UpsetModel | None = None

    @classmethod
    def from_spec(
        cls, spec: ConstellationSpec, policy: str | None = None, places_builtin_pods: bool = True
    ) -> EngineConfig:
        upsets = spec.radiation.upsets
        pairs = None
        if spec.links is not None:
            planes = np.array([s.plane for s in spec.satellites], np.int64)
            pairs = candidate_pairs(spec.links.topology, planes, phase_rad_of(spec.satellites))
        return cls(
            power=spec.power,
            policy=policy or spec.policy,
            step_seconds=spec.clock.step_seconds,
            initial_state_of_charge=spec.initial_state_of_charge,
            sefi_recovery_seconds=upsets.sefi_recovery_seconds,
            latchup_recovery_seconds=upsets.latchup_recovery_seconds,
            saa_flux_threshold=spec.radiation.saa_flux_threshold,
            margin_seconds=spec.predictive_margin_seconds,
            payload_restart_seconds=spec.payload_restart_seconds,
            speedup=spec.clock.speedup,
            places_builtin_pods=places_builtin_pods,
            thermal=spec.thermal,
            links=spec.links,
            link_pairs=pairs,
            gang_placement=spec.gang_placement,
            upsets=upsets if spec.radiation.enabled else None,
        )
