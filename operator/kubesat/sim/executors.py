"""Where independent simulations run: this machine's processes or a Dask cluster.

Both map a picklable function over picklable items and yield the results as they finish;
callers put them back in their own order, so the outcome does not depend on who ran what.
Dask runs with any cluster whose scheduler address the caller has (`dask scheduler` and
`dask worker` by hand, the Dask Kubernetes operator, the Dask Helm chart).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

Executor = Callable[[Callable[[T], R], Sequence[T]], Iterator[R]]


def local_executor(workers: int | None = None) -> Executor[T, R]:
    """Run on this machine: `workers` processes (one per core by default; 1 = in process)."""

    def run(function: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        count = max(1, min(workers or os.cpu_count() or 1, len(items)))
        if count == 1:
            yield from map(function, items)
            return
        with ProcessPoolExecutor(max_workers=count) as pool:
            futures = [pool.submit(function, item) for item in items]
            for future in as_completed(futures):
                yield future.result()

    return run


def dask_executor(address: str) -> Executor[T, R]:
    """Run on the workers of the Dask scheduler at `address` (tcp://HOST:PORT)."""

    def run(function: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        from distributed import Client, as_completed

        with Client(address) as client:
            futures = client.map(function, items, pure=False)
            for _, result in as_completed(futures, with_results=True):
                yield result

    return run
