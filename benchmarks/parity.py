"""Parity: the operator on a real control plane against the simulator, example by example.

The operator (`kubesat operator`) and the simulator (`kubesat simulate`) drive one engine
(`kubesat.engine`), so the operator should achieve what the simulator predicts. For each
example file this runs the whole file through the operator on the local control plane (or
$KUBESAT_KUBECONFIG), then the simulator in this process for exactly the steps the
operator reached, and compares the two.

Per example (examples/sso-12.yaml, starcloud-1.yaml, suncatcher-81.yaml, walker-1000.yaml
by default):

1. A fresh namespace; the operator as a subprocess watching it; the file's Jobs and
   PodDisruptionBudgets created, then its Constellation, at the example's own speedup
   (`--speedup` overrides `spec.clock.speedup`). The Jobs exist before the Constellation,
   so the operator's engine starts at step 0 with every Job, as the simulator's does.
2. Once the constellation's Nodes are Ready, the run is measured until the operator has
   reached `--hours`: its persisted `status.state.step` x `stepSeconds`, or its engine's
   simulated time as its metrics publish it (`kubesat_simulated_time_seconds`, which does
   not wait for a status write). Every `--poll` seconds both are read, for the lags.
3. SIGTERM: the operator persists its final state. From `status.state`: the step k,
   completed GPU-seconds (the sum of every Job's `progress` list) and the counters. If no
   state (or only an older one) could be persisted, the same totals come from the metrics
   scraped just before the SIGTERM; the row is marked `*`.
4. The simulator (`kubesat.sim.run.prepare` and `simulate`, the manifest's policy) runs
   exactly k steps of the same documents (the file as read in step 1).

Both run the same code: `operator/kubesat` is copied when this starts, and the operators
(PYTHONPATH) and the simulator here import the copy, so edits to the tree during a run
change neither.

Figures (one row per example):

- sim h: simulated hours the operator ran (k x stepSeconds / 3600).
- goodput op / sim: completed GPU-seconds over the same denominator for both: the energy
  bound of the k steps (what sunlight and batteries allowed, `Outcome.energy_bound_gpu_
  seconds`) or the Jobs' total demand if smaller, as `Outcome.goodput_ratio`.
- ratio: operator completed / simulator completed, at equal steps (target >= 0.97).
- lost GPU-s, evictions, failures: operator / simulator (work lost since the last
  checkpoint; evictions by the policy, refusals by a PodDisruptionBudget apart; pods killed
  by power loss or upsets). Totals by reason follow the table.
- CPU: the operator process's user + system CPU seconds per wall second (cores), from
  all Nodes Ready to the stop.
- writes/s: write requests (create, update, patch, delete) per wall second served by the
  API server over the same window, from everything (the operator, the control plane's
  own controllers); the busiest resources follow the table.
- max lag: the largest, over the polls, of the clock's step (simulated time = spec.clock.
  start + speedup x (now - status.clock.epochWallTime)) minus the persisted
  `status.state.step`, in simulated seconds. The state is persisted every 5 wall seconds
  (`kubesat operator --persist-seconds`), so this includes up to 5 x speedup simulated
  seconds of staleness (300 s at 60x) on top of any real lag.
- engine lag: the same against the engine's step in the metrics (published every 0.5 wall
  seconds, so up to 0.5 x speedup simulated seconds of staleness).
- stop lag: the clock's step when the operator's loop ended (its log's "Daemon 'physics'"
  line, after the final persist; Kopf ends the daemon 0.1-0.6 s after SIGTERM and the loop
  ticks until then) minus the step of the final state, in simulated seconds: no staleness,
  only the final write's duration (when Kopf had to cancel the daemon, the line is the
  cancellation, before the final write: a lower bound). Without `status.clock` (never
  persisted) the lags are lower bounds, marked `>=`.

`--speedup-search` runs one example (sso-12 unless `--examples` names one) at speedups
60, 240, 960 and 3840 for `--search-hours` simulated hours each, and compares at the same
wall moment: the operator is stopped when its clock says T, and what its final state
completed is set against the simulator's completed GPU-seconds at the clock's time when
that state was final (the daemon's end, just after T). An operator that falls behind
the clock completes less by that moment, so the ratio drops below 1 (the equal-step ratio
is shown too, to tell falling behind from disagreeing). It prints the largest speedup whose
ratio is still >= 0.97.

    python benchmarks/parity.py [--hours 24] [--examples examples/sso-12.yaml ...]
                                [--speedup X] [--poll 3]
    python benchmarks/parity.py --speedup-search [--search-hours 2]

Needs the control-plane binaries (`make controlplane`). Not part of the test suite. Each
operator's log is left in $TMPDIR (printed at the end, with its first warnings). Memory:
the operator runs in its own process and has exited before the simulator runs here; the
simulator's environment is dropped after each example (walker-1000 over 24 h peaks at
about 1.5 GB, see benchmarks/simulate.py).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import copy
import gc
import hashlib
import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import yaml

REPO = Path(__file__).resolve().parents[1]
# The code under test, frozen when this starts: every operator and the simulator here
# import this copy, so both run the same code however the tree changes meanwhile.
CODE = Path(tempfile.mkdtemp(prefix="kubesat-parity-code-"))
shutil.copytree(
    REPO / "operator" / "kubesat", CODE / "kubesat", ignore=shutil.ignore_patterns("__pycache__")
)
shutil.copytree(REPO / "crds", CODE / "crds")  # the CRDs of the same moment
atexit.register(shutil.rmtree, CODE, ignore_errors=True)
sys.path[:0] = [str(CODE), str(REPO)]
importlib.import_module("kubesat")  # first, from the copy: its submodules then load from it

from benchmarks.operator_scale import (  # noqa: E402
    _delta,
    _free_port,
    cpu_seconds,
    log,
    write_counts,
)
from kubernetes import client as k8s  # noqa: E402
from kubernetes import config  # noqa: E402

from kubesat.core.timebase import parse_utc  # noqa: E402
from kubesat.k8s.clock import SimClock  # noqa: E402
from kubesat.k8s.state_store import read_state  # noqa: E402
from kubesat.sim.outcome import REFUSED_BY_PDB, Outcome  # noqa: E402
from kubesat.sim.run import parse_scenario, prepare, simulate  # noqa: E402
from kubesat.spec import parse_constellation  # noqa: E402
from kubesat.telemetry import FleetSnapshot  # noqa: E402


def code_fingerprint(root: Path) -> str:
    """A hash of the kubesat sources under `root`."""
    digest = hashlib.sha256()
    for path in sorted((root / "kubesat").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


CODE_NOTE = (
    f"code: operator/kubesat as copied at {time.strftime('%H:%M:%S')} "
    f"(sha256 of its sources {code_fingerprint(CODE)}), run by both"
)
GROUP, VERSION = "kubesat.io", "v1alpha1"
EXAMPLES = tuple(
    REPO / "examples" / f"{name}.yaml"
    for name in ("sso-12", "starcloud-1", "suncatcher-81", "walker-1000")
)
SEARCH_SPEEDUPS = (60.0, 240.0, 960.0, 3840.0)
TARGET_RATIO = 0.97
READY_TIMEOUT_S = 900.0  # wall: walker-1000 registers 1000 Nodes in a few minutes
READY_FRACTION = 0.98  # Nodes Ready before measuring (a latch-up may hold one down)
CLEANUP_TIMEOUT_S = 300.0


# -- the cluster and the operator --------------------------------------------------------


@dataclass
class Cluster:
    """API clients of one control plane."""

    kubeconfig: str
    api: Any

    def __post_init__(self) -> None:
        self.core = k8s.CoreV1Api(self.api)
        self.custom = k8s.CustomObjectsApi(self.api)
        self.batch = k8s.BatchV1Api(self.api)
        self.policy = k8s.PolicyV1Api(self.api)

    def constellation(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            body = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, "constellations", name
            )
            return cast(dict[str, Any], body)
        except k8s.ApiException as error:
            if error.status == 404:
                return None
            raise

    def nodes(self, namespace: str, name: str) -> list[Any]:
        selector = f"kubesat.io/constellation={name},kubesat.io/namespace={namespace}"
        return list(self.core.list_node(label_selector=selector).items)


class Operator:
    """`python -m kubesat.cli operator` for one namespace, as operator_scale.py runs it."""

    def __init__(self, cluster: Cluster, namespace: str, log_path: Path) -> None:
        self.namespace = namespace
        self.log_path = log_path
        self.liveness_port = _free_port()
        self.metrics_port = _free_port()
        env = {
            **os.environ,
            "KUBECONFIG": cluster.kubeconfig,
            "PYTHONPATH": os.pathsep.join([str(CODE), os.environ.get("PYTHONPATH", "")]),
        }
        with log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "kubesat.cli",
                    "operator",
                    "--namespace",
                    namespace,
                    "--kubeconfig",
                    cluster.kubeconfig,
                    "--metrics-port",
                    str(self.metrics_port),
                    "--liveness-port",
                    str(self.liveness_port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
                start_new_session=True,
            )
        self.pid = self.process.pid

    def wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.liveness_port}/healthz"
        while time.monotonic() < deadline:
            self.check()
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
            time.sleep(0.25)
        raise RunError(f"the operator was not healthy after {timeout:.0f} s:\n{self.tail()}")

    def check(self) -> None:
        if self.process.poll() is not None:
            raise RunError(f"the operator exited ({self.process.returncode}):\n{self.tail()}")

    def peak_rss_mb(self) -> float:
        """VmHWM: the peak resident set of the operator so far."""
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        return float("nan")

    def stop(self, timeout: float = 90.0) -> None:
        """SIGTERM (Kopf stops the daemons, which persist their state), then SIGKILL."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log(f"the operator did not stop within {timeout:.0f} s: SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.process.wait()

    def tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def install_crds(api: Any) -> None:
    """The CRDs (of the copy), created or replaced, and Established; a refusal says why."""
    ext = k8s.ApiextensionsV1Api(api)
    names = []
    for path in sorted((CODE / "crds").glob("*.yaml")):
        body = yaml.safe_load(path.read_text())
        name = body["metadata"]["name"]
        names.append(name)
        try:
            ext.create_custom_resource_definition(body)
        except k8s.ApiException as error:
            if error.status != 409:
                try:
                    reason = json.loads(error.body)["message"]
                except (TypeError, ValueError, KeyError):
                    reason = error.body
                raise SystemExit(f"crds/{path.name}: the API server refused it: {reason}") from None
            current = ext.read_custom_resource_definition(name)
            body["metadata"]["resourceVersion"] = current.metadata.resource_version
            ext.replace_custom_resource_definition(name, body)
    for name in names:
        for _ in range(100):
            conditions = ext.read_custom_resource_definition(name).status.conditions or []
            if any(c.type == "Established" and c.status == "True" for c in conditions):
                break
            time.sleep(0.2)
        else:
            raise SystemExit(f"CRD {name} not Established after 20 s")


# -- one run of a file through the operator ---------------------------------------------


@dataclass
class OperatorRun:
    """What the operator did with one file, read from its final `status.state`."""

    example: str
    name: str
    namespace: str
    satellites: int
    speedup: float
    step_seconds: float
    documents: list[dict[str, Any]]  # the file as the operator got it (the simulator's too)
    steps: int = 0  # the final state's step k
    clock_steps_at_stop: int = 0  # the clock's step when SIGTERM was sent
    completed_gpu_seconds: float = 0.0
    counters: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0  # time.monotonic() when the Constellation was created
    created_cpu_s: float = 0.0  # the operator's CPU seconds then
    ready_after_s: float = float("nan")  # wall, from creation to the Nodes Ready
    window_s: float = 0.0  # wall seconds measured (Ready to stop)
    cpu_s: float = 0.0
    writes: dict[str, float] = field(default_factory=dict)
    max_lag_steps: int | None = None  # over the polls: the clock's step - the persisted one
    peak_rss_mb: float = float("nan")
    problems: dict[str, int] = field(default_factory=dict)  # log lines by level
    log_samples: list[str] = field(default_factory=list)  # the first distinct ones
    # at each poll: wall time, persisted status.state.step, the engine's step (metrics)
    samples: list[tuple[datetime, int | None, int | None]] = field(default_factory=list)
    max_engine_lag_steps: int | None = None
    source: str = "status.state"  # or "metrics" when no state could be persisted
    clock_estimated: bool = False  # no status.clock: its anchor estimated from the metrics
    log_path: Path | None = None

    @property
    def cpu_cores(self) -> float:
        return self.cpu_s / self.window_s if self.window_s > 0 else float("nan")

    @property
    def writes_per_s(self) -> float:
        return sum(self.writes.values()) / self.window_s if self.window_s > 0 else float("nan")

    @property
    def stop_lag_s(self) -> float:
        return (self.clock_steps_at_stop - self.steps) * self.step_seconds

    @property
    def evictions(self) -> int:
        return int(sum((self.counters.get("evictions") or {}).values()))

    @property
    def failures(self) -> int:
        return int(sum((self.counters.get("failures") or {}).values()))


def documents_of(path: Path, speedup: float | None) -> list[dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    if speedup is not None:
        for document in documents:
            if document.get("kind") == "Constellation":
                document["spec"]["clock"]["speedup"] = speedup
    return documents


def quantities_as_text(value: Any) -> Any:
    """The manifest with resource quantities as strings (`nvidia.com/gpu: 4` -> "4"), the
    form the Kubernetes client's models validate; the API server takes either."""
    if isinstance(value, list):
        return [quantities_as_text(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key in ("limits", "requests") and isinstance(item, dict):
            out[key] = {k: q if isinstance(q, str) else str(q) for k, q in item.items()}
        else:
            out[key] = quantities_as_text(item)
    return out


def clock_of(manifest: dict[str, Any], status: dict[str, Any]) -> SimClock | None:
    """The operator's simulated clock, from `status.clock` (None before its first persist)."""
    recorded = status.get("clock") or {}
    if not recorded.get("epochWallTime"):
        return None
    spec = manifest["spec"]["clock"]
    return SimClock(
        parse_utc(spec["start"]),
        parse_utc(recorded["epochWallTime"]),
        float(recorded.get("speedup") or spec["speedup"]),
        float(spec["stepSeconds"]),
    )


class RunError(Exception):
    """One example could not be measured (the others still are)."""


def engine_time(port: int, constellation: str) -> float | None:
    """The engine's simulated time (Unix seconds) from the operator's metrics: the snapshot
    of its last tick, at most 0.5 s of wall time old. None when not published yet."""
    url = f"http://127.0.0.1:{port}/metrics?name[]=kubesat_simulated_time_seconds"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
    except OSError:
        return None
    wanted = f'kubesat_simulated_time_seconds{{constellation="{constellation}"}} '
    for line in text.splitlines():
        if line.startswith(wanted):
            return float(line[len(wanted) :])
    return None


@dataclass
class FleetMetrics:
    """The totals of the operator's last FleetSnapshot, from its /metrics."""

    simulated_unix: float
    completed_gpu_seconds: float  # held at its highest value seen by a scrape (a counter)
    lost_gpu_seconds: float
    evictions: dict[str, int]
    failures: dict[str, int]
    jobs_completed: int


def fleet_metrics(port: int, constellation: str) -> FleetMetrics | None:
    """Every sample labelled with the constellation alone or with a reason."""
    names = (
        "kubesat_simulated_time_seconds",
        "kubesat_completed_gpu_seconds_total",
        "kubesat_lost_gpu_seconds_total",
        "kubesat_pod_evictions_total",
        "kubesat_pod_failures_total",
        "kubesat_jobs_completed_total",
    )
    query = "&".join(f"name[]={n}" for n in names)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics?{query}", timeout=30) as r:
            text = r.read().decode()
    except OSError:
        return None
    values: dict[str, float] = {}
    by_reason: dict[str, dict[str, int]] = {"evictions": {}, "failures": {}}
    for line in text.splitlines():
        if line.startswith("#") or f'constellation="{constellation}"' not in line:
            continue
        name = line.split("{", 1)[0]
        value = float(line.rsplit(" ", 1)[1])
        reason = re.search(r'reason="([^"]*)"', line)
        if name == "kubesat_pod_evictions_total" and reason:
            by_reason["evictions"][reason.group(1)] = int(value)
        elif name == "kubesat_pod_failures_total" and reason:
            by_reason["failures"][reason.group(1)] = int(value)
        else:
            values[name] = value
    if "kubesat_simulated_time_seconds" not in values:
        return None
    return FleetMetrics(
        simulated_unix=values["kubesat_simulated_time_seconds"],
        completed_gpu_seconds=values.get("kubesat_completed_gpu_seconds_total", 0.0),
        lost_gpu_seconds=values.get("kubesat_lost_gpu_seconds_total", 0.0),
        evictions={k: v for k, v in by_reason["evictions"].items() if v},
        failures={k: v for k, v in by_reason["failures"].items() if v},
        jobs_completed=int(values.get("kubesat_jobs_completed_total", 0.0)),
    )


def state_step(status: dict[str, Any]) -> int | None:
    ref = status.get("stateRef") or status.get("state") or {}
    return int(ref["step"]) if "step" in ref else None


def start_run(
    cluster: Cluster, path: Path, speedup: float | None, tag: str = ""
) -> tuple[OperatorRun, Operator, dict[str, Any]]:
    """A fresh namespace, the operator, then the file's objects: Jobs and budgets first."""
    documents = documents_of(path, speedup)
    kept = copy.deepcopy(documents)
    manifest = next(d for d in documents if d.get("kind") == "Constellation")
    spec = parse_constellation(manifest)
    name = manifest["metadata"]["name"]
    namespace = f"kubesat-parity-{name}{tag}-{uuid.uuid4().hex[:6]}"
    cluster.core.create_namespace(
        k8s.V1Namespace(
            metadata=k8s.V1ObjectMeta(name=namespace, labels={"kubesat.io/benchmark": "parity"})
        )
    )
    run = OperatorRun(
        example=path.stem,
        name=name,
        namespace=namespace,
        satellites=len(spec.satellites),
        speedup=spec.clock.speedup,
        step_seconds=spec.clock.step_seconds,
        documents=kept,
    )
    run.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"{namespace}.log"
    operator = Operator(cluster, namespace, run.log_path)
    try:
        operator.wait_healthy()
        for document in documents:
            # plain manifests: the client takes them as well as its models
            body: Any = {**document, "metadata": {**document["metadata"], "namespace": namespace}}
            kind = document.get("kind")
            if kind == "Job":
                cluster.batch.create_namespaced_job(namespace, quantities_as_text(body))
            elif kind == "PodDisruptionBudget":
                cluster.policy.create_namespaced_pod_disruption_budget(namespace, body)
            elif kind != "Constellation":
                raise RunError(f"{path}: a {kind} is neither a Constellation, Job nor budget")
        time.sleep(1.0)  # the operator's Job and budget indexes see them before the fleet starts
        run.created_cpu_s, run.created_at = cpu_seconds(operator.pid), time.monotonic()
        manifest = {**manifest, "metadata": {**manifest["metadata"], "namespace": namespace}}
        cluster.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "constellations", manifest
        )
    except BaseException:
        operator.stop()
        remove(cluster, run)
        raise
    return run, operator, manifest


def wait_ready(cluster: Cluster, run: OperatorRun, operator: Operator, started: float) -> None:
    """Until every Satellite has a Node and nearly all are Ready."""
    need = run.satellites - int(run.satellites * (1.0 - READY_FRACTION))
    while True:
        nodes = cluster.nodes(run.namespace, run.name)
        ready = sum(
            1
            for n in nodes
            for c in n.status.conditions or []
            if c.type == "Ready" and c.status == "True"
        )
        if len(nodes) == run.satellites and ready >= need:
            run.ready_after_s = time.monotonic() - started
            return
        operator.check()
        if time.monotonic() - started > READY_TIMEOUT_S:
            raise RunError(f"{ready}/{run.satellites} Nodes Ready after {READY_TIMEOUT_S:.0f} s")
        time.sleep(2.0)


def finish(
    cluster: Cluster,
    run: OperatorRun,
    operator: Operator,
    manifest: dict[str, Any],
    keep_state: Path | None = None,
) -> None:
    """SIGTERM the operator; read its final state; the lags against its clock.

    When no state was persisted (or only an older one), the totals come from the operator's
    metrics scraped just before the stop, and the clock's anchor is estimated."""
    start_unix = parse_utc(manifest["spec"]["clock"]["start"]).timestamp()
    final = fleet_metrics(operator.metrics_port, run.name)
    final_step = None
    if final is not None:
        final_step = round((final.simulated_unix - start_unix) / run.step_seconds)
        run.samples.append((datetime.now(UTC), None, final_step))
    run.peak_rss_mb = operator.peak_rss_mb()
    signalled = datetime.now(UTC)
    operator.stop()
    # Kopf stops its daemons some time after the signal (0.1-0.6 s here), and the loop
    # ticks on until then: the moment its last state holds is when the daemon ended
    stopped = daemon_end(run.log_path, signalled) or signalled
    status = (cluster.constellation(run.namespace, run.name) or {}).get("status") or {}
    state = read_state(cluster.core, run.namespace, status) if status else {}
    if keep_state is not None and state:
        path = keep_state / f"{run.namespace}.state.json"
        path.write_text(json.dumps(state))
        log(f"{run.example}: final status.state written to {path}")
    clock = clock_of(manifest, status)
    if "step" in state and (final_step is None or int(state["step"]) >= final_step):
        run.steps = int(state["step"])
        run.completed_gpu_seconds = float(
            sum(sum(job.get("progress") or []) for job in (state.get("jobs") or {}).values())
        )
        run.counters = dict(state.get("counters") or {})
    elif final is not None and final_step is not None:
        run.source = "metrics"
        run.steps = final_step
        run.completed_gpu_seconds = final.completed_gpu_seconds
        run.counters = {
            "lostGpuSeconds": final.lost_gpu_seconds,
            "evictions": final.evictions,
            "failures": final.failures,
            "jobsCompleted": final.jobs_completed,
        }
    else:
        raise RunError(f"no state in the Constellation's status after the stop ({run.log_path})")
    if clock is None:
        # The engine never runs ahead of the clock, so the clock's anchor is no later than
        # wall - engine offset / speedup at any sample: the smallest of these bounds is the
        # latest anchor they allow (the lags below are then lower bounds).
        bounds = [
            wall - timedelta(seconds=step * run.step_seconds / run.speedup)
            for wall, _, step in run.samples
            if step is not None
        ]
        if bounds:
            start = parse_utc(manifest["spec"]["clock"]["start"])
            clock = SimClock(start, min(bounds), run.speedup, run.step_seconds)
            run.clock_estimated = True
    if clock is not None:
        run.clock_steps_at_stop = clock.step_index(stopped)
        persisted = [clock.step_index(t) - k for t, k, _ in run.samples if k is not None]
        engine = [clock.step_index(t) - k for t, _, k in run.samples if k is not None]
        run.max_lag_steps = max(persisted) if persisted else None
        run.max_engine_lag_steps = max(engine) if engine else None
    else:
        run.clock_steps_at_stop = run.steps
    if run.log_path is not None and run.log_path.exists():
        for line in run.log_path.read_text(errors="replace").splitlines():
            level = "warning" if "[WARNING" in line else "error" if "[ERROR" in line else None
            if level is None:
                continue
            run.problems[level] = run.problems.get(level, 0) + 1
            # "[time] logger [LEVEL ] message": the logger and the start of the message
            text = line.split("] ", 1)[-1]
            text = " ".join(text.replace("[", " ").replace("]", " ").split())[:110]
            if text not in run.log_samples and len(run.log_samples) < 5:
                run.log_samples.append(text)


def daemon_end(log_path: Path | None, after: datetime) -> datetime | None:
    """When the operator's log says the Constellation's daemon ended (after its final
    persist), if it says so after `after`. Kopf logs local time to the millisecond."""
    if log_path is None or not log_path.exists():
        return None
    found = None
    for line in log_path.read_text(errors="replace").splitlines():
        if "Daemon 'physics'" in line and line.startswith("["):
            stamp = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f").astimezone(UTC)
            if stamp >= after - timedelta(seconds=1):
                found = stamp
    return found


def remove(cluster: Cluster, run: OperatorRun) -> None:
    """Delete the Constellation with an operator running (its cleanup deletes the Nodes),
    then the namespace. The Jobs and pods go first (no kubelet ends the pods: they are
    deleted at once), so the operator, started after the delete, only cleans up."""
    with contextlib.suppress(k8s.ApiException):
        cluster.batch.delete_collection_namespaced_job(
            run.namespace, propagation_policy="Background"
        )
    with contextlib.suppress(k8s.ApiException):
        cluster.core.delete_collection_namespaced_pod(run.namespace, grace_period_seconds=0)
    with contextlib.suppress(k8s.ApiException):
        cluster.custom.delete_namespaced_custom_object(
            GROUP, VERSION, run.namespace, "constellations", run.name
        )
    assert run.log_path is not None
    operator = Operator(cluster, run.namespace, run.log_path)
    deadline = time.monotonic() + CLEANUP_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            gone = cluster.constellation(run.namespace, run.name) is None
            if gone and not cluster.nodes(run.namespace, run.name):
                break
            if operator.process.poll() is not None:
                break
            time.sleep(1.0)
        else:
            log(f"{run.example}: the Constellation or its Nodes outlived {CLEANUP_TIMEOUT_S:.0f} s")
    finally:
        operator.stop()
    for node in cluster.nodes(run.namespace, run.name):  # what a failed cleanup left
        with contextlib.suppress(k8s.ApiException):
            cluster.core.delete_node(node.metadata.name)
    if cluster.constellation(run.namespace, run.name) is not None:
        with contextlib.suppress(k8s.ApiException):
            cluster.custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                run.namespace,
                "constellations",
                run.name,
                {"metadata": {"finalizers": None}},
            )
    # no kubelet ends these pods: delete them now rather than wait for the pod GC
    with contextlib.suppress(k8s.ApiException):
        cluster.core.delete_collection_namespaced_pod(run.namespace, grace_period_seconds=0)
    with contextlib.suppress(k8s.ApiException):
        cluster.core.delete_namespace(run.namespace)
    deadline = time.monotonic() + CLEANUP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            cluster.core.read_namespace(run.namespace)
        except k8s.ApiException as error:
            if error.status == 404:
                return
            raise
        time.sleep(2.0)
    log(f"{run.namespace} still terminating after {CLEANUP_TIMEOUT_S:.0f} s; going on")


def run_operator(
    cluster: Cluster,
    path: Path,
    hours: float,
    speedup: float | None,
    poll: float,
    keep_state: Path | None = None,
) -> OperatorRun:
    """Steps 1-3: the file through the operator until it reaches `hours`."""
    started = time.monotonic()
    run, operator, manifest = start_run(cluster, path, speedup)
    try:
        log(
            f"{run.example}: {run.satellites} satellites at {run.speedup:g}x in {run.namespace}; "
            "waiting for the Nodes"
        )
        wait_ready(cluster, run, operator, started)
        log(f"{run.example}: Nodes Ready after {run.ready_after_s:.0f} s; measuring")
        cpu0, wall0, writes0 = (
            cpu_seconds(operator.pid),
            time.monotonic(),
            write_counts(cluster.kubeconfig),
        )
        target = round(hours * 3600.0 / run.step_seconds)
        deadline = wall0 + 2.0 * hours * 3600.0 / run.speedup + 600.0
        start_unix = parse_utc(manifest["spec"]["clock"]["start"]).timestamp()
        last_report = wall0
        while True:
            operator.check()
            status = (cluster.constellation(run.namespace, run.name) or {}).get("status") or {}
            step = state_step(status)
            simulated = engine_time(operator.metrics_port, run.name)
            engine_step = (
                None if simulated is None else round((simulated - start_unix) / run.step_seconds)
            )
            run.samples.append((datetime.now(UTC), step, engine_step))
            reached = max(step or 0, engine_step or 0)
            if reached >= target:
                break
            if time.monotonic() - last_report >= 60.0:
                last_report = time.monotonic()
                log(
                    f"{run.example}: step {reached}/{target} (engine {engine_step}, "
                    f"persisted {step})"
                )
            if time.monotonic() > deadline:
                raise RunError(
                    f"the operator reached step {reached} of {target} "
                    f"(persisted: {step}) in {time.monotonic() - wall0:.0f} s"
                )
            time.sleep(poll)
        cpu1, wall1, writes1 = (
            cpu_seconds(operator.pid),
            time.monotonic(),
            write_counts(cluster.kubeconfig),
        )
        run.cpu_s, run.window_s = cpu1 - cpu0, wall1 - wall0
        run.writes = _delta(writes1, writes0)
        finish(cluster, run, operator, manifest, keep_state)
        log(
            f"{run.example}: stopped at step {run.steps} "
            f"({run.steps * run.step_seconds / 3600:.2f} h), "
            f"{run.completed_gpu_seconds:.0f} GPU-s completed"
        )
    finally:
        operator.stop()
        remove(cluster, run)
    return run


# -- the simulator -----------------------------------------------------------------------


def run_simulator(run: OperatorRun, steps: int, curve: list[float] | None = None) -> Outcome:
    """Step 4: the same file through the simulator for exactly `steps` steps. With `curve`,
    also the completed GPU-seconds after each step (curve[k - 1] after k steps).

    The documents are those the operator was given (as `load_scenario` would parse the file,
    read when the operator's run began), so an edit of the file in between changes nothing.
    """
    scenario = parse_scenario(run.documents, run.example)
    environment = prepare(scenario, steps * scenario.constellation.clock.step_seconds)

    def record(snapshot: FleetSnapshot) -> None:
        assert curve is not None
        curve.append(snapshot.completed_gpu_seconds)

    outcome = simulate(
        scenario,
        environment,
        scenario.constellation.policy,
        on_snapshot=record if curve is not None else None,
        snapshot_every=1,
    )
    outcome.timeline.clear()
    del environment
    gc.collect()
    return outcome


def reachable(outcome: Outcome) -> float:
    """The goodput denominator of `Outcome.goodput_ratio`: the bound, or the demand if less."""
    return min(outcome.energy_bound_gpu_seconds, outcome.demand_gpu_seconds)


def ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


# -- reports -----------------------------------------------------------------------------


def steps_as_seconds(steps: int | None, run: OperatorRun) -> str:
    return "-" if steps is None else f"{steps * run.step_seconds:.0f}"


def report(rows: list[tuple[OperatorRun, Outcome, float]], failed: list[tuple[Path, str]]) -> None:
    """The table (one row per example), then each example's details."""
    print()
    print(
        "parity: the operator on the control plane vs. the simulator for the same steps "
        f"(target ratio >= {TARGET_RATIO})"
    )
    print(CODE_NOTE)
    print(
        f"{'example':<14}{'speedup':>8}{'sim h':>7}{'goodput':>9}{'goodput':>9}{'ratio':>8}"
        f"{'lost GPU-s':>19}{'evictions':>12}{'failures':>10}{'CPU':>7}{'writes':>8}"
        f"{'max lag':>9}{'engine':>8}{'stop':>7}"
    )
    print(
        f"{'':<14}{'':>8}{'':>7}{'op':>9}{'sim':>9}{'op/sim':>8}{'op / sim':>19}"
        f"{'op / sim':>12}{'op / sim':>10}{'cores':>7}{'/s':>8}{'sim s':>9}{'lag s':>8}"
        f"{'lag s':>7}"
    )
    notes = []
    for run, sim, sim_completed in rows:
        denominator = reachable(sim)
        sim_evictions = sum(v for k, v in sim.evictions.items() if k != REFUSED_BY_PDB)
        mark = ">=" if run.clock_estimated else ""
        example = run.example + ("*" if run.source == "metrics" else "")
        print(
            f"{example:<14}{run.speedup:>8g}{run.steps * run.step_seconds / 3600:>7.2f}"
            f"{ratio(run.completed_gpu_seconds, denominator):>9.3f}"
            f"{ratio(sim_completed, denominator):>9.3f}"
            f"{ratio(run.completed_gpu_seconds, sim_completed):>8.3f}"
            f"{float(run.counters.get('lostGpuSeconds', 0.0)):>10.0f} /"
            f"{sim.lost_gpu_seconds:>7.0f}"
            f"{run.evictions:>6d} /{sim_evictions:>4d}"
            f"{run.failures:>5d} /{sum(sim.pod_failures.values()):>3d}"
            f"{run.cpu_cores:>7.2f}{run.writes_per_s:>8.1f}"
            f"{steps_as_seconds(run.max_lag_steps, run):>9}"
            f"{mark + steps_as_seconds(run.max_engine_lag_steps, run):>8}"
            f"{mark + f'{run.stop_lag_s:.0f}':>7}"
        )
        if run.source == "metrics":
            notes.append(
                f"* {run.example}: no status.state was persisted, so its figures come from the "
                "operator's metrics just before the stop (completed GPU-seconds as a counter "
                "held at its highest scraped value, the simulator's taken the same way)"
            )
        if run.clock_estimated:
            notes.append(
                f">= {run.example}: no status.clock either: lags against a clock anchored as "
                "late as the engine's progress allows (lower bounds)"
            )
    for path, reason in failed:
        print(f"{path.stem:<14}not measured: {reason}")
    for note in notes:
        print(note)
    print()
    for run, sim, sim_completed in rows:
        verdict = (
            "ok" if ratio(run.completed_gpu_seconds, sim_completed) >= TARGET_RATIO else "BELOW"
        )
        print(
            f"{run.example}: {run.steps} steps of {run.step_seconds:g} s, "
            f"{run.satellites} satellites; completed {run.completed_gpu_seconds:.0f} vs "
            f"{sim_completed:.0f} GPU-s ({verdict} target); denominator "
            f"{reachable(sim):.0f} GPU-s (energy bound {sim.energy_bound_gpu_seconds:.0f}, "
            f"demand {sim.demand_gpu_seconds:.0f})"
        )
        op_by_reason = dict(run.counters.get("evictions") or {})
        sim_by_reason = {k: v for k, v in sim.evictions.items() if k != REFUSED_BY_PDB}
        refused = run.counters.get("refusedEvictions")
        print(
            f"  evictions by reason op {op_by_reason} sim {sim_by_reason}; refused by a "
            f"PodDisruptionBudget op {'?' if refused is None else int(refused)} "
            f"sim {sim.evictions.get(REFUSED_BY_PDB, 0)}"
        )
        print(
            f"  failures by reason op {dict(run.counters.get('failures') or {})} "
            f"sim {sim.pod_failures}; Jobs completed op "
            f"{int(run.counters.get('jobsCompleted', 0))} sim {sim.jobs_completed}, "
            f"failed op {run.counters.get('jobsFailed', '?')} sim {sim.jobs_failed}"
        )
        busiest = sorted(run.writes.items(), key=lambda kv: -kv[1])[:5]
        writes = ", ".join(f"{k} {v / run.window_s:.1f}" for k, v in busiest if run.window_s)
        print(
            f"  operator: Nodes Ready after {run.ready_after_s:.0f} s; measured "
            f"{run.window_s:.0f} s wall: CPU {run.cpu_s:.0f} s = {run.cpu_cores:.2f} cores, "
            f"peak RSS {run.peak_rss_mb:.0f} MB; API writes/s by resource: {writes}"
        )
        persisted = [step for _, step, _ in run.samples if step is not None]
        print(
            f"  status.state while running: seen at {len(persisted)} of {len(run.samples)} polls"
            + (f" (steps {persisted[0]} to {persisted[-1]})" if persisted else "")
        )
        print_log_summary(run, "  operator log")


def print_log_summary(run: OperatorRun, title: str) -> None:
    counts = ", ".join(f"{v} {k} lines" for k, v in sorted(run.problems.items())) or "clean"
    print(f"{title} ({counts}): {run.log_path}")
    for text in run.log_samples:
        print(f"      {text}")


def stop_when_clock_says(
    cluster: Cluster, path: Path, hours: float, speedup: float, keep_state: Path | None = None
) -> OperatorRun:
    """The file through the operator at `speedup`, stopped when its clock says `hours`."""
    started = time.monotonic()
    run, operator, manifest = start_run(cluster, path, speedup, tag=f"-x{speedup:g}")
    try:
        log(f"{run.example} at {speedup:g}x in {run.namespace}: waiting for the clock")
        clock = None
        while clock is None:
            operator.check()
            if time.monotonic() - started > READY_TIMEOUT_S:
                raise RunError(f"no status.clock after {READY_TIMEOUT_S:.0f} s")
            status = (cluster.constellation(run.namespace, run.name) or {}).get("status")
            clock = clock_of(manifest, status or {})
            time.sleep(0.1)
        moment = clock.wall_at(hours * 3600.0)
        wait = (moment - datetime.now(UTC)).total_seconds()
        log(f"{run.example} at {speedup:g}x: the clock says {hours:g} h in {wait:.1f} s")
        while (wait := (moment - datetime.now(UTC)).total_seconds()) > 0:
            operator.check()
            time.sleep(min(wait, 1.0))
        run.cpu_s = cpu_seconds(operator.pid) - run.created_cpu_s
        run.window_s = time.monotonic() - run.created_at
        finish(cluster, run, operator, manifest, keep_state)
    finally:
        operator.stop()
        remove(cluster, run)
    return run


def speedup_search(
    cluster: Cluster,
    path: Path,
    hours: float,
    speedups: tuple[float, ...],
    keep_state: Path | None = None,
) -> None:
    """The operator stopped when its clock says `hours`, against the simulator at that
    moment, at each speedup."""
    rows, failed = [], []
    for speedup in speedups:
        try:
            run = stop_when_clock_says(cluster, path, hours, speedup, keep_state)
        except RunError as error:
            log(f"{path.stem} at {speedup:g}x: not measured: {error}")
            failed.append((speedup, str(error)))
            continue
        at = run.clock_steps_at_stop
        curve: list[float] = []
        run_simulator(run, max(at, run.steps), curve)

        def completed(k: int, curve: list[float] = curve) -> float:
            return curve[k - 1] if k > 0 else 0.0

        rows.append((run, completed(at), completed(run.steps)))
        log(
            f"{run.example} at {speedup:g}x: step {run.steps} when the clock said step {at}; "
            f"{run.completed_gpu_seconds:.0f} vs {completed(at):.0f} GPU-s"
        )
    print()
    print(
        f"speedup search: {path.stem}, stopped when the operator's clock says {hours:g} h; "
        "ratio at T = operator completed / simulator completed at that clock time"
    )
    print(CODE_NOTE)
    print(
        f"{'speedup':>8}{'wall s':>8}{'T':>7}{'clock':>7}{'op':>7}{'lag':>7}{'op GPU-s':>10}"
        f"{'sim GPU-s':>11}{'ratio':>7}{'sim GPU-s':>11}{'ratio':>9}{'CPU':>7}"
    )
    print(
        f"{'':>8}{'':>8}{'sim h':>7}{'step':>7}{'step':>7}{'sim s':>7}{'':>10}{'at T':>11}"
        f"{'at T':>7}{'at op step':>11}{'eq steps':>9}{'cores':>7}"
    )
    best = None
    for run, at_clock, at_steps in rows:
        r = ratio(run.completed_gpu_seconds, at_clock)
        if r >= TARGET_RATIO:
            best = run.speedup if best is None else max(best, run.speedup)
        print(
            f"{run.speedup:>8g}{run.window_s:>8.1f}"
            f"{run.clock_steps_at_stop * run.step_seconds / 3600:>7.2f}"
            f"{run.clock_steps_at_stop:>7d}{run.steps:>7d}"
            f"{run.stop_lag_s:>7.0f}{run.completed_gpu_seconds:>10.0f}{at_clock:>11.0f}"
            f"{r:>7.3f}{at_steps:>11.0f}{ratio(run.completed_gpu_seconds, at_steps):>9.3f}"
            f"{run.cpu_cores:>7.2f}"
        )
    for speedup, reason in failed:
        print(f"{speedup:>8g}  not measured: {reason}")
    print(
        f"largest speedup with ratio at T >= {TARGET_RATIO}: "
        + (f"{best:g}x" if best is not None else "none of those tried")
    )
    print(
        "  wall s and CPU: from the Constellation's creation to the stop. T: the clock at the "
        f"stop (later than {hours:g} h when the operator's start-up alone took longer)"
    )
    for run, _, _ in rows:
        print_log_summary(run, f"  {run.speedup:g}x: operator log")


# -- main --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--examples", nargs="+", type=Path, default=None, help="example files (default: all four)"
    )
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours (24)")
    parser.add_argument(
        "--speedup", type=float, default=None, help="override spec.clock.speedup of the files"
    )
    parser.add_argument("--poll", type=float, default=3.0, help="wall seconds between polls (3)")
    parser.add_argument(
        "--speedup-search",
        action="store_true",
        help="instead: ratio at the same wall moment at several speedups (sso-12)",
    )
    parser.add_argument(
        "--search-hours", type=float, default=2.0, help="simulated hours per speedup (2)"
    )
    parser.add_argument(
        "--search-speedups",
        type=lambda text: tuple(float(v) for v in text.split(",")),
        default=SEARCH_SPEEDUPS,
        help="comma-separated (60,240,960,3840)",
    )
    parser.add_argument(
        "--keep-state", type=Path, default=None, metavar="DIR", help="save each final state here"
    )
    args = parser.parse_args(argv)
    if args.keep_state is not None:
        args.keep_state.mkdir(parents=True, exist_ok=True)
    examples = [p.resolve() for p in args.examples] if args.examples else list(EXAMPLES)
    if args.speedup_search and not args.examples:
        examples = [EXAMPLES[0]]
    for path in examples:
        if not path.is_file():
            parser.error(f"--examples: no such file: {path}")
    # the files as they are now, beside the code copied at the start
    for i, path in enumerate(list(examples)):
        (CODE / "examples" / str(i)).mkdir(parents=True)
        examples[i] = Path(shutil.copy(path, CODE / "examples" / str(i) / path.name))

    with contextlib.ExitStack() as stack:
        kubeconfig = os.environ.get("KUBESAT_KUBECONFIG")
        if kubeconfig is None:
            from tests.support.controlplane import LocalControlPlane, find_bin_dir

            log("starting the local control plane")
            cp = stack.enter_context(LocalControlPlane(find_bin_dir(build=False)))
            kubeconfig = str(cp.kubeconfig_path)
            log(f"control plane ready in {cp.startup_seconds:.1f} s")
        api = config.new_client_from_config(config_file=kubeconfig)
        stack.callback(api.close)
        cluster = Cluster(kubeconfig, api)
        install_crds(api)

        if args.speedup_search:
            speedup_search(
                cluster, examples[0], args.search_hours, args.search_speedups, args.keep_state
            )
            return 0
        rows, failed = [], []
        for path in examples:
            try:
                run = run_operator(
                    cluster, path, args.hours, args.speedup, args.poll, args.keep_state
                )
            except RunError as error:
                log(f"{path.stem}: not measured: {error}")
                failed.append((path, str(error)))
                continue
            log(f"{run.example}: the simulator, {run.steps} steps")
            if run.source == "status.state":
                outcome = run_simulator(run, run.steps)
                rows.append((run, outcome, outcome.completed_gpu_seconds))
            else:
                # the metrics' completed GPU-seconds is a counter held at the highest value
                # a scrape saw: the simulator's figure is taken the same way
                curve: list[float] = []
                outcome = run_simulator(run, run.steps, curve)
                seen = [k for _, _, k in run.samples if k is not None and 0 < k <= run.steps]
                rows.append((run, outcome, max(curve[k - 1] for k in seen)))
            gc.collect()
        report(rows, failed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
