"""Job progress, kept on the Job (annotation `kubesat.io/progress`) so that a replacement
pod resumes from the last checkpoint, and a restarted operator from where it stood.

A Job's work is split in units, one per completion: keyed by the completion index for
Indexed Jobs; for NonIndexed Jobs, a new pod takes the unfinished unit with the most
saved work that no live pod holds (or a fresh one). Finished units are folded into a
count; the last pods' stories (which node, from what checkpoint to what progress, how
they ended) stay in `history` so users and tests can see what moved where and what was lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kubesat.k8s.fleet import IDLE, Unit
from kubesat.k8s.objects import PROGRESS_ANNOTATION, JobInfo, PodInfo

HISTORY_LIMIT = 20


@dataclass
class JobProgress:
    """The units of one Job and what they have done."""

    namespace: str
    name: str
    uid: str
    completions: int
    units: dict[str, Unit] = field(default_factory=dict)
    done: int = 0
    done_gpu_seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    written: str | None = None  # the annotation last written (or read)
    counted_complete: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @classmethod
    def load(cls, info: JobInfo) -> JobProgress:
        job = cls(info.namespace, info.name, info.uid, info.completions)
        if info.progress:
            try:
                data = json.loads(info.progress)
            except ValueError:
                data = {}
            if data.get("uid") in (None, info.uid):
                job.units = {k: Unit.from_json(k, v) for k, v in (data.get("units") or {}).items()}
                job.done = int(data.get("done", 0))
                job.done_gpu_seconds = float(data.get("doneGpuSeconds", 0.0))
                job.history = list(data.get("history") or [])
                job.written = info.progress
        return job

    def claim(self, pod: PodInfo) -> Unit:
        """The unit `pod` works on: its own (after a restart), its index, or the best free one."""
        for unit in self.units.values():
            if unit.pod == pod.uid:
                return unit
        if pod.completion_index is not None:
            key = str(pod.completion_index)
            unit = self.units.get(key)
            if unit is None:
                unit = self.units[key] = Unit(key)
            return unit
        free = [u for u in self.units.values() if not u.done and u.pod is None]
        if free:
            return max(free, key=lambda u: (u.checkpoint, -int(u.key.lstrip("u") or 0)))
        number = 0
        while f"u{number}" in self.units:
            number += 1
        unit = self.units[f"u{number}"] = Unit(f"u{number}")
        return unit

    def release_orphans(self, live: set[str], succeeded: set[str]) -> None:
        """Units held by pods that are gone: done if the pod succeeded, else back to the pool
        at their last checkpoint (the work since was lost with the pod)."""
        for unit in self.units.values():
            if unit.pod is None or unit.pod in live:
                continue
            if unit.pod in succeeded:
                unit.done = True
                unit.progress = unit.checkpoint = max(unit.progress, unit.checkpoint)
            else:
                unit.history.append(
                    {
                        "pod": unit.pod_name,
                        "node": unit.node,
                        "from": round(unit.started_from, 3),
                        "to": round(unit.checkpoint, 3),
                        "lost": round(max(unit.progress - unit.checkpoint, 0.0), 3),
                        "ended": "Gone",
                    }
                )
                unit.progress = unit.checkpoint
            unit.pod = unit.pod_name = None
            unit.state, unit.left, unit.since = IDLE, 0.0, 0.0

    def fold(self) -> None:
        """Move finished units into the count and their stories into the history."""
        for key in [k for k, u in self.units.items() if u.done]:
            unit = self.units.pop(key)
            self.done += 1
            self.done_gpu_seconds += unit.progress
            self.history.extend({"unit": key, **h} for h in unit.history)
        for unit in self.units.values():
            for entry in unit.history:
                if "unit" not in entry:
                    entry["unit"] = unit.key
        del self.history[:-HISTORY_LIMIT]

    def to_annotation(self) -> str:
        self.fold()
        data = {
            "uid": self.uid,
            "done": self.done,
            "doneGpuSeconds": round(self.done_gpu_seconds, 3),
            "lostGpuSeconds": round(self._lost(), 3),
            "units": {k: u.to_json() for k, u in sorted(self.units.items())},
            "history": self.history,
        }
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    def _lost(self) -> float:
        seen = 0.0
        for entry in self.history:
            seen += float(entry.get("lost", 0.0))
        for unit in self.units.values():
            seen += sum(float(h.get("lost", 0.0)) for h in unit.history)
        return seen

    @property
    def complete(self) -> bool:
        return self.done >= self.completions


class JobBook:
    """The progress of every Job with pods on satellites, shared by all constellations."""

    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], JobProgress] = {}

    def get(self, info: JobInfo, pods_index: Any = None) -> JobProgress:
        """The Job's progress, loaded from its annotation the first time; units held by
        pods that are gone (while the operator was away) are released then."""
        job = self.jobs.get((info.namespace, info.name))
        if job is None or job.uid != info.uid:
            job = self.jobs[(info.namespace, info.name)] = JobProgress.load(info)
            if pods_index is not None:
                live, succeeded = set(), set()
                for key in pods_index:
                    for pod in pods_index[key]:
                        if pod.namespace != info.namespace or pod.job != info.name:
                            continue
                        if pod.phase == "Succeeded":
                            succeeded.add(pod.uid)
                        elif not pod.terminal:
                            live.add(pod.uid)
                job.release_orphans(live, succeeded)
        return job

    def drop_missing(self, present: set[tuple[str, str]]) -> None:
        for key in [k for k in self.jobs if k not in present]:
            del self.jobs[key]

    def dirty(self) -> list[tuple[JobProgress, str]]:
        """Jobs whose annotation would change, with the new text."""
        out = []
        for job in self.jobs.values():
            text = job.to_annotation()
            if text != job.written:
                out.append((job, text))
        return out

    @staticmethod
    def patch(text: str) -> dict[str, Any]:
        return {"metadata": {"annotations": {PROGRESS_ANNOTATION: text}}}
