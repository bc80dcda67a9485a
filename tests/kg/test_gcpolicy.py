"""A build and a removal run with the collector passing rarely, and leave the process's thresholds as they were."""

from __future__ import annotations

import gc
import threading

import pytest

from kg.datadir import DataDir
from kg.gcpolicy import THRESHOLDS, rare_collections
from kg.store import build, remove
from tests.conftest import sample


@pytest.fixture(autouse=True)
def usual_thresholds():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_the_thresholds_are_raised_inside_and_put_back_after_even_on_error():
    with rare_collections():
        assert gc.get_threshold() == THRESHOLDS
    assert gc.get_threshold() == (700, 10, 10)
    with pytest.raises(RuntimeError), rare_collections():
        raise RuntimeError("a failed build")
    assert gc.get_threshold() == (700, 10, 10)


def test_overlapping_users_put_them_back_only_when_the_last_leaves():
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def first():
        with rare_collections():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second():
        first_in.wait(10)
        with rare_collections():
            second_in.set()
            first_out.wait(10)
            seen.append(gc.get_threshold())  # the first has left: still raised for this one

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen == [THRESHOLDS]
    assert gc.get_threshold() == (700, 10, 10)


def test_a_build_and_a_removal_run_with_rare_collections(tmp_path):
    during = []

    def after_graph(work, measures, previous):
        during.append(gc.get_threshold())
        return None

    report = build([sample("000_"), sample("001_")], tmp_path / "kg", after_graph=after_graph)
    assert not report.errors and report.plans == 2
    remove(tmp_path / "kg", [DataDir(tmp_path / "kg").catalogue()[0]["id"]], after_graph=after_graph)
    assert during == [THRESHOLDS, THRESHOLDS]
    assert gc.get_threshold() == (700, 10, 10)
