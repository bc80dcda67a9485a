"""The plans' original files, as the agencies published them: only files a plan record names, and never run here.

An agency's HTML (or a Word file a browser might take for HTML) served inline from this site could run script with
the site's rights, so every original but a PDF is a download, and all of them carry a policy that allows nothing:
no script, no styles, no requests, and a sandbox. A PDF opens in the browser's viewer (a link may add #page=N).
"""

from __future__ import annotations

import hashlib
import io

from flask import Blueprint, abort, send_file, url_for
from flask.typing import ResponseReturnValue

from webui.provenance import content_type, media_type
from webui.state import KGState, get_state

bp = Blueprint("originals", __name__)

ORIGINAL_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HASH_CHARS = 12  # kg.store.original_name: the first 12 hex digits of the content's SHA-1, then the file's own name


def original_url(state: KGState, plan: dict, page: int | None = None) -> str | None:
    """The link to a plan's original file (at a page, for a PDF), or None when the data dir holds none."""
    name = plan.get("original")
    if not name or state.original_plan(name) != plan["id"] or state.original_path(name) is None:
        return None
    if page is not None and plan.get("format") == "pdf":
        return url_for("originals.original", name=name, _anchor=f"page={page}")
    return url_for("originals.original", name=name)


def _inline(plan: dict, mimetype: str) -> bool:
    """Only a PDF, by both its name and its content, is shown in the browser."""
    return mimetype == "application/pdf" and plan.get("format") == "pdf"


@bp.get("/original/<name>")
def original(name: str) -> ResponseReturnValue:
    state = get_state()
    path = state.original_path(name)
    if path is None:
        abort(404, description=f"沒有名為「{name}」的原始檔案")
    plan = state.plans[state.original_plan(name)]
    data = path.read_bytes()
    digest = hashlib.sha1(data).hexdigest()
    if not path.name.startswith(digest[:HASH_CHARS] + "-"):
        # the data dir was rebuilt under the running server and this file is no longer the one the record meant
        abort(404, description="原始檔案與計畫紀錄不符，請重新匯入這份計畫（kg build）後再試")
    mimetype = media_type(path.name, plan.get("format"))
    inline = _inline(plan, mimetype)
    response = send_file(
        io.BytesIO(data),
        mimetype=mimetype,
        as_attachment=not inline,
        download_name=plan.get("file") or path.name,
        etag=digest,
        conditional=True,
        max_age=3600,
    )
    response.headers["Content-Type"] = content_type(path.name, plan.get("format"), plan.get("encoding"))
    response.headers["Content-Security-Policy"] = ORIGINAL_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
