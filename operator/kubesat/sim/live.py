"""Watch a simulation live: serve its metrics and pace it to a multiple of wall time.

`kubesat simulate --metrics-port N` publishes every FleetSnapshot of the run through the
same collector the operator uses, and holds each one back until the wall clock has caught
up with it (simulated time = start + speedup x elapsed wall time, as in the operator), so
Prometheus scrapes a run that unfolds at a watchable pace instead of finishing in seconds.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from wsgiref.simple_server import WSGIServer

from kubesat.telemetry import FleetSnapshot


class LiveMetrics:
    """A metrics server over the snapshots of a run, and the pacing of that run.

    :meth:`start` starts the HTTP server (a daemon thread), :meth:`close` stops it.
    ``on_snapshot`` is the callback for ``simulate(..., on_snapshot=...)``.
    """

    def __init__(
        self,
        port: int,
        speedup: float,
        address: str = "0.0.0.0",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not speedup > 0:
            raise ValueError(f"--speedup: must be > 0, got {speedup:g}")
        self.port, self.address, self.speedup = port, address, speedup
        self.clock, self.sleep = clock, sleep
        self.server: WSGIServer | None = None
        self._origin: tuple[float, float] | None = None  # (wall, simulated) seconds
        self._last_simulated = -float("inf")

    def start(self) -> LiveMetrics:
        try:
            from prometheus_client import CollectorRegistry

            from kubesat.metrics import FleetCollector, serve
        except ImportError as error:
            raise ValueError(
                f"--metrics-port: needs prometheus_client ({error}); "
                "install it with: pip install 'kubesat[operator]'"
            ) from None
        self.registry = CollectorRegistry()
        self.collector = FleetCollector()
        self.registry.register(self.collector)
        try:
            server, _ = serve(self.port, self.registry, self.address)
        except OSError as error:
            raise ValueError(
                f"--metrics-port: cannot listen on {self.address}:{self.port}: {error.strerror}"
            ) from None
        self.server = server
        self.port = int(server.server_address[1])
        print(
            f"serving metrics on http://{self.address}:{self.port}/metrics "
            f"(simulated time runs {self.speedup:g}x wall time)",
            file=sys.stderr,
            flush=True,
        )
        return self

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def on_snapshot(self, snapshot: FleetSnapshot) -> None:
        """Wait until wall time reaches the snapshot's simulated instant, then publish it."""
        simulated = snapshot.simulated_time.timestamp()
        if self._origin is None or simulated < self._last_simulated:
            self._origin = (self.clock(), simulated)  # a run (or another policy's run) starts
        self._last_simulated = simulated
        wall0, simulated0 = self._origin
        delay = wall0 + (simulated - simulated0) / self.speedup - self.clock()
        if delay > 0:
            self.sleep(delay)
        self.collector.update(snapshot)

    def linger(self, seconds: float) -> None:
        """Keep serving the final values for a while, so a scraper gets them."""
        if seconds > 0:
            print(f"serving the final metrics for {seconds:g} s more", file=sys.stderr, flush=True)
            self.sleep(seconds)
