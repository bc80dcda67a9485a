"""Read a plan file of any supported format into a `Document`, the format told by content, not by extension.

| format | told by | read with |
|---|---|---|
| PDF (text layer) | `%PDF-` | pdfplumber: ruled tables, pages |
| scanned PDF | `%PDF-` without text | Tesseract `chi_tra` (the `ocr` extra) |
| .docx | ZIP with `word/document.xml` | python-docx |
| .odt | ZIP with `mimetype` `application/vnd.oasis.opendocument.text` | odfpy |
| .doc (Word 97) | OLE2 `D0 CF 11 E0` | LibreOffice headless → .docx |
| HTML | `<html`, `<!doctype html`, `<table`, `<body` near the start (UTF-16 too) | lxml, main content only |
| text | anything else that decodes | UTF-8, BOM, Big5/CP950, UTF-16 with BOM |
"""

from __future__ import annotations

import importlib
import io
import zipfile
from pathlib import Path

from kg.document import Document
from kg.errors import PlanReadError
from kg.files import read_regular

MAX_BYTES = 20 * 1024 * 1024

FORMATS = ("pdf", "docx", "odt", "doc", "html", "text")


def _zip_kind(data: bytes) -> str:
    """'docx', 'odt' or 'zip' for a ZIP archive; a damaged one is told by its first members' local headers."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            if "mimetype" in names:
                try:
                    # Read a few bytes only: the member may be a bomb, encrypted, or packed by an unknown method.
                    with z.open("mimetype") as fh:
                        mime = fh.read(100).strip()
                except Exception:  # the ODF reader reads it again and says what is wrong with it
                    return "odt"
                return "odt" if mime == b"application/vnd.oasis.opendocument.text" else "zip"
            if "word/document.xml" in names:
                return "docx"
    except Exception:  # a truncated or damaged archive (zipfile raises many kinds): guess from what is left
        if data[30:38] == b"mimetype" and b"opendocument.text" in data[38:100]:
            return "odt"
        if b"word/document.xml" in data or data[30:49] == b"[Content_Types].xml":  # OOXML writers put it first
            return "docx"
    return "zip"


def _utf16_view(data: bytes) -> bytes:
    """The start of a UTF-16 file (with a byte-order mark, or without one but starting with '<') as UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data[:131072].decode("utf-16", "ignore").encode("utf-8")
    if data.startswith(b"<\x00"):
        return data[:131072].decode("utf-16-le", "ignore").encode("utf-8")
    if data.startswith(b"\x00<"):
        return data[:131072].decode("utf-16-be", "ignore").encode("utf-8")
    return data


def sniff(data: bytes) -> str:
    """The format of a file's bytes: one of FORMATS, or 'zip'/'ole' for containers of no known kind."""
    if data.startswith(b"%PDF-") or b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"
    view = _utf16_view(data)
    head = view[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml")) and b"<html" in view[:8192].lower():
        return "html"
    if head.startswith(b"<") and any(tag in view[:65536].lower() for tag in (b"<body", b"<table", b"<head")):
        return "html"
    return "text"


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes, refusing what is not a regular file or is too large, before reading it all."""
    return read_regular(path, MAX_BYTES, "plan file")


def read_document(path: str | Path) -> Document:
    """Read one plan file of any supported format; PlanReadError names the file and says what is wrong."""
    path = Path(path)
    data = read_bytes(path)
    return parse_bytes(data, path.name)


# format -> (module, function, the package that reads it)
READERS = {
    "pdf": ("kg.read.pdf", "read_pdf", "pdfplumber"),
    "docx": ("kg.read.docx", "read_docx", "python-docx"),
    "odt": ("kg.read.odt", "read_odt", "odfpy"),
    "doc": ("kg.read.doc", "read_doc", "python-docx"),
    "html": ("kg.read.html", "read_html", "lxml"),
    "text": ("kg.read.text", "read_text", ""),
}


def parse_bytes(data: bytes, name: str) -> Document:
    """Read a plan's bytes, the format told by content."""
    kind = sniff(data)
    if kind == "ole":
        kind = "doc"
    if kind == "zip":
        raise PlanReadError(name, "a ZIP archive that is neither a Word .docx nor an ODF .odt document")
    module, function, package = READERS[kind]
    try:
        reader = getattr(importlib.import_module(module), function)
    except ImportError as exc:
        raise PlanReadError(
            name, f"reading {kind} files needs the Python package {package or exc.name}: pip install {package}"
        ) from None
    return reader(data, name)
