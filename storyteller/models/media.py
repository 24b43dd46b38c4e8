"""Voice recordings: an answer recorded in the browser, uploaded in chunks while it is made.

A recording belongs to one session and the question it answers (the open interaction).
Its chunks arrive every few seconds, possibly out of order or twice; each is kept once
(UNIQUE recording + sequence). When the storyteller stops, the chunks are assembled in
order into one audio document (seed 002 ``document``, kind "audio"), transcribed, and the
transcript waits, editable, until the storyteller sends it as the answer.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storyteller.models.base import Base, CreatedMixin, IdMixin, TimestampMixin, check_in

RECORDING_STATUSES = (
    "recording",
    "assembled",
    "transcribing",
    "transcribed",
    "failed",
    "sent",
    "discarded",
)


class AudioRecording(IdMixin, TimestampMixin, Base):
    __tablename__ = "audio_recording"
    __table_args__ = (
        CheckConstraint(check_in("status", RECORDING_STATUSES), name="status"),
        Index("ix_audio_recording_session", "session_id"),
        Index("ix_audio_recording_storyteller", "storyteller_id"),
        Index("ix_audio_recording_interaction", "interaction_id"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"))
    storyteller_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("storyteller.id", ondelete="CASCADE")
    )
    interaction_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session_interaction.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), default="recording")
    mime_type: Mapped[str] = mapped_column(String(100))
    chunk_count: Mapped[int] = mapped_column(default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_ms: Mapped[int | None]
    document_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("document.id", ondelete="SET NULL")
    )
    transcript: Mapped[str | None] = mapped_column(Text)
    transcript_source: Mapped[str | None] = mapped_column(String(30))
    llm_interaction_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("llm_interaction.id", ondelete="SET NULL")
    )
    error_message: Mapped[str | None] = mapped_column(Text)
    assembled_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")


class AudioChunk(IdMixin, CreatedMixin, Base):
    __tablename__ = "audio_chunk"
    __table_args__ = (UniqueConstraint("recording_id", "sequence"),)

    recording_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("audio_recording.id", ondelete="CASCADE")
    )
    sequence: Mapped[int]
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
