"""What happens to satellites, told: injected upsets applied to the engine, and Events for
the upsets, power losses and recoveries the engine reports (only those that cost pods or
are news: correctable upsets and harmless SEFIs are counted, not announced).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubesat.core.upsets import UpsetKind
from kubesat.engine.events import Notice, NoticeKind
from kubesat.k8s.api import NORMAL, Api
from kubesat.k8s.fleet_refs import EventFunc, SatelliteUids
from kubesat.k8s.satellites import INJECT_ANNOTATION, parse_injection
from kubesat.spec import GROUP, VERSION, ConstellationSpec


@dataclass(frozen=True)
class AnnouncerConfig:
    """What the announcer reads and writes of one constellation (the runtime's values)."""

    namespace: str
    constellation: str  # its name: the Satellite index's key with the namespace
    satellites: SatelliteUids  # shared: the uids seen here are recorded for the writers
    api: Api
    event: EventFunc
    spec: Callable[[], ConstellationSpec]  # the current spec (an update replaces it)
    sim_text: Callable[[float], str]  # simulated seconds -> the instant, as text
    pod_names: Callable[[], dict[int, str]]  # engine pod -> its API name
    inject_upset: Callable[[int, UpsetKind, int | None], Notice]  # the engine's
    upset_kind: Callable[[int], int]  # the upset that holds satellite i (`UpsetKind`)


class Announcer:
    """Fault injection in, satellite Events out, for one constellation."""

    def __init__(self, config: AnnouncerConfig) -> None:
        self.config = config
        self.applied_injections: set[tuple[str, str]] = set()
        self.injected: set[int] = set()  # satellites recovering from an injected upset

    def apply_injections(self, sats_index: Any) -> None:
        config = self.config
        key = (config.namespace, config.constellation)
        if key not in sats_index:
            return
        index = {n: i for i, n in enumerate(config.satellites.names)}
        for info in list(sats_index[key]):
            config.satellites.record(info.name, info.uid)
            if not info.inject or info.name not in index:
                continue
            mark = (info.uid, info.resource_version)
            if mark in self.applied_injections:
                continue
            self.applied_injections.add(mark)
            i = index[info.name]
            try:
                kind, gpu = parse_injection(info.inject, config.spec().power.gpus)
            except ValueError as error:
                config.event(config.satellites.ref(i), "Warning", "InvalidInjection", str(error))
            else:
                config.inject_upset(i, UpsetKind(kind), gpu)
            self.clear_injection(info.name)

    def clear_injection(self, name: str) -> None:
        api, namespace = self.config.api, self.config.namespace
        patch = {"metadata": {"annotations": {INJECT_ANNOTATION: None}}}
        api.submit(
            ("satellite-inject", namespace, name),
            "patch",
            "satellites",
            lambda: api.custom.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, "satellites", name, patch
            ),
            priority=NORMAL,
        )

    def announce(self, notices: list[Notice]) -> None:
        config = self.config
        for notice in notices:
            ref = config.satellites.ref(notice.sat)
            when = config.sim_text(notice.at_seconds)
            names = config.pod_names()
            lost = [names.get(p, str(p)) for p in notice.pods]
            pods = f"; pods lost: {', '.join(lost)}" if lost else ""
            if notice.kind is NoticeKind.UPSET:
                if notice.injected:
                    self.injected.add(notice.sat)
                elif notice.upset == "correctable" or (notice.upset == "sefi" and not notice.pods):
                    continue  # counted (status, metrics); an Event only when it costs a pod
                how = "injected" if notice.injected else "radiation"
                if notice.upset == "sefi":
                    recovery = config.spec().radiation.upsets.sefi_recovery_seconds
                    text = (
                        f"SEFI ({how}) on GPU {notice.gpu} at {when}: the GPU hung; it is "
                        f"back after {recovery:.0f} s{pods}"
                    )
                elif notice.upset == "latchup":
                    recovery = config.spec().radiation.upsets.latchup_recovery_seconds
                    text = (
                        f"latch-up ({how}) at {when}: the satellite power-cycles for "
                        f"{recovery:.0f} s{pods}"
                    )
                else:
                    text = f"correctable upset ({how}) at {when}: corrected by ECC"
                config.event(ref, "Warning", "RadiationUpset", text)
            elif notice.kind is NoticeKind.POWER_LOST:
                config.event(
                    ref,
                    "Warning",
                    "PowerLost",
                    f"battery at its floor at {when}: GPUs shed, the payload is off "
                    f"until the battery recovers{pods}",
                )
            elif notice.kind is NoticeKind.BUS_BROWNOUT:
                config.event(
                    ref,
                    "Warning",
                    "BusBrownout",
                    f"the battery reached its hard reserve at {when}: the bus (avionics, "
                    "attitude control, radios, heaters) is not fully powered; the design "
                    "or the policy leaves the platform too little energy for the eclipse",
                )
            elif notice.kind is NoticeKind.THERMAL_THROTTLING:
                thermal = config.spec().thermal
                top = thermal.max_temperature_k - 273.15 if thermal is not None else 0.0
                if notice.pods:
                    text = (
                        f"at {when} the radiator could not carry every busy GPU at "
                        f"{top:.0f} C: GPUs held off{pods}"
                    )
                    config.event(ref, "Warning", "Overheated", text)
                else:
                    config.event(
                        ref,
                        "Warning",
                        "ThermalThrottling",
                        f"reached its maximum temperature ({top:.0f} C) at {when}: the "
                        "radiator cannot carry every GPU",
                    )
            elif notice.kind is NoticeKind.THERMAL_RECOVERED:
                config.event(
                    ref,
                    "Normal",
                    "ThermalRecovered",
                    f"below its maximum temperature at {when}: the radiator carries every GPU",
                )
            elif notice.kind is NoticeKind.POWER_RESTORED:
                config.event(
                    ref,
                    "Normal",
                    "PowerRestored",
                    f"battery recovered at {when}: the payload restarts "
                    f"({config.spec().payload_restart_seconds:.0f} s)",
                )
            elif notice.kind is NoticeKind.RECOVERED:
                latchup = config.upset_kind(notice.sat) == UpsetKind.LATCHUP
                if notice.sat not in self.injected and not latchup:
                    continue  # SEFIs come and go by the thousand; latch-ups are news
                self.injected.discard(notice.sat)
                config.event(ref, "Normal", "Recovered", f"upset recovery over at {when}")
