"""Errors at the edges of `kg`: one line naming the file, folder, port or option, a non-zero exit, no traceback."""

from __future__ import annotations

import os
import resource
import socket
import time
from pathlib import Path

import pytest

from kg import cli
from tests.kg.test_csv_safety import dangerous_plan, kg

MEMORY = 2 * 1024**3  # a process that reads /dev/zero into memory fails here rather than taking the machine down


def capped(*args: str, timeout: float = 20, **kw):
    return kg(*args, timeout=timeout, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY)), **kw)


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [x for x in stderr.splitlines() if not x.startswith("usage:")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("small")
    done = kg("build", "--no-index", str(dangerous_plan(folder)), "--data-dir", str(folder / "kg-data"))
    assert done.returncode == 0, done.stderr
    return folder / "kg-data"


def test_export_into_a_missing_folder_names_it(small_dir):
    done = kg("export", "-o", "/missing/x", "--data-dir", str(small_dir))
    assert done.returncode == 1
    assert "/missing/x" in one_line(done.stderr)


@pytest.mark.parametrize("target", ["folder", "/dev/full"])
def test_export_to_a_folder_or_a_full_disk_names_it(small_dir, tmp_path, target):
    path = str(tmp_path) if target == "folder" else target
    if target == "/dev/full" and not Path(target).exists():
        pytest.skip("no /dev/full here")
    done = kg("export", "--format", "csv", "-o", path, "--data-dir", str(small_dir))
    assert done.returncode == 1
    assert path in one_line(done.stderr)


def test_a_failed_export_leaves_the_earlier_file_as_it_was(tmp_path):
    out = tmp_path / "graph.ttl"
    out.write_text("earlier", "utf-8")
    done = kg("export", "-o", str(out), "--data-dir", str(tmp_path / "none"))
    assert done.returncode == 1 and "kg build" in one_line(done.stderr)
    assert out.read_text("utf-8") == "earlier"


def test_export_to_a_pipe_or_device_is_allowed(small_dir):
    done = kg("export", "--format", "jsonl", "-o", "/dev/stdout", "--data-dir", str(small_dir))
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 5


@pytest.mark.parametrize("port", ["99999", "65536", "0", "-1", "http", ""])
def test_serve_refuses_a_port_out_of_range(tmp_path, port):
    done = kg("serve", "--port", port, "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert "--port" in one_line(done.stderr) and "1 to 65535" in done.stderr


def test_serve_refuses_an_empty_host(tmp_path):
    done = kg("serve", "--host", " ", "--data-dir", str(tmp_path))
    assert done.returncode == 2 and "--host" in one_line(done.stderr)


def test_serve_on_a_port_in_use_names_the_port(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        done = kg("serve", "--port", str(port), "--data-dir", str(tmp_path), timeout=30)
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert str(port) in line and "in use" in line
    assert time.monotonic() - started < 15  # told before the data dir is loaded


def test_serve_on_an_unknown_host_names_it(tmp_path):
    done = kg("serve", "--host", "no-such-host.invalid", "--data-dir", str(tmp_path), timeout=60)
    assert done.returncode == 1 and "no-such-host.invalid" in one_line(done.stderr)


def test_ctrl_c_exits_130_quietly(monkeypatch, capsys, tmp_path):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_stats", interrupted)
    assert cli.main(["stats", "--data-dir", str(tmp_path)]) == 130
    assert capsys.readouterr().err == ""


def test_an_os_error_in_a_command_is_one_line_naming_the_path(monkeypatch, capsys, tmp_path):
    def unreadable(args):
        raise PermissionError(13, "Permission denied", "/srv/plans/x.rq")

    monkeypatch.setattr(cli, "cmd_stats", unreadable)
    assert cli.main(["stats", "--data-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err == "error: /srv/plans/x.rq: Permission denied\n"


def test_a_query_text_that_names_dev_zero_is_refused_quickly(small_dir):
    done = capped("sparql", "/dev/zero", "--data-dir", str(small_dir))
    assert done.returncode == 1
    one_line(done.stderr)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_query_file_that_is_a_fifo_or_a_device_is_refused_quickly(small_dir, tmp_path, kind):
    query = tmp_path / "q.rq"
    if kind == "fifo":
        os.mkfifo(query)
    else:
        query.symlink_to("/dev/zero")
    done = capped("sparql", str(query), "--data-dir", str(small_dir), timeout=10)
    assert done.returncode in (1, 2)
    assert "q.rq" in one_line(done.stderr)


def test_a_query_on_stdin_is_capped(small_dir):
    with open("/dev/zero", "rb") as zero:
        done = capped("sparql", "-", "--data-dir", str(small_dir), stdin=zero, timeout=10)
    assert done.returncode in (1, 2)
    one_line(done.stderr)


def test_an_aliases_file_that_is_a_fifo_is_refused_quickly(tmp_path):
    data = tmp_path / "kg-data"
    plan = str(dangerous_plan(tmp_path))
    assert kg("build", "--no-index", plan, "--data-dir", str(data)).returncode == 0
    os.mkfifo(data / "aliases.toml")
    done = capped("build", "--no-index", plan, "--data-dir", str(data), timeout=10)
    assert done.returncode == 1
    assert "aliases.toml" in one_line(done.stderr)
