"""Memory and state (seed 000): what the interviewer learned, who read it, state history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storyteller.models.base import Base, CreatedMixin, IdMixin, TimestampMixin, check_in

VERIFICATION_STATUSES = ("unverified", "verified", "disputed")
ANNOTATION_TYPES = ("correction", "enhancement", "verification")
TRIGGER_TYPES = ("user_action", "agent_decision", "scheduled", "system")


class InteractionMemory(IdMixin, TimestampMixin, Base):
    __tablename__ = "interaction_memory"
    __table_args__ = (
        CheckConstraint(
            check_in("verification_status", VERIFICATION_STATUSES), name="verification_status"
        ),
        CheckConstraint("confidence BETWEEN 0 AND 1", name="confidence"),
        CheckConstraint("importance BETWEEN 0 AND 1", name="importance"),
        Index("ix_interaction_memory_storyteller_type", "storyteller_id", "memory_type"),
        Index("ix_interaction_memory_storyteller_key", "storyteller_id", "memory_key"),
        Index("ix_interaction_memory_session", "session_id"),
    )

    storyteller_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("storyteller.id", ondelete="CASCADE")
    )
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session.id", ondelete="SET NULL")
    )
    interaction_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session_interaction.id", ondelete="SET NULL")
    )
    type: Mapped[str] = mapped_column(String(30), default="fact")
    memory_type: Mapped[str] = mapped_column(String(30))
    memory_key: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[dict[str, Any]]
    importance: Mapped[float] = mapped_column(default=0.5)
    confidence: Mapped[float] = mapped_column(default=0.5)
    source_type: Mapped[str] = mapped_column(String(30), default="user_input")
    verification_status: Mapped[str] = mapped_column(String(20), default="unverified")
    related_memories: Mapped[list[str] | None]
    last_accessed_at: Mapped[datetime | None]
    access_count: Mapped[int] = mapped_column(default=0)
    corrected_at: Mapped[datetime | None]

    accesses: Mapped[list[MemoryAccess]] = relationship(
        back_populates="memory", cascade="all, delete-orphan", passive_deletes=True
    )
    annotations: Mapped[list[MemoryAnnotation]] = relationship(
        back_populates="memory", cascade="all, delete-orphan", passive_deletes=True
    )


class MemoryAccess(IdMixin, CreatedMixin, Base):
    __tablename__ = "memory_access"
    __table_args__ = (
        Index("ix_memory_access_memory", "memory_id", "created_at"),
        Index("ix_memory_access_session", "session_id"),
    )

    memory_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("interaction_memory.id", ondelete="CASCADE")
    )
    access_type: Mapped[str] = mapped_column(String(20))
    accessed_by: Mapped[str] = mapped_column(String(64))
    accessor_type: Mapped[str] = mapped_column(String(20))
    context: Mapped[str | None] = mapped_column(Text)
    usefulness: Mapped[float | None]
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session.id", ondelete="SET NULL")
    )
    agent_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agent_execution.id", ondelete="SET NULL")
    )

    memory: Mapped[InteractionMemory] = relationship(back_populates="accesses")


class MemoryAnnotation(IdMixin, CreatedMixin, Base):
    __tablename__ = "memory_annotation"
    __table_args__ = (
        CheckConstraint(check_in("annotation_type", ANNOTATION_TYPES), name="annotation_type"),
        Index("ix_memory_annotation_memory", "memory_id"),
    )

    memory_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("interaction_memory.id", ondelete="CASCADE")
    )
    annotation_type: Mapped[str] = mapped_column(String(20))
    content: Mapped[dict[str, Any]]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )
    is_applied: Mapped[bool] = mapped_column(default=False)
    applied_at: Mapped[datetime | None]

    memory: Mapped[InteractionMemory] = relationship(back_populates="annotations")


class ModuleState(IdMixin, TimestampMixin, Base):
    """A versioned piece of module state; each change is a new row linked to the one before."""

    __tablename__ = "module_state"
    __table_args__ = (
        Index("ix_module_state_module_type", "module_id", "state_type", "created_at"),
        Index("ix_module_state_session", "session_id"),
        Index("ix_module_state_previous", "previous_state_id"),
    )

    module_id: Mapped[str] = mapped_column(String(100))
    state: Mapped[dict[str, Any]]
    version: Mapped[str] = mapped_column(String(20), default="1.0.0")
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE")
    )
    previous_state_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("module_state.id", ondelete="SET NULL")
    )
    state_type: Mapped[str] = mapped_column(String(50))
    state_hash: Mapped[str] = mapped_column(String(64))
    is_snapshot: Mapped[bool] = mapped_column(default=False)
    snapshot_reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]

    previous_state: Mapped[ModuleState | None] = relationship(
        back_populates="next_states", remote_side="ModuleState.id"
    )
    next_states: Mapped[list[ModuleState]] = relationship(back_populates="previous_state")
    transitions: Mapped[list[StateTransition]] = relationship(
        back_populates="state",
        cascade="all, delete-orphan",
        passive_deletes=True,
        foreign_keys="StateTransition.state_id",
    )


class StateTransition(IdMixin, CreatedMixin, Base):
    """A change of module state: from state_id to to_state_id, with what changed."""

    __tablename__ = "state_transition"
    __table_args__ = (
        CheckConstraint(check_in("trigger_type", TRIGGER_TYPES), name="trigger_type"),
        Index("ix_state_transition_state", "state_id"),
        Index("ix_state_transition_to_state", "to_state_id"),
    )

    state_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("module_state.id", ondelete="CASCADE"))
    to_state_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("module_state.id", ondelete="CASCADE")
    )
    trigger_id: Mapped[str | None] = mapped_column(String(100))
    trigger_type: Mapped[str] = mapped_column(String(20))
    transition_data: Mapped[dict[str, Any] | None]
    previous_values: Mapped[dict[str, Any] | None]
    new_values: Mapped[dict[str, Any] | None]

    state: Mapped[ModuleState] = relationship(back_populates="transitions", foreign_keys=[state_id])
