"""A generation's plan records on disk: records/<plan id>.json.gz, one gzip-compressed JSON document per plan.

The records are the build's own copy of everything read from the plans (kg.records); the graph and the index are
made from them. Compressed they take about an eighth of the space (the JSON repeats its keys and labels for every
measure) and read at several hundred MB/s. The bytes of a record are fixed by its content (compact JSON, keys
sorted, no time stamp in the gzip header), so an unchanged plan's file can be hard-linked from the previous
generation and recognised as the same. Generations written before the records were compressed hold
records/<plan id>.json; every reader here takes both.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

from kg.errors import PlanError

SUFFIX = ".json.gz"
PLAIN_SUFFIX = ".json"  # a record of a generation written before records were compressed
LEVEL = 6  # zlib's default: 13% of the JSON at ~100 MB/s; level 1 gives 16% at ~230 MB/s


class RecordFileError(PlanError):
    """A record file of the data dir that cannot be read: named, with what is wrong with it."""


def text(rec: dict) -> str:
    """A plan record as JSON: compact, keys sorted (the same record always gives the same text)."""
    return json.dumps(rec, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def path(folder: Path, plan_id: str) -> Path:
    """Where a record of this plan is written."""
    return folder / f"{plan_id}{SUFFIX}"


def write(folder: Path, plan_id: str, rec: dict) -> Path:
    dest = path(folder, plan_id)
    dest.write_bytes(gzip.compress(text(rec).encode("utf-8"), LEVEL, mtime=0))
    return dest


def plan_id(file: Path) -> str | None:
    """The plan id of a record file's name (None: not a record file)."""
    name = file.name
    for suffix in (SUFFIX, PLAIN_SUFFIX):
        if name.endswith(suffix) and not name.startswith("."):
            return name[: -len(suffix)]
    return None


def files(folder: Path) -> dict[str, Path]:
    """Every record file of a folder by plan id, in id order (a compressed one wins over a plain one)."""
    found: dict[str, Path] = {}
    if folder.is_dir():
        for p in sorted(folder.iterdir(), key=lambda p: p.name.endswith(SUFFIX)):
            pid = plan_id(p)
            if pid is not None:
                found[pid] = p
    return dict(sorted(found.items()))


def read(file: Path) -> dict:
    """The record in a file; a damaged one raises RecordFileError naming it (FileNotFoundError passes through)."""
    data = file.read_bytes()
    try:
        if file.name.endswith(SUFFIX):
            data = gzip.decompress(data)
        rec = json.loads(data.decode("utf-8"))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise RecordFileError(str(file), f"not a readable plan record ({exc}); build again to rewrite it") from None
    if not isinstance(rec, dict):
        raise RecordFileError(str(file), f"not a plan record (a JSON {type(rec).__name__}); build again to rewrite it")
    return rec


def read_all(folder: Path) -> list[dict]:
    """Every record of a folder, in plan id order."""
    return [read(p) for p in files(folder).values()]
