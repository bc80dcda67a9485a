"""Word 97 .doc plans: converted to .docx by headless LibreOffice, then read by the .docx reader."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from kg.document import Document
from kg.errors import PlanReadError
from kg.read.docx import read_docx

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# A first start with a fresh profile takes seconds; a .doc that takes minutes is hanging LibreOffice.
TIMEOUT_SECONDS = 120

NO_LIBREOFFICE = (
    "reading Word 97 .doc files needs LibreOffice: install Debian's libreoffice-writer-nogui "
    "(apt-get install libreoffice-writer-nogui), or save the plan as .docx"
)

# Names of the streams in an Office 97 file's directory that tell what it holds, when it is not Word.
OTHER_KINDS = [
    ("EncryptedPackage", "a password-protected Office file: save the plan without a password"),
    ("Workbook", "an Excel workbook, not a Word document"),
    ("Book", "an Excel workbook, not a Word document"),
    ("PowerPoint Document", "a PowerPoint presentation, not a Word document"),
    ("VisioDocument", "a Visio drawing, not a Word document"),
]


def read_doc(data: bytes, name: str) -> Document:
    """A Word 97 .doc plan, read as the .docx LibreOffice converts it to (format "doc", sources as for .docx)."""
    if not data:
        raise PlanReadError(name, "the file is empty")
    if not data.startswith(OLE_MAGIC):
        raise PlanReadError(name, "not a Word 97 .doc file (no OLE2 header)")
    streams = _stream_names(data)
    if "WordDocument" not in streams:
        why = next((w for stream, w in OTHER_KINDS if stream in streams), None)
        raise PlanReadError(
            name, why or "an Office 97 (OLE2) file with no Word document in it (another kind of file, or truncated)"
        )
    soffice = find_libreoffice()
    if soffice is None:
        raise PlanReadError(name, NO_LIBREOFFICE)
    converted = _convert(soffice, data, name)
    doc = read_docx(converted, name)
    if not doc.blocks:
        raise PlanReadError(name, "LibreOffice found no text in this .doc (damaged, or not a plan)")
    doc.format = "doc"
    doc.notes.append("converted from Word 97 .doc to .docx with LibreOffice")
    return doc


def _stream_names(data: bytes) -> set[str]:
    """The names in an OLE2 file's directory, found without following its sector chains.

    Directory entries are 128 bytes, 128-aligned in the file: a UTF-16 name, its byte length with the
    terminator at +64, and the entry type at +66 (1 storage, 2 stream, 5 root). Scanning for entries that
    fit this is enough to tell a Word file from an Excel one, and cannot be fooled by the text of a document.
    """
    names: set[str] = set()
    for off in range(512, len(data) - 127, 128):
        size = int.from_bytes(data[off + 64 : off + 66], "little")
        if data[off + 66] not in (1, 2, 5) or not 2 <= size <= 64 or size % 2:
            continue
        raw = data[off : off + size]
        if raw[-2:] != b"\0\0":
            continue
        try:
            text = raw[:-2].decode("utf-16-le")
        except UnicodeDecodeError:
            continue
        if text.isprintable():
            names.add(text)
    return names


def find_libreoffice() -> str | None:
    """The LibreOffice executable on PATH (soffice, or the libreoffice wrapper), or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def _kill_group(proc: subprocess.Popen) -> None:
    # soffice is a wrapper that starts oosplash and soffice.bin: killing only the first would leave the rest.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.communicate(timeout=10)


def _convert(soffice: str, data: bytes, name: str) -> bytes:
    """The .docx bytes LibreOffice makes of a .doc; a private profile per call, so runs never share one."""
    with tempfile.TemporaryDirectory(prefix="kg-doc-") as tmp:
        tmpdir = Path(tmp)
        # A fixed file name: the plan's own name may hold characters a command line or LibreOffice mangles.
        src = tmpdir / "plan.doc"
        src.write_bytes(data)
        outdir = tmpdir / "out"
        profile = tmpdir / "profile"
        cmd = [
            soffice,
            "--headless",
            "--norestore",
            "--nolockcheck",
            f"-env:UserInstallation={profile.as_uri()}",
            "--convert-to",
            "docx:MS Word 2007 XML",
            # Without a forced filter LibreOffice opens a damaged .doc as plain text and "converts" the noise.
            "--infilter=MS Word 97",
            "--outdir",
            str(outdir),
            str(src),
        ]
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, so a timeout can end every process it started
                cwd=tmp,
            )
        except OSError as exc:
            raise PlanReadError(name, f"cannot start LibreOffice ({exc.strerror or exc})") from None
        try:
            out, err = proc.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise PlanReadError(
                name, f"LibreOffice did not finish converting the .doc within {TIMEOUT_SECONDS} s: save it as .docx"
            ) from None
        except BaseException:
            _kill_group(proc)
            raise
        result = outdir / "plan.docx"
        if proc.returncode != 0 or not result.is_file() or result.stat().st_size == 0:
            said = (err or out).decode("utf-8", "replace").strip().splitlines()
            detail = f" ({said[-1][:200]})" if said else ""
            raise PlanReadError(
                name, f"LibreOffice could not convert this Word 97 .doc (damaged or not a Word file){detail}"
            )
        return result.read_bytes()
