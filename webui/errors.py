"""Error answers: JSON for /api, a Chinese page for browsers; never a stack trace or an English default text."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from webui.params import ParamError
from webui.views.common import is_api_request

TITLES = {
    400: "請求有誤",
    404: "找不到資料",
    405: "不支援此請求方法",
    406: "無法提供所要求的格式",
    413: "請求內容太大",
    415: "不支援的內容類型",
    500: "伺服器發生錯誤",
    503: "暫時無法提供服務",
}
DEFAULT_MESSAGES = {
    400: "請求的參數有誤。",
    404: "找不到這個網址對應的頁面。",
    405: "這個網址不接受此請求方法。",
    413: "請求內容超過上限。",
    500: "處理請求時發生錯誤，請稍後再試。",
    503: "服務暫時無法使用，請稍後再試。",
}


def error_response(status: int, message: str) -> tuple[Response | str, int]:
    if is_api_request():
        return jsonify({"error": message, "status": status}), status
    return render_template("error.html", status=status, title=TITLES.get(status, "錯誤"), message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ParamError)
    def bad_param(exc: ParamError) -> ResponseReturnValue:
        return error_response(400, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        # Our own aborts carry a Chinese description; werkzeug's class defaults are English and generic.
        own = exc.description and exc.description != type(exc).description
        message = exc.description if own else DEFAULT_MESSAGES.get(status, TITLES.get(status, "錯誤"))
        body, code = error_response(status, message)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            return body, code, {"Allow": ", ".join(exc.valid_methods)}  # required on a 405
        return body, code

    @app.errorhandler(InternalServerError)
    def server_error(exc: InternalServerError) -> ResponseReturnValue:
        return error_response(500, DEFAULT_MESSAGES[500])
