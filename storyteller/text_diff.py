"""Readable differences between two texts, word by word, for people (not for patches).

``word_diff(old, new)`` gives a list of segments, each "same", "removed" or "added", whose
texts joined in order rebuild both versions (leave out "added" for the old one, "removed"
for the new one). Whitespace and line breaks are kept as they were, so a template shows
the segments in a ``white-space: pre-wrap`` block with ``<del>`` and ``<ins>``: no inline
styles are needed (the Content-Security-Policy forbids them).

``shared_words(text, other)`` marks the words of ``text`` that also occur in ``other``, so a
reviewer sees at a glance which words of an artifact came from the storyteller's answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

__all__ = ["Segment", "has_changes", "shared_words", "tokens", "word_diff"]

# A word (letters, digits, apostrophes inside words), a run of whitespace, or one other mark.
_TOKEN = re.compile(r"\w+(?:['’]\w+)*|\s+|[^\w\s]", re.UNICODE)
_WORD = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class Segment:
    kind: str  # "same" | "removed" | "added" (word_diff); "shared" | "plain" (shared_words)
    text: str

    @property
    def is_change(self) -> bool:
        return self.kind in ("removed", "added")


def tokens(text: str | None) -> list[str]:
    """The text cut into words, whitespace runs and punctuation marks; joined they are it."""
    return _TOKEN.findall(text or "")


def _merge(segments: list[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for segment in segments:
        if not segment.text:
            continue
        if merged and merged[-1].kind == segment.kind:
            merged[-1] = Segment(segment.kind, merged[-1].text + segment.text)
        else:
            merged.append(segment)
    return merged


def word_diff(old: str | None, new: str | None) -> list[Segment]:
    """The segments that turn ``old`` into ``new``: kept, removed and added words."""
    a, b = tokens(old), tokens(new)
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    out: list[Segment] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(Segment("same", "".join(a[i1:i2])))
            continue
        if op in ("replace", "delete"):
            out.append(Segment("removed", "".join(a[i1:i2])))
        if op in ("replace", "insert"):
            out.append(Segment("added", "".join(b[j1:j2])))
    return _merge(out)


def has_changes(segments: list[Segment]) -> bool:
    return any(s.is_change for s in segments)


def _key(word: str) -> str:
    return word.casefold().replace("’", "'")


def shared_words(text: str | None, other: str | None, *, min_length: int = 3) -> list[Segment]:
    """``text`` as segments, its words that also occur in ``other`` marked "shared".

    Words shorter than ``min_length`` (a, of, I, ...) are never marked: they say nothing
    about where a sentence came from.
    """
    known = {_key(t) for t in tokens(other) if _WORD.match(t)}
    out: list[Segment] = []
    for token in tokens(text):
        is_word = bool(_WORD.match(token)) and len(token) >= min_length
        out.append(Segment("shared" if is_word and _key(token) in known else "plain", token))
    return _merge(out)
