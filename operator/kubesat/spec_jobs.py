"""Annotated GPU Jobs to `JobSpec`: the names kubesat reads on Jobs, pods and Nodes.

A `batch/v1` Job runs on the fleet when its pods request `nvidia.com/gpu` and its
annotations state the work (`kubesat.io/work-gpu-seconds`) and, optionally, its
checkpoints, downlink, gang and per-step compute and gradients.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from kubesat.core.workloads import JobSpec
from kubesat.spec_fields import SpecError, _get, _integer, _mapping

GPU_RESOURCE: Final = "nvidia.com/gpu"
SATELLITE_TAINT_KEY: Final = "kubesat.io/satellite"
JOB_CONTROLLER_NAME: Final = "kubesat.io/job-controller"  # spec.managedBy of Jobs kubesat runs
WORK_ANNOTATION: Final = "kubesat.io/work-gpu-seconds"
CHECKPOINT_INTERVAL_ANNOTATION: Final = "kubesat.io/checkpoint-interval-seconds"
CHECKPOINT_WRITE_ANNOTATION: Final = "kubesat.io/checkpoint-write-seconds"
NEEDS_LINK_ANNOTATION: Final = "kubesat.io/needs-ground-link"
DOWNLINK_ANNOTATION: Final = "kubesat.io/downlink-bytes"  # results of each completion
GANG_ANNOTATION: Final = "kubesat.io/gang"  # "true": every pod of the Job runs at once
COMPUTE_PER_STEP_ANNOTATION: Final = "kubesat.io/compute-seconds-per-step"
GRADIENT_BYTES_ANNOTATION: Final = "kubesat.io/gradient-bytes-per-step"


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
