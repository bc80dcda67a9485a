"""Shared fixtures: the bundled plans built once per session into a real data dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kg.store import build, bundled_plans

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def graph_dir(tmp_path_factory) -> Path:
    """A data dir with the five sample plans, graph only."""
    path = tmp_path_factory.mktemp("graph") / "kg-data"
    report = build(bundled_plans(), path)
    assert not report.errors
    return path


@pytest.fixture(scope="session")
def dev_queries() -> list[dict]:
    return json.loads((DATA / "dev-queries.json").read_text("utf-8"))["queries"]


@pytest.fixture(scope="session")
def gold_004() -> dict:
    return json.loads((DATA / "gold_004.json").read_text("utf-8"))


def sample(name_prefix: str) -> Path:
    return next(p for p in bundled_plans() if p.name.startswith(name_prefix))
