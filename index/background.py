"""An encoder whose model loads in a child process, started when it is made, so that loading the model (1.7 s for
USE, most of it its pure-Python tokenizer) runs on another core while the caller does something else: an update
of the data dir reads every kept plan's record meanwhile, then has the child encode its few new texts.

The child answers each encode with the vectors or with the error it met; when it cannot (it failed to load, died
or was closed) the encoder the caller gave encodes in this process instead, so the texts are encoded the same way
and a broken setting raises the same error it would without a child.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection

import numpy as np

from index.encoders import Encoder, Kind, load, shared_encoder

BATCH = 1000  # texts sent to the child at a time: a re-encoding of a whole corpus is never one huge message


def _serve(name: str, threads: int | None, conn: Connection) -> None:
    """The child: load the encoder, then answer (texts, kind) with ("ok", vectors) or ("error", message) until
    told to stop (None) or the parent is gone. Ctrl-C is the parent's to handle (it stops the child)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        try:
            encoder = shared_encoder(name, threads)
            load(encoder)
        except Exception as exc:  # the parent's own encoder raises it, named, when it encodes
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            return
        conn.send(("ready", None))
        while (job := conn.recv()) is not None:
            texts, kind = job
            try:
                answer = ("ok", encoder.encode(texts, kind))
            except Exception as exc:
                answer = ("error", f"{type(exc).__name__}: {exc}")
            conn.send(answer)
    except (EOFError, OSError):  # the parent is gone or closed the pipe
        return


class BackgroundEncoder:
    """`local` (the encoder `name` and `threads` make here, not loaded) with its model loaded in a child process
    started now; encode() asks the child, or `local` when the child cannot answer. close() stops the child."""

    def __init__(self, name: str, threads: int | None, local: Encoder) -> None:
        self.local = local
        self.model_id, self.dim = local.model_id, local.dim
        self.failure: str | None = None  # why the child did not encode, once it did not
        self._lock = threading.Lock()
        ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: the caller may hold threads and a store
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(name, threads, child), daemon=True, name="kg-encoder")
        self._process.start()
        child.close()
        self._ready = False

    def load(self) -> None:
        """Wait until the child has loaded the model (or fall back to loading it here)."""
        with self._lock:
            if not self._wait_ready():
                load(self.local)

    def encode(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            if self._wait_ready():
                parts = []
                for at in range(0, len(texts), BATCH):
                    try:
                        self._conn.send((texts[at : at + BATCH], kind))
                        status, value = self._conn.recv()
                    except (EOFError, OSError) as exc:
                        status, value = "error", f"the encoder process ended: {exc}"
                    if status != "ok":
                        self._stop(value)
                        break
                    parts.append(value)
                else:
                    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
        return self.local.encode(texts, kind)

    def _wait_ready(self) -> bool:
        """Whether the child is loaded and answering (waits for it to say so)."""
        if self._ready:
            return True
        if self.failure is not None:
            return False
        try:
            status, value = self._conn.recv()
        except (EOFError, OSError) as exc:
            status, value = "error", f"the encoder process ended: {exc}"
        if status == "ready":
            self._ready = True
            return True
        self._stop(value)
        return False

    def _stop(self, why: str) -> None:
        self.failure, self._ready = why, False
        self.close()

    def close(self) -> None:
        """Stop the child (it ends by itself once this process is gone: it is a daemon and reads a closed pipe)."""
        if self._process is None:
            return
        if self._ready:
            try:
                self._conn.send(None)  # waiting for a job, it ends at once
            except (OSError, ValueError):
                pass
            self._process.join(timeout=1)
        if self._process.is_alive():  # still loading, or busy with a job this process gave up waiting for
            self._process.kill()
            self._process.join()
        self._conn.close()
        self._process, self._ready = None, False
        if self.failure is None:
            self.failure = "closed"
