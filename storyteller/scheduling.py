"""Scheduling sessions (seed 003): from a template, a process node or scratch; multi-session
plans for one life event; scheduling the suggested next session; edit, reschedule, cancel.

The session form is read into a :class:`SessionForm` (the raw text, kept for re-showing) and
checked by :func:`parse_session_form`, which collects a message per field and raises
:class:`SessionFormError` before anything is written. Every change of status, time or
length is kept as a ``session_schedule`` module state chain (one per session), so each
reschedule and cancel is a ``state_transition`` with the old and new values; the same
moments are events (``session.rescheduled`` / ``session.cancelled``).

Functions flush, never commit: the caller owns the transaction.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from storyteller import audit, authz, interview, local_time, module_states, processes, sessions
from storyteller.events import record_event
from storyteller.models import (
    Event,
    LifeEvent,
    ModuleState,
    ProcessNode,
    ProcessVersion,
    Session,
    SessionLifeEvent,
    SessionTemplate,
    StateTransition,
    Storyteller,
    User,
)
from storyteller.models.sessions import COVERAGE_LEVELS
from storyteller.sessions import SessionInputError

__all__ = [
    "CHANGEABLE_STATUSES",
    "CHANGE_ROLES",
    "COVERAGE_LABELS",
    "MAX_DURATION_MINUTES",
    "SCHEDULE_STATE",
    "HistoryEntry",
    "PlanForm",
    "SessionForm",
    "SessionFormError",
    "SchedulingError",
    "blank_form",
    "cancel_session",
    "create_from_form",
    "form_from_node",
    "form_from_session",
    "form_from_template",
    "initialize_session_from_process_node",
    "parse_constraints",
    "parse_plan_form",
    "parse_session_form",
    "plan_sessions_for_event",
    "relevant_life_events",
    "schedule_history",
    "schedule_next",
    "update_from_form",
]

MAX_DURATION_MINUTES = 240
MAX_LINES = 20
LINE_MAX_LENGTH = 500
TEXT_MAX_LENGTH = 5000
SCHEDULE_STATE = "session_schedule"
#: A session can be edited, rescheduled or cancelled only before it has ended.
CHANGEABLE_STATUSES = ("scheduled", "paused")
COVERAGE_LABELS = {
    "introduction": "Introduction",
    "exploration": "Exploration",
    "deep_dive": "Deep dive",
    "completion": "Completion (looking back)",
}
STATUS_WORDS = {
    "scheduled": "Scheduled",
    "in_progress": "Started",
    "paused": "Paused",
    "completed": "Completed",
    "cancelled": "Cancelled",
}


class SchedulingError(SessionInputError):
    """A scheduling request that cannot be done; ``field`` and ``message`` say why."""


class SessionFormError(SchedulingError):
    """The session form has mistakes: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        first = next(iter(errors))
        super().__init__(first, errors[first])
        self.errors = dict(errors)


# ----------------------------------------------------------------------------- lookups


#: The roles that plan and change sessions (of the storytellers granted to them).
CHANGE_ROLES = ("coordinator", "admin")


def can_change(db: DbSession, user: User, storyteller_id: uuid.UUID) -> bool:
    """Coordinators granted to the storyteller, and admins, plan and change sessions."""
    return user.role in CHANGE_ROLES and authz.can_see_storyteller(
        db, user, storyteller_id
    )


def _life_events_of(db: DbSession, storyteller_id: uuid.UUID) -> list[LifeEvent]:
    return list(
        db.scalars(
            select(LifeEvent)
            .where(LifeEvent.storyteller_id == storyteller_id)
            .order_by(LifeEvent.start_year.is_(None), LifeEvent.start_year, LifeEvent.event_name)
        )
    )


# ----------------------------------------------------------------------------- the form


@dataclass
class SessionForm:
    """What the session form holds, as text: shown again exactly as typed after a mistake."""

    session_name: str = ""
    intention: str = ""
    success_indicators: str = ""
    completion_indicators: str = ""
    constraints: str = ""
    procedure_notes: str = ""
    scheduled_at: str = ""
    scheduled_duration_minutes: str = ""
    session_tags: str = ""
    session_purpose: str = ""
    template_id: str = ""
    process_node_id: str = ""
    parent_session_id: str = ""
    life_event_ids: list[str] = field(default_factory=list)
    primary_life_event_id: str = ""
    coverage: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_request(cls, form: Any) -> SessionForm:
        """From a request's form (a MultiDict): every field, checkboxes and coverage choices."""
        ids = [value for value in form.getlist("life_event_ids") if value]
        coverage = {
            key[len("coverage_") :]: value
            for key, value in form.items()
            if key.startswith("coverage_") and value
        }
        return cls(
            **{name: form.get(name, "") for name in _TEXT_FIELDS},
            life_event_ids=ids,
            primary_life_event_id=form.get("primary_life_event_id", ""),
            coverage=coverage,
        )

    def is_linked(self, event_id: uuid.UUID) -> bool:
        return str(event_id) in self.life_event_ids

    def coverage_for(self, event_id: uuid.UUID) -> str:
        return self.coverage.get(str(event_id), "")


_TEXT_FIELDS = (
    "session_name",
    "intention",
    "success_indicators",
    "completion_indicators",
    "constraints",
    "procedure_notes",
    "scheduled_at",
    "scheduled_duration_minutes",
    "session_tags",
    "session_purpose",
    "template_id",
    "process_node_id",
    "parent_session_id",
)


def _lines(items: Iterable[str] | None) -> str:
    return "\n".join(items or [])


def blank_form(*, life_event: LifeEvent | None = None) -> SessionForm:
    """A form from scratch; a given life event is linked as the primary focus."""
    form = SessionForm(scheduled_duration_minutes="30")
    if life_event is not None:
        _preselect(form, life_event, "exploration")
    return form


def _preselect(form: SessionForm, event: LifeEvent, level: str) -> None:
    key = str(event.id)
    if key not in form.life_event_ids:
        form.life_event_ids.append(key)
    form.primary_life_event_id = key
    form.coverage.setdefault(key, level)


def usable_template(db: DbSession, template_id: uuid.UUID | str | None) -> SessionTemplate:
    """The template to copy from; unknown and retired ones are refused."""
    key = _as_uuid(template_id) if template_id else None
    template = db.get(SessionTemplate, key) if key is not None else None
    if template is None:
        raise SchedulingError("template_id", "That template does not exist.")
    if not template.is_active:
        raise SchedulingError(
            "template_id", f"The template “{template.template_name}” is retired; choose another."
        )
    return template


def form_from_template(
    db: DbSession,
    template_id: uuid.UUID | str,
    storyteller: Storyteller,
    *,
    life_event: LifeEvent | None = None,
) -> SessionForm:
    """The template's defaults copied into the form (every field stays editable).

    Life events whose type the template is suggested for are ticked.
    """
    template = usable_template(db, template_id)
    form = SessionForm(
        session_name=template.template_name,
        intention=template.default_intention or "",
        success_indicators=_lines(template.default_success_indicators),
        completion_indicators=_lines(template.default_completion_indicators),
        constraints=_lines(template.default_constraints),
        procedure_notes=template.default_procedure_notes or "",
        scheduled_duration_minutes=str(template.default_duration_minutes or 30),
        template_id=str(template.id),
    )
    suggested = {t.casefold() for t in template.suggested_for_event_types or []}
    for event in _life_events_of(db, storyteller.id):
        if (event.event_type or "").casefold() in suggested:
            form.life_event_ids.append(str(event.id))
            form.coverage[str(event.id)] = "exploration"
    if life_event is not None:
        _preselect(form, life_event, "exploration")
    return form


def parse_constraints(text: str | None) -> list[str]:
    """A node's agent_constraints: one per line; list bullets and numbering are dropped."""
    found = []
    for line in (text or "").splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip()
        if line:
            found.append(line)
    return found


_PERIOD_INDICATORS: dict[str, tuple[list[str], list[str]]] = {
    "general": (
        [
            "Where and when the storyteller was born is noted",
            "Key family members identified",
            "The periods of life they most want to tell are named",
        ],
        ["Storyteller says they're ready to move on to the next part"],
    ),
    "later_life": (
        [
            "Identified personal growth: what life taught them",
            "Connected to the broader story of their life",
        ],
        ["Storyteller says they've covered what they want remembered"],
    ),
}
_DEFAULT_INDICATORS = (
    [
        "At least 3 scenes captured with who/where/when details",
        "Key people identified with descriptions",
    ],
    [
        "Storyteller says they've covered the main memories",
        "We have enough material for a draft section",
    ],
)


def indicators_for_node(node: ProcessNode) -> tuple[list[str], list[str]]:
    """Success and completion indicators for a node (seed 003 generate_indicators_from_node)."""
    success, completion = _PERIOD_INDICATORS.get(node.life_period or "", _DEFAULT_INDICATORS)
    return list(success), list(completion)


def relevant_life_events(
    db: DbSession, storyteller_id: uuid.UUID, node: ProcessNode
) -> list[LifeEvent]:
    """The storyteller's life events that fit the node: same life period or a suggested type."""
    types = {t.casefold() for t in node.suggested_event_types or []}
    period = (node.life_period or "").casefold()
    found = []
    for event in _life_events_of(db, storyteller_id):
        same_period = bool(period) and period != "general" and (
            (event.life_period or "").casefold() == period
        )
        if same_period or (event.event_type or "").casefold() in types:
            found.append(event)
    return found


def form_from_node(
    db: DbSession,
    node_id: uuid.UUID | str,
    storyteller: Storyteller,
    *,
    life_event: LifeEvent | None = None,
) -> SessionForm:
    """seed 003 initialize_session_from_process_node, as a form to check and save."""
    key = _as_uuid(node_id) if node_id else None
    node = db.get(ProcessNode, key) if key is not None else None
    if node is None:
        raise SchedulingError("process_node_id", "That step of the process does not exist.")
    success, completion = indicators_for_node(node)
    form = SessionForm(
        session_name=f"{node.node_name} session",
        intention=node.agent_objective,
        success_indicators=_lines(success),
        completion_indicators=_lines(completion),
        constraints=_lines(parse_constraints(node.agent_constraints)),
        procedure_notes=node.user_facing_text or "",
        scheduled_duration_minutes="30",
        process_node_id=str(node.id),
    )
    relevant = relevant_life_events(db, storyteller.id, node)
    for event in relevant:
        form.life_event_ids.append(str(event.id))
        form.coverage[str(event.id)] = "exploration"
    if relevant:
        form.primary_life_event_id = str(relevant[0].id)
    if life_event is not None:
        _preselect(form, life_event, "exploration")
    return form


def form_from_session(session: Session, zone_name: str | None) -> SessionForm:
    """The form for editing an existing session."""
    links = sorted(session.life_event_links, key=lambda link: str(link.life_event_id))
    return SessionForm(
        session_name=session.session_name or "",
        intention=session.intention,
        success_indicators=_lines(session.success_indicators),
        completion_indicators=_lines(session.completion_indicators),
        constraints=_lines(session.constraints),
        procedure_notes=session.procedure_notes or "",
        scheduled_at=local_time.to_input_value(session.scheduled_at, zone_name),
        scheduled_duration_minutes=str(session.scheduled_duration_minutes or ""),
        session_tags=", ".join(session.session_tags or []),
        session_purpose=session.session_purpose or "",
        template_id=str(session.session_template_id or ""),
        process_node_id=str(session.current_process_node_id or ""),
        parent_session_id=str(session.parent_session_id or ""),
        life_event_ids=[str(link.life_event_id) for link in links],
        primary_life_event_id=next(
            (str(link.life_event_id) for link in links if link.is_primary_focus), ""
        ),
        coverage={str(link.life_event_id): link.coverage_level or "" for link in links},
    )


# ----------------------------------------------------------------------------- checking


@dataclass
class ParsedSession:
    values: dict[str, Any]
    links: list[tuple[uuid.UUID, bool, str | None]]  # (life event, primary, coverage level)


def _as_uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except (ValueError, AttributeError):
        return None


def _list_field(errors: dict[str, str], name: str, text: str, label: str) -> list[str]:
    items = [" ".join(line.split()) for line in (text or "").splitlines()]
    items = [item for item in items if item]
    if len(items) > MAX_LINES:
        errors[name] = f"Please give at most {MAX_LINES} {label}, one per line."
    elif any(len(item) > LINE_MAX_LENGTH for item in items):
        errors[name] = f"Each line must be at most {LINE_MAX_LENGTH} characters."
    return items


def _duration(errors: dict[str, str], raw: str) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        minutes = int(raw)
    except ValueError:
        errors["scheduled_duration_minutes"] = (
            "Please give the length as a whole number of minutes."
        )
        return None
    if minutes <= 0:
        errors["scheduled_duration_minutes"] = "The length must be more than 0 minutes."
    elif minutes > MAX_DURATION_MINUTES:
        errors["scheduled_duration_minutes"] = (
            f"Please keep a session to {MAX_DURATION_MINUTES} minutes (4 hours) or less."
        )
    return minutes


def _process_refs(
    db: DbSession,
    errors: dict[str, str],
    form: SessionForm,
    values: dict[str, Any],
    keep_template_id: uuid.UUID | None,
) -> None:
    if form.template_id.strip():
        try:
            if keep_template_id is not None and _as_uuid(form.template_id) == keep_template_id:
                # Editing a session made from a template that has since been retired.
                template = db.get(SessionTemplate, keep_template_id)
                if template is None:
                    raise SchedulingError("template_id", "That template does not exist.")
            else:
                template = usable_template(db, form.template_id)
        except SchedulingError as exc:
            errors[exc.field] = exc.message
        else:
            values["session_template_id"] = template.id
            values["process_version_id"] = template.process_version_id
            values["session_source"] = "template"
    if form.process_node_id.strip():
        node = db.get(ProcessNode, _as_uuid(form.process_node_id) or uuid.uuid4())
        if node is None:
            errors["process_node_id"] = "That step of the process does not exist."
        else:
            values["current_process_node_id"] = node.id
            values["process_version_id"] = node.process_version_id
            if values.get("session_template_id") is None:
                values["session_source"] = "process_node"


def _parent(
    db: DbSession, errors: dict[str, str], form: SessionForm, storyteller: Storyteller
) -> uuid.UUID | None:
    if not form.parent_session_id.strip():
        return None
    parent = db.get(Session, _as_uuid(form.parent_session_id) or uuid.uuid4())
    if parent is None or parent.storyteller_id != storyteller.id:
        errors["parent_session_id"] = "The session this follows does not exist."
        return None
    return parent.id


def _links(
    db: DbSession, errors: dict[str, str], form: SessionForm, storyteller: Storyteller
) -> list[tuple[uuid.UUID, bool, str | None]]:
    own = {event.id for event in _life_events_of(db, storyteller.id)}
    links: list[tuple[uuid.UUID, bool, str | None]] = []
    chosen: list[uuid.UUID] = []
    for raw in dict.fromkeys(form.life_event_ids):
        event_id = _as_uuid(raw)
        if event_id is None or event_id not in own:
            errors["life_event_ids"] = "One of the chosen life events does not exist."
            return []
        chosen.append(event_id)
    primary = _as_uuid(form.primary_life_event_id) if form.primary_life_event_id else None
    if form.primary_life_event_id and primary not in chosen:
        errors["primary_life_event_id"] = "The main focus must be one of the ticked life events."
    for event_id in chosen:
        level = form.coverage.get(str(event_id)) or None
        if level is not None and level not in COVERAGE_LEVELS:
            errors["life_event_ids"] = "Please choose how deeply each life event is covered."
            level = None
        links.append((event_id, event_id == primary, level))
    return links


def parse_session_form(
    db: DbSession,
    storyteller: Storyteller,
    form: SessionForm,
    *,
    keep_template_id: uuid.UUID | None = None,
) -> ParsedSession:
    """Check every field; raise SessionFormError with a message per wrong field."""
    errors: dict[str, str] = {}
    intention = " ".join((form.intention or "").split())
    if not intention:
        errors["intention"] = "Please say what this session is for."
    elif len(form.intention) > TEXT_MAX_LENGTH:
        errors["intention"] = f"Please keep this to {TEXT_MAX_LENGTH} characters."
    name = " ".join((form.session_name or "").split())
    if len(name) > sessions.SESSION_NAME_MAX_LENGTH:
        errors["session_name"] = (
            f"Please keep the name to {sessions.SESSION_NAME_MAX_LENGTH} characters."
        )
    if len(form.procedure_notes or "") > TEXT_MAX_LENGTH:
        errors["procedure_notes"] = f"Please keep this to {TEXT_MAX_LENGTH} characters."
    values: dict[str, Any] = {
        "intention": intention,
        "session_name": name or None,
        "success_indicators": _list_field(
            errors, "success_indicators", form.success_indicators, "signs of success"
        ),
        "completion_indicators": _list_field(
            errors, "completion_indicators", form.completion_indicators, "signs of completion"
        ),
        "constraints": _list_field(errors, "constraints", form.constraints, "things to keep to"),
        "procedure_notes": (form.procedure_notes or "").strip() or None,
        "scheduled_duration_minutes": _duration(errors, form.scheduled_duration_minutes),
        "session_purpose": " ".join((form.session_purpose or "").split()) or None,
        "session_source": "coordinator",
        "session_template_id": None,
        "process_version_id": None,
        "current_process_node_id": None,
    }
    try:
        values["scheduled_at"] = local_time.parse_local_input(
            form.scheduled_at, storyteller.time_zone
        )
    except local_time.TimeInputError as exc:
        errors["scheduled_at"] = str(exc)
    try:
        values["session_tags"] = sessions.normalise_tags(form.session_tags) or None
    except SessionInputError as exc:
        errors["session_tags"] = exc.message[:1].upper() + exc.message[1:] + "."
    _process_refs(db, errors, form, values, keep_template_id)
    values["parent_session_id"] = _parent(db, errors, form, storyteller)
    links = _links(db, errors, form, storyteller)
    if errors:
        raise SessionFormError(errors)
    return ParsedSession(values, links)


# ----------------------------------------------------------------------------- schedule state


def _state_of(session: Session, user: User | None, reason: str | None = None) -> dict[str, Any]:
    return {
        "status": session.status,
        "scheduled_at": session.scheduled_at.isoformat() if session.scheduled_at else None,
        "scheduled_duration_minutes": session.scheduled_duration_minutes,
        "reason": reason,
        "changed_by_id": str(user.id) if user else None,
        "changed_by": user.name if user else None,
    }


def _schedule_key(session: Session) -> str:
    return f"session_schedule:{session.id}"


def _current_schedule(db: DbSession, session: Session) -> ModuleState | None:
    return module_states.current_state(
        db, module_id=_schedule_key(session), state_type=SCHEDULE_STATE, session_id=session.id
    )


def _save_schedule(
    db: DbSession,
    session: Session,
    user: User | None,
    *,
    trigger: str,
    reason: str | None = None,
) -> ModuleState:
    return module_states.upsert_module_state(
        db,
        module_id=_schedule_key(session),
        state=_state_of(session, user, reason),
        state_type=SCHEDULE_STATE,
        session_id=session.id,
        trigger_type="user_action" if user is not None else "system",
        trigger_id=trigger,
    )


def _ensure_baseline(db: DbSession, session: Session) -> None:
    """A session made elsewhere (the interview, a seed) gets its first schedule state now."""
    head = _current_schedule(db, session)
    if head is None:
        _save_schedule(db, session, None, trigger="session.baseline")
        return
    state = head.state or {}
    current = _state_of(session, None)
    if any(state.get(k) != current[k] for k in ("status", "scheduled_at")):
        # The interview moved the status on since: record that before the new change.
        _save_schedule(db, session, None, trigger=f"session.{session.status}")


# ----------------------------------------------------------------------------- creating


def _apply_links(
    db: DbSession, session: Session, links: list[tuple[uuid.UUID, bool, str | None]]
) -> None:
    wanted = {event_id for event_id, _primary, _level in links}
    for link in list(session.life_event_links):
        if link.life_event_id not in wanted:
            session.life_event_links.remove(link)
    db.flush()
    for event_id, primary, level in links:
        sessions.link_life_event(
            db, session, event_id, is_primary_focus=primary, coverage_level=level
        )
    for link in session.life_event_links:
        if link.life_event_id in wanted:
            level = next(lvl for eid, _p, lvl in links if eid == link.life_event_id)
            link.coverage_level = level
    db.flush()


def _create(
    db: DbSession,
    storyteller: Storyteller,
    values: dict[str, Any],
    links: list[tuple[uuid.UUID, bool, str | None]],
    user: User | None,
) -> Session:
    session = sessions.create_session(
        db,
        storyteller_id=storyteller.id,
        created_by_id=user.id if user else None,
        **values,
    )
    _apply_links(db, session, links)
    _save_schedule(db, session, user, trigger="session.created")
    audit.record(
        db,
        actor_id=user.id if user else None,
        action="create",
        object_type="session",
        object_id=session.id,
        storyteller_id=storyteller.id,
    )
    return session


def create_from_form(
    db: DbSession, storyteller: Storyteller, form: SessionForm, *, user: User | None
) -> Session:
    """Check the form and create the session with its life events, in one go."""
    parsed = parse_session_form(db, storyteller, form)
    return _create(db, storyteller, parsed.values, parsed.links, user)


def initialize_session_from_process_node(
    db: DbSession,
    storyteller: Storyteller,
    node: ProcessNode,
    *,
    user: User | None = None,
    scheduled_at: datetime | None = None,
) -> Session:
    """seed 003: a session for a process node, its relevant life events linked."""
    form = form_from_node(db, node.id, storyteller)
    form.scheduled_at = local_time.to_input_value(scheduled_at, storyteller.time_zone)
    return create_from_form(db, storyteller, form, user=user)


# ----------------------------------------------------------------------------- editing


def _check_changeable(session: Session, action: str) -> None:
    if session.status == "completed":
        raise SchedulingError("status", f"This session is completed; it cannot be {action}.")
    if session.status == "cancelled":
        raise SchedulingError("status", f"This session was cancelled; it cannot be {action}.")
    if session.status not in CHANGEABLE_STATUSES:
        raise SchedulingError(
            "status", f"This session is going on right now; it cannot be {action}."
        )


def update_from_form(
    db: DbSession, session: Session, form: SessionForm, *, user: User | None
) -> Session:
    """Save the edited session; a change of time or length is a reschedule (with history)."""
    _check_changeable(session, "changed")
    storyteller = session.storyteller
    parsed = parse_session_form(
        db, storyteller, form, keep_template_id=session.session_template_id
    )
    if parsed.values["parent_session_id"] == session.id:
        raise SessionFormError({"parent_session_id": "A session cannot follow itself."})
    _ensure_baseline(db, session)
    before = (session.scheduled_at, session.scheduled_duration_minutes)
    values = dict(parsed.values)
    parent_id = values.pop("parent_session_id")
    for key, value in values.items():
        setattr(session, key, value)
    session.parent_session_id = parent_id
    _apply_links(db, session, parsed.links)
    after = (session.scheduled_at, session.scheduled_duration_minutes)
    if before != after:
        _save_schedule(db, session, user, trigger="session.rescheduled")
        record_event(
            db,
            event_type="session.rescheduled",
            session_id=session.id,
            user_id=user.id if user else None,
            payload={
                "from": before[0].isoformat() if before[0] else None,
                "to": after[0].isoformat() if after[0] else None,
                "from_minutes": before[1],
                "to_minutes": after[1],
            },
        )
    record_event(
        db, event_type="session.updated", session_id=session.id,
        user_id=user.id if user else None,
    )
    audit.record(
        db,
        actor_id=user.id if user else None,
        action="update",
        object_type="session",
        object_id=session.id,
        storyteller_id=session.storyteller_id,
    )
    db.flush()
    return session


REASON_MAX_LENGTH = 1000


def cancel_session(
    db: DbSession, session: Session, *, reason: str | None, user: User | None
) -> Session:
    """Cancel a session that has not ended; the reason (optional) is kept in its history.

    Cancelling a plan also cancels its sessions that have not started yet.
    """
    _check_changeable(session, "cancelled")
    reason = " ".join((reason or "").split()) or None
    if reason is not None and len(reason) > REASON_MAX_LENGTH:
        raise SchedulingError(
            "reason", f"Please keep the reason to {REASON_MAX_LENGTH} characters."
        )
    for target in [session, *_scheduled_children_of_plan(session)]:
        _ensure_baseline(db, target)
        target.status = "cancelled"
        _save_schedule(db, target, user, trigger="session.cancelled", reason=reason)
        record_event(
            db,
            event_type="session.cancelled",
            session_id=target.id,
            user_id=user.id if user else None,
            payload={"reason": reason},
        )
        audit.record(
            db,
            actor_id=user.id if user else None,
            action="cancel",
            object_type="session",
            object_id=target.id,
            storyteller_id=target.storyteller_id,
            details={"reason": reason},
        )
    db.flush()
    return session


def _scheduled_children_of_plan(session: Session) -> list[Session]:
    if (session.metadata_ or {}).get("kind") != "plan":
        return []
    return [child for child in session.child_sessions if child.status == "scheduled"]


# ----------------------------------------------------------------------------- history


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    kind: str  # created / rescheduled / cancelled / status
    text: str
    who: str | None = None
    reason: str | None = None


def _parse_iso(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def short_when(moment: datetime | None, zone_name: str | None) -> str:
    """'Tue 1 Dec 10:00' in the zone; 'no time set' when there is none."""
    local = local_time.to_local(moment, zone_name)
    if local is None:
        return "no time set"
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def _transition_text(
    previous: dict[str, Any], new: dict[str, Any], zone_name: str | None
) -> tuple[str, str]:
    if new.get("status") == "cancelled" and previous.get("status") != "cancelled":
        return "cancelled", "Cancelled"
    if "scheduled_at" in previous or "scheduled_at" in new:
        old_at = short_when(_parse_iso(previous.get("scheduled_at")), zone_name)
        new_at = short_when(_parse_iso(new.get("scheduled_at")), zone_name)
        text = f"Rescheduled from {old_at} to {new_at}"
        if "scheduled_duration_minutes" in new:
            text += f" ({new.get('scheduled_duration_minutes') or 'no'} minutes)"
        return "rescheduled", text
    if "scheduled_duration_minutes" in previous or "scheduled_duration_minutes" in new:
        return "rescheduled", (
            f"Length changed from {previous.get('scheduled_duration_minutes') or 'none'} to "
            f"{new.get('scheduled_duration_minutes') or 'none'} minutes"
        )
    if "status" in new:
        word = STATUS_WORDS.get(new["status"], new["status"])
        return "status", f"Status changed to {word.lower()}"
    return "edited", "Changed"


_SCHEDULE_KEYS = frozenset({"status", "scheduled_at", "scheduled_duration_minutes"})
_INTERVIEW_TRIGGERS = frozenset({"session.in_progress", "session.paused", "session.completed"})


def schedule_history(db: DbSession, session: Session) -> list[HistoryEntry]:
    """Created, rescheduled, cancelled and every status change, oldest first, with who did it.

    Reschedules and cancellations come from the ``session_schedule`` state transitions;
    starts, pauses and completions of the interview from the event log.
    """
    zone_name = session.storyteller.time_zone
    entries: list[HistoryEntry] = [
        HistoryEntry(
            session.created_at,
            "created",
            "Session planned",
            session.created_by.name if session.created_by else None,
        )
    ]
    rows = db.execute(
        select(StateTransition, ModuleState)
        .join(ModuleState, StateTransition.to_state_id == ModuleState.id)
        .where(
            ModuleState.session_id == session.id,
            ModuleState.state_type == SCHEDULE_STATE,
        )
        .order_by(StateTransition.created_at, ModuleState.created_at)
    ).all()
    for transition, state in rows:
        previous = transition.previous_values or {}
        new = transition.new_values or {}
        if not (_SCHEDULE_KEYS & (set(previous) | set(new))):
            continue
        if transition.trigger_id in _INTERVIEW_TRIGGERS:
            continue  # the interview's own status changes come from the event log below
        kind, text = _transition_text(previous, new, zone_name)
        entries.append(
            HistoryEntry(
                transition.created_at,
                kind,
                text,
                (state.state or {}).get("changed_by"),
                (state.state or {}).get("reason") if kind == "cancelled" else None,
            )
        )
    status_events = {
        "session.started": "Started",
        "session.resumed": "Resumed",
        "session.paused": "Paused",
        "session.completed": "Completed",
    }
    for event, user in db.execute(
        select(Event, User)
        .outerjoin(User, Event.user_id == User.id)
        .where(Event.session_id == session.id, Event.event_type.in_(list(status_events)))
        .order_by(Event.sequence)
    ).all():
        entries.append(
            HistoryEntry(
                event.created_at, "status", status_events[event.event_type],
                user.name if user else None,
            )
        )
    entries.sort(key=lambda entry: _aware(entry.at))
    return entries


def _aware(moment: datetime) -> datetime:
    return local_time.to_local(moment, "UTC") or moment


# ----------------------------------------------------------------------------- the plan


@dataclass
class PlanForm:
    first_at: str = ""
    spacing_days: str = "7"
    finish_by: str = ""

    @classmethod
    def from_request(cls, form: Mapping[str, str]) -> PlanForm:
        return cls(
            first_at=form.get("first_at", ""),
            spacing_days=form.get("spacing_days", ""),
            finish_by=form.get("finish_by", ""),
        )


@dataclass(frozen=True)
class ParsedPlan:
    first_at: datetime
    spacing_days: int
    finish_by: datetime | None


PLAN_PARTS = 3
MAX_SPACING_DAYS = 60


def _finish_by(errors: dict[str, str], raw: str, zone_name: str | None) -> datetime | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        # The end of that day in the storyteller's zone.
        return local_time.parse_local_input(f"{raw}T23:59", zone_name)
    except local_time.TimeInputError:
        errors["finish_by"] = "Please give a date, for example 2026-12-31."
        return None


def parse_plan_form(storyteller: Storyteller, form: PlanForm) -> ParsedPlan:
    errors: dict[str, str] = {}
    first_at = None
    try:
        first_at = local_time.parse_local_input(form.first_at, storyteller.time_zone)
        if first_at is None:
            errors["first_at"] = "Please choose the date and time of the first session."
    except local_time.TimeInputError as exc:
        errors["first_at"] = str(exc)
    spacing = 0
    try:
        spacing = int((form.spacing_days or "").strip())
        if not 1 <= spacing <= MAX_SPACING_DAYS:
            errors["spacing_days"] = f"Please choose between 1 and {MAX_SPACING_DAYS} days."
    except ValueError:
        errors["spacing_days"] = "Please give the number of days as a whole number."
    finish_by = _finish_by(errors, form.finish_by, storyteller.time_zone)
    if first_at is not None and finish_by is not None and not errors:
        last = first_at + timedelta(days=spacing * (PLAN_PARTS - 1))
        if finish_by < first_at:
            errors["finish_by"] = "The end date is before the first session."
        elif last > finish_by:
            errors["finish_by"] = (
                f"With {spacing} days between sessions the last one would be on "
                f"{short_when(last, storyteller.time_zone)}, after this date. "
                "Choose fewer days between sessions or a later date."
            )
    if errors:
        raise SessionFormError(errors)
    assert first_at is not None
    return ParsedPlan(first_at, spacing, finish_by)


def _about(event: LifeEvent) -> str:
    """'the war years (1942–1945, in Normandy)': the event's name with its years and place."""
    details = []
    if event.start_year and event.end_year and event.end_year != event.start_year:
        details.append(f"{event.start_year}–{event.end_year}")
    elif event.start_year:
        details.append(str(event.start_year))
    elif event.approximate_start:
        details.append(event.approximate_start)
    if event.location:
        details.append(f"in {event.location}")
    return f"{event.event_name} ({', '.join(details)})" if details else event.event_name


def _plan_parts(event: LifeEvent) -> list[dict[str, Any]]:
    about = _about(event)
    name = event.event_name
    place = f" in {event.location}" if event.location else ""
    return [
        {
            "session_name": f"{name}: introduction",
            "intention": f"Establish the timeline and key facts of {about}.",
            "success_indicators": [
                "Basic time span identified: when it began and ended",
                "Major milestones noted",
                f"The places{place or ''} and people involved are named",
            ],
            "completion_indicators": ["Storyteller says the outline is complete"],
            "constraints": ["Keep it light: the detail comes in the next session"],
            "scheduled_duration_minutes": 20,
            "coverage": "introduction",
        },
        {
            "session_name": f"{name}: deep dive",
            "intention": f"Capture rich scenes and emotional experiences from {about}.",
            "success_indicators": [
                f"At least 3 detailed scenes from {name} with who/where/when details",
                "Key people described",
                "Feelings at the time are shared",
            ],
            "completion_indicators": ["We have enough material for a draft section"],
            "constraints": [
                "Don't rush difficult moments",
                "Allow the storyteller to skip any question",
            ],
            "scheduled_duration_minutes": 45,
            "coverage": "deep_dive",
        },
        {
            "session_name": f"{name}: reflection",
            "intention": f"Explore what {about} meant and how it changed the storyteller.",
            "success_indicators": [
                f"Identified personal growth: how {name} changed them",
                "Connected to the broader story of their life",
            ],
            "completion_indicators": ["Storyteller says they've covered what it meant to them"],
            "constraints": ["Let the storyteller lead", "End warmly"],
            "scheduled_duration_minutes": 30,
            "coverage": "completion",
        },
    ]


def plan_sessions_for_event(
    db: DbSession,
    event: LifeEvent,
    *,
    first_at: datetime,
    spacing_days: int = 7,
    user: User | None = None,
) -> tuple[Session, list[Session]]:
    """seed 003 plan_sessions_for_event: a parent plan and its three sessions, spaced out."""
    storyteller = event.storyteller
    tags = [t for t in ["plan", event.event_type] if t]
    parent = _create(
        db,
        storyteller,
        {
            "session_name": f"Plan: {event.event_name}",
            "intention": f"Tell the story of {_about(event)} over three sessions: "
            "the outline, the scenes, and what it meant.",
            "session_purpose": "Plan of sessions for one life event",
            "session_tags": tags,
            "metadata": {"kind": "plan", "life_event_id": str(event.id)},
        },
        [(event.id, True, None)],
        user,
    )
    children = []
    for number, part in enumerate(_plan_parts(event)):
        part = dict(part)
        coverage = part.pop("coverage")
        child = _create(
            db,
            storyteller,
            {
                **part,
                "session_purpose": f"Part {number + 1} of 3: {COVERAGE_LABELS[coverage].lower()}",
                "session_tags": tags,
                "parent_session_id": parent.id,
                "scheduled_at": first_at + timedelta(days=spacing_days * number),
                "metadata": {"plan_part": number + 1, "life_event_id": str(event.id)},
            },
            [(event.id, True, coverage)],
            user,
        )
        children.append(child)
    record_event(
        db,
        event_type="session.plan_created",
        session_id=parent.id,
        user_id=user.id if user else None,
        payload={"life_event_id": str(event.id), "children": [str(c.id) for c in children]},
    )
    return parent, children


# ----------------------------------------------------------------------------- next session

_NEXT_LEVEL = {
    None: "exploration",
    "introduction": "exploration",
    "exploration": "deep_dive",
    "deep_dive": "completion",
    "completion": "completion",
}


def existing_follow_up(session: Session) -> Session | None:
    for child in session.child_sessions:
        if (child.metadata_ or {}).get("follow_up_of") == str(session.id):
            return child
    return None


def schedule_next(db: DbSession, session: Session, *, user: User | None) -> Session:
    """The completed session's next-session suggestion as a new scheduled follow-up.

    Like ``interview.suggest_next``: while success indicators are unmet it continues the
    same step (those indicators again); otherwise it moves to the next process step, or a
    reflection. Clicking twice gives the same follow-up, not two.
    """
    if session.status != "completed":
        raise SchedulingError("status", "Only a completed session has a next session to plan.")
    suggestion = (session.next_session_suggestion or "").strip()
    if not suggestion:
        raise SchedulingError("status", "This session has no suggestion for a next session.")
    found = existing_follow_up(session)
    if found is not None:
        return found
    ctx, _ = interview.build_context(db, session, with_memories=False)
    progress = interview.evaluate_progress(ctx)
    unmet = [c.indicator for c in progress.success if not c.met]
    node = session.current_process_node
    values: dict[str, Any] = {
        "intention": suggestion,
        "parent_session_id": session.id,
        "session_purpose": "Follow-up",
        "session_tags": session.session_tags,
        "scheduled_duration_minutes": session.scheduled_duration_minutes,
        "constraints": session.constraints,
        "metadata": {"follow_up_of": str(session.id)},
    }
    if unmet:
        values.update(
            session_name=f"Follow-up: {session.display_name}"[: sessions.SESSION_NAME_MAX_LENGTH],
            success_indicators=unmet,
            completion_indicators=session.completion_indicators,
            current_process_node_id=node.id if node else None,
            process_version_id=session.process_version_id,
            session_template_id=session.session_template_id,
        )
        links = [(lk.life_event_id, lk.is_primary_focus, _NEXT_LEVEL.get(lk.coverage_level))
                 for lk in session.life_event_links]
    else:
        following = processes.next_node(node)
        if following is not None:
            success, completion = indicators_for_node(following)
            values.update(
                session_name=f"{following.node_name} session",
                success_indicators=success,
                completion_indicators=completion,
                constraints=parse_constraints(following.agent_constraints),
                procedure_notes=following.user_facing_text,
                current_process_node_id=following.id,
                process_version_id=following.process_version_id,
                session_source="process_node",
            )
            links = [(e.id, i == 0, "exploration") for i, e in enumerate(
                relevant_life_events(db, session.storyteller_id, following))]
        else:
            success, completion = _PERIOD_INDICATORS["later_life"]
            values.update(
                session_name=f"Reflection: {session.display_name}"[
                    : sessions.SESSION_NAME_MAX_LENGTH
                ],
                success_indicators=success,
                completion_indicators=completion,
                process_version_id=session.process_version_id,
                current_process_node_id=node.id if node else None,
            )
            links = [(lk.life_event_id, lk.is_primary_focus, "completion")
                     for lk in session.life_event_links]
    return _create(db, session.storyteller, values, links, user)


# ----------------------------------------------------------------------------- choices


def choices_for_form(db: DbSession, storyteller: Storyteller) -> dict[str, Any]:
    """What the session form offers: the storyteller's life events, templates, process steps."""
    process = db.scalar(select(ProcessVersion).where(ProcessVersion.is_active))
    return {
        "life_events": _life_events_of(db, storyteller.id),
        "templates": list(
            db.scalars(
                select(SessionTemplate)
                .where(SessionTemplate.is_active)
                .order_by(SessionTemplate.template_name)
            )
        ),
        "nodes": list(process.nodes) if process is not None else [],
        "coverage_levels": COVERAGE_LABELS,
    }


def sessions_linked_to(db: DbSession, event: LifeEvent) -> list[Session]:
    return list(
        db.scalars(
            select(Session)
            .join(SessionLifeEvent, SessionLifeEvent.session_id == Session.id)
            .where(SessionLifeEvent.life_event_id == event.id)
            .order_by(Session.scheduled_at.is_(None), Session.scheduled_at)
        )
    )
