"""The Word 97 .doc reader: a real .doc made by LibreOffice reads like its .docx; no LibreOffice, wrong files, hangs."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import kg.read.doc as doc_module
from kg.document import Paragraph, Table
from kg.errors import PlanReadError
from kg.read import parse_bytes
from kg.read.doc import read_doc
from kg.read.docx import read_docx
from tests.kg.read.test_docx import build_plan_docx, convert_with_libreoffice, expected_cells, grid_text

WORD = "WordDocument".encode("utf-16-le")


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, bytes]:
    """The Word test plan and the Word 97 .doc LibreOffice saves it as, converted once for the module."""
    tmp = tmp_path_factory.mktemp("doc")
    docx_path = build_plan_docx(tmp / "plan.docx")
    return docx_path, convert_with_libreoffice(docx_path, "doc", tmp).read_bytes()


@pytest.fixture(scope="module")
def doc(converted):
    return read_doc(converted[1], "plan.doc")


def test_doc_reads_like_the_docx(converted, doc):
    want = read_docx(converted[0].read_bytes(), "plan.docx")
    assert doc.format == "doc" and doc.file == "plan.doc"
    assert any("LibreOffice" in n for n in doc.notes)
    (w_table,) = [b for b in want.blocks if isinstance(b, Table)]
    (g_table,) = [b for b in doc.blocks if isinstance(b, Table)]
    assert grid_text(g_table) == grid_text(w_table) == [[" ".join(t.split()) for t in r] for r in expected_cells()]
    assert [[(c.origin, c.row_span, c.col_span) for c in row] for row in g_table.rows] == [
        [(c.origin, c.row_span, c.col_span) for c in row] for row in w_table.rows
    ]
    assert g_table.rows[4][0].spanned and g_table.rows[4][0].origin == (2, 0)
    assert all(c.source.file == "plan.doc" for row in g_table.rows for c in row)
    # Every paragraph of the .docx, with its heading level and list number, comes through in order.
    # (LibreOffice's .doc export writes the content control as a form field and repeats its text, so the
    # .doc may hold more paragraphs than the .docx, never fewer.)
    got = iter([(b.text, b.heading) for b in doc.blocks if isinstance(b, Paragraph)])
    for para in [(b.text, b.heading) for b in want.blocks if isinstance(b, Paragraph)]:
        assert para in got, f"{para} missing or out of order"


def test_dispatcher_sends_ole_to_read_doc(converted, doc):
    assert parse_bytes(converted[1], "plan.doc").blocks == doc.blocks


def test_no_libreoffice_on_path_says_how_to_install_it(converted, monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert doc_module.find_libreoffice() is None
    with pytest.raises(PlanReadError) as err:
        read_doc(converted[1], "plan.doc")
    assert err.value.file == "plan.doc"
    assert "libreoffice-writer-nogui" in str(err.value) and ".docx" in str(err.value)


def _renamed_word_stream(data: bytes, new: str) -> bytes:
    """The .doc with its WordDocument directory entry renamed, as an Excel file would name its stream."""
    at = data.index(WORD)
    name = new.encode("utf-16-le")
    entry = name + bytes(64 - len(name)) + (len(name) + 2).to_bytes(2, "little")
    return data[:at] + entry + data[at + 66 :]


def test_ole_file_that_is_not_word_is_refused(converted):
    with pytest.raises(PlanReadError, match=r"other\.xls.*Excel workbook"):
        read_doc(_renamed_word_stream(converted[1], "Workbook"), "other.xls")
    with pytest.raises(PlanReadError, match=r"odd\.doc.*no Word document"):
        read_doc(_renamed_word_stream(converted[1], "Contents"), "odd.doc")


def test_damaged_doc_that_libreoffice_cannot_convert(converted):
    data = converted[1]
    at = data.index(WORD)
    # Header and directory kept, every stream's sectors overwritten: it still looks like Word from outside.
    damaged = data[:512] + bytes((b * 7 + 3) % 256 for b in data[512:at]) + data[at:]
    with pytest.raises(PlanReadError, match=r"broken\.doc.*LibreOffice could not convert"):
        read_doc(damaged, "broken.doc")


@pytest.mark.parametrize(
    "data, why",
    [(b"", "empty"), (b"not ole at all", "OLE2"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "no Word")],
)
def test_bad_input(data, why):
    with pytest.raises(PlanReadError) as err:
        read_doc(data, "bad-plan.doc")
    assert err.value.file == "bad-plan.doc" and why in str(err.value)


def test_truncated_doc(converted):
    with pytest.raises(PlanReadError, match="cut.doc"):
        read_doc(converted[1][: len(converted[1]) // 2], "cut.doc")


def test_concurrent_conversions_use_their_own_profiles(converted, doc):
    with ThreadPoolExecutor(2) as pool:
        docs = list(pool.map(lambda n: read_doc(converted[1], n), ["a.doc", "b.doc"]))
    assert [d.blocks[0].text for d in docs] == [doc.blocks[0].text] * 2


def _libreoffice_of_ours() -> list[int]:
    """Processes still running whose command line names one of read_doc's temporary folders."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"kg-doc-" in cmdline and (entry / "stat").read_text().split()[2] != "Z":
                pids.append(int(entry.name))
    return pids


def test_timeout_kills_libreoffice(converted, monkeypatch):
    monkeypatch.setattr(doc_module, "TIMEOUT_SECONDS", 0.2)
    with pytest.raises(PlanReadError, match=r"plan\.doc.*did not finish"):
        read_doc(converted[1], "plan.doc")
    deadline = time.monotonic() + 10
    while _libreoffice_of_ours() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _libreoffice_of_ours() == [], "LibreOffice processes left running after the timeout"
