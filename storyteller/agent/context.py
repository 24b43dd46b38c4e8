"""Plain data the rest of the app fills from the database and hands to the interviewer.

Nothing here touches the database: the views / operations layer builds an
:class:`InterviewContext` from a session, its interactions, its life events and
the storyteller's memories, and the interviewer only reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from storyteller.agent.analysis import Analysis

#: The five prompt categories of seed 003, in the order a session moves through them.
CATEGORIES: tuple[str, ...] = ("scene", "people", "tension", "change", "meaning")

#: Life periods the question bank is organised by.
LIFE_PERIODS: tuple[str, ...] = (
    "childhood",
    "school",
    "work",
    "love_and_family",
    "war_and_service",
    "migration",
    "loss",
    "later_life",
    "general",
)

#: interaction_memory.memory_type values the interviewer understands.
MEMORY_TYPES: tuple[str, ...] = ("fact", "person", "place", "preference", "event")


@dataclass(frozen=True)
class Turn:
    """One prompt of the session and what the storyteller did with it."""

    question: str
    category: str | None
    answer: str | None
    skipped: bool
    analysis: Analysis | None


@dataclass(frozen=True)
class MemoryItem:
    """Something learned about the storyteller in an earlier session."""

    id: str
    memory_type: str  # fact / person / place / preference / event
    content: dict
    confidence: float


@dataclass(frozen=True)
class LifeEventRef:
    """A life event linked to the session (seed 003 session_life_event)."""

    name: str
    event_type: str | None
    start_year: int | None
    end_year: int | None
    location: str | None
    description: str | None
    is_primary: bool


@dataclass(frozen=True)
class ArtifactRef:
    """A session artifact (seed 003 session_artifact), reduced to what progress needs.

    ``turn_index`` is the 0-based index into ``InterviewContext.turns`` of the turn
    the artifact came from, or None when it is not tied to one turn.
    """

    artifact_type: str  # scene_capture / timeline_entry / relationship_mapping / ...
    turn_index: int | None
    summary: str | None = None


@dataclass(frozen=True)
class PhotoRef:
    """A photo of the storyteller the interviewer may ask about (its facts, never its file).

    ``InterviewContext.photos[n]`` is the photo of the question keyed "photo:n".
    """

    document_id: str
    title: str | None
    life_event: str | None
    taken_at: str | None


@dataclass
class InterviewContext:
    """Everything the interviewer may look at to choose the next question."""

    storyteller_name: str
    session_name: str | None
    intention: str
    success_indicators: list[str]
    completion_indicators: list[str]
    constraints: list[str]
    procedure_notes: str | None
    node_objective: str | None
    life_events: list[LifeEventRef]
    turns: list[Turn]
    memories: list[MemoryItem]
    photo_captions: list[str] = field(default_factory=list)
    wants_photos: bool = False
    #: The photos behind ``photo_captions``, in the same order.
    photos: list[PhotoRef] = field(default_factory=list)
    #: Artifacts created so far in this session (used to judge completion).
    artifacts: list[ArtifactRef] = field(default_factory=list)


@dataclass(frozen=True)
class Question:
    """What the interviewer wants to ask next.

    ``source``: "opening", "follow_up", "bank", "memory", "photo" or "closing".
    ``follow_up_of``: the subject followed up on (a person such as "brother Tom",
    a place, a year, or "theme:work"), else None.
    ``key``: a stable id (a bank key, or e.g. "follow_up:person:brother tom").
    ``used_memory_ids``: ids of the MemoryItems the question was built from.
    """

    text: str
    category: str
    source: str
    follow_up_of: str | None = None
    life_period: str | None = None
    key: str | None = None
    used_memory_ids: tuple[str, ...] = ()
