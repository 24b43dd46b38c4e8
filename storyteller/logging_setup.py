"""Logs: one JSON object per line in production (LOG_FORMAT=json), readable text otherwise.

Each record carries ``time``, ``level``, ``logger``, ``message``, and when known the
``request_id`` and ``trace_id`` (storyteller/log_context.py). After every request one line
from the ``storyteller.request`` logger adds ``method``, ``path`` (never the query string),
``status`` and ``duration_ms``. The request id comes from an ``X-Request-ID`` header when it
looks sane (1 to 128 letters, digits, ``.``, ``_``, ``-``) and is generated otherwise; the
response echoes it in ``X-Request-ID``.

Nothing a storyteller wrote goes into the logs: the app never logs answers, and the HTTP
client libraries that log request bodies at DEBUG (openai, httpx, httpcore) are held at
WARNING whatever LOG_LEVEL says.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, request
from flask.logging import default_handler

from storyteller import log_context

__all__ = ["JsonFormatter", "REQUEST_ID_HEADER", "init_app"]

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# Libraries whose DEBUG output includes request bodies (answers sent to the LLM), and
# alembic's chatter about its plugins at every start.
QUIET_LIBRARIES = ("openai", "httpx", "httpx2", "httpcore", "urllib3", "alembic.runtime.plugins")
REQUEST_FIELDS = ("method", "path", "status", "duration_ms")
_HANDLER_MARK = "_storyteller_handler"
_STARTED = "_log_started"
request_log = logging.getLogger("storyteller.request")


class ContextFilter(logging.Filter):
    """Puts the current request id and trace id on every record (None when there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = log_context.current_request_id()
        if getattr(record, "trace_id", None) is None:
            record.trace_id = log_context.current_trace_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("request_id", "trace_id", *REQUEST_FIELDS):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s%(ids)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = [
            f"{name}={getattr(record, name)}"
            for name in ("request_id", "trace_id", *REQUEST_FIELDS)
            if getattr(record, name, None) is not None
        ]
        record.ids = f" [{' '.join(ids)}]" if ids else ""
        return super().format(record)


def make_handler(log_format: str) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    setattr(handler, _HANDLER_MARK, True)
    return handler


def configure_logging(log_format: str, level: str) -> None:
    """Our one handler on the root logger (replacing the one a previous app put there)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(handler)
    root.addHandler(make_handler(log_format))
    root.setLevel(level.upper())
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def request_id_from(header: str | None) -> str:
    if header and _SANE_REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


def _start_request() -> None:
    setattr(g, _STARTED, time.perf_counter())
    log_context.set_request_id(request_id_from(request.headers.get(REQUEST_ID_HEADER)))
    log_context.set_trace_id(None)


def _finish_request(response: Response) -> Response:
    request_id = log_context.current_request_id()
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    started = getattr(g, _STARTED, None)
    request_log.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1)
            if started is not None
            else None,
        },
    )
    return response


def _end_request(_error: BaseException | None) -> None:
    log_context.set_request_id(None)
    log_context.set_trace_id(None)


def init_app(app: Flask) -> None:
    """Log format and level from the configuration, and the request id on every request."""
    app.logger.removeHandler(default_handler)
    configure_logging(app.config.get("LOG_FORMAT", "text"), app.config.get("LOG_LEVEL", "INFO"))
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.teardown_request(_end_request)
