"""Reviewing artifacts: the queue, decisions, edits with their history, the book choice,
and the storyteller's own confirmation or correction.

Who does what: reviewers, coordinators and admins (``REVIEW_ROLES``) review the artifacts
of the storytellers they may see; a storyteller confirms or corrects their own.

Decisions set ``review_status``, ``reviewed_by_id``, ``reviewed_at`` and ``review_comment``;
only "approve" sets ``is_approved``/``approved_at``, and anything but an approval takes the
artifact out of the book (``included_in_synthesis``), which only approved artifacts may be
in. ``is_provisional`` means "not yet confirmed by the storyteller" (seed 003) and only the
storyteller's confirmation or correction clears it.

A correction by the storyteller stores a revision like any edit, counts as their
confirmation, and sends the artifact back to review (``review_status`` "provisional",
approval and book choice cleared) unless it was waiting for review already, so a reviewer
always sees what the storyteller changed.

Every action records an event (``artifact.*``) and an audit entry. Repeating an action
(a double submit) changes nothing and records nothing the second time.

Functions flush, never commit: the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload, selectinload

from storyteller import audit, authz
from storyteller.events import record_event
from storyteller.form_errors import FormInputError
from storyteller.models import (
    ArtifactRevision,
    LifeEvent,
    Session,
    SessionArtifact,
    Storyteller,
    User,
    utcnow,
)
from storyteller.models.sessions import ARTIFACT_TYPES
from storyteller.text_diff import Segment, shared_words, word_diff

__all__ = [
    "ARTIFACT_TYPE_LABELS",
    "DECISIONS",
    "PAGE_SIZE",
    "QUEUE_STATUSES",
    "REVIEW_ROLES",
    "ReviewInputError",
    "approved_artifacts",
    "confirm",
    "correct",
    "decide",
    "diff_versions",
    "edit",
    "filter_choices",
    "my_artifacts",
    "parse_filters",
    "queue",
    "queue_summary",
    "set_included",
    "structured_facts",
    "versions",
]

REVIEW_ROLES = ("coordinator", "reviewer", "admin")
QUEUE_STATUSES = ("provisional", "changes_requested")
PAGE_SIZE = 50
NAME_MAX_LENGTH = 200
CONTENT_MAX_LENGTH = 20000
COMMENT_MAX_LENGTH = 2000

# decision (form value) -> (review_status, event type)
DECISIONS = {
    "approve": ("approved", "artifact.approved"),
    "request_changes": ("changes_requested", "artifact.changes_requested"),
    "reject": ("rejected", "artifact.rejected"),
}
ARTIFACT_TYPE_LABELS = {
    "scene_capture": "Scene",
    "timeline_entry": "Timeline entry",
    "relationship_mapping": "Person",
    "draft_paragraph": "Draft paragraph",
    "photo_annotation": "Photo note",
}
assert set(ARTIFACT_TYPE_LABELS) == set(ARTIFACT_TYPES)

# structured_data keys in plain words; anything else is shown with its key tidied up.
_FACT_LABELS = {
    "who": "People",
    "people": "People mentioned",
    "person": "Person",
    "where": "Places",
    "places": "Places",
    "when": "Years",
    "years": "Years",
    "themes": "Themes",
    "caption": "Caption",
}
_HIDDEN_FACTS = {"document_id"}


class ReviewInputError(FormInputError):
    """A review action that cannot be done; ``errors`` maps form fields to messages."""


# ----------------------------------------------------------------------------- reading


def structured_facts(data: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """An artifact's structured data as (label, plain words) pairs; empty values left out."""
    facts = []
    for key, value in (data or {}).items():
        if key in _HIDDEN_FACTS or value in (None, "", [], {}):
            continue
        label = _FACT_LABELS.get(key, key.replace("_", " ").capitalize())
        if isinstance(value, list | tuple):
            words = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            words = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in value.items())
        elif isinstance(value, bool):
            words = "yes" if value else "no"
        else:
            words = str(value)
        facts.append((label, words))
    return facts


def source_highlights(artifact: SessionArtifact) -> tuple[list[Segment], list[Segment]]:
    """(artifact text, source answer) with the words they share marked "shared"."""
    answer = artifact.source_interaction.storyteller_response if artifact.source_interaction else ""
    return (
        shared_words(artifact.content, answer),
        shared_words(answer, artifact.content),
    )


# ----------------------------------------------------------------------------- the queue


@dataclass
class QueueFilters:
    storyteller_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    life_event_id: uuid.UUID | None = None
    artifact_type: str | None = None
    page: int = 1

    def as_args(self, **override: Any) -> dict[str, str]:
        """The query parameters of these filters (for links to other pages)."""
        values = {
            "storyteller": self.storyteller_id,
            "session": self.session_id,
            "life_event": self.life_event_id,
            "type": self.artifact_type,
            "page": self.page if self.page > 1 else None,
        }
        values.update(override)
        return {k: str(v) for k, v in values.items() if v}


@dataclass(frozen=True)
class QueuePage:
    items: list[SessionArtifact]
    total: int
    page: int
    page_size: int

    @property
    def has_more(self) -> bool:
        return self.page * self.page_size < self.total

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _uuid_arg(args: Mapping[str, str], name: str, message: str, errors: dict) -> uuid.UUID | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        errors[name] = message
        return None


def parse_filters(db: DbSession, user: User, args: Mapping[str, str]) -> QueueFilters:
    """The queue's filters from query parameters; raises ReviewInputError for a value that
    is not one of the choices (an unknown id and one the user may not see read the same)."""
    errors: dict[str, str] = {}
    f = QueueFilters(
        storyteller_id=_uuid_arg(
            args, "storyteller", "Please choose a storyteller from the list.", errors
        ),
        session_id=_uuid_arg(args, "session", "Please choose a session from the list.", errors),
        life_event_id=_uuid_arg(
            args, "life_event", "Please choose a life event from the list.", errors
        ),
        artifact_type=(args.get("type") or "").strip() or None,
    )
    if f.storyteller_id and not authz.can_see_storyteller(db, user, f.storyteller_id):
        errors["storyteller"] = "Please choose a storyteller from the list."
    if f.session_id:
        session = db.get(Session, f.session_id)
        if session is None or not authz.can_see_storyteller(db, user, session.storyteller_id):
            errors["session"] = "Please choose a session from the list."
    if f.life_event_id:
        event = db.get(LifeEvent, f.life_event_id)
        if event is None or not authz.can_see_storyteller(db, user, event.storyteller_id):
            errors["life_event"] = "Please choose a life event from the list."
    if f.artifact_type and f.artifact_type not in ARTIFACT_TYPES:
        errors["type"] = "Please choose a kind of story from the list."
    try:
        f.page = int(args.get("page") or 1)
    except ValueError:
        errors["page"] = "The page number must be a whole number."
    if f.page < 1:
        errors["page"] = "The page number must be 1 or more."
    if errors:
        raise ReviewInputError(errors)
    return f


def _queue_select(user: User, f: QueueFilters):
    query = (
        select(SessionArtifact)
        .join(Session, SessionArtifact.session_id == Session.id)
        .where(
            SessionArtifact.review_status.in_(QUEUE_STATUSES),
            Session.storyteller_id.in_(authz.storyteller_ids_visible_to(user)),
        )
    )
    if f.storyteller_id:
        query = query.where(Session.storyteller_id == f.storyteller_id)
    if f.session_id:
        query = query.where(SessionArtifact.session_id == f.session_id)
    if f.life_event_id:
        query = query.where(SessionArtifact.life_event_id == f.life_event_id)
    if f.artifact_type:
        query = query.where(SessionArtifact.artifact_type == f.artifact_type)
    return query


def queue(
    db: DbSession, user: User, filters: QueueFilters | None = None, page_size: int = PAGE_SIZE
) -> QueuePage:
    """Artifacts waiting for review (provisional or changes requested), oldest first."""
    f = filters or QueueFilters()
    base = _queue_select(user, f)
    total = db.scalar(select(func.count()).select_from(base.subquery())) or 0
    items = db.scalars(
        base.options(
            joinedload(SessionArtifact.session).joinedload(Session.storyteller),
            joinedload(SessionArtifact.life_event),
        )
        .order_by(SessionArtifact.created_at, SessionArtifact.id)
        .limit(page_size)
        .offset((f.page - 1) * page_size)
    ).all()
    return QueuePage(list(items), total, f.page, page_size)


@dataclass(frozen=True)
class SummaryRow:
    storyteller: Storyteller
    waiting: int
    oldest_at: datetime | None


@dataclass(frozen=True)
class QueueSummary:
    total: int
    rows: list[SummaryRow]
    oldest: list[SessionArtifact] = field(default_factory=list)


def queue_summary(db: DbSession, user: User, oldest: int = 5) -> QueueSummary:
    """How much waits for this user's review, per storyteller, and the oldest few."""
    counts = db.execute(
        select(
            Session.storyteller_id,
            func.count(SessionArtifact.id),
            func.min(SessionArtifact.created_at),
        )
        .join(Session, SessionArtifact.session_id == Session.id)
        .where(
            SessionArtifact.review_status.in_(QUEUE_STATUSES),
            Session.storyteller_id.in_(authz.storyteller_ids_visible_to(user)),
        )
        .group_by(Session.storyteller_id)
    ).all()
    people = (
        {
            s.id: s
            for s in db.scalars(
                select(Storyteller).where(Storyteller.id.in_([c[0] for c in counts]))
            )
        }
        if counts
        else {}
    )
    rows = sorted(
        (SummaryRow(people[sid], n, first) for sid, n, first in counts if sid in people),
        key=lambda r: r.storyteller.display_name.casefold(),
    )
    return QueueSummary(
        total=sum(r.waiting for r in rows),
        rows=rows,
        oldest=queue(db, user, page_size=oldest).items if rows else [],
    )


def filter_choices(db: DbSession, user: User, f: QueueFilters | None = None) -> dict[str, Any]:
    """What the queue's filter form offers: the user's storytellers, their sessions and life
    events (only the chosen storyteller's when one is chosen), and the kinds of artifact."""
    visible = authz.storyteller_ids_visible_to(user)
    storytellers = db.scalars(authz.visible_storytellers(user)).all()
    sessions = select(Session).where(Session.storyteller_id.in_(visible))
    events = select(LifeEvent).where(LifeEvent.storyteller_id.in_(visible))
    if f and f.storyteller_id:
        sessions = sessions.where(Session.storyteller_id == f.storyteller_id)
        events = events.where(LifeEvent.storyteller_id == f.storyteller_id)
    return {
        "storytellers": list(storytellers),
        "sessions": list(
            db.scalars(
                sessions.options(joinedload(Session.storyteller))
                .order_by(Session.created_at.desc())
                .limit(200)
            )
        ),
        "life_events": list(
            db.scalars(
                events.options(joinedload(LifeEvent.storyteller))
                .order_by(
                    LifeEvent.start_year.is_(None), LifeEvent.start_year, LifeEvent.event_name
                )
                .limit(200)
            )
        ),
        "types": ARTIFACT_TYPE_LABELS,
    }


# ----------------------------------------------------------------------------- helpers


def _locked(db: DbSession, artifact: SessionArtifact) -> SessionArtifact:
    """The artifact re-read under a row lock (PostgreSQL), so two submits run one by one."""
    db.flush()
    db.refresh(artifact, with_for_update=True)
    return artifact


def _storyteller_id(db: DbSession, artifact: SessionArtifact) -> uuid.UUID:
    return db.scalar(select(Session.storyteller_id).where(Session.id == artifact.session_id))


def _log(
    db: DbSession,
    artifact: SessionArtifact,
    user: User,
    *,
    event_type: str,
    action: str,
    details: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> None:
    payload = {"artifact_id": str(artifact.id), **(details or {})}
    record_event(
        db,
        event_type=event_type,
        session_id=artifact.session_id,
        user_id=user.id,
        payload=payload,
    )
    audit.record(
        db,
        actor_id=user.id,
        action=action,
        object_type="session_artifact",
        object_id=artifact.id,
        storyteller_id=_storyteller_id(db, artifact),
        ip_address=ip_address,
        details={"event": event_type, **(details or {})},
    )


def _clean_comment(comment: str | None, *, required: bool) -> str | None:
    text = (comment or "").strip()
    if required and not text:
        raise ReviewInputError(
            "comment", "Please say what should change or why, so the next person knows."
        )
    if len(text) > COMMENT_MAX_LENGTH:
        raise ReviewInputError(
            "comment", f"Please keep the comment to {COMMENT_MAX_LENGTH} characters."
        )
    return text or None


def _out_of_review(artifact: SessionArtifact) -> None:
    artifact.is_approved = False
    artifact.approved_at = None
    artifact.included_in_synthesis = False


# ----------------------------------------------------------------------------- decisions


def decide(
    db: DbSession,
    artifact: SessionArtifact,
    decision: str,
    comment: str | None,
    *,
    user: User,
    ip_address: str | None = None,
) -> bool:
    """Approve, request changes or reject; returns False when nothing changed (a repeat).

    A comment is optional for an approval and required otherwise.
    """
    if decision not in DECISIONS:
        raise ReviewInputError("decision", "Please choose approve, ask for changes or reject.")
    status, event_type = DECISIONS[decision]
    text = _clean_comment(comment, required=decision != "approve")
    artifact = _locked(db, artifact)
    if artifact.review_status == status and artifact.review_comment == text:
        return False
    now = utcnow()
    previous = artifact.review_status
    artifact.review_status = status
    artifact.reviewed_by_id = user.id
    artifact.reviewed_at = now
    artifact.review_comment = text
    if status == "approved":
        artifact.is_approved = True
        artifact.approved_at = artifact.approved_at or now
    else:
        _out_of_review(artifact)
    db.flush()
    _log(
        db,
        artifact,
        user,
        event_type=event_type,
        action="review",
        details={"from": previous, "to": status, "comment": bool(text)},
        ip_address=ip_address,
    )
    return True


def set_included(
    db: DbSession,
    artifact: SessionArtifact,
    included: bool,
    *,
    user: User,
    ip_address: str | None = None,
) -> bool:
    """Choose whether an approved artifact goes into the book; False when unchanged."""
    artifact = _locked(db, artifact)
    if included and artifact.review_status != "approved":
        raise ReviewInputError(
            "included", "Only an approved story can go into the book. Please approve it first."
        )
    if artifact.included_in_synthesis == included:
        return False
    artifact.included_in_synthesis = included
    db.flush()
    _log(
        db,
        artifact,
        user,
        event_type="artifact.included" if included else "artifact.excluded",
        action="update",
        details={"included_in_synthesis": included},
        ip_address=ip_address,
    )
    return True


# ----------------------------------------------------------------------------- edits


def _next_revision_number(db: DbSession, artifact: SessionArtifact) -> int:
    highest = db.scalar(
        select(func.max(ArtifactRevision.revision_number)).where(
            ArtifactRevision.artifact_id == artifact.id
        )
    )
    return int(highest or 0) + 1


def current_version_number(db: DbSession, artifact: SessionArtifact) -> int:
    """Version 1 is what the interview made; each edit makes the next one."""
    return _next_revision_number(db, artifact)


def _checked_text(name: str | None, content: str | None) -> tuple[str | None, str]:
    errors = {}
    name = (name or "").strip() or None
    content = (content or "").replace("\r\n", "\n").strip()
    if name and len(name) > NAME_MAX_LENGTH:
        errors["artifact_name"] = f"Please keep the title to {NAME_MAX_LENGTH} characters."
    if not content:
        errors["content"] = "Please write the text; it cannot be empty."
    elif len(content) > CONTENT_MAX_LENGTH:
        errors["content"] = f"Please keep the text to {CONTENT_MAX_LENGTH} characters."
    if errors:
        raise ReviewInputError(errors)
    return name, content


def _apply_edit(
    db: DbSession,
    artifact: SessionArtifact,
    name: str | None,
    content: str,
    *,
    user: User,
    reason: str | None,
    base_version: int | None,
) -> ArtifactRevision | None:
    artifact = _locked(db, artifact)
    if artifact.artifact_name == name and (artifact.content or "") == content:
        return None  # nothing changed (or the same edit sent twice)
    number = _next_revision_number(db, artifact)
    if base_version is not None and base_version != number:
        raise ReviewInputError(
            "content",
            "Someone else changed this text while you were editing it. Please look at the "
            "latest version and make your change again.",
        )
    revision = ArtifactRevision(
        artifact_id=artifact.id,
        revision_number=number,
        artifact_name=artifact.artifact_name,
        content=artifact.content,
        structured_data=artifact.structured_data,
        edited_by_id=user.id,
        reason=(reason or "").strip()[:COMMENT_MAX_LENGTH] or None,
    )
    db.add(revision)
    artifact.artifact_name = name
    artifact.content = content
    db.flush()
    db.expire(artifact, ["revisions"])
    return revision


def edit(
    db: DbSession,
    artifact: SessionArtifact,
    *,
    name: str | None,
    content: str | None,
    reason: str | None,
    user: User,
    base_version: int | None = None,
    ip_address: str | None = None,
) -> ArtifactRevision | None:
    """A reviewer's edit of the title and text; the replaced version is kept as a revision.

    Returns the revision, or None when nothing changed. ``base_version`` (the version the
    editor started from) refuses an edit made over someone else's newer one.
    """
    name, text = _checked_text(name, content)
    revision = _apply_edit(
        db, artifact, name, text, user=user, reason=reason, base_version=base_version
    )
    if revision is not None:
        _log(
            db,
            artifact,
            user,
            event_type="artifact.edited",
            action="update",
            details={"revision_number": revision.revision_number},
            ip_address=ip_address,
        )
    return revision


# ----------------------------------------------------------------------------- versions


@dataclass(frozen=True)
class Version:
    key: str  # "1", "2", ... or "current"
    number: int
    name: str | None
    content: str | None
    made_by: User | None  # who wrote this version (None: the interview)
    made_at: datetime | None
    replaced_by: User | None = None
    replaced_at: datetime | None = None
    reason: str | None = None  # why it was replaced

    @property
    def is_current(self) -> bool:
        return self.key == "current"


def versions(db: DbSession, artifact: SessionArtifact) -> list[Version]:
    """Every version of the artifact, oldest first; the last is the current one."""
    revisions = db.scalars(
        select(ArtifactRevision)
        .where(ArtifactRevision.artifact_id == artifact.id)
        .options(selectinload(ArtifactRevision.edited_by))
        .order_by(ArtifactRevision.revision_number)
    ).all()
    out: list[Version] = []
    made_by, made_at = None, artifact.created_at
    for r in revisions:
        out.append(
            Version(
                str(r.revision_number),
                r.revision_number,
                r.artifact_name,
                r.content,
                made_by,
                made_at,
                r.edited_by,
                r.created_at,
                r.reason,
            )
        )
        made_by, made_at = r.edited_by, r.created_at
    number = (revisions[-1].revision_number + 1) if revisions else 1
    out.append(
        Version("current", number, artifact.artifact_name, artifact.content, made_by, made_at)
    )
    return out


@dataclass(frozen=True)
class VersionDiff:
    a: Version
    b: Version
    name: list[Segment]
    content: list[Segment]

    @property
    def same(self) -> bool:
        return not any(s.is_change for s in self.name + self.content)


def _version(all_versions: list[Version], key: str | None, field_name: str) -> Version:
    key = (key or "").strip().lower()
    for v in all_versions:
        if key in (v.key, str(v.number)):
            return v
    raise ReviewInputError(field_name, "Please choose a version from the list.")


def diff_versions(
    db: DbSession, artifact: SessionArtifact, a: str | None, b: str | None
) -> tuple[list[Version], VersionDiff]:
    """The difference between any two versions ("1", "2", ... or "current").

    With neither chosen, the previous version against the current one.
    """
    all_versions = versions(db, artifact)
    if not a and not b:
        a = all_versions[-2].key if len(all_versions) > 1 else "current"
        b = "current"
    errors = {}
    chosen = []
    for key, field_name in ((a, "a"), (b, "b")):
        try:
            chosen.append(_version(all_versions, key, field_name))
        except ReviewInputError as exc:
            errors.update(exc.errors)
    if errors:
        raise ReviewInputError(errors)
    va, vb = chosen
    return all_versions, VersionDiff(
        va, vb, word_diff(va.name, vb.name), word_diff(va.content, vb.content)
    )


# ----------------------------------------------------------------------------- lists


def approved_artifacts(db: DbSession, storyteller: Storyteller) -> list[SessionArtifact]:
    """A storyteller's approved artifacts, in the order they were told."""
    return list(
        db.scalars(
            select(SessionArtifact)
            .join(Session, SessionArtifact.session_id == Session.id)
            .where(
                Session.storyteller_id == storyteller.id,
                SessionArtifact.review_status == "approved",
            )
            .options(
                joinedload(SessionArtifact.session),
                joinedload(SessionArtifact.life_event),
                joinedload(SessionArtifact.reviewed_by),
            )
            .order_by(SessionArtifact.created_at, SessionArtifact.id)
        )
    )


def my_artifacts(db: DbSession, storyteller: Storyteller) -> list[SessionArtifact]:
    """Everything captured from a storyteller's sessions, newest first, for their own page."""
    return list(
        db.scalars(
            select(SessionArtifact)
            .join(Session, SessionArtifact.session_id == Session.id)
            .where(Session.storyteller_id == storyteller.id)
            .options(joinedload(SessionArtifact.session), joinedload(SessionArtifact.reviewed_by))
            .order_by(SessionArtifact.created_at.desc(), SessionArtifact.id)
        )
    )


# ----------------------------------------------------------------------------- the storyteller


def confirm(
    db: DbSession, artifact: SessionArtifact, *, user: User, ip_address: str | None = None
) -> bool:
    """The storyteller says "Yes, that's right"; False when it was confirmed already."""
    artifact = _locked(db, artifact)
    if artifact.confirmed_at is not None and not artifact.is_provisional:
        return False
    artifact.confirmed_at = utcnow()
    artifact.is_provisional = False
    db.flush()
    _log(
        db, artifact, user, event_type="artifact.confirmed", action="confirm", ip_address=ip_address
    )
    return True


def correct(
    db: DbSession,
    artifact: SessionArtifact,
    *,
    content: str | None,
    reason: str | None,
    user: User,
    ip_address: str | None = None,
) -> ArtifactRevision | None:
    """The storyteller corrects the text of their own artifact (see the module docstring).

    Returns the revision, or None when the text is unchanged (then it is only confirmed).
    """
    _name, text = _checked_text(artifact.artifact_name, content)
    revision = _apply_edit(
        db, artifact, artifact.artifact_name, text, user=user, reason=reason, base_version=None
    )
    if revision is None:
        confirm(db, artifact, user=user, ip_address=ip_address)
        return None
    previous = artifact.review_status
    artifact.confirmed_at = utcnow()
    artifact.is_provisional = False
    if previous != "provisional":
        artifact.review_status = "provisional"
        _out_of_review(artifact)
    db.flush()
    _log(
        db,
        artifact,
        user,
        event_type="artifact.corrected",
        action="update",
        details={
            "revision_number": revision.revision_number,
            "from": previous,
            "to": artifact.review_status,
        },
        ip_address=ip_address,
    )
    return revision
