"""Satellite custom resources: names, manifests, the status the physics gives them, and the
fault-injection annotation.

One Satellite per satellite of a Constellation, owner-referenced to it (deleting the
Constellation deletes them). Its status is what `kubectl get satellites` prints. Status
writes are batched: a discrete change (phase, sunlight, link, GPUs, upsets) is written
after a short coalescing delay, so the Sunlit -> Penumbra -> Eclipse sequence of a few
simulated seconds costs one request; continuous values (battery, position) ride along
and are refreshed at most every `refresh_seconds` of wall time otherwise.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from kubesat.core.orbits import EARTH_RADIUS_KM, MU_EARTH_KM3_S2, SatelliteOrbit
from kubesat.core.timebase import iso_z
from kubesat.core.upsets import UpsetKind
from kubesat.k8s.nodes import LABEL_PLANE
from kubesat.spec import API_VERSION, CONSTELLATION_LABEL

PLURAL: Final = "satellites"
KIND: Final = "Satellite"
INJECT_ANNOTATION: Final = "kubesat.io/inject-upset"
INJECT_KINDS: Final = {
    "correctable": UpsetKind.CORRECTABLE,
    "sefi": UpsetKind.SEFI,
    "latchup": UpsetKind.LATCHUP,
}
MAX_NAME: Final = 63  # node names double as label values (kubernetes.io/hostname)


def dns_label(text: str) -> str:
    """`text` as a DNS-1123 label: lower case, [a-z0-9-], no leading or trailing dash."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return re.sub(r"-{2,}", "-", label) or "sat"


def _fit(name: str) -> str:
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9].rstrip('-')}-{digest}"


def satellite_names(constellation: str, orbits: tuple[SatelliteOrbit, ...]) -> tuple[str, ...]:
    """Resource names of a constellation's satellites (also their Node names).

    Generated shells already carry the constellation's name as a prefix; TLE names get it,
    so two constellations in one namespace never collide.
    """
    prefix = dns_label(constellation)
    names: list[str] = []
    seen: set[str] = set()
    for index, orbit in enumerate(orbits):
        name = dns_label(orbit.name)
        if not name.startswith(f"{prefix}-"):
            name = f"{prefix}-{name}"
        name = _fit(name)
        if name in seen:
            name = _fit(f"{name}-{index}")
        seen.add(name)
        names.append(name)
    return tuple(names)


def satellite_manifest(
    constellation: Mapping[str, Any],
    orbit: SatelliteOrbit,
    name: str,
    index: int,
    from_tle: bool,
) -> dict[str, Any]:
    """A Satellite owned by its Constellation; its spec says which orbit it flies."""
    meta = constellation["metadata"]
    spec: dict[str, Any] = {
        "constellation": meta["name"],
        "index": index,
        "plane": int(orbit.plane),
        "nodeName": name,
    }
    satrec = orbit.satrec
    if from_tle:
        from sgp4.exporter import export_tle

        line1, line2 = export_tle(satrec)
        spec["tle"] = {"line1": line1, "line2": line2}
    else:
        n_rad_s = float(satrec.no_kozai) / 60.0
        semi_major_km = (MU_EARTH_KM3_S2 / n_rad_s**2) ** (1.0 / 3.0)
        spec["elements"] = {
            "altitudeKm": round(semi_major_km - EARTH_RADIUS_KM, 3),
            "inclinationDeg": round(math.degrees(float(satrec.inclo)), 6),
            "raanDeg": round(math.degrees(float(satrec.nodeo)) % 360.0, 6),
            "meanAnomalyDeg": round(math.degrees(float(satrec.mo)) % 360.0, 6),
            "epoch": iso_z(orbit.epoch_utc),
        }
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": {
                "app.kubernetes.io/managed-by": "kubesat",
                CONSTELLATION_LABEL: meta["name"],
                LABEL_PLANE: str(int(orbit.plane)),
            },
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": "Constellation",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": spec,
    }


def reference(namespace: str, name: str, uid: str | None = None) -> dict[str, Any]:
    """A body to post Events about (kopf.event builds the involvedObject from it)."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if uid:
        meta["uid"] = uid
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": meta}


def parse_injection(value: str, gpus: int) -> tuple[int, int | None]:
    """`sefi`, `sefi:<gpu>`, `latchup` or `correctable` -> (UpsetKind, gpu or None)."""
    kind_text, _, gpu_text = value.strip().lower().partition(":")
    if kind_text not in INJECT_KINDS:
        raise ValueError(
            f"metadata.annotations[{INJECT_ANNOTATION}]: expected one of "
            f"{', '.join(INJECT_KINDS)} (sefi may name a GPU: sefi:2), got {value!r}"
        )
    gpu = None
    if gpu_text:
        try:
            gpu = int(gpu_text)
        except ValueError:
            gpu = -1
        if not 0 <= gpu < max(gpus, 1):
            raise ValueError(
                f"metadata.annotations[{INJECT_ANNOTATION}]: GPU must be within "
                f"[0, {gpus - 1}], got {gpu_text!r}"
            )
    return int(INJECT_KINDS[kind_text]), gpu


PHASES: Final = ("Sunlit", "Penumbra", "Eclipse", "Upset", "PowerCycling", "Dark")


def instant(now: datetime, seconds: float, step_seconds: float) -> str | None:
    """`now + seconds` on the step grid (so it does not creep as the clock advances)."""
    if not math.isfinite(seconds):
        return None
    return iso_z(now + timedelta(seconds=round(seconds / step_seconds) * step_seconds))


class WriteSchedule:
    """When to write each of N objects whose state is summed up by a row of integer codes.

    A changed row is written after `coalesce_seconds` (later changes within that window
    ride along); an unchanged one is refreshed every `refresh_seconds` (never if inf).
    """

    def __init__(self, n: int, width: int, coalesce_seconds: float, refresh_seconds: float):
        self.coalesce = coalesce_seconds
        self.refresh = refresh_seconds
        self.written = np.full((n, width), np.iinfo(np.int64).min, np.int64)
        self.written_at = np.full(n, -np.inf)
        self.due = np.full(n, np.inf)

    def select(
        self, codes: NDArray[np.int64], wall: float, eligible: NDArray[np.bool_]
    ) -> NDArray[np.int64]:
        """Indices to write now."""
        changed = (codes != self.written).any(axis=1) & eligible
        newly = changed & np.isinf(self.due)
        self.due[newly] = wall + self.coalesce
        self.due[~changed] = np.inf
        stale = eligible & (wall - self.written_at >= self.refresh)
        return np.flatnonzero((changed & (self.due <= wall)) | stale)

    def mark(self, i: int, codes: NDArray[np.int64], wall: float) -> None:
        self.written[i] = codes
        self.written_at[i] = wall
        self.due[i] = np.inf

    def forget(self, i: int) -> None:
        self.written[i] = np.iinfo(np.int64).min
        self.written_at[i] = -np.inf
