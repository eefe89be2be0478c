"""What happens to satellites, told: injected upsets applied to the engine, and Events for
the upsets, power losses and recoveries the engine reports (only those that cost pods or
are news: correctable upsets and harmless SEFIs are counted, not announced).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubesat.core.timebase import iso_z
from kubesat.core.upsets import UpsetKind
from kubesat.engine.events import Notice, NoticeKind
from kubesat.k8s.api import NORMAL
from kubesat.k8s.satellites import INJECT_ANNOTATION, parse_injection
from kubesat.spec import GROUP, VERSION

if TYPE_CHECKING:
    from kubesat.k8s.runtime import FleetRuntime


class Announcer:
    """Fault injection in, satellite Events out, for one constellation."""

    def __init__(self, fleet: FleetRuntime) -> None:
        self.fleet = fleet
        self.applied_injections: set[tuple[str, str]] = set()
        self.injected: set[int] = set()  # satellites recovering from an injected upset

    def apply_injections(self, sats_index: Any) -> None:
        key = (self.fleet.namespace, self.fleet.name)
        if key not in sats_index:
            return
        index = {n: i for i, n in enumerate(self.fleet.names)}
        for info in list(sats_index[key]):
            self.fleet.sat_uids[info.name] = info.uid
            if not info.inject or info.name not in index:
                continue
            mark = (info.uid, info.resource_version)
            if mark in self.applied_injections:
                continue
            self.applied_injections.add(mark)
            i = index[info.name]
            try:
                kind, gpu = parse_injection(info.inject, self.fleet.spec.power.gpus)
            except ValueError as error:
                self.fleet.event(
                    self.fleet.satellite_ref(i), "Warning", "InvalidInjection", str(error)
                )
            else:
                self.fleet.engine.inject_upset(i, UpsetKind(kind), gpu)
            self.clear_injection(info.name)

    def clear_injection(self, name: str) -> None:
        patch = {"metadata": {"annotations": {INJECT_ANNOTATION: None}}}
        self.fleet.api.submit(
            ("satellite-inject", self.fleet.namespace, name),
            "patch",
            "satellites",
            lambda: self.fleet.api.custom.patch_namespaced_custom_object(
                GROUP, VERSION, self.fleet.namespace, "satellites", name, patch
            ),
            priority=NORMAL,
        )

    def announce(self, notices: list[Notice]) -> None:
        for notice in notices:
            ref = self.fleet.satellite_ref(notice.sat)
            when = iso_z(self.fleet.clock.at(notice.at_seconds))
            names = self.fleet._pod_names()
            lost = [names.get(p, str(p)) for p in notice.pods]
            pods = f"; pods lost: {', '.join(lost)}" if lost else ""
            if notice.kind is NoticeKind.UPSET:
                if notice.injected:
                    self.injected.add(notice.sat)
                elif notice.upset == "correctable" or (notice.upset == "sefi" and not notice.pods):
                    continue  # counted (status, metrics); an Event only when it costs a pod
                how = "injected" if notice.injected else "radiation"
                if notice.upset == "sefi":
                    recovery = self.fleet.spec.radiation.upsets.sefi_recovery_seconds
                    text = (
                        f"SEFI ({how}) on GPU {notice.gpu} at {when}: the GPU hung; it is "
                        f"back after {recovery:.0f} s{pods}"
                    )
                elif notice.upset == "latchup":
                    recovery = self.fleet.spec.radiation.upsets.latchup_recovery_seconds
                    text = (
                        f"latch-up ({how}) at {when}: the satellite power-cycles for "
                        f"{recovery:.0f} s{pods}"
                    )
                else:
                    text = f"correctable upset ({how}) at {when}: corrected by ECC"
                self.fleet.event(ref, "Warning", "RadiationUpset", text)
            elif notice.kind is NoticeKind.POWER_LOST:
                self.fleet.event(
                    ref,
                    "Warning",
                    "PowerLost",
                    f"battery at its floor at {when}: GPUs shed, the payload is off "
                    f"until the battery recovers{pods}",
                )
            elif notice.kind is NoticeKind.BUS_BROWNOUT:
                self.fleet.event(
                    ref,
                    "Warning",
                    "BusBrownout",
                    f"the battery reached its hard reserve at {when}: the bus (avionics, "
                    "attitude control, radios, heaters) is not fully powered; the design "
                    "or the policy leaves the platform too little energy for the eclipse",
                )
            elif notice.kind is NoticeKind.THERMAL_THROTTLING:
                thermal = self.fleet.spec.thermal
                top = thermal.max_temperature_k - 273.15 if thermal is not None else 0.0
                if notice.pods:
                    text = (
                        f"at {when} the radiator could not carry every busy GPU at "
                        f"{top:.0f} C: GPUs held off{pods}"
                    )
                    self.fleet.event(ref, "Warning", "Overheated", text)
                else:
                    self.fleet.event(
                        ref,
                        "Warning",
                        "ThermalThrottling",
                        f"reached its maximum temperature ({top:.0f} C) at {when}: the "
                        "radiator cannot carry every GPU",
                    )
            elif notice.kind is NoticeKind.THERMAL_RECOVERED:
                self.fleet.event(
                    ref,
                    "Normal",
                    "ThermalRecovered",
                    f"below its maximum temperature at {when}: the radiator carries every GPU",
                )
            elif notice.kind is NoticeKind.POWER_RESTORED:
                self.fleet.event(
                    ref,
                    "Normal",
                    "PowerRestored",
                    f"battery recovered at {when}: the payload restarts "
                    f"({self.fleet.spec.payload_restart_seconds:.0f} s)",
                )
            elif notice.kind is NoticeKind.RECOVERED:
                latchup = self.fleet.engine.upset_kind[notice.sat] == UpsetKind.LATCHUP
                if notice.sat not in self.injected and not latchup:
                    continue  # SEFIs come and go by the thousand; latch-ups are news
                self.injected.discard(notice.sat)
                self.fleet.event(ref, "Normal", "Recovered", f"upset recovery over at {when}")
