"""The interviewer's question bank, loaded from ``questions.json`` beside this module.

Each entry has a stable ``key``, the ``text`` as the storyteller reads it, one of
the five prompt ``category`` values of seed 003, a ``life_period`` and ``tags``:

- "opening": a first question for its life period (used only to open a session);
- "closing": an offer to finish or a reflection to end on (used only at the end);
- "photo": about a photo the storyteller shared (used only when there are photos);
- "gentle": soft enough to ask after a difficult answer or in a careful session;
- "named_person": an opening that assumes the session names who it is about;
- topic tags ("health", "death", "war", "religion", "money", "romance",
  "family_conflict", ...) so a session's constraints can rule topics out.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from storyteller.agent.context import CATEGORIES, LIFE_PERIODS

QUESTIONS_FILE = Path(__file__).with_name("questions.json")

#: Tags with a special role in the interviewer (everything else is a topic tag).
ROLE_TAGS: frozenset[str] = frozenset({"opening", "closing", "photo", "gentle", "named_person"})


@dataclass(frozen=True)
class BankQuestion:
    key: str
    text: str
    category: str
    life_period: str
    tags: tuple[str, ...] = ()

    @property
    def topics(self) -> frozenset[str]:
        """The topic tags (tags that are not a role such as "gentle")."""
        return frozenset(self.tags) - ROLE_TAGS


def parse_questions(entries: Iterable[dict]) -> tuple[BankQuestion, ...]:
    """Validate raw entries and build the bank; raises ValueError on a bad entry."""
    questions = []
    keys: set[str] = set()
    texts: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        try:
            question = BankQuestion(
                key=str(entry["key"]),
                text=" ".join(str(entry["text"]).split()),
                category=str(entry["category"]),
                life_period=str(entry["life_period"]),
                tags=tuple(str(t) for t in entry.get("tags") or ()),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"question {number}: missing or malformed field {exc}") from exc
        if not question.key or not question.text:
            raise ValueError(f"question {number}: empty key or text")
        if question.category not in CATEGORIES:
            raise ValueError(f"question {question.key}: unknown category {question.category!r}")
        if question.life_period not in LIFE_PERIODS:
            raise ValueError(f"question {question.key}: unknown life period")
        if question.key in keys:
            raise ValueError(f"question {question.key}: duplicate key")
        if question.text.lower() in texts:
            raise ValueError(f"question {question.key}: duplicate text")
        keys.add(question.key)
        texts.add(question.text.lower())
        questions.append(question)
    return tuple(questions)


@functools.cache
def load_question_bank() -> tuple[BankQuestion, ...]:
    """The bank, read once and cached."""
    with QUESTIONS_FILE.open(encoding="utf-8") as handle:
        return parse_questions(json.load(handle))


def questions_for(
    *,
    category: str | None = None,
    life_period: str | None = None,
    tag: str | None = None,
    bank: Sequence[BankQuestion] | None = None,
) -> list[BankQuestion]:
    """Bank questions filtered by category, life period and/or tag, in bank order."""
    return [
        q
        for q in (load_question_bank() if bank is None else bank)
        if (category is None or q.category == category)
        and (life_period is None or q.life_period == life_period)
        and (tag is None or tag in q.tags)
    ]


def question_by_key(key: str) -> BankQuestion | None:
    return _by_key().get(key)


@functools.cache
def _by_key() -> dict[str, BankQuestion]:
    return {q.key: q for q in load_question_bank()}
