"""Drafting a chapter of the book from the storyteller's own words.

Two writers, one shape of result (``ChapterDraft``):

* ``offline_chapter`` needs no model. It assembles paragraphs from the passages as the
  storyteller said them, lightly cleaned: whitespace tidied, and a sentence that another
  passage of the same scene already holds is not repeated. It adds no word of its own, so
  every sentence of the chapter can be found in the passages. Passages that come from one
  answer (the same ``scene``) make one paragraph; others make one paragraph each.
* ``request_chapter`` asks the LLM (structured output) to write the chapter ONLY from the
  given passages, in the first person, inventing nothing, and to name for each paragraph
  the passage ids it used. ``draft_from_llm`` accepts the reply only when every paragraph
  has text and names passages that were given; anything else is "unusable".

``write_chapter`` chooses: the LLM when one is given and its reply is usable, otherwise the
offline writer (a failed call is still returned in ``llm_result`` so the caller records it).

Every paragraph keeps the ids of the artifacts and interactions it came from. This module
knows nothing of Flask or the database.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from storyteller.agent.llm import LlmCallResult, LlmClient

__all__ = [
    "CHAPTER_PROMPT",
    "CHAPTER_SCHEMA",
    "ChapterDraft",
    "DraftParagraph",
    "Passage",
    "clean_text",
    "draft_from_llm",
    "offline_chapter",
    "request_chapter",
    "sentences",
    "write_chapter",
]

CHAPTER_PROMPT = (
    "You help an older person turn their recorded memories into a chapter of their life "
    "story book. Write the chapter ONLY from the passages you are given: they are the "
    "storyteller's own words. Write in the first person, as the storyteller, in plain and "
    "warm language, in the language of the passages. Do not invent anything: no names, "
    "places, dates, numbers, feelings or events that the passages do not contain. Keep the "
    "storyteller's own phrases where you can. Use every passage at most once and keep the "
    'order of time. Reply with a JSON object: {"paragraphs": [{"text": ..., '
    '"passage_ids": [...]}]}, where passage_ids lists the ids of the passages each '
    "paragraph was written from (at least one)."
)

CHAPTER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "paragraphs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "passage_ids": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["text", "passage_ids"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["paragraphs"],
    "additionalProperties": False,
}

MAX_PARAGRAPH_CHARS = 20_000

_SENTENCE = re.compile(r"[^.!?…]+(?:[.!?…]+[\"'”’)]*|$)")


@dataclass(frozen=True)
class Passage:
    """One piece of the storyteller's words given to a writer (an approved artifact)."""

    id: str  # short id shown to the LLM: "p1", "p2", ...
    text: str
    artifact_id: str
    interaction_id: str | None = None
    scene: str | None = None  # passages of one answer share a scene (its interaction id)
    name: str | None = None


@dataclass(frozen=True)
class DraftParagraph:
    text: str
    artifact_ids: tuple[str, ...]
    interaction_ids: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "artifact_ids": list(self.artifact_ids),
            "interaction_ids": list(self.interaction_ids),
        }


@dataclass
class ChapterDraft:
    title: str
    paragraphs: list[DraftParagraph]
    source: str  # "llm" | "offline"
    llm_result: LlmCallResult | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def content(self) -> str:
        return "\n\n".join(p.text for p in self.paragraphs)


def clean_text(text: str | None) -> str:
    """Whitespace tidied within lines; nothing added, nothing reworded."""
    return " ".join((text or "").split())


def sentences(text: str | None) -> list[str]:
    """The sentences of a text (ending in . ! ? or …, or at the end of the text)."""
    return [s.strip() for s in _SENTENCE.findall(clean_text(text)) if s.strip()]


def _unique(values: list[str | None]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        if value:
            seen.setdefault(value, None)
    return tuple(seen)


def _groups(passages: list[Passage]) -> list[list[Passage]]:
    """Passages of one scene together, in the order of the scene's first passage."""
    groups: list[list[Passage]] = []
    by_scene: dict[str, list[Passage]] = {}
    for passage in passages:
        if passage.scene is None:
            groups.append([passage])
            continue
        group = by_scene.get(passage.scene)
        if group is None:
            group = by_scene[passage.scene] = []
            groups.append(group)
        group.append(passage)
    return groups


def _scene_paragraph(group: list[Passage]) -> DraftParagraph | None:
    kept: list[str] = []
    seen: set[str] = set()
    for passage in group:
        for sentence in sentences(passage.text):
            key = sentence.casefold()
            if key in seen:
                continue
            seen.add(key)
            kept.append(sentence)
    if not kept:
        return None
    return DraftParagraph(
        text=" ".join(kept),
        artifact_ids=_unique([p.artifact_id for p in group]),
        interaction_ids=_unique([p.interaction_id for p in group]),
    )


def offline_chapter(title: str, passages: list[Passage]) -> ChapterDraft:
    """The chapter assembled from the passages themselves: one paragraph per scene."""
    paragraphs = [p for g in _groups(passages) if (p := _scene_paragraph(g)) is not None]
    return ChapterDraft(title=title, paragraphs=paragraphs, source="offline")


def _passage_payload(title: str, passages: list[Passage], author: str) -> str:
    return json.dumps(
        {
            "storyteller": author,
            "chapter_title": title,
            "passages": [{"id": p.id, "text": clean_text(p.text)} for p in passages],
        },
        ensure_ascii=False,
    )


def request_chapter(
    llm: LlmClient, title: str, passages: list[Passage], *, author: str
) -> LlmCallResult:
    """Ask the LLM for the chapter's paragraphs (structured output)."""
    messages = [
        {"role": "system", "content": CHAPTER_PROMPT},
        {"role": "user", "content": _passage_payload(title, passages, author)},
    ]
    return llm.chat_json(messages, "book_chapter", CHAPTER_SCHEMA, temperature=0.3)


def draft_from_llm(
    title: str, passages: list[Passage], result: LlmCallResult
) -> tuple[ChapterDraft | None, str | None]:
    """The LLM's chapter, or (None, why it cannot be used)."""
    parsed = result.parsed if result.success and isinstance(result.parsed, dict) else None
    if parsed is None:
        return None, result.error_message or "The language model gave no usable answer."
    items = parsed.get("paragraphs")
    if not isinstance(items, list) or not items:
        return None, "The language model's chapter has no paragraphs."
    known = {p.id: p for p in passages}
    paragraphs: list[DraftParagraph] = []
    for item in items:
        text = clean_text(item.get("text")) if isinstance(item, dict) else ""
        ids = item.get("passage_ids") if isinstance(item, dict) else None
        if not text or len(text) > MAX_PARAGRAPH_CHARS:
            return None, "A paragraph of the language model's chapter is empty or too long."
        if not isinstance(ids, list) or not ids or any(i not in known for i in ids):
            return None, "A paragraph of the language model's chapter names no given passage."
        used = [known[i] for i in ids]
        paragraphs.append(
            DraftParagraph(
                text=text,
                artifact_ids=_unique([p.artifact_id for p in used]),
                interaction_ids=_unique([p.interaction_id for p in used]),
            )
        )
    return ChapterDraft(title=title, paragraphs=paragraphs, source="llm", llm_result=result), None


def write_chapter(
    llm: LlmClient | None, title: str, passages: list[Passage], *, author: str
) -> ChapterDraft:
    """The LLM's chapter when it gives a usable one, otherwise the offline chapter."""
    if llm is None or not passages:
        return offline_chapter(title, passages)
    result = request_chapter(llm, title, passages, author=author)
    draft, problem = draft_from_llm(title, passages, result)
    if draft is not None:
        return draft
    fallback = offline_chapter(title, passages)
    fallback.llm_result = result
    fallback.notes.append(problem or "The language model's chapter could not be used.")
    return fallback
