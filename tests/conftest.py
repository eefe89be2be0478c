"""Shared pytest fixtures.

Kubernetes (tests marked ``controlplane``):

- ``kube_cluster`` (session): the cluster under test.  ``$KUBESAT_KUBECONFIG``
  names an existing cluster (e.g. kind); otherwise a LocalControlPlane
  (tests/support/controlplane.py) is started once per session from the
  binaries of ``make controlplane``.  Without those binaries the tests are
  skipped, except under ``CI=true``, where that is an error.
- ``kube_api``: an admin ``kubernetes.client.ApiClient``.
- ``namespace``: a fresh namespace per test, deleted afterwards.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support.controlplane import (
    NOBODY_USER,
    BinariesMissingError,
    LocalControlPlane,
    close_api_client,
    find_bin_dir,
    impersonate,
)
from tests.support.prerequisites import IN_CI, missing


class ExistingCluster:
    """A cluster given by ``$KUBESAT_KUBECONFIG``; same interface as LocalControlPlane."""

    def __init__(self, kubeconfig_path: str | Path) -> None:
        self.kubeconfig_path = Path(kubeconfig_path)

    def api_client(self, user: str | None = None, groups: Sequence[str] = ()) -> Any:
        """Admin client from the kubeconfig; any other ``user`` is impersonated."""
        from kubernetes import config

        client = config.new_client_from_config(config_file=str(self.kubeconfig_path))
        if user is not None:
            impersonate(client, user, groups)
        return client


@cache
def _controlplane_unavailable() -> str | None:
    """Why the real control plane cannot be had here, or None when it can."""
    if os.environ.get("KUBESAT_KUBECONFIG"):
        return None
    try:
        # In CI the binaries are built by .ci/run; build here too rather than skip.
        find_bin_dir(build=IN_CI)
    except BinariesMissingError as exc:
        return str(exc)
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("controlplane") is None:
        return
    reason = _controlplane_unavailable()
    if reason is None:
        return
    missing(f"no Kubernetes control plane: {reason} (or set KUBESAT_KUBECONFIG)")


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[LocalControlPlane | ExistingCluster]:
    kubeconfig = os.environ.get("KUBESAT_KUBECONFIG")
    if kubeconfig:
        yield ExistingCluster(kubeconfig)
        return
    reason = _controlplane_unavailable()
    if reason is not None:
        missing(f"no Kubernetes control plane: {reason} (or set KUBESAT_KUBECONFIG)")
    with LocalControlPlane(find_bin_dir(build=False)) as cp:
        yield cp


@pytest.fixture
def kube_api(kube_cluster: LocalControlPlane | ExistingCluster) -> Iterator[Any]:
    """An admin ApiClient (closed after the test)."""
    client = kube_cluster.api_client()
    yield client
    close_api_client(client)


@pytest.fixture
def kube_nobody_api(kube_cluster: LocalControlPlane | ExistingCluster) -> Iterator[Any]:
    """An ApiClient of an authenticated user that RBAC grants nothing."""
    client = kube_cluster.api_client(NOBODY_USER)
    yield client
    close_api_client(client)


@pytest.fixture
def namespace(kube_api: Any) -> Iterator[str]:
    """A fresh namespace, deleted (not awaited) after the test."""
    from kubernetes import client as k8s

    core = k8s.CoreV1Api(kube_api)
    name = f"kubesat-test-{uuid.uuid4().hex[:8]}"
    core.create_namespace(
        k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name, labels={"kubesat.io/test": "true"}))
    )
    yield name
    with contextlib.suppress(k8s.ApiException):
        core.delete_namespace(name)
