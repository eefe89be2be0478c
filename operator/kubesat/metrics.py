"""Prometheus metrics of kubesat: one set of families for the operator and the simulator.

Two parts, both registered on a ``CollectorRegistry`` the caller owns:

- :class:`FleetCollector`, a custom collector over the latest :class:`FleetSnapshot` of
  each constellation. It keeps no samples of its own: every scrape reads the snapshots as
  they are then, so per-satellite gauges and the cumulative counters the core already
  keeps are exported without copying them into client objects.
- :class:`OperatorMetrics`, ordinary histograms and a counter that the operator updates
  as it works (reconcile and scheduling latency, Kubernetes API errors).

Use in the operator (``memo.snapshots`` is a dict constellation name -> FleetSnapshot
that the handlers replace entries of; the collector reads it at each scrape)::

    registry = CollectorRegistry()
    registry.register(FleetCollector(memo.snapshots))
    memo.metrics = OperatorMetrics(registry)
    memo.metrics_server, _ = serve(9090, registry)
    ...
    with memo.metrics.time_reconcile("satellite-status"):
        ...
    memo.metrics.observe_scheduling("bound", seconds)
    memo.metrics.count_api_error("patch", "nodes", 409)
    ...
    memo.metrics_server.shutdown()

Use in the simulator: ``collector = FleetCollector()`` then ``collector.update(snapshot)``
from ``simulate(..., on_snapshot=...)``.

Labels stay bounded: per-satellite families carry ``satellite``, ``constellation`` and
``plane``; fleet families ``constellation`` plus one of ``kind``, ``reason``, ``phase``;
per-Job families ``constellation`` and ``job_name`` (namespace/name; not ``job``, which
Prometheus sets to the scrape job) plus ``activity`` or ``reason``; operator families ``handler``,
``result``, ``verb``, ``resource``, ``code``. Never pod names, UIDs or times, so the number
of series grows with satellites and Jobs only.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from importlib import metadata
from typing import Any, Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.context_managers import Timer
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kubesat.engine.job_stats import ACTIVITY_NAMES, JobStats
from kubesat.telemetry import POD_PHASES, UPSET_KINDS, FleetSnapshot

Family = GaugeMetricFamily | CounterMetricFamily
SATELLITE_LABELS: Final = ("satellite", "constellation", "plane")
JOB_LABELS: Final = ("constellation", "job_name")
# Reasons the simulator and the operator use; exported at 0 from the start so that rate()
# and increase() see the first event (a series born at 1 hides its first increment).
EVICTION_REASONS: Final = ("eclipse", "gang", "link", "runway", "thermal", "upset")
FAILURE_REASONS: Final = ("power", "sefi", "latchup", "thermal")
KELVIN_AT_ZERO_CELSIUS: Final = 273.15
SCHEDULING_RESULTS: Final = ("bound", "unschedulable", "error")
RECONCILE_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SCHEDULING_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
API_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0
)  # fmt: skip


def kubesat_version() -> str:
    try:
        return metadata.version("kubesat")
    except metadata.PackageNotFoundError:
        return "unknown"


class FleetCollector(Collector):
    """Exports the latest FleetSnapshot of each constellation at every scrape.

    Give it the mapping the operator keeps (``memo.snapshots``: the collector only reads
    it), or nothing, and fill its own mapping with :meth:`update` (the simulator). A
    constellation removed from the mapping disappears from the next scrape. Replacing an
    entry from another thread is safe: a scrape copies the values first.
    """

    def __init__(
        self,
        snapshots: Mapping[str, FleetSnapshot] | None = None,
        version: str | None = None,
    ) -> None:
        self.snapshots: Mapping[str, FleetSnapshot] = {} if snapshots is None else snapshots
        self.version = kubesat_version() if version is None else version
        self._lock = threading.Lock()
        # (simulated time, highest completed GPU-seconds) per constellation: _completed_total
        self._completed: dict[str, tuple[float, float]] = {}

    def update(self, snapshot: FleetSnapshot) -> None:
        """Publish a constellation's newest snapshot (replaces the previous one)."""
        if not isinstance(self.snapshots, MutableMapping):
            raise TypeError("FleetCollector.update: this collector reads a mapping it does not own")
        self.snapshots[snapshot.constellation] = snapshot

    def describe(self) -> Iterator[Metric]:
        """The families without samples, so a registry can detect name collisions."""
        return iter(self._families())

    def collect(self) -> Iterator[Metric]:
        families = self._families()
        # sorted() copies the values in one C call: safe while another thread replaces them
        for snapshot in sorted(self.snapshots.values(), key=lambda s: s.constellation):
            self._add(families, snapshot)
        return iter(families)

    # ------------------------------------------------------------------ families
    def _families(self) -> list[Family]:
        def sat_gauge(name: str, documentation: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, documentation, labels=SATELLITE_LABELS)

        def job_gauge(name: str, documentation: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, documentation, labels=JOB_LABELS)

        build = GaugeMetricFamily(
            "kubesat_build_info", "kubesat build; the value is always 1.", labels=["version"]
        )
        build.add_metric([self.version], 1.0)
        return [
            build,
            sat_gauge("kubesat_satellite_sunlit", "1 when the whole solar disc is visible."),
            sat_gauge(
                "kubesat_satellite_illuminated_ratio",
                "Fraction of the solar disc visible from the satellite (0 umbra, 1 sunlit).",
            ),
            sat_gauge("kubesat_battery_charge_ratio", "Battery state of charge, 0 to 1."),
            sat_gauge("kubesat_solar_power_watts", "Power delivered by the solar array."),
            sat_gauge("kubesat_load_power_watts", "Power drawn by the bus and the busy GPUs."),
            sat_gauge("kubesat_ground_link_up", "1 when a ground station sees the satellite."),
            sat_gauge("kubesat_satellite_latitude_degrees", "Geodetic latitude of the satellite."),
            sat_gauge(
                "kubesat_satellite_longitude_degrees", "Longitude of the satellite, -180..180."
            ),
            sat_gauge(
                "kubesat_satellite_altitude_meters", "Altitude of the satellite above WGS-84."
            ),
            sat_gauge(
                "kubesat_next_eclipse_seconds",
                "Simulated seconds until the next shadow entry, 0 in shadow; absent when "
                "no eclipse is forecast.",
            ),
            sat_gauge("kubesat_gpus_busy", "GPUs running pods."),
            sat_gauge("kubesat_gpus", "GPUs on board (nvidia.com/gpu capacity)."),
            sat_gauge(
                "kubesat_power_available",
                "1 unless the battery reached its floor and the payload is switched off.",
            ),
            sat_gauge("kubesat_node_ready", "1 when the satellite's node is Ready."),
            CounterMetricFamily(
                "kubesat_radiation_upsets",
                "Radiation upsets by kind (correctable, sefi, latchup).",
                labels=[*SATELLITE_LABELS, "kind"],
            ),
            CounterMetricFamily(
                "kubesat_solar_energy_joules",
                "Energy delivered by the solar array (its rate is watts of simulated time).",
                labels=SATELLITE_LABELS,
            ),
            CounterMetricFamily(
                "kubesat_bus_brownout_seconds",
                "Simulated seconds the bus spent at the battery's hard reserve, unserved "
                "(a platform fault: the satellite would enter safe mode).",
                labels=SATELLITE_LABELS,
            ),
            sat_gauge(
                "kubesat_satellite_temperature_celsius",
                "Lumped temperature of the payload and its radiator (with spec.thermal).",
            ),
            sat_gauge(
                "kubesat_gpus_throttled",
                "GPUs the radiator cannot carry now, held off at the maximum temperature "
                "(with spec.thermal).",
            ),
            sat_gauge(
                "kubesat_downlink_backlog_bytes",
                "Results of finished work waiting on board for a ground contact (with Jobs "
                "annotated kubesat.io/downlink-bytes).",
            ),
            CounterMetricFamily(
                "kubesat_heat_rejected_joules",
                "Heat the radiator rejected; its rate per simulated second is watts "
                "(with spec.thermal).",
                labels=SATELLITE_LABELS,
            ),
            CounterMetricFamily(
                "kubesat_pod_evictions",
                "GPU pods evicted (checkpointed, then moved) by reason.",
                labels=["constellation", "reason"],
            ),
            CounterMetricFamily(
                "kubesat_pod_failures",
                "GPU pods killed without a checkpoint by reason.",
                labels=["constellation", "reason"],
            ),
            CounterMetricFamily(
                "kubesat_completed_gpu_seconds",
                "Useful GPU-seconds kept (finished or checkpointed or in progress); holds "
                "while work lost since a checkpoint is redone.",
                labels=["constellation"],
            ),
            CounterMetricFamily(
                "kubesat_lost_gpu_seconds",
                "GPU-seconds of work lost when pods died without a checkpoint.",
                labels=["constellation"],
            ),
            CounterMetricFamily(
                "kubesat_energy_bound_gpu_seconds",
                "GPU-seconds that sunlight and batteries could have powered so far.",
                labels=["constellation"],
            ),
            GaugeMetricFamily(
                "kubesat_goodput_ratio",
                "Completed over energy-bound GPU-seconds since the start.",
                labels=["constellation"],
            ),
            GaugeMetricFamily(
                "kubesat_pods",
                "GPU pods by phase (Succeeded and Failed count pods since the start).",
                labels=["constellation", "phase"],
            ),
            CounterMetricFamily(
                "kubesat_jobs_completed", "Jobs that completed.", labels=["constellation"]
            ),
            GaugeMetricFamily(
                "kubesat_simulated_time_seconds",
                "The simulated clock, in Unix seconds.",
                labels=["constellation"],
            ),
            GaugeMetricFamily(
                "kubesat_inter_satellite_links_up",
                "Laser links between satellites that are up now (with spec.links).",
                labels=["constellation"],
            ),
            job_gauge("kubesat_job_progress_ratio", "Useful work done over the Job's work."),
            CounterMetricFamily(
                "kubesat_job_activity_seconds",
                "Simulated seconds since the Job arrived by activity: compute, exchange "
                "(gradients of a gang), checkpoint, wait (no pod runs).",
                labels=[*JOB_LABELS, "activity"],
            ),
            CounterMetricFamily(
                "kubesat_job_wait_seconds",
                "Simulated seconds the Job waited (no pod computing or checkpointing), by "
                "reason: never-fits, capacity, links, power, contact, heat, radiation, "
                "backoff, scheduler.",
                labels=[*JOB_LABELS, "reason"],
            ),
            CounterMetricFamily(
                "kubesat_job_gpu_seconds",
                "GPU-seconds the Job's pods held (running, checkpointing or waiting).",
                labels=JOB_LABELS,
            ),
            job_gauge(
                "kubesat_job_projected_finish_seconds",
                "Seconds from the Job's arrival to its end; projected at its average rate "
                "while it runs, absent before any progress.",
            ),
            job_gauge(
                "kubesat_job_gang_members",
                "Pods of a gang Job, which all run at once or none does (absent for other Jobs).",
            ),
            job_gauge(
                "kubesat_job_step_seconds",
                "A running gang's training step (compute plus the gradient all-reduce); "
                "absent while the gang does not run.",
            ),
        ]

    def _add(self, families: list[Family], s: FleetSnapshot) -> None:
        by_name = {f.name: f for f in families}
        c = s.constellation
        sats = [
            (name, c, str(int(plane))) for name, plane in zip(s.satellites, s.planes, strict=True)
        ]

        def per_satellite(name: str, values: Iterable[Any], scale: float = 1.0) -> None:
            family = by_name[name]
            for labels, value in zip(sats, values, strict=True):
                value = float(value) * scale
                if math.isfinite(value):
                    family.add_metric(labels, value)

        per_satellite("kubesat_satellite_sunlit", s.sunlit)
        per_satellite("kubesat_satellite_illuminated_ratio", s.illumination)
        per_satellite("kubesat_battery_charge_ratio", s.state_of_charge)
        per_satellite("kubesat_solar_power_watts", s.solar_power_w)
        per_satellite("kubesat_load_power_watts", s.load_power_w)
        per_satellite("kubesat_ground_link_up", s.ground_link)
        per_satellite("kubesat_satellite_latitude_degrees", s.latitude_deg)
        per_satellite("kubesat_satellite_longitude_degrees", s.longitude_deg)
        per_satellite("kubesat_satellite_altitude_meters", s.altitude_km, 1000.0)
        per_satellite("kubesat_next_eclipse_seconds", s.seconds_to_eclipse)  # inf: omitted
        per_satellite("kubesat_gpus_busy", s.gpus_busy)
        per_satellite("kubesat_gpus", [s.gpus_per_satellite] * len(sats))
        per_satellite("kubesat_power_available", s.power_available)
        per_satellite("kubesat_node_ready", s.ready)
        per_satellite("kubesat_solar_energy_joules", s.solar_energy_j_total)
        brownouts = s.bus_brownout_seconds_total
        per_satellite(
            "kubesat_bus_brownout_seconds",
            brownouts if brownouts is not None else [0.0] * len(sats),
        )
        if s.temperature_k is not None:
            per_satellite(
                "kubesat_satellite_temperature_celsius", s.temperature_k - KELVIN_AT_ZERO_CELSIUS
            )
        if s.throttled_gpus is not None:
            per_satellite("kubesat_gpus_throttled", s.throttled_gpus)
        if s.heat_rejected_j_total is not None:
            per_satellite("kubesat_heat_rejected_joules", s.heat_rejected_j_total)
        if s.downlink_backlog_bytes is not None:
            per_satellite("kubesat_downlink_backlog_bytes", s.downlink_backlog_bytes)
        upsets = by_name["kubesat_radiation_upsets"]
        for labels, row in zip(sats, s.upsets_total, strict=True):
            for kind, count in zip(UPSET_KINDS, row, strict=True):
                upsets.add_metric([*labels, kind], float(count))

        def by_key(name: str, known: tuple[str, ...], counts: Mapping[str, int]) -> None:
            family = by_name[name]
            for key in sorted({*known, *counts}):
                family.add_metric([c, key], float(counts.get(key, 0)))

        by_key("kubesat_pod_evictions", EVICTION_REASONS, s.evictions_total)
        by_key("kubesat_pod_failures", FAILURE_REASONS, s.pod_failures_total)
        by_key("kubesat_pods", POD_PHASES, s.pods_by_phase)
        by_name["kubesat_completed_gpu_seconds"].add_metric([c], self._completed_total(s))
        by_name["kubesat_lost_gpu_seconds"].add_metric([c], s.lost_gpu_seconds)
        by_name["kubesat_energy_bound_gpu_seconds"].add_metric([c], s.energy_bound_gpu_seconds)
        by_name["kubesat_goodput_ratio"].add_metric([c], s.goodput_ratio)
        by_name["kubesat_jobs_completed"].add_metric([c], float(s.jobs_completed))
        by_name["kubesat_simulated_time_seconds"].add_metric([c], s.simulated_time.timestamp())
        if s.links_up is not None:
            by_name["kubesat_inter_satellite_links_up"].add_metric([c], float(s.links_up))
        for job in s.jobs:
            self._add_job(by_name, c, job)

    @staticmethod
    def _add_job(by_name: Mapping[str, Family], constellation: str, job: JobStats) -> None:
        labels = [constellation, job.name]
        by_name["kubesat_job_progress_ratio"].add_metric(labels, job.progress_ratio)
        seconds = (job.compute_seconds, job.exchange_seconds, job.checkpoint_seconds)
        for activity, value in zip(ACTIVITY_NAMES, (*seconds, job.wait_seconds), strict=True):
            by_name["kubesat_job_activity_seconds"].add_metric([*labels, activity], value)
        for reason, waited in sorted(job.waiting.items()):
            by_name["kubesat_job_wait_seconds"].add_metric([*labels, reason], waited)
        by_name["kubesat_job_gpu_seconds"].add_metric(labels, job.gpu_seconds_used)
        if job.projected_finish_seconds is not None:
            by_name["kubesat_job_projected_finish_seconds"].add_metric(
                labels, job.projected_finish_seconds
            )
        if job.gang:
            by_name["kubesat_job_gang_members"].add_metric(labels, float(job.members))
        if job.step_seconds is not None:
            by_name["kubesat_job_step_seconds"].add_metric(labels, job.step_seconds)

    def _completed_total(self, s: FleetSnapshot) -> float:
        """Completed GPU-seconds as a counter that never decreases.

        The snapshot's figure dips when a pod dies: its progress since the last checkpoint
        is no longer kept (and is counted in lost_gpu_seconds). A counter that decreases
        reads as a reset to rate(), which would then count the whole total again, so the
        counter holds its highest value until the lost work has been made up. A snapshot
        from an earlier simulated instant is a new run: the counter restarts with it.
        """
        now = s.simulated_time.timestamp()
        with self._lock:
            then, highest = self._completed.get(s.constellation, (-math.inf, 0.0))
            value = s.completed_gpu_seconds if now < then else max(highest, s.completed_gpu_seconds)
            self._completed[s.constellation] = (now, value)
        return value


class OperatorMetrics:
    """Latency histograms and API error counts that the operator updates as it works."""

    def __init__(self, registry: CollectorRegistry, handlers: tuple[str, ...] = ()) -> None:
        self.reconcile_duration = Histogram(
            "kubesat_reconcile_duration_seconds",
            "Time a Kopf handler took, by handler id.",
            ["handler"],
            registry=registry,
            buckets=RECONCILE_BUCKETS,
        )
        self.scheduling_duration = Histogram(
            "kubesat_scheduling_duration_seconds",
            "Time kubesat-scheduler took to place (or give up on) one pod, by result.",
            ["result"],
            registry=registry,
            buckets=SCHEDULING_BUCKETS,
        )
        self.api_duration = Histogram(
            "kubesat_api_request_duration_seconds",
            "Time a Kubernetes API call of the operator took, seen from the operator (the "
            "request alone, not its wait in the write queue), by verb and resource.",
            ["verb", "resource"],
            registry=registry,
            buckets=API_BUCKETS,
        )
        self.api_errors = Counter(
            "kubesat_api_errors",
            "Kubernetes API calls that failed, by verb, resource and HTTP status code.",
            ["verb", "resource", "code"],
            registry=registry,
        )
        # series present at 0 from the start, so rate() sees the first observation
        for handler in handlers:
            self.reconcile_duration.labels(handler=handler)
        for result in SCHEDULING_RESULTS:
            self.scheduling_duration.labels(result=result)

    def time_reconcile(self, handler: str) -> Timer:
        """``with metrics.time_reconcile("register"): ...`` observes the block's duration."""
        return self.reconcile_duration.labels(handler=handler).time()

    def observe_reconcile(self, handler: str, seconds: float) -> None:
        self.reconcile_duration.labels(handler=handler).observe(seconds)

    def observe_scheduling(self, result: str, seconds: float) -> None:
        """``result``: bound, unschedulable or error."""
        self.scheduling_duration.labels(result=result).observe(seconds)

    def observe_api(self, verb: str, resource: str, seconds: float) -> None:
        """One API call's duration, e.g. ``("patch", "nodes/status", 0.004)``."""
        self.api_duration.labels(verb=verb, resource=resource).observe(seconds)

    def count_api_error(self, verb: str, resource: str, code: int | str) -> None:
        """One failed API call, e.g. ``("patch", "nodes", 409)``; code 0 for no response."""
        self.api_errors.labels(verb=verb, resource=resource, code=str(code)).inc()


def serve(
    port: int, registry: CollectorRegistry, address: str = "0.0.0.0"
) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``registry`` on http://address:port/metrics from a daemon thread.

    Returns ``(server, thread)``; ``server.server_address[1]`` is the port (useful with
    port 0) and ``server.shutdown()`` stops it. A port already taken raises ``OSError``.
    """
    return start_http_server(port, addr=address, registry=registry)
