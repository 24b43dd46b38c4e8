"""What the interviewer learned about a storyteller (seed 000 InteractionMemory, MemoryAccess).

``remember`` is what the interview calls: the same fact told again raises the memory's
confidence; a differing account of the same thing (same ``memory_key``) becomes a new
memory linked both ways to the one it contradicts, and never overwrites it. Disputed
memories are neither offered to the agent nor reinforced.

Functions flush, never commit: the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from storyteller.models import InteractionMemory, MemoryAccess, utcnow

__all__ = [
    "IGNORED_CONTENT_KEYS",
    "REINFORCEMENT",
    "MAX_REINFORCED_CONFIDENCE",
    "MemoryInputError",
    "contents_agree",
    "create_memory",
    "record_memory_access",
    "reinforced_confidence",
    "remember",
    "usable_memories",
]

# Free text about a fact (how it was said, where it came from) and our own bookkeeping:
# never compared when deciding whether two accounts agree.
IGNORED_CONTENT_KEYS = frozenset({"statement", "source", "contradicts"})
# Telling the same thing again closes this share of the remaining doubt ...
REINFORCEMENT = 0.3
# ... but we never become certain of what we were told.
MAX_REINFORCED_CONFIDENCE = 0.99


class MemoryInputError(ValueError):
    """A memory or memory access cannot be recorded as asked."""


def _unit(name: str, value: float | None, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MemoryInputError(f"{name} must be a number between 0 and 1")
    if not 0.0 <= float(value) <= 1.0:
        raise MemoryInputError(f"{name} must be between 0 and 1")
    return float(value)


def _short_text(name: str, value: str | None, limit: int, *, required: bool) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise MemoryInputError(f"{name} is required")
        return None
    if len(text) > limit:
        raise MemoryInputError(f"{name} is longer than {limit} characters")
    return text


def create_memory(
    db: DbSession,
    *,
    storyteller_id: uuid.UUID,
    memory_type: str,
    content: dict[str, Any],
    type: str = "fact",
    agent_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    interaction_id: uuid.UUID | None = None,
    importance: float = 0.5,
    confidence: float = 0.5,
    source_type: str = "user_input",
    memory_key: str | None = None,
    related_memories: list[str | uuid.UUID] | None = None,
) -> InteractionMemory:
    """Add a memory about a storyteller and flush; importance and confidence are 0..1."""
    if not isinstance(content, dict):
        raise MemoryInputError("content must be a mapping")
    memory = InteractionMemory(
        storyteller_id=storyteller_id,
        agent_id=agent_id,
        session_id=session_id,
        interaction_id=interaction_id,
        type=_short_text("type", type, 30, required=True),
        memory_type=_short_text("memory_type", memory_type, 30, required=True),
        memory_key=_short_text("memory_key", memory_key, 200, required=False),
        content=dict(content),
        importance=_unit("importance", importance),
        confidence=_unit("confidence", confidence),
        source_type=_short_text("source_type", source_type, 30, required=True),
        verification_status="unverified",
        related_memories=(
            [str(item) for item in related_memories] if related_memories is not None else None
        ),
        access_count=0,
    )
    db.add(memory)
    db.flush()
    return memory


def record_memory_access(
    db: DbSession,
    *,
    memory_id: uuid.UUID,
    access_type: str = "read",
    accessed_by: str | uuid.UUID,
    accessor_type: str = "agent",
    context: str | None = None,
    usefulness: float | None = None,
    session_id: uuid.UUID | None = None,
    agent_execution_id: uuid.UUID | None = None,
) -> MemoryAccess:
    """Record one read of a memory: a ``memory_access`` row, and on the memory itself
    ``access_count + 1`` (one atomic UPDATE, safe with concurrent readers) and
    ``last_accessed_at`` = the access's ``created_at``."""
    accessed_by_text = _short_text("accessed_by", str(accessed_by or ""), 64, required=True)
    access_type = _short_text("access_type", access_type, 20, required=True)
    accessor_type = _short_text("accessor_type", accessor_type, 20, required=True)
    usefulness = _unit("usefulness", usefulness, optional=True)
    now = utcnow()
    db.flush()
    result = db.execute(
        update(InteractionMemory)
        .where(InteractionMemory.id == memory_id)
        .values(
            access_count=InteractionMemory.access_count + 1,
            last_accessed_at=now,
            updated_at=InteractionMemory.updated_at,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:
        raise MemoryInputError("the memory does not exist")
    loaded = db.identity_map.get(db.identity_key(InteractionMemory, memory_id))
    if loaded is not None:
        db.expire(loaded, ["access_count", "last_accessed_at", "updated_at"])
    access = MemoryAccess(
        memory_id=memory_id,
        access_type=access_type,
        accessed_by=accessed_by_text,
        accessor_type=accessor_type,
        context=context,
        usefulness=usefulness,
        session_id=session_id,
        agent_execution_id=agent_execution_id,
        created_at=now,
    )
    db.add(access)
    db.flush()
    return access


def usable_memories(
    db: DbSession,
    storyteller_id: uuid.UUID,
    *,
    memory_type: str | None = None,
    limit: int | None = None,
) -> list[InteractionMemory]:
    """The storyteller's memories the agent may use: all but disputed ones, most important
    first, then most certain, then newest."""
    query = select(InteractionMemory).where(
        InteractionMemory.storyteller_id == storyteller_id,
        InteractionMemory.verification_status != "disputed",
    )
    if memory_type is not None:
        query = query.where(InteractionMemory.memory_type == memory_type)
    query = query.order_by(
        InteractionMemory.importance.desc(),
        InteractionMemory.confidence.desc(),
        InteractionMemory.created_at.desc(),
        InteractionMemory.id,
    )
    if limit is not None:
        query = query.limit(limit)
    return list(db.scalars(query))


def _comparable(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items()}
    return value


def contents_agree(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """True unless a key present in both has differing values (text compared ignoring case
    and spacing; "statement", "source" and "contradicts" are not compared)."""
    shared = (set(old) & set(new)) - IGNORED_CONTENT_KEYS
    return all(_comparable(old[key]) == _comparable(new[key]) for key in shared)


def reinforced_confidence(current: float, told: float | None = None) -> float:
    """Confidence after the same thing was told again: c + (1 - c) * 0.3, or what the new
    telling itself carries if that is more; capped at 0.99, but never lowered."""
    raised = current + (1.0 - current) * REINFORCEMENT
    if told is not None:
        raised = max(raised, told)
    return max(current, min(MAX_REINFORCED_CONFIDENCE, raised))


def remember(
    db: DbSession,
    *,
    storyteller_id: uuid.UUID,
    memory_type: str,
    memory_key: str,
    content: dict[str, Any],
    confidence: float,
    importance: float = 0.5,
    type: str = "fact",
    agent_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    interaction_id: uuid.UUID | None = None,
    source_type: str = "user_input",
) -> InteractionMemory:
    """Remember something the storyteller said, keyed by ``memory_key``.

    - A non-disputed memory with the same storyteller and key whose content agrees (see
      ``contents_agree``; the newest such memory) is reinforced: confidence raised,
      importance kept at the higher of the two, keys it lacked added; it is returned.
    - Otherwise, if non-disputed memories with that key exist, they all disagree: a new
      memory is created with ``content["contradicts"]`` = the newest one's id, and the new
      and old memories list each other in ``related_memories``. The old ones are untouched
      otherwise.
    - Otherwise a new memory is created.
    """
    key = _short_text("memory_key", memory_key, 200, required=True)
    if not isinstance(content, dict):
        raise MemoryInputError("content must be a mapping")
    confidence = _unit("confidence", confidence)
    importance = _unit("importance", importance)
    same_key = list(
        db.scalars(
            select(InteractionMemory)
            .where(
                InteractionMemory.storyteller_id == storyteller_id,
                InteractionMemory.memory_key == key,
                InteractionMemory.verification_status != "disputed",
            )
            .order_by(InteractionMemory.created_at.desc(), InteractionMemory.id)
        )
    )
    for existing in same_key:
        if contents_agree(existing.content or {}, content):
            existing.confidence = reinforced_confidence(existing.confidence, confidence)
            existing.importance = max(existing.importance, importance)
            additions = {
                k: v
                for k, v in content.items()
                if k not in existing.content and k not in IGNORED_CONTENT_KEYS
            }
            if additions:
                existing.content = {**existing.content, **additions}
            db.flush()
            return existing

    new_content = dict(content)
    if same_key:
        new_content["contradicts"] = str(same_key[0].id)
    memory = create_memory(
        db,
        storyteller_id=storyteller_id,
        memory_type=memory_type,
        content=new_content,
        type=type,
        agent_id=agent_id,
        session_id=session_id,
        interaction_id=interaction_id,
        importance=importance,
        confidence=confidence,
        source_type=source_type,
        memory_key=key,
        related_memories=[str(m.id) for m in same_key] if same_key else None,
    )
    for old in same_key:
        related = list(old.related_memories or [])
        if str(memory.id) not in related:
            # A new list, so that the JSON column is seen as changed.
            old.related_memories = [*related, str(memory.id)]
    db.flush()
    return memory
