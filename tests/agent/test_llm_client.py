"""LlmClient against the real openai library talking to FakeLlmServer on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC
from decimal import Decimal

import pytest

from storyteller.agent.llm import LlmCallResult, LlmClient, LlmSettings
from storyteller.agent.pricing import (
    DEFAULT_PRICES,
    ModelPrice,
    cost_for,
    find_price,
    parse_price_table,
    price_table,
)
from tests.fake_llm_server import FakeLlmServer, ScriptedResponse, free_port

MESSAGES = [
    {"role": "system", "content": "You are a gentle interviewer."},
    {"role": "user", "content": "I grew up on a farm near Galway."},
]


@pytest.fixture
def make_client(fake_llm: FakeLlmServer) -> Iterator:
    clients: list[LlmClient] = []

    def make(**overrides) -> LlmClient:
        settings = {
            "base_url": fake_llm.base_url,
            "api_key": "test-key",
            "model": "gpt-4o-mini",
            "timeout_seconds": 5.0,
            "max_retries": 1,
        }
        settings.update(overrides)
        client = LlmClient(LlmSettings(**settings))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# -- settings ---------------------------------------------------------------------------------


def test_settings_enabled_only_with_an_api_key() -> None:
    assert LlmSettings(base_url=None, api_key="sk-x", model="gpt-4o-mini").enabled
    assert LlmSettings(base_url="http://127.0.0.1:11434/v1", api_key="ollama", model="m").enabled
    assert not LlmSettings(base_url="http://127.0.0.1:11434/v1", api_key=None, model="m").enabled
    assert not LlmSettings(base_url=None, api_key="  ", model="m").enabled
    defaults = LlmSettings(base_url=None, api_key=None, model="m")
    assert (defaults.timeout_seconds, defaults.max_retries, defaults.temperature) == (20, 1, None)


def test_disabled_client_returns_a_failure_without_calling_the_server(
    fake_llm: FakeLlmServer,
) -> None:
    client = LlmClient(LlmSettings(base_url=fake_llm.base_url, api_key=None, model="gpt-4o"))
    result = client.chat(MESSAGES)
    assert not result.success
    assert result.error_type == "not_configured"
    assert result.attempts == 0
    assert fake_llm.requests == []
    assert client._client is None


def test_openai_client_is_built_lazily_and_once(make_client) -> None:
    client = make_client()
    assert client._client is None
    first = client.openai_client
    assert client.openai_client is first
    assert first.max_retries == 0


# -- non-streaming ----------------------------------------------------------------------------


def test_chat_records_usage_exactly_as_the_server_reported(
    fake_llm: FakeLlmServer, make_client
) -> None:
    fake_llm.queue_reply(
        "What was the farm like in winter?",
        prompt_tokens=123,
        completion_tokens=17,
        model="gpt-4o-mini-2024-07-18",
    )
    client = make_client(temperature=0.3)
    result = client.chat(MESSAGES, max_tokens=200)

    assert isinstance(result, LlmCallResult)
    assert result.success, result.error_message
    assert result.response_text == "What was the farm like in winter?"
    assert (result.prompt_tokens, result.response_tokens) == (123, 17)
    assert result.total_tokens == 140
    assert result.model == "gpt-4o-mini"
    assert result.response_model == "gpt-4o-mini-2024-07-18"
    assert result.status_code == 200
    assert result.attempts == 1
    assert result.error_type is None and result.error_message is None
    assert result.messages == MESSAGES
    assert result.started_at.tzinfo is UTC
    assert result.latency_ms >= 0
    assert result.time_to_first_token_ms == result.latency_ms
    assert not result.is_streaming
    assert result.finish_reason == "stop"

    (request,) = fake_llm.chat_requests
    body = request["json"]
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == MESSAGES
    assert body["temperature"] == 0.3
    assert body["max_tokens"] == 200
    assert "stream" not in body
    assert request["headers"]["authorization"] == "Bearer test-key"
    assert fake_llm.responses[0]["usage"] == {
        "prompt_tokens": 123,
        "completion_tokens": 17,
        "total_tokens": 140,
    }


def test_default_usage_is_deterministic_and_matches_the_result(
    fake_llm: FakeLlmServer, make_client
) -> None:
    result = make_client().chat(MESSAGES)
    assert result.success
    assert "Galway" in result.response_text
    usage = fake_llm.responses[0]["usage"]
    # words in all message contents: 5 + 8
    assert usage["prompt_tokens"] == 13
    assert (result.prompt_tokens, result.response_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )


def test_missing_usage_gives_none_not_zero(fake_llm: FakeLlmServer, make_client) -> None:
    fake_llm.queue_reply("Tell me more.", include_usage=False)
    result = make_client().chat(MESSAGES)
    assert result.success
    assert result.prompt_tokens is None and result.response_tokens is None
    assert result.total_tokens is None
    assert result.cost() is None


def test_server_error_is_retried_then_reported(fake_llm: FakeLlmServer, make_client) -> None:
    fake_llm.queue_error(500, message="boom", times=2)
    started = time.monotonic()
    result = make_client(max_retries=1).chat(MESSAGES)
    assert time.monotonic() - started < 2
    assert not result.success
    assert result.error_type == "server_error"
    assert result.status_code == 500
    assert "boom" in result.error_message
    assert result.attempts == 2
    assert len(fake_llm.chat_requests) == 2
    assert result.response_text is None


def test_server_error_then_success_recovers(fake_llm: FakeLlmServer, make_client) -> None:
    fake_llm.queue_error(503)
    fake_llm.queue_reply("And your parents?", prompt_tokens=9, completion_tokens=3)
    result = make_client(max_retries=2).chat(MESSAGES)
    assert result.success
    assert result.attempts == 2
    assert result.response_text == "And your parents?"
    assert (result.prompt_tokens, result.response_tokens) == (9, 3)
    assert result.error_type is None and result.status_code == 200


@pytest.mark.parametrize("max_retries", [0, 1, 2])
def test_rate_limit_is_retried_a_bounded_number_of_times(
    fake_llm: FakeLlmServer, make_client, max_retries: int
) -> None:
    # Retry-After of 30 s must not be honoured: backoff is capped at 0.5 s.
    fake_llm.set_default(ScriptedResponse(kind="error", status=429, retry_after="30"))
    started = time.monotonic()
    result = make_client(max_retries=max_retries).chat(MESSAGES)
    elapsed = time.monotonic() - started
    assert not result.success
    assert result.error_type == "rate_limited"
    assert result.status_code == 429
    assert result.attempts == max_retries + 1
    assert len(fake_llm.chat_requests) == max_retries + 1
    assert elapsed < 0.5 * max_retries + 1.0


def test_client_error_is_not_retried(fake_llm: FakeLlmServer, make_client) -> None:
    fake_llm.queue_error(401, message="bad key", error_type="invalid_api_key")
    result = make_client(max_retries=3).chat(MESSAGES)
    assert not result.success
    assert result.error_type == "auth_error"
    assert result.status_code == 401
    assert len(fake_llm.chat_requests) == 1


def test_hanging_server_times_out_within_bound(fake_llm: FakeLlmServer, make_client) -> None:
    fake_llm.queue_hang(5, times=2)
    started = time.monotonic()
    result = make_client(timeout_seconds=0.5, max_retries=1).chat(MESSAGES)
    elapsed = time.monotonic() - started
    assert not result.success
    assert result.error_type == "timeout"
    assert result.attempts == 2
    assert elapsed < 2.0
    assert 1000 <= result.latency_ms < 2000


def test_hanging_stream_times_out_within_bound(fake_llm: FakeLlmServer, make_client) -> None:
    fake_llm.queue_hang(5, times=2)
    started = time.monotonic()
    result = make_client(timeout_seconds=0.5, max_retries=1).stream_chat(MESSAGES)
    assert time.monotonic() - started < 2.0
    assert not result.success
    assert result.error_type == "timeout"
    assert result.attempts == 2
    assert result.time_to_first_token_ms is None


def test_stream_slower_than_timeout_in_total_is_cut(fake_llm: FakeLlmServer, make_client) -> None:
    # Each chunk arrives within the read timeout, but the whole answer takes too long.
    fake_llm.queue_reply("one two three four five six seven eight", chunk_delay=0.2)
    deltas: list[str] = []
    started = time.monotonic()
    result = make_client(timeout_seconds=0.5, max_retries=1).stream_chat(
        MESSAGES, on_delta=deltas.append
    )
    assert time.monotonic() - started < 1.5
    assert not result.success
    assert result.error_type == "timeout"
    assert result.attempts == 1  # text was already delivered: no retry
    assert deltas and result.response_text == "".join(deltas)


def test_connection_refused_is_a_connection_failure(make_client) -> None:
    port = free_port()
    result = make_client(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1).chat(MESSAGES)
    assert not result.success
    assert result.error_type == "connection"
    assert result.attempts == 2
    assert result.status_code is None


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_malformed_body_is_a_bad_response(
    fake_llm: FakeLlmServer, make_client, content_type: str
) -> None:
    fake_llm.queue_malformed("not json{", content_type=content_type)
    result = make_client().chat(MESSAGES)
    assert not result.success
    assert result.error_type == "bad_response"
    assert result.attempts == 1
    assert len(fake_llm.chat_requests) == 1


def test_json_without_choices_is_a_bad_response(fake_llm: FakeLlmServer, make_client) -> None:
    fake_llm.queue_malformed(json.dumps({"id": "x", "object": "chat.completion"}))
    result = make_client().chat(MESSAGES)
    assert not result.success
    assert result.error_type == "bad_response"


# -- streaming --------------------------------------------------------------------------------


def test_stream_delivers_deltas_in_order_with_usage(fake_llm: FakeLlmServer, make_client) -> None:
    chunks = ["What ", "did ", "you ", "love ", "about ", "the ", "farm?"]
    fake_llm.queue_reply(
        "".join(chunks),
        chunks=chunks,
        chunk_delay=0.05,
        prompt_tokens=77,
        completion_tokens=7,
    )
    fake_llm.set_latency(0.1)
    deltas: list[tuple[str, float]] = []
    result = make_client().stream_chat(
        MESSAGES, on_delta=lambda d: deltas.append((d, time.monotonic()))
    )
    returned = time.monotonic()
    assert result.success, result.error_message
    assert [d for d, _ in deltas] == chunks
    # the callback ran as the deltas arrived, not all at the end
    assert deltas[-1][1] - deltas[0][1] >= 0.2
    assert result.response_text == "What did you love about the farm?"
    assert (result.prompt_tokens, result.response_tokens) == (77, 7)
    assert result.is_streaming
    assert result.attempts == 1
    assert result.time_to_first_token_ms is not None
    assert 100 <= result.time_to_first_token_ms < result.latency_ms
    assert result.latency_ms >= 100 + 6 * 50
    # the first words reached the caller well before the call returned (not only at the end)
    assert returned - deltas[0][1] >= 0.2
    assert result.finish_reason == "stop"
    body = fake_llm.chat_requests[0]["json"]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_iter_stream_chat_yields_deltas_then_result(fake_llm: FakeLlmServer, make_client) -> None:
    fake_llm.queue_reply("Who taught you to milk?", prompt_tokens=5, completion_tokens=5)
    stream = make_client().iter_stream_chat(MESSAGES)
    assert stream.result is None
    text = "".join(stream)
    assert text == "Who taught you to milk?"
    assert stream.result is not None and stream.result.success
    assert stream.result.response_text == text
    assert (stream.result.prompt_tokens, stream.result.response_tokens) == (5, 5)


def test_iter_stream_chat_closed_early_is_cancelled(fake_llm: FakeLlmServer, make_client) -> None:
    fake_llm.queue_reply("one two three four five six", chunk_delay=0.05)
    with make_client().iter_stream_chat(MESSAGES) as stream:
        first = next(iter(stream))
    assert first == "one "
    assert stream.result is not None
    assert not stream.result.success
    assert stream.result.error_type == "cancelled"
    assert stream.result.response_text == "one "


def test_stream_error_before_first_delta_is_retried(fake_llm: FakeLlmServer, make_client) -> None:
    fake_llm.queue_error(502)
    fake_llm.queue_reply("Hello again.")
    deltas: list[str] = []
    result = make_client(max_retries=1).stream_chat(MESSAGES, on_delta=deltas.append)
    assert result.success
    assert result.attempts == 2
    assert "".join(deltas) == "Hello again."


def test_stream_rate_limited_reports_failure(fake_llm: FakeLlmServer, make_client) -> None:
    fake_llm.queue_error(429, times=3)
    result = make_client(max_retries=2).stream_chat(MESSAGES)
    assert not result.success
    assert result.error_type == "rate_limited"
    assert len(fake_llm.chat_requests) == 3


def test_malformed_stream_is_a_bad_response(fake_llm: FakeLlmServer, make_client) -> None:
    fake_llm.queue_malformed("data: not json{\n\n", content_type="text/event-stream")
    result = make_client().stream_chat(MESSAGES)
    assert not result.success
    assert result.error_type == "bad_response"


# -- structured output ------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {
        "question": {"type": "string"},
        "topics": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["question", "topics"],
    "additionalProperties": False,
}


def test_chat_json_parses_structured_output(fake_llm: FakeLlmServer, make_client) -> None:
    fake_llm.queue_json(
        {"question": "Which animals did you keep?", "topics": ["farm", "childhood"]},
        prompt_tokens=40,
        completion_tokens=12,
    )
    result = make_client().chat_json(MESSAGES, "next_question", SCHEMA)
    assert result.success, result.error_message
    assert result.parsed == {
        "question": "Which animals did you keep?",
        "topics": ["farm", "childhood"],
    }
    assert (result.prompt_tokens, result.response_tokens) == (40, 12)
    body = fake_llm.chat_requests[0]["json"]
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "next_question", "schema": SCHEMA, "strict": True},
    }


def test_chat_json_default_responder_follows_the_schema(
    fake_llm: FakeLlmServer, make_client
) -> None:
    result = make_client().chat_json(MESSAGES, "next_question", SCHEMA)
    assert result.success
    assert set(result.parsed) == {"question", "topics"}


def test_chat_json_non_json_content_is_a_bad_response(fake_llm: FakeLlmServer, make_client) -> None:
    fake_llm.queue_reply("Sure! Here is your question: what was school like?")
    result = make_client().chat_json(MESSAGES, "next_question", SCHEMA)
    assert not result.success
    assert result.error_type == "bad_response"
    assert result.parsed is None
    assert result.response_text.startswith("Sure!")


def test_chat_json_missing_required_key_is_a_bad_response(
    fake_llm: FakeLlmServer, make_client
) -> None:
    fake_llm.queue_json({"question": "Why?"})
    result = make_client().chat_json(MESSAGES, "next_question", SCHEMA)
    assert not result.success
    assert result.error_type == "bad_response"
    assert "topics" in result.error_message


def test_chat_json_falls_back_to_json_object_on_400(fake_llm: FakeLlmServer, make_client) -> None:
    fake_llm.queue_error(400, message="response_format json_schema is not supported")
    fake_llm.queue_json({"question": "Why?", "topics": []})
    result = make_client().chat_json(MESSAGES, "next_question", SCHEMA)
    assert result.success, result.error_message
    assert result.parsed == {"question": "Why?", "topics": []}
    assert result.attempts == 2
    first, second = (r["json"] for r in fake_llm.chat_requests)
    assert first["response_format"]["type"] == "json_schema"
    assert second["response_format"] == {"type": "json_object"}
    assert "JSON schema" in second["messages"][-1]["content"]


# -- fake server ------------------------------------------------------------------------------


def test_fake_server_transcription_models_and_reset(fake_llm: FakeLlmServer) -> None:
    import openai

    fake_llm.queue_transcription("I was born in 1941.")
    client = openai.OpenAI(base_url=fake_llm.base_url, api_key="k", max_retries=0)
    try:
        text = client.audio.transcriptions.create(
            model="whisper-1", file=("answer.webm", b"\x00" * 1234, "audio/webm")
        ).text
        models = [m.id for m in client.models.list()]
    finally:
        client.close()
    assert text == "I was born in 1941."
    assert "gpt-4o-mini" in models
    (request,) = fake_llm.transcription_requests
    assert request["files"]["file"] == {
        "filename": "answer.webm",
        "size": 1234,
        "content_type": "audio/webm",
        "sha256": hashlib.sha256(b"\x00" * 1234).hexdigest(),
    }
    assert request["form"]["model"] == "whisper-1"
    fake_llm.reset()
    assert fake_llm.requests == [] and fake_llm.responses == []


def test_fake_server_stop_interrupts_a_hang() -> None:
    import threading

    import openai

    server = FakeLlmServer().start()
    server.queue_hang(30)
    client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=30)
    errors: list[Exception] = []

    def call() -> None:
        try:
            client.chat.completions.create(model="m", messages=MESSAGES)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    while not server.requests:
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    thread.join(timeout=5)
    client.close()
    assert time.monotonic() - started < 2
    assert not thread.is_alive()
    assert errors and isinstance(errors[0], openai.APIConnectionError)


# -- pricing ----------------------------------------------------------------------------------


def test_known_model_is_priced() -> None:
    # gpt-4o-mini: $0.15 / 1M input, $0.60 / 1M output
    assert cost_for("gpt-4o-mini", 1_000_000, 1_000_000) == Decimal("0.750000")
    assert cost_for("gpt-4o-mini", 1234, 567) == Decimal("0.000525")
    assert cost_for("gpt-4o", 1000, 500) == Decimal("0.007500")
    for model in ("gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o4-mini", "gpt-5", "gpt-5-mini"):
        assert cost_for(model, 10, 10) is not None, model


def test_cost_is_quantized_to_six_places() -> None:
    cost = cost_for("gpt-4.1-nano", 1, 1)  # 0.0000005 -> 0.000001 (half up)
    assert cost == Decimal("0.000001")
    assert cost.as_tuple().exponent == -6


def test_unknown_model_or_tokens_is_unpriced_not_zero() -> None:
    assert cost_for("llama3.1:8b", 100, 100) is None
    assert cost_for("my-fine-model", 100, 100) is None
    assert cost_for(None, 100, 100) is None
    assert cost_for("gpt-4o", None, 100) is None
    assert cost_for("gpt-4o", 100, None) is None
    assert cost_for("gpt-4o", 0, 0) == Decimal("0.000000")


def test_snapshot_suffix_matches_base_model() -> None:
    assert cost_for("gpt-4o-mini-2024-07-18", 1000, 1000) == cost_for("gpt-4o-mini", 1000, 1000)
    assert find_price("gpt-4-0613") == DEFAULT_PRICES["gpt-4"]
    assert find_price("GPT-4o") == DEFAULT_PRICES["gpt-4o"]
    # not a prefix match: an unknown suffix stays unpriced
    assert find_price("gpt-4o-mini-custom") is None


def test_override_table_wins_and_adds_local_models() -> None:
    overrides = parse_price_table(
        '{"gpt-4o-mini": {"input": 1, "output": 2}, "llama3.1:8b": [0, 0], "gpt-4o": null}'
    )
    assert cost_for("gpt-4o-mini", 1_000_000, 500_000, overrides) == Decimal("2.000000")
    assert cost_for("llama3.1:8b", 5000, 5000, overrides) == Decimal("0.000000")
    assert cost_for("gpt-4o", 10, 10, overrides) is None
    assert cost_for("gpt-4.1", 1_000_000, 0, overrides) == Decimal("2.000000")
    # raw JSON-decoded mappings (as config.py stores them) work too
    assert cost_for("llama3.1:8b", 1_000_000, 0, {"llama3.1:8b": {"input": "0.5", "output": 1}})
    table = price_table(overrides)
    assert table["gpt-4o-mini"] == ModelPrice(Decimal(1), Decimal(2))
    assert "gpt-4o" not in table


def test_result_cost_uses_response_model_then_model(fake_llm: FakeLlmServer, make_client) -> None:
    fake_llm.queue_reply(
        "Hi", prompt_tokens=1_000_000, completion_tokens=0, model="gpt-4o-mini-2024-07-18"
    )
    result = make_client(model="gpt-4o-mini").chat(MESSAGES)
    assert result.cost() == Decimal("0.150000")
    assert result.cost({"gpt-4o-mini": [1, 1]}) == Decimal("1.000000")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"m": "cheap"}', "'m'"),
        ('{"m": {"input": 1}}', "lacks output"),
        ('{"m": {"input": 1, "output": 2, "cached": 0}}', "unknown keys"),
        ('{"m": [1]}', "[input, output]"),
        ('{"m": [-1, 2]}', "negative"),
        ('{"m": ["x", 2]}', "must be a number"),
        ('{"m": [true, 2]}', "must be a number"),
        ('{"": [1, 2]}', "non-empty"),
        ('{"m": [1e999, 2]}', "finite"),
    ],
)
def test_bad_price_table_raises_clear_value_error(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="STORYTELLER_MODEL_PRICES") as info:
        parse_price_table(text)
    assert fragment in str(info.value)


def test_empty_price_table_means_no_overrides() -> None:
    assert parse_price_table("") == {}
    assert parse_price_table(None) == {}
    assert parse_price_table("{}") == {}
