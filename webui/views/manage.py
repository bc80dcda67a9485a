"""Adding, replacing and removing plans from the browser: upload, a preview of what was read, then the same build.

Writing needs the editor token the server was started with (EDITOR_TOKEN: `kg serve --editor-token` or
KG_EDITOR_TOKEN); without one the pages say the UI is read-only and every POST here is 403. A planner enters the
token once on /manage; the signed session (a secret made at start) then says so, and every form carries the
session's CSRF token besides (guard_requests already refuses POSTs that a browser says come from another site).
A program may send the token in an `Authorization: Bearer` header instead, which no other site can make a browser
send.

Uploaded files wait in a folder of their own (a batch) under a temporary folder of this app, read with the same
readers and parser as `kg build`, until the planner confirms; then kg.store.build — the CLI's build, with its lock,
its generations and its index step — adds them, and a removal is kg.store.remove. A failed build publishes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import shutil
import tempfile
import threading
import time
import unicodedata
from pathlib import Path, PurePath
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from kg.errors import PlanError, PlanParseError
from kg.link import Aliases
from kg.plan import parse_plan
from kg.read import MAX_BYTES, parse_bytes, read_bytes
from kg.records import plan_record
from kg.search import IndexStep
from kg.store import build, plan_label, remove
from webui.errors import error_response
from webui.provenance import finding_text, format_label, parse_place, place_label
from webui.state import LIVE, get_state, year_key

bp = Blueprint("manage", __name__, url_prefix="/manage")

TOKEN_CONFIG = "EDITOR_TOKEN"
TOKEN_ENV = "KG_EDITOR_TOKEN"
UPLOADS = "spkg.uploads"  # app.extensions[UPLOADS]: the app's Uploads
SESSION_EDITOR = "spkg_editor"  # session key: the fingerprint of the token this browser entered
SESSION_CSRF = "spkg_csrf"  # session key: the token every form of this session carries
CSRF_FIELD = "csrf"

MAX_FILE_BYTES = MAX_BYTES  # one plan file: the readers' own limit (20 MB), as `kg build` reads it
MAX_FILES = 10  # files one upload may hold
MAX_UPLOAD_BYTES = MAX_FILES * MAX_FILE_BYTES + (1 << 20)  # one upload request: the files and the form around them
BATCH_TTL = 2 * 3600.0  # seconds an upload waits for its confirmation before it is thrown away
LOCK_WAIT = 60.0  # seconds a confirmation or removal waits for another build of the data dir to end
PLAN_SUFFIXES = (".pdf", ".docx", ".doc", ".odt", ".html", ".htm", ".txt")
BATCH_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")
MAX_NAME_CHARS = 120

STALE_FORM = "表單已失效或不是從本站送出（缺少或不符的 CSRF 權杖）。請重新整理「管理計畫」頁面再送出。"
LAYOUT_LABELS = {"grid": "表格", "tabbed": "以定位字元分欄的文字", "lines": "純文字表格"}

# What the readers and the parser say (kg.errors.PlanError.why), said for a planner; anything else is shown as it is.
_WHY = [
    (r"the file is empty", "檔案是空的"),
    (r"this is a binary file of no format this tool reads.*", "這是本工具無法讀取的二進位檔案，不是計畫文件"),
    (r"the text is full of control characters.*", "內容充滿控制字元，像是二進位或已損壞的檔案"),
    (r"neither UTF-8 nor Big5/CP950.*", "文字既不是 UTF-8 也不是 Big5 編碼，無法解讀（請另存為 UTF-8）"),
    (r"a ZIP archive that is neither.*|a ZIP archive without .*", "這是壓縮檔，但不是 Word .docx 或 ODF .odt 文件"),
    (r"the plan file is .* is refused|the plan file is over .*", f"檔案超過 {MAX_FILE_BYTES >> 20} MB 的上限"),
    (r"the PDF is truncated or damaged.*", "PDF 不完整或已損壞，請取得完整的檔案"),
    (r"the PDF is protected by a password.*", "PDF 設有密碼，請另存一份沒有密碼的檔案"),
    (r"the PDF has no pages", "PDF 沒有任何頁面"),
    (r"not a readable PDF.*", "無法讀取這份 PDF（檔案損壞，或不是 PDF）"),
    (r"not a readable \.docx.*|the Word document's XML is .*", "無法讀取這份 Word .docx（檔案損壞或不完整）"),
    (r"not a readable \.odt.*|the ODF document's .*", "無法讀取這份 ODF .odt（檔案損壞或不完整）"),
    (r"not a Word 97 \.doc file.*|an Office 97 \(OLE2\) file .*", "不是可讀取的 Word 97 .doc 檔案"),
    (r"reading Word 97 \.doc files needs LibreOffice.*", "伺服器未安裝 LibreOffice，無法讀取 .doc，請另存為 .docx"),
    (r"this PDF is a scan with no text layer; reading it needs OCR.*", "這是掃描檔 PDF，伺服器未安裝 OCR（Tesseract）"),
    (r".*password.*", "檔案設有密碼，請另存一份沒有密碼的檔案"),
    (r"no numbered sections .*", "找不到「壹、貳、參…」編號的章節，不像是提升服務計畫"),
    (r"no measures table section .*", "找不到措施表所在的章節（肆、計畫內容／實施要項與方法）"),
    (r"the measures table has no measures", "措施表中沒有讀到任何措施"),
    (r"the title .* names no agency .*", "計畫標題中找不到機關名稱"),
]
_WHY_RE = [(re.compile(p, re.S), text) for p, text in _WHY]


# ---------------------------------------------------------------- the app's settings and staging folder


class Uploads:
    """Uploaded files waiting for confirmation: one folder per upload (a batch) under a temporary folder that this
    app made and removes when it ends. Nothing a request names becomes a path here but a checked batch id."""

    def __init__(self) -> None:
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        with self._lock:
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="spkg-uploads-")
            return Path(self._tmp.name)

    def new_batch(self) -> tuple[str, Path]:
        self.prune()
        batch = secrets.token_urlsafe(16)
        folder = self.root / batch
        (folder / "files").mkdir(parents=True)
        return batch, folder

    def folder(self, batch: str) -> Path | None:
        if not BATCH_RE.match(batch or ""):
            return None
        folder = self.root / batch
        return folder if (folder / "manifest.json").is_file() else None

    def discard(self, batch: str) -> None:
        folder = self.folder(batch)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def prune(self, ttl: float = BATCH_TTL) -> None:
        if self._tmp is None:
            return
        now = time.time()
        for folder in self.root.iterdir():
            try:
                if now - folder.stat().st_mtime > ttl:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue


@bp.record_once
def _setup(state: Any) -> None:
    app: Flask = state.app
    token = str(app.config.get(TOKEN_CONFIG) or "").strip()
    app.config[TOKEN_CONFIG] = token or None  # empty or blank: read-only
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secrets.token_bytes(32)  # a new one each start: sessions end with the server
    if not app.config.get("SESSION_COOKIE_SAMESITE"):  # Flask's default is None: sent on cross-site requests too
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.extensions[UPLOADS] = Uploads()


def _token() -> str | None:
    return current_app.config.get(TOKEN_CONFIG) or None


def _fingerprint(token: str) -> str:
    """What the session keeps of the token: a keyed hash, so the (readable) cookie does not disclose it."""
    key = current_app.config["SECRET_KEY"]
    key = key if isinstance(key, bytes) else str(key).encode()
    return hmac.new(key, b"spkg-editor:" + token.encode(), hashlib.sha256).hexdigest()


def _same(given: str | None, expected: str) -> bool:
    """given equals expected, compared in constant time; nothing equals an empty or missing expectation."""
    return bool(expected) and given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _csrf() -> str:
    """This session's CSRF token (made on first use)."""
    if SESSION_CSRF not in session:
        session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return session[SESSION_CSRF]


def _signed_in() -> bool:
    token = _token()
    return token is not None and _same(session.get(SESSION_EDITOR), _fingerprint(token))


def _bearer() -> str | None:
    auth = request.headers.get("Authorization", "")
    return auth[7:].strip() if auth[:7].lower() == "bearer " else None


def _refuse_write(check_csrf: bool = True) -> ResponseReturnValue | None:
    """None when this POST may write; else the 403 answer saying why. Checked before the body is read where it
    can be: an upload from someone without the token is refused without being received."""
    token = _token()
    if token is None:
        return error_response(
            403,
            "此伺服器以唯讀模式執行，不能從瀏覽器加入或移除計畫。若要開放，請以 kg serve --editor-token 權杖 "
            f"（或設定環境變數 {TOKEN_ENV}）重新啟動伺服器。",
        )
    bearer = _bearer()
    if bearer is not None:
        if _same(bearer, token):
            return None  # a header no other site can make a browser send: no CSRF token needed
        return error_response(403, "編輯權杖不正確。")
    if not _signed_in():
        return error_response(403, "需要編輯權杖：請先在「管理計畫」頁面輸入編輯權杖。")
    if check_csrf and not _same(request.form.get(CSRF_FIELD), session.get(SESSION_CSRF) or ""):
        return error_response(403, STALE_FORM)
    return None


def _live():
    return current_app.extensions[LIVE]


def _data_dir() -> Path:
    return _live().root.path


def _index_step() -> IndexStep:
    """The index step of `kg build` and `kg remove`, with the encoder this server already loaded."""
    return IndexStep(_live().settings.search).prepare()


# ---------------------------------------------------------------- messages


def why_in_chinese(exc: PlanError) -> str:
    """A reader's or the parser's refusal as a planner reads it (the English text when it is of no known kind)."""
    why = exc.why.strip()
    for pattern, text in _WHY_RE:
        if pattern.fullmatch(why):
            return text
    return ("無法解析為提升服務計畫：" if isinstance(exc, PlanParseError) else "無法讀取：") + why


def file_error(name: str, exc: PlanError) -> dict:
    where = f"（第 {exc.line} 行）" if exc.line else ""
    return {"name": name, "message": f"「{name}」：{why_in_chinese(exc)}{where}", "detail": str(exc)}


def safe_name(raw: str | None, taken: set[str]) -> str:
    """A file name a browser sent, as one safe name: its last part, no control or path characters, not hidden, not
    too long, not one already in the upload (a number is added)."""
    name = unicodedata.normalize("NFC", raw or "")
    name = PurePath(name.replace("\\", "/")).name
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C" and c not in '/\\:*?"<>|')
    name = name.strip().lstrip(".").strip() or "plan"
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix) > 8:
        stem, suffix = name, ""
    stem = stem[: MAX_NAME_CHARS - len(suffix) - 1]
    name = f"{stem}.{suffix}" if suffix else stem
    n = 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}.{suffix}" if suffix else f"{stem}-{n}"
    taken.add(name)
    return name


def _year(rec: dict) -> str:
    if rec.get("year") is None:
        return "年度未載明"
    return f"{rec['year']}（民國 {rec['year_roc']} 年）"


# ---------------------------------------------------------------- reading an upload


def _save(upload: FileStorage, dest: Path) -> int | None:
    """Copy an uploaded file to dest; its size, or None (and nothing kept) when it is over the limit."""
    size = 0
    with dest.open("wb") as out:
        while chunk := upload.stream.read(1 << 16):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                break
            out.write(chunk)
    if size > MAX_FILE_BYTES:
        dest.unlink()
        return None
    return size


def _preview(path: Path, aliases: Aliases, plans: dict[str, dict]) -> dict:
    """What `kg build` would make of one file: the plan record, its findings and its measures; or why not."""
    name = path.name
    try:
        data = read_bytes(path)
        plan = parse_plan(parse_bytes(data, name))
        rec = plan_record(plan, aliases)
    except PlanError as exc:
        return {"name": name, "ok": False, "error": file_error(name, exc)}
    except Exception as exc:  # a reader tripped on something unforeseen: say so, naming the file, never a traceback
        current_app.logger.exception("reading the upload %s", name)
        return {
            "name": name,
            "ok": False,
            "error": {
                "name": name,
                "message": f"「{name}」：讀取時發生未預期的錯誤，無法讀成計畫。",
                "detail": f"{type(exc).__name__}: {exc}"[:300],
            },
        }
    old = plans.get(rec["id"])
    findings = []
    for f in rec["findings"]:
        place = parse_place(f["where"], name)
        findings.append({"place": place_label(place, rec["format"]) or f["where"], "text": finding_text(f["what"])})
    return {
        "name": name,
        "ok": True,
        "plan_id": rec["id"],
        "title": rec["title"],
        "agency": rec["agency"]["name"],
        "year": _year(rec),
        "format": format_label(rec["format"]),
        "layout": LAYOUT_LABELS.get(rec["layout"], rec["layout"]),
        "ocr": bool(rec["ocr"]),
        "pages": rec["pages"],
        "replaces": {"id": old["id"], "title": old["title"], "file": old["file"], "measures": len(old["measures"])}
        if old
        else None,
        "findings": findings,
        "measures": [
            {
                "number": m["number"],
                "dimension": m["dimension"],
                "item": m["item"],
                "title": m["title"],
                "text": m["text"],
                "units": [u["name"] for u in m["units"]],
                "units_raw": m["units_raw"],
                "deadline": m["deadline"],
            }
            for m in rec["measures"]
        ],
    }


# ---------------------------------------------------------------- pages


def _plans() -> list[dict]:
    state = get_state()
    rows = [
        {
            "id": p["id"],
            "title": p["title"],
            "agency": p["agency"]["name"],
            "year": p["year"],
            "file": p["file"],
            "measures": len(p["measure_ids"]),
            "findings": len(p.get("findings") or []),
        }
        for p in state.plans.values()
    ]
    return sorted(rows, key=lambda r: (r["agency"], year_key(r["year"])))


@bp.get("", endpoint="index")
def index() -> ResponseReturnValue:
    token = _token()
    editor = _signed_in()
    return render_template(
        "manage.html",
        read_only=token is None,
        editor=editor,
        csrf=_csrf() if token is not None else None,
        plans=_plans(),
        generation=get_state().generation,
        messages=get_flashed_messages(with_categories=True) if token is not None else [],
        max_files=MAX_FILES,
        max_mb=MAX_FILE_BYTES >> 20,
        accept=",".join(PLAN_SUFFIXES),
        token_env=TOKEN_ENV,
    )


@bp.post("/login")
def login() -> ResponseReturnValue:
    token = _token()
    if token is None:
        return _refuse_write()
    if not _same(request.form.get(CSRF_FIELD), session.get(SESSION_CSRF) or ""):
        return error_response(403, STALE_FORM)
    if not _same(request.form.get("token", "").strip(), token):
        session.pop(SESSION_EDITOR, None)
        return error_response(403, "編輯權杖不正確。請向啟動伺服器的管理者確認權杖（kg serve --editor-token）。")
    session[SESSION_EDITOR] = _fingerprint(token)
    session[SESSION_CSRF] = secrets.token_urlsafe(32)  # a new one once signed in
    return redirect(url_for("manage.index"), 303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    refused = _refuse_write()
    if refused is not None:
        return refused
    session.pop(SESSION_EDITOR, None)
    session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return redirect(url_for("manage.index"), 303)


@bp.post("/upload")
def upload() -> ResponseReturnValue:
    refused = _refuse_write(check_csrf=False)  # before the body is read: it may be large
    if refused is not None:
        return refused
    request.max_content_length = MAX_UPLOAD_BYTES  # this route only; other POSTs keep the app's 1 MB
    try:
        files = [f for f in request.files.getlist("files") if f.filename]
        form_ok = _bearer() is not None or _same(request.form.get(CSRF_FIELD), session.get(SESSION_CSRF) or "")
    except RequestEntityTooLarge:
        return error_response(
            413, f"一次上傳的檔案合計超過 {MAX_UPLOAD_BYTES >> 20} MB。請分批上傳（每次最多 {MAX_FILES} 個檔案）。"
        )
    if not form_ok:
        return _refuse_write()
    if not files:
        flash("請選擇要上傳的計畫檔案。", "error")
        return redirect(url_for("manage.index"), 303)
    try:  # the planner's own aliases, as the build will read them
        aliases = Aliases.load(_data_dir() / "aliases.toml")
    except PlanError as exc:
        flash(f"無法讀取資料目錄的別名檔，未讀取上傳的檔案：{exc}", "error")
        return redirect(url_for("manage.index"), 303)
    uploads: Uploads = current_app.extensions[UPLOADS]
    batch, folder = uploads.new_batch()
    taken: set[str] = set()
    results: list[dict] = []
    refused_files: list[dict] = []
    state = get_state()
    for n, f in enumerate(files):
        name = safe_name(f.filename, taken)
        if n >= MAX_FILES:
            refused_files.append({"name": name, "message": f"「{name}」：未讀取，一次最多上傳 {MAX_FILES} 個檔案。"})
            continue
        path = folder / "files" / name
        size = _save(f, path)
        if size is None:
            too_big = f"「{name}」：檔案超過 {MAX_FILE_BYTES >> 20} MB 的上限，未讀取。"
            refused_files.append({"name": name, "message": too_big})
            continue
        if size == 0:
            path.unlink()
            refused_files.append({"name": name, "message": f"「{name}」：檔案是空的，未讀取。"})
            continue
        results.append(_preview(path, aliases, state.plans))
    seen: dict[str, str] = {}
    for r in results:  # two files of one plan (agency and year): the build keeps the later one
        if r["ok"]:
            if r["plan_id"] in seen:
                r["same_as"] = seen[r["plan_id"]]
            seen[r["plan_id"]] = r["name"]
    readable = [r for r in results if r["ok"]]
    manifest = {"created": time.time(), "files": [{"name": r["name"], "plan_id": r["plan_id"]} for r in readable]}
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    for r in results:
        if not r["ok"]:
            (folder / "files" / r["name"]).unlink(missing_ok=True)
    if not readable:
        uploads.discard(batch)
    return render_template(
        "manage_preview.html",
        batch=batch if readable else None,
        csrf=_csrf(),
        results=results,
        readable=readable,
        errors=refused_files + [r["error"] for r in results if not r["ok"]],
        generation=state.generation,
    )


@bp.post("/confirm")
def confirm() -> ResponseReturnValue:
    refused = _refuse_write()
    if refused is not None:
        return refused
    uploads: Uploads = current_app.extensions[UPLOADS]
    batch = request.form.get("batch", "")
    folder = uploads.folder(batch)
    if folder is None:
        flash("這批上傳已經加入、已取消或已過期（保留 2 小時），請重新上傳。", "error")
        return redirect(url_for("manage.index"), 303)
    if request.form.get("action") == "cancel":
        uploads.discard(batch)
        flash("已取消這批上傳，資料沒有變動。", "info")
        return redirect(url_for("manage.index"), 303)
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    chosen = set(request.form.getlist("file"))
    paths = [folder / "files" / f["name"] for f in manifest["files"] if f["name"] in chosen]
    if not paths:
        flash("沒有勾選要加入的檔案，資料沒有變動。", "error")
        return redirect(url_for("manage.index"), 303)
    try:
        step = _index_step()
        report = build(paths, _data_dir(), after_graph=step, wait=LOCK_WAIT)
    except PlanError as exc:
        current_app.logger.warning("adding plans from the browser failed: %s", exc)
        flash(f"加入失敗，資料維持原狀：{exc}", "error")
        return redirect(url_for("manage.index"), 303)
    for err in report.errors:
        flash(file_error(err.file, err)["message"] + "（未加入）", "error")
    if report.built:
        _live().current(force=True)  # the page this leads to shows the new build
        uploads.discard(batch)
        for done in report.ingested:
            warn = f"，{len(done.findings)} 項讀取提醒" if done.findings else ""
            flash(f"已加入「{done.file}」：{done.measures} 項措施{warn}。", "ok")
        flash(f"資料目錄現有 {report.plans} 份計畫、{report.measures} 項措施（版本 {report.generation}）。", "ok")
    else:
        flash("沒有加入任何計畫，資料沒有變動。", "error")
    return redirect(url_for("manage.index"), 303)


@bp.post("/remove")
def remove_plan() -> ResponseReturnValue:
    refused = _refuse_write()
    if refused is not None:
        return refused
    pid = request.form.get("plan_id", "")
    if pid not in get_state().plans:
        flash("找不到要移除的計畫（可能已被移除），資料沒有變動。", "error")
        return redirect(url_for("manage.index"), 303)
    try:
        report = remove(_data_dir(), [pid], after_graph=_index_step(), wait=LOCK_WAIT)
    except PlanError as exc:
        current_app.logger.warning("removing plan %s from the browser failed: %s", pid, exc)
        flash(f"移除失敗，資料維持原狀：{exc}", "error")
        return redirect(url_for("manage.index"), 303)
    _live().current(force=True)
    for rec in report.removed:
        current_app.logger.info("removed %s from the browser", plan_label(rec))
        flash(f"已移除「{rec['title']}」（{rec['agency']['name']}，{len(rec['measures'])} 項措施）。", "ok")
    flash(f"資料目錄現有 {report.plans} 份計畫、{report.measures} 項措施（版本 {report.generation}）。", "ok")
    return redirect(url_for("manage.index"), 303)
