"""What kubesat writes as the Job controller of Jobs that opt in with `spec.managedBy`.

A Job whose `spec.managedBy` is `kubesat.io/job-controller` is ignored by the built-in Job
controller (JobManagedBy, GA in Kubernetes 1.35): kubesat creates its pods, already bound
to a node, and writes its status. This module renders those pods and status bodies as
plain dicts; the code that sends them lives elsewhere. It does no I/O.

Pods look like the built-in controller's (k8s.io/kubernetes pkg/controller/job,
`manageJob`): the Job's labels, a controller reference to the Job and, for Indexed Jobs,
the completion index as label and annotation, the `JOB_COMPLETION_INDEX` variable and the
`<job>-<index>` hostname. Unlike the built-in controller, kubesat names pods
deterministically (one name per unit and attempt, so a retried create cannot make a
second pod) and adds no `batch.kubernetes.io/job-tracking` finalizer: kubesat counts the
pods itself.

Status bodies follow the rules the API server enforces on the status of Jobs not managed
by the built-in controller (k8s.io/kubernetes v1.36, pkg/apis/batch/validation
`validateJobStatus` and `ValidateJobStatusUpdate`, switched on by `getStatusValidationOptions`
in pkg/registry/batch/job/strategy.go). Rules about one status are checked here and a
violation raises `ValueError`; rules that compare with the previous status are the
caller's to keep:

- the succeeded and failed counters never decrease (the succeeded one may, for an Indexed
  Job with completions == parallelism, when it is scaled down);
- `startTime` and `completionTime` never change once set (`startTime` may while the Job
  is suspended);
- a terminal condition (Complete, Failed, FailureTarget, SuccessCriteriaMet) is never
  removed: COMPLETE and FAILED are final.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from kubesat.spec import JOB_CONTROLLER_NAME

ATTEMPT_ANNOTATION: Final = "kubesat.io/attempt"

# Labels and annotations of the built-in Job controller (k8s.io/api batch/v1 types.go).
CONTROLLER_UID_LABEL: Final = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL: Final = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL: Final = "controller-uid"
LEGACY_JOB_NAME_LABEL: Final = "job-name"
COMPLETION_INDEX_KEY: Final = "batch.kubernetes.io/job-completion-index"
"""Label and annotation carrying an Indexed Job pod's completion index."""
COMPLETION_INDEX_ENV: Final = "JOB_COMPLETION_INDEX"

INDEXED_COMPLETION: Final = "Indexed"
JOB_API_VERSION: Final = "batch/v1"
JOB_KIND: Final = "Job"
CONDITION_TRUE: Final = "True"
RFC3339_SECONDS: Final = "%Y-%m-%dT%H:%M:%SZ"

# Object names (k8s.io/apimachinery pkg/util/validation: DNS-1123 label length).
NAME_MAX_LENGTH: Final = 63
_NAME_HASH_LENGTH: Final = 8
_NAME_TRIM: Final = "-."


class JobState(StrEnum):
    """Where a Job stands, as kubesat renders its status."""

    RUNNING = "Running"
    COMPLETE = "Complete"
    FAILED = "Failed"


class ConditionType(StrEnum):
    """Job condition types (k8s.io/api batch/v1 JobConditionType) kubesat writes."""

    SUCCESS_CRITERIA_MET = "SuccessCriteriaMet"
    COMPLETE = "Complete"
    FAILURE_TARGET = "FailureTarget"
    FAILED = "Failed"


class JobReason(StrEnum):
    """Condition reasons of the built-in Job controller (k8s.io/api batch/v1)."""

    COMPLETIONS_REACHED = "CompletionsReached"
    SUCCESS_POLICY = "SuccessPolicy"
    BACKOFF_LIMIT_EXCEEDED = "BackoffLimitExceeded"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    POD_FAILURE_POLICY = "PodFailurePolicy"
    MAX_FAILED_INDEXES_EXCEEDED = "MaxFailedIndexesExceeded"
    FAILED_INDEXES = "FailedIndexes"


COMPLETE_MESSAGE: Final = "Reached expected number of succeeded pods"
"""The built-in controller's message for CompletionsReached (`newSuccessCondition`)."""

# The condition pairs of a finished Job: the interim condition the API server requires
# (`RejectCompleteJobWithoutSuccessCriteriaMet`, `RejectFailedJobWithoutFailureTarget`)
# and the terminal one, in the order the built-in controller adds them.
_FINISH_CONDITIONS: Final[Mapping[JobState, tuple[ConditionType, ConditionType]]] = {
    JobState.COMPLETE: (ConditionType.SUCCESS_CRITERIA_MET, ConditionType.COMPLETE),
    JobState.FAILED: (ConditionType.FAILURE_TARGET, ConditionType.FAILED),
}


def is_managed(job: Mapping[str, Any]) -> bool:
    """Whether kubesat, not the built-in Job controller, controls this Job."""
    spec = job.get("spec") or {}
    return bool(spec.get("managedBy") == JOB_CONTROLLER_NAME)


def is_indexed(job: Mapping[str, Any]) -> bool:
    """Whether the Job's completion mode is Indexed (the default is NonIndexed)."""
    spec = job.get("spec") or {}
    return bool(spec.get("completionMode") == INDEXED_COMPLETION)


def pod_name(job_name: str, unit: int, attempt: int) -> str:
    """The name of the pod running `unit` of a Job, try number `attempt`.

    `<job>-<unit>-<attempt>` when that fits in 63 characters. A longer job name is cut and
    followed by 8 hex digits of its SHA-256, so that Jobs whose names share a long prefix
    still get distinct pod names; the `-<unit>-<attempt>` suffix is always kept whole.
    The result is a DNS-1123 subdomain (and label) when `job_name` is a valid Job name.
    """
    if not job_name:
        raise ValueError("job name: must not be empty")
    _check_non_negative("unit", unit)
    _check_non_negative("attempt", attempt)
    suffix = f"-{unit}-{attempt}"
    if len(job_name) + len(suffix) <= NAME_MAX_LENGTH:
        return job_name + suffix
    digest = hashlib.sha256(job_name.encode()).hexdigest()[:_NAME_HASH_LENGTH]
    keep = NAME_MAX_LENGTH - len(suffix) - len(digest) - 1
    # A cut may end in '.', which may not precede '-' in a DNS-1123 name; '-' goes too.
    prefix = job_name[:keep].rstrip(_NAME_TRIM)
    return f"{prefix}-{digest}{suffix}"


def render_pod(
    job: Mapping[str, Any], unit: int, attempt: int, node: str, indexed: bool
) -> dict[str, Any]:
    """The pod for `unit` of `job`, try `attempt`, bound to `node`.

    Built from `job["spec"]["template"]`, which is copied, not changed: its labels,
    annotations, finalizers, owner references and spec are kept, with the Job's labels,
    a controller reference to the Job, the `kubesat.io/attempt` annotation and
    `spec.nodeName` added. Setting `nodeName` binds the pod at creation, so no scheduler
    ever sees it. For an Indexed Job, `unit` is the completion index: it is added as the
    `batch.kubernetes.io/job-completion-index` label and annotation, every container gets
    `JOB_COMPLETION_INDEX` (unless it sets it) and the hostname is `<job>-<index>`, as the
    built-in controller does.
    """
    name = _required(job, "metadata", "name")
    namespace = _required(job, "metadata", "namespace")
    uid = _required(job, "metadata", "uid")
    template = _required(job, "spec", "template")
    if not node:
        raise ValueError("node: must not be empty")
    template_meta: Mapping[str, Any] = template.get("metadata") or {}

    labels: dict[str, str] = {
        **(template_meta.get("labels") or {}),
        CONTROLLER_UID_LABEL: uid,
        JOB_NAME_LABEL: name,
        LEGACY_CONTROLLER_UID_LABEL: uid,
        LEGACY_JOB_NAME_LABEL: name,
    }
    annotations: dict[str, str] = {
        **(template_meta.get("annotations") or {}),
        ATTEMPT_ANNOTATION: str(attempt),
    }
    spec: dict[str, Any] = copy.deepcopy(dict(template.get("spec") or {}))
    spec["nodeName"] = node
    if indexed:
        labels[COMPLETION_INDEX_KEY] = str(unit)
        annotations[COMPLETION_INDEX_KEY] = str(unit)
        spec["hostname"] = f"{name}-{unit}"
        for kind in ("initContainers", "containers"):
            if spec.get(kind):
                spec[kind] = [_with_index_env(container) for container in spec[kind]]

    metadata: dict[str, Any] = {
        "name": pod_name(name, unit, attempt),
        "namespace": namespace,
        "labels": labels,
        "annotations": annotations,
        "ownerReferences": [
            *copy.deepcopy(list(template_meta.get("ownerReferences") or [])),
            {
                "apiVersion": JOB_API_VERSION,
                "kind": JOB_KIND,
                "name": name,
                "uid": uid,
                "controller": True,
                "blockOwnerDeletion": True,
            },
        ],
    }
    if template_meta.get("finalizers"):
        metadata["finalizers"] = list(template_meta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def compress_indexes(indexes: Iterable[int]) -> str:
    """Indexes in the Job status form: sorted intervals, `"0-3,5"`; `""` for none.

    Duplicates are merged; a lone index is written alone (the API server rejects `"5-5"`).
    """
    ordered = sorted(set(indexes))
    if ordered and ordered[0] < 0:
        raise ValueError(f"completion index: must be >= 0, got {ordered[0]}")
    intervals: list[str] = []
    start = 0
    for i, index in enumerate(ordered):
        if i + 1 < len(ordered) and ordered[i + 1] == index + 1:
            continue
        first = ordered[start]
        intervals.append(str(first) if first == index else f"{first}-{index}")
        start = i + 1
    return ",".join(intervals)


def render_job_status(
    *,
    start_time: str | None,
    active: int = 0,
    ready: int = 0,
    terminating: int = 0,
    succeeded: int = 0,
    failed: int = 0,
    completed_indexes: Iterable[int] | None = None,
    state: JobState = JobState.RUNNING,
    finished_at: str | None = None,
    reason: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """A `{"status": ...}` body for the Job's status subresource (merge or strategic patch).

    Counters are always written, zeros included, so that a merge patch lowers them.
    `completed_indexes` is given for Indexed Jobs only (an empty iterable writes `""`);
    it is left out for NonIndexed Jobs, whose completedIndexes must stay empty.

    RUNNING writes `startTime` (when known) and the counters, no conditions. COMPLETE and
    FAILED need `start_time`, `finished_at` and no active or terminating pods, and write
    the interim condition with the terminal one (SuccessCriteriaMet + Complete,
    FailureTarget + Failed), True, with `finished_at` as probe and transition time;
    COMPLETE also writes `completionTime` (a Failed Job has none). COMPLETE's reason
    defaults to CompletionsReached; FAILED needs one, e.g. `JobReason.BACKOFF_LIMIT_EXCEEDED`.

    Times are RFC 3339 strings with a zone. They are written in UTC to the whole second,
    as the API server stores them: a time sent with a fraction would differ from the
    stored one on the next patch, which the server refuses for `startTime` and
    `completionTime` ("field is immutable").
    """
    counts = {
        "active": active,
        "ready": ready,
        "terminating": terminating,
        "succeeded": succeeded,
        "failed": failed,
    }
    for field, value in counts.items():
        _check_non_negative(field, value)
    if ready > active:
        raise ValueError(f"ready: must be <= active ({active}), got {ready}")

    status: dict[str, Any] = {}
    started = None if start_time is None else _whole_seconds("start_time", start_time)
    if started is not None:
        status["startTime"] = _format_time(started)
    status.update(counts)
    if completed_indexes is not None:
        status["completedIndexes"] = compress_indexes(completed_indexes)

    if state is JobState.RUNNING:
        extras = {"finished_at": finished_at, "reason": reason, "message": message}
        for field, given in extras.items():
            if given is not None:
                raise ValueError(f"{field}: only for a finished Job, got {given!r} for RUNNING")
        return {"status": status}

    if started is None:
        raise ValueError(f"start_time: required for a {state.name} Job, got None")
    if finished_at is None:
        raise ValueError(f"finished_at: required for a {state.name} Job, got None")
    finished = _whole_seconds("finished_at", finished_at)
    if finished < started:
        raise ValueError(
            f"finished_at: must not be before start_time {start_time!r}, got {finished_at!r}"
        )
    for field in ("active", "terminating"):
        if counts[field]:
            raise ValueError(f"{field}: must be 0 for a {state.name} Job, got {counts[field]}")
    if state is JobState.COMPLETE:
        reason = JobReason.COMPLETIONS_REACHED if reason is None else reason
        message = COMPLETE_MESSAGE if message is None else message
    elif not reason:
        raise ValueError(f"reason: required for a FAILED Job, got {reason!r}")
    at = _format_time(finished)
    status["conditions"] = [
        _condition(kind, reason, message or "", at) for kind in _FINISH_CONDITIONS[state]
    ]
    if state is JobState.COMPLETE:
        status["completionTime"] = at
    return {"status": status}


def _condition(kind: ConditionType, reason: str, message: str, at: str) -> dict[str, str]:
    """A True Job condition, probed and changed at `at` (as `newCondition` writes them)."""
    return {
        "type": kind.value,
        "status": CONDITION_TRUE,
        "reason": str(reason),
        "message": message,
        "lastProbeTime": at,
        "lastTransitionTime": at,
    }


def _with_index_env(container: Mapping[str, Any]) -> dict[str, Any]:
    """The container with `JOB_COMPLETION_INDEX` from the index label, unless it sets it."""
    result = copy.deepcopy(dict(container))
    env = list(result.get("env") or [])
    if any(var.get("name") == COMPLETION_INDEX_ENV for var in env):
        return result
    field_path = f"metadata.labels['{COMPLETION_INDEX_KEY}']"
    env.append({"name": COMPLETION_INDEX_ENV, "valueFrom": {"fieldRef": {"fieldPath": field_path}}})
    result["env"] = env
    return result


def _required(job: Mapping[str, Any], *path: str) -> Any:
    """The value at `path` in `job`; a ValueError naming the path if it is missing or empty."""
    value: Any = job
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    if not value:
        raise ValueError(f"Job {'.'.join(path)}: required, got {value!r}")
    return value


def _check_non_negative(field: str, value: int) -> None:
    if value < 0:
        raise ValueError(f"{field}: must be >= 0, got {value}")


def _whole_seconds(field: str, value: str) -> datetime:
    """An RFC 3339 time with a zone, in UTC, cut to the second; a ValueError otherwise."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"{field}: must be an RFC 3339 time, got {value!r}") from error
    if parsed.tzinfo is None:
        raise ValueError(f"{field}: must carry a zone (e.g. 'Z'), got {value!r}")
    return parsed.astimezone(UTC).replace(microsecond=0)


def _format_time(value: datetime) -> str:
    """`value` (UTC) as the API server writes times: `2026-01-02T03:04:05Z`."""
    return value.strftime(RFC3339_SECONDS)
