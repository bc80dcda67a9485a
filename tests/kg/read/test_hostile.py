"""Hostile input for every reader: cut, corrupted, bombed and mislabelled copies of the real corpus files.

Each input is made here from the corpus (tests/corpus/files, kg/samples) with fixed seeds, and read by
`read_document` then `parse_plan` in a child process under a time limit and a 2 GB address-space cap: a hang
or a memory blow-up fails its test instead of the suite. The contract checked: a PlanError subclass whose
message starts with the file's name, or a plan when what was done to the file left one, and nothing else.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "corpus" / "files"
SAMPLES = ROOT / "kg" / "samples"
STEMS = sorted(p.name.split(".")[0] for p in CORPUS.glob("*.docx"))
MEMORY = 2 * 1024**3
TIMEOUT = 20.0  # seconds for one read; a .doc starts LibreOffice, which may take a few seconds more
DOC_TIMEOUT = 40.0
MB = 1024 * 1024

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
TABLE_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"'
)

# The child: the read under the caps, its outcome as one JSON object on stdout. Its own alarm ends a hang in
# Python code so that what the reader started is cleaned up (the .doc reader stops LibreOffice); the parent
# kills it a little later in case the hang is in C code, which the alarm cannot interrupt.
CHILD = r"""
import json, resource, signal, sys, time, traceback
path, memory, seconds, needles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
from kg.document import Paragraph
from kg.errors import PlanError
from kg.plan import parse_plan
from kg.read import read_document


class Hang(BaseException):
    pass


def alarm(*_):
    raise Hang()


out = {}
signal.signal(signal.SIGALRM, alarm)
signal.alarm(seconds)
start = time.monotonic()
try:
    doc = read_document(path)
    texts = [b.text for b in doc.blocks if isinstance(b, Paragraph)]
    cells = [c for b in doc.blocks if not isinstance(b, Paragraph) for row in b.rows for c in row]
    texts += [p for c in cells for p in c.paragraphs]
    out["format"] = doc.format
    out["found"] = [n for n in needles if any(n in t for t in texts)]
    plan = parse_plan(doc)
    out.update(outcome="plan", measures=len(plan.measures))
except PlanError as exc:
    out.update(outcome=type(exc).__name__, message=str(exc))
except Hang:
    out.update(outcome="hang", trace=traceback.format_exc()[-3000:])
except BaseException as exc:
    out.update(outcome="crash", message=f"{type(exc).__name__}: {exc}"[:500], trace=traceback.format_exc()[-3000:])
signal.alarm(0)
out["seconds"] = round(time.monotonic() - start, 2)
sys.stdout.write(json.dumps(out))
"""


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def run_read(path: Path, timeout: float = TIMEOUT, needles: tuple[str, ...] = ()) -> dict:
    """The outcome of reading and parsing `path` in a capped child; fails the test on a hang or a dead child."""
    cmd = [sys.executable, "-c", CHILD, str(path), str(MEMORY), str(int(timeout)), *needles]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout + 10)
    except subprocess.TimeoutExpired:
        _kill(proc)
        pytest.fail(f"{path.name}: no answer within {timeout:.0f} s (a hang in C code, or a runaway read)")
    if proc.returncode != 0 or not out:
        tail = err.decode("utf-8", "replace")[-2000:]
        pytest.fail(f"{path.name}: the reading process died (exit status {proc.returncode}):\n{tail}")
    result = json.loads(out)
    if result["outcome"] == "hang":
        pytest.fail(f"{path.name}: no answer within {timeout:.0f} s (a hang or a runaway read)\n{result['trace']}")
    return result


def check(result: dict, name: str, expect: str) -> None:
    """`expect`: "refused" (any PlanError), "plan" (must parse), "either", or a PlanError class name."""
    outcome = result["outcome"]
    if outcome == "crash":
        pytest.fail(f"{name}: raised {result['message']} (not a PlanError)\n{result['trace']}")
    if outcome == "plan":
        assert expect in ("plan", "either"), f"{name}: parsed as a plan of {result['measures']} measures"
        assert result["measures"] > 0
        return
    assert outcome in ("PlanReadError", "PlanParseError"), outcome
    assert expect != "plan", f"{name}: refused, though it holds a plan: {result['message']}"
    if expect not in ("refused", "either"):
        assert outcome == expect, f"{name}: {outcome}, not {expect}: {result['message']}"
    assert result["message"].startswith(f"{name}:"), f"the message does not start with the file's name: {result}"


# ---------------------------------------------------------------------------------------------------- the inputs


def original(fmt: str, k: int = 0) -> Path:
    stem = STEMS[k % len(STEMS)]
    return SAMPLES / f"{stem}.txt" if fmt == "txt" else CORPUS / f"{stem}.{fmt}"


def rewrite_zip(
    data: bytes,
    replace: dict[str, Iterable[bytes] | None],
    add: dict[str, bytes] | None = None,
    stored: dict[str, bytes] | None = None,
) -> bytes:
    """The archive with members replaced (by chunks, streamed, so a bomb is never whole in memory), dropped,
    added, or replaced by bytes stored as they are (to be patched into a compressed member)."""
    stored = stored or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename in stored:
                dst.writestr(zipfile.ZipInfo(info.filename, info.date_time), stored[info.filename])
                continue
            if info.filename not in replace:
                dst.writestr(info, src.read(info))
                continue
            chunks = replace[info.filename]
            if chunks is None:
                continue
            new = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            new.compress_type = zipfile.ZIP_DEFLATED
            with dst.open(new, "w") as fh:
                for chunk in chunks:
                    fh.write(chunk)
        for name, payload in (add or {}).items():
            dst.writestr(zipfile.ZipInfo(name), payload, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def patch(data: bytes, member: str, flag: int = 0, method: int | None = None, size: int | None = None) -> bytes:
    """The archive with `member`'s flags or'ed with `flag`, its method or its unpacked size forged, in both headers."""
    buf = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        spots = [z.getinfo(member).header_offset + 6]  # the local header's flags; in both headers the size is 16 on
        pos = z.start_dir
    while buf[pos : pos + 4] == b"PK\x01\x02":
        n, m, k = (int.from_bytes(buf[pos + i : pos + i + 2], "little") for i in (28, 30, 32))
        if buf[pos + 46 : pos + 46 + n].decode("utf-8", "replace") == member:
            spots.append(pos + 8)
        pos += 46 + n + m + k
    for at in spots:
        buf[at : at + 2] = (int.from_bytes(buf[at : at + 2], "little") | flag).to_bytes(2, "little")
        if method is not None:
            buf[at + 2 : at + 4] = method.to_bytes(2, "little")
        if size is not None:
            buf[at + 16 : at + 20] = size.to_bytes(4, "little")
    return bytes(buf)


def raw_deflate_bomb(head: bytes, total: int) -> bytes:
    """A raw deflate stream of `head` then `total` zero bytes: one compressed megabyte repeated, so made at once."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(MB)) + c.flush(zlib.Z_FULL_FLUSH)  # after a full flush no block refers to another
    return start + block * (total // MB) + b"\x03\x00"  # an empty final block


def repeat(total: int, head: bytes = b"", tail: bytes = b"", unit: bytes = b"\0") -> Iterator[bytes]:
    """`total` bytes of `unit` over and over between `head` and `tail`, a megabyte at a time."""
    yield head
    chunk = unit * (MB // len(unit))
    for _ in range(total // len(chunk)):
        yield chunk
    yield tail


def lol_bomb(element: str, attribute: bool = False) -> str:
    """A billion-laughs DTD and a reference to its top entity in element text (or in an attribute)."""
    ents = ['<!ENTITY lol0 "lollollollollollollollollollol">']
    ents += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    dtd = f"<!DOCTYPE root [{''.join(ents)}]>"
    return f'<?xml version="1.0"?>{dtd}' + (
        element.replace("ATTR", "&lol9;") if attribute else element.replace("TEXT", "&lol9;")
    )


# The XML around a body's content, and one paragraph of it, in each format.
BODY = {
    "docx": (f'<w:document xmlns:w="{W_NS}"><w:body>', "</w:body></w:document>"),
    "odt": (
        f"<office:document-content {ODF_NS}><office:body><office:text>",
        "</office:text></office:body></office:document-content>",
    ),
}
PARA = {"docx": "<w:p{attr}><w:r><w:t>{text}</w:t></w:r></w:p>", "odt": "<text:p{attr}>{text}</text:p>"}


def document_xml(fmt: str, text: str, attr: str = "") -> str:
    head, tail = BODY[fmt]
    return head + PARA[fmt].format(attr=attr, text=text) + tail


PART = {"docx": "word/document.xml", "odt": "content.xml"}
ATTR = {"docx": ' w:rsidR="ATTR"', "odt": ' text:style-name="ATTR"'}


def xxe(fmt: str, *targets: str) -> bytes:
    ents = "".join(f'<!ENTITY x{i} SYSTEM "{t}">' for i, t in enumerate(targets))
    refs = "".join(f"&x{i};" for i in range(len(targets)))
    return f'<?xml version="1.0"?><!DOCTYPE root [{ents}]>{document_xml(fmt, "計畫 " + refs)}'.encode()


# Rows of one cell spanning 64 columns (Word), tables repeating a row and a cell a billion times (ODF): millions
# of cells from a few kilobytes.
SPAN_ROW = '<w:tr><w:tc><w:tcPr><w:gridSpan w:val="64"/></w:tcPr><w:p/></w:tc></w:tr>'
REPEATED = (
    f'<table:table xmlns:table="{TABLE_NS}"><table:table-row table:number-rows-repeated="1000000000">'
    '<table:table-cell table:number-columns-repeated="1000000000"><text:p>x</text:p></table:table-cell>'
    "</table:table-row></table:table>"
)
TABLE_BOMB = {"docx": f"<w:tbl>{SPAN_ROW * 90_000}</w:tbl>", "odt": REPEATED * 100}
EMPTY_PARAGRAPH = {"docx": b"<w:p/>", "odt": b"<text:p/>"}
# styles.xml: its part name, what opens and closes it, and one style.
STYLES = {
    "docx": ("word/styles.xml", f'<w:styles xmlns:w="{W_NS}">', "</w:styles>", '<w:style w:styleId="a"/>'),
    "odt": (
        "styles.xml",
        f'<office:document-styles {ODF_NS} xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0">'
        "<office:styles>",
        "</office:styles></office:document-styles>",
        '<style:style style:name="a" style:family="paragraph"/>',
    ),
}
ODF_MIMETYPE = b"application/vnd.oasis.opendocument.text"
GB = 1024 * MB


def zip_case(fmt: str, attack: str, tmp: Path) -> tuple[bytes, str]:
    """(bytes, expectation) of one attack on the archive of a real .docx or .odt."""
    data = original(fmt, 1).read_bytes()
    part = PART[fmt]
    head, tail = BODY[fmt]
    secret = tmp / "secret.txt"
    secret.write_text("HOSTILE-SECRET-7731\n")
    trap = tmp / "trap.fifo"  # opening it to read blocks for ever: a reader that follows the entity hangs
    os.mkfifo(trap)

    def wrap(text: str, attr: str = "") -> str:
        return document_xml(fmt, text, attr)

    def utf32(xml: str) -> bytes:  # a DTD in UTF-32 hides from a byte search for "<!DOCTYPE" in ASCII or UTF-16
        return xml.replace("?>", ' encoding="UTF-32"?>', 1).encode("utf-32")

    def bomb() -> bytes:  # 60 MB of zeros after the XML up to the text of the first run
        return rewrite_zip(data, {part: repeat(60 * MB, wrap("").split("</")[0].encode())})

    def mimetype_bomb() -> bytes:
        return rewrite_zip(data, {"mimetype": repeat(60 * MB, ODF_MIMETYPE)})

    def styles_bomb() -> bytes:
        name, open_, close, style = STYLES[fmt]
        return rewrite_zip(data, {name: repeat(45 * MB, open_.encode(), close.encode(), style.encode())})

    escapes = {
        "../../hostile-escape.txt": b"out",
        "/tmp/hostile-absolute.txt": b"out",
        "..\\..\\hostile-windows.txt": b"out",
        f"{part.split('/')[0]}/../../../hostile-deep.txt": b"out",
    }
    cases: dict[str, tuple[Callable[[], bytes], str]] = {
        "malformed": (lambda: rewrite_zip(data, {part: [wrap("計畫").encode()[:-30] + b"<p><<</p"]}), "PlanReadError"),
        "laughs": (lambda: rewrite_zip(data, {part: [lol_bomb(wrap("TEXT")).encode()]}), "PlanReadError"),
        "laughs-in-attribute": (
            lambda: rewrite_zip(data, {part: [lol_bomb(wrap("計畫", ATTR[fmt]), attribute=True).encode()]}),
            "PlanReadError",
        ),
        "laughs-utf32": (lambda: rewrite_zip(data, {part: [utf32(lol_bomb(wrap("TEXT")))]}), "PlanReadError"),
        "xxe-passwd": (lambda: rewrite_zip(data, {part: [xxe(fmt, "file:///etc/passwd", secret.as_uri())]}), "refused"),
        "xxe-utf32": (lambda: rewrite_zip(data, {part: [utf32(xxe(fmt, secret.as_uri()).decode())]}), "refused"),
        "xxe-fifo": (lambda: rewrite_zip(data, {part: [xxe(fmt, trap.as_uri())]}), "refused"),
        "deflate-bomb": (bomb, "PlanReadError"),
        "deflate-bomb-lying-size": (lambda: patch(bomb(), part, size=60_000), "PlanReadError"),
        # A part of a plan's size packed, but tens of megabytes of elements unpacked.
        "element-bomb": (
            lambda: rewrite_zip(data, {part: repeat(45 * MB, head.encode(), tail.encode(), EMPTY_PARAGRAPH[fmt])}),
            "PlanReadError",
        ),
        "styles-element-bomb": (styles_bomb, "PlanReadError"),
        "table-bomb": (lambda: rewrite_zip(data, {part: [(head + TABLE_BOMB[fmt] + tail).encode()]}), "PlanReadError"),
        "traversal": (lambda: rewrite_zip(data, {}, escapes), "plan"),
        "traversal-only": (lambda: rewrite_zip(data, {part: None}, {f"../{part}": data}), "PlanReadError"),
        "encrypted-part": (lambda: patch(data, part, flag=1), "PlanReadError"),
        "deflate64-part": (lambda: patch(data, part, method=9), "PlanReadError"),
        # mimetype is read to tell the format, before any check of the archive
        "mimetype-bomb": (mimetype_bomb, "PlanReadError"),
        "mimetype-bomb-lying-size": (lambda: patch(mimetype_bomb(), "mimetype", size=39), "PlanReadError"),
        # 3 GB unpacked, more than the child may allocate: only a bounded read of it survives
        "mimetype-bomb-3gb": (
            lambda: patch(
                rewrite_zip(data, {}, stored={"mimetype": raw_deflate_bomb(ODF_MIMETYPE, 3 * GB)}),
                "mimetype",
                method=8,
                size=3 * GB,
            ),
            "PlanReadError",
        ),
        "encrypted-mimetype": (lambda: patch(data, "mimetype", flag=1), "PlanReadError"),
        "deflate64-mimetype": (lambda: patch(data, "mimetype", method=9), "PlanReadError"),
        "broken-mimetype": (lambda: patch(data, "mimetype", method=8), "PlanReadError"),
    }
    build, expect = cases[attack]
    return build(), expect


ARCHIVE_ATTACKS = """malformed laughs laughs-in-attribute laughs-utf32 xxe-passwd xxe-utf32 xxe-fifo deflate-bomb
    deflate-bomb-lying-size element-bomb styles-element-bomb table-bomb traversal traversal-only encrypted-part
    deflate64-part""".split()
MIMETYPE_ATTACKS = """mimetype-bomb mimetype-bomb-lying-size mimetype-bomb-3gb encrypted-mimetype deflate64-mimetype
    broken-mimetype""".split()
ZIP_ATTACKS = [("docx", a) for a in ARCHIVE_ATTACKS] + [("odt", a) for a in ARCHIVE_ATTACKS + MIMETYPE_ATTACKS]


def _escaped() -> list[Path]:
    """Files a reader wrote where a member name with ../ or / points, from wherever it might have started."""
    places = {Path("/"), Path("/tmp"), ROOT.parent, ROOT.parent.parent, Path.cwd().parent}
    return [p for d in places for p in d.glob("hostile-*.txt")]


@pytest.mark.parametrize("fmt, attack", ZIP_ATTACKS, ids=[f"{f}-{a}" for f, a in ZIP_ATTACKS])
def test_zip_attacks(tmp_path, fmt, attack):
    data, expect = zip_case(fmt, attack, tmp_path)
    path = tmp_path / "work" / f"{attack}.{fmt}"
    path.parent.mkdir()
    path.write_bytes(data)
    before = sorted(tmp_path.rglob("*"))
    result = run_read(path, needles=("root:", "HOSTILE-SECRET"))
    check(result, path.name, expect)
    assert not result.get("found"), f"an external entity was read: {result['found']}"
    assert sorted(tmp_path.rglob("*")) == before and not _escaped()


# ---------------------------------------------------------------------------------------------------- cut and flipped

MUTATED = ("docx", "odt", "doc", "html", "pdf", "txt")


def _timeout(fmt: str) -> float:
    return DOC_TIMEOUT if fmt == "doc" else TIMEOUT


@pytest.mark.parametrize("fmt", MUTATED)
@pytest.mark.parametrize("keep", [0.02, 0.5, 0.97])
def test_truncated(tmp_path, fmt, keep):
    data = original(fmt, MUTATED.index(fmt)).read_bytes()
    path = tmp_path / f"cut-{int(keep * 100)}.{fmt}"
    path.write_bytes(data[: int(len(data) * keep)])
    check(run_read(path, _timeout(fmt)), path.name, "either")


@pytest.mark.parametrize("fmt", MUTATED)
@pytest.mark.parametrize("seed", [1, 2])
def test_bytes_flipped_in_the_middle(tmp_path, fmt, seed):
    data = bytearray(original(fmt, MUTATED.index(fmt) + seed).read_bytes())
    rng = random.Random(f"{fmt}-{seed}")
    for _ in range(16):
        data[rng.randrange(len(data) // 4, 3 * len(data) // 4)] ^= rng.randrange(1, 256)
    path = tmp_path / f"flipped-{seed}.{fmt}"
    path.write_bytes(data)
    check(run_read(path, _timeout(fmt)), path.name, "either")


# ---------------------------------------------------------------------------------------------------- web pages


def _page(body: str, head: str = '<meta charset="utf-8">') -> bytes:
    return f"<!DOCTYPE html><html><head>{head}<title>計畫</title></head><body>{body}</body></html>".encode()


def _cells(rows: int, cols: int, attrs: str = "") -> str:
    row = "<tr>" + "".join(f"<td{attrs}>格{c}</td>" for c in range(cols)) + "</tr>"
    return "<h1>提升服務品質計畫</h1><table>" + row * rows + "</table>"


def _real_html(k: int) -> bytes:
    return original("html", k).read_bytes()


def _utf8_page() -> str:
    return next(t for k in range(len(STEMS)) if b'charset="utf-8"' in (t := _real_html(k))).decode("utf-8")


def _big5_page() -> bytes:
    return next(t for k in range(len(STEMS)) if b"big5" in (t := _real_html(k)).lower())


HTML_CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "nested-div": (lambda: _page("<div>" * 1_000_000 + "壹、計畫" + "</div>" * 1_000_000), "refused"),
    "nested-div-after-plan": (
        lambda: _real_html(1).replace(b"</body>", b"<div>" * 1_000_000 + b"x" + b"</div>" * 1_000_000 + b"</body>"),
        "either",
    ),
    "cells-100k": (lambda: _page(_cells(1000, 100)), "refused"),
    "cells-100k-one-row": (lambda: _page(_cells(1, 100_000)), "refused"),
    "huge-spans": (lambda: _page(_cells(300, 3, ' rowspan="999999999" colspan="99999"')), "refused"),
    "unknown-charset": (
        lambda: re.sub(rb"<meta[^>]*charset[^>]*>", b'<meta charset="x-unknown">', _big5_page(), flags=re.I),
        "plan",
    ),
    "utf16le-no-bom": (lambda: _utf8_page().encode("utf-16-le"), "plan"),
    "utf16be-no-bom": (lambda: _utf8_page().encode("utf-16-be"), "plan"),
    "utf16-bom": (lambda: _utf8_page().encode("utf-16"), "plan"),
}


@pytest.mark.parametrize("case", HTML_CASES)
def test_hostile_web_pages(tmp_path, case):
    build, expect = HTML_CASES[case]
    path = tmp_path / f"{case}.html"
    path.write_bytes(build())
    check(run_read(path), path.name, expect)


# ---------------------------------------------------------------------------------------------------- text and paths

ESSAY = """On Walking

There is a particular pleasure in walking without a destination. The mind, freed from the errand, begins to
notice what it would otherwise pass by: the colour of a door, the way light falls through the leaves, the
sound of a neighbour practising the piano. Writers have long praised the habit. Some walked to think, others
to escape thinking altogether, and a few simply because the doctor told them to.

Walking is also slow, and slowness is out of fashion. Yet it is precisely the slowness that lets a place
become familiar. A street driven through is a blur; a street walked every morning becomes a companion.
"""


def _one_line_plan() -> bytes:
    text = original("txt").read_text("utf-8").replace("\r", "").replace("\n", " ")
    return (text * (15 * MB // len(text.encode()) + 1)).encode()[: 15 * MB].rsplit(b" ", 1)[0]


def _box_grid(cols: int, rows: int) -> bytes:
    """A box-drawn table of rows × cols cells, each holding one character."""
    rule = "├" + "─┼" * (cols - 1) + "─┤\n"
    line = "│" + "字│" * cols + "\n"
    return ("┌" + "─┬" * (cols - 1) + "─┐\n" + (line + rule) * rows).encode()


TEXT_CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "one-line-ascii": (lambda: b"a" * (15 * MB), "PlanParseError"),
    "one-line-cjk": (lambda: "服務計畫、".encode() * (15 * MB // 15), "PlanParseError"),
    "one-line-plan": (_one_line_plan, "refused"),
    "box-grid-1000x1000": (lambda: _box_grid(1000, 1000), "PlanReadError"),
    "box-3-columns-40k-rows": (lambda: _box_grid(3, 40_000), "PlanReadError"),
    "one-line-box": (lambda: "│".encode() * (15 * MB // 3), "PlanReadError"),
    "long-plan": (lambda: original("txt").read_bytes() * 100, "plan"),  # 70,000 lines
    "many-lines": (lambda: b"a\n" * (15 * MB // 2), "PlanReadError"),
    "many-section-lines": (lambda: "壹、計畫\n".encode() * (15 * MB // 13), "PlanReadError"),
    "many-blank-lines": (lambda: b"\r" * (15 * MB), "PlanReadError"),
    "essay": (lambda: ESSAY.encode(), "PlanParseError"),
    "empty": (lambda: b"", "PlanReadError"),
    "blank": (lambda: b" \n\t\r\n" * 1000, "PlanReadError"),
    "nul-bytes": (lambda: bytes(15 * MB), "PlanReadError"),
}


@pytest.mark.parametrize("case", TEXT_CASES)
def test_hostile_text(tmp_path, case):
    build, expect = TEXT_CASES[case]
    path = tmp_path / f"{case}.txt"
    path.write_bytes(build())
    check(run_read(path), path.name, expect)


def _fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "plan.txt")
    return tmp / "plan.txt"


def _symlink_loop(tmp: Path) -> Path:
    (tmp / "loop.txt").symlink_to(tmp / "loop.txt")
    return tmp / "loop.txt"


def _to_dev_zero(tmp: Path) -> Path:
    (tmp / "zero.docx").symlink_to("/dev/zero")
    return tmp / "zero.docx"


def _folder(tmp: Path) -> Path:
    (tmp / "plans.docx").mkdir()
    return tmp / "plans.docx"


PATHS: dict[str, Callable[[Path], Path]] = {
    "folder": _folder,
    "fifo": _fifo,  # opening it would block until a writer comes: never
    "dev-zero": lambda tmp: Path("/dev/zero"),  # endless: reading it all would fill the memory
    "link-to-dev-zero": _to_dev_zero,
    "symlink-loop": _symlink_loop,
    "missing": lambda tmp: tmp / "missing.pdf",
}


@pytest.mark.parametrize("case", PATHS)
def test_paths_that_are_no_plan_file(tmp_path, case):
    path = PATHS[case](tmp_path)
    check(run_read(path, 10), path.name, "PlanReadError")


def compound_file(streams: dict[str, bytes]) -> bytes:
    """An OLE2 compound file (version 3, 512-byte sectors) holding these streams, each padded to 4 KB or more."""
    end, free, nostream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFF
    sectors: list[bytes] = []
    fat = [0xFFFFFFFD, end]  # sector 0 holds the FAT, sector 1 the directory
    entries = [("Root Entry", 5, 1 if streams else nostream, end, 0)]
    for sname, payload in streams.items():
        payload = payload.ljust(max(4096, -(-len(payload) // 512) * 512), b"\0")
        first = 2 + len(sectors)
        count = len(payload) // 512
        sectors += [payload[k * 512 : (k + 1) * 512] for k in range(count)]
        fat += [first + k + 1 for k in range(count - 1)] + [end]
        entries.append((sname, 2, nostream, first, len(payload)))
    assert len(fat) <= 128 and len(entries) <= 4, "one FAT sector and one directory sector"
    directory = b""
    for i, (ename, kind, child, start, size) in enumerate(entries):
        raw = ename.encode("utf-16-le") + b"\0\0"
        right = i + 1 if 0 < i < len(entries) - 1 else nostream  # the streams as a chain of right siblings
        directory += (
            raw.ljust(64, b"\0")
            + len(raw).to_bytes(2, "little")
            + bytes([kind, 1])
            + nostream.to_bytes(4, "little")
            + right.to_bytes(4, "little")
            + child.to_bytes(4, "little")
            + bytes(36)
            + start.to_bytes(4, "little")
            + size.to_bytes(8, "little")
        )
    directory = directory.ljust(512, b"\0")
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(16)
        + (0x3E).to_bytes(2, "little")
        + (3).to_bytes(2, "little")
        + b"\xfe\xff"
        + (9).to_bytes(2, "little")
        + (6).to_bytes(2, "little")
        + bytes(10)
        + (1).to_bytes(4, "little")  # FAT sectors
        + (1).to_bytes(4, "little")  # the first directory sector
        + bytes(4)
        + (4096).to_bytes(4, "little")
        + end.to_bytes(4, "little")
        + bytes(4)
        + end.to_bytes(4, "little")
        + bytes(4)
        + (0).to_bytes(4, "little")  # DIFAT[0]: the FAT is sector 0
        + free.to_bytes(4, "little") * 108
    )
    fat_sector = b"".join(x.to_bytes(4, "little") for x in fat).ljust(512, b"\xff")
    return header + fat_sector + directory + b"".join(sectors)


OLE_CASES: dict[str, tuple[Callable[[Path], bytes], str]] = {
    # LibreOffice writer-only (what CI installs) cannot write .xls: the workbook is made by hand.
    "xls-hand-made": (lambda tmp: compound_file({"Workbook": b"\x09\x08" + _garbage(6000, "xls")}), "Excel"),
    "ppt-hand-made": (lambda tmp: compound_file({"PowerPoint Document": _garbage(5000, "ppt")}), "PowerPoint"),
    # A Word stream of noise: LibreOffice is started on it and must fail, not hang or "convert" the noise.
    "word-noise": (
        lambda tmp: compound_file({"WordDocument": _garbage(8000, "word"), "1Table": _garbage(4096, "table")}),
        "",
    ),
    "no-streams": (lambda tmp: compound_file({}), "no Word document"),
    "ole-header-only": (lambda tmp: compound_file({})[:512], "no Word document"),
}


@pytest.mark.parametrize("case", OLE_CASES)
def test_a_doc_that_is_another_office_file(tmp_path, case):
    build, said = OLE_CASES[case]
    path = tmp_path / "plan.doc"
    path.write_bytes(build(tmp_path))
    result = run_read(path, DOC_TIMEOUT)
    check(result, path.name, "PlanReadError")
    assert said in result["message"]


# ---------------------------------------------------------------------------------------------------- PDF


def pdf_file(objects: list[bytes]) -> bytes:
    """A PDF of these objects (1 the catalog), its cross-reference table right."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"


def blank_pdf(pages: int) -> bytes:
    """A valid PDF of `pages` blank A4 pages."""
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    return pdf_file([CATALOG, f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(), *[PAGE] * pages])


def flate_bomb_pdf(total: int) -> bytes:
    """One page whose content stream unpacks to `total` bytes: a line of text, then spaces."""
    c = zlib.compressobj(9)
    text = b"BT /F1 12 Tf 72 720 Td (x) Tj ET\n"
    stream = b"".join(c.compress(chunk) for chunk in repeat(total, text, b"", b" ")) + c.flush()
    page = PAGE.replace(b" >>", b" /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>")
    return pdf_file(
        [
            CATALOG,
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            page,
            f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def _cut_xref(data: bytes) -> bytes:
    """The PDF with its cross-reference table cut in half, the trailer and %%EOF kept."""
    start = data.rindex(b"\nxref") + 1
    end = data.index(b"trailer", start)
    return data[: start + (end - start) // 2] + b"\n" + data[end:]


def _garbage(n: int, seed: str) -> bytes:
    return random.Random(seed).randbytes(n)


PDF_CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "xref-cut": (lambda: _cut_xref(original("pdf", 0).read_bytes()), "either"),
    "xref-garbled": (
        lambda: re.sub(rb"\d{10} \d{5} n", b"9999999999 00000 n", original("pdf", 1).read_bytes()),
        "either",
    ),
    "startxref-wrong": (
        lambda: re.sub(rb"startxref\s+\d+", b"startxref\n12", original("pdf", 2).read_bytes()),
        "either",
    ),
    "header-and-garbage": (lambda: b"%PDF-1.7\n" + _garbage(200_000, "pdf"), "PlanReadError"),
    "header-garbage-eof": (lambda: b"%PDF-1.7\n" + _garbage(200_000, "pdf") + b"\n%%EOF\n", "PlanReadError"),
    "blank-400-pages": (lambda: blank_pdf(400), "PlanReadError"),
    "blank-60-pages": (lambda: blank_pdf(60), "PlanReadError"),
    "blank-3-pages": (lambda: blank_pdf(3), "PlanReadError"),
    # The page tree says more pages than it holds, or holds itself: pdfminer finds one, pdfium counts more.
    "page-count-lies": (
        lambda: pdf_file([CATALOG, b"<< /Type /Pages /Kids [3 0 R] /Count 5 >>", PAGE]),
        "PlanReadError",
    ),
    "page-tree-cycle": (
        lambda: pdf_file([CATALOG, b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>", PAGE]),
        "PlanReadError",
    ),
    "flate-bomb-60mb": (lambda: flate_bomb_pdf(60 * MB), "PlanReadError"),
}


@pytest.mark.parametrize("case", PDF_CASES)
def test_hostile_pdfs(tmp_path, case):
    build, expect = PDF_CASES[case]
    path = tmp_path / f"{case}.pdf"
    path.write_bytes(build())
    result = run_read(path)
    check(result, path.name, expect)
    if case == "blank-400-pages":
        assert result["seconds"] < 5, f"refusing 400 pages took {result['seconds']} s"


# ---------------------------------------------------------------------------------------------------- the CLI


def run_cli(*args: str) -> subprocess.CompletedProcess:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))

    return subprocess.run(
        [sys.executable, "-m", "kg.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, preexec_fn=cap
    )


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_cli_build_names_each_hostile_file_and_builds_the_good_one(tmp_path):
    folder = tmp_path / "plans"
    folder.mkdir()
    good = original("txt", 2)
    shutil.copy(good, folder / good.name)
    (folder / "bomb.docx").write_bytes(zip_case("docx", "deflate-bomb", tmp_path)[0])
    (tmp_path / "odt").mkdir()
    (folder / "laughs.odt").write_bytes(zip_case("odt", "laughs", tmp_path / "odt")[0])
    (folder / "essay.txt").write_text(ESSAY, "utf-8")
    data = tmp_path / "kg-data"
    done = run_cli("build", str(folder), "--no-index", "--data-dir", str(data))
    assert done.returncode == 1, done.stderr
    for bad in ("bomb.docx", "laughs.odt", "essay.txt"):
        assert f"error: {bad}:" in done.stderr
    assert re.search(rf"^{re.escape(good.name)}: \d+ measures", done.stdout, re.M), done.stdout
    assert len({p.name for p in data.rglob("records/*.json.gz")}) == 1  # wherever the layout keeps its records

    # A hostile file on its own builds nothing and leaves the data dir as it was.
    before = _tree(data)
    os.mkfifo(tmp_path / "pipe.txt")
    for bad in (folder / "bomb.docx", tmp_path / "pipe.txt", Path("/dev/zero")):
        done = run_cli("build", str(bad), "--no-index", "--data-dir", str(data))
        assert done.returncode == 1
        assert done.stderr.startswith(f"error: {bad.name}:"), done.stderr
    assert _tree(data) == before
