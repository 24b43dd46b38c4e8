"""The chapter writers: the offline one adds no word; the LLM one is checked before use."""

from __future__ import annotations

import re

from storyteller.agent import book_writer
from storyteller.agent.book_writer import Passage
from storyteller.agent.llm import LlmCallResult, LlmClient, LlmSettings
from tests.fake_llm_server import FakeLlmServer

PASSAGES = [
    Passage("p1", "We lived  on Elm Street.\nMy mother sang  on the porch!", "a1", "i1", "i1"),
    Passage("p2", "We lived on Elm Street. Tom was my brother", "a2", "i1", "i1"),
    Passage("p3", "In 1952 I started school… It was cold.", "a3", "i2", "i2"),
    Passage("p4", "   ", "a4", None, None),
]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def test_offline_chapter_invents_nothing_and_keeps_sources():
    draft = book_writer.offline_chapter("Elm Street", PASSAGES)
    assert draft.source == "offline"
    assert [p.text for p in draft.paragraphs] == [
        "We lived on Elm Street. My mother sang on the porch! Tom was my brother",
        "In 1952 I started school… It was cold.",
    ]
    # One paragraph per scene: the two passages of answer i1 together, no sentence twice.
    assert draft.paragraphs[0].artifact_ids == ("a1", "a2")
    assert draft.paragraphs[0].interaction_ids == ("i1",)
    assert draft.paragraphs[1].artifact_ids == ("a3",)
    source_sentences = {s for p in PASSAGES for s in book_writer.sentences(p.text)}
    source_words = {w for p in PASSAGES for w in _words(p.text)}
    for paragraph in draft.paragraphs:
        for sentence in book_writer.sentences(paragraph.text):
            assert sentence in source_sentences
        assert set(_words(paragraph.text)) <= source_words


def test_write_chapter_without_llm_is_offline():
    draft = book_writer.write_chapter(None, "Elm Street", PASSAGES, author="Margaret")
    assert draft.source == "offline" and draft.llm_result is None
    assert draft.content.startswith("We lived on Elm Street.")


def _result(parsed, success=True) -> LlmCallResult:
    from datetime import UTC, datetime

    return LlmCallResult(
        messages=[], model="m", started_at=datetime.now(UTC), success=success, parsed=parsed
    )


def test_llm_reply_is_used_only_when_it_names_given_passages():
    good = {"paragraphs": [{"text": "I grew up on Elm Street.", "passage_ids": ["p1", "p2"]}]}
    draft, problem = book_writer.draft_from_llm("Elm", PASSAGES, _result(good))
    assert problem is None and draft is not None
    assert draft.paragraphs[0].artifact_ids == ("a1", "a2")
    assert draft.paragraphs[0].interaction_ids == ("i1",)
    for bad in (
        {"paragraphs": []},
        {"paragraphs": [{"text": "Made up.", "passage_ids": ["p99"]}]},
        {"paragraphs": [{"text": "No sources.", "passage_ids": []}]},
        {"paragraphs": [{"text": "  ", "passage_ids": ["p1"]}]},
        {"paragraphs": "not a list"},
    ):
        draft, problem = book_writer.draft_from_llm("Elm", PASSAGES, _result(bad))
        assert draft is None and problem
    draft, problem = book_writer.draft_from_llm("Elm", PASSAGES, _result(None, success=False))
    assert draft is None and problem


def _client(server: FakeLlmServer) -> LlmClient:
    return LlmClient(
        LlmSettings(base_url=server.base_url, api_key="k", model="gpt-4o-mini", max_retries=0)
    )


def test_llm_path_against_the_fake_server():
    reply = {
        "paragraphs": [
            {"text": "I grew up on Elm Street, where my mother sang.", "passage_ids": ["p1"]},
            {"text": "In 1952 I started school.", "passage_ids": ["p3"]},
        ]
    }
    with FakeLlmServer() as server:
        server.queue_json(reply)
        draft = book_writer.write_chapter(_client(server), "Elm", PASSAGES, author="Margaret")
        body = server.chat_requests[0]["json"]
    assert draft.source == "llm"
    assert [p.artifact_ids for p in draft.paragraphs] == [("a1",), ("a3",)]
    assert body["response_format"]["type"] == "json_schema"
    system = body["messages"][0]["content"]
    assert "ONLY from the passages" in system and "first person" in system
    assert "My mother sang on the porch!" in body["messages"][1]["content"]


def test_failing_llm_falls_back_to_the_storytellers_words():
    with FakeLlmServer() as server:
        server.queue_error(status=500, message="boom")
        draft = book_writer.write_chapter(_client(server), "Elm", PASSAGES, author="Margaret")
    assert draft.source == "offline"
    assert draft.llm_result is not None and not draft.llm_result.success
    assert draft.paragraphs[0].text.startswith("We lived on Elm Street.")
    assert draft.notes
