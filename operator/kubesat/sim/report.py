"""The simulator's report: the `--json` document (rounded so runs compare byte for byte)
and the table printed after a run."""

from __future__ import annotations

import math
from typing import Any

from kubesat.engine.job_stats import JobStats


def report_document(
    outcomes: dict[str, Any], design: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The `--json` document: the design check and one entry per policy, rounded so runs
    compare byte for byte."""
    return {
        "viability": design or {},
        "policies": {
            name: {
                "goodput_ratio": round(o.goodput_ratio, 6),
                "energy_goodput_ratio": round(o.energy_goodput_ratio, 6),
                "achievable_gpu_seconds": round(o.achievable_gpu_seconds, 3),
                "completed_gpu_seconds": round(o.completed_gpu_seconds, 3),
                "lost_gpu_seconds": round(o.lost_gpu_seconds, 3),
                "energy_bound_gpu_seconds": round(o.energy_bound_gpu_seconds, 3),
                "demand_gpu_seconds": round(o.demand_gpu_seconds, 3),
                "evictions": int(sum(v for k, v in o.evictions.items() if k != "refused-by-pdb")),
                "evictions_by_reason": dict(sorted(o.evictions.items())),
                "pod_failures_by_reason": dict(sorted(o.pod_failures.items())),
                "jobs_completed": int(o.jobs_completed),
                "jobs_failed": int(o.jobs_failed),
                "upsets": int(sum(o.upsets.values())),
                "upsets_by_kind": dict(sorted(o.upsets.items())),
                "bus_brownout_seconds": round(o.bus_brownout_seconds, 3),
                "bus_brownouts": int(o.bus_brownouts),
                "bus_brownout_satellites": int(o.bus_brownout_satellites),
                **({"thermal": _thermal_json(o.thermal)} if o.thermal is not None else {}),
                **({"downlink": _downlink_json(o.downlink)} if o.downlink is not None else {}),
                **({"jobs": _jobs_json(o.jobs)} if o.jobs else {}),
            }
            for name, o in outcomes.items()
        },
    }


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _jobs_json(jobs: dict[str, JobStats]) -> dict[str, Any]:
    """`jobs: {NAME: ...}`: each Job's time to finish (or projected), GPU-hours and shares."""
    return {name: _rounded(stats.as_json()) for name, stats in sorted(jobs.items())}


def _thermal_json(totals: dict[str, float]) -> dict[str, Any]:
    counts = ("thermal_throttles", "throttled_satellites", "pods_lost_to_heat")
    return {
        key: int(value) if key in counts else round(value, 3)
        for key, value in sorted(totals.items())
    }


def _downlink_json(totals: dict[str, float]) -> dict[str, Any]:
    counts = ("results_landed", "results_waiting")
    return {
        key: int(value) if key in counts else round(value, 3)
        for key, value in sorted(totals.items())
    }


def _job_line(j: dict[str, Any]) -> str:
    """One Job in the table: done in (or projected), GPU-hours, where its time went."""
    if j["finished"] and not j["failed"]:
        when = f"done in {j['finishSeconds'] / 3600:.2f} h"
    elif j["failed"]:
        when = "failed"
    elif j["projectedFinishSeconds"] is not None:
        when = (
            f"{j['progressRatio']:.0%} done, projected {j['projectedFinishSeconds'] / 3600:.1f} h"
        )
    else:
        when = "not started"
    shares = j["shares"]
    what = "gang of " if j["gang"] else ""
    line = (
        f"{what}{j['members']} x {j['gpusPerPod']} GPU: {when}, {j['gpuHoursUsed']:.1f} GPU-h "
        f"used; computed {shares['compute']:.0%}, "
    )
    if j["gang"]:
        line += f"exchanged gradients {shares['exchange']:.0%}, "
    line += f"checkpointed {shares['checkpoint']:.0%}, waited {shares['wait']:.0%}"
    waited = j["seconds"]["wait"]
    reasons = sorted(j["waiting"].items(), key=lambda kv: (-kv[1], kv[0]))
    if waited > 0 and reasons:
        line += " (" + ", ".join(f"{name} {s / waited:.0%}" for name, s in reasons) + ")"
    return line


def print_report(name: str, duration_seconds: float, document: dict[str, Any]) -> None:
    print(f"\n{name}: {duration_seconds / 3600:g} h simulated")
    design = document.get("viability") or {}
    if design:
        verdict = "viable" if design["viable"] else "NOT VIABLE"
        print(
            f"design: {verdict}: the bus needs {design['bus_need_wh']:.1f} Wh of the "
            f"{design['usable_wh']:.1f} Wh usable for the longest eclipse "
            f"({design['longest_eclipse_seconds'] / 60:.1f} min): margin "
            f"{design['margin_wh']:+.1f} Wh"
        )
        heat = design.get("thermal")
        if heat:
            print(
                f"heat: the radiator rejects {heat['max_rejection_w']:.0f} W at its maximum "
                f"temperature; the bus and the environment take {heat['bus_and_environment_w']:.0f}"
                f" W of it: {heat['sustained_gpus']:.2f} GPUs sustained"
            )
    header = (
        f"{'policy':<11}{'goodput':>8}{'completed GPU-h':>17}{'lost GPU-h':>12}"
        f"{'energy GPU-h':>14}{'jobs GPU-h':>12}{'evictions':>11}{'jobs done':>11}"
        f"{'failed':>8}{'upsets':>8}"
    )
    print(header)
    print("-" * len(header))
    print(
        "goodput: completed over the lesser of the energy-and-heat bound and what the "
        "Jobs could use (their parallelism over their open time)"
    )
    for policy, r in document["policies"].items():
        print(
            f"{policy:<11}{r['goodput_ratio']:>8.3f}{r['completed_gpu_seconds'] / 3600:>17.1f}"
            f"{r['lost_gpu_seconds'] / 3600:>12.1f}{r['energy_bound_gpu_seconds'] / 3600:>14.1f}"
            f"{r['achievable_gpu_seconds'] / 3600:>12.1f}{r['evictions']:>11}"
            f"{r['jobs_completed']:>11}{r['jobs_failed']:>8}{r['upsets']:>8}"
        )
    for policy, r in document["policies"].items():
        reasons = ", ".join(f"{k} {v}" for k, v in r["evictions_by_reason"].items()) or "none"
        failures = ", ".join(f"{k} {v}" for k, v in r["pod_failures_by_reason"].items()) or "none"
        brownouts = (
            f"; bus brownouts: {r['bus_brownouts']} on {r['bus_brownout_satellites']} "
            f"satellites, {r['bus_brownout_seconds'] / 60:.1f} min"
            if r["bus_brownouts"]
            else "; no bus brownout"
        )
        print(f"  {policy}: evictions by reason: {reasons}; pod failures: {failures}{brownouts}")
        down = r.get("downlink")
        if down:
            print(
                f"  {policy}: downlink: {down['results_landed']} results on the ground "
                f"({down['downlinked_bytes'] / 1e9:.1f} GB), {down['results_waiting']} waiting "
                f"({down['backlog_bytes'] / 1e9:.1f} GB backlog); completion to ground "
                f"{down['mean_latency_seconds'] / 60:.1f} min on average, "
                f"{down['max_latency_seconds'] / 60:.1f} min at most"
            )
        for job, j in (r.get("jobs") or {}).items():
            print(f"  {policy}: {job}: {_job_line(j)}")
        heat = r.get("thermal")
        if heat:
            print(
                f"  {policy}: heat: peak {heat['peak_temperature_c']:.1f} C, "
                f"{heat['thermal_throttles']} throttling episodes on "
                f"{heat['throttled_satellites']} satellites, "
                f"{heat['throttled_gpu_seconds'] / 3600:.1f} GPU-h held off, "
                f"{heat['pods_lost_to_heat']} pods lost to heat, heaters "
                f"{heat['heater_energy_wh']:.1f} Wh; bound without heat "
                f"{heat['energy_only_bound_gpu_seconds'] / 3600:.1f} GPU-h"
            )
