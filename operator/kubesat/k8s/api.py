"""The operator's Kubernetes API access: the official client in worker threads, and a write
queue that keeps the API server from being flooded.

Writes are level-based: each is keyed by the object (and subresource) it sets, and a write
queued for a key that has not started yet is replaced by the newer one (latest wins), so a
burst of changes to one object costs one request. A bounded number of requests run at
once; leases and pod status go first. Every request is counted by verb and resource,
which the scale benchmark and the metrics read, and timed when metrics are on
(`kubesat_api_request_duration_seconds`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("kubesat.api")

URGENT, NORMAL, LAZY = 0, 1, 2  # write priorities: leases and pods, nodes, satellite status


def new_api_client(kubeconfig: str | None = None, pool_size: int = 32) -> Any:
    """An ApiClient from the in-cluster service account, or from a kubeconfig file."""
    from kubernetes import client, config

    configuration = client.Configuration()
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=configuration
        )
    configuration.connection_pool_maxsize = pool_size
    return client.ApiClient(configuration)


def close_api_client(api_client: Any) -> None:
    """Close the client and its pooled connections (no sockets left to the GC)."""
    api_client.close()
    with contextlib.suppress(AttributeError):
        api_client.rest_client.pool_manager.clear()


def status_of(error: BaseException) -> int:
    """HTTP status of a failed call (0 when there was no response)."""
    return int(getattr(error, "status", 0) or 0)


@dataclass
class _Write:
    key: tuple[str, ...]
    verb: str
    resource: str
    call: Callable[[], Any]
    priority: int
    on_done: Callable[[Any, BaseException | None], None] | None


class Api:
    """Typed API groups, a thread pool for the blocking client, and the write queue."""

    def __init__(self, api_client: Any, concurrency: int = 8, metrics: Any = None) -> None:
        from kubernetes import client

        self.client = api_client
        self.core = client.CoreV1Api(api_client)
        self.coordination = client.CoordinationV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.metrics = metrics
        self.requests: Counter[tuple[str, str]] = Counter()  # (verb, resource) -> count
        self._pool = ThreadPoolExecutor(max_workers=concurrency + 2, thread_name_prefix="kube")
        self._concurrency = concurrency
        self._queued: dict[tuple[str, ...], _Write] = {}
        self._running: set[tuple[str, ...]] = set()
        self._after: dict[tuple[str, ...], _Write] = {}  # queued behind a running write
        self._queue: asyncio.PriorityQueue[tuple[int, int, tuple[str, ...]]] | None = None
        self._seq = itertools.count()
        self._workers: list[asyncio.Task[None]] = []

    # -- direct calls ------------------------------------------------------------------

    async def call(
        self, verb: str, resource: str, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        """Run one client call in a worker thread; count it; re-raise its error."""
        loop = asyncio.get_running_loop()
        self.requests[(verb, resource)] += 1
        try:
            return await loop.run_in_executor(
                self._pool, self._timed(verb, resource, lambda: fn(*args, **kwargs))
            )
        except Exception as error:
            if self.metrics is not None:
                self.metrics.count_api_error(verb, resource, status_of(error))
            raise

    def _timed(self, verb: str, resource: str, call: Callable[[], Any]) -> Callable[[], Any]:
        """`call`, its duration (in its worker thread: the request alone) observed."""
        metrics = self.metrics
        if metrics is None:
            return call

        def timed() -> Any:
            started = time.perf_counter()
            try:
                return call()
            finally:
                metrics.observe_api(verb, resource, time.perf_counter() - started)

        return timed

    # -- the write queue ---------------------------------------------------------------

    def start(self) -> None:
        self._queue = asyncio.PriorityQueue()
        self._workers = [
            asyncio.create_task(self._worker(), name=f"kubesat-writer-{i}")
            for i in range(self._concurrency)
        ]

    def submit(
        self,
        key: tuple[str, ...],
        verb: str,
        resource: str,
        call: Callable[[], Any],
        priority: int = NORMAL,
        on_done: Callable[[Any, BaseException | None], None] | None = None,
    ) -> None:
        """Queue a write for `key`; a queued, not yet started write for it is replaced."""
        write = _Write(key, verb, resource, call, priority, on_done)
        if key in self._running:
            self._after[key] = write
            return
        if key in self._queued:
            self._queued[key] = write
            return
        self._queued[key] = write
        assert self._queue is not None, "Api.start() first"
        self._queue.put_nowait((priority, next(self._seq), key))

    def pending(self, key: tuple[str, ...]) -> bool:
        return key in self._queued or key in self._running or key in self._after

    @property
    def backlog(self) -> int:
        return len(self._queued) + len(self._after)

    async def _worker(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            _, _, key = await self._queue.get()
            write = self._queued.pop(key, None)
            if write is None:
                continue
            self._running.add(key)
            result, failure = None, None
            self.requests[(write.verb, write.resource)] += 1
            try:
                result = await loop.run_in_executor(
                    self._pool, self._timed(write.verb, write.resource, write.call)
                )
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failure = error
                if self.metrics is not None:
                    self.metrics.count_api_error(write.verb, write.resource, status_of(error))
                if status_of(error) not in (404, 409, 422, 429):
                    logger.warning(
                        "%s %s %s failed: %s",
                        write.verb,
                        write.resource,
                        "/".join(key[1:]),
                        _short(error),
                    )
            finally:
                self._running.discard(key)
            if write.on_done is not None:
                try:
                    write.on_done(result, failure)
                except Exception:
                    logger.exception("after %s %s", write.verb, "/".join(key))
            later = self._after.pop(key, None)
            if later is not None:
                self.submit(
                    later.key, later.verb, later.resource, later.call, later.priority, later.on_done
                )

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait (up to `timeout` s) until every queued write has been sent."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (self._queued or self._running or self._after) and (
            asyncio.get_running_loop().time() < deadline
        ):
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._workers = []
        self._pool.shutdown(wait=False, cancel_futures=True)


def _short(error: BaseException) -> str:
    status = status_of(error)
    body = getattr(error, "body", None) or str(error)
    text = str(body).replace("\n", " ")
    return f"{status} {text[:300]}" if status else text[:300]
