"""Run read-only SPARQL with a time limit and a row cap (evaluation and result formats live in kg.sparql).

Oxigraph cannot cancel a running query, so the query runs in a daemon worker thread: the request gives up after the
time limit (503), the worker stops at the next row it would produce, and a fixed number of worker slots keeps
abandoned heavy queries from piling up.
"""

from __future__ import annotations

import threading

from rdflib import Dataset

from kg.sparql import Outcome, evaluate


class QueryTimeout(Exception):
    """The query did not finish within the time limit."""


class QueryBusy(Exception):
    """Every worker slot is taken (by queries still running or given up on)."""


class SparqlRunner:
    def __init__(self, dataset: Dataset, timeout: float, max_rows: int, workers: int = 4) -> None:
        self.dataset = dataset
        self.timeout = timeout
        self.max_rows = max_rows
        self._slots = threading.BoundedSemaphore(workers)

    def run(self, query: str) -> Outcome:
        if not self._slots.acquire(blocking=False):
            raise QueryBusy()
        box: dict[str, object] = {}
        done = threading.Event()
        cancel = threading.Event()

        def work() -> None:
            try:
                box["outcome"] = self._evaluate(query, cancel)
            except BaseException as exc:  # handed to the request thread, which decides what to answer
                box["error"] = exc
            finally:
                self._slots.release()
                done.set()

        # A daemon thread: a query still running when the server stops must not keep the process alive.
        threading.Thread(target=work, name="sparql-query", daemon=True).start()
        if not done.wait(self.timeout):
            cancel.set()
            raise QueryTimeout()
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box["outcome"]  # type: ignore[return-value]

    def _evaluate(self, query: str, cancel: threading.Event) -> Outcome:
        return evaluate(self.dataset, query, self.max_rows, cancel)
