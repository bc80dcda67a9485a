"""Run the endpoint's SPARQL queries in worker processes (kg.sparql_worker) with a time limit, a memory limit and
a row cap; checks, evaluation and result formats live in kg.sparql, shared with `kg sparql`.

A query that reaches the time limit is killed with its process, which gives its CPU and memory back at once; a
new worker is started in the background. When every worker is busy the request is answered 503 at once.
Workers are shared by every runner of the process with the same settings, so a reloaded state (after `kg build`)
keeps them.
"""

from __future__ import annotations

import threading
from pathlib import Path

from rdflib import Dataset

from kg.sparql import (
    MEMORY_MB,
    Limits,
    Outcome,
    QueryBusy,
    QueryCrashed,
    QueryMemoryError,
    QueryTimeout,
    evaluate,
)
from kg.sparql_worker import WorkerPool
from kg.triplestore import RemoteStore

__all__ = ["SparqlRunner", "QueryBusy", "QueryTimeout", "QueryMemoryError", "QueryCrashed", "pool_for"]

_POOLS: dict[tuple[int, int, int], WorkerPool] = {}
_LOCK = threading.Lock()


def pool_for(workers: int, memory_mb: int, queue: int = 0) -> WorkerPool:
    """The process-wide worker pool for these settings (started lazily: no process until the first query)."""
    key = (int(workers), int(memory_mb), int(queue))
    with _LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = WorkerPool(workers, int(memory_mb) << 20, queue=queue)
        return pool


class SparqlRunner:
    def __init__(
        self,
        dataset: Dataset | None = None,
        timeout: float = 10.0,
        max_rows: int = 1000,
        workers: int = 4,
        memory_mb: int = MEMORY_MB,
        queue: int = 0,
    ) -> None:
        self.dataset = dataset  # kept for callers that read it; queries run on the store folder they are given
        self.timeout = timeout
        self.max_rows = max_rows
        self.workers = workers
        self.memory_mb = memory_mb
        self.queue = queue

    def limits(self, memory_mb: int | None = None) -> Limits:
        return Limits(timeout=self.timeout, max_rows=self.max_rows, memory_mb=memory_mb or self.memory_mb)

    def start(self, store_dir: str | Path) -> None:
        """Start the workers now, in the background, each opening the store at store_dir (what `kg serve` does, so
        that its first query does not wait for a process and a cold store)."""
        pool_for(self.workers, self.memory_mb, self.queue).start(store=store_dir)

    def run(
        self,
        query: str,
        store_dir: str | Path | RemoteStore,
        *,
        memory_mb: int | None = None,
        queue: int | None = None,
        default_graphs: list[str] | None = None,
        named_graphs: list[str] | None = None,
    ) -> Outcome:
        """Check and run one query on the store at store_dir (taken by the caller when the request comes), or
        forward it to a SPARQL server (the same checks and limits)."""
        limits = self.limits(memory_mb)
        pool = pool_for(self.workers, limits.memory_mb, self.queue if queue is None else queue)
        return evaluate(
            store_dir, query, limits=limits, pool=pool, default_graphs=default_graphs, named_graphs=named_graphs
        )
