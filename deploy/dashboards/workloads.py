"""kubesat / Workloads: useful work against the energy bound, evictions, failures, lost work,
and a row for training Jobs (progress, where their time went, gang steps and links)."""

from __future__ import annotations

from deploy.dashboards.panels import (
    FLEET,
    GOODPUT,
    Panel,
    band,
    board,
    constellation,
    goodput_stat,
    gpus_panel,
    increase,
    increase_by,
    pending_pods,
    per_constellation,
    query,
    stat_panel,
    steps,
    timeseries_panel,
    variable,
)
from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as d

JOBS = '{constellation=~"$constellation", job_name=~"$job_name"}'
RECENT_GOODPUT = (
    f"sum by (constellation) (rate(kubesat_completed_gpu_seconds_total{FLEET}[$__rate_interval]))"
    " / sum by (constellation)"
    f" (rate(kubesat_energy_bound_gpu_seconds_total{FLEET}[$__rate_interval]))"
)
ACTIVITY = f"kubesat_job_activity_seconds_total{JOBS}"


def pods(phases: str) -> str:
    return f'sum by (phase) (kubesat_pods{{constellation=~"$constellation", phase=~"{phases}"}})'


def training_jobs() -> list[list[Panel | dashboard.Row]]:
    """The Training jobs row: one share-of-time panel per Job, repeated by $job_name."""
    return [
        band(37, 1, dashboard.Row("Training jobs").collapsed(False)),
        band(
            38,
            8,
            timeseries_panel(
                "Job progress",
                query(f"kubesat_job_progress_ratio{JOBS}", "{{job_name}}"),
                unit="percentunit",
                ceiling=1,
                about="Useful work done over each Job's work.",
            ),
            timeseries_panel(
                "GPU-hours used by Job",
                query(f"kubesat_job_gpu_seconds_total{JOBS} / 3600", "{{job_name}}"),
                about="GPU-hours each Job's pods held: running, checkpointing, or waiting for the"
                " rest of their gang.",
            ),
        ),
        band(
            46,
            8,
            timeseries_panel(
                "Share of time by activity: $job_name",
                query(
                    f"sum by (activity) ({ACTIVITY}) / ignoring (activity) group_left () sum"
                    f" ({ACTIVITY})",
                    "{{activity}}",
                ),
                unit="percentunit",
                stacked=True,
                fill=60,
                ceiling=1,
                about="Where the Job's time went since it arrived: computing, exchanging"
                " gradients over the laser links (gangs), checkpointing, waiting with no pod"
                " running. The four add up to 100%.",
            )
            .repeat("job_name")
            .repeat_direction("h")
            .max_per_row(3),
        ),
        band(
            54,
            8,
            timeseries_panel(
                "Projected time to finish",
                query(f"kubesat_job_projected_finish_seconds{JOBS}", "{{job_name}}"),
                unit="s",
                about="Simulated seconds from each Job's arrival to its end: the actual time"
                " once it ended, else projected at its average rate so far.",
            ),
            timeseries_panel(
                "Gang training step",
                query(f"kubesat_job_step_seconds{JOBS}", "{{job_name}}"),
                unit="s",
                about="A running gang's training step: its compute plus the ring all-reduce of"
                " its gradients over the laser links. No value while the gang does not run.",
            ),
            timeseries_panel(
                "Inter-satellite links up",
                per_constellation(f"kubesat_inter_satellite_links_up{FLEET}"),
                about="Laser links between satellites that are up (with spec.links).",
            ),
        ),
    ]


def build() -> d.Dashboard:
    job_selector = 'kubesat_job_progress_ratio{constellation=~"$constellation"}'
    return board(
        "kubesat-workloads",
        "kubesat / Workloads",
        "GPU jobs on the constellation: useful work against the energy bound, evictions,"
        " failures and lost work; training jobs: progress, where their time went, gang steps"
        " and links.",
        [constellation(), variable("job_name", "Job", job_selector)],
        [
            band(
                0,
                4,
                goodput_stat(
                    "Goodput since start", query(GOODPUT, "{{constellation}}", instant=True)
                ),
                goodput_stat(
                    "Goodput, recent",
                    query(RECENT_GOODPUT, "{{constellation}}", instant=True),
                    about="Completed over energy-bound GPU-seconds during the last interval.",
                ),
                stat_panel(
                    "Jobs completed",
                    query(f"sum(kubesat_jobs_completed_total{FLEET})", "jobs", instant=True),
                    colors=steps("green"),
                ),
                pending_pods(),
                stat_panel(
                    "Evictions",
                    query(f"sum(kubesat_pod_evictions_total{FLEET})", "evictions", instant=True),
                    colors=steps("blue"),
                    about="Pods checkpointed and moved, since the start.",
                ),
                stat_panel(
                    "Lost work",
                    query(
                        f"sum(kubesat_lost_gpu_seconds_total{FLEET}) / 3600",
                        "GPU-hours",
                        instant=True,
                    ),
                    colors=steps("green", 1, "orange"),
                    decimals=1,
                    about="GPU-hours of work lost by pods that died without a checkpoint.",
                ),
            ),
            band(
                4,
                9,
                timeseries_panel(
                    "Completed work against the energy bound",
                    *(
                        per_constellation(
                            f"kubesat_{name}_gpu_seconds_total{FLEET}", legend, then=" / 3600"
                        )
                        for name, legend in [
                            ("energy_bound", "energy bound"),
                            ("completed", "completed"),
                            ("lost", "lost"),
                        ]
                    ),
                    unit="suffix: GPU-h",
                    about="Cumulative GPU-hours: what sunlight and batteries allowed, what the"
                    " jobs kept, and what was lost.",
                ),
                timeseries_panel(
                    "Goodput",
                    query(GOODPUT, "since start {{constellation}}"),
                    query(RECENT_GOODPUT, "recent {{constellation}}"),
                    unit="percentunit",
                ),
            ),
            band(
                13,
                8,
                timeseries_panel(
                    "Evictions by reason",
                    increase_by("reason", f"kubesat_pod_evictions_total{FLEET}"),
                    bars=True,
                    about="runway: the predictive policy moved a pod before its satellite's"
                    " sunlight plus battery ran out; eclipse and upset: the reactive policy.",
                ),
                timeseries_panel(
                    "Pod failures by reason",
                    increase_by("reason", f"kubesat_pod_failures_total{FLEET}"),
                    bars=True,
                    about="Pods killed without a checkpoint: power (battery at floor), sefi,"
                    " latchup.",
                ),
            ),
            band(
                21,
                8,
                timeseries_panel(
                    "Lost work",
                    per_constellation(
                        increase(f"kubesat_lost_gpu_seconds_total{FLEET}"), then=" / 3600"
                    ),
                    unit="suffix: GPU-h",
                    bars=True,
                ),
                timeseries_panel(
                    "Pods by phase",
                    query(pods("Pending|Running"), "{{phase}}"),
                    stacked=True,
                    fill=30,
                    about="GPU pods waiting and running on satellites now.",
                ),
                timeseries_panel(
                    "Pods finished",
                    query(pods("Succeeded|Failed"), "{{phase}}"),
                    about="Pods that ended, since the start.",
                ),
            ),
            band(29, 8, gpus_panel(on_board=True)),
            *training_jobs(),
        ],
    )
