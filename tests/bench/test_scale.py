"""The scale benchmark's own measuring: child processes' peak memory, disk use with hard links, the table."""

from __future__ import annotations

import os
import sys

import pytest

from bench.scale import Table, _bigrams, disk_usage, load_queries, main, percentile, run


def test_run_reports_the_childs_own_peak_memory_and_status():
    small = run([sys.executable, "-c", "pass"], dict(os.environ))
    big = run([sys.executable, "-c", "x = bytearray(300 * 2**20); x[::4096] = b'1' * len(x[::4096])"], dict(os.environ))
    assert small.code == big.code == 0
    assert big.rss - small.rss > 200 * 2**20
    failed = run([sys.executable, "-c", "import sys; print('out'); sys.exit(3)"], dict(os.environ))
    assert (failed.code, failed.out) == (3, "out\n")


def test_a_childs_peak_memory_is_its_own_not_the_benchmarks():
    held = bytearray(400 * 2**20)
    held[::4096] = b"1" * len(held[::4096])  # this process is now 400 MB bigger; the child is not
    small = run([sys.executable, "-c", "pass"], dict(os.environ))
    assert small.rss < 150 * 2**20
    del held


def test_run_stops_a_child_past_its_timeout():
    with pytest.raises(TimeoutError):
        run([sys.executable, "-c", "import time; time.sleep(30)"], dict(os.environ), timeout=0.5)


def test_disk_usage_counts_a_hard_linked_file_once(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 1_000_000)
    once = disk_usage(tmp_path)
    os.link(tmp_path / "a", tmp_path / "b")
    assert disk_usage(tmp_path) == once >= 1_000_000
    (tmp_path / "c").write_bytes(b"y" * 1_000_000)
    assert disk_usage(tmp_path) >= once + 1_000_000


def test_percentiles_and_queries():
    assert percentile([5, 1, 3, 2, 4], 0.5) == 3
    assert percentile(list(range(101)), 0.95) == 95
    queries = load_queries()
    assert len(queries) == len(set(queries)) >= 50


def test_bm25_tokens_are_bigrams_of_chinese_and_ascii_words():
    assert _bigrams("1999專線 FAQ") == ["1999", "專線", "faq"]
    assert _bigrams("電話禮貌") == ["電話", "話禮", "禮貌"]


def test_table_aligns_wide_characters(capsys):
    t = Table("t")
    t.add("中文", "1", "2", "3")
    t.add("ascii", "10", "20", "30")
    t.print()
    lines = capsys.readouterr().out.splitlines()[3:]
    assert lines[0].index("1") + 2 == lines[1].index("10")  # each of 中文 takes two columns: the values line up


def test_cli_refuses_an_unknown_part(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--parts", "build,everything"])
    assert exc.value.code == 2
    assert "--parts: unknown part 'everything'" in capsys.readouterr().err
