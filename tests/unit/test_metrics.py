"""The Prometheus collector over FleetSnapshots, the operator's own metrics, live serving.

Each test builds its own CollectorRegistry and asserts with get_sample_value.
"""

from __future__ import annotations

import urllib.request
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from kubesat.cli import main
from kubesat.engine.job_stats import JobStats
from kubesat.metrics import FleetCollector, OperatorMetrics, serve
from kubesat.sim.live import LiveMetrics
from kubesat.telemetry import FleetSnapshot

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 24, tzinfo=UTC)
ALLOWED_LABELS = {
    "satellite",
    "constellation",
    "plane",
    "kind",
    "reason",
    "phase",
    "handler",
    "result",
    "verb",
    "resource",
    "code",
    "version",
    "station",
    "job_name",
    "activity",
}


def snapshot(
    n: int = 3,
    constellation: str = "test",
    at: datetime = T0,
    pods: int = 5,
    completed: float = 1000.0,
) -> FleetSnapshot:
    """A hand-built fleet of n satellites in 2 planes; satellite 1 is in eclipse."""
    illumination = np.ones(n)
    illumination[1 % n] = 0.0
    if n > 2:
        illumination[2] = 0.4  # penumbra
    upsets = np.zeros((n, 3), np.int64)
    upsets[0] = (7, 2, 1)
    to_eclipse = np.linspace(0.0, 3000.0, n)
    to_eclipse[-1] = np.inf  # no eclipse forecast
    return FleetSnapshot(
        constellation=constellation,
        simulated_time=at,
        satellites=tuple(f"{constellation}-{i:03d}" for i in range(n)),
        planes=np.arange(n, dtype=np.int64) % 2,
        gpus_per_satellite=4,
        illumination=illumination,
        state_of_charge=np.linspace(0.7, 1.0, n),
        solar_power_w=illumination * 2000.0,
        load_power_w=np.full(n, 800.0),
        ground_link=np.arange(n) % 2 == 0,
        latitude_deg=np.linspace(-30.0, 30.0, n),
        longitude_deg=np.linspace(-45.0, 45.0, n),
        altitude_km=np.full(n, 535.0),
        seconds_to_eclipse=to_eclipse,
        gpus_busy=np.arange(n, dtype=np.int64) % 5,
        power_available=np.arange(n) != 1,
        ready=np.arange(n) != 1,
        upsets_total=upsets,
        solar_energy_j_total=np.full(n, 3.6e6),
        evictions_total={"runway": 4},
        pod_failures_total={"sefi": 2, "power": 1},
        pods_by_phase={"Running": pods, "Pending": 2 * pods, "Succeeded": 3, "Failed": 3},
        completed_gpu_seconds=completed,
        lost_gpu_seconds=120.0,
        energy_bound_gpu_seconds=1250.0,
        jobs_completed=2,
        policy="predictive",
    )


def registry_with(*snapshots: FleetSnapshot) -> tuple[CollectorRegistry, FleetCollector]:
    registry = CollectorRegistry()
    collector = FleetCollector(version="1.2.3")
    registry.register(collector)
    for s in snapshots:
        collector.update(s)
    return registry, collector


def sat(name: str, plane: int, constellation: str = "test") -> dict[str, str]:
    return {"satellite": name, "constellation": constellation, "plane": str(plane)}


def test_per_satellite_gauges():
    registry, _ = registry_with(snapshot())
    value = registry.get_sample_value
    s0, s1, s2 = sat("test-000", 0), sat("test-001", 1), sat("test-002", 0)
    assert value("kubesat_satellite_sunlit", s0) == 1.0
    assert value("kubesat_satellite_sunlit", s1) == 0.0
    assert value("kubesat_satellite_sunlit", s2) == 0.0  # penumbra is not sunlit
    assert value("kubesat_satellite_illuminated_ratio", s2) == pytest.approx(0.4)
    assert value("kubesat_battery_charge_ratio", s0) == pytest.approx(0.7)
    assert value("kubesat_battery_charge_ratio", s2) == pytest.approx(1.0)
    assert value("kubesat_solar_power_watts", s0) == 2000.0
    assert value("kubesat_solar_power_watts", s1) == 0.0
    assert value("kubesat_load_power_watts", s1) == 800.0
    assert value("kubesat_ground_link_up", s0) == 1.0
    assert value("kubesat_ground_link_up", s1) == 0.0
    assert value("kubesat_satellite_latitude_degrees", s0) == -30.0
    assert value("kubesat_satellite_longitude_degrees", s2) == 45.0
    assert value("kubesat_satellite_altitude_meters", s1) == pytest.approx(535_000.0)
    assert value("kubesat_next_eclipse_seconds", s0) == 0.0
    assert value("kubesat_next_eclipse_seconds", s1) == pytest.approx(1500.0)
    assert value("kubesat_next_eclipse_seconds", s2) is None  # none forecast: no sample
    assert value("kubesat_gpus", s1) == 4.0
    assert value("kubesat_gpus_busy", s2) == 2.0
    assert value("kubesat_power_available", s1) == 0.0
    assert value("kubesat_node_ready", s0) == 1.0
    assert value("kubesat_node_ready", s1) == 0.0


def test_per_satellite_counters():
    registry, _ = registry_with(snapshot())
    value = registry.get_sample_value
    s0 = sat("test-000", 0)
    assert value("kubesat_radiation_upsets_total", {**s0, "kind": "correctable"}) == 7.0
    assert value("kubesat_radiation_upsets_total", {**s0, "kind": "sefi"}) == 2.0
    assert value("kubesat_radiation_upsets_total", {**s0, "kind": "latchup"}) == 1.0
    # every satellite has every kind from the start, so rate() sees the first upset
    assert value("kubesat_radiation_upsets_total", {**sat("test-001", 1), "kind": "sefi"}) == 0
    assert value("kubesat_solar_energy_joules_total", s0) == pytest.approx(3.6e6)


def test_fleet_metrics():
    registry, _ = registry_with(snapshot())
    value = registry.get_sample_value
    c = {"constellation": "test"}
    assert value("kubesat_pod_evictions_total", {**c, "reason": "runway"}) == 4.0
    assert value("kubesat_pod_evictions_total", {**c, "reason": "eclipse"}) == 0.0  # known reason
    assert value("kubesat_pod_failures_total", {**c, "reason": "sefi"}) == 2.0
    assert value("kubesat_pod_failures_total", {**c, "reason": "latchup"}) == 0.0
    assert value("kubesat_completed_gpu_seconds_total", c) == 1000.0
    assert value("kubesat_lost_gpu_seconds_total", c) == 120.0
    assert value("kubesat_energy_bound_gpu_seconds_total", c) == 1250.0
    assert value("kubesat_goodput_ratio", c) == pytest.approx(0.8)
    assert value("kubesat_pods", {**c, "phase": "Running"}) == 5.0
    assert value("kubesat_pods", {**c, "phase": "Pending"}) == 10.0
    assert value("kubesat_pods", {**c, "phase": "Succeeded"}) == 3.0
    assert value("kubesat_jobs_completed_total", c) == 2.0
    assert value("kubesat_simulated_time_seconds", c) == T0.timestamp()
    assert value("kubesat_build_info", {"version": "1.2.3"}) == 1.0


def test_metric_types():
    registry, _ = registry_with(snapshot())
    OperatorMetrics(registry)
    types = {family.name: family.type for family in registry.collect()}
    counters = {
        "kubesat_radiation_upsets",
        "kubesat_solar_energy_joules",
        "kubesat_bus_brownout_seconds",
        "kubesat_heat_rejected_joules",
        "kubesat_pod_evictions",
        "kubesat_pod_failures",
        "kubesat_completed_gpu_seconds",
        "kubesat_lost_gpu_seconds",
        "kubesat_energy_bound_gpu_seconds",
        "kubesat_jobs_completed",
        "kubesat_job_activity_seconds",
        "kubesat_job_wait_seconds",
        "kubesat_job_gpu_seconds",
        "kubesat_api_errors",
    }
    histograms = {
        "kubesat_reconcile_duration_seconds",
        "kubesat_scheduling_duration_seconds",
        "kubesat_api_request_duration_seconds",
    }
    for name, kind in types.items():
        expected = "counter" if name in counters else "histogram" if name in histograms else "gauge"
        assert kind == expected, name
    assert counters | histograms <= types.keys()
    assert all(name.startswith("kubesat_") for name in types)


def test_no_snapshot_yet_exports_only_build_info():
    registry, _ = registry_with()
    samples = [s for family in registry.collect() for s in family.samples]
    assert [s.name for s in samples] == ["kubesat_build_info"]


def test_several_constellations():
    registry, _ = registry_with(snapshot(3, "alpha"), snapshot(5, "beta"))
    value = registry.get_sample_value
    assert value("kubesat_gpus", sat("alpha-002", 0, "alpha")) == 4.0
    assert value("kubesat_gpus", sat("beta-004", 0, "beta")) == 4.0
    assert value("kubesat_goodput_ratio", {"constellation": "alpha"}) == pytest.approx(0.8)
    assert value("kubesat_goodput_ratio", {"constellation": "beta"}) == pytest.approx(0.8)


def test_reads_a_mapping_it_does_not_own():
    """The operator's way: memo.snapshots is read at each scrape, replaced entry by entry."""
    snapshots = {"test": snapshot()}
    registry = CollectorRegistry()
    registry.register(FleetCollector(snapshots))
    assert registry.get_sample_value("kubesat_pods", {"constellation": "test", "phase": "Running"})
    snapshots["test"] = snapshot(at=T0 + timedelta(minutes=1), pods=9)
    assert registry.get_sample_value("kubesat_pods", {"constellation": "test", "phase": "Running"})
    assert FleetCollector(MappingProxyType(snapshots)).snapshots["test"].pods_by_phase
    with pytest.raises(TypeError):
        FleetCollector(MappingProxyType(snapshots)).update(snapshot())


def test_completed_gpu_seconds_never_decrease_within_a_run():
    """A pod dying without a checkpoint lowers the kept work; the counter holds instead."""
    registry, collector = registry_with()
    c = {"constellation": "test"}
    seen = []
    for minute, completed in enumerate([100.0, 250.0, 180.0, 240.0, 300.0]):
        collector.update(snapshot(at=T0 + timedelta(minutes=minute), completed=completed))
        seen.append(registry.get_sample_value("kubesat_completed_gpu_seconds_total", c))
    assert seen == [100.0, 250.0, 250.0, 250.0, 300.0]
    # an earlier simulated instant is a new run (another policy): the counter restarts
    collector.update(snapshot(at=T0, completed=10.0))
    assert registry.get_sample_value("kubesat_completed_gpu_seconds_total", c) == 10.0


def series(registry: CollectorRegistry) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {
        (s.name, tuple(sorted(s.labels.items())))
        for family in registry.collect()
        for s in family.samples
    }


def test_label_sets_stay_bounded():
    """No per-pod or per-time labels: series depend on the satellites only."""
    registry, collector = registry_with(snapshot(4, pods=3))
    OperatorMetrics(registry, handlers=("register",))
    first = series(registry)
    keys = {key for _, labels in first for key, _ in labels}
    assert keys <= ALLOWED_LABELS | {"le"}, keys - ALLOWED_LABELS
    # time passes, pods come and go, counters grow: the same series, only values change
    collector.update(
        replace(
            snapshot(4, at=T0 + timedelta(hours=5), pods=300),
            evictions_total={"runway": 40, "eclipse": 7},
            pod_failures_total={"sefi": 9},
            jobs_completed=30,
        )
    )
    assert series(registry) == first
    for _, labels in first:
        for key, value in labels:
            assert not value.startswith("pod"), (key, value)
            assert "2026" not in value, (key, value)


@pytest.mark.parametrize("constellations", [1, 3])
def test_series_count_grows_with_satellites_only(constellations):
    def count(n: int, pods: int) -> int:
        registry, _ = registry_with(
            *(snapshot(n, f"c{i}", pods=pods) for i in range(constellations))
        )
        return len(series(registry))

    # per satellite: 14 gauges (one omitted: no eclipse forecast for the last satellite),
    # 3 upset kinds, 1 energy counter and 1 bus-brownout counter; the rest is per
    # constellation
    small, large = count(5, pods=1), count(50, pods=1000)
    per_satellite = (large - small) / (45 * constellations)
    assert per_satellite == 14 + 3 + 1 + 1
    assert count(50, pods=7) == large


def test_operator_metrics():
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry, handlers=("register",))
    value = registry.get_sample_value
    # series exist at 0 before the first observation
    assert value("kubesat_reconcile_duration_seconds_count", {"handler": "register"}) == 0
    assert value("kubesat_scheduling_duration_seconds_count", {"result": "unschedulable"}) == 0
    with metrics.time_reconcile("register"):
        pass
    metrics.observe_reconcile("node-agent", 0.3)
    metrics.observe_scheduling("bound", 0.002)
    metrics.count_api_error("patch", "nodes", 409)
    metrics.count_api_error("patch", "nodes", "409")
    assert value("kubesat_reconcile_duration_seconds_count", {"handler": "register"}) == 1
    assert (
        value("kubesat_reconcile_duration_seconds_bucket", {"handler": "node-agent", "le": "0.5"})
        == 1
    )
    assert value("kubesat_reconcile_duration_seconds_sum", {"handler": "node-agent"}) == 0.3
    assert (
        value("kubesat_scheduling_duration_seconds_bucket", {"result": "bound", "le": "0.0025"})
        == 1
    )
    errors = {"verb": "patch", "resource": "nodes", "code": "409"}
    assert value("kubesat_api_errors_total", errors) == 2
    metrics.observe_api("patch", "nodes/status", 0.004)
    call = {"verb": "patch", "resource": "nodes/status"}
    assert value("kubesat_api_request_duration_seconds_bucket", {**call, "le": "0.005"}) == 1
    assert value("kubesat_api_request_duration_seconds_bucket", {**call, "le": "0.0025"}) == 0


def test_serve_exposes_the_registry():
    registry, _ = registry_with(snapshot())
    server, _ = serve(0, registry, "127.0.0.1")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert 'kubesat_build_info{version="1.2.3"} 1.0' in text
    assert "# TYPE kubesat_radiation_upsets_total counter" in text


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_live_metrics_paces_simulated_time_to_speedup_times_wall_time():
    clock = FakeClock()
    live = LiveMetrics(0, speedup=60.0, address="127.0.0.1", clock=clock, sleep=clock.sleep)
    live.start()
    try:
        live.on_snapshot(snapshot(at=T0))
        clock.now += 0.25  # the engine took a quarter second for the next steps
        live.on_snapshot(snapshot(at=T0 + timedelta(minutes=1)))
        live.on_snapshot(snapshot(at=T0 + timedelta(minutes=3)))
        # another policy's run starts the timeline again: no wait for the first snapshot
        live.on_snapshot(snapshot(at=T0, pods=8))
        assert (
            live.registry.get_sample_value(
                "kubesat_pods", {"constellation": "test", "phase": "Running"}
            )
            == 8
        )
    finally:
        live.close()
    assert clock.slept == [pytest.approx(0.75), pytest.approx(2.0)]


def test_live_metrics_rejects_a_bad_speedup():
    with pytest.raises(ValueError, match="--speedup: must be > 0, got 0"):
        LiveMetrics(0, speedup=0.0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--linger", "5"], "--linger: only applies with --metrics-port"),
        (["--speedup", "10"], "--speedup: only applies with --metrics-port"),
        (["--metrics-port", "70000"], "--metrics-port: expected 0..65535, got 70000"),
        (["--metrics-port", "0", "--linger", "-1"], "--linger: must be >= 0 seconds, got -1"),
    ],
)
def test_simulate_rejects_bad_live_options(argv, message, capsys):
    assert main(["simulate", str(ROOT / "examples/sso-12.yaml"), "--quiet", *argv]) == 2
    assert message in capsys.readouterr().err


def test_every_exported_family_is_documented_in_the_reference():
    """The metrics reference (docs/reference/metrics.md, generated) names every family the
    collector and operator export."""
    import re
    from pathlib import Path

    from kubesat.metrics import OperatorMetrics

    registry, _ = registry_with(snapshot())
    OperatorMetrics(registry)
    readme = (Path(__file__).resolve().parents[2] / "docs/reference/metrics.md").read_text()
    documented = set(re.findall(r"\| `(kubesat_[a-z_]+)` \|", readme))
    exported = {metric.name for metric in registry.collect()}
    # counters are exposed with a _total suffix that the family name omits
    exported = {name if name in documented else f"{name}_total" for name in exported}
    assert len(exported) >= 25
    assert exported <= documented, sorted(exported - documented)


def test_heat_series_only_with_a_thermal_model():
    from dataclasses import replace

    registry, _ = registry_with(snapshot())
    labels = {"satellite": "test-000", "constellation": "test", "plane": "0"}
    assert registry.get_sample_value("kubesat_satellite_temperature_celsius", labels) is None
    hot = replace(
        snapshot(),
        temperature_k=np.array([333.15, 300.0, 273.15]),
        throttled_gpus=np.array([2, 0, 0], np.int64),
        heat_rejected_j_total=np.array([5.0e6, 4.0e6, 3.0e6]),
    )
    registry, _ = registry_with(hot)
    value = registry.get_sample_value
    assert value("kubesat_satellite_temperature_celsius", labels) == pytest.approx(60.0)
    assert value("kubesat_gpus_throttled", labels) == 2.0
    assert value("kubesat_heat_rejected_joules_total", labels) == 5.0e6


def job_stats(name: str = "ml/train", gang: bool = True, running: bool = True) -> JobStats:
    """A gang of 4 x 4 GPUs, 2 h in: 30% done, 80 min computing, 20 exchanging, 20 other."""
    return JobStats(
        name=name,
        gang=gang,
        members=4,
        gpus_per_pod=4,
        finished=False,
        failed=False,
        elapsed_seconds=7200.0,
        finish_seconds=None,
        projected_finish_seconds=24000.0 if running else None,
        progress_ratio=0.3 if running else 0.0,
        useful_gpu_seconds=76800.0,
        gpu_seconds_used=100800.0,
        compute_seconds=4800.0,
        exchange_seconds=1200.0,
        checkpoint_seconds=600.0,
        wait_seconds=600.0,
        satellites=(3, 4, 5, 6) if running else (),
        step_seconds=2.5 if running else None,
    )


def test_job_families():
    """Every Job's report, labelled by its namespace/name; the links up in the fleet."""
    waiting = job_stats("ml/queued", running=False)
    single = replace(job_stats("batch/render", gang=False), members=1)
    registry, _ = registry_with(
        replace(snapshot(), jobs=(job_stats(), waiting, single), links_up=11)
    )
    value = registry.get_sample_value
    train = {"constellation": "test", "job_name": "ml/train"}
    queued = {"constellation": "test", "job_name": "ml/queued"}
    render = {"constellation": "test", "job_name": "batch/render"}
    assert value("kubesat_job_progress_ratio", train) == pytest.approx(0.3)
    assert value("kubesat_job_progress_ratio", queued) == 0.0
    seconds = {
        activity: value("kubesat_job_activity_seconds_total", {**train, "activity": activity})
        for activity in ("compute", "exchange", "checkpoint", "wait")
    }
    assert seconds == {"compute": 4800.0, "exchange": 1200.0, "checkpoint": 600.0, "wait": 600.0}
    assert sum(seconds.values()) == 7200.0  # the activities add up to the elapsed time
    assert value("kubesat_job_gpu_seconds_total", train) == 100800.0
    assert value("kubesat_job_projected_finish_seconds", train) == 24000.0
    assert value("kubesat_job_projected_finish_seconds", queued) is None  # nothing to project
    assert value("kubesat_job_gang_members", train) == 4.0
    assert value("kubesat_job_gang_members", render) is None  # not a gang
    assert value("kubesat_job_step_seconds", train) == 2.5
    assert value("kubesat_job_step_seconds", queued) is None  # a gang that does not run
    assert value("kubesat_inter_satellite_links_up", {"constellation": "test"}) == 11.0


def test_no_job_or_link_series_without_jobs_or_links():
    registry, _ = registry_with(snapshot())
    names = {s.name for family in registry.collect() for s in family.samples}
    assert not {n for n in names if n.startswith("kubesat_job_")}
    assert "kubesat_inter_satellite_links_up" not in names


def test_gang_eviction_reason_is_exported_from_the_start():
    registry, _ = registry_with(snapshot())
    labels = {"constellation": "test", "reason": "gang"}
    assert registry.get_sample_value("kubesat_pod_evictions_total", labels) == 0.0


def test_engine_snapshot_carries_job_reports_and_links():
    """A gang example stepped a few minutes: the snapshot's Jobs and links are the engine's."""
    from kubesat.sim.run import load_scenario, prepare, simulate

    scenario = load_scenario(ROOT / "examples" / "three-body-12.yaml")
    environment = prepare(scenario, 1800.0)
    seen: list[FleetSnapshot] = []
    outcome = simulate(scenario, environment, "predictive", on_snapshot=seen.append)
    last = seen[-1]
    assert [job.name for job in last.jobs] == [stats.name for stats in outcome.jobs.values()]
    [train] = last.jobs
    assert train.gang and train.members == 8
    assert 0 < train.progress_ratio <= outcome.jobs["train-1b"].progress_ratio
    assert last.links_up is not None and 0 < last.links_up <= 12  # a ring of 12 at most
    registry, _ = registry_with(last)
    labels = {"constellation": last.constellation, "job_name": train.name}
    assert registry.get_sample_value("kubesat_job_progress_ratio", labels) == pytest.approx(
        train.progress_ratio
    )
