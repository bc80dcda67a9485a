"""`kg build` on a folder of plans in the formats agencies publish, end to end through the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

from kg import recordfiles
from kg.cli import main
from kg.datadir import DataDir

CORPUS = Path(__file__).parent.parent / "corpus" / "files"
FIXTURES = Path(__file__).parent / "plan" / "fixtures"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "plans"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(CORPUS / "001_c81fb21e4d88b1cc.docx", folder / "違建大隊.docx")
    shutil.copy(CORPUS / "003_e29583780d682208.odt", folder / "sub" / "行政暨國際處.odt")
    shutil.copy(CORPUS / "004_eaa8df098b30e4bb.html", folder / "博愛職訓中心.html")
    shutil.copy(CORPUS / "000_82525842ac4b5106.pdf", folder / "工務局.pdf")
    shutil.copy(FIXTURES / "airport_no_year.txt", folder / "航空站.txt")
    (folder / "notes.json").write_text("{}", "utf-8")  # not a plan suffix: not picked up from a folder
    return folder


def test_a_folder_of_mixed_formats_builds_with_what_each_was_read_as(capsys, tmp_path):
    data = tmp_path / "data"
    code, out, err = run(capsys, "build", "--no-index", str(mixed_folder(tmp_path)), "--data-dir", str(data))
    assert code == 0, err
    assert "違建大隊.docx: 55 measures (docx; grid layout)" in out
    assert "行政暨國際處.odt: 88 measures (odt; grid layout)" in out
    assert "博愛職訓中心.html: 60 measures (html; grid layout)" in out
    assert "工務局.pdf:" in out and "(pdf; grid layout)" in out
    assert "航空站.txt: 4 measures (text; tabbed layout)" in out
    assert "5 file(s) ingested" in out
    # Warnings name the file and the place: here measures without units in the Word file's table.
    assert "warning: 違建大隊.docx, table 0, row 7, col 2: no unit for the measure" in err
    records = {r["file"]: r for r in recordfiles.read_all(DataDir(data).records_dir)}
    assert records["航空站.txt"]["year"] is None and records["航空站.txt"]["agency"]["name"].endswith("航空站")
    # The originals are kept, byte for byte, under the name the record gives.
    for name, rec in records.items():
        kept = DataDir(data).originals_dir / rec["original"]
        assert kept.read_bytes() == next(mixed_folder_file(tmp_path, name)).read_bytes()


def mixed_folder_file(tmp_path: Path, name: str):
    return (p for p in (tmp_path / "plans").rglob(name))


def test_strict_refuses_a_plan_with_warnings_and_keeps_the_data_dir(capsys, tmp_path):
    data = tmp_path / "data"
    code, _, _ = run(capsys, "build", "--no-index", str(FIXTURES / "taichung_box.txt"), "--data-dir", str(data))
    assert code == 0
    before = sorted(p.name for p in DataDir(data).records_dir.iterdir())
    docx = CORPUS / "001_c81fb21e4d88b1cc.docx"
    code, out, err = run(capsys, "build", "--no-index", "--strict", str(docx), "--data-dir", str(data))
    assert code == 1
    assert "001_c81fb21e4d88b1cc.docx: --strict:" in err and "no unit for the measure" in err
    assert sorted(p.name for p in DataDir(data).records_dir.iterdir()) == before


def test_a_zip_that_is_no_document_and_an_unknown_binary_are_named(capsys, tmp_path):
    import zipfile

    bad = tmp_path / "plan.docx"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("hello.txt", "not a document")
    code, _, err = run(capsys, "build", "--no-index", str(bad), "--data-dir", str(tmp_path / "d"))
    assert code == 1 and "plan.docx" in err and "neither a Word .docx nor an ODF .odt" in err
    assert not (tmp_path / "d").exists()


def test_a_scan_is_read_by_ocr_and_the_build_says_so(capsys, tmp_path):
    scan = CORPUS / "004_eaa8df098b30e4bb.scan.pdf"
    code, out, err = run(capsys, "build", "--no-index", str(scan), "--data-dir", str(tmp_path / "d"))
    assert code == 0, err
    assert "004_eaa8df098b30e4bb.scan.pdf:" in out and "text from OCR (tesseract chi_tra): check it" in out
    (rec,) = recordfiles.read_all(DataDir(tmp_path / "d").records_dir)
    assert rec["ocr"] is True and rec["format"] == "pdf" and len(rec["measures"]) >= 54


def test_a_scan_without_tesseract_names_the_package_to_install(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract (nor anything else) on PATH
    scan = CORPUS / "004_eaa8df098b30e4bb.scan.pdf"
    code, _, err = run(capsys, "build", "--no-index", str(scan), "--data-dir", str(tmp_path / "d"))
    assert code == 1 and "004_eaa8df098b30e4bb.scan.pdf" in err and "tesseract-ocr-chi-tra" in err
