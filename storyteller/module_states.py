"""Module state with history (seed 000 ModuleState + StateTransition).

A piece of state is identified by (module_id, state_type, session_id). Each change is a new
``module_state`` row whose ``previous_state_id`` points at the row it replaces; the current
state is the head of that chain (the row nobody points at). Every change also writes a
``state_transition`` from the old row to the new one, with the top-level keys that changed.
Writing the same content again changes nothing and records nothing.

The interview keeps its progress here (state_type ``interview_progress``, one chain per
session), so a paused session resumes with full context on any server.

Functions flush, never commit: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import exists, literal, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import aliased

from storyteller.models import ModuleState, StateTransition
from storyteller.models.memory import TRIGGER_TYPES

__all__ = [
    "ModuleStateError",
    "canonical_json",
    "current_state",
    "record_state_transition",
    "state_hash",
    "state_history",
    "upsert_module_state",
]

# Guards against a cycle in previous_state_id (which the functions here never create).
_MAX_HISTORY = 100_000
# How often to look again when another writer extended the chain while we waited.
_HEAD_ATTEMPTS = 5


class ModuleStateError(ValueError):
    """A module state or transition cannot be written as asked."""


def canonical_json(state: Any) -> str:
    """The one JSON text of a value: sorted keys, no spaces, non-JSON values as str()."""
    return json.dumps(state, sort_keys=True, separators=(",", ":"), default=str)


def state_hash(state: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``state``: equal content, equal hash."""
    return hashlib.sha256(canonical_json(state).encode("utf-8")).hexdigest()


def _chain_filter(module_id: str, state_type: str, session_id: uuid.UUID | None) -> list[Any]:
    session_clause = (
        ModuleState.session_id.is_(None)
        if session_id is None
        else ModuleState.session_id == session_id
    )
    return [
        ModuleState.module_id == module_id,
        ModuleState.state_type == state_type,
        session_clause,
    ]


def current_state(
    db: DbSession, *, module_id: str, state_type: str, session_id: uuid.UUID | None = None
) -> ModuleState | None:
    """The latest state of the chain (the row with no successor), or None if there is none."""
    return db.scalar(_head_query(module_id, state_type, session_id))


def _head_query(module_id: str, state_type: str, session_id: uuid.UUID | None) -> Any:
    successor = aliased(ModuleState)
    return (
        select(ModuleState)
        .where(
            *_chain_filter(module_id, state_type, session_id),
            ~exists().where(successor.previous_state_id == ModuleState.id),
        )
        # Should two heads ever exist (two writers starting a chain at once), the newest wins.
        .order_by(ModuleState.created_at.desc(), ModuleState.id.desc())
        .limit(1)
    )


def _locked_head(
    db: DbSession, module_id: str, state_type: str, session_id: uuid.UUID | None
) -> ModuleState | None:
    """The head, row-locked on PostgreSQL; retried if someone extended the chain meanwhile."""
    head = None
    for _ in range(_HEAD_ATTEMPTS):
        head = db.scalar(_head_query(module_id, state_type, session_id).with_for_update())
        if head is None:
            return None
        successor = db.scalar(
            select(ModuleState.id).where(ModuleState.previous_state_id == head.id).limit(1)
        )
        if successor is None:
            return head
    return head


def _check_trigger(trigger_type: str) -> None:
    if trigger_type not in TRIGGER_TYPES:
        raise ModuleStateError(f"trigger_type must be one of {', '.join(TRIGGER_TYPES)}")


def _changes(
    old: dict[str, Any], new: dict[str, Any]
) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    """Top-level keys whose value differs, with the old values and the new ones.

    A removed key appears only in the old values, an added key only in the new values.
    """
    changed = sorted(
        key
        for key in set(old) | set(new)
        if key not in old or key not in new or canonical_json(old[key]) != canonical_json(new[key])
    )
    previous = {key: old[key] for key in changed if key in old}
    current = {key: new[key] for key in changed if key in new}
    return changed, previous, current


def upsert_module_state(
    db: DbSession,
    *,
    module_id: str,
    state: dict[str, Any],
    state_type: str,
    version: str = "1.0.0",
    session_id: uuid.UUID | None = None,
    trigger_type: str = "system",
    trigger_id: str | None = None,
    is_snapshot: bool = False,
    snapshot_reason: str | None = None,
    expires_at: datetime | None = None,
) -> ModuleState:
    """Store ``state`` as the current state of (module_id, state_type, session_id).

    - no state yet: a first row is created (no transition: there is nothing to come from);
    - same content as the current row (same hash): the current row is returned, nothing
      is written;
    - different content: a new row chained to the current one by ``previous_state_id``, and
      one ``state_transition`` (old row -> new row) listing the changed top-level keys.

    The content is stored as its canonical JSON reading (values JSON cannot hold, such as
    datetimes, become strings), so the stored state always matches its hash.
    """
    if not isinstance(state, dict):
        raise ModuleStateError("state must be a mapping")
    module_id = (module_id or "").strip()
    state_type = (state_type or "").strip()
    if not module_id or not state_type:
        raise ModuleStateError("module_id and state_type are required")
    _check_trigger(trigger_type)
    stored = json.loads(canonical_json(state))
    digest = state_hash(stored)

    head = _locked_head(db, module_id, state_type, session_id)
    if head is not None and head.state_hash == digest:
        return head

    new_state = ModuleState(
        module_id=module_id,
        state=stored,
        version=version,
        session_id=session_id,
        previous_state_id=head.id if head is not None else None,
        state_type=state_type,
        state_hash=digest,
        is_snapshot=is_snapshot,
        snapshot_reason=snapshot_reason,
        expires_at=expires_at,
    )
    db.add(new_state)
    db.flush()
    if head is not None:
        changed, previous, current = _changes(head.state or {}, stored)
        record_state_transition(
            db,
            state_id=head.id,
            to_state_id=new_state.id,
            trigger_type=trigger_type,
            trigger_id=trigger_id,
            transition_data={
                "changed_keys": changed,
                "from_hash": head.state_hash,
                "to_hash": digest,
            },
            previous_values=previous,
            new_values=current,
        )
    return new_state


def record_state_transition(
    db: DbSession,
    *,
    state_id: uuid.UUID,
    trigger_type: str,
    trigger_id: str | None = None,
    transition_data: dict[str, Any] | None = None,
    previous_values: dict[str, Any] | None = None,
    new_values: dict[str, Any] | None = None,
    to_state_id: uuid.UUID | None = None,
) -> StateTransition:
    """Record a transition from state ``state_id`` (to ``to_state_id``, when known)."""
    _check_trigger(trigger_type)
    if db.get(ModuleState, state_id) is None:
        raise ModuleStateError("the state transitioned from does not exist")
    if to_state_id is not None and db.get(ModuleState, to_state_id) is None:
        raise ModuleStateError("the state transitioned to does not exist")
    if trigger_id is not None:
        trigger_id = str(trigger_id)
        if len(trigger_id) > 100:
            raise ModuleStateError("trigger_id is longer than 100 characters")
    transition = StateTransition(
        state_id=state_id,
        to_state_id=to_state_id,
        trigger_type=trigger_type,
        trigger_id=trigger_id,
        transition_data=_jsonable(transition_data),
        previous_values=_jsonable(previous_values),
        new_values=_jsonable(new_values),
    )
    db.add(transition)
    db.flush()
    return transition


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else json.loads(canonical_json(value))


def state_history(db: DbSession, state: ModuleState) -> list[ModuleState]:
    """``state`` and every state before it, newest first, following ``previous_state_id``."""
    db.flush()
    older = aliased(ModuleState)
    chain = (
        select(
            ModuleState.id.label("id"),
            ModuleState.previous_state_id.label("previous_id"),
            literal(0).label("depth"),
        )
        .where(ModuleState.id == state.id)
        .cte("chain", recursive=True)
    )
    chain = chain.union_all(
        select(older.id, older.previous_state_id, chain.c.depth + 1).where(
            older.id == chain.c.previous_id, chain.c.depth < _MAX_HISTORY
        )
    )
    return list(
        db.scalars(
            select(ModuleState).join(chain, ModuleState.id == chain.c.id).order_by(chain.c.depth)
        )
    )
