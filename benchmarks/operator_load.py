"""The operator under load: 1,000 satellites at 60x with 5,000 pending pods.

Starts the local control plane (or uses $KUBESAT_KUBECONFIG), the operator as a
subprocess with its metrics on, and the 1000-satellite Walker shell of
examples/walker-1000.yaml at 60x. Once its 1000 Nodes are Ready it creates 10 Jobs of 500
pods each, left to Kubernetes' Job controller (so every pod exists at once, 5,000), each
pod asking for all 8 GPUs of a satellite through kubesat-scheduler: at most 1,000 run, the
rest wait Pending. Once the 5,000 pods exist it measures 30 simulated minutes (30 wall
seconds at 60x):

- the latency of the operator's own API calls (`kubesat_api_request_duration_seconds`,
  timed by the operator around each request): p50 and p99, all calls and by verb,
  against the Kubernetes API call latency SLO (p99 <= 1 s for single-object calls);
- the operator's API call rate and write rate (the same histogram's counts), against the
  node-lease baseline of 1000 kubelets (100 writes/s);
- the operator's peak memory (VmHWM of its process, over the whole run) and CPU, against the
  chart's `resources.limits.memory` and `resources.requests` (charts/kubesat/values.yaml).

    python benchmarks/operator_load.py [--speedup 60] [--simulated-minutes 30] [--pods 5000]

Needs the control-plane binaries (`make controlplane`). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "operator"), str(REPO), str(REPO / "benchmarks")]

from kubernetes import client as k8s  # noqa: E402
from kubernetes import config  # noqa: E402

from operator_scale import (  # noqa: E402
    cpu_seconds,
    install_crds,
    log,
    scrape,
    start_operator,
)

GROUP, VERSION = "kubesat.io", "v1alpha1"
NAMESPACE = "kubesat-load"
CONSTELLATION = "walker-1000"
SATELLITES = 1000
JOBS = 10
GPUS_PER_POD = 8  # a whole satellite: at most one pod per satellite runs
KUBELET_LEASE_PERIOD_S = 10.0
API_SLO_P99_SECONDS = 1.0  # Kubernetes' SLO for single-object API calls
READ_VERBS = ("get", "list", "watch")
HISTOGRAM = "kubesat_api_request_duration_seconds"
BYTES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
CPU_MILLI = 1000.0
POD_COUNT_STEADY_SECONDS = 15.0
NEAR_TARGET = 0.9


def quantity_bytes(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi)?", str(text))
    if not match:
        raise ValueError(f"unsupported quantity {text!r}")
    return float(match.group(1)) * BYTES.get(match.group(2) or "", 1)


def quantity_cores(text: str) -> float:
    text = str(text)
    return float(text[:-1]) / CPU_MILLI if text.endswith("m") else float(text)


def chart_resources() -> dict[str, Any]:
    values = yaml.safe_load((REPO / "charts" / "kubesat" / "values.yaml").read_text())
    return dict(values["resources"])


def memory_kib(pid: int, field: str) -> float:
    """VmRSS or VmHWM (peak) of a process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return float(line.split()[1])
    return 0.0


def buckets(text: str) -> dict[tuple[str, str], dict[float, float]]:
    """(verb, resource) -> {le: cumulative count} of the API latency histogram."""
    out: dict[tuple[str, str], dict[float, float]] = defaultdict(dict)
    for line in text.splitlines():
        if not line.startswith(f"{HISTOGRAM}_bucket{{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
        le = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
        out[(labels["verb"], labels["resource"])][le] = float(line.rsplit(" ", 1)[1])
    return out


def delta(
    after: dict[tuple[str, str], dict[float, float]],
    before: dict[tuple[str, str], dict[float, float]],
) -> dict[tuple[str, str], dict[float, float]]:
    return {
        key: {le: count - before.get(key, {}).get(le, 0.0) for le, count in series.items()}
        for key, series in after.items()
    }


def merged(series: list[dict[float, float]]) -> dict[float, float]:
    total: dict[float, float] = defaultdict(float)
    for one in series:
        for le, count in one.items():
            total[le] += count
    return dict(total)


def quantile(cumulative: dict[float, float], q: float) -> float:
    """The q-quantile of a cumulative histogram, linear within a bucket (as Prometheus's
    histogram_quantile); the upper bound of the last finite bucket if it falls beyond."""
    bounds = sorted(cumulative)
    total = cumulative[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return float("nan")
    rank = q * total
    lower, below = 0.0, 0.0
    for le in bounds:
        count = cumulative[le]
        if count >= rank:
            if le == float("inf"):
                return lower
            return lower + (le - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = le, count
    return lower


def count(cumulative: dict[float, float]) -> float:
    return cumulative.get(float("inf"), 0.0)


def job_manifest(name: str, pods: int) -> dict[str, Any]:
    """A Job of `pods` pods at once (Kubernetes' Job controller), a whole satellite each."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "annotations": {
                "kubesat.io/work-gpu-seconds": str(24 * 3600 * GPUS_PER_POD),
                "kubesat.io/checkpoint-interval-seconds": "1800",
                "kubesat.io/checkpoint-write-seconds": "30",
            },
        },
        "spec": {
            "completions": pods,
            "parallelism": pods,
            "backoffLimit": 1000,
            "podFailurePolicy": {
                "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]
            },
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "schedulerName": "kubesat-scheduler",
                    "restartPolicy": "Never",
                    "tolerations": [{"key": "kubesat.io/satellite", "operator": "Exists"}],
                    "containers": [
                        {
                            "name": "train",
                            "image": "registry.k8s.io/pause:3.10",
                            "resources": {"limits": {"nvidia.com/gpu": str(GPUS_PER_POD)}},
                        }
                    ],
                },
            },
        },
    }


class MemorySampler(threading.Thread):
    """RSS of a process every `period` s (the kernel's VmHWM gives the true peak)."""

    def __init__(self, pid: int, period: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.samples: list[tuple[float, float]] = []  # (monotonic, KiB)
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            with contextlib.suppress(OSError):
                self.samples.append((time.monotonic(), memory_kib(self.pid, "VmRSS")))
            self.halt.wait(self.period)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speedup", type=float, default=60.0)
    parser.add_argument("--simulated-minutes", type=float, default=30.0)
    parser.add_argument("--pods", type=int, default=5000, help="pods of the Jobs, all at once")
    parser.add_argument("--keep-logs", type=Path, default=None, help="copy the operator log here")
    args = parser.parse_args(argv)
    window = args.simulated_minutes * 60.0 / args.speedup

    manifest = next(
        d
        for d in yaml.safe_load_all((REPO / "examples" / "walker-1000.yaml").read_text())
        if d["kind"] == "Constellation"
    )
    manifest["metadata"] = {"name": CONSTELLATION, "namespace": NAMESPACE}
    manifest["spec"]["clock"]["speedup"] = args.speedup
    resources = chart_resources()
    limit_bytes = quantity_bytes(resources["limits"]["memory"])
    request_bytes = quantity_bytes(resources["requests"]["memory"])
    request_cores = quantity_cores(resources["requests"]["cpu"])

    with contextlib.ExitStack() as stack:
        kubeconfig = os.environ.get("KUBESAT_KUBECONFIG")
        if kubeconfig is None:
            from tests.support.controlplane import LocalControlPlane

            log("starting the local control plane")
            cp = stack.enter_context(LocalControlPlane())
            kubeconfig = str(cp.kubeconfig_path)
        api = config.new_client_from_config(config_file=kubeconfig)
        stack.callback(api.close)
        core, custom, batch = k8s.CoreV1Api(api), k8s.CustomObjectsApi(api), k8s.BatchV1Api(api)
        install_crds(api)
        with contextlib.suppress(k8s.ApiException):
            core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=NAMESPACE)))

        operator, metrics_port, log_path = start_operator(
            stack, kubeconfig, NAMESPACE, "kubesat-load"
        )
        sampler = MemorySampler(operator.pid)
        sampler.start()
        stack.callback(sampler.halt.set)
        selector = f"kubesat.io/constellation={CONSTELLATION},kubesat.io/namespace={NAMESPACE}"

        def cleanup() -> None:
            with contextlib.suppress(k8s.ApiException):
                for index in range(JOBS):
                    batch.delete_namespaced_job(
                        f"load-{index}", NAMESPACE, propagation_policy="Background"
                    )
            with contextlib.suppress(k8s.ApiException):
                custom.delete_namespaced_custom_object(
                    GROUP, VERSION, NAMESPACE, "constellations", CONSTELLATION
                )
            for _ in range(120):
                if not core.list_node(label_selector=selector, limit=1).items:
                    break
                time.sleep(1)

        if os.environ.get("KUBESAT_KUBECONFIG"):  # a local control plane goes as a whole
            stack.callback(cleanup)

        def alive() -> None:
            if operator.poll() is not None:
                raise SystemExit(f"the operator exited:\n{log_path.read_text()[-3000:]}")

        t0 = time.monotonic()
        custom.create_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, "constellations", manifest
        )
        log(f"Constellation {CONSTELLATION} created; waiting for {SATELLITES} Ready nodes")
        while True:
            nodes = core.list_node(label_selector=selector).items
            ready = sum(
                1
                for n in nodes
                for c in n.status.conditions or []
                if c.type == "Ready" and c.status == "True"
            )
            if ready == SATELLITES:
                break
            alive()
            if time.monotonic() - t0 > 900:
                raise SystemExit(f"only {ready}/{SATELLITES} nodes Ready after 900 s")
            time.sleep(2)
        registration = time.monotonic() - t0
        log(f"{SATELLITES} Ready nodes after {registration:.0f} s; creating {args.pods} pods")

        t1 = time.monotonic()
        per_job = [args.pods // JOBS + (1 if i < args.pods % JOBS else 0) for i in range(JOBS)]
        for index, pods in enumerate(per_job):
            batch.create_namespaced_job(NAMESPACE, job_manifest(f"load-{index}", pods))
        # every pod of the Jobs at once; the Job controller replaces a failed one only after
        # its backoff, so a count that stopped growing near the target will do
        grown, last = time.monotonic(), 0
        while True:
            pods = core.list_namespaced_pod(NAMESPACE, label_selector="job-name").items
            if len(pods) > last:
                grown, last = time.monotonic(), len(pods)
            steady = time.monotonic() - grown > POD_COUNT_STEADY_SECONDS
            if len(pods) >= args.pods or (steady and len(pods) >= NEAR_TARGET * args.pods):
                break
            alive()
            if time.monotonic() - t1 > 900:
                raise SystemExit(f"only {len(pods)}/{args.pods} pods after 900 s")
            time.sleep(2)
        creation = time.monotonic() - t1
        created = len(pods)
        log(f"{len(pods)} pods exist after {creation:.0f} s; measuring {window:.0f} s wall")

        pending0 = sum(1 for p in pods if p.status.phase == "Pending")
        text0 = scrape(metrics_port)
        cpu0, wall0 = cpu_seconds(operator.pid), time.monotonic()
        time.sleep(window)
        text1 = scrape(metrics_port)
        cpu1, wall1 = cpu_seconds(operator.pid), time.monotonic()
        alive()
        pods = core.list_namespaced_pod(NAMESPACE, label_selector="job-name").items
        phases: dict[str, int] = defaultdict(int)
        for pod in pods:
            phases[pod.status.phase or "?"] += 1
        peak_kib = memory_kib(operator.pid, "VmHWM")
        ready_end = sum(
            1
            for n in core.list_node(label_selector=selector).items
            for c in n.status.conditions or []
            if c.type == "Ready" and c.status == "True"
        )

    wall = wall1 - wall0
    cpu = cpu1 - cpu0
    in_window = delta(buckets(text1), buckets(text0))
    whole_run = buckets(text1)
    by_verb: dict[str, list[dict[float, float]]] = defaultdict(list)
    for (verb, _resource), series in in_window.items():
        by_verb[verb].append(series)
    writes = merged([s for (verb, _r), s in in_window.items() if verb not in READ_VERBS])
    every = merged(list(in_window.values()))
    total = merged(list(whole_run.values()))
    baseline = SATELLITES / KUBELET_LEASE_PERIOD_S
    peak = peak_kib * 1024
    rss_window = [kib * 1024 for t, kib in sampler.samples if wall0 <= t <= wall1]

    print()
    print(
        f"operator load benchmark: {SATELLITES} satellites ({CONSTELLATION}) at "
        f"{args.speedup:g}x, {args.pods} pods of {JOBS} Jobs ({GPUS_PER_POD} GPUs each)"
    )
    print(
        f"  set-up: {SATELLITES} Ready nodes in {registration:.0f} s, {created} pods "
        f"created by the Job controller in {creation:.0f} s"
    )
    print(
        f"  window: {wall:.1f} s wall = {wall * args.speedup / 60:.1f} simulated minutes; "
        f"pods Pending at its start {pending0}, at its end {dict(sorted(phases.items()))}; "
        f"Ready nodes {ready_end}/{SATELLITES}"
    )
    p50, p99 = quantile(every, 0.50), quantile(every, 0.99)
    print(
        f"  operator API calls: {count(every):.0f} = {count(every) / wall:.1f}/s; latency "
        f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms = {p99 / API_SLO_P99_SECONDS:.3f} x "
        f"the 1 s SLO"
    )
    for verb, series in sorted(by_verb.items(), key=lambda kv: -count(merged(kv[1]))):
        one = merged(series)
        if count(one) >= 1:
            print(
                f"    {verb:<8} {count(one) / wall:8.1f}/s  p50 {quantile(one, 0.5) * 1000:7.1f}"
                f" ms  p99 {quantile(one, 0.99) * 1000:7.1f} ms"
            )
    print(
        f"  operator writes: {count(writes) / wall:.1f}/s = {count(writes) / wall / baseline:.2f}"
        f" x the lease baseline of {SATELLITES} kubelets ({baseline:.0f}/s); p99 "
        f"{quantile(writes, 0.99) * 1000:.1f} ms"
    )
    print(
        f"  whole run (registration, pod creation, window): {count(total):.0f} calls, p50 "
        f"{quantile(total, 0.5) * 1000:.1f} ms, p99 {quantile(total, 0.99) * 1000:.1f} ms"
    )
    print(
        f"  operator CPU in the window: {cpu / wall:.2f} cores = "
        f"{cpu / wall / request_cores:.2f} x the chart's request ({request_cores:g} cores)"
    )
    if rss_window:
        print(f"  operator RSS in the window: max {max(rss_window) / 2**20:.0f} MiB")
    print(
        f"  operator peak RSS (whole run): {peak / 2**20:.0f} MiB = {peak / limit_bytes:.2f} x "
        f"the chart's memory limit ({resources['limits']['memory']}), "
        f"{peak / request_bytes:.2f} x its request ({resources['requests']['memory']}): "
        f"{'within' if peak <= limit_bytes else 'OVER'} the limit"
    )
    if args.keep_logs:
        args.keep_logs.write_text(log_path.read_text())
    print(f"  operator log: {log_path}")
    return 0 if peak <= limit_bytes else 1


if __name__ == "__main__":
    sys.exit(main())
