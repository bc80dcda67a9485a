"""Every data file the code reads at run time is shipped by a (non-editable) install."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Where each package keeps the non-Python files it opens at run time (through importlib.resources or its path).
DATA = {"index": ["data"], "kg": ["data", "samples"], "ontology": ["."], "webui": ["templates", "static"]}


def test_package_data_ships_every_data_file():
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["package-data"]
    missing = []
    for package, folders in DATA.items():
        root = REPO / package
        shipped = {p for pattern in patterns.get(package, []) for p in root.glob(pattern) if p.is_file()}
        for folder in folders:
            for path in (root / folder).rglob("*"):
                if path.is_file() and path.suffix not in (".py", ".pyc") and path not in shipped:
                    missing.append(path.relative_to(REPO).as_posix())
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"
