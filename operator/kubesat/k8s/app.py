"""The Kopf operator: settings, what lives in `memo`, and how it starts and stops.

`memo` (built by `kubesat operator` and completed at startup) holds the process state:
`api` (the client and its write queue), `fleets` (one FleetRuntime per Constellation),
`scheduler` (kubesat-scheduler), `snapshots` (the latest
FleetSnapshot per constellation, "namespace/name" -> snapshot, for the metrics), and the
`options`, and `orphans` (the task that collects what Constellations that are gone left:
`kubesat.k8s.orphans`, on startup and periodically). Durable state lives in the cluster
(Constellation status, Job annotations).
Importing this module registers every handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

import kopf

from kubesat.k8s import constellation, indexes  # noqa: F401  (registers the handlers)
from kubesat.k8s.api import Api, close_api_client, new_api_client
from kubesat.k8s.events import EventRecorder
from kubesat.k8s.orphans import collect_forever
from kubesat.k8s.scheduler import Scheduler

logger = logging.getLogger("kubesat.operator")

FINALIZER = "kubesat.io/operator"
ANNOTATIONS_PREFIX = "operator.kubesat.io"


def configure(settings: kopf.OperatorSettings) -> None:
    """Kopf settings of kubesat (also usable without a running operator, e.g. in tests)."""
    # Events: only ours and warnings; handler chatter stays in the log.
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = "kubesat-operator"
    # Our own finalizer and annotations rather than Kopf's zalando.org defaults; no
    # `status.kopf`: status belongs to kubesat.
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=ANNOTATIONS_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATIONS_PREFIX, key="last-handled-configuration"
    )
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    settings.networking.request_timeout = 60
    # Daemons stop within the loop's tick; a stuck one is cancelled after this long.
    settings.process.ultimate_exiting_timeout = 60


@kopf.on.startup(id="startup")
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Build the process state: API client and write queue, registries, metrics."""
    configure(settings)
    metrics = None
    port = getattr(memo, "metrics_port", None)
    if port is not None:
        from prometheus_client import CollectorRegistry

        from kubesat.metrics import FleetCollector, OperatorMetrics, serve

        memo.snapshots = {}
        registry = CollectorRegistry()
        registry.register(FleetCollector(memo.snapshots))
        metrics = OperatorMetrics(registry, handlers=("tick",))
        memo.metrics_server, _thread = serve(port, registry)
        memo.metrics_registry = registry
        logger.info("metrics on :%d/metrics", memo.metrics_server.server_address[1])
    else:
        memo.snapshots = {}
    memo.metrics = metrics
    memo.api = Api(
        new_api_client(getattr(memo, "kubeconfig", None)),
        concurrency=getattr(memo, "concurrency", 8),
        metrics=metrics,
    )
    memo.api.start()
    memo.fleets = {}
    memo.api_log = asyncio.create_task(_log_requests(memo.api), name="kubesat-api-log")
    memo.events = EventRecorder(memo.api, instance=socket.gethostname())
    memo.scheduler = Scheduler(memo.api, memo.events, metrics)
    # in the background: an API server that is away does not hold the operator's start
    memo.orphans = asyncio.create_task(collect_forever(memo.api), name="kubesat-orphans")


@kopf.on.cleanup(id="cleanup")
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    """Stop the fleets (each persists its state), send what is queued, close the client."""
    fleets = list(getattr(memo, "fleets", {}).values())
    for fleet in fleets:
        await fleet.stop()
    for fleet in fleets:
        if fleet.prepared:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fleet.task_done.wait(), timeout=10)
    for task in (getattr(memo, "api_log", None), getattr(memo, "orphans", None)):
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    api = getattr(memo, "api", None)
    if api is not None:
        await api.drain(timeout=10)
        await api.close()
        close_api_client(api.client)
    server = getattr(memo, "metrics_server", None)
    if server is not None:
        server.shutdown()
        server.server_close()


async def _log_requests(api: Api, period: float = 60.0) -> None:
    """Log the API requests of the last minute by verb and resource (what the API sees)."""
    before = dict(api.requests)
    while True:
        await asyncio.sleep(period)
        now = dict(api.requests)
        delta = {k: v - before.get(k, 0) for k, v in now.items() if v - before.get(k, 0)}
        before = now
        if delta:
            total = sum(delta.values())
            parts = ", ".join(
                f"{verb} {resource} {count}"
                for (verb, resource), count in sorted(delta.items(), key=lambda kv: -kv[1])
            )
            logger.info(
                "API requests in the last %.0f s: %d (%.1f/s): %s; queued %d",
                period,
                total,
                total / period,
                parts,
                api.backlog,
            )
