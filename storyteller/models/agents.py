"""Agents and telemetry: versions, executions, LLM calls, events, metrics, errors, rollups."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storyteller.models.base import (
    Base,
    CreatedMixin,
    IdMixin,
    JsonType,
    TimestampMixin,
    check_in,
)

if TYPE_CHECKING:
    from storyteller.models.people import User
    from storyteller.models.sessions import Session

AGENT_TYPES = ("interviewer", "summarizer", "analyzer")
AGENT_STATUSES = ("active", "inactive", "retired")
EXECUTION_STATUSES = ("pending", "running", "succeeded", "failed")


class Agent(IdMixin, TimestampMixin, Base):
    """A reusable agent definition (seed 002 agents + seed 000 AI_Agent)."""

    __tablename__ = "agent"
    __table_args__ = (
        CheckConstraint(check_in("type", AGENT_TYPES), name="type"),
        CheckConstraint(check_in("status", AGENT_STATUSES), name="status"),
        CheckConstraint(
            "success_rate IS NULL OR success_rate BETWEEN 0 AND 1", name="success_rate"
        ),
    )

    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    configuration: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(20), default="active")
    specializations: Mapped[list[str] | None]
    learning_mode: Mapped[str | None] = mapped_column(String(20))
    training_status: Mapped[str | None] = mapped_column(String(20))
    last_active_at: Mapped[datetime | None]
    total_sessions: Mapped[int] = mapped_column(default=0)
    success_rate: Mapped[float | None]

    versions: Mapped[list[AgentVersion]] = relationship(
        back_populates="agent",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="AgentVersion.created_at",
    )


class AgentVersion(IdMixin, CreatedMixin, Base):
    """A version of an agent and the configuration it runs with; one active per agent."""

    __tablename__ = "agent_version"
    __table_args__ = (
        UniqueConstraint("agent_id", "version_number"),
        Index(
            "uq_agent_version_one_active",
            "agent_id",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"))
    version_number: Mapped[str] = mapped_column(String(20))
    changes: Mapped[dict[str, Any] | None]
    configuration: Mapped[dict[str, Any] | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )
    is_active: Mapped[bool] = mapped_column(default=False)
    activated_at: Mapped[datetime | None]
    deactivated_at: Mapped[datetime | None]
    performance: Mapped[dict[str, Any] | None]

    agent: Mapped[Agent] = relationship(back_populates="versions")
    created_by: Mapped[User | None] = relationship()


class AgentExecution(IdMixin, Base):
    """One unit of an agent's work: in the interview, one turn."""

    __tablename__ = "agent_execution"
    __table_args__ = (
        CheckConstraint(check_in("status", EXECUTION_STATUSES), name="status"),
        Index("ix_agent_execution_session", "session_id"),
        Index("ix_agent_execution_trace", "trace_id"),
        Index("ix_agent_execution_agent_started", "agent_id", "started_at"),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"))
    agent_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agent_version.id", ondelete="SET NULL")
    )
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE")
    )
    trace_id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    input_data: Mapped[dict[str, Any] | None]
    output_data: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(Text)

    agent: Mapped[Agent] = relationship()
    agent_version: Mapped[AgentVersion | None] = relationship()
    session: Mapped[Session | None] = relationship()


class LlmInteraction(IdMixin, CreatedMixin, Base):
    """Every LLM call, successful or not (seed 002 llm_interactions)."""

    __tablename__ = "llm_interaction"
    __table_args__ = (
        Index("ix_llm_interaction_session", "session_id"),
        Index("ix_llm_interaction_created", "created_at"),
        Index("ix_llm_interaction_storyteller_created", "storyteller_id", "created_at"),
        Index("ix_llm_interaction_trace", "trace_id"),
        Index("ix_llm_interaction_execution", "agent_execution_id"),
    )

    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE")
    )
    storyteller_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("storyteller.id", ondelete="CASCADE")
    )
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    agent_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agent_version.id", ondelete="SET NULL")
    )
    agent_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agent_execution.id", ondelete="SET NULL")
    )
    trace_id: Mapped[uuid.UUID | None]
    purpose: Mapped[str | None] = mapped_column(String(50))
    prompt: Mapped[list[Any] | None]
    response: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(100))
    response_model: Mapped[str | None] = mapped_column(String(100))
    prompt_tokens: Mapped[int | None]
    response_tokens: Mapped[int | None]
    cost: Mapped[Decimal | None]
    latency_ms: Mapped[int | None]
    time_to_first_token_ms: Mapped[int | None]
    is_streaming: Mapped[bool] = mapped_column(default=False)
    success: Mapped[bool] = mapped_column(default=False)
    error_type: Mapped[str | None] = mapped_column(String(50))
    error_message: Mapped[str | None] = mapped_column(Text)
    status_code: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=1)


class Event(IdMixin, CreatedMixin, Base):
    """Seed 002 Event + seed 000 SessionEvent: one thing that happened, in sequence."""

    __tablename__ = "event"
    __table_args__ = (
        UniqueConstraint("session_id", "sequence"),
        Index("ix_event_session", "session_id"),
        Index("ix_event_llm_interaction", "llm_interaction_id"),
        Index("ix_event_timestamp", "timestamp_ms"),
        Index("ix_event_type", "event_type"),
        Index("ix_event_trace", "trace_id"),
    )

    event_type: Mapped[str] = mapped_column(String(100))
    trace_id: Mapped[uuid.UUID | None]
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sequence: Mapped[int | None]
    duration_ms: Mapped[int | None]
    agent_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agent_execution.id", ondelete="SET NULL")
    )
    llm_interaction_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("llm_interaction.id", ondelete="SET NULL")
    )


class SessionMetric(IdMixin, Base):
    __tablename__ = "session_metric"
    __table_args__ = (Index("ix_session_metric_session_type", "session_id", "metric_type"),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"))
    metric_type: Mapped[str] = mapped_column(String(50))
    metric_value: Mapped[float]
    timestamp: Mapped[datetime]
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")


class AgentMetric(IdMixin, Base):
    __tablename__ = "agent_metric"
    __table_args__ = (
        Index("ix_agent_metric_agent_type_time", "agent_id", "metric_type", "timestamp"),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"))
    agent_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agent_version.id", ondelete="SET NULL")
    )
    metric_type: Mapped[str] = mapped_column(String(50))
    metric_value: Mapped[float]
    timestamp: Mapped[datetime]
    timeframe: Mapped[str | None] = mapped_column(String(20))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")


class AgentError(IdMixin, CreatedMixin, Base):
    """Seed 004 AgentOSError."""

    __tablename__ = "agent_error"
    __table_args__ = (
        Index("ix_agent_error_agent_type", "agent_id", "error_type"),
        Index("ix_agent_error_created", "created_at"),
        Index("ix_agent_error_resolved", "is_resolved"),
        Index("ix_agent_error_session", "session_id"),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    storyteller_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("storyteller.id", ondelete="CASCADE")
    )
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE")
    )
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    agent_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agent_execution.id", ondelete="SET NULL")
    )
    error_type: Mapped[str] = mapped_column(String(100))
    error_message: Mapped[str] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(50))
    stack_trace: Mapped[str | None] = mapped_column(Text)
    context: Mapped[dict[str, Any] | None]
    is_resolved: Mapped[bool] = mapped_column(default=False)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )
    resolution_note: Mapped[str | None] = mapped_column(Text)


class UsageDaily(IdMixin, TimestampMixin, Base):
    """Seed 004 AgentOSUsage: one row per (storyteller, agent, date), recomputable."""

    __tablename__ = "usage_daily"
    __table_args__ = (
        UniqueConstraint("storyteller_id", "agent_id", "date"),
        Index("ix_usage_daily_storyteller_date", "storyteller_id", "date"),
        Index("ix_usage_daily_agent_date", "agent_id", "date"),
        Index("ix_usage_daily_date", "date"),
    )

    storyteller_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("storyteller.id", ondelete="CASCADE")
    )
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"))
    date: Mapped[date]
    session_count: Mapped[int] = mapped_column(default=0)
    message_count: Mapped[int] = mapped_column(default=0)
    llm_calls: Mapped[int] = mapped_column(default=0)
    total_tokens: Mapped[int] = mapped_column(default=0)
    total_cost: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    unpriced_calls: Mapped[int] = mapped_column(default=0)
    avg_response_time_ms: Mapped[int] = mapped_column(default=0)
    unique_tools_used: Mapped[int] = mapped_column(default=0)


class PerformanceDaily(IdMixin, TimestampMixin, Base):
    """Seed 004 AgentOSPerformance: one row per (agent, date), recomputable."""

    __tablename__ = "performance_daily"
    __table_args__ = (
        UniqueConstraint("agent_id", "date"),
        Index("ix_performance_daily_date", "date"),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"))
    date: Mapped[date]
    total_sessions: Mapped[int] = mapped_column(default=0)
    successful_sessions: Mapped[int] = mapped_column(default=0)
    failed_sessions: Mapped[int] = mapped_column(default=0)
    avg_response_time_ms: Mapped[int] = mapped_column(default=0)
    avg_tokens_per_session: Mapped[int] = mapped_column(default=0)
    avg_cost_per_session: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    user_satisfaction_score: Mapped[float] = mapped_column(default=0.0)
    error_rate: Mapped[float] = mapped_column(default=0.0)

    @property
    def success_rate(self) -> float:
        if self.total_sessions == 0:
            return 0.0
        return self.successful_sessions / self.total_sessions * 100


class Document(IdMixin, CreatedMixin, Base):
    """Files and texts brought in by agents or people: photos, audio, transcripts, books."""

    __tablename__ = "document"
    __table_args__ = (
        Index("ix_document_session", "session_id"),
        Index("ix_document_storyteller", "storyteller_id"),
    )

    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE")
    )
    storyteller_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("storyteller.id", ondelete="CASCADE")
    )
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    interaction_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session_interaction.id", ondelete="SET NULL")
    )
    life_event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("life_event.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(20), default="document")
    title: Mapped[str] = mapped_column(String(500))
    content: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(100), default="text/plain")
    source_url: Mapped[str | None] = mapped_column(Text)
    storage_key: Mapped[str | None] = mapped_column(String(300))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )


# Upper bounds (ms) of the latency histogram buckets kept by llm_usage_daily; the last
# bucket is open-ended. Histograms add up across days, so p50/p95 over any range come
# from the rollups (to within one bucket), without reading raw rows.
LATENCY_BUCKETS_MS = (
    25,
    50,
    75,
    100,
    150,
    200,
    250,
    300,
    400,
    500,
    650,
    800,
    1000,
    1250,
    1500,
    2000,
    2500,
    3000,
    4000,
    5000,
    6500,
    8000,
    10000,
    15000,
    20000,
    30000,
    60000,
)


class LlmUsageDaily(IdMixin, TimestampMixin, Base):
    """LLM calls per day at the dashboard's grain: (date, storyteller, agent, version, model).

    Finer than seed 004's usage_daily (which has no model, version or latency spread), so the
    dashboards over long ranges never read raw llm_interaction rows. ``dimension_key`` joins
    the nullable dimensions into one string so the UNIQUE constraint holds with NULLs.
    Written by ``flask rollup``; recomputable for any date range.
    """

    __tablename__ = "llm_usage_daily"
    __table_args__ = (
        UniqueConstraint("date", "dimension_key"),
        Index("ix_llm_usage_daily_date", "date"),
        Index("ix_llm_usage_daily_storyteller_date", "storyteller_id", "date"),
    )

    date: Mapped[date]
    dimension_key: Mapped[str] = mapped_column(String(300))
    storyteller_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("storyteller.id", ondelete="CASCADE")
    )
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"))
    agent_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agent_version.id", ondelete="SET NULL")
    )
    model: Mapped[str] = mapped_column(String(200))
    calls: Mapped[int] = mapped_column(default=0)
    failed_calls: Mapped[int] = mapped_column(default=0)
    fallback_calls: Mapped[int] = mapped_column(default=0)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    response_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    priced_calls: Mapped[int] = mapped_column(default=0)
    unpriced_calls: Mapped[int] = mapped_column(default=0)
    total_cost: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    latency_sum_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    # {"<bucket index>": count}, non-zero buckets only (see storyteller.rollups)
    latency_histogram: Mapped[dict[str, int]] = mapped_column(JsonType, default=dict)
    ttft_count: Mapped[int] = mapped_column(default=0)
    ttft_sum_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    ttft_histogram: Mapped[dict[str, int]] = mapped_column(JsonType, default=dict)
