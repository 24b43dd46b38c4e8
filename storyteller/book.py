"""The book: compiling approved artifacts into chapters, editing and reviewing chapters.

Compiling
    The storyteller's artifacts that a reviewer approved (review_status "approved") AND
    chose for the book (included_in_synthesis) are grouped into chapters:

    1. by the artifact's own life event, else
    2. by the primary life event of its session, else
    3. by the life period of the session's process node, else
    4. "Other memories".

    Chapters follow the order of a life: chapters with a year (the life event's start
    year) by year; a chapter without a year (a life event without one, or a period of
    life) comes before the first dated chapter of a later period; "Other memories" last.
    Within a chapter, artifacts follow the time they speak of: the first year in their
    structured data, else the date of their session, else the order of the interview.

    Each chapter's prose comes from storyteller/agent/book_writer.py: the LLM when one is
    configured (recorded as an llm_interaction with purpose "book_chapter"), else, or when
    the LLM fails, the storyteller's own words assembled without adding any.

Recompiling
    Approved chapters are kept as they are, and the artifacts of a group that already has
    an approved chapter are not put into a second chapter (the page says how many were
    left out). Every chapter that is not approved (draft, changes requested, rejected) is
    replaced by a fresh draft, together with its edits. "Recompile everything" (which must
    be confirmed) replaces the approved chapters too.

Revisions
    Every version of a chapter is a chapter_revision with who made it and when: number 1
    is the compiled draft, each edit adds the edited version. The last revision is the
    chapter as it stands; any two can be compared. Editing a paragraph's text keeps the
    paragraph's links to its artifacts and interactions. An edit of a reviewed chapter sends
    it back to "draft": it must be approved again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import abort
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import selectinload

from storyteller import audit, authz, text_diff
from storyteller.agent import book_writer
from storyteller.agent.book_writer import ChapterDraft, Passage
from storyteller.agent.llm import LlmClient, shared_client
from storyteller.book_content import UPLOADS_FOLDER
from storyteller.events import record_event
from storyteller.form_errors import FormInputError
from storyteller.interview import InterviewSettings, tokens_used_today
from storyteller.life_events import LIFE_PERIODS, period_label, period_of
from storyteller.models import (
    BookChapter,
    ChapterRevision,
    Document,
    LifeEvent,
    LlmInteraction,
    Session,
    SessionArtifact,
    SessionLifeEvent,
    Storyteller,
    User,
    utcnow,
)

__all__ = [
    "DECISIONS",
    "MANAGING_ROLES",
    "OTHER_TITLE",
    "STATUS_LABELS",
    "BookInputError",
    "CompileResult",
    "RevisionDiff",
    "book_artifacts",
    "can_manage",
    "chapter_or_404",
    "chapters_of",
    "compile_book",
    "decide_chapter",
    "edit_chapter",
    "photo_document_or_404",
    "photo_path",
    "revision_diff",
]

MANAGING_ROLES = ("admin", "coordinator", "reviewer")
OTHER_TITLE = "Other memories"
TITLE_MAX_LENGTH = 200
COMMENT_MAX_LENGTH = 5000
PARAGRAPH_MAX_LENGTH = 20_000
DECISIONS = {
    "approved": "Approve this chapter",
    "changes_requested": "Ask for changes",
    "rejected": "Reject this chapter",
}
STATUS_LABELS = {
    "provisional": "Draft, waiting for review",
    "approved": "Approved: in the book",
    "changes_requested": "Changes asked for",
    "rejected": "Rejected: not in the book",
}
_PERIOD_RANK = {key: rank for rank, (key, _label) in enumerate(LIFE_PERIODS)}
_OTHER_RANK = len(LIFE_PERIODS) + 1
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


class BookInputError(FormInputError):
    """A chapter edit or a decision that cannot be saved."""


# ---- Permissions -----------------------------------------------------------------------


def can_manage(db: DbSession, user: User, storyteller_id: uuid.UUID) -> bool:
    """Compile, edit and decide on chapters: reviewers, coordinators and admins granted."""
    return user.role in MANAGING_ROLES and authz.can_see_storyteller(db, user, storyteller_id)


def chapter_or_404(db: DbSession, user: User, chapter_id: uuid.UUID) -> BookChapter:
    """The chapter, if this user may see its storyteller; otherwise 404 like a missing one."""
    chapter = db.get(BookChapter, chapter_id)
    if chapter is None or not authz.can_see_storyteller(db, user, chapter.storyteller_id):
        abort(404)
    return chapter


def photo_document_or_404(db: DbSession, user: User, document_id: uuid.UUID) -> Document:
    """A photo document of a storyteller this user may see; otherwise 404."""
    document = db.get(Document, document_id)
    if document is None or document.kind != "photo":
        abort(404)
    storyteller_id = document.storyteller_id
    if storyteller_id is None and document.session_id is not None:
        session = db.get(Session, document.session_id)
        storyteller_id = session.storyteller_id if session else None
    if storyteller_id is None or not authz.can_see_storyteller(db, user, storyteller_id):
        abort(404)
    return document


def photo_path(document: Document, instance_path: str | Path) -> Path | None:
    """The photo's file under the uploads folder, if it is there (never outside it)."""
    if not document.storage_key:
        return None
    root = (Path(instance_path) / UPLOADS_FOLDER).resolve()
    path = (root / document.storage_key).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


# ---- Reading ---------------------------------------------------------------------------


def chapters_of(db: DbSession, storyteller: Storyteller) -> list[BookChapter]:
    return list(
        db.scalars(
            select(BookChapter)
            .where(BookChapter.storyteller_id == storyteller.id)
            .order_by(BookChapter.sequence, BookChapter.created_at)
        )
    )


def book_artifacts(db: DbSession, storyteller: Storyteller) -> list[SessionArtifact]:
    """The artifacts that go into the book: approved and chosen for it."""
    return list(
        db.scalars(
            select(SessionArtifact)
            .join(Session, Session.id == SessionArtifact.session_id)
            .where(
                Session.storyteller_id == storyteller.id,
                SessionArtifact.review_status == "approved",
                SessionArtifact.included_in_synthesis.is_(True),
            )
            .options(
                selectinload(SessionArtifact.session).selectinload(Session.life_event_links),
                selectinload(SessionArtifact.session).selectinload(Session.current_process_node),
                selectinload(SessionArtifact.source_interaction),
                selectinload(SessionArtifact.life_event),
            )
        )
    )


# ---- Grouping and ordering -------------------------------------------------------------


@dataclass
class _Group:
    key: str
    title: str
    life_event: LifeEvent | None = None
    life_period: str | None = None
    artifacts: list[SessionArtifact] = field(default_factory=list)

    @property
    def year(self) -> int | None:
        return self.life_event.start_year if self.life_event is not None else None

    @property
    def rank(self) -> int:
        if self.key == "other":
            return _OTHER_RANK
        period = period_of(self.life_event) if self.life_event is not None else self.life_period
        return _PERIOD_RANK.get(period or "general", _PERIOD_RANK["general"])


def _primary_event_id(session: Session) -> uuid.UUID | None:
    links: list[SessionLifeEvent] = session.life_event_links
    return next((link.life_event_id for link in links if link.is_primary_focus), None)


def _group_key(
    db: DbSession, artifact: SessionArtifact, events: dict[uuid.UUID, LifeEvent]
) -> tuple[str, LifeEvent | None, str | None]:
    event_id = artifact.life_event_id or _primary_event_id(artifact.session)
    if event_id is not None:
        event = events.get(event_id) or db.get(LifeEvent, event_id)
        if event is not None:
            events[event_id] = event
            return f"event:{event_id}", event, None
    node = artifact.session.current_process_node
    if node is not None and node.life_period:
        return f"period:{node.life_period}", None, node.life_period
    return "other", None, None


def _chapter_key(chapter: BookChapter) -> str:
    if chapter.life_event_id is not None:
        return f"event:{chapter.life_event_id}"
    if chapter.life_period:
        return f"period:{chapter.life_period}"
    return "other"


def _aware(value: datetime | None) -> datetime:
    if value is None:
        return _FAR_FUTURE
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _first_year(data: dict[str, Any] | None) -> int | None:
    years: list[int] = []
    for name in ("years", "when", "year"):
        value = (data or {}).get(name)
        values = value if isinstance(value, list) else [value]
        years += [int(v) for v in values if isinstance(v, int) and not isinstance(v, bool)]
        years += [int(v) for v in values if isinstance(v, str) and v.isdigit() and len(v) == 4]
    return min(years) if years else None


def artifact_time_key(artifact: SessionArtifact) -> tuple[Any, ...]:
    """When the artifact's memory happened, as well as can be told (see the module doc)."""
    year = _first_year(artifact.structured_data)
    session = artifact.session
    session_at = _aware(session.started_at or session.scheduled_at or session.created_at)
    interaction = artifact.source_interaction
    sequence = interaction.interaction_sequence if interaction is not None else 10**9
    return (
        0 if year is not None else 1,
        year or 0,
        session_at,
        sequence,
        _aware(artifact.created_at),
        str(artifact.id),
    )


def _groups(db: DbSession, artifacts: list[SessionArtifact]) -> list[_Group]:
    groups: dict[str, _Group] = {}
    events: dict[uuid.UUID, LifeEvent] = {}
    for artifact in artifacts:
        key, event, period = _group_key(db, artifact, events)
        group = groups.get(key)
        if group is None:
            if event is not None:
                title = event.event_name
            elif period is not None:
                title = period_label(period)
            else:
                title = OTHER_TITLE
            group = groups[key] = _Group(key, title, event, period)
        group.artifacts.append(artifact)
    for group in groups.values():
        group.artifacts.sort(key=artifact_time_key)
    return list(groups.values())


def life_order(items: list[Any], *, year: Any, rank: Any, name: Any) -> list[Any]:
    """Dated items by year; an undated one before the first dated one of a later period."""
    dated = sorted((i for i in items if year(i) is not None), key=lambda i: (year(i), rank(i)))
    undated = sorted((i for i in items if year(i) is None), key=lambda i: (rank(i), name(i)))
    ordered: list[Any] = []
    for item in dated:
        while undated and rank(undated[0]) < rank(item):
            ordered.append(undated.pop(0))
        ordered.append(item)
    return ordered + undated


# ---- Compiling -------------------------------------------------------------------------


@dataclass
class CompileResult:
    made: list[BookChapter] = field(default_factory=list)
    kept: list[BookChapter] = field(default_factory=list)
    replaced: int = 0
    left_out: int = 0  # artifacts whose group already has an approved chapter
    llm_failures: int = 0

    @property
    def artifact_count(self) -> int:
        return sum(len({a for p in c.paragraphs for a in p["artifact_ids"]}) for c in self.made)


def _passages(group: _Group) -> list[Passage]:
    passages = []
    for number, artifact in enumerate(group.artifacts, start=1):
        source = artifact.source_interaction_id
        interaction = str(source) if source else None
        passages.append(
            Passage(
                id=f"p{number}",
                text=book_writer.clean_text(artifact.content),
                artifact_id=str(artifact.id),
                interaction_id=interaction,
                scene=interaction,
                name=artifact.artifact_name,
            )
        )
    return passages


def _attach_photos(draft: ChapterDraft, group: _Group) -> list[dict[str, Any]]:
    """The draft's paragraphs as JSON; a photo artifact no paragraph names joins the last one."""
    paragraphs = [p.as_json() for p in draft.paragraphs]
    named = {a for p in paragraphs for a in p["artifact_ids"]}
    for artifact in group.artifacts:
        if str(artifact.id) in named or not (artifact.structured_data or {}).get("document_id"):
            continue
        if not paragraphs:
            caption = book_writer.clean_text(artifact.artifact_name) or group.title
            paragraphs.append({"text": caption, "artifact_ids": [], "interaction_ids": []})
        paragraphs[-1]["artifact_ids"].append(str(artifact.id))
        if artifact.source_interaction_id:
            ids = paragraphs[-1]["interaction_ids"]
            if str(artifact.source_interaction_id) not in ids:
                ids.append(str(artifact.source_interaction_id))
    return paragraphs


class _Writer:
    """The LLM client (or None) and the bookkeeping of its calls for one compilation."""

    def __init__(
        self, db: DbSession, storyteller: Storyteller, settings: InterviewSettings | None
    ) -> None:
        self.db = db
        self.storyteller = storyteller
        self.settings = settings
        self.llm: LlmClient | None = None
        if settings is not None and settings.llm.enabled:
            used = tokens_used_today(db, storyteller.id)
            if used < settings.daily_token_budget:
                self.llm = shared_client(settings.llm)

    def write(self, group: _Group) -> tuple[ChapterDraft, LlmInteraction | None]:
        draft = book_writer.write_chapter(
            self.llm, group.title, _passages(group), author=self.storyteller.display_name
        )
        row = self._record(draft) if draft.llm_result is not None else None
        return draft, row

    def _record(self, draft: ChapterDraft) -> LlmInteraction:
        result = draft.llm_result
        assert result is not None and self.settings is not None
        row = LlmInteraction(
            id=uuid.uuid4(),
            storyteller_id=self.storyteller.id,
            purpose="book_chapter",
            prompt=result.messages,
            response=result.response_text,
            model=result.model,
            response_model=result.response_model,
            prompt_tokens=result.prompt_tokens,
            response_tokens=result.response_tokens,
            cost=result.cost(self.settings.prices),
            latency_ms=result.latency_ms,
            time_to_first_token_ms=result.time_to_first_token_ms,
            is_streaming=False,
            success=result.success and draft.source == "llm",
            error_type=result.error_type or (None if draft.source == "llm" else "unusable"),
            error_message=result.error_message or ("; ".join(draft.notes) or None),
            status_code=result.status_code,
            attempts=max(1, result.attempts),
            created_at=result.started_at,
        )
        self.db.add(row)
        self.db.flush()
        return row


def _revision(
    db: DbSession, chapter: BookChapter, number: int, actor_id: uuid.UUID | None, reason: str
) -> ChapterRevision:
    revision = ChapterRevision(
        chapter_id=chapter.id,
        revision_number=number,
        title=chapter.title,
        content=chapter.content,
        paragraphs=[dict(p) for p in chapter.paragraphs],
        edited_by_id=actor_id,
        reason=reason,
    )
    db.add(revision)
    return revision


def _replace_chapters(db: DbSession, chapters: list[BookChapter]) -> None:
    ids = [c.id for c in chapters]
    if not ids:
        return
    db.execute(delete(ChapterRevision).where(ChapterRevision.chapter_id.in_(ids)))
    db.execute(delete(BookChapter).where(BookChapter.id.in_(ids)))
    for chapter in chapters:
        db.expunge(chapter)


def compile_book(
    db: DbSession,
    storyteller: Storyteller,
    *,
    actor_id: uuid.UUID | None,
    settings: InterviewSettings | None = None,
    everything: bool = False,
    ip_address: str | None = None,
) -> CompileResult:
    """(Re)compile the storyteller's chapters; see the module docstring for what is kept."""
    existing = chapters_of(db, storyteller)
    kept = [] if everything else [c for c in existing if c.review_status == "approved"]
    result = CompileResult(kept=kept, replaced=len(existing) - len(kept))
    _replace_chapters(db, [c for c in existing if c not in kept])
    kept_keys = {_chapter_key(c) for c in kept}
    writer = _Writer(db, storyteller, settings)
    for group in _groups(db, book_artifacts(db, storyteller)):
        if group.key in kept_keys:
            result.left_out += len(group.artifacts)
            continue
        draft, llm_row = writer.write(group)
        if draft.llm_result is not None and draft.source != "llm":
            result.llm_failures += 1
        paragraphs = _attach_photos(draft, group)
        if not paragraphs:
            continue
        chapter = BookChapter(
            id=uuid.uuid4(),
            storyteller_id=storyteller.id,
            sequence=0,
            title=group.title[:TITLE_MAX_LENGTH],
            life_event_id=group.life_event.id if group.life_event is not None else None,
            life_period=group.life_period,
            paragraphs=paragraphs,
            content="\n\n".join(p["text"] for p in paragraphs),
            source=draft.source,
            llm_interaction_id=llm_row.id if llm_row is not None else None,
            review_status="provisional",
        )
        db.add(chapter)
        db.flush()
        _revision(db, chapter, 1, actor_id, "Compiled")
        result.made.append(chapter)
    _sequence(db, kept + result.made)
    record_event(
        db,
        event_type="book.compiled",
        user_id=actor_id,
        payload={
            "storyteller_id": str(storyteller.id),
            "made": len(result.made),
            "kept": len(kept),
            "replaced": result.replaced,
            "left_out": result.left_out,
            "everything": everything,
        },
    )
    audit.record(
        db,
        actor_id=actor_id,
        action="compile",
        object_type="book",
        object_id=storyteller.id,
        storyteller_id=storyteller.id,
        ip_address=ip_address,
        details={"made": len(result.made), "kept": len(kept), "everything": everything},
    )
    db.flush()
    return result


def _chapter_rank(chapter: BookChapter) -> int:
    key = _chapter_key(chapter)
    if key == "other":
        return _OTHER_RANK
    period = period_of(chapter.life_event) if chapter.life_event is not None else None
    period = period or chapter.life_period or "general"
    return _PERIOD_RANK.get(period, _PERIOD_RANK["general"])


def _sequence(db: DbSession, chapters: list[BookChapter]) -> None:
    ordered = life_order(
        chapters,
        year=lambda c: c.life_event.start_year if c.life_event is not None else None,
        rank=_chapter_rank,
        name=lambda c: c.title.casefold(),
    )
    for number, chapter in enumerate(ordered, start=1):
        chapter.sequence = number
    db.flush()


# ---- Editing and reviewing -------------------------------------------------------------


def _next_revision_number(db: DbSession, chapter: BookChapter) -> int:
    current = db.scalar(
        select(func.max(ChapterRevision.revision_number)).where(
            ChapterRevision.chapter_id == chapter.id
        )
    )
    return int(current or 0) + 1


def _edited_paragraphs(chapter: BookChapter, texts: list[str]) -> list[dict[str, Any]]:
    old = list(chapter.paragraphs or [])
    if len(texts) != len(old):
        raise BookInputError(
            "paragraphs",
            "The chapter changed while you were editing it. Please open it again.",
        )
    errors: dict[str, str] = {}
    kept: list[dict[str, Any]] = []
    for number, (paragraph, raw) in enumerate(zip(old, texts, strict=True)):
        text = "\n".join(line.rstrip() for line in (raw or "").strip().splitlines())
        if len(text) > PARAGRAPH_MAX_LENGTH:
            errors[f"paragraph_{number}"] = (
                f"Paragraph {number + 1} is too long: at most {PARAGRAPH_MAX_LENGTH} characters."
            )
        if text:
            kept.append({**paragraph, "text": text})
    if errors:
        raise BookInputError(errors)
    if not kept:
        raise BookInputError("paragraph_0", "A chapter needs at least one paragraph of text.")
    return kept


def edit_chapter(
    db: DbSession,
    chapter: BookChapter,
    *,
    title: str,
    texts: list[str],
    actor_id: uuid.UUID | None,
    reason: str | None = None,
    ip_address: str | None = None,
) -> bool:
    """Change the title and paragraph texts; an emptied paragraph is left out.

    Returns False when nothing changed (no revision then). A paragraph keeps its links.
    """
    new_title = " ".join((title or "").split())
    errors: dict[str, str] = {}
    if not new_title:
        errors["title"] = "Please give the chapter a title."
    elif len(new_title) > TITLE_MAX_LENGTH:
        errors["title"] = f"The title is too long: at most {TITLE_MAX_LENGTH} characters."
    try:
        paragraphs = _edited_paragraphs(chapter, texts)
    except BookInputError as exc:
        errors.update(exc.errors)
        paragraphs = []
    if errors:
        raise BookInputError(errors)
    if new_title == chapter.title and paragraphs == list(chapter.paragraphs or []):
        return False
    if _next_revision_number(db, chapter) == 1:  # chapters made before revisions were kept
        _revision(db, chapter, 1, None, "Compiled")
        db.flush()
    chapter.title = new_title
    chapter.paragraphs = paragraphs
    chapter.content = "\n\n".join(p["text"] for p in paragraphs)
    chapter.source = "edited"
    if chapter.review_status != "provisional":
        chapter.review_status = "provisional"
    _revision(db, chapter, _next_revision_number(db, chapter), actor_id, reason or "Edited")
    audit.record(
        db,
        actor_id=actor_id,
        action="update",
        object_type="book_chapter",
        object_id=chapter.id,
        storyteller_id=chapter.storyteller_id,
        ip_address=ip_address,
    )
    db.flush()
    return True


def decide_chapter(
    db: DbSession,
    chapter: BookChapter,
    *,
    decision: str,
    comment: str | None,
    actor_id: uuid.UUID,
    ip_address: str | None = None,
) -> BookChapter:
    """Approve, ask for changes or reject; the last two need a comment saying why."""
    text = (comment or "").strip()
    if decision not in DECISIONS:
        raise BookInputError("decision", "Please choose approve, ask for changes, or reject.")
    if decision != "approved" and not text:
        raise BookInputError("comment", "Please write a comment saying what should change.")
    if len(text) > COMMENT_MAX_LENGTH:
        raise BookInputError(
            "comment", f"The comment is too long: at most {COMMENT_MAX_LENGTH} characters."
        )
    chapter.review_status = decision
    chapter.reviewed_by_id = actor_id
    chapter.reviewed_at = utcnow()
    chapter.review_comment = text or None
    audit.record(
        db,
        actor_id=actor_id,
        action=decision,
        object_type="book_chapter",
        object_id=chapter.id,
        storyteller_id=chapter.storyteller_id,
        ip_address=ip_address,
    )
    db.flush()
    return chapter


# ---- Revisions -------------------------------------------------------------------------


@dataclass(frozen=True)
class RevisionDiff:
    old: ChapterRevision
    new: ChapterRevision
    title: list[text_diff.Segment]
    content: list[text_diff.Segment]

    @property
    def changed(self) -> bool:
        return text_diff.has_changes(self.title) or text_diff.has_changes(self.content)


def revisions_of(db: DbSession, chapter: BookChapter) -> list[ChapterRevision]:
    return list(
        db.scalars(
            select(ChapterRevision)
            .where(ChapterRevision.chapter_id == chapter.id)
            .options(selectinload(ChapterRevision.edited_by))
            .order_by(ChapterRevision.revision_number)
        )
    )


def _revision_number(raw: Any, field_name: str, numbers: dict[int, ChapterRevision]) -> int:
    text = str(raw).strip()
    if not text.isdigit() or int(text) not in numbers:
        raise BookInputError(field_name, "Please choose one of the versions in the list.")
    return int(text)


def revision_diff(
    db: DbSession, chapter: BookChapter, old: Any = None, new: Any = None
) -> RevisionDiff:
    """The difference between two versions (by number); by default the first and the last."""
    revisions = revisions_of(db, chapter)
    if len(revisions) < 1:
        raise BookInputError("from", "This chapter has no versions to compare yet.")
    numbers = {r.revision_number: r for r in revisions}
    old_number = revisions[0].revision_number if old in (None, "") else None
    new_number = revisions[-1].revision_number if new in (None, "") else None
    errors: dict[str, str] = {}
    for name, raw in (("from", old), ("to", new)):
        if raw in (None, ""):
            continue
        try:
            number = _revision_number(raw, name, numbers)
        except BookInputError as exc:
            errors.update(exc.errors)
            continue
        if name == "from":
            old_number = number
        else:
            new_number = number
    if errors:
        raise BookInputError(errors)
    assert old_number is not None and new_number is not None
    a, b = numbers[old_number], numbers[new_number]
    return RevisionDiff(
        old=a,
        new=b,
        title=text_diff.word_diff(a.title, b.title),
        content=text_diff.word_diff(a.content, b.content),
    )


# ---- Sources ---------------------------------------------------------------------------


def sources_of(db: DbSession, chapter: BookChapter) -> dict[str, SessionArtifact]:
    """{artifact id: artifact} for every artifact the chapter's paragraphs name."""
    ids = {str(a) for p in (chapter.paragraphs or []) for a in p.get("artifact_ids", [])}
    if not ids:
        return {}
    artifacts = db.scalars(
        select(SessionArtifact)
        .where(SessionArtifact.id.in_([uuid.UUID(i) for i in ids]))
        .options(selectinload(SessionArtifact.source_interaction))
    )
    return {str(a.id): a for a in artifacts}


def photo_documents(db: DbSession, storyteller: Storyteller) -> dict[str, uuid.UUID]:
    """{storage key: document id} of the storyteller's photos, to link the preview's images."""
    sessions = select(Session.id).where(Session.storyteller_id == storyteller.id)
    rows = db.execute(
        select(Document.storage_key, Document.id).where(
            or_(Document.storyteller_id == storyteller.id, Document.session_id.in_(sessions)),
            Document.kind == "photo",
        )
    )
    return {key: document_id for key, document_id in rows if key}
