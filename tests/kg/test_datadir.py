"""The data dir cannot lose data: refused folders, concurrent builds, builds killed at every rename, a full or
read-only disk, readers during builds, `kg remove`, symlinks and modes. Builds run as real `kg` processes."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.datadir import (
    CURRENT,
    GENERATIONS,
    LOCK,
    MARKER,
    MARKER_CONTENT,
    STAGING,
    DataDir,
    DataDirError,
    check_target,
    write_atomic,
)
from kg.store import build
from kg.vocab import SP

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "kg" / "samples").glob("*.txt"))
FIXTURES = ROOT / "tests" / "kg" / "plan" / "fixtures"
A, B, C = SAMPLES[0], SAMPLES[2], FIXTURES / "taichung_box.txt"
PLAN_FILES_QUERY = f"SELECT DISTINCT ?f WHERE {{ GRAPH ?g {{ ?p <{SP.sourceFile}> ?f }} }}"
ENV = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")


def kg(*args: str | Path, cwd: Path | None = None, prefix: list[str] | None = None, timeout: float = 120):
    cmd = [*(prefix or []), sys.executable, "-m", "kg.cli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=ENV, timeout=timeout)


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    no_traceback(proc)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def snapshot(path: Path) -> dict:
    """Every entry under path: mode, size, mtime, content hash (files) or target (symlinks)."""
    out = {}
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            p = Path(folder) / name
            st = p.lstat()
            if p.is_symlink():
                what = os.readlink(p)
            elif p.is_file():
                what = hashlib.sha1(p.read_bytes()).hexdigest()
            else:
                what = None
            out[str(p.relative_to(path))] = (st.st_mode, st.st_size if what is not None else 0, st.st_mtime_ns, what)
    st = path.stat()
    out["."] = (st.st_mode, st.st_mtime_ns)
    return out


def plans_in(data_dir: Path) -> set[str]:
    """The plans of the current generation, checked to be one complete build: records, originals and store agree."""
    d = DataDir(data_dir).pin()
    assert d.generation() is not None
    records = d.records()
    files = {r["file"] for r in records}
    assert len(files) == len(records)
    for r in records:
        assert (d.originals_dir / r["original"]).is_file()
    store = ox.Store.read_only(str(d.store_dir))
    in_store = {str(s["f"].value) for s in store.query(PLAN_FILES_QUERY)}
    del store
    assert in_store == files
    return files


def stale(data_dir: Path) -> list[str]:
    return sorted(os.listdir(data_dir / STAGING)) + sorted(p.name for p in data_dir.glob(".*.tmp-*"))


def variant(tmp: Path, year: int) -> Path:
    """Another plan: sample 000 (工務局, ROC 105) as if of another year."""
    text = A.read_text("utf-8").replace("高雄市政府工務局105年度", f"高雄市政府工務局{year}年度", 1)
    path = tmp / f"工務局{year}.txt"
    path.write_text(text, "utf-8")
    return path


# ----- folders that are not data dirs


def test_a_folder_with_other_files_is_refused_and_left_byte_identical(tmp_path):
    work = tmp_path / "plans-work"
    (work / "sub").mkdir(parents=True)
    (work / "notes.txt").write_text("my notes", "utf-8")
    (work / "sub" / "draft.docx").write_bytes(b"PK\x03\x04 not really")
    os.chmod(work, 0o751)
    before = snapshot(work)
    proc = kg("build", "--no-index", A, "--data-dir", work)
    assert proc.returncode != 0
    line = one_line_error(proc)
    assert str(work) in line and "not a kg data dir" in line
    # `--data-dir .` in that folder: the same, naming the folder itself.
    proc = kg("build", "--no-index", A, "--data-dir", ".", cwd=work)
    assert proc.returncode != 0 and str(work) in one_line_error(proc)
    # A data dir path that is a file.
    proc = kg("build", "--no-index", A, "--data-dir", work / "notes.txt")
    assert proc.returncode != 0 and "is a file" in one_line_error(proc)
    assert snapshot(work) == before


def test_a_data_dir_that_is_or_is_inside_the_input_folder_is_refused(tmp_path):
    plans = tmp_path / "plans"
    plans.mkdir()
    shutil.copy(A, plans)
    shutil.copy(B, plans)
    before = snapshot(plans)
    for target in (plans, plans / "kg-data", Path(".")):
        proc = kg("build", "--no-index", plans, "--data-dir", target, cwd=plans if target == Path(".") else None)
        assert proc.returncode != 0
        assert "plans" in one_line_error(proc)
    assert snapshot(plans) == before
    # The same folder given as a data dir that is already one (built elsewhere, then plans put in it) is refused too.
    data = tmp_path / "data"
    assert kg("build", "--no-index", A, "--data-dir", data).returncode == 0
    shutil.copy(B, data)
    proc = kg("build", "--no-index", data, "--data-dir", data)
    assert proc.returncode != 0 and "folder of plans" in one_line_error(proc)


def test_a_data_dir_of_the_previous_layout_is_upgraded_without_loss(tmp_path):
    data = tmp_path / "kg-data"
    build([A], data)
    gen = data / GENERATIONS / (data / CURRENT).read_text().strip()
    for part in gen.iterdir():  # the layout before generations: records/ store/ originals/ at the top
        part.rename(data / part.name)
    for p in (data / GENERATIONS, data / STAGING):
        shutil.rmtree(p)
    for p in (data / CURRENT, data / MARKER, data / LOCK):
        p.unlink()
    assert DataDir(data).records() and DataDir(data).is_data_dir()
    proc = kg("build", "--no-index", C, "--data-dir", data)
    assert proc.returncode == 0, proc.stderr
    assert plans_in(data) == {A.name, C.name}
    assert json.loads((data / MARKER).read_text()) == MARKER_CONTENT
    assert (data / "records").is_dir()  # the old layout is the previous build: kept until the next one succeeds
    proc = kg("build", "--no-index", B, "--data-dir", data)
    assert proc.returncode == 0, proc.stderr
    assert plans_in(data) == {A.name, B.name, C.name}
    assert not (data / "records").exists() and not (data / "store").exists()


def test_the_remains_of_an_interrupted_build_of_the_old_version_are_not_forgotten(tmp_path):
    old = tmp_path / f".kg-data.old-{os.getpid()}"  # what the old swap left when killed between its renames
    (old / "records").mkdir(parents=True)
    (old / "store").mkdir()
    proc = kg("build", "--no-index", B, "--data-dir", tmp_path / "kg-data")
    assert proc.returncode != 0 and old.name in one_line_error(proc)
    assert not (tmp_path / "kg-data").exists()


# ----- concurrent builds


def test_two_concurrent_builds_of_different_plans_keep_both(tmp_path):
    data = tmp_path / "kg-data"
    cmds = [
        [sys.executable, "-m", "kg.cli", "build", "--no-index", str(plan), "--data-dir", str(data)] for plan in (A, C)
    ]
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV) for c in cmds]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "Traceback" not in err
    assert plans_in(data) == {A.name, C.name}
    assert stale(data) == []


def test_the_check_of_a_new_folder_is_not_fooled_by_a_build_writing_its_marker_meanwhile(tmp_path):
    # the unlocked check before a build takes the lock races the first build of the folder, which writes the marker:
    # the folder must be seen as new or as a data dir, never as someone else's because the marker came in between
    refused = []
    for n in range(300):
        folder = tmp_path / f"d{n}"
        folder.mkdir()
        writer = threading.Thread(target=write_atomic, args=(folder / MARKER, json.dumps(MARKER_CONTENT) + "\n"))
        writer.start()
        for _ in range(20):
            try:
                check_target(folder)
            except DataDirError as exc:
                refused.append(str(exc))
        writer.join()
    assert refused == []


def test_a_build_waits_for_the_lock_or_is_refused(tmp_path):
    data = tmp_path / "kg-data"
    assert kg("build", "--no-index", A, "--data-dir", data).returncode == 0
    before = snapshot(data)
    fd = os.open(data / LOCK, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a running build holds it
    try:
        proc = kg("build", "--no-index", B, "--data-dir", data, "--wait", "0")
        assert proc.returncode == 1 and "another build" in one_line_error(proc)
        proc = kg("build", "--no-index", B, "--data-dir", data, "--wait", "0.5")
        assert proc.returncode == 1 and "waiting for another build of" in proc.stderr
        assert "--wait" in one_line_error(proc)
        assert snapshot(data) == before
        waiting = subprocess.Popen(
            [sys.executable, "-m", "kg.cli", "build", "--no-index", str(B), "--data-dir", str(data)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        err: list[str] = []
        reader = threading.Thread(target=lambda: err.extend(waiting.stderr))
        reader.start()
        deadline = time.monotonic() + 60
        while not any("waiting for another build of" in line for line in err) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any(str(data) in line for line in err if "waiting" in line), err
        time.sleep(0.3)
        assert waiting.poll() is None and plans_in(data) == {A.name}  # waits, and writes nothing meanwhile
    finally:
        os.close(fd)
    waiting.wait(timeout=120)
    reader.join()
    assert waiting.returncode == 0, err
    assert plans_in(data) == {A.name, B.name}


# ----- crashes


STRACE = ["strace", "-f", "-qq"]  # (not --seccomp-bpf: strace 6.1 injects nothing with it)


def _strace_ok() -> bool:
    if not shutil.which("strace"):
        return False
    probe = subprocess.run([*STRACE, "-o", "/dev/null", "-e", "trace=rename", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.fixture
def strace_available() -> None:
    assert _strace_ok(), "these tests need strace with ptrace: apt-get install -y strace (.ci/run does)"


def test_a_build_killed_at_any_rename_leaves_the_old_or_the_new_plans(tmp_path, strace_available):
    data = tmp_path / "kg-data"
    for plan in (A, B):  # two generations: the build under test prunes one too
        assert not build([plan], data).errors
    renames = ["rename,renameat,renameat2"]

    def kill_at(n: int) -> str:
        return f"inject={renames[0]}:signal=SIGKILL:when={n}"

    # How many renames a build makes (into a data dir with a previous generation to prune), counted on a copy.
    shutil.copytree(data, tmp_path / "count")
    trace = tmp_path / "renames.txt"
    proc = kg(
        "build",
        "--no-index",
        C,
        "--data-dir",
        tmp_path / "count",
        prefix=[*STRACE, "-o", str(trace), "-e", f"trace={renames[0]}"],
    )
    assert proc.returncode == 0, proc.stderr
    count = sum(1 for line in trace.read_text().splitlines() if "rename" in line and "= 0" in line)
    assert count >= 5  # the store's own, staging -> generations, CURRENT, pruning
    expected = {A.name, B.name}
    outcomes = set()
    for n in range(1, count + 1):
        plan = variant(tmp_path, 90 + n)
        killed = kg(
            "build",
            "--no-index",
            plan,
            "--data-dir",
            data,
            prefix=[*STRACE, "-o", "/dev/null", "-e", f"trace={renames[0]}", "-e", kill_at(n)],
        )
        assert killed.returncode != 0, f"rename {n}: the build was not killed"
        found = plans_in(data)  # a complete set, whose store opens
        assert found in (expected, expected | {plan.name}), f"killed at rename {n}: {found}"
        outcomes.add(found == expected)
        again = build([plan], data)  # the next build (here in this process, for speed)
        assert again.built == [plan.name] and not again.errors, f"after a kill at rename {n}"
        expected = expected | {plan.name}
        assert plans_in(data) == expected
        assert stale(data) == [], f"after a kill at rename {n}"
        assert len(os.listdir(data / GENERATIONS)) == 2  # the current and the previous one
    assert outcomes == {True, False}  # some kills left the old plans, some (after CURRENT) the new ones
    stats = kg("stats", "--json", "--data-dir", data)
    assert stats.returncode == 0 and json.loads(stats.stdout)["plans"] == len(expected), stats.stderr


def test_a_first_build_killed_at_its_first_rename_leaves_a_folder_the_next_build_takes(tmp_path, strace_available):
    data = tmp_path / "kg-data"
    killed = kg(
        "build",
        "--no-index",
        A,
        "--data-dir",
        data,
        prefix=[*STRACE, "-o", "/dev/null", "-e", "trace=rename", "-e", "inject=rename:signal=SIGKILL:when=1"],
    )
    assert killed.returncode != 0 and not (data / MARKER).exists()  # killed writing the marker
    assert kg("stats", "--data-dir", data).returncode == 1  # nothing built yet, said so
    proc = kg("build", "--no-index", A, "--data-dir", data)
    assert proc.returncode == 0, proc.stderr
    assert plans_in(data) == {A.name} and stale(data) == []


# ----- the edge: full disk, read-only file system, a mount point


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    path.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
    if subprocess.run(mount, capture_output=True).returncode:
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="mounting a tmpfs needs root")
def test_a_full_or_read_only_disk_keeps_the_previous_build_and_says_so(tmp_path):
    with tmpfs(tmp_path / "disk", "6m") as data:  # the data dir is the mount point itself
        proc = kg("build", "--no-index", A, "--data-dir", data)
        assert proc.returncode == 0, proc.stderr
        current = (data / CURRENT).read_text()
        proc = kg("build", "--no-index", *SAMPLES[1:], "--data-dir", data)  # does not fit beside the first
        assert proc.returncode == 1
        line = one_line_error(proc)
        assert "no space left on the device" in line and str(data) in line
        assert (data / CURRENT).read_text() == current and plans_in(data) == {A.name}
        assert stale(data) == []
        assert kg("stats", "--data-dir", data).returncode == 0
        subprocess.run(["mount", "-o", "remount,ro", str(data)], check=True)
        try:
            before = snapshot(data)
            proc = kg("build", "--no-index", B, "--data-dir", data)
            assert proc.returncode == 1 and "read-only" in one_line_error(proc)
            stats = kg("stats", "--json", "--data-dir", data)  # readers need no write access
            assert stats.returncode == 0 and json.loads(stats.stdout)["plans"] == 1, stats.stderr
            assert snapshot(data) == before
        finally:
            subprocess.run(["mount", "-o", "remount,rw,size=64m", str(data)], check=True)
        for _ in range(2):  # a mount point is never renamed (EBUSY): builds go into it, it stays mounted
            proc = kg("build", "--no-index", *SAMPLES[1:], "--data-dir", data)
            assert proc.returncode == 0, proc.stderr
        assert os.path.ismount(data)
        assert plans_in(data) == {p.name for p in SAMPLES}


# ----- readers


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Path:
    """Two sample plans with the search index, built once."""
    data = tmp_path_factory.mktemp("indexed") / "kg-data"
    proc = kg("build", A, SAMPLES[1], "--data-dir", data)
    assert proc.returncode == 0, proc.stderr
    return data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_reader_commands_write_nothing_and_run_beside_each_other(indexed):
    before = snapshot(indexed)
    d = str(indexed)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "kg.cli", "serve", "--port", str(port), "--data-dir", d],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV,
    )
    try:
        readers = [
            ["export", "--format", "ttl"],
            ["export", "--format", "jsonl"],
            ["stats"],
            ["units"],
            ["systems"],
            ["validate"],
            ["search", "電話禮貌測試"],
            ["sparql", "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"],
            ["practices"],
        ]
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "kg.cli", *r, "--data-dir", d],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=ENV,
            )
            for r in readers
        ]  # all at once, the server too
        for r, p in zip(readers, procs, strict=True):
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, f"kg {' '.join(r)}: {err}"
            assert "Traceback" not in err and "LOCK" not in err
        deadline = time.monotonic() + 60
        body = b""
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    body = r.read()
                break
            except OSError:
                time.sleep(0.3)
        assert body, "kg serve answered"
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert snapshot(indexed) == before


def test_stats_in_a_loop_while_an_export_and_a_build_run(tmp_path):
    data = tmp_path / "kg-data"
    assert kg("build", "--no-index", A, B, "--data-dir", data).returncode == 0
    results: list[subprocess.CompletedProcess] = []
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            results.append(kg("stats", "--json", "--data-dir", data))

    t = threading.Thread(target=loop)
    t.start()
    try:
        export = subprocess.Popen(
            [sys.executable, "-m", "kg.cli", "export", "--format", "nt", "--data-dir", str(data)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        built = kg("build", "--no-index", C, SAMPLES[1], "--data-dir", data)
        out, err = export.communicate(timeout=120)
        while len(results) < 3:
            time.sleep(0.1)
    finally:
        stop.set()
        t.join()
    assert built.returncode == 0, built.stderr
    assert export.returncode == 0 and "Traceback" not in err and out.count("\n") > 1000, err
    for r in results:
        assert r.returncode == 0, r.stderr
        no_traceback(r)
        assert json.loads(r.stdout)["plans"] in (2, 4)
    assert plans_in(data) == {A.name, B.name, C.name, SAMPLES[1].name}


# ----- kg remove


def test_remove_takes_plans_out_of_the_graph_and_the_index(indexed, tmp_path):
    data = tmp_path / "kg-data"
    shutil.copytree(indexed, data)
    records = DataDir(data).records()
    gone = next(r for r in records if r["file"] == A.name)
    before = snapshot(data)
    for args in (["no-such-plan"], ["--agency", "高雄市政府工務局", "--year", "1999"], ["--agency", "沒有這個機關"]):
        proc = kg("remove", *args, "--data-dir", data)
        assert proc.returncode == 1 and "no plan" in one_line_error(proc)
    assert snapshot(data) == before
    proc = kg("remove", gone["id"], "--data-dir", data)
    assert proc.returncode == 0, proc.stderr
    assert f"removed {gone['id']}" in proc.stdout
    assert plans_in(data) == {SAMPLES[1].name}
    hits = kg("search", "服務", "--json", "--top-k", "200", "--data-dir", data)
    assert hits.returncode == 0, hits.stderr
    ids = {h["id"] for h in json.loads(hits.stdout)["results"]}
    assert ids and not ids & {m["id"] for m in gone["measures"]}
    # By agency and (ROC) year: the other plan, 違建大隊 111.
    other = DataDir(data).records()[0]
    proc = kg("remove", "--agency", other["agency"]["name"], "--year", str(other["year_roc"]), "--data-dir", data)
    assert proc.returncode == 0, proc.stderr
    assert DataDir(data).records() == []
    assert kg("stats", "--data-dir", data).returncode == 0


# ----- what the data dir itself is


def test_a_symlinked_data_dir_stays_a_symlink_and_keeps_its_mode(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    os.chmod(real, 0o2750)
    link = tmp_path / "kg-data"
    link.symlink_to(real)
    for plan in (A, B, C):
        proc = kg("build", "--no-index", plan, "--data-dir", link)
        assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.stat().st_mode & 0o7777 == 0o2750
    assert plans_in(link) == {A.name, B.name, C.name}
    assert sorted(os.listdir(real)) == sorted([".lock", MARKER, CURRENT, GENERATIONS, STAGING])
