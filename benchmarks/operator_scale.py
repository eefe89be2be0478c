"""The operator at scale: 1000 satellite nodes on the local control plane.

Starts the local control plane (or uses $KUBESAT_KUBECONFIG), the operator as a
subprocess, and the 1000-satellite Walker shell of examples/walker-1000.yaml (radiation
on, as in the example). Once all nodes are Ready it measures, over a window of wall time:

- the operator's CPU (user + system time of its process) per wall second, and per tick;
- the API writes per second the API server served (apiserver_request_total, write verbs),
  by resource, against the node-lease baseline of 1000 kubelets (one renewal per node
  every 10 s: 100 writes/s) and per satellite per simulated hour;
- the lag between a satellite's eclipse entry (penumbra entry, from the core's forecast
  refined to 1 ms) and a client seeing its Node's `Sunlit` condition turn False (a watch on
  the nodes), in wall and simulated seconds, against the tick (one simulation step).

    python benchmarks/operator_scale.py [--speedup 60] [--window 120] [--satellites 1000]

Needs the control-plane binaries (`make controlplane`). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "operator"), str(REPO)]

from kubernetes import client as k8s  # noqa: E402
from kubernetes import config, watch  # noqa: E402

from kubesat.core.forecast import eclipse_intervals  # noqa: E402
from kubesat.core.geometry import Sky  # noqa: E402
from kubesat.core.orbits import Fleet  # noqa: E402
from kubesat.core.timebase import TimeGrid, parse_utc  # noqa: E402
from kubesat.k8s.satellites import satellite_names  # noqa: E402
from kubesat.spec import parse_constellation  # noqa: E402

GROUP, VERSION = "kubesat.io", "v1alpha1"
NAMESPACE = "kubesat-bench"
KUBELET_LEASE_PERIOD_S = 10.0  # a kubelet renews its node lease every 10 s
WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE", "CREATE", "UPDATE", "APPLY")


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def write_counts(kubeconfig: str) -> dict[str, float]:
    """apiserver_request_total of write verbs, by resource (from the API server's /metrics)."""
    document = yaml.safe_load(Path(kubeconfig).read_text())
    context = next(c for c in document["contexts"] if c["name"] == document["current-context"])
    cluster = next(c for c in document["clusters"] if c["name"] == context["context"]["cluster"])
    user = next(u for u in document["users"] if u["name"] == context["context"]["user"])
    tls = ssl.create_default_context(cafile=cluster["cluster"].get("certificate-authority"))
    request = urllib.request.Request(f"{cluster['cluster']['server']}/metrics")
    request.add_header("Authorization", f"Bearer {user['user']['token']}")
    with urllib.request.urlopen(request, timeout=30, context=tls) as response:
        text = response.read().decode()
    out: dict[str, float] = {}
    pattern = re.compile(r"^apiserver_request_total\{([^}]*)\} ([0-9.e+]+)$")
    for line in text.splitlines():
        match = pattern.match(line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if labels.get("verb") not in WRITE_VERBS:
            continue
        resource = labels.get("resource", "")
        if labels.get("subresource"):
            resource += "/" + labels["subresource"]
        out[resource] = out.get(resource, 0.0) + float(match.group(2))
    return out


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def histogram(text: str, name: str, labels: str) -> tuple[float, float]:
    """(count, sum) of a histogram series in Prometheus text."""
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith(f"{name}_sum{{") and labels in line:
            total = float(line.rsplit(" ", 1)[1])
        elif line.startswith(f"{name}_count{{") and labels in line:
            count = float(line.rsplit(" ", 1)[1])
    return count, total


class SunlitWatcher(threading.Thread):
    """Records when a client first sees each node's Sunlit condition turn False."""

    def __init__(self, api: Any, selector: str) -> None:
        super().__init__(daemon=True)
        self.core = k8s.CoreV1Api(api)
        self.selector = selector
        self.state: dict[str, str] = {}
        self.entries: dict[str, list[datetime]] = {}
        self.stop_flag = threading.Event()
        self.watcher = watch.Watch()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            try:
                for event in self.watcher.stream(
                    self.core.list_node, label_selector=self.selector, timeout_seconds=60
                ):
                    seen = datetime.now(UTC)
                    node = event["object"]
                    sunlit = next(
                        (c.status for c in node.status.conditions or [] if c.type == "Sunlit"), None
                    )
                    name = node.metadata.name
                    before = self.state.get(name)
                    if sunlit is not None:
                        self.state[name] = sunlit
                    if before == "True" and sunlit == "False":
                        self.entries.setdefault(name, []).append(seen)
                    if self.stop_flag.is_set():
                        break
            except Exception as error:  # a dropped watch: start again
                if not self.stop_flag.is_set():
                    log(f"watch restarted: {error}")
                    time.sleep(1)

    def stop(self) -> None:
        self.stop_flag.set()
        self.watcher.stop()


def install_crds(api: Any) -> None:
    ext = k8s.ApiextensionsV1Api(api)
    for path in sorted((REPO / "crds").glob("*.yaml")):
        body = yaml.safe_load(path.read_text())
        with contextlib.suppress(k8s.ApiException):
            ext.create_custom_resource_definition(body)
    for path in sorted((REPO / "crds").glob("*.yaml")):
        name = yaml.safe_load(path.read_text())["metadata"]["name"]
        for _ in range(100):
            conditions = ext.read_custom_resource_definition(name).status.conditions or []
            if any(c.type == "Established" and c.status == "True" for c in conditions):
                break
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speedup", type=float, default=60.0)
    parser.add_argument("--window", type=float, default=120.0, help="wall seconds measured")
    parser.add_argument(
        "--satellites",
        type=int,
        default=1000,
        choices=(1000,),
        help="the example's shell (40 planes of 25)",
    )
    parser.add_argument("--keep-logs", type=Path, default=None, help="copy the operator log here")
    args = parser.parse_args(argv)

    manifest = next(
        d
        for d in yaml.safe_load_all((REPO / "examples" / "walker-1000.yaml").read_text())
        if d["kind"] == "Constellation"
    )
    manifest["metadata"] = {"name": "walker-1000", "namespace": NAMESPACE}
    manifest["spec"]["clock"]["speedup"] = args.speedup
    spec = parse_constellation(manifest)
    step = spec.clock.step_seconds

    with contextlib.ExitStack() as stack:
        kubeconfig = os.environ.get("KUBESAT_KUBECONFIG")
        if kubeconfig is None:
            from tests.support.controlplane import LocalControlPlane

            log("starting the local control plane")
            cp = stack.enter_context(LocalControlPlane())
            kubeconfig = str(cp.kubeconfig_path)
            log(f"control plane ready in {cp.startup_seconds:.1f} s")
        api = config.new_client_from_config(config_file=kubeconfig)
        stack.callback(api.close)
        core, custom = k8s.CoreV1Api(api), k8s.CustomObjectsApi(api)
        install_crds(api)
        with contextlib.suppress(k8s.ApiException):
            core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=NAMESPACE)))

        operator, metrics_port, log_path = start_operator(
            stack, kubeconfig, NAMESPACE, "kubesat-operator"
        )
        selector = f"kubesat.io/constellation=walker-1000,kubesat.io/namespace={NAMESPACE}"

        def cleanup() -> None:
            with contextlib.suppress(k8s.ApiException):
                custom.delete_namespaced_custom_object(
                    GROUP, VERSION, NAMESPACE, "constellations", "walker-1000"
                )
            for _ in range(120):
                if not core.list_node(label_selector=selector, limit=1).items:
                    break
                time.sleep(1)

        stack.callback(cleanup)
        t0 = time.monotonic()
        writes0 = write_counts(kubeconfig)
        custom.create_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, "constellations", manifest
        )
        log("Constellation walker-1000 created; waiting for 1000 Ready nodes")
        while True:
            nodes = core.list_node(label_selector=selector).items
            ready = sum(
                1
                for n in nodes
                for c in n.status.conditions or []
                if c.type == "Ready" and c.status == "True"
            )
            satellites = (
                len(
                    custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "satellites")[
                        "items"
                    ]
                )
                if ready == 1000
                else 0
            )
            if ready == 1000 and satellites == 1000:
                break
            if operator.poll() is not None:
                raise SystemExit(f"the operator exited:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() - t0 > 900:
                raise SystemExit(f"only {ready}/1000 nodes Ready after 900 s")
            time.sleep(2)
        registration = time.monotonic() - t0
        writes_reg = _delta(write_counts(kubeconfig), writes0)
        log(
            f"1000 Satellites and Ready nodes after {registration:.1f} s "
            f"({sum(writes_reg.values()):.0f} writes)"
        )
        time.sleep(15)  # let the first Satellite statuses and leases settle

        status = custom.get_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, "constellations", "walker-1000"
        )["status"]
        epoch_wall = parse_utc(status["clock"]["epochWallTime"])
        speedup = float(status["clock"]["speedup"])
        watcher = SunlitWatcher(api, selector)
        watcher.start()
        time.sleep(3)
        text0 = scrape(metrics_port)
        cpu0, wall0, writes_start = (
            cpu_seconds(operator.pid),
            time.monotonic(),
            write_counts(kubeconfig),
        )
        window_start = datetime.now(UTC)
        log(
            f"measuring for {args.window:.0f} s of wall time "
            f"({args.window * speedup / 3600:.2f} simulated hours)"
        )
        time.sleep(args.window)
        cpu1, wall1, writes_end = (
            cpu_seconds(operator.pid),
            time.monotonic(),
            write_counts(kubeconfig),
        )
        window_end = datetime.now(UTC)
        text1 = scrape(metrics_port)
        watcher.stop()

    # -- eclipse entries forecast by the core, over the window -----------------------
    offset0 = (window_start - epoch_wall).total_seconds() * speedup
    offset1 = (window_end - epoch_wall).total_seconds() * speedup
    grid = TimeGrid(spec.clock.start_utc, np.arange(offset0 - 600.0, offset1 + 600.0, 10.0))
    shadows, _ = eclipse_intervals(Fleet(spec.satellites), Sky.on(grid))
    names = satellite_names("walker-1000", spec.satellites)
    lags_wall, lags_sim = [], []
    for i, name in enumerate(names):
        seen = watcher.entries.get(name, [])
        for start, _end in shadows.of(i):
            if not offset0 + 30 <= start <= offset1 - 30:
                continue
            expected = epoch_wall + timedelta(seconds=start / speedup)
            early = expected - timedelta(seconds=step / speedup)
            late = expected + timedelta(seconds=1800.0 / speedup)  # not the next orbit's
            after = [s for s in seen if early <= s <= late]
            if after:
                lag = (min(after) - expected).total_seconds()
                lags_wall.append(lag)
                lags_sim.append(lag * speedup)

    wall = wall1 - wall0
    cpu = cpu1 - cpu0
    writes = _delta(writes_end, writes_start)
    total_writes = sum(writes.values())
    ticks0, tick_sum0 = histogram(text0, "kubesat_reconcile_duration_seconds", 'handler="tick"')
    ticks1, tick_sum1 = histogram(text1, "kubesat_reconcile_duration_seconds", 'handler="tick"')
    ticks = ticks1 - ticks0
    tick_mean = (tick_sum1 - tick_sum0) / ticks if ticks else float("nan")
    tick_wall = step / speedup
    sim_hours = wall * speedup / 3600.0
    baseline = 1000 / KUBELET_LEASE_PERIOD_S

    print()
    print(
        f"operator scale benchmark: 1000 satellites (walker-1000), speedup {speedup:g}, "
        f"step {step:g} s (tick {tick_wall * 1000:.0f} ms wall)"
    )
    print(
        f"  registration: 1000 Satellites + Nodes + Leases Ready in {registration:.1f} s "
        f"wall, {sum(writes_reg.values()):.0f} API writes"
    )
    print(f"  window: {wall:.1f} s wall = {sim_hours:.2f} simulated hours")
    print(
        f"  operator CPU: {cpu:.1f} s in {wall:.1f} s = {cpu / wall:.2f} cores "
        f"({100 * cpu / wall:.0f}% of one core)"
    )
    if ticks > 0:
        print(
            f"  ticks: {ticks:.0f} ({ticks / wall:.1f}/s; one per {wall / ticks * 1000:.0f} ms, "
            f"the clock steps every {tick_wall * 1000:.0f} ms); CPU per tick "
            f"{cpu / ticks * 1000:.1f} ms; mean tick duration {tick_mean * 1000:.1f} ms"
        )
    print(
        f"  API writes: {total_writes / wall:.1f}/s = {total_writes / wall / baseline:.2f} x "
        f"the lease baseline of 1000 kubelets ({baseline:.0f}/s); "
        f"{total_writes / 1000 / max(sim_hours, 1e-9):.1f} per satellite per simulated hour"
    )
    for resource, count in sorted(writes.items(), key=lambda kv: -kv[1]):
        if count >= 1:
            print(f"    {resource:<28} {count / wall:8.1f}/s")
    if lags_wall:
        lw, ls = np.array(lags_wall), np.array(lags_sim)
        print(
            f"  eclipse entry -> Node Sunlit=False seen by a watch ({len(lw)} entries): "
            f"median {np.median(lw):.2f} s wall = {np.median(ls):.0f} s simulated, "
            f"p95 {np.percentile(lw, 95):.2f} s wall = {np.percentile(ls, 95):.0f} s simulated, "
            f"max {lw.max():.2f} s wall"
        )
        print(
            f"    = {np.median(ls) / step:.2f} ticks median, "
            f"{np.percentile(ls, 95) / step:.2f} ticks p95 (a tick = {step:g} s simulated)"
        )
    else:
        print("  eclipse lag: no eclipse entry observed in the window")
    missing = sum(1 for n in names if n not in watcher.state)
    if missing:
        print(f"  ({missing} nodes never seen by the watch)")
    if args.keep_logs:
        args.keep_logs.write_text(log_path.read_text())
    print(f"  operator log: {log_path}")
    return 0


def _delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0) > 0}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_operator(
    stack: contextlib.ExitStack, kubeconfig: str, namespace: str, log_name: str
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """`kubesat operator` for `namespace` as a subprocess running this tree's code, stopped
    (SIGTERM, then SIGKILL after 60 s) when `stack` closes: the process, its metrics port
    and its log."""
    metrics_port = _free_port()
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"{log_name}-{os.getpid()}.log"
    env = {
        **os.environ,
        "KUBECONFIG": kubeconfig,
        "PYTHONPATH": os.pathsep.join([str(REPO / "operator"), os.environ.get("PYTHONPATH", "")]),
    }
    with log_path.open("wb") as out:
        operator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kubesat.cli",
                "operator",
                "--namespace",
                namespace,
                "--kubeconfig",
                kubeconfig,
                "--metrics-port",
                str(metrics_port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def stop_operator() -> None:
        if operator.poll() is None:
            os.killpg(operator.pid, signal.SIGTERM)
            try:
                operator.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(operator.pid, signal.SIGKILL)
                operator.wait()

    stack.callback(stop_operator)
    return operator, metrics_port, log_path


if __name__ == "__main__":
    sys.exit(main())
