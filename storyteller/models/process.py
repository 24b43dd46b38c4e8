"""The interview process (versions and their nodes) and a storyteller's life events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storyteller.models.base import Base, IdMixin, TimestampMixin

if TYPE_CHECKING:
    from storyteller.models.people import Storyteller


class ProcessVersion(IdMixin, TimestampMixin, Base):
    """A named, versioned interview process; exactly one is active."""

    __tablename__ = "process_version"
    __table_args__ = (
        UniqueConstraint("name", "version_number"),
        Index(
            "uq_process_version_one_active",
            "is_active",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    version_number: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(default=False)
    is_builtin: Mapped[bool] = mapped_column(default=False)
    activated_at: Mapped[datetime | None]

    nodes: Mapped[list[ProcessNode]] = relationship(
        back_populates="process_version",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ProcessNode.sequence",
    )


class ProcessNode(IdMixin, TimestampMixin, Base):
    """One step of a process: what the agent aims for and what the storyteller is told."""

    __tablename__ = "process_node"
    __table_args__ = (UniqueConstraint("process_version_id", "sequence"),)

    process_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("process_version.id", ondelete="CASCADE")
    )
    node_name: Mapped[str] = mapped_column(String(200))
    sequence: Mapped[int]
    agent_objective: Mapped[str] = mapped_column(Text)
    agent_constraints: Mapped[str | None] = mapped_column(Text)
    user_facing_text: Mapped[str | None] = mapped_column(Text)
    life_period: Mapped[str | None] = mapped_column(String(50))
    suggested_event_types: Mapped[list[str] | None]

    process_version: Mapped[ProcessVersion] = relationship(back_populates="nodes")


class LifeEvent(IdMixin, TimestampMixin, Base):
    """A period or event of a storyteller's life."""

    __tablename__ = "life_event"
    __table_args__ = (Index("ix_life_event_storyteller_start", "storyteller_id", "start_year"),)

    storyteller_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("storyteller.id", ondelete="CASCADE")
    )
    event_name: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str | None] = mapped_column(String(50))
    start_year: Mapped[int | None]
    end_year: Mapped[int | None]
    approximate_start: Mapped[str | None] = mapped_column(String(50))
    approximate_end: Mapped[str | None] = mapped_column(String(50))
    location: Mapped[str | None] = mapped_column(String(200))
    life_period: Mapped[str | None] = mapped_column(String(50))  # childhood, school, work, ...
    description: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")

    storyteller: Mapped[Storyteller] = relationship(back_populates="life_events")
