"""A small OpenAI-compatible HTTP server for tests and benchmarks (stdlib only, 127.0.0.1).

Usage::

    with FakeLlmServer() as server:
        server.queue_reply("What was your first job?", prompt_tokens=42, completion_tokens=6)
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
        ...
        assert server.chat_requests[0]["json"]["model"] == "gpt-4o-mini"

Endpoints: ``POST /v1/chat/completions`` (plain and ``stream=True`` SSE),
``POST /v1/audio/transcriptions`` (multipart/form-data), ``GET /v1/models``.

Behaviour is scripted per endpoint ("chat" or "transcriptions") with a FIFO queue of
responses; when the queue is empty the endpoint's default is used (``set_default``), and
without a default a built-in responder answers: for chat an interviewer-style question
(or, for ``response_format`` json_schema requests, a minimal object shaped by the schema),
for transcriptions the text ``"This is a fake transcription."``.

A scripted reply is served as SSE when the request asks for ``stream=True`` and as a plain
``chat.completion`` otherwise, so the same ``queue_reply`` works for both.

Usage counts are deterministic: unless scripted, ``prompt_tokens`` is the number of
whitespace-separated words in all message contents (``count_words``) and
``completion_tokens`` the number of words in the reply. Every response sent is recorded in
``.responses`` (path, status, content, usage) so tests can compare what the app stored with
what the server reported.
"""

from __future__ import annotations

import contextlib
import copy
import email.parser
import email.policy
import hashlib
import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeLlmServer", "ScriptedResponse", "count_words"]

DEFAULT_TRANSCRIPTION = "This is a fake transcription."
KNOWN_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "whisper-1", "llama3.1:8b")


def count_words(text: str | None) -> int:
    """The fake server's token count: whitespace-separated words."""
    return len(text.split()) if text else 0


def message_text(message: dict[str, Any]) -> str:
    """The text of one chat message, whether ``content`` is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def prompt_word_count(messages: list[dict[str, Any]]) -> int:
    """Default ``prompt_tokens`` for a request: words in all message contents."""
    return sum(count_words(message_text(m)) for m in messages if isinstance(m, dict))


@dataclass
class ScriptedResponse:
    """One scripted answer.

    kind: "reply" (chat content or transcription text), "error" (status + OpenAI error
    body), "hang" (wait ``hang_seconds`` then answer like "reply"), "malformed" (200 with
    ``body`` as is).
    """

    kind: str = "reply"
    content: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    include_usage: bool = True
    model: str | None = None
    chunks: list[str] | None = None
    chunk_delay: float = 0.0
    finish_reason: str = "stop"
    status: int = 200
    message: str | None = None
    error_type: str | None = None
    retry_after: str | None = None
    hang_seconds: float = 0.0
    body: str = "not json{"
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = False

    def __init__(self, owner: FakeLlmServer) -> None:
        self.owner = owner
        self.handler_threads: list[threading.Thread] = []
        self.threads_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request, client_address):  # noqa: ANN001 - socketserver API
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            daemon=True,
            name="fake-llm-handler",
        )
        with self.threads_lock:
            self.handler_threads = [t for t in self.handler_threads if t.is_alive()]
            self.handler_threads.append(thread)
        thread.start()

    def handle_error(self, request, client_address):  # noqa: ANN001 - socketserver API
        # A client that timed out and went away is expected in tests: stay quiet.
        pass


class _ClientGone(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30

    def log_message(self, format, *args):  # noqa: A002, ANN001 - stdlib signature
        pass

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def owner(self) -> FakeLlmServer:
        return self.server.owner

    def _headers(self) -> dict[str, str]:
        """Request headers with lower-case names."""
        return {name.lower(): value for name, value in self.headers.items()}

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str, headers=None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def _send_json(self, status: int, payload: Any, headers=None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _wait(self, seconds: float) -> None:
        """Sleep, but wake up at once when the server stops."""
        if seconds > 0:
            self.owner._stopping.wait(seconds)

    def _guard(self, func) -> None:  # noqa: ANN001
        try:
            func()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, _ClientGone):
            self.close_connection = True
        except OSError:
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._guard(self._get)

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self._guard(self._post)

    # -- routes -----------------------------------------------------------------------------

    def _get(self) -> None:
        path = self.path.split("?", 1)[0]
        self.owner._record(path, "GET", self._headers(), None)
        if path.rstrip("/") == "/v1/models":
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
                        for m in self.owner.models
                    ],
                },
            )
            return
        self._not_found(path)

    def _post(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        raw = self._read_body()
        headers = self._headers()
        if path == "/v1/chat/completions":
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self.owner._record(path, "POST", headers, None, raw=raw)
                self._error(400, "Request body is not JSON.", "invalid_request_error", {})
                return
            self.owner._record(path, "POST", headers, body)
            self._chat(path, body)
        elif path == "/v1/audio/transcriptions":
            form, files = _parse_multipart(headers.get("content-type", ""), raw)
            self.owner._record(path, "POST", headers, None, form=form, files=files)
            self._transcription(path, form, files)
        else:
            self.owner._record(path, "POST", headers, None, raw=raw)
            self._not_found(path)

    def _not_found(self, path: str) -> None:
        self._error(404, f"Unknown path {path}", "invalid_request_error", {})

    def _error(self, status: int, message: str, error_type: str, headers: dict) -> None:
        payload = {"error": {"message": message, "type": error_type, "param": None, "code": None}}
        self._send_json(status, payload, headers)

    def _before_answer(self, script: ScriptedResponse) -> None:
        if script.kind == "hang":
            self._wait(script.hang_seconds)
        self._wait(self.owner.latency)
        if self.owner._stopping.is_set() and script.kind == "hang":
            raise _ClientGone

    def _scripted_error(self, path: str, script: ScriptedResponse) -> bool:
        if script.kind == "error":
            headers = dict(script.headers)
            if script.retry_after is not None:
                headers["Retry-After"] = script.retry_after
            default_type = "rate_limit_exceeded" if script.status == 429 else "server_error"
            message = script.message or f"Scripted error {script.status}"
            self.owner._record_response(path, script.status, None, None)
            self._error(script.status, message, script.error_type or default_type, headers)
            return True
        if script.kind == "malformed":
            self.owner._record_response(path, 200, None, None, raw=script.body)
            self._send(200, script.body.encode(), script.content_type, script.headers)
            return True
        return False

    # -- chat -------------------------------------------------------------------------------

    def _chat(self, path: str, body: dict) -> None:
        script = self.owner._next("chat")
        self._before_answer(script)
        if self._scripted_error(path, script):
            return
        messages = body.get("messages") or []
        content = script.content
        if content is None:
            content = _default_chat_content(body)
        model = script.model or body.get("model") or "fake-model"
        prompt_tokens = (
            script.prompt_tokens
            if script.prompt_tokens is not None
            else prompt_word_count(messages)
        )
        completion_tokens = (
            script.completion_tokens
            if script.completion_tokens is not None
            else count_words(content)
        )
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        completion_id = self.owner._new_id()
        created = int(time.time())
        if body.get("stream"):
            want_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            sent_usage = usage if (want_usage and script.include_usage) else None
            self.owner._record_response(path, 200, content, sent_usage, streamed=True)
            self._stream_chat(script, content, model, completion_id, created, sent_usage)
            return
        sent_usage = usage if script.include_usage else None
        payload = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": script.finish_reason,
                }
            ],
        }
        if sent_usage is not None:
            payload["usage"] = sent_usage
        self.owner._record_response(path, 200, content, sent_usage)
        self._send_json(200, payload, script.headers)

    def _stream_chat(self, script, content, model, completion_id, created, usage) -> None:  # noqa: ANN001
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        for name, value in script.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.close_connection = True

        def chunk(delta: dict, finish_reason=None, usage_value=None, choices=True) -> None:  # noqa: ANN001
            data = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": (
                    [
                        {
                            "index": 0,
                            "delta": delta,
                            "logprobs": None,
                            "finish_reason": finish_reason,
                        }
                    ]
                    if choices
                    else []
                ),
            }
            if usage is not None:
                data["usage"] = usage_value
            self.wfile.write(b"data: " + json.dumps(data).encode() + b"\n\n")
            self.wfile.flush()

        pieces = script.chunks if script.chunks is not None else _split_for_stream(content)
        chunk({"role": "assistant", "content": ""})
        for piece in pieces:
            self._wait(script.chunk_delay)
            if self.owner._stopping.is_set():
                return
            chunk({"content": piece})
        chunk({}, finish_reason=script.finish_reason)
        if usage is not None:
            chunk({}, usage_value=usage, choices=False)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    # -- transcriptions ---------------------------------------------------------------------

    def _transcription(self, path: str, form: dict, files: dict) -> None:
        script = self.owner._next("transcriptions")
        self._before_answer(script)
        if self._scripted_error(path, script):
            return
        text = script.content if script.content is not None else DEFAULT_TRANSCRIPTION
        self.owner._record_response(path, 200, text, None)
        if form.get("response_format") == "text":
            self._send(200, text.encode(), "text/plain; charset=utf-8", script.headers)
            return
        payload: dict[str, Any] = {"text": text}
        if form.get("response_format") == "verbose_json":
            payload.update({"task": "transcribe", "language": "english", "duration": 1.0})
        self._send_json(200, payload, script.headers)


def _split_for_stream(content: str) -> list[str]:
    """Split text into word-sized deltas that concatenate back to the original."""
    return re.findall(r"\S+\s*|\s+", content) or [content]


def _default_chat_content(body: dict) -> str:
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return json.dumps(_example_from_schema(schema))
    if response_format.get("type") == "json_object":
        return json.dumps({"result": "ok"})
    return interviewer_question(body.get("messages") or [])


def interviewer_question(messages: list[dict[str, Any]]) -> str:
    """A plausible follow-up question built from the last user message."""
    last_user = ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            last_user = message_text(message)
            break
    words = [w.strip(".,;:!?\"'()") for w in last_user.split()]
    words = [w for w in words if len(w) > 3 and w.isalpha()]
    if not words:
        return "Where did you grow up, and what was your home like?"
    topic = max(words, key=len)
    return f"Thank you for sharing that. What do you remember most about {topic}?"


_SCALAR_EXAMPLES: dict[str, Any] = {
    "string": "example",
    "integer": 0,
    "number": 0.0,
    "boolean": False,
    "array": [],
}


def _example_from_schema(schema: Any, depth: int = 0) -> Any:
    """A minimal instance of a JSON schema (enough for strict structured-output callers)."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return _example_from_schema(schema[key][0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {name: _example_from_schema(sub, depth + 1) for name, sub in props.items()}
    return copy.deepcopy(_SCALAR_EXAMPLES.get(kind))


def _parse_multipart(content_type: str, raw: bytes) -> tuple[dict[str, str], dict[str, dict]]:
    """Parse multipart/form-data with the stdlib email parser (no cgi)."""
    form: dict[str, str] = {}
    files: dict[str, dict] = {}
    if not content_type.lower().startswith("multipart/"):
        return form, files
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    if not message.is_multipart():
        return form, files
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = {
                "filename": filename,
                "size": len(payload),
                "content_type": part.get_content_type(),
                "sha256": hashlib.sha256(payload).hexdigest(),
            }
        else:
            form[name] = payload.decode("utf-8", errors="replace")
    return form, files


class FakeLlmServer:
    """OpenAI-compatible fake; see the module docstring. Thread-safe recording and scripting."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.models: list[str] = list(KNOWN_MODELS)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._queues: dict[str, deque[ScriptedResponse]] = {
            "chat": deque(),
            "transcriptions": deque(),
        }
        self._defaults: dict[str, ScriptedResponse | None] = {
            "chat": None,
            "transcriptions": None,
        }
        self._requests: list[dict[str, Any]] = []
        self._responses: list[dict[str, Any]] = []
        self._counter = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeLlmServer:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="fake-llm-server",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        if thread is not None:
            thread.join(timeout=5)
        with server.threads_lock:
            handlers = list(server.handler_threads)
        for handler in handlers:
            handler.join(timeout=5)
        server.server_close()
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeLlmServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeLlmServer is not running")
        return self._server.server_address[1]

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"{self.root_url}/v1"

    # -- scripting --------------------------------------------------------------------------

    def _push(self, endpoint: str, script: ScriptedResponse, times: int) -> None:
        if endpoint not in self._queues:
            raise ValueError(f"unknown endpoint {endpoint!r}: use 'chat' or 'transcriptions'")
        with self._lock:
            for _ in range(times):
                self._queues[endpoint].append(replace(script, headers=dict(script.headers)))

    def queue(self, script: ScriptedResponse, *, endpoint: str = "chat", times: int = 1) -> None:
        """Append any ScriptedResponse to an endpoint's queue."""
        self._push(endpoint, script, times)

    def queue_reply(
        self,
        content: str,
        *,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        include_usage: bool = True,
        model: str | None = None,
        chunks: list[str] | None = None,
        chunk_delay: float = 0.0,
        finish_reason: str = "stop",
        times: int = 1,
    ) -> None:
        """A chat reply (plain or SSE, whichever the request asked for)."""
        self._push(
            "chat",
            ScriptedResponse(
                content=content,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                include_usage=include_usage,
                model=model,
                chunks=chunks,
                chunk_delay=chunk_delay,
                finish_reason=finish_reason,
            ),
            times,
        )

    def queue_json(self, obj: Any, **kwargs: Any) -> None:
        """A chat reply whose content is ``json.dumps(obj)`` (structured output)."""
        self.queue_reply(json.dumps(obj), **kwargs)

    def queue_error(
        self,
        status: int = 500,
        *,
        message: str | None = None,
        error_type: str | None = None,
        retry_after: str | float | None = None,
        endpoint: str = "chat",
        times: int = 1,
    ) -> None:
        """An HTTP error with an OpenAI-style ``{"error": {...}}`` body."""
        self._push(
            endpoint,
            ScriptedResponse(
                kind="error",
                status=status,
                message=message,
                error_type=error_type,
                retry_after=None if retry_after is None else str(retry_after),
            ),
            times,
        )

    def queue_hang(
        self,
        seconds: float,
        *,
        content: str | None = None,
        endpoint: str = "chat",
        times: int = 1,
    ) -> None:
        """Wait ``seconds`` before answering (interrupted when the server stops)."""
        self._push(
            endpoint, ScriptedResponse(kind="hang", hang_seconds=seconds, content=content), times
        )

    def queue_malformed(
        self,
        body: str = "not json{",
        *,
        content_type: str = "application/json",
        endpoint: str = "chat",
        times: int = 1,
    ) -> None:
        """A 200 response whose body is ``body`` verbatim (by default not JSON)."""
        self._push(
            endpoint,
            ScriptedResponse(kind="malformed", body=body, content_type=content_type),
            times,
        )

    def queue_transcription(self, text: str, *, times: int = 1) -> None:
        self._push("transcriptions", ScriptedResponse(content=text), times)

    def set_default(self, script: ScriptedResponse | None, *, endpoint: str = "chat") -> None:
        """What an endpoint answers when its queue is empty (None: the built-in responder)."""
        if endpoint not in self._defaults:
            raise ValueError(f"unknown endpoint {endpoint!r}: use 'chat' or 'transcriptions'")
        with self._lock:
            self._defaults[endpoint] = script

    def set_latency(self, seconds: float) -> None:
        """Delay applied before the first byte of every POST answer."""
        self.latency = seconds

    def reset(self) -> None:
        """Forget requests, responses, queues, defaults and latency."""
        with self._lock:
            self._requests.clear()
            self._responses.clear()
            for q in self._queues.values():
                q.clear()
            for key in self._defaults:
                self._defaults[key] = None
            self.latency = 0.0

    def pending(self, endpoint: str = "chat") -> int:
        """How many scripted responses are still queued."""
        with self._lock:
            return len(self._queues[endpoint])

    # -- inspection -------------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request received: dicts with path, method, headers (lower-case names), json,
        time (monotonic), and for uploads form/files."""
        with self._lock:
            return copy.deepcopy(self._requests)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    @property
    def transcription_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/audio/transcriptions")]

    @property
    def responses(self) -> list[dict[str, Any]]:
        """Every answer sent: dicts with path, status, content, usage, streamed."""
        with self._lock:
            return copy.deepcopy(self._responses)

    # -- internals used by the handler ------------------------------------------------------

    def _next(self, endpoint: str) -> ScriptedResponse:
        with self._lock:
            queue = self._queues[endpoint]
            if queue:
                return queue.popleft()
            default = self._defaults[endpoint]
        return default if default is not None else ScriptedResponse()

    def _new_id(self) -> str:
        with self._lock:
            self._counter += 1
            return f"chatcmpl-fake{self._counter:06d}"

    def _record(self, path: str, method: str, headers: dict, body: Any, **extra: Any) -> None:
        entry = {"path": path, "method": method, "headers": headers, "json": body, **extra}
        entry["time"] = time.monotonic()
        with self._lock:
            self._requests.append(entry)

    def _record_response(
        self,
        path: str,
        status: int,
        content: str | None,
        usage: dict | None,
        *,
        streamed: bool = False,
        raw: str | None = None,
    ) -> None:
        entry = {
            "path": path,
            "status": status,
            "content": content,
            "usage": usage,
            "streamed": streamed,
        }
        if raw is not None:
            entry["raw"] = raw
        with self._lock:
            self._responses.append(entry)


def free_port() -> int:
    """A currently unused TCP port on 127.0.0.1 (for connection-refused tests)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
