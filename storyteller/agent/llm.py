"""One client for every call to an OpenAI-compatible chat model.

``LlmClient`` wraps a single, lazily built ``openai.OpenAI`` and never raises for API or
network failures: every call returns an ``LlmCallResult`` holding what is needed for an
``llm_interaction`` row (messages, text, model, server-reported usage, timings, outcome),
whether the call succeeded or not.

Retries are done here, not by the openai library (which is built with ``max_retries=0``):
429, 408, 5xx, timeouts and connection errors are retried ``settings.max_retries`` times
with a short backoff (never more than 0.5 s, whatever ``Retry-After`` says). A stream is
only retried while no text delta has been delivered, so callers never see text twice.

Timings: ``latency_ms`` and ``time_to_first_token_ms`` are measured from ``started_at``,
i.e. they include failed attempts and backoff; they are what the storyteller waited.

Streaming has two faces over the same machinery:

* ``stream_chat(messages, on_delta=callback)`` calls ``callback(text)`` for each delta and
  returns the ``LlmCallResult``;
* ``iter_stream_chat(messages)`` returns a ``ChatStream``: iterate it for the text deltas;
  once exhausted (or closed), ``stream.result`` is the ``LlmCallResult``. Use it as a
  context manager (or call ``close()``) when you may stop iterating early; the result then
  has ``error_type == "cancelled"``.

This module does not import Flask or SQLAlchemy.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import openai

__all__ = ["ChatStream", "LlmCallResult", "LlmClient", "LlmSettings"]

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 0.5
BASE_BACKOFF_SECONDS = 0.1
CONNECT_TIMEOUT_CAP_SECONDS = 5.0
ERROR_MESSAGE_LIMIT = 1000
RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True)
class LlmSettings:
    """How to reach the model. ``enabled`` needs an API key (any non-empty one for Ollama)."""

    base_url: str | None
    api_key: str | None
    model: str
    timeout_seconds: float = 20.0
    max_retries: int = 1
    temperature: float | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.api_key and self.api_key.strip())


@dataclass
class LlmCallResult:
    """Everything about one logical call (all its attempts), successful or not."""

    messages: list[dict[str, Any]]
    model: str
    started_at: datetime
    response_text: str | None = None
    response_model: str | None = None
    prompt_tokens: int | None = None
    response_tokens: int | None = None
    latency_ms: int = 0
    time_to_first_token_ms: int | None = None
    success: bool = False
    error_message: str | None = None
    error_type: str | None = None
    status_code: int | None = None
    attempts: int = 0
    parsed: dict[str, Any] | None = None
    finish_reason: str | None = None
    is_streaming: bool = False
    temperature: float | None = None
    max_tokens: int | None = None
    request_params: dict[str, Any] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None or self.response_tokens is None:
            return None
        return self.prompt_tokens + self.response_tokens

    def cost(self, prices: Mapping[str, Any] | None = None) -> Decimal | None:
        """USD cost from the price table (``pricing.cost_for``); None when unpriced."""
        from storyteller.agent.pricing import cost_for

        for name in (self.response_model, self.model):
            if name:
                value = cost_for(name, self.prompt_tokens, self.response_tokens, prices)
                if value is not None:
                    return value
        return None


class _BadResponse(Exception):
    """The server answered 200 but not with a usable chat completion."""


class _DeadlineExceeded(Exception):
    """A streamed attempt ran past ``timeout_seconds`` of wall-clock time."""


def _now_utc() -> datetime:
    return datetime.now(UTC)


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _truncate(text: str) -> str:
    return text if len(text) <= ERROR_MESSAGE_LIMIT else text[: ERROR_MESSAGE_LIMIT - 1] + "…"


def _usage_ints(usage: Any) -> tuple[int | None, int | None]:
    if usage is None:
        return None, None
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    return (
        prompt if isinstance(prompt, int) else None,
        completion if isinstance(completion, int) else None,
    )


def _retry_after_seconds(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) / divisor
        except ValueError:
            continue
    return None


class LlmClient:
    """Calls the chat model described by ``settings``; see the module docstring."""

    def __init__(self, settings: LlmSettings) -> None:
        self.settings = settings
        self._client: openai.OpenAI | None = None
        self._lock = threading.Lock()
        self._sleep: Callable[[float], None] = time.sleep

    # -- the openai client ------------------------------------------------------------------

    @property
    def openai_client(self) -> openai.OpenAI:
        """The one ``openai.OpenAI`` instance, built on first use."""
        with self._lock:
            if self._client is None:
                import openai

                timeout = float(self.settings.timeout_seconds)
                self._client = openai.OpenAI(
                    base_url=self.settings.base_url,
                    api_key=self.settings.api_key,
                    timeout=openai.Timeout(
                        timeout, connect=min(timeout, CONNECT_TIMEOUT_CAP_SECONDS)
                    ),
                    max_retries=0,
                )
            return self._client

    def close(self) -> None:
        """Close the HTTP connection pool (a later call builds a new client)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> LlmClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- public calls -----------------------------------------------------------------------

    def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> LlmCallResult:
        """A non-streaming chat completion."""
        result = self._new_result(messages, temperature, max_tokens, response_format)
        params = self._params(result, response_format)
        self._run_plain(result, params, time.monotonic())
        return result

    def chat_json(
        self,
        messages: list[dict[str, Any]],
        schema_name: str,
        json_schema: dict[str, Any],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> LlmCallResult:
        """Structured output: the reply must be a JSON object; it lands in ``.parsed``.

        Asks for ``response_format`` ``json_schema`` (strict). A server that rejects that
        with a 400 gets one more try with ``json_object`` mode and the schema in a system
        message. Content that is not a JSON object, or lacks a top-level ``required`` key,
        gives ``success=False`` with ``error_type="bad_response"``.
        """
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": schema_name, "schema": json_schema, "strict": True},
        }
        t0 = time.monotonic()
        result = self._new_result(messages, temperature, max_tokens, response_format)
        self._run_plain(result, self._params(result, response_format), t0)
        if not result.success and result.status_code == 400:
            fallback_messages = [
                *messages,
                {
                    "role": "system",
                    "content": "Reply with only a JSON object matching this JSON schema:\n"
                    + json.dumps(json_schema),
                },
            ]
            attempts = result.attempts
            started_at = result.started_at
            result = self._new_result(
                fallback_messages, temperature, max_tokens, {"type": "json_object"}
            )
            result.started_at = started_at
            result.attempts = attempts
            self._run_plain(result, self._params(result, {"type": "json_object"}), t0)
        if result.success:
            self._parse_json(result, json_schema)
        return result

    def stream_chat(
        self,
        messages: list[dict[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        on_delta: Callable[[str], None] | None = None,
    ) -> LlmCallResult:
        """A streaming chat completion; ``on_delta(text)`` is called for each delta."""
        stream = self.iter_stream_chat(messages, temperature=temperature, max_tokens=max_tokens)
        with stream:
            for delta in stream:
                if on_delta is not None:
                    on_delta(delta)
        assert stream.result is not None
        return stream.result

    def iter_stream_chat(
        self,
        messages: list[dict[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatStream:
        """A ``ChatStream``: iterate for text deltas, then read ``.result``."""
        return ChatStream(self, messages, temperature=temperature, max_tokens=max_tokens)

    # -- internals --------------------------------------------------------------------------

    def _new_result(
        self,
        messages: list[dict[str, Any]],
        temperature: float | None,
        max_tokens: int | None,
        response_format: dict[str, Any] | None,
    ) -> LlmCallResult:
        temp = temperature if temperature is not None else self.settings.temperature
        request_params: dict[str, Any] = {}
        if temp is not None:
            request_params["temperature"] = temp
        if max_tokens is not None:
            request_params["max_tokens"] = max_tokens
        if response_format is not None:
            request_params["response_format"] = response_format
        return LlmCallResult(
            messages=[dict(m) for m in messages],
            model=self.settings.model,
            started_at=_now_utc(),
            temperature=temp,
            max_tokens=max_tokens,
            request_params=request_params,
        )

    def _params(
        self, result: LlmCallResult, response_format: dict[str, Any] | None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"model": result.model, "messages": result.messages}
        params.update(result.request_params)
        if response_format is not None:
            params["response_format"] = response_format
        return params

    def _not_configured(self, result: LlmCallResult) -> bool:
        if self.settings.enabled:
            return False
        result.success = False
        result.error_type = "not_configured"
        result.error_message = "No API key configured for the language model."
        return True

    def _backoff(self, attempt: int, exc: Exception | None) -> None:
        delay = BASE_BACKOFF_SECONDS * (2 ** (attempt - 1))
        retry_after = _retry_after_seconds(exc) if exc is not None else None
        if retry_after is not None and retry_after >= 0:
            delay = retry_after
        self._sleep(min(delay, MAX_BACKOFF_SECONDS))

    def _run_plain(self, result: LlmCallResult, params: dict[str, Any], t0: float) -> None:
        if self._not_configured(result):
            result.latency_ms = _ms(time.monotonic() - t0)
            return
        max_attempts = max(0, int(self.settings.max_retries)) + 1
        for attempt in range(1, max_attempts + 1):
            result.attempts += 1
            try:
                completion = self.openai_client.chat.completions.create(**params)
                self._take_completion(result, completion)
            except Exception as exc:  # noqa: BLE001 - classified below, never re-raised blindly
                retryable = self._record_failure(result, exc)
                if retryable and attempt < max_attempts:
                    self._backoff(attempt, exc)
                    continue
            break
        result.latency_ms = _ms(time.monotonic() - t0)
        if result.success:
            result.time_to_first_token_ms = result.latency_ms
        self._log(result)

    def _take_completion(self, result: LlmCallResult, completion: Any) -> None:
        if isinstance(completion, str | bytes) or completion is None:
            raise _BadResponse("The server did not answer with a JSON chat completion.")
        choices = getattr(completion, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise _BadResponse("The server's answer has no choices.")
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        refusal = getattr(message, "refusal", None)
        result.response_model = getattr(completion, "model", None)
        result.finish_reason = getattr(choices[0], "finish_reason", None)
        result.prompt_tokens, result.response_tokens = _usage_ints(
            getattr(completion, "usage", None)
        )
        result.status_code = 200
        if not isinstance(content, str):
            if refusal:
                result.success = False
                result.error_type = "refusal"
                result.error_message = _truncate(str(refusal))
                return
            raise _BadResponse("The server's answer has no message content.")
        result.response_text = content
        result.success = True
        result.error_type = None
        result.error_message = None

    def _record_failure(self, result: LlmCallResult, exc: Exception) -> bool:
        """Store the failure on ``result``; True when another attempt may help."""
        import openai

        result.success = False
        result.status_code = None
        retryable = False
        if isinstance(exc, _DeadlineExceeded):
            error_type, message, retryable = "timeout", str(exc), True
        elif isinstance(exc, openai.APITimeoutError):
            error_type, message, retryable = "timeout", "The request timed out.", True
        elif isinstance(exc, openai.APIConnectionError):
            error_type, retryable = "connection", True
            cause = exc.__cause__
            message = f"{exc.message} ({cause})" if cause else exc.message
        elif isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            result.status_code = status
            message = exc.message
            if status == 429:
                error_type, retryable = "rate_limited", True
            elif status >= 500:
                error_type, retryable = "server_error", True
            elif status in (401, 403):
                error_type = "auth_error"
            else:
                error_type = "client_error"
                retryable = status in RETRYABLE_STATUS
        elif isinstance(exc, openai.APIResponseValidationError):
            result.status_code = exc.status_code
            error_type, message = "bad_response", exc.message
        elif isinstance(exc, _BadResponse):
            error_type, message = "bad_response", str(exc)
        elif isinstance(exc, ValueError):  # JSONDecodeError, pydantic ValidationError
            result.status_code = 200
            error_type = "bad_response"
            message = f"The server's answer is not valid JSON: {exc}"
        elif isinstance(exc, openai.OpenAIError):
            error_type, message = "api_error", str(exc)
        else:
            raise exc
        result.error_type = error_type
        result.error_message = _truncate(message or error_type)
        return retryable

    def _parse_json(self, result: LlmCallResult, json_schema: dict[str, Any]) -> None:
        text = (result.response_text or "").strip()
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            self._bad_json(result, f"The reply is not JSON: {exc}")
            return
        if not isinstance(parsed, dict):
            self._bad_json(result, "The reply is JSON but not an object.")
            return
        missing = [key for key in (json_schema.get("required") or []) if key not in parsed]
        if missing:
            self._bad_json(result, f"The reply lacks required keys: {', '.join(missing)}")
            return
        result.parsed = parsed

    def _bad_json(self, result: LlmCallResult, message: str) -> None:
        result.success = False
        result.error_type = "bad_response"
        result.error_message = _truncate(message)
        result.parsed = None

    def _log(self, result: LlmCallResult) -> None:
        # Never log message contents: they are someone's life story.
        if result.success:
            log.debug(
                "llm call ok model=%s attempts=%d latency_ms=%d",
                result.model,
                result.attempts,
                result.latency_ms,
            )
        else:
            log.warning(
                "llm call failed model=%s error_type=%s status=%s attempts=%d latency_ms=%d",
                result.model,
                result.error_type,
                result.status_code,
                result.attempts,
                result.latency_ms,
            )


class ChatStream:
    """Iterate for the text deltas of a streamed chat; then ``result`` is set.

    ``result`` is None until the stream is exhausted or closed. Closing early (``close()``,
    leaving a ``with`` block, or dropping the iterator) stops the HTTP stream and sets a
    result with ``success=False`` and ``error_type="cancelled"`` holding the partial text.
    The HTTP request starts on the first ``next()``.
    """

    def __init__(
        self,
        client: LlmClient,
        messages: list[dict[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self._client = client
        self._t0 = time.monotonic()
        self._state = client._new_result(messages, temperature, max_tokens, None)
        self._state.is_streaming = True
        self._parts: list[str] = []
        self._gen: Iterator[str] = self._run()
        self.result: LlmCallResult | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        return next(self._gen)

    def close(self) -> None:
        close = getattr(self._gen, "close", None)
        if close is not None:
            close()
        if self.result is None:
            self._finish(cancelled=True)

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _finish(self, *, cancelled: bool = False) -> None:
        state = self._state
        state.latency_ms = _ms(time.monotonic() - self._t0)
        if self._parts or state.success:
            state.response_text = "".join(self._parts)
        if cancelled:
            state.success = False
            state.error_type = "cancelled"
            state.error_message = "The caller stopped reading the stream."
        self.result = state
        self._client._log(state)

    def _run(self) -> Iterator[str]:
        client, state = self._client, self._state
        self._t0 = time.monotonic()
        state.started_at = _now_utc()
        if client._not_configured(state):
            self._finish()
            return
        params = client._params(state, None)
        params["stream"] = True
        params["stream_options"] = {"include_usage": True}
        max_attempts = max(0, int(client.settings.max_retries)) + 1
        timeout = float(client.settings.timeout_seconds)
        try:
            for attempt in range(1, max_attempts + 1):
                state.attempts += 1
                deadline = time.monotonic() + timeout
                try:
                    yield from self._attempt(params, deadline)
                except GeneratorExit:
                    raise
                except Exception as exc:  # noqa: BLE001 - classified, never re-raised blindly
                    retryable = client._record_failure(state, exc)
                    if retryable and not self._parts and attempt < max_attempts:
                        client._backoff(attempt, exc)
                        continue
                break
        except GeneratorExit:
            if self.result is None:
                self._finish(cancelled=True)
            raise
        self._finish()

    def _attempt(self, params: dict[str, Any], deadline: float) -> Iterator[str]:
        state = self._state
        stream = self._client.openai_client.chat.completions.create(**params)
        try:
            if isinstance(stream, str | bytes) or not hasattr(stream, "__iter__"):
                raise _BadResponse("The server did not answer with an event stream.")
            state.status_code = 200
            saw_chunk = False
            for chunk in stream:
                saw_chunk = True
                if getattr(chunk, "model", None) and state.response_model is None:
                    state.response_model = chunk.model
                usage = getattr(chunk, "usage", None)
                if usage is not None:
                    state.prompt_tokens, state.response_tokens = _usage_ints(usage)
                for choice in getattr(chunk, "choices", None) or []:
                    if getattr(choice, "finish_reason", None):
                        state.finish_reason = choice.finish_reason
                    delta = getattr(choice, "delta", None)
                    text = getattr(delta, "content", None)
                    if isinstance(text, str) and text:
                        if state.time_to_first_token_ms is None:
                            state.time_to_first_token_ms = _ms(time.monotonic() - self._t0)
                        self._parts.append(text)
                        yield text
                if time.monotonic() > deadline:
                    raise _DeadlineExceeded("The stream ran longer than the configured timeout.")
            if not saw_chunk:
                raise _BadResponse("The event stream was empty.")
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        state.success = True
        state.error_type = None
        state.error_message = None


@functools.lru_cache(maxsize=16)
def shared_client(settings: LlmSettings) -> LlmClient:
    """One long-lived client per distinct settings, reused across turns and threads.

    Building an ``openai.OpenAI`` client loads the CA bundle and a connection pool
    (about 50 ms); a turn must not pay that for every call.
    """
    return LlmClient(settings)
