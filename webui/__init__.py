"""The web UI for planners: search, measure pages, browsing, graph view, SPARQL endpoint and downloads (zh-Hant)."""

from __future__ import annotations

import threading
import webbrowser
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, request, url_for
from werkzeug.routing import BuildError

from webui.errors import register_error_handlers
from webui.state import EXTENSION, load_state

DEFAULTS: dict[str, Any] = {
    "SPARQL_TIMEOUT": 10.0,  # seconds a SPARQL query may run before the request gives up with 503
    "SPARQL_MAX_ROWS": 1000,  # rows (or triples) a SPARQL answer holds at most
    "SPARQL_WORKERS": 4,  # queries that may run at once, abandoned ones included
    "MAX_CONTENT_LENGTH": 1 << 20,  # the largest request body (a SPARQL query by POST) accepted
    "JSON_SORT_KEYS": False,
}

# Plan text is untrusted and already escaped everywhere; this policy is the second line: no inline or foreign
# script can run even if a template ever slipped.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def create_app(config: Mapping[str, Any]) -> Flask:
    """The app for one data dir (config: DATA_DIR, optional SPARQL_TIMEOUT, SPARQL_MAX_ROWS, SPARQL_WORKERS)."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(config)
    if not app.config.get("DATA_DIR"):
        raise ValueError("create_app needs DATA_DIR: the data dir built by 'kg build'")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese stays readable in the JSON API
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.jinja_env.autoescape = True  # every template, whatever its name, escapes what it prints
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.extensions[EXTENSION] = load_state(
        Path(app.config["DATA_DIR"]),
        sparql_timeout=float(app.config["SPARQL_TIMEOUT"]),
        sparql_max_rows=int(app.config["SPARQL_MAX_ROWS"]),
        sparql_workers=int(app.config["SPARQL_WORKERS"]),
    )

    from webui.views import browse, downloads, graph, home, measures, originals, search, sparql

    for module in (home, search, measures, browse, graph, sparql, downloads, originals):
        app.register_blueprint(module.bp)
    register_error_handlers(app)
    app.context_processor(lambda: {"api_url": _api_url})

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app


def _api_url() -> str | None:
    """The JSON twin of the page being shown (same arguments), for the footer link; None if it has none."""
    endpoint = request.endpoint or ""
    if not endpoint or endpoint.endswith("_api"):
        return None
    try:
        return url_for(endpoint + "_api", **(request.view_args or {}), **request.args.to_dict(flat=False))
    except BuildError:
        return None


def serve(data_dir: str, host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False) -> None:
    """Serve the UI with waitress until interrupted (what `kg serve` runs)."""
    from waitress import serve as waitress_serve

    app = create_app({"DATA_DIR": data_dir})
    url = f"http://{'localhost' if host in ('0.0.0.0', '::') else host}:{port}/"
    print(f"spkg web UI: {url}  (Ctrl+C to stop)")
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    waitress_serve(app, host=host, port=port, threads=8)
