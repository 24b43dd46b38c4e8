"""Sessions (seed 003 is the spine, enriched by 000, 002 and 004) and what they contain."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storyteller.models.base import Base, CreatedMixin, IdMixin, TimestampMixin, check_in

if TYPE_CHECKING:
    from storyteller.models.agents import Agent, AgentVersion
    from storyteller.models.people import Storyteller, User
    from storyteller.models.process import LifeEvent, ProcessNode, ProcessVersion

SESSION_STATUSES = ("scheduled", "in_progress", "paused", "completed", "cancelled")
SESSION_SOURCES = ("user", "coordinator", "template", "process_node", "scheduled")
COVERAGE_LEVELS = ("introduction", "exploration", "deep_dive", "completion")
INTERACTION_TYPES = ("prompt", "response", "clarification", "reflection")
PROMPT_CATEGORIES = ("scene", "people", "tension", "change", "meaning")
RESPONSE_METHODS = ("text", "voice", "skip")
SENTIMENTS = ("positive", "neutral", "difficult", "emotional")
ARTIFACT_TYPES = (
    "scene_capture",
    "timeline_entry",
    "relationship_mapping",
    "draft_paragraph",
    "photo_annotation",
)
REVIEW_STATUSES = ("provisional", "approved", "rejected", "changes_requested")
NOTE_TYPES = ("observation", "concern", "insight", "technical")


class Session(IdMixin, TimestampMixin, Base):
    """A discrete, goal-oriented exchange between a storyteller and the interviewer."""

    __tablename__ = "session"
    __table_args__ = (
        CheckConstraint(check_in("status", SESSION_STATUSES), name="status"),
        CheckConstraint(check_in("session_source", SESSION_SOURCES), name="session_source"),
        CheckConstraint("success_rating BETWEEN 1 AND 5", name="success_rating"),
        CheckConstraint("completion_percentage BETWEEN 0 AND 100", name="completion_percentage"),
        CheckConstraint("user_satisfaction BETWEEN 1 AND 5", name="user_satisfaction"),
        CheckConstraint("scheduled_duration_minutes > 0", name="scheduled_duration"),
        Index("ix_session_storyteller_status", "storyteller_id", "status"),
        Index("ix_session_scheduled_at", "scheduled_at"),
        Index("ix_session_started_at", "started_at"),
        Index("ix_session_ended_at", "ended_at"),
        Index("ix_session_status", "status"),
        Index("ix_session_parent", "parent_session_id"),
        Index("ix_session_agent_activity", "agent_id", "last_activity_at"),
    )

    # seed 003: relationships
    storyteller_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("storyteller.id", ondelete="CASCADE")
    )
    process_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("process_version.id", ondelete="SET NULL")
    )
    current_process_node_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("process_node.id", ondelete="SET NULL")
    )
    session_template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session_template.id", ondelete="SET NULL")
    )
    # seed 003: definition, criteria, guidance
    session_name: Mapped[str | None] = mapped_column(String(200))
    intention: Mapped[str] = mapped_column(Text)
    success_indicators: Mapped[list[str] | None]
    completion_indicators: Mapped[list[str] | None]
    constraints: Mapped[list[str] | None]
    procedure_notes: Mapped[str | None] = mapped_column(Text)
    # seed 003: scheduling and timing
    scheduled_at: Mapped[datetime | None]
    scheduled_duration_minutes: Mapped[int | None]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    actual_duration_minutes: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    # seed 003: outcomes and next steps
    summary: Mapped[str | None] = mapped_column(Text)
    success_rating: Mapped[int | None]
    completion_percentage: Mapped[int | None]
    needs_followup: Mapped[bool] = mapped_column(default=False)
    followup_notes: Mapped[str | None] = mapped_column(Text)
    next_session_suggestion: Mapped[str | None] = mapped_column(Text)
    # seed 000: purpose, tags, quality, hierarchy
    session_purpose: Mapped[str | None] = mapped_column(Text)
    session_tags: Mapped[list[str] | None]
    quality_score: Mapped[float | None]
    user_satisfaction: Mapped[int | None]
    learning_outcomes: Mapped[dict[str, Any] | None]
    session_source: Mapped[str] = mapped_column(String(20), default="coordinator")
    parent_session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session.id", ondelete="SET NULL")
    )
    # seed 000 business_context + seed 002 metadata, as one JSON column
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    # seed 004: the interviewer, counters
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    agent_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agent_version.id", ondelete="SET NULL")
    )
    message_count: Mapped[int] = mapped_column(default=0)
    total_tokens: Mapped[int] = mapped_column(default=0)
    total_cost: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    last_activity_at: Mapped[datetime | None]
    # seed 002: the person who created it
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )

    storyteller: Mapped[Storyteller] = relationship(back_populates="sessions")
    process_version: Mapped[ProcessVersion | None] = relationship()
    current_process_node: Mapped[ProcessNode | None] = relationship()
    template: Mapped[SessionTemplate | None] = relationship()
    agent: Mapped[Agent | None] = relationship()
    agent_version: Mapped[AgentVersion | None] = relationship()
    created_by: Mapped[User | None] = relationship()
    parent_session: Mapped[Session | None] = relationship(
        back_populates="child_sessions", remote_side="Session.id"
    )
    child_sessions: Mapped[list[Session]] = relationship(
        back_populates="parent_session", order_by="Session.scheduled_at"
    )
    life_event_links: Mapped[list[SessionLifeEvent]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True
    )
    interactions: Mapped[list[SessionInteraction]] = relationship(
        back_populates="session",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="SessionInteraction.interaction_sequence",
    )
    artifacts: Mapped[list[SessionArtifact]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True
    )
    notes: Mapped[list[SessionNote]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def display_name(self) -> str:
        return self.session_name or self.intention[:60]


class SessionLifeEvent(IdMixin, CreatedMixin, Base):
    __tablename__ = "session_life_event"
    __table_args__ = (
        UniqueConstraint("session_id", "life_event_id"),
        CheckConstraint(
            f"coverage_level IS NULL OR {check_in('coverage_level', COVERAGE_LEVELS)}",
            name="coverage_level",
        ),
        Index("ix_session_life_event_session", "session_id"),
        Index("ix_session_life_event_event", "life_event_id"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"))
    life_event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("life_event.id", ondelete="CASCADE")
    )
    is_primary_focus: Mapped[bool] = mapped_column(default=False)
    coverage_level: Mapped[str | None] = mapped_column(String(20))
    prompts_completed: Mapped[int] = mapped_column(default=0)
    notes: Mapped[str | None] = mapped_column(Text)

    session: Mapped[Session] = relationship(back_populates="life_event_links")
    life_event: Mapped[LifeEvent] = relationship()


class SessionInteraction(IdMixin, CreatedMixin, Base):
    """One agent prompt and the storyteller's answer to it."""

    __tablename__ = "session_interaction"
    __table_args__ = (
        UniqueConstraint("session_id", "interaction_sequence"),
        CheckConstraint(
            f"interaction_type IS NULL OR {check_in('interaction_type', INTERACTION_TYPES)}",
            name="interaction_type",
        ),
        CheckConstraint(
            f"response_method IS NULL OR {check_in('response_method', RESPONSE_METHODS)}",
            name="response_method",
        ),
        CheckConstraint(
            f"sentiment IS NULL OR {check_in('sentiment', SENTIMENTS)}", name="sentiment"
        ),
        Index("ix_session_interaction_session", "session_id", "interaction_sequence"),
        Index("ix_session_interaction_event", "life_event_id"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"))
    life_event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("life_event.id", ondelete="SET NULL")
    )
    interaction_sequence: Mapped[int]
    interaction_type: Mapped[str | None] = mapped_column(String(20))
    agent_prompt: Mapped[str | None] = mapped_column(Text)
    prompt_category: Mapped[str | None] = mapped_column(String(20))
    storyteller_response: Mapped[str | None] = mapped_column(Text)
    response_method: Mapped[str | None] = mapped_column(String(10))
    sentiment: Mapped[str | None] = mapped_column(String(20))
    key_themes: Mapped[list[str] | None]
    mentions_people: Mapped[list[str] | None]
    mentions_places: Mapped[list[str] | None]
    duration_seconds: Mapped[int | None]
    answered_at: Mapped[datetime | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # seed 004 per-message fields, from the LLM call that produced the prompt
    llm_interaction_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("llm_interaction.id", ondelete="SET NULL")
    )
    model_used: Mapped[str | None] = mapped_column(String(100))
    tokens_used: Mapped[int | None]
    cost: Mapped[Decimal | None]
    response_time_ms: Mapped[int | None]
    tools_used: Mapped[list[Any] | None]
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")

    session: Mapped[Session] = relationship(back_populates="interactions")
    life_event: Mapped[LifeEvent | None] = relationship()


class SessionArtifact(IdMixin, TimestampMixin, Base):
    """An output of a session (scene, timeline entry, ...) awaiting review."""

    __tablename__ = "session_artifact"
    __table_args__ = (
        CheckConstraint(check_in("artifact_type", ARTIFACT_TYPES), name="artifact_type"),
        CheckConstraint(check_in("review_status", REVIEW_STATUSES), name="review_status"),
        Index("ix_session_artifact_session", "session_id"),
        Index("ix_session_artifact_type", "artifact_type"),
        Index("ix_session_artifact_review", "review_status", "created_at"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"))
    life_event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("life_event.id", ondelete="SET NULL")
    )
    source_interaction_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session_interaction.id", ondelete="SET NULL")
    )
    artifact_type: Mapped[str] = mapped_column(String(30))
    artifact_name: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[str | None] = mapped_column(Text)
    structured_data: Mapped[dict[str, Any] | None]
    is_provisional: Mapped[bool] = mapped_column(default=True)
    is_approved: Mapped[bool] = mapped_column(default=False)
    approved_at: Mapped[datetime | None]
    included_in_synthesis: Mapped[bool] = mapped_column(default=False)
    review_status: Mapped[str] = mapped_column(String(20), default="provisional")
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None]
    review_comment: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None]

    session: Mapped[Session] = relationship(back_populates="artifacts")
    life_event: Mapped[LifeEvent | None] = relationship()
    source_interaction: Mapped[SessionInteraction | None] = relationship()
    reviewed_by: Mapped[User | None] = relationship()
    revisions: Mapped[list[ArtifactRevision]] = relationship(
        back_populates="artifact",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ArtifactRevision.revision_number",
    )


class ArtifactRevision(IdMixin, CreatedMixin, Base):
    """Every edit of an artifact's text keeps the version it replaced: who, when, what."""

    __tablename__ = "artifact_revision"
    __table_args__ = (UniqueConstraint("artifact_id", "revision_number"),)

    artifact_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("session_artifact.id", ondelete="CASCADE")
    )
    revision_number: Mapped[int]
    artifact_name: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[str | None] = mapped_column(Text)
    structured_data: Mapped[dict[str, Any] | None]
    edited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )
    reason: Mapped[str | None] = mapped_column(Text)

    artifact: Mapped[SessionArtifact] = relationship(back_populates="revisions")
    edited_by: Mapped[User | None] = relationship()


class SessionTemplate(IdMixin, TimestampMixin, Base):
    __tablename__ = "session_template"

    process_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("process_version.id", ondelete="CASCADE")
    )
    template_name: Mapped[str] = mapped_column(String(200))
    template_description: Mapped[str | None] = mapped_column(Text)
    suggested_for_event_types: Mapped[list[str] | None]
    suggested_for_process_nodes: Mapped[list[str] | None]
    default_intention: Mapped[str | None] = mapped_column(Text)
    default_success_indicators: Mapped[list[str] | None]
    default_completion_indicators: Mapped[list[str] | None]
    default_constraints: Mapped[list[str] | None]
    default_procedure_notes: Mapped[str | None] = mapped_column(Text)
    default_duration_minutes: Mapped[int | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    is_builtin: Mapped[bool] = mapped_column(default=False)
    wants_photos: Mapped[bool] = mapped_column(default=False)


class SessionNote(IdMixin, CreatedMixin, Base):
    __tablename__ = "session_note"
    __table_args__ = (
        CheckConstraint(
            f"note_type IS NULL OR {check_in('note_type', NOTE_TYPES)}", name="note_type"
        ),
        Index("ix_session_note_session", "session_id"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"))
    note_type: Mapped[str | None] = mapped_column(String(20))
    note_content: Mapped[str] = mapped_column(Text)
    noted_at_interaction_sequence: Mapped[int | None]
    is_important: Mapped[bool] = mapped_column(default=False)
    requires_followup: Mapped[bool] = mapped_column(default=False)
    followup_done_at: Mapped[datetime | None]
    noted_by: Mapped[str | None] = mapped_column(String(100))  # agent / system / user
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    session: Mapped[Session] = relationship(back_populates="notes")
    author: Mapped[User | None] = relationship()


class AnswerDraft(IdMixin, TimestampMixin, Base):
    """The answer being written to one question, autosaved with a version number."""

    __tablename__ = "answer_draft"
    __table_args__ = (
        UniqueConstraint("interaction_id"),
        Index("ix_answer_draft_session", "session_id"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"))
    interaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("session_interaction.id", ondelete="CASCADE")
    )
    content: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=0)
    saved_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )


MAIL_STATUSES = ("queued", "sending", "sent", "failed")


class MailMessage(IdMixin, CreatedMixin, Base):
    """Every email the app sends (or, in development, would send): the outbox."""

    __tablename__ = "mail_message"
    __table_args__ = (
        CheckConstraint(check_in("status", MAIL_STATUSES), name="status"),
        Index("ix_mail_message_created", "created_at"),
    )

    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    backend: Mapped[str] = mapped_column(String(20))  # smtp / outbox
    status: Mapped[str] = mapped_column(String(20), default="queued")
    sent_at: Mapped[datetime | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session.id", ondelete="SET NULL")
    )
    kind: Mapped[str | None] = mapped_column(String(50))  # invitation / reminder / ...


class ReminderDelivery(IdMixin, CreatedMixin, Base):
    """One reminder for one session at one scheduled time to one recipient: sent at most once.

    The unique key is claimed (inserted) before the mail is sent, so two ``flask
    send-reminders`` runs at once cannot both send it; a reschedule changes
    ``scheduled_for`` and so earns a fresh reminder.
    """

    __tablename__ = "reminder_delivery"
    __table_args__ = (
        UniqueConstraint("session_id", "recipient", "lead", "scheduled_for"),
        Index("ix_reminder_delivery_session", "session_id"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(254))
    lead: Mapped[str] = mapped_column(String(20))  # e.g. "24h", "1h"
    scheduled_for: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="sending")
    mail_message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("mail_message.id", ondelete="SET NULL")
    )
    error_message: Mapped[str | None] = mapped_column(Text)


CHAPTER_SOURCES = ("llm", "offline", "edited")
EXPORT_KINDS = ("html", "pdf", "pdf_large", "epub", "markdown", "archive")
EXPORT_STATUSES = ("queued", "running", "succeeded", "failed")


class BookChapter(IdMixin, TimestampMixin, Base):
    """One chapter of a storyteller's book, compiled from approved, included artifacts.

    ``paragraphs`` is a list of {"text", "artifact_ids", "interaction_ids"}: every paragraph
    keeps the artifacts and interactions it came from; ``content`` is their text joined by
    blank lines. Reviewed like an artifact (review_status, reviewed_by, reviewed_at).
    """

    __tablename__ = "book_chapter"
    __table_args__ = (
        CheckConstraint(check_in("review_status", REVIEW_STATUSES), name="review_status"),
        CheckConstraint(check_in("source", CHAPTER_SOURCES), name="source"),
        Index("ix_book_chapter_storyteller", "storyteller_id", "sequence"),
    )

    storyteller_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("storyteller.id", ondelete="CASCADE")
    )
    sequence: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    life_event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("life_event.id", ondelete="SET NULL")
    )
    life_period: Mapped[str | None] = mapped_column(String(50))
    content: Mapped[str] = mapped_column(Text, default="")
    paragraphs: Mapped[list[Any]]  # [{"text", "artifact_ids", "interaction_ids"}, ...]
    source: Mapped[str] = mapped_column(String(20), default="offline")
    llm_interaction_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("llm_interaction.id", ondelete="SET NULL")
    )
    review_status: Mapped[str] = mapped_column(String(20), default="provisional")
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None]
    review_comment: Mapped[str | None] = mapped_column(Text)

    life_event: Mapped[LifeEvent | None] = relationship()
    reviewed_by: Mapped[User | None] = relationship()
    revisions: Mapped[list[ChapterRevision]] = relationship(
        back_populates="chapter",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ChapterRevision.revision_number",
    )


class ChapterRevision(IdMixin, CreatedMixin, Base):
    """Every edit of a chapter keeps the version it replaced: who, when, what."""

    __tablename__ = "chapter_revision"
    __table_args__ = (UniqueConstraint("chapter_id", "revision_number"),)

    chapter_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("book_chapter.id", ondelete="CASCADE")
    )
    revision_number: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    paragraphs: Mapped[list[Any]]  # [{"text", "artifact_ids", "interaction_ids"}, ...]
    edited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )
    reason: Mapped[str | None] = mapped_column(Text)

    chapter: Mapped[BookChapter] = relationship(back_populates="revisions")
    edited_by: Mapped[User | None] = relationship()


class ExportJob(IdMixin, TimestampMixin, Base):
    """One export (PDF, EPUB, archive, ...) of a storyteller's book, run in the background.

    The file is written under the instance folder at ``storage_path`` (relative); the page
    polls ``status`` / ``progress`` / ``message``; a failed job keeps ``error_message`` and
    can be retried (``attempts`` counts the runs).
    """

    __tablename__ = "export_job"
    __table_args__ = (
        CheckConstraint(check_in("kind", EXPORT_KINDS), name="kind"),
        CheckConstraint(check_in("status", EXPORT_STATUSES), name="status"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
        Index("ix_export_job_storyteller", "storyteller_id", "created_at"),
    )

    storyteller_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("storyteller.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    progress: Mapped[int] = mapped_column(default=0)
    message: Mapped[str | None] = mapped_column(String(300))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    task_id: Mapped[str | None] = mapped_column(String(100))
    file_name: Mapped[str | None] = mapped_column(String(200))
    content_type: Mapped[str | None] = mapped_column(String(100))
    storage_path: Mapped[str | None] = mapped_column(String(300))
    size_bytes: Mapped[int | None]
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    storyteller: Mapped[Storyteller] = relationship()
    requested_by: Mapped[User | None] = relationship()
