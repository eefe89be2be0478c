"""The renderers kubesat uses as the Job controller of `managedBy` Jobs: golden dicts.

Each expected body is written out whole, so a change to what kubesat sends shows up in a
review as a diff of this file. The API server accepts these bodies:
tests/integration/test_managed_jobs.py sends them to a real one.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from kubesat.k8s.job_objects import (
    JobReason,
    JobState,
    compress_indexes,
    is_indexed,
    is_managed,
    pod_name,
    render_job_status,
    render_pod,
)
from kubesat.spec import JOB_CONTROLLER_NAME

# k8s.io/apimachinery pkg/util/validation: IsDNS1123Subdomain, IsDNS1123Label.
DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = re.compile(rf"{DNS1123_LABEL}(\.{DNS1123_LABEL})*")
UID = "0b1d5c1e-5a7e-4c11-9d3a-000000000001"
START = "2026-03-01T12:00:00Z"
END = "2026-03-01T12:30:00Z"

TEMPLATE: dict[str, Any] = {
    "metadata": {
        "labels": {
            "app": "train",
            # What the API server adds to the template of a Job with a generated selector.
            "batch.kubernetes.io/controller-uid": UID,
            "batch.kubernetes.io/job-name": "train",
            "controller-uid": UID,
            "job-name": "train",
        },
        "annotations": {"team": "orbit"},
    },
    "spec": {
        "restartPolicy": "Never",
        "schedulerName": "kubesat-scheduler",
        "containers": [
            {
                "name": "train",
                "image": "registry.invalid/train:1",
                "env": [{"name": "EPOCHS", "value": "3"}],
                "resources": {"limits": {"nvidia.com/gpu": "1"}},
            }
        ],
    },
}


def job(*, indexed: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "managedBy": JOB_CONTROLLER_NAME,
        "completions": 2,
        "parallelism": 2,
        "template": copy.deepcopy(TEMPLATE),
    }
    if indexed:
        spec["completionMode"] = "Indexed"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train", "namespace": "lab", "uid": UID},
        "spec": spec,
    }


OWNER = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "name": "train",
    "uid": UID,
    "controller": True,
    "blockOwnerDeletion": True,
}
JOB_LABELS = {
    "app": "train",
    "batch.kubernetes.io/controller-uid": UID,
    "batch.kubernetes.io/job-name": "train",
    "controller-uid": UID,
    "job-name": "train",
}


# --- which Jobs ---------------------------------------------------------------------


def test_is_managed_only_for_kubesat_managed_by() -> None:
    assert is_managed(job(indexed=True))
    assert not is_managed({"spec": {"managedBy": "kubernetes.io/job-controller"}})
    assert not is_managed({"spec": {}})
    assert not is_managed({})


def test_is_indexed_by_completion_mode() -> None:
    assert is_indexed(job(indexed=True))
    assert not is_indexed(job(indexed=False))
    assert not is_indexed({"spec": {"completionMode": "NonIndexed"}})


# --- pod names ----------------------------------------------------------------------


def test_pod_name_short_job_keeps_the_whole_name() -> None:
    assert pod_name("train", 0, 0) == "train-0-0"
    assert pod_name("train", 12, 3) == "train-12-3"


def test_pod_name_long_job_is_cut_and_hashed_keeping_the_suffix() -> None:
    long = "a" * 63
    name = pod_name(long, 7, 2)
    assert name == "a" * 50 + "-7d3e74a0-7-2"  # sha256("a" * 63) starts 7d3e74a0
    assert len(name) == 63
    assert pod_name(long, 7, 2) == name  # deterministic


def test_pod_name_cut_never_leaves_a_dot_or_dash_before_the_hash() -> None:
    name = pod_name("x" * 48 + ".-" + "y" * 13, 1, 1)
    assert DNS1123_SUBDOMAIN.fullmatch(name), name
    assert ".-" not in name
    assert name.startswith("x" * 48 + "-")


@pytest.mark.parametrize(
    "job_name",
    ["j", "train", "a" * 50, "a" * 58, "a" * 59, "a" * 63, "web.frontend-" + "z" * 50],
)
def test_pod_names_are_short_valid_and_unique(job_name: str) -> None:
    names = {pod_name(job_name, unit, attempt) for unit in range(120) for attempt in range(120)}
    assert len(names) == 120 * 120
    for name in names:
        assert len(name) <= 63, name
        assert DNS1123_SUBDOMAIN.fullmatch(name), name


def test_pod_names_of_long_jobs_sharing_a_prefix_differ() -> None:
    prefix = "nightly-training-run-for-the-walker-constellation-"
    first, second = prefix + "alpha-0001", prefix + "alpha-0002"
    assert pod_name(first, 0, 0) != pod_name(second, 0, 0)


@pytest.mark.parametrize(("unit", "attempt"), [(-1, 0), (0, -1)])
def test_pod_name_refuses_negative_numbers(unit: int, attempt: int) -> None:
    with pytest.raises(ValueError, match="must be >= 0, got -1"):
        pod_name("train", unit, attempt)


# --- pods ---------------------------------------------------------------------------


def test_render_pod_indexed() -> None:
    source = job(indexed=True)
    before = copy.deepcopy(source)
    assert render_pod(source, 1, 2, "sat-a", indexed=True) == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "train-1-2",
            "namespace": "lab",
            "labels": {**JOB_LABELS, "batch.kubernetes.io/job-completion-index": "1"},
            "annotations": {
                "team": "orbit",
                "kubesat.io/attempt": "2",
                "batch.kubernetes.io/job-completion-index": "1",
            },
            "ownerReferences": [OWNER],
        },
        "spec": {
            "restartPolicy": "Never",
            "schedulerName": "kubesat-scheduler",
            "containers": [
                {
                    "name": "train",
                    "image": "registry.invalid/train:1",
                    "env": [
                        {"name": "EPOCHS", "value": "3"},
                        {
                            "name": "JOB_COMPLETION_INDEX",
                            "valueFrom": {
                                "fieldRef": {
                                    "fieldPath": (
                                        "metadata.labels['batch.kubernetes.io/job-completion-index']"
                                    )
                                }
                            },
                        },
                    ],
                    "resources": {"limits": {"nvidia.com/gpu": "1"}},
                }
            ],
            "hostname": "train-1",
            "nodeName": "sat-a",
        },
    }
    assert source == before  # the Job is not changed


def test_render_pod_non_indexed() -> None:
    assert render_pod(job(indexed=False), 0, 0, "sat-b", indexed=False) == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "train-0-0",
            "namespace": "lab",
            "labels": JOB_LABELS,
            "annotations": {"team": "orbit", "kubesat.io/attempt": "0"},
            "ownerReferences": [OWNER],
        },
        "spec": {**TEMPLATE["spec"], "nodeName": "sat-b"},
    }


def test_render_pod_adds_job_labels_missing_from_template_and_keeps_its_extras() -> None:
    source = job(indexed=True)
    other_owner = {"apiVersion": "v1", "kind": "ConfigMap", "name": "cfg", "uid": "u-2"}
    source["spec"]["template"]["metadata"] = {
        "finalizers": ["example.com/keep"],
        "ownerReferences": [other_owner],
    }
    source["spec"]["template"]["spec"]["initContainers"] = [
        {
            "name": "fetch",
            "image": "registry.invalid/fetch:1",
            "env": [{"name": "JOB_COMPLETION_INDEX", "value": "mine"}],
        }
    ]
    pod = render_pod(source, 0, 1, "sat-c", indexed=True)
    assert pod["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": UID,
        "batch.kubernetes.io/job-name": "train",
        "controller-uid": UID,
        "job-name": "train",
        "batch.kubernetes.io/job-completion-index": "0",
    }
    assert pod["metadata"]["annotations"] == {
        "kubesat.io/attempt": "1",
        "batch.kubernetes.io/job-completion-index": "0",
    }
    assert pod["metadata"]["finalizers"] == ["example.com/keep"]
    assert pod["metadata"]["ownerReferences"] == [other_owner, OWNER]
    # A container that sets the variable itself keeps its own value.
    assert pod["spec"]["initContainers"][0]["env"] == [
        {"name": "JOB_COMPLETION_INDEX", "value": "mine"}
    ]


def test_render_pod_never_adds_the_job_tracking_finalizer() -> None:
    pod = render_pod(job(indexed=True), 0, 0, "sat-a", indexed=True)
    assert "batch.kubernetes.io/job-tracking" not in pod["metadata"].get("finalizers", [])


def test_render_pod_refuses_a_job_without_uid() -> None:
    source = job(indexed=True)
    del source["metadata"]["uid"]
    with pytest.raises(ValueError, match=r"Job metadata\.uid: required, got None"):
        render_pod(source, 0, 0, "sat-a", indexed=True)


# --- completed indexes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("indexes", "expected"),
    [
        ([], ""),
        ([0], "0"),
        ([0, 1], "0-1"),
        ([5, 0, 2, 1, 3], "0-3,5"),
        ([3, 3, 1], "1,3"),
        ([1, 2, 3, 7, 8, 10], "1-3,7-8,10"),
        (range(1000), "0-999"),
    ],
)
def test_compress_indexes(indexes: list[int], expected: str) -> None:
    assert compress_indexes(indexes) == expected


def test_compress_indexes_refuses_negative() -> None:
    with pytest.raises(ValueError, match="completion index: must be >= 0, got -2"):
        compress_indexes([1, -2])


# --- Job status ---------------------------------------------------------------------


def test_status_running_indexed() -> None:
    assert render_job_status(start_time=START, active=2, ready=1, completed_indexes=[]) == {
        "status": {
            "startTime": START,
            "active": 2,
            "ready": 1,
            "terminating": 0,
            "succeeded": 0,
            "failed": 0,
            "completedIndexes": "",
        }
    }


def test_status_running_non_indexed_has_no_completed_indexes() -> None:
    assert render_job_status(start_time=START, active=1, succeeded=3, failed=1) == {
        "status": {
            "startTime": START,
            "active": 1,
            "ready": 0,
            "terminating": 0,
            "succeeded": 3,
            "failed": 1,
        }
    }


def test_status_running_before_start_has_no_start_time() -> None:
    assert render_job_status(start_time=None) == {
        "status": {"active": 0, "ready": 0, "terminating": 0, "succeeded": 0, "failed": 0}
    }


def test_status_complete_indexed() -> None:
    condition = {
        "status": "True",
        "reason": "CompletionsReached",
        "message": "Reached expected number of succeeded pods",
        "lastProbeTime": END,
        "lastTransitionTime": END,
    }
    assert render_job_status(
        start_time=START,
        succeeded=2,
        completed_indexes=[1, 0],
        state=JobState.COMPLETE,
        finished_at=END,
    ) == {
        "status": {
            "startTime": START,
            "active": 0,
            "ready": 0,
            "terminating": 0,
            "succeeded": 2,
            "failed": 0,
            "completedIndexes": "0-1",
            "conditions": [
                {"type": "SuccessCriteriaMet", **condition},
                {"type": "Complete", **condition},
            ],
            "completionTime": END,
        }
    }


def test_status_failed_has_failure_target_and_no_completion_time() -> None:
    condition = {
        "status": "True",
        "reason": "BackoffLimitExceeded",
        "message": "Job has reached the specified backoff limit",
        "lastProbeTime": END,
        "lastTransitionTime": END,
    }
    assert render_job_status(
        start_time=START,
        failed=3,
        state=JobState.FAILED,
        finished_at=END,
        reason=JobReason.BACKOFF_LIMIT_EXCEEDED,
        message="Job has reached the specified backoff limit",
    ) == {
        "status": {
            "startTime": START,
            "active": 0,
            "ready": 0,
            "terminating": 0,
            "succeeded": 0,
            "failed": 3,
            "conditions": [
                {"type": "FailureTarget", **condition},
                {"type": "Failed", **condition},
            ],
        }
    }


def test_status_times_are_written_in_utc_to_the_second() -> None:
    body = render_job_status(
        start_time="2026-03-01T13:00:00.750+01:00",
        state=JobState.COMPLETE,
        finished_at="2026-03-01T12:30:00.25Z",
    )["status"]
    assert body["startTime"] == START
    assert body["completionTime"] == END
    assert body["conditions"][1]["lastTransitionTime"] == END


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"start_time": START, "ready": 2, "active": 1}, r"ready: must be <= active \(1\), got 2"),
        ({"start_time": START, "failed": -1}, "failed: must be >= 0, got -1"),
        ({"start_time": "yesterday"}, "start_time: must be an RFC 3339 time, got 'yesterday'"),
        ({"start_time": "2026-03-01T12:00:00"}, "start_time: must carry a zone"),
        ({"start_time": START, "finished_at": END}, "finished_at: only for a finished Job"),
        ({"start_time": START, "reason": "X"}, "reason: only for a finished Job"),
        (
            {"start_time": None, "state": JobState.COMPLETE, "finished_at": END},
            "start_time: required for a COMPLETE Job",
        ),
        (
            {"start_time": START, "state": JobState.COMPLETE},
            "finished_at: required for a COMPLETE Job",
        ),
        (
            {"start_time": END, "state": JobState.COMPLETE, "finished_at": START},
            "finished_at: must not be before start_time",
        ),
        (
            {"start_time": START, "active": 1, "state": JobState.COMPLETE, "finished_at": END},
            "active: must be 0 for a COMPLETE Job, got 1",
        ),
        (
            {"start_time": START, "terminating": 1, "state": JobState.FAILED, "finished_at": END},
            "terminating: must be 0 for a FAILED Job, got 1",
        ),
        (
            {"start_time": START, "state": JobState.FAILED, "finished_at": END},
            "reason: required for a FAILED Job",
        ),
    ],
)
def test_status_refuses_what_the_api_server_would(kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        render_job_status(**kwargs)
