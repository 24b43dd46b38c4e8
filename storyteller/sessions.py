"""Creating sessions (seed 001's service API): validation, hierarchy, the pinned interviewer.

Views and the agent call these functions; they never write the ``session`` table directly.
Functions flush, never commit: the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from storyteller import agent_versions
from storyteller.events import next_event_sequence, record_event
from storyteller.models import (
    Agent,
    AgentVersion,
    LifeEvent,
    ProcessNode,
    ProcessVersion,
    Session,
    SessionLifeEvent,
    SessionTemplate,
    Storyteller,
)
from storyteller.models.sessions import COVERAGE_LEVELS, SESSION_SOURCES

__all__ = [
    "SESSION_NAME_MAX_LENGTH",
    "TAG_MAX_LENGTH",
    "SessionInputError",
    "create_session",
    "link_life_event",
    "next_event_sequence",
    "normalise_tags",
    "record_event",
]

SESSION_NAME_MAX_LENGTH = 200
TAG_MAX_LENGTH = 50


class SessionInputError(ValueError):
    """A value given for a new session is not acceptable; ``field`` names which one."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _text_items(field: str, values: Iterable[Any] | str | None) -> list[str] | None:
    """A list of stripped, non-empty strings; a single string is split on commas."""
    if values is None:
        return None
    if isinstance(values, str):
        values = values.split(",")
    items: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise SessionInputError(field, "every item must be text")
        value = " ".join(value.split())
        if value:
            items.append(value)
    return items


def normalise_tags(tags: Iterable[Any] | str | None) -> list[str] | None:
    """Tags as a list of unique, stripped strings in their first-seen order (None stays None).

    A single string is read as a comma-separated list. Duplicates are detected ignoring case;
    the first spelling is kept.
    """
    items = _text_items("session_tags", tags)
    if items is None:
        return None
    seen: set[str] = set()
    unique: list[str] = []
    for item in items:
        if len(item) > TAG_MAX_LENGTH:
            raise SessionInputError(
                "session_tags", f"a tag is longer than {TAG_MAX_LENGTH} characters"
            )
        key = item.casefold()
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _resolve_parent(
    db: DbSession, storyteller_id: uuid.UUID, parent_session_id: uuid.UUID | None
) -> Session | None:
    if parent_session_id is None:
        return None
    parent = db.get(Session, parent_session_id)
    if parent is None:
        raise SessionInputError("parent_session_id", "the parent session does not exist")
    if parent.storyteller_id != storyteller_id:
        raise SessionInputError(
            "parent_session_id", "the parent session belongs to another storyteller"
        )
    return parent


def _resolve_agent(
    db: DbSession, agent_id: uuid.UUID | None, agent_version_id: uuid.UUID | None
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """The (agent, version) the session runs with: given, or the active interviewer's."""
    if agent_version_id is not None:
        version = db.get(AgentVersion, agent_version_id)
        if version is None:
            raise SessionInputError("agent_version_id", "the agent version does not exist")
        if agent_id is not None and version.agent_id != agent_id:
            raise SessionInputError("agent_version_id", "the version belongs to another agent")
        return version.agent_id, version.id
    if agent_id is not None:
        if db.get(Agent, agent_id) is None:
            raise SessionInputError("agent_id", "the agent does not exist")
        active = agent_versions.active_version(db, agent_id)
        return agent_id, active.id if active is not None else None
    found = agent_versions.active_interviewer(db)
    if found is None:
        return None, None
    agent, version = found
    return agent.id, version.id


def _resolve_process(
    db: DbSession,
    process_version_id: uuid.UUID | None,
    current_process_node_id: uuid.UUID | None,
) -> uuid.UUID | None:
    """Check the process references; a node alone implies its process version."""
    if process_version_id is not None and db.get(ProcessVersion, process_version_id) is None:
        raise SessionInputError("process_version_id", "the process version does not exist")
    if current_process_node_id is None:
        return process_version_id
    node = db.get(ProcessNode, current_process_node_id)
    if node is None:
        raise SessionInputError("current_process_node_id", "the process node does not exist")
    if process_version_id is not None and node.process_version_id != process_version_id:
        raise SessionInputError(
            "current_process_node_id", "the node belongs to another process version"
        )
    return node.process_version_id


def _check_duration(minutes: int | None) -> None:
    if minutes is None:
        return
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise SessionInputError("scheduled_duration_minutes", "must be a whole number of minutes")
    if minutes <= 0:
        raise SessionInputError("scheduled_duration_minutes", "must be more than zero minutes")


def create_session(
    db: DbSession,
    *,
    storyteller_id: uuid.UUID,
    intention: str,
    session_name: str | None = None,
    parent_session_id: uuid.UUID | None = None,
    session_source: str = "coordinator",
    session_purpose: str | None = None,
    session_tags: Iterable[str] | str | None = None,
    success_indicators: Iterable[str] | None = None,
    completion_indicators: Iterable[str] | None = None,
    constraints: Iterable[str] | None = None,
    procedure_notes: str | None = None,
    scheduled_at: datetime | None = None,
    scheduled_duration_minutes: int | None = None,
    process_version_id: uuid.UUID | None = None,
    current_process_node_id: uuid.UUID | None = None,
    session_template_id: uuid.UUID | None = None,
    created_by_id: uuid.UUID | None = None,
    metadata: dict[str, Any] | None = None,
    agent_id: uuid.UUID | None = None,
    agent_version_id: uuid.UUID | None = None,
) -> Session:
    """Validate and create a scheduled session, record ``session.created``, flush.

    Raises ``SessionInputError`` (a ``ValueError``) naming the offending field. When no agent
    is given the session pins the interviewer's active version (if there is one); a given
    agent without a version pins that agent's active version.
    """
    intention = (intention or "").strip()
    if not intention:
        raise SessionInputError("intention", "say what this session is for")
    if session_source not in SESSION_SOURCES:
        raise SessionInputError("session_source", f"must be one of {', '.join(SESSION_SOURCES)}")
    if db.get(Storyteller, storyteller_id) is None:
        raise SessionInputError("storyteller_id", "the storyteller does not exist")
    name = (session_name or "").strip() or None
    if name is not None and len(name) > SESSION_NAME_MAX_LENGTH:
        raise SessionInputError(
            "session_name", f"must be at most {SESSION_NAME_MAX_LENGTH} characters"
        )
    _check_duration(scheduled_duration_minutes)
    if metadata is not None and not isinstance(metadata, dict):
        raise SessionInputError("metadata", "must be a mapping")
    if session_template_id is not None and db.get(SessionTemplate, session_template_id) is None:
        raise SessionInputError("session_template_id", "the session template does not exist")

    parent = _resolve_parent(db, storyteller_id, parent_session_id)
    process_version_id = _resolve_process(db, process_version_id, current_process_node_id)
    agent_id, agent_version_id = _resolve_agent(db, agent_id, agent_version_id)

    session = Session(
        storyteller_id=storyteller_id,
        intention=intention,
        session_name=name,
        status="scheduled",
        session_source=session_source,
        session_purpose=(session_purpose or "").strip() or None,
        session_tags=normalise_tags(session_tags),
        success_indicators=_text_items("success_indicators", success_indicators),
        completion_indicators=_text_items("completion_indicators", completion_indicators),
        constraints=_text_items("constraints", constraints),
        procedure_notes=(procedure_notes or "").strip() or None,
        scheduled_at=scheduled_at,
        scheduled_duration_minutes=scheduled_duration_minutes,
        process_version_id=process_version_id,
        current_process_node_id=current_process_node_id,
        session_template_id=session_template_id,
        created_by_id=created_by_id,
        metadata_=dict(metadata) if metadata is not None else None,
        agent_id=agent_id,
        agent_version_id=agent_version_id,
    )
    # Through the relationship, so that parent.child_sessions shows the child at once.
    session.parent_session = parent
    db.add(session)
    db.flush()
    record_event(
        db,
        event_type="session.created",
        session_id=session.id,
        user_id=created_by_id,
        payload={
            "storyteller_id": str(storyteller_id),
            "parent_session_id": str(parent.id) if parent is not None else None,
            "session_source": session_source,
            "agent_id": str(agent_id) if agent_id is not None else None,
            "agent_version_id": str(agent_version_id) if agent_version_id is not None else None,
            "scheduled_at": scheduled_at.isoformat() if scheduled_at is not None else None,
        },
    )
    return session


def link_life_event(
    db: DbSession,
    session: Session,
    life_event_id: uuid.UUID,
    *,
    is_primary_focus: bool = False,
    coverage_level: str | None = None,
) -> SessionLifeEvent:
    """Link a life event of the same storyteller to the session, or update the existing link.

    The pair (session, life event) is unique: a second call sets ``is_primary_focus`` to the
    value given and ``coverage_level`` when one is given (None keeps the current level).
    """
    if coverage_level is not None and coverage_level not in COVERAGE_LEVELS:
        raise SessionInputError("coverage_level", f"must be one of {', '.join(COVERAGE_LEVELS)}")
    life_event = db.get(LifeEvent, life_event_id)
    if life_event is None:
        raise SessionInputError("life_event_id", "the life event does not exist")
    if life_event.storyteller_id != session.storyteller_id:
        raise SessionInputError("life_event_id", "the life event belongs to another storyteller")

    def existing() -> SessionLifeEvent | None:
        return db.scalar(
            select(SessionLifeEvent).where(
                SessionLifeEvent.session_id == session.id,
                SessionLifeEvent.life_event_id == life_event_id,
            )
        )

    link = existing()
    if link is None:
        link = SessionLifeEvent(
            session_id=session.id,
            life_event_id=life_event_id,
            is_primary_focus=bool(is_primary_focus),
            coverage_level=coverage_level,
        )
        try:
            with db.begin_nested():
                db.add(link)
        except IntegrityError:
            # Someone else linked the same pair in the meantime: update theirs instead.
            link = existing()
            if link is None:
                raise
        else:
            db.expire(session, ["life_event_links"])
            return link
    link.is_primary_focus = bool(is_primary_focus)
    if coverage_level is not None:
        link.coverage_level = coverage_level
    db.flush()
    return link
