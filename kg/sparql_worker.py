"""SPARQL queries run in worker processes, where they can really be stopped.

Oxigraph cannot cancel a running query, and a query can take all the CPU and memory there is, or crash the process
that runs it (a deep parser recursion). So queries run in child processes started from this file
(`python -I kg/sparql_worker.py MEMORY_BYTES`), each of which:

- has an address-space limit (RLIMIT_AS): a query that needs more memory dies, not the server;
- gets a CPU-time limit (RLIMIT_CPU) before each query, a second line behind the wall-clock kill of the parent;
- cannot create a socket (a seccomp filter on Linux x86-64 and ARM64): whatever the query says, no URL is fetched;
- opens the store it is told to read-only, itself, and keeps it open until it is told of another one;
- runs queries in a thread with a large stack, so no query the size check lets through overflows it.

The parent side (Worker, WorkerPool) uses only the standard library: a worker is killed at the time limit and
replaced in the background, so a runaway query gives its CPU and memory back and never locks later queries out.
The pool keeps the answers of the queries it ran on a generation's store (AnswerCache): a generation is never
written once published, so the same query there always has the same answer, and asking again costs no evaluation.
The evaluation itself (`answer`) is shared with the in-process path used for an rdflib Dataset.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Imported when the worker starts, not inside a query: a query's time limit may be a few milliseconds.
from kg.datadir import GENERATIONS, hold_generation
from kg.sparql_sort import SORT_CHARS, SORT_ROWS, sort_rows

QUERY_STACK = 256 << 20  # the evaluating thread's stack: deep-but-allowed queries recurse a lot in the parser
START_TIMEOUT = 30.0  # seconds a new worker may take to say it is ready
ERROR_TAIL = 8192  # bytes of a worker's stderr kept, to tell why it died
CACHE_BYTES = 32 << 20  # answers (their encoded form) a pool keeps, all together
MEMORY_MB = 1536  # the address space of the process running a query

# Kinds of WorkerError: what the caller tells the user.
TIMEOUT, MEMORY, CRASH, START, BUSY, LARGE = "timeout", "memory", "crash", "start", "busy", "large"


class WorkerError(Exception):
    """A query that did not produce an answer: kind is one of timeout, memory, crash, start, busy, large."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


# ---------------------------------------------------------------- evaluation (in the worker, or in-process)


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _cell(term: Any) -> list | None:
    import pyoxigraph as ox

    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return ["u", term.value]
    if isinstance(term, ox.BlankNode):
        return ["b", term.value]
    if isinstance(term, ox.Literal):
        return ["l", term.value, term.datatype.value, term.language]
    return ["t", str(term)]  # a triple term (RDF-star): shown as its text


def _chars(row: list) -> int:
    return sum(len(c[1]) + (len(c[2]) if len(c) > 2 else 0) for c in row if c is not None)


def answer(store: Any, req: dict) -> dict:
    """Evaluate req["query"] on a pyoxigraph Store and return the answer as plain JSON-able data.

    req: query, prefixes ({prefix: IRI}), union (the default graph is the union of all graphs), default_graph and
    named_graphs (lists of IRIs, or None), max_rows, max_chars (the text of the answer, all terms together), and
    sort: {keys, offset, limit, query} when the query was cut before its ORDER BY (kg.sparql_sort.split): its
    answer is sorted here, or when that cannot be done (or the cut query fails), sort["query"] is run as written.
    An error is {"error": "syntax" | "eval" | "memory", "message": …}.
    """
    import pyoxigraph as ox

    kwargs: dict[str, Any] = {}
    if req.get("prefixes"):
        kwargs["prefixes"] = dict(req["prefixes"])
    try:
        if req.get("default_graph") is not None:
            kwargs["default_graph"] = [ox.NamedNode(g) for g in req["default_graph"]]
        if req.get("named_graphs") is not None:
            kwargs["named_graphs"] = [ox.NamedNode(g) for g in req["named_graphs"]]
    except ValueError as exc:
        return {"error": "eval", "message": f"not an IRI: {_line(exc)}"}
    if req.get("union") and "default_graph" not in kwargs:
        kwargs["use_default_graph_as_union"] = True
    max_rows = int(req.get("max_rows", 10_000))
    max_chars = int(req.get("max_chars", 32 << 20))
    sort = req.get("sort")
    if sort:
        out = _evaluate(store, req["query"], kwargs, SORT_ROWS, SORT_CHARS)
        ordered = None
        if out.get("kind") == "SELECT" and not out["truncated"]:
            ordered = sort_rows(out["rows"], out["vars"], [(k, bool(d)) for k, d in sort["keys"]])
        if ordered is not None:
            end = None if sort.get("limit") is None else int(sort["offset"]) + int(sort["limit"])
            out["rows"], out["truncated"] = _cap(ordered[int(sort["offset"]) : end], max_rows, max_chars)
            return out
        return _evaluate(store, sort["query"], kwargs, max_rows, max_chars)  # as written: the engine sorts
    return _evaluate(store, req["query"], kwargs, max_rows, max_chars)


def _cap(items: Iterable[list], max_rows: int, max_chars: int) -> tuple[list[list], bool]:
    """The first rows that fit max_rows and max_chars, and whether any were left out (only what is kept is read)."""
    rows: list[list] = []
    size = 0
    for row in items:
        size += _chars(row)
        if len(rows) >= max_rows or size > max_chars:
            return rows, True
        rows.append(row)
    return rows, False


def _evaluate(store: Any, query: str, kwargs: dict, max_rows: int, max_chars: int) -> dict:
    import pyoxigraph as ox

    try:
        result = store.query(query, **kwargs)
    except MemoryError:
        raise
    except SyntaxError as exc:
        return {"error": "syntax", "message": _line(exc)}
    except Exception as exc:  # OSError from the store, ValueError, …
        return {"error": "eval", "message": _line(exc)}
    try:
        if isinstance(result, ox.QueryBoolean):
            return {"kind": "ASK", "boolean": bool(result)}
        if isinstance(result, ox.QuerySolutions):
            variables = [v.value for v in result.variables]
            items = ([_cell(t) for t in solution] for solution in result)
        else:
            variables = []
            items = ([_cell(t.subject), _cell(t.predicate), _cell(t.object)] for t in result)
        rows, truncated = _cap(items, max_rows, max_chars)
        if isinstance(result, ox.QuerySolutions):
            return {"kind": "SELECT", "vars": variables, "rows": rows, "truncated": truncated}
        return {"kind": "GRAPH", "triples": rows, "truncated": truncated}
    except MemoryError:
        raise
    except Exception as exc:  # evaluation errors surface while iterating
        return {"error": "eval", "message": _line(exc)}


def answer_in_thread(store: Any, req: dict) -> dict:
    """answer() in a thread with a large stack (the calling thread's may be too small for a deep query)."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["answer"] = answer(store, req)
        except MemoryError:
            box["answer"] = {"error": "memory", "message": "out of memory"}

    old = threading.stack_size()
    threading.stack_size(QUERY_STACK)
    try:
        t = threading.Thread(target=work, name="sparql-query", daemon=True)
        t.start()
    finally:
        threading.stack_size(old)
    t.join()
    return box["answer"]


# ---------------------------------------------------------------- the worker process (child side)

_ARCH = {  # machine: (AUDIT_ARCH_*, numbers of the system calls denied, x32 ABI present)
    "x86_64": (0xC000003E, (41, 425), True),  # socket, io_uring_setup
    "aarch64": (0xC00000B7, (198, 425), False),
}


def deny_sockets() -> bool:
    """Install a seccomp filter so this process (and threads it starts later) cannot create sockets; True if done.

    socket() and io_uring_setup() fail with EPERM, as does any system call of another ABI. Must be called before
    the process starts threads: a filter covers the calling thread and the threads it starts afterwards.
    """
    import ctypes
    import platform
    import struct

    if not sys.platform.startswith("linux") or platform.machine() not in _ARCH:
        return False
    audit_arch, denied, x32 = _ARCH[platform.machine()]
    ld, jeq, jge, ret = (
        0x20,
        0x15,
        0x35,
        0x06,
    )  # BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, …|BPF_JGE|…, BPF_RET|BPF_K
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    to_deny = -1  # a jump to the last instruction
    insns = [(ld, 0, 0, 4), (jeq, 0, to_deny, audit_arch), (ld, 0, 0, 0)]  # seccomp_data.arch, then .nr
    if x32:
        insns.append((jge, to_deny, 0, 0x40000000))  # the x32 ABI's numbers
    insns += [(jeq, to_deny, 0, nr) for nr in denied]
    insns += [(ret, 0, 0, allow), (ret, 0, 0, deny)]
    last = len(insns) - 1
    prog = [
        struct.pack("HBBI", code, last - i - 1 if jt == to_deny else jt, last - i - 1 if jf == to_deny else jf, k)
        for i, (code, jt, jf, k) in enumerate(insns)
    ]
    buf = ctypes.create_string_buffer(b"".join(prog))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog), ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
        return False
    return libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.addressof(fprog), 0, 0) == 0


# Tiny queries a worker runs when it opens a store: the first query of a process pays for what the engine and the
# store set up once (the store's table readers, the query planner's first use); at 100k measures these few
# milliseconds made the first run of a README query 143 -> 85 ms.
WARM_QUERIES = (
    "SELECT * WHERE { ?s ?p ?o } LIMIT 1",
    "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } } LIMIT 1",
    "SELECT * WHERE { ?s a ?o } LIMIT 1",
    'SELECT * WHERE { ?s ?p "" } LIMIT 1',
    "SELECT * WHERE { <urn:x> ?p ?o } LIMIT 1",
)


class _Stores:
    """The one store a worker has open, reopened when the caller names another (a new build)."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.store: Any = None
        self.hold: int | None = None

    def get(self, path: str) -> Any:
        import pyoxigraph as ox

        st = os.stat(path)  # FileNotFoundError when the build is gone
        key = (path, st.st_dev, st.st_ino)
        if key != self.key:
            self.close()
            self.hold = hold_generation(Path(path).parent)
            self.store = ox.Store.read_only(path)
            self.key = key
            for q in WARM_QUERIES:
                try:
                    list(self.store.query(q, use_default_graph_as_union=True))
                except Exception:  # a damaged store is told by the query that comes, not here
                    break
        return self.store

    def close(self) -> None:
        self.store = None
        self.key = None
        if self.hold is not None:
            os.close(self.hold)
            self.hold = None


def _limit_cpu(seconds: float) -> None:
    import math
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime) + math.ceil(seconds) + 2
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _serve(proto_in: Any, proto_out: Any, sandboxed: bool) -> None:
    def send(obj: dict) -> None:
        proto_out.write(json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n")
        proto_out.flush()

    try:
        import pyoxigraph  # noqa: F401  (loaded before saying ready, so the first query does not pay for it)
    except ImportError as exc:
        send({"ready": False, "message": _line(exc)})
        return
    stores = _Stores()
    send({"ready": True, "sandboxed": sandboxed, "pid": os.getpid()})
    while True:
        line = proto_in.readline()
        if not line:
            return  # the parent closed the pipe (or died): nothing more to do
        req = json.loads(line)
        if req.get("cpu"):
            _limit_cpu(float(req["cpu"]))
        try:
            store = stores.get(req["store"])
            if req.get("open"):  # open (and warm) the store before the queries come
                send({"opened": True})
                continue
        except FileNotFoundError:
            send({"error": "store", "message": f"no store at {req['store']}: run 'kg build' first"})
            continue
        except OSError as exc:
            send({"error": "store", "message": f"cannot open the store {req['store']}: {_line(exc)}"})
            continue
        try:
            out = answer(store, req)
        except MemoryError:
            out = {"error": "memory", "message": "out of memory"}
        send(out)
        if out.get("error") == "memory":
            os._exit(3)  # the heap may be in pieces: let the parent start a fresh worker


def _child_main(argv: list[str]) -> None:
    import resource

    memory = int(argv[1]) if len(argv) > 1 else 0
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    sandboxed = deny_sockets()  # before any thread exists
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(2, 1)  # whatever prints to stdout goes to stderr, not into the answers
    threading.stack_size(QUERY_STACK)
    t = threading.Thread(target=_serve, args=(proto_in, proto_out, sandboxed), name="sparql-worker")
    t.start()
    t.join()


# ---------------------------------------------------------------- the parent side


class Worker:
    """One worker process and its pipes; used by one request at a time."""

    def __init__(self, memory: int, start_timeout: float = START_TIMEOUT) -> None:
        env = {"MALLOC_ARENA_MAX": "2", "PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C.UTF-8"}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", str(Path(__file__).resolve()), str(int(memory))],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                close_fds=True,
                start_new_session=True,  # Ctrl+C in the terminal reaches the server, which ends its workers itself
            )
        except OSError as exc:
            raise WorkerError(START, _line(exc)) from None
        self._buf = bytearray()
        self._err = bytearray()
        self._open = [self.proc.stdout.fileno(), self.proc.stderr.fileno()]  # type: ignore[union-attr]
        self.queries = 0
        try:
            hello = json.loads(self._read(time.monotonic() + start_timeout, 1 << 16))
        except WorkerError as exc:
            raise WorkerError(START, exc.detail or exc.kind) from None
        if not hello.get("ready"):
            self.kill()
            raise WorkerError(START, hello.get("message", "the worker did not start"))
        self.sandboxed = bool(hello.get("sandboxed"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def ask(self, req: dict, timeout: float, max_bytes: int) -> bytes:
        """Send one query and wait for its answer (one JSON line); kills the worker at the time limit (WorkerError
        timeout)."""
        data = json.dumps(req, ensure_ascii=False).encode("utf-8") + b"\n"
        try:
            self.proc.stdin.write(data)  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except OSError:
            raise self._died() from None
        self.queries += 1
        return self._read(time.monotonic() + timeout, max_bytes)

    def _read(self, deadline: float, limit: int) -> bytes:
        out_fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                return line
            if len(self._buf) > limit:
                self.kill()
                raise WorkerError(LARGE, f"the answer is larger than {limit} bytes")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise WorkerError(TIMEOUT)
            try:
                ready, _, _ = select.select(self._open, [], [], remaining)
            except InterruptedError:  # pragma: no cover - PEP 475 retries select itself
                continue
            for fd in ready:
                chunk = os.read(fd, 1 << 16)
                if fd == out_fd:
                    if not chunk:
                        raise self._died()
                    self._buf += chunk
                elif chunk:
                    self._err = (self._err + chunk)[-ERROR_TAIL:]
                else:
                    self._open.remove(fd)

    def _died(self) -> WorkerError:
        """Why the worker stopped answering, from its exit status and what it wrote on stderr."""
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        err_fd = self.proc.stderr.fileno()  # type: ignore[union-attr]
        if err_fd in self._open:
            try:
                while chunk := os.read(err_fd, 1 << 16):
                    self._err = (self._err + chunk)[-ERROR_TAIL:]
            except OSError:
                pass
        self._close_pipes()
        text = self._err.decode("utf-8", "replace")
        if code == -signal.SIGXCPU:
            return WorkerError(TIMEOUT, "CPU time limit")
        if "memory allocation" in text or "MemoryError" in text or code == 3 or code == -signal.SIGKILL:
            said = [line for line in text.splitlines() if "memory" in line.lower()]
            return WorkerError(MEMORY, said[0].strip() if said else "")
        if "overflow" in text or code == -signal.SIGSEGV:
            return WorkerError(CRASH, "stack overflow")
        last = text.strip().splitlines()[-1] if text.strip() else f"exit status {code}"
        return WorkerError(CRASH, last)

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:  # pragma: no cover - it ended in the meantime
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process in uninterruptible sleep
            pass
        self._close_pipes()

    def _close_pipes(self) -> None:
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass


class AnswerCache:
    """Answers (the workers' JSON lines) of queries on generations' stores, the least recently used dropped first.

    Only a request marked "cache" is kept (kg.sparql marks a query whose answer cannot differ from one run to the
    next: no NOW(), RAND(), UUID() …), and only on a store inside a generation folder, which is never written once
    published. The store folder's device, inode and modification time are part of the key, so a folder made anew
    under the same name is another store.
    """

    def __init__(self, budget: int = CACHE_BYTES) -> None:
        self.budget = budget
        self.hits = 0  # answers given from the cache (for tests and diagnostics)
        self._answers: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def key(self, req: dict) -> str | None:
        """The request's key, or None when its answer is not to be kept."""
        store = req.get("store")
        if not req.get("cache") or self.budget <= 0 or not store or Path(store).parent.parent.name != GENERATIONS:
            return None
        try:
            st = os.stat(store)
        except OSError:
            return None
        return json.dumps([st.st_dev, st.st_ino, st.st_mtime_ns, req], sort_keys=True, ensure_ascii=False)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            line = self._answers.get(key)
            if line is not None:
                self._answers.move_to_end(key)
                self.hits += 1
            return line

    def put(self, key: str, line: bytes) -> None:
        size = len(key) + len(line)
        if size > self.budget // 4:
            return  # one large answer would push out many small ones
        with self._lock:
            old = self._answers.pop(key, None)
            if old is not None:
                self._size -= len(key) + len(old)
            self._answers[key] = line
            self._size += size
            while self._size > self.budget:
                dropped_key, dropped = self._answers.popitem(last=False)
                self._size -= len(dropped_key) + len(dropped)


_POOLS: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


class WorkerPool:
    """A few worker processes, started when first needed and replaced when killed.

    size workers run queries at once; `queue` more requests may wait up to `queue_wait` seconds for one, and any
    further request is refused at once (WorkerError busy) rather than piling up. A worker that timed out, ran out
    of memory or crashed is killed and a new one started in the background; the slot counts as busy until it is
    ready. A worker is also replaced after `recycle` queries, so no heap grows old. Answers are kept in an
    AnswerCache of `cache_bytes` (0: none), and one found there is given without a worker, even when all are busy.
    """

    def __init__(
        self,
        size: int,
        memory: int,
        queue: int = 0,
        queue_wait: float = 1.0,
        recycle: int = 500,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        self.size = max(1, int(size))
        self.memory = int(memory)
        self.queue = max(0, int(queue))
        self.queue_wait = float(queue_wait)
        self.recycle = recycle
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._spare = self.size  # slots with no process yet
        self._waiting = 0
        self._closed = False
        self._cond = threading.Condition()
        self._store: str | None = None  # the store the last query named: a new worker opens it before it is idle
        self.cache = AnswerCache(cache_bytes)
        _POOLS.add(self)

    def run(self, req: dict, timeout: float, max_bytes: int = 64 << 20) -> dict:
        if req.get("store"):
            self._store = str(req["store"])
        key = self.cache.key(req)
        cached = None if key is None else self.cache.get(key)
        if cached is not None:
            return json.loads(cached)
        worker = self._acquire()
        healthy = False
        try:
            line = worker.ask(req, timeout, max_bytes)
            out = json.loads(line)
            if out.get("error") == "memory":
                worker.kill()
                raise WorkerError(MEMORY, out.get("message", ""))
            healthy = True
        finally:
            self._release(worker, healthy and worker.alive() and worker.queries < self.recycle)
        if key is not None and "error" not in out:
            self.cache.put(key, line)
        return out

    def start(self, store: str | Path | None = None) -> None:
        """Start every worker now, in the background, for a caller that knows a query is coming (kg sparql starts
        its worker while it loads the rest of itself; kg serve its workers with the store to open). A query that
        comes before one is ready waits for it when the pool has a `queue`, and is refused (busy) when it has none.
        store: the store folder each new worker opens (and warms) before it takes queries."""
        if store is not None:
            self._store = str(store)
        with self._cond:
            starting, self._spare = self._spare, 0
        for _ in range(starting):
            threading.Thread(target=self._replace, name="sparql-worker-start", daemon=True).start()

    def pids(self) -> list[int]:
        """The processes of the idle workers (for tests and diagnostics)."""
        with self._cond:
            return [w.pid for w in self._idle]

    def _acquire(self) -> Worker:
        with self._cond:
            if self._closed:
                raise WorkerError(START, "the query pool is closed")
            if not self._idle and not self._spare:
                if self._waiting >= self.queue:
                    raise WorkerError(BUSY)
                self._waiting += 1
                try:
                    self._cond.wait_for(lambda: self._idle or self._spare or self._closed, self.queue_wait)
                finally:
                    self._waiting -= 1
                if self._closed or not (self._idle or self._spare):
                    raise WorkerError(BUSY)
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    self._busy.add(worker)
                    return worker
                worker.kill()  # ended while idle (killed from outside): its slot gets a new process
                self._spare += 1
            self._spare -= 1
        try:
            worker = Worker(self.memory)
        except BaseException:
            with self._cond:
                self._spare += 1
                self._cond.notify()
            raise
        with self._cond:
            self._busy.add(worker)
        return worker

    def _release(self, worker: Worker, healthy: bool) -> None:
        with self._cond:
            self._busy.discard(worker)
            if healthy and not self._closed:
                self._idle.append(worker)
                self._cond.notify()
                return
        worker.kill()
        if self._closed:
            return
        threading.Thread(target=self._replace, name="sparql-worker-start", daemon=True).start()

    def _replace(self) -> None:
        try:
            fresh: Worker | None = Worker(self.memory)
        except Exception:
            fresh = None
        store = self._store
        if fresh is not None and store:
            try:  # the answer says opened, or why not (told again, in full, by the query that comes)
                fresh.ask({"open": True, "store": store}, START_TIMEOUT, 1 << 16)
            except WorkerError:
                fresh.kill()
                fresh = None
        with self._cond:
            if fresh is not None and not self._closed:
                self._idle.append(fresh)
                fresh = None
            else:
                self._spare += 1
            self._cond.notify()
        if fresh is not None:
            fresh.kill()

    def close(self, busy: bool = False) -> None:
        """End every idle worker now (and the busy ones with busy=True: at exit); no new one is started."""
        with self._cond:
            self._closed = True
            ending, self._idle = self._idle, []
            if busy:
                ending += list(self._busy)
            self._cond.notify_all()
        for w in ending:
            w.kill()


@atexit.register
def _close_all() -> None:
    for pool in list(_POOLS):
        pool.close(busy=True)


if __name__ == "__main__":
    _child_main(sys.argv)
