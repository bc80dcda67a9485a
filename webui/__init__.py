"""The web UI for planners: search, measure pages, browsing, graph view, SPARQL endpoint and downloads (zh-Hant)."""

from __future__ import annotations

import os
import threading
import webbrowser
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, request, url_for
from werkzeug.routing import BuildError

from webui.errors import error_response, register_error_handlers
from webui.nav import install_template_helpers
from webui.state import install_state

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


# Host names always served: a page of another site cannot make a browser send one of these (DNS rebinding).
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def create_app(config: Mapping[str, Any]) -> Flask:
    """The app for one data dir (config: DATA_DIR, optional SPARQL_TIMEOUT, SPARQL_MAX_ROWS, SPARQL_WORKERS,
    ENCODER and ENCODER_THREADS (else KG_ENCODER, INDEX_ENCODER_THREADS), RELOAD_INTERVAL (seconds, default 0.5),
    ALLOWED_HOSTS (host names served besides 127.0.0.1, localhost and ::1; "*" for any) and SERVE_HOST (the
    address `kg serve` listens on, served too), EDITOR_TOKEN (the token that lets planners add and remove plans
    at /manage; without it the UI is read-only), SECRET_KEY (signs the editors' session; made at start if not
    given) and GRAPH_NEIGHBOURS (how many neighbours one expansion of the graph view shows, default 100))."""
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
    guard_requests(app)  # before anything else: a request for another host or from another site does nothing
    # Settings checked (StateConfigError), the current build loaded, and picked up again after each `kg build`.
    install_state(app)

    from webui.views import browse, downloads, gaps, graph, home, manage, measures, originals, search, sparql, tables

    for module in (home, search, measures, browse, graph, sparql, downloads, originals, manage, gaps, tables):
        app.register_blueprint(module.bp)
    register_error_handlers(app)
    app.context_processor(lambda: {"api_url": _api_url})
    install_template_helpers(app)  # webui.nav: the menu, measure headings and ROC years in every template

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app


def compile_templates(app: Flask) -> None:
    """Compile every page's template now (0.15 s), not on its first visit (up to 30 ms of that visit's time)."""
    for name in app.jinja_env.list_templates(filter_func=lambda n: n.endswith(".html")):
        app.jinja_env.get_template(name)


def allowed_hosts(config: Mapping[str, Any]) -> set[str] | None:
    """The host names requests may name (lower case, no port); None when any is allowed (ALLOWED_HOSTS "*")."""
    given = config.get("ALLOWED_HOSTS") or ()
    if isinstance(given, str):
        given = given.split(",")
    names = {_host_name(h) for h in given if h.strip()}
    if "*" in names:
        return None
    names |= set(LOCAL_HOSTS)
    served = str(config.get("SERVE_HOST") or "")
    if served in WILDCARD_HOSTS and "SERVE_HOST" in config:
        names |= _this_machine()
    elif served:
        names.add(_host_name(served))
    return names


def _this_machine() -> set[str]:
    """This computer's name and addresses, for a server that listens on every interface (kg serve --host 0.0.0.0)."""
    import socket

    names: set[str] = set()
    try:
        host = socket.gethostname()
        names |= {host.lower(), socket.getfqdn(host).lower()}
        names |= {str(info[4][0]).lower() for info in socket.getaddrinfo(host, None)}
    except OSError:
        pass
    return {n.rstrip(".") for n in names if n}


def _host_name(host: str) -> str:
    """The name part of a Host header (or a configured name): lower case, without port or brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        host = host[1:end] if end > 0 else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _same_origin(url: str, host: str) -> bool:
    try:
        return urlsplit(url).netloc.lower() == host.lower()
    except ValueError:
        return False


def guard_requests(app: Flask) -> None:
    """Refuse, before any view runs: a Host header naming a host this server does not serve (400: DNS rebinding,
    a page of another site reaching this server under its own name); and a POST (or other unsafe method) sent by a
    page of another site (403: cross-site request forgery), told by Origin, Referer or Sec-Fetch-Site. Requests
    without those headers (SPARQL clients, curl) pass: only browsers send them, and browsers always do cross-site.
    """
    hosts = allowed_hosts(app.config)

    @app.before_request
    def check_host_and_origin() -> Any:
        host = request.host
        if hosts is not None and _host_name(host) not in hosts:
            shown = host[:100]
            return error_response(
                400,
                f"此伺服器不以「{shown}」這個名稱提供服務（Host 標頭不符）。若要以這個名稱開放，"
                "請把它加入設定 ALLOWED_HOSTS（kg serve：環境變數 KG_ALLOWED_HOSTS，以逗號分隔）。",
            )
        if request.method in SAFE_METHODS:
            return None
        origin = request.headers.get("Origin")
        referer = request.headers.get("Referer")
        site = request.headers.get("Sec-Fetch-Site", "").lower()
        foreign = (
            (origin is not None and (origin == "null" or not _same_origin(origin, host)))
            or (origin is None and bool(referer) and not _same_origin(referer or "", host))
            or site in ("cross-site", "same-site")
        )
        if foreign:
            return error_response(
                403,
                "拒絕來自其他網站的提交（跨站請求）。請在本站的頁面上送出，"
                "或由程式以 GET、或 Content-Type: application/sparql-query 的 POST 查詢。",
            )
        return None


def _allowed_hosts_from_env() -> list[str]:
    """KG_ALLOWED_HOSTS: more host names `kg serve` answers to (comma-separated), e.g. its name on the network."""
    return [h.strip() for h in os.environ.get("KG_ALLOWED_HOSTS", "").split(",") if h.strip()]


def _api_url() -> str | None:
    """The JSON twin of the page being shown (same arguments), for the footer link; None if it has none."""
    endpoint = request.endpoint or ""
    if not endpoint or endpoint.endswith("_api"):
        return None
    try:
        return url_for(endpoint + "_api", **(request.view_args or {}), **request.args.to_dict(flat=False))
    except BuildError:
        return None


def load_encoder(app: Flask) -> None:
    """Load the search encoder's model now (about a second for USE, which its package loads on first use), so
    that the first search after start does not wait for it."""
    from index.encoders import load
    from webui.state import EXTENSION

    load(app.extensions[EXTENSION].search.index.encoder)


def prepare_pages(app: Flask) -> None:
    """What the gap analysis pages of the build being served all read, worked out before the first visit, and the
    systems' saved counts (the system pages and the graph view's derived links read them) read."""
    from webui import counts
    from webui.state import EXTENSION
    from webui.views import gaps

    with app.app_context():
        state = app.extensions[EXTENSION]
        gaps.prepare(state)
        counts.saved_systems(state)


def start_sparql_workers(app: Flask) -> None:
    """Start the endpoint's query workers on the store being served (none for a SPARQL server as the store)."""
    from kg.datadir import DataDir
    from webui.state import EXTENSION
    from webui.views.sparql import remote_store

    with app.app_context():
        if remote_store() is None:
            state = app.extensions[EXTENSION]
            state.sparql.start(DataDir(state.data_dir).store_dir)


def serve(
    data_dir: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    open_browser: bool = False,
    editor_token: str | None = None,
) -> None:
    """Serve the UI with waitress until interrupted (what `kg serve` runs). editor_token (else KG_EDITOR_TOKEN of
    the environment) lets planners who enter it add and remove plans at /manage; without one the UI is read-only.

    Raises OSError, its message naming the host and port, when it cannot listen there (the port is in use or
    not allowed, the host unknown). That is checked before the data dir is loaded, so it is told at once.
    """
    import errno
    import logging
    import socket

    from waitress.server import create_server

    def cannot_listen(exc: Exception) -> OSError:
        code = getattr(exc, "errno", None)
        if code == errno.EADDRINUSE:
            why = f"port {port} is already in use on {host}: stop what uses it or choose another with --port"
        elif code == errno.EACCES:
            why = f"not allowed to listen on port {port} (ports below 1024 need privileges): choose another with --port"
        elif isinstance(exc, (socket.gaierror, ValueError)):
            why = f"cannot listen on host {host!r} (port {port}): not a known host name or address of this computer"
        else:
            why = f"cannot listen on {host} port {port}: {getattr(exc, 'strerror', None) or exc}"
        return OSError(code, why)

    try:  # every address the host stands for, bound and let go: a port in use is told before the slow loading
        for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress binds
                probe.bind(address)
    except OSError as exc:
        raise cannot_listen(exc) from None
    app = create_app(
        {
            "DATA_DIR": data_dir,
            "SERVE_HOST": host,
            "ALLOWED_HOSTS": _allowed_hosts_from_env(),
            "EDITOR_TOKEN": editor_token or os.environ.get("KG_EDITOR_TOKEN", "").strip() or None,
        }
    )
    compile_templates(app)
    start_sparql_workers(app)
    load_encoder(app)
    prepare_pages(app)
    try:
        server = create_server(app, host=host, port=port, threads=8)
    except (OSError, ValueError) as exc:  # taken in the meantime; waitress tells an unknown host as ValueError
        raise cannot_listen(exc) from None
    url = f"http://{'localhost' if host in ('0.0.0.0', '::') else host}:{port}/"
    print(f"spkg web UI: {url}  (Ctrl+C to stop)", flush=True)
    if app.config["EDITOR_TOKEN"]:
        print(f"planners with the editor token can add and remove plans at {url}manage", flush=True)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    logging.basicConfig()  # as waitress.serve does: its warnings (a full task queue …) reach the terminal
    server.run()
