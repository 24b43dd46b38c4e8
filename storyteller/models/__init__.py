"""Every table of the one schema (../shared/SCHEMA.md), re-exported so Alembic sees them all."""

from storyteller.models.agents import (
    Agent,
    AgentError,
    AgentExecution,
    AgentMetric,
    AgentVersion,
    Document,
    Event,
    LlmInteraction,
    PerformanceDaily,
    SessionMetric,
    UsageDaily,
)
from storyteller.models.base import Base, utcnow
from storyteller.models.memory import (
    InteractionMemory,
    MemoryAccess,
    MemoryAnnotation,
    ModuleState,
    StateTransition,
)
from storyteller.models.people import (
    AuditLog,
    LoginAttempt,
    LoginSession,
    Storyteller,
    StorytellerAccess,
    User,
)
from storyteller.models.process import LifeEvent, ProcessNode, ProcessVersion
from storyteller.models.sessions import (
    ArtifactRevision,
    Session,
    SessionArtifact,
    SessionInteraction,
    SessionLifeEvent,
    SessionNote,
    SessionTemplate,
)

__all__ = [
    "Agent",
    "AgentError",
    "AgentExecution",
    "AgentMetric",
    "AgentVersion",
    "ArtifactRevision",
    "AuditLog",
    "Base",
    "Document",
    "Event",
    "InteractionMemory",
    "LifeEvent",
    "LlmInteraction",
    "LoginAttempt",
    "LoginSession",
    "MemoryAccess",
    "MemoryAnnotation",
    "ModuleState",
    "PerformanceDaily",
    "ProcessNode",
    "ProcessVersion",
    "Session",
    "SessionArtifact",
    "SessionInteraction",
    "SessionLifeEvent",
    "SessionMetric",
    "SessionNote",
    "SessionTemplate",
    "StateTransition",
    "Storyteller",
    "StorytellerAccess",
    "UsageDaily",
    "User",
    "utcnow",
]
