"""The coverage map: for each life event and each period of life, how deeply it has been told.

Depth, from least to most: untold, planned, introduction, exploration, deep dive, completion.

The rule, for one session touching one life event (a ``session_life_event`` row):

* a cancelled session does not count;
* a scheduled session that has not started yet makes the event **planned**;
* a completed session counts at its declared ``coverage_level`` (no level declared:
  introduction), promoted by the prompts answered about the event (``prompts_completed``):
  1 or more → introduction, 4 or more → exploration, 8 or more → deep dive. Prompts never
  promote to **completion**: that is only reached by a completed session declared
  "completion" (seed 003's reflection session);
* a session under way (in progress or paused) counts only by its prompts answered so far
  (the declared level is the plan, confirmed when the session completes); with none yet,
  it is still planned.

An event's depth is the deepest of its sessions'. A period of life is touched by the
sessions whose process node is about that period (``session.current_process_node.life_period``)
and by the sessions linked to life events of that period (the period chosen for the event,
else the one its kind names: ``life_events.period_of``); a node session counts like a
link with no declared level, its answered questions as the prompts. A period's depth is the
deepest of those.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session as DbSession

from storyteller import life_events
from storyteller.models import (
    ProcessNode,
    Session,
    SessionInteraction,
    SessionLifeEvent,
    Storyteller,
)
from storyteller.models.sessions import COVERAGE_LEVELS

__all__ = [
    "DEPTHS",
    "DEPTH_LABELS",
    "PROMPT_THRESHOLDS",
    "CoverageMap",
    "coverage_map",
    "depth_of",
    "prompts_level",
]

DEPTHS = ("untold", "planned", *COVERAGE_LEVELS)
DEPTH_LABELS = {
    "untold": "Untold",
    "planned": "Planned",
    "introduction": "Introduction",
    "exploration": "Exploration",
    "deep_dive": "Deep dive",
    "completion": "Completion",
}
DEPTH_HINTS = {
    "untold": "Not talked about yet",
    "planned": "A session is planned",
    "introduction": "The basic facts are down",
    "exploration": "Several memories told",
    "deep_dive": "Rich scenes and people",
    "completion": "Told, and reflected on",
}
# (prompts answered at least, the level they reach), deepest first.
PROMPT_THRESHOLDS: tuple[tuple[int, str], ...] = (
    (8, "deep_dive"),
    (4, "exploration"),
    (1, "introduction"),
)
STARTED = ("in_progress", "paused")


def _rank(depth: str) -> int:
    return DEPTHS.index(depth)


def deepest(*depths: str | None) -> str:
    found = [d for d in depths if d is not None]
    return max(found, key=_rank) if found else "untold"


def prompts_level(prompts: int) -> str | None:
    for at_least, level in PROMPT_THRESHOLDS:
        if prompts >= at_least:
            return level
    return None


def depth_of(status: str, declared: str | None, prompts: int) -> str | None:
    """How deeply one session told one event (see the module docstring); None: not at all."""
    if status == "cancelled":
        return None
    if status == "scheduled":
        return "planned"
    from_prompts = prompts_level(prompts)
    if status == "completed":
        return deepest(declared or "introduction", from_prompts)
    return from_prompts or "planned"


@dataclass
class Touch:
    """One session touching a row of the map."""

    session_id: uuid.UUID
    name: str
    status: str
    scheduled_at: datetime | None
    created_at: datetime
    depth: str
    declared: str | None = None
    prompts: int = 0
    via: str = "linked"  # linked / process node

    @property
    def depth_label(self) -> str:
        return DEPTH_LABELS[self.depth]


@dataclass
class Row:
    label: str
    touches: list[Touch] = field(default_factory=list)

    @property
    def depth(self) -> str:
        return deepest(*(t.depth for t in self.touches))

    @property
    def depth_label(self) -> str:
        return DEPTH_LABELS[self.depth]

    @property
    def depth_hint(self) -> str:
        return DEPTH_HINTS[self.depth]

    @property
    def level(self) -> int:
        """0 (untold) .. 5 (completion), for the bar."""
        return _rank(self.depth)

    @property
    def untold(self) -> bool:
        return self.depth == "untold"

    def add(self, touch: Touch) -> None:
        """Add a session, or keep the deeper of two ways the same session touched this row."""
        for i, existing in enumerate(self.touches):
            if existing.session_id == touch.session_id:
                if _rank(touch.depth) > _rank(existing.depth):
                    self.touches[i] = touch
                return
        self.touches.append(touch)
        self.touches.sort(
            key=lambda t: (t.scheduled_at is None, t.scheduled_at or t.created_at, t.created_at)
        )


@dataclass
class EventRow(Row):
    entry: life_events.TimelineEntry | None = None

    @property
    def life_event(self):
        assert self.entry is not None
        return self.entry.life_event


@dataclass
class PeriodRow(Row):
    key: str = ""
    event_count: int = 0
    untold_events: int = 0


@dataclass
class CoverageMap:
    storyteller: Storyteller
    events: list[EventRow]
    periods: list[PeriodRow]

    @property
    def untold_events(self) -> list[EventRow]:
        return [row for row in self.events if row.untold]

    @property
    def untold_periods(self) -> list[PeriodRow]:
        return [row for row in self.periods if row.untold]


def _answered_counts(db: DbSession, storyteller_id: uuid.UUID) -> dict[uuid.UUID, int]:
    rows = db.execute(
        select(SessionInteraction.session_id, func.count())
        .join(Session, Session.id == SessionInteraction.session_id)
        .where(
            Session.storyteller_id == storyteller_id,
            SessionInteraction.storyteller_response.is_not(None),
            or_(
                SessionInteraction.response_method.is_(None),
                SessionInteraction.response_method != "skip",
            ),
        )
        .group_by(SessionInteraction.session_id)
    ).all()
    return {session_id: int(count) for session_id, count in rows}


def _touch(session: Session, depth: str, **kwargs) -> Touch:
    return Touch(
        session_id=session.id,
        name=session.display_name,
        status=session.status,
        scheduled_at=session.scheduled_at,
        created_at=session.created_at,
        depth=depth,
        **kwargs,
    )


def _period_rows(present: set[str]) -> dict[str, PeriodRow]:
    """Every usual period of life (so the untold ones show), plus any other one in use."""
    keys = [key for key, _ in life_events.LIFE_PERIODS if key != "general" or key in present]
    keys += sorted(present - set(keys))
    return {key: PeriodRow(label=life_events.period_label(key), key=key) for key in keys}


def coverage_map(db: DbSession, storyteller: Storyteller) -> CoverageMap:
    """The map for one storyteller: events in life order, then the periods of life."""
    timeline = life_events.timeline(db, storyteller)
    event_rows = {
        entry.life_event.id: EventRow(label=entry.life_event.event_name, entry=entry)
        for entry in timeline.entries
    }
    sessions = db.execute(
        select(Session, ProcessNode.life_period)
        .outerjoin(ProcessNode, ProcessNode.id == Session.current_process_node_id)
        .where(Session.storyteller_id == storyteller.id)
    ).all()
    by_id = {session.id: session for session, _ in sessions}
    links = (
        db.scalars(
            select(SessionLifeEvent).where(SessionLifeEvent.session_id.in_(list(by_id)))
        ).all()
        if by_id
        else []
    )
    answered = _answered_counts(db, storyteller.id) if by_id else {}

    present = {life_events.period_of(row.life_event) for row in event_rows.values()} - {None}
    present |= {period for session, period in sessions if period and session.status != "cancelled"}
    period_rows = _period_rows(present)

    for link in links:
        session = by_id[link.session_id]
        depth = depth_of(session.status, link.coverage_level, link.prompts_completed)
        row = event_rows.get(link.life_event_id)
        if depth is None or row is None:
            continue
        touch = _touch(session, depth, declared=link.coverage_level, prompts=link.prompts_completed)
        row.add(touch)
        period = life_events.period_of(row.life_event)
        if period:
            period_rows[period].add(touch)

    for session, period in sessions:
        if not period:
            continue
        prompts = answered.get(session.id, 0)
        depth = depth_of(session.status, None, prompts)
        if depth is not None:
            period_rows[period].add(_touch(session, depth, prompts=prompts, via="process node"))

    for row in event_rows.values():
        period = life_events.period_of(row.life_event)
        if period:
            period_rows[period].event_count += 1
            period_rows[period].untold_events += int(row.untold)

    return CoverageMap(
        storyteller=storyteller,
        events=list(event_rows.values()),
        periods=list(period_rows.values()),
    )
