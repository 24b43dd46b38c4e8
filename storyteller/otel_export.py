"""A session's LLM calls as JSON lines, one OpenTelemetry span per call.

Attribute names follow the OpenTelemetry semantic conventions for generative AI, version
1.37.0 (``docs/gen-ai/gen-ai-spans.md``, "Inference" span, status Development):
``gen_ai.operation.name`` (``chat``), ``gen_ai.provider.name`` (``openai``: the app speaks
the OpenAI API, whoever serves it), ``gen_ai.request.model``, ``gen_ai.response.model``,
``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens``, ``gen_ai.request.temperature``
(when known), ``gen_ai.conversation.id`` (the session) and ``error.type`` on failures. The
span name is ``{gen_ai.operation.name} {gen_ai.request.model}`` and the kind CLIENT, as the
conventions ask. ``gen_ai.system``, the name before 1.37.0, is written too so that older
tools still read the provider. The prompt and the response (``gen_ai.input.messages`` /
``gen_ai.output.messages``, "Opt-In" in the conventions because they hold personal data) are
only written when asked for.

Each line is one span: ``trace_id`` (32 hex digits, the turn's trace id, so every call of a
turn shares it), ``span_id`` (16 hex), ``parent_span_id`` (16 hex, the turn's
agent_execution), ``start_time_unix_nano`` / ``end_time_unix_nano`` (start + latency),
``status`` and ``attributes``. Our own figures (cost, time to first token, purpose, attempts)
are under ``storyteller.*``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from storyteller.models import LlmInteraction
from storyteller.traces import SessionTrace

SEMCONV_VERSION = "1.37.0"
SCHEMA_URL = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"
OPERATION_NAME = "chat"
PROVIDER_NAME = "openai"
# The analysis call always asks for temperature 0 (agent.interviewer.request_analysis); the
# question's temperature is the agent version's configuration, when it says.
FIXED_TEMPERATURES = {"analysis": 0.0}


def _span_id(value: uuid.UUID) -> str:
    return value.hex[:16]


def _nanos(call: LlmInteraction) -> tuple[int, int]:
    start = int(call.created_at.timestamp() * 1_000_000) * 1000
    return start, start + (call.latency_ms or 0) * 1_000_000


def _message_parts(messages: list[Any] | None) -> list[dict[str, Any]]:
    parts = []
    for message in messages or []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        parts.append(
            {"role": message.get("role", "user"), "parts": [{"type": "text", "content": text}]}
        )
    return parts


def _temperature(trace: SessionTrace, call: LlmInteraction) -> float | None:
    if call.purpose in FIXED_TEMPERATURES:
        return FIXED_TEMPERATURES[call.purpose]
    version = trace.session.agent_version
    if version is None or call.agent_version_id != version.id:
        return None
    value = (version.configuration or {}).get("temperature")
    return float(value) if isinstance(value, int | float) else None


def span_of(
    trace: SessionTrace,
    call: LlmInteraction,
    parent: uuid.UUID | None,
    trace_id: uuid.UUID,
    *,
    include_content: bool = False,
) -> dict[str, Any]:
    """One LLM call as an OpenTelemetry span (a plain dict, ready for json.dumps)."""
    start, end = _nanos(call)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": OPERATION_NAME,
        "gen_ai.provider.name": PROVIDER_NAME,
        "gen_ai.system": PROVIDER_NAME,
        "gen_ai.request.model": call.model,
        "gen_ai.conversation.id": str(trace.session.id),
    }
    optional = {
        "gen_ai.response.model": call.response_model,
        "gen_ai.usage.input_tokens": call.prompt_tokens,
        "gen_ai.usage.output_tokens": call.response_tokens,
        "gen_ai.request.temperature": _temperature(trace, call),
        "storyteller.purpose": call.purpose,
        "storyteller.cost_usd": str(call.cost) if call.cost is not None else None,
        "storyteller.time_to_first_token_ms": call.time_to_first_token_ms,
        "storyteller.latency_ms": call.latency_ms,
        "storyteller.attempts": call.attempts,
        "storyteller.streaming": call.is_streaming,
        "storyteller.llm_interaction_id": str(call.id),
        "http.response.status_code": call.status_code,
    }
    attributes.update({k: v for k, v in optional.items() if v is not None})
    if call.cost is None:
        attributes["storyteller.unpriced"] = True
    if not call.success:
        attributes["error.type"] = call.error_type or (
            str(call.status_code) if call.status_code else "_OTHER"
        )
    if include_content:
        attributes["gen_ai.input.messages"] = _message_parts(call.prompt)
        if call.response is not None:
            attributes["gen_ai.output.messages"] = [
                {"role": "assistant", "parts": [{"type": "text", "content": call.response}]}
            ]
    status: dict[str, Any] = {"code": "STATUS_CODE_OK" if call.success else "STATUS_CODE_ERROR"}
    if not call.success and call.error_message:
        status["message"] = call.error_message
    return {
        "name": f"{OPERATION_NAME} {call.model}",
        "kind": "SPAN_KIND_CLIENT",
        "trace_id": trace_id.hex,
        "span_id": _span_id(call.id),
        "parent_span_id": _span_id(parent) if parent is not None else None,
        "start_time_unix_nano": start,
        "end_time_unix_nano": end,
        "status": status,
        "attributes": attributes,
        "resource": {"service.name": "storyteller"},
        "schema_url": SCHEMA_URL,
    }


def spans(trace: SessionTrace, *, include_content: bool = False) -> Iterator[dict[str, Any]]:
    """Every LLM call of the session as a span, turn by turn, then the calls outside a turn.

    A call in a turn takes the turn's trace id and has the turn as its parent; a call outside
    a turn keeps its own trace id (or, lacking one, the session id) and has no parent.
    """
    for turn in trace.turns:
        for call in turn.llm_calls:
            yield span_of(
                trace,
                call,
                turn.execution.id,
                turn.execution.trace_id,
                include_content=include_content,
            )
    for call in trace.outside_llm_calls:
        yield span_of(
            trace, call, None, call.trace_id or trace.session.id, include_content=include_content
        )


def jsonl_lines(trace: SessionTrace, *, include_content: bool = False) -> Iterator[str]:
    for span in spans(trace, include_content=include_content):
        yield json.dumps(span, ensure_ascii=False, separators=(",", ":")) + "\n"
