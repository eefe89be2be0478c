"""Small immutable views of the pods, Jobs and Satellites the operator watches.

Kopf's in-memory indexes (`kubesat.k8s.indexes`) hold these rather than whole bodies:
they answer "which GPU pods are on this satellite", "what does this Job ask" and "which
Satellites exist" without a LIST call, and compare equal when nothing that matters changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubesat.core.ground import DEFAULT_DATA_RATE_BPS, GroundStation
from kubesat.core.workloads import DisruptionBudget, JobSpec
from kubesat.k8s.job_objects import COMPLETION_INDEX_KEY
from kubesat.spec import (
    CONSTELLATION_LABEL,
    GPU_RESOURCE,
    JOB_CONTROLLER_NAME,
    NEEDS_LINK_ANNOTATION,
    SATELLITE_TAINT_KEY,
    SCHEDULER_NAME,
    WORK_ANNOTATION,
    SpecError,
    parse_job,
)

PROGRESS_ANNOTATION = "kubesat.io/progress"
TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class Toleration:
    key: str | None
    operator: str
    value: str | None
    effect: str | None

    def tolerates(self, key: str, value: str, effect: str) -> bool:
        if self.effect and self.effect != effect:
            return False
        if self.operator == "Exists":
            return self.key in (None, "") or self.key == key
        return self.key == key and (self.value or "") == (value or "")


@dataclass(frozen=True)
class PodInfo:
    """What the scheduler and the pod runtime need of a pod."""

    uid: str
    name: str
    namespace: str
    node: str  # spec.nodeName, "" while unbound
    scheduler: str
    phase: str
    gpus: int
    deleting: bool
    job: str | None  # name of the owning Job (same namespace)
    created: str
    containers: tuple[tuple[str, str], ...]  # (name, image)
    tolerations: tuple[Toleration, ...]
    node_selector: tuple[tuple[str, str], ...]
    needs_link: bool
    completion_index: str | None
    started: str | None  # status.startTime
    ready: bool
    work: JobSpec | None  # from the pod's own annotations (pods not owned by a Job)
    work_error: str | None
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": self.name, "namespace": self.namespace, "uid": self.uid},
        }


def pod_gpus(spec: Mapping[str, Any]) -> int:
    total = 0
    for container in spec.get("containers") or []:
        res = (container or {}).get("resources") or {}
        value = (res.get("limits") or {}).get(
            GPU_RESOURCE, (res.get("requests") or {}).get(GPU_RESOURCE, 0)
        )
        try:
            total += int(value)
        except (TypeError, ValueError):
            continue
    return total


def tolerates_satellites(tolerations: tuple[Toleration, ...]) -> bool:
    """Whether the pod tolerates the satellite taint of some satellite (`Exists`, or
    `Equal` naming one satellite: its value is the satellite's name)."""
    return any(
        t.effect in (None, "", "NoSchedule")
        and (t.key == SATELLITE_TAINT_KEY or (t.operator == "Exists" and not t.key))
        for t in tolerations
    )


def pod_info(body: Mapping[str, Any]) -> PodInfo | None:
    """The view of a pod that could run on a satellite, or None for other pods."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    tolerations = tuple(
        Toleration(t.get("key"), t.get("operator") or "Equal", t.get("value"), t.get("effect"))
        for t in spec.get("tolerations") or []
        if isinstance(t, Mapping)
    )
    scheduler = spec.get("schedulerName") or "default-scheduler"
    if scheduler != SCHEDULER_NAME and not tolerates_satellites(tolerations):
        return None
    annotations = meta.get("annotations") or {}
    owner = next(
        (
            o.get("name")
            for o in meta.get("ownerReferences") or []
            if o.get("kind") == "Job" and o.get("controller")
        ),
        None,
    )
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    work: JobSpec | None = None
    work_error: str | None = None
    if owner is None and WORK_ANNOTATION in annotations:
        try:
            work = parse_job(
                {
                    "metadata": {
                        "name": meta.get("name", "pod"),
                        "namespace": meta.get("namespace"),
                        "annotations": annotations,
                    },
                    "spec": {
                        "template": {"metadata": {"labels": labels}, "spec": spec},
                    },
                },
                where="Pod",
            )
        except SpecError as error:
            work_error = str(error)
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    return PodInfo(
        uid=str(meta.get("uid", "")),
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        node=str(spec.get("nodeName") or ""),
        scheduler=scheduler,
        phase=str(status.get("phase") or "Pending"),
        gpus=pod_gpus(spec),
        deleting=meta.get("deletionTimestamp") is not None,
        job=owner,
        created=str(meta.get("creationTimestamp") or ""),
        containers=tuple(
            (str(c.get("name", "")), str(c.get("image", ""))) for c in spec.get("containers") or []
        ),
        tolerations=tolerations,
        node_selector=tuple(sorted((spec.get("nodeSelector") or {}).items())),
        needs_link=str(annotations.get(NEEDS_LINK_ANNOTATION, "false")).lower() == "true",
        completion_index=annotations.get(COMPLETION_INDEX_KEY),
        started=status.get("startTime"),
        ready=conditions.get("Ready") == "True",
        work=work,
        work_error=work_error,
        labels=tuple(sorted(labels.items())),
    )


@dataclass(frozen=True)
class JobInfo:
    """What a Job asks of its pods (its annotations, parsed) and its durable progress."""

    uid: str
    name: str
    namespace: str
    spec: JobSpec | None
    error: str | None
    progress: str | None  # the raw progress annotation
    completions: int
    indexed: bool
    managed: bool = False  # spec.managedBy names kubesat's Job controller
    constellation: str | None = None  # the template's nodeSelector kubesat.io/constellation
    manifest: str = "{}"  # metadata and spec as JSON: the template kubesat's pods are made from

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def body(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.manifest)
        return parsed


def job_info(body: Mapping[str, Any]) -> JobInfo:
    """Every Job is indexed (its pods wait for it); only annotated ones carry work."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    annotations = meta.get("annotations") or {}
    template_annotations = ((spec.get("template") or {}).get("metadata") or {}).get(
        "annotations"
    ) or {}
    parsed, error = None, None
    if WORK_ANNOTATION in annotations or WORK_ANNOTATION in template_annotations:
        try:
            parsed = parse_job(body)
        except SpecError as exc:
            error = str(exc)
    template_spec = (spec.get("template") or {}).get("spec") or {}
    manifest = {
        "metadata": {k: meta.get(k) for k in ("name", "namespace", "uid", "labels") if meta.get(k)},
        "spec": {
            k: spec.get(k) for k in ("template", "completionMode", "completions") if k in spec
        },
    }
    return JobInfo(
        uid=str(meta.get("uid", "")),
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        spec=parsed,
        error=error,
        progress=annotations.get(PROGRESS_ANNOTATION),
        completions=int(spec.get("completions") or 1),
        indexed=spec.get("completionMode") == "Indexed",
        managed=spec.get("managedBy") == JOB_CONTROLLER_NAME,
        constellation=(template_spec.get("nodeSelector") or {}).get(CONSTELLATION_LABEL),
        manifest=json.dumps(manifest, sort_keys=True, separators=(",", ":"), default=str),
    )


@dataclass(frozen=True)
class SatelliteInfo:
    """A Satellite resource as the constellation's reconcile loop needs it."""

    name: str
    uid: str
    resource_version: str
    inject: str | None


def satellite_info(body: Mapping[str, Any]) -> tuple[str, SatelliteInfo]:
    meta = body.get("metadata") or {}
    from kubesat.k8s.satellites import INJECT_ANNOTATION

    constellation = str((body.get("spec") or {}).get("constellation", ""))
    return constellation, SatelliteInfo(
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
        inject=(meta.get("annotations") or {}).get(INJECT_ANNOTATION),
    )


def station_info(body: Mapping[str, Any]) -> GroundStation | None:
    """A `GroundStation` object as the core's station (None when its spec is unusable:
    admission refuses such objects, so only an old or hand-edited one can be)."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    try:
        return GroundStation(
            name=str(meta.get("name", "")),
            latitude_deg=float(spec["latitudeDeg"]),
            longitude_deg=float(spec["longitudeDeg"]),
            altitude_m=float(spec.get("altitudeM", 0.0)),
            min_elevation_deg=float(spec.get("minElevationDeg", 10.0)),
            data_rate_bps=float(spec.get("dataRateBps", DEFAULT_DATA_RATE_BPS)),
        )
    except (KeyError, TypeError, ValueError):
        return None


def budget_info(body: Mapping[str, Any]) -> DisruptionBudget:
    """A PodDisruptionBudget as the engine checks it (integer forms; percentages and
    label expressions are left to the API server, which checks every eviction too)."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}

    def integer(value: Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return DisruptionBudget(
        str(meta.get("name", "")),
        {str(k): str(v) for k, v in selector.items()},
        integer(spec.get("minAvailable")),
        integer(spec.get("maxUnavailable")),
    )
