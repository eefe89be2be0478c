"""Which of the API's Jobs one constellation runs: the Jobs kubesat's Job controller
manages in its namespace that name it (or, naming none, fall to the namespace's first
constellation), and at a restart also the Jobs its saved state names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kubesat.k8s.fleet_refs import EventFunc
from kubesat.k8s.jobs import POD_JOB_PREFIX, JobBook
from kubesat.k8s.objects import JobInfo


@dataclass(frozen=True)
class JobIntakeConfig:
    """What choosing one constellation's Jobs reads and writes (the runtime's values)."""

    namespace: str
    constellation: str  # its name
    book: JobBook  # the Jobs its engine runs
    event: EventFunc
    fleets: Callable[[], Iterable[tuple[str, str]]]  # (namespace, name) of every running one


class JobIntake:
    """Adds the Jobs that are one constellation's to its engine and drops those gone."""

    def __init__(self, config: JobIntakeConfig) -> None:
        self.config = config
        self.invalid_jobs: set[str] = set()  # uids of managed Jobs reported as invalid

    def ours(self, info: JobInfo) -> bool:
        """Whether kubesat's Job controller runs this Job on this constellation: in our
        namespace, and ours by its nodeSelector or as the namespace's first constellation."""
        config = self.config
        if not info.managed or info.namespace != config.namespace or info.spec is None:
            return False
        if info.constellation is not None:
            return bool(info.constellation == config.constellation)
        names = sorted(name for (ns, name) in config.fleets() if ns == config.namespace) or [
            config.constellation
        ]
        return bool(names[0] == config.constellation)

    def invalid(self, info: JobInfo) -> None:
        """A Job for kubesat's Job controller that kubesat cannot run (a bad annotation, a
        gang that is not Indexed...): a Warning Event naming the field, once per Job."""
        if info.uid in self.invalid_jobs:
            return
        self.invalid_jobs.add(info.uid)
        ref = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": info.name, "namespace": info.namespace, "uid": info.uid},
        }
        self.config.event(ref, "Warning", "InvalidWork", str(info.error))

    def restore(self, jobs_index: Any, saved: set[str]) -> None:
        """At a restart: the Jobs the saved state names (keys `namespace/name/uid`), and
        the Jobs that are ours, before their progress is taken back."""
        for key in jobs_index:
            for info in jobs_index[key]:
                if f"{info.namespace}/{info.name}/{info.uid}" in saved or self.ours(info):
                    self.config.book.add(info)

    def sync(self, jobs_index: Any) -> None:
        """Add the managed Jobs that are ours; drop the Jobs that are gone."""
        book = self.config.book
        for key in jobs_index:
            for info in jobs_index[key]:
                if self.ours(info):
                    book.add(info)
                elif info.managed and info.error and info.namespace == self.config.namespace:
                    self.invalid(info)
        for key in [k for k in book.by_key if k not in jobs_index]:
            if not key[1].startswith(f"{POD_JOB_PREFIX}:"):  # a bare pod, not a Job
                book.remove(key)
