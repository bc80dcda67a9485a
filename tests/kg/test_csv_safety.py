"""CSV that is safe to open: text a spreadsheet would run as a formula is escaped, with a BOM, in every CSV written."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kg.records import CSV_FIELDS, FORMULA_STARTS, csv_cell, write_csv

FIXTURE = Path(__file__).parent / "plan" / "fixtures" / "land_office_web.txt"
BOM = "\ufeff"
# Each measure of the fixture, its text made to start with a character a spreadsheet runs as a formula.
DANGEROUS = {
    "1.設置單一窗口": '=HYPERLINK("http://x")設置單一窗口',
    "2.提供跨所申辦": "+提供跨所申辦",
    "1.推動「地政": "-推動「地政",
    "1.設置首長信箱": "@設置首長信箱",
}


def dangerous_plan(folder: Path) -> Path:
    """The land office fixture with four measures whose text starts with =, +, - and @ (the fifth left as it was)."""
    text = FIXTURE.read_text("utf-8")
    for before, after in DANGEROUS.items():
        number = before.split(".")[0]
        assert text.count(before) == 1
        text = text.replace(before, f"{number}.{after}")
    plan = folder / "dangerous.txt"
    plan.write_text(text, "utf-8")
    return plan


def kg(*args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    exe = shutil.which("kg", path=str(Path(sys.executable).parent))
    assert exe, "the kg console script is installed with the package"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture(scope="module")
def dangerous_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dangerous")
    done = kg("build", "--no-index", str(dangerous_plan(folder)), "--data-dir", str(folder / "kg-data"))
    assert done.returncode == 0, done.stderr
    return folder / "kg-data"


def escaped(text: str) -> bool:
    return text.startswith("'") and text[1:2] in FORMULA_STARTS


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_starting_a_formula_gets_an_apostrophe(start):
    assert csv_cell(f"{start}1+1") == f"'{start}1+1"
    assert csv_cell(f"{start}") == f"'{start}"


@pytest.mark.parametrize("value", ["設置單一窗口", "1.=x", " =x", "'=x", "", "a-b", "＝全形"])
def test_other_text_is_left_as_it_is(value):
    assert csv_cell(value) == value


def test_numbers_stay_numbers_and_text_that_looks_like_one_is_escaped():
    assert csv_cell(-5) == -5 and csv_cell(-0.5) == -0.5 and csv_cell(2024) == 2024 and csv_cell(None) is None
    assert csv_cell("-5") == "'-5"


def test_write_csv_starts_with_a_bom_and_escapes_header_and_rows():
    buf = io.StringIO()
    write_csv(buf, ["a", "=b"], [["=cmd|' /C calc'!A0", -3, None, "ok"]])
    text = buf.getvalue()
    assert text.startswith(BOM) and text.count(BOM) == 1
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows == [["a", "'=b"], ["'=cmd|' /C calc'!A0", "-3", "", "ok"]]
    assert text.endswith("\r\n")


def _rows(text: str) -> list[list[str]]:
    assert text.startswith(BOM), "a UTF-8 BOM, so that Excel reads the Chinese as UTF-8"
    assert text.count(BOM) == 1
    return list(csv.reader(io.StringIO(text[1:])))


def test_kg_export_csv_escapes_formulas_with_a_bom_and_the_english_header(dangerous_dir, tmp_path):
    done = kg("export", "--format", "csv", "--data-dir", str(dangerous_dir))
    assert done.returncode == 0, done.stderr
    rows = _rows(done.stdout)
    assert tuple(rows[0]) == CSV_FIELDS  # the machine-readable header, as before
    texts = [r[CSV_FIELDS.index("text")] for r in rows[1:]]
    assert len(texts) == 5
    for start in DANGEROUS.values():
        assert sum(t.startswith("'" + start) for t in texts) == 1, (start, texts)
    assert sum(escaped(t) for t in texts) == 4  # the fifth measure, plain text, is untouched
    assert any(t.startswith("辦理滿意度調查") for t in texts)

    out = tmp_path / "measures.csv"
    done = kg("export", "--format", "csv", "-o", str(out), "--data-dir", str(dangerous_dir))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert _rows(out.read_text("utf-8")) == rows


def test_the_jsonl_export_keeps_the_text_as_it_was(dangerous_dir):
    done = kg("export", "--format", "jsonl", "--data-dir", str(dangerous_dir))
    assert done.returncode == 0, done.stderr
    assert not done.stdout.startswith(BOM)
    texts = [json.loads(line)["text"] for line in done.stdout.splitlines()]
    assert sum(t.startswith('=HYPERLINK("http://x")') for t in texts) == 1  # data, not a spreadsheet: no escaping
