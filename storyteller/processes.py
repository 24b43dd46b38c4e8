"""Interview processes: versions, their ordered nodes, copying and activation.

A process version is a named, numbered list of nodes (steps). Exactly one version is
active at a time (a partial unique index enforces it). The built-in default process is
never changed in place: "make a new version" copies it (or any version) into an editable
draft with the next version number. Functions flush, never commit: the caller owns the
transaction.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import abort
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session as DbSession

from storyteller import audit, events
from storyteller.agent.context import LIFE_PERIODS
from storyteller.form_errors import FormInputError
from storyteller.models import ProcessNode, ProcessVersion, Session, SessionTemplate, utcnow

__all__ = [
    "LIFE_PERIOD_LABELS",
    "NAME_MAX_LENGTH",
    "NodeFields",
    "ProcessInputError",
    "ProcessLocked",
    "VersionFields",
    "activate",
    "active_version",
    "add_node",
    "copy_version",
    "delete_node",
    "list_versions",
    "move_node",
    "next_version_number",
    "node_or_404",
    "parse_event_types",
    "parse_lines",
    "update_node",
    "update_version",
    "version_or_404",
]

NAME_MAX_LENGTH = 200
VERSION_MAX_LENGTH = 20
LINE_MAX_LENGTH = 500
MAX_LINES = 20
EVENT_TYPE_MAX_LENGTH = 50
MAX_EVENT_TYPES = 20
TEXT_MAX_LENGTH = 5000

LIFE_PERIOD_LABELS: dict[str, str] = {
    "general": "General (the whole life)",
    "childhood": "Childhood",
    "school": "School and growing up",
    "work": "Work",
    "love_and_family": "Love and family",
    "war_and_service": "War and military service",
    "migration": "Migration and moving",
    "loss": "Loss and hard times",
    "later_life": "Later life and legacy",
}
assert set(LIFE_PERIOD_LABELS) == set(LIFE_PERIODS)  # noqa: S101 - kept in step with the agent


class ProcessInputError(FormInputError):
    """Values that cannot be saved; ``errors`` maps each form field to its message."""


class ProcessLocked(ProcessInputError):
    """The built-in process is never changed in place."""

    def __init__(self) -> None:
        super().__init__(
            "process",
            "The built-in process cannot be changed. Make a new version of it and change that.",
        )


# --------------------------------------------------------------------------- parsing


def parse_lines(field: str, text: str | Iterable[str] | None, errors: dict[str, str]) -> list[str]:
    """One item per line: each stripped, blank lines dropped, duplicates removed."""
    if text is None:
        return []
    lines = text.splitlines() if isinstance(text, str) else list(text)
    items: list[str] = []
    for line in lines:
        line = " ".join(str(line).split())
        if not line:
            continue
        if len(line) > LINE_MAX_LENGTH:
            errors.setdefault(field, f"Each line can be at most {LINE_MAX_LENGTH} characters.")
            continue
        if line not in items:
            items.append(line)
    if len(items) > MAX_LINES:
        errors.setdefault(field, f"Please keep it to at most {MAX_LINES} lines.")
    return items


def parse_event_types(
    field: str, text: str | Iterable[str] | None, errors: dict[str, str]
) -> list[str]:
    """Event types separated by commas (or lines): lower case, unique, short."""
    if text is None:
        return []
    raw = re.split(r"[,\n]", text) if isinstance(text, str) else list(text)
    items: list[str] = []
    for value in raw:
        value = "_".join(str(value).lower().split())
        if not value:
            continue
        if len(value) > EVENT_TYPE_MAX_LENGTH:
            errors.setdefault(
                field, f"Each event type can be at most {EVENT_TYPE_MAX_LENGTH} characters."
            )
            continue
        if value not in items:
            items.append(value)
    if len(items) > MAX_EVENT_TYPES:
        errors.setdefault(field, f"Please list at most {MAX_EVENT_TYPES} event types.")
    return items


def _required(field: str, value: str | None, limit: int, errors: dict[str, str], what: str) -> str:
    value = " ".join((value or "").split()) if limit <= NAME_MAX_LENGTH else (value or "").strip()
    if not value:
        errors[field] = f"Please enter {what}."
    elif len(value) > limit:
        errors[field] = f"This can be at most {limit} characters."
    return value


def _optional_text(field: str, value: str | None, errors: dict[str, str]) -> str | None:
    value = (value or "").strip()
    if len(value) > TEXT_MAX_LENGTH:
        errors[field] = f"This can be at most {TEXT_MAX_LENGTH} characters."
    return value or None


# --------------------------------------------------------------------------- lookups


def version_or_404(db: DbSession, process_id: uuid.UUID) -> ProcessVersion:
    version = db.get(ProcessVersion, process_id)
    if version is None:
        abort(404)
    return version


def node_or_404(db: DbSession, node_id: uuid.UUID) -> ProcessNode:
    node = db.get(ProcessNode, node_id)
    if node is None:
        abort(404)
    return node


def list_versions(db: DbSession) -> list[ProcessVersion]:
    """Every version: the active one first, then by name and newest first."""
    versions = list(db.scalars(select(ProcessVersion)))
    versions.sort(key=lambda v: (not v.is_active, v.name.lower(), -_major(v.version_number)))
    return versions


def active_version(db: DbSession) -> ProcessVersion | None:
    return db.scalar(select(ProcessVersion).where(ProcessVersion.is_active))


def _major(version_number: str) -> int:
    match = re.match(r"\s*(\d+)", version_number or "")
    return int(match.group(1)) if match else 0


def next_version_number(db: DbSession, name: str) -> str:
    """One more than the highest major version number used by a process of this name."""
    numbers = db.scalars(select(ProcessVersion.version_number).where(ProcessVersion.name == name))
    return f"{max((_major(n) for n in numbers), default=0) + 1}.0"


def _editable(version: ProcessVersion) -> None:
    if version.is_builtin:
        raise ProcessLocked()


# --------------------------------------------------------------------------- versions


@dataclass
class VersionFields:
    name: str = ""
    version_number: str = ""
    description: str = ""


def copy_version(
    db: DbSession, source: ProcessVersion, *, user_id: uuid.UUID | None
) -> ProcessVersion:
    """An editable, inactive copy of ``source`` (nodes included) with the next version number."""
    copy = ProcessVersion(
        name=source.name,
        version_number=next_version_number(db, source.name),
        description=source.description,
        is_active=False,
        is_builtin=False,
    )
    for node in source.nodes:
        copy.nodes.append(
            ProcessNode(
                node_name=node.node_name,
                sequence=node.sequence,
                agent_objective=node.agent_objective,
                agent_constraints=node.agent_constraints,
                user_facing_text=node.user_facing_text,
                life_period=node.life_period,
                suggested_event_types=list(node.suggested_event_types or []),
            )
        )
    db.add(copy)
    db.flush()
    _record(db, "process.copied", copy, user_id, {"from": str(source.id)}, action="create")
    return copy


def update_version(
    db: DbSession, version: ProcessVersion, fields: VersionFields, *, user_id: uuid.UUID | None
) -> ProcessVersion:
    _editable(version)
    errors: dict[str, str] = {}
    name = _required("name", fields.name, NAME_MAX_LENGTH, errors, "a name for the process")
    number = _required(
        "version_number", fields.version_number, VERSION_MAX_LENGTH, errors, "a version number"
    )
    description = _optional_text("description", fields.description, errors)
    if not errors and (name, number) != (version.name, version.version_number):
        taken = db.scalar(
            select(ProcessVersion.id).where(
                ProcessVersion.name == name,
                ProcessVersion.version_number == number,
                ProcessVersion.id != version.id,
            )
        )
        if taken is not None:
            errors["version_number"] = (
                f"“{name}” already has a version {number}. Choose another version number."
            )
    if errors:
        raise ProcessInputError(errors)
    version.name, version.version_number, version.description = name, number, description
    db.flush()
    _record(db, "process.updated", version, user_id)
    return version


def activate(db: DbSession, version: ProcessVersion, *, user_id: uuid.UUID | None) -> None:
    """Make ``version`` the one active process: the old one is switched off first, then this
    one on, in the caller's transaction (the partial unique index forbids two at once)."""
    if version.is_active:
        return
    if not version.nodes:
        raise ProcessInputError("process", "Add at least one step before using this process.")
    previous = active_version(db)
    db.execute(
        update(ProcessVersion)
        .where(ProcessVersion.is_active, ProcessVersion.id != version.id)
        .values(is_active=False)
        .execution_options(synchronize_session="fetch")
    )
    db.flush()
    version.is_active = True
    version.activated_at = utcnow()
    db.flush()
    _record(
        db,
        "process.activated",
        version,
        user_id,
        {"previous": str(previous.id) if previous is not None else None},
    )


# --------------------------------------------------------------------------- nodes


@dataclass
class NodeFields:
    node_name: str = ""
    agent_objective: str = ""
    agent_constraints: str = ""
    user_facing_text: str = ""
    life_period: str = ""
    suggested_event_types: str = ""

    @classmethod
    def of(cls, node: ProcessNode) -> NodeFields:
        return cls(
            node_name=node.node_name,
            agent_objective=node.agent_objective,
            agent_constraints=node.agent_constraints or "",
            user_facing_text=node.user_facing_text or "",
            life_period=node.life_period or "",
            suggested_event_types=", ".join(node.suggested_event_types or []),
        )


def _clean_node(fields: NodeFields) -> dict[str, Any]:
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {
        "node_name": _required(
            "node_name", fields.node_name, NAME_MAX_LENGTH, errors, "a name for this step"
        ),
        "agent_objective": _required(
            "agent_objective",
            fields.agent_objective,
            TEXT_MAX_LENGTH,
            errors,
            "what the interviewer should aim for in this step",
        ),
    }
    constraints = parse_lines("agent_constraints", fields.agent_constraints, errors)
    cleaned["agent_constraints"] = "\n".join(constraints) or None
    cleaned["user_facing_text"] = _optional_text(
        "user_facing_text", fields.user_facing_text, errors
    )
    period = (fields.life_period or "").strip()
    if period and period not in LIFE_PERIODS:
        errors["life_period"] = "Choose one of the life periods in the list."
    cleaned["life_period"] = period or None
    cleaned["suggested_event_types"] = parse_event_types(
        "suggested_event_types", fields.suggested_event_types, errors
    )
    if errors:
        raise ProcessInputError(errors)
    return cleaned


def add_node(
    db: DbSession, version: ProcessVersion, fields: NodeFields, *, user_id: uuid.UUID | None
) -> ProcessNode:
    """A new step at the end of the process."""
    _editable(version)
    cleaned = _clean_node(fields)
    last = db.scalar(
        select(func.max(ProcessNode.sequence)).where(ProcessNode.process_version_id == version.id)
    )
    node = ProcessNode(process_version_id=version.id, sequence=(last or 0) + 1, **cleaned)
    db.add(node)
    db.flush()
    db.refresh(version, ["nodes"])
    _record(db, "process.node_added", version, user_id, {"node_id": str(node.id)})
    return node


def update_node(
    db: DbSession, node: ProcessNode, fields: NodeFields, *, user_id: uuid.UUID | None
) -> ProcessNode:
    _editable(node.process_version)
    cleaned = _clean_node(fields)
    for key, value in cleaned.items():
        setattr(node, key, value)
    db.flush()
    _record(db, "process.node_updated", node.process_version, user_id, {"node_id": str(node.id)})
    return node


def _renumber(db: DbSession, nodes: list[ProcessNode]) -> None:
    """Give ``nodes`` the sequences 1..n in this order without ever breaking the unique
    (version, sequence) pair: first every node moves to a free negative number, then home."""
    for position, node in enumerate(nodes, start=1):
        node.sequence = -position
    db.flush()
    for position, node in enumerate(nodes, start=1):
        node.sequence = position
    db.flush()


def move_node(
    db: DbSession, node: ProcessNode, direction: str, *, user_id: uuid.UUID | None
) -> ProcessNode:
    """Swap a step with the one before ("up") or after ("down") it."""
    version = node.process_version
    _editable(version)
    if direction not in ("up", "down"):
        raise ProcessInputError("direction", "Choose to move the step up or down.")
    ordered = sorted(version.nodes, key=lambda n: n.sequence)
    index = ordered.index(node)
    target = index - 1 if direction == "up" else index + 1
    if target < 0 or target >= len(ordered):
        where = "first" if direction == "up" else "last"
        raise ProcessInputError("direction", f"“{node.node_name}” is already the {where} step.")
    ordered[index], ordered[target] = ordered[target], ordered[index]
    _renumber(db, ordered)
    db.refresh(version, ["nodes"])
    _record(
        db,
        "process.node_moved",
        version,
        user_id,
        {"node_id": str(node.id), "direction": direction},
    )
    return node


def delete_node(db: DbSession, node: ProcessNode, *, user_id: uuid.UUID | None) -> None:
    """Remove a step that no session was planned from; the others close the gap."""
    version = node.process_version
    _editable(version)
    used = db.scalar(
        select(func.count(Session.id)).where(Session.current_process_node_id == node.id)
    )
    if used:
        sessions = "session was" if used == 1 else "sessions were"
        raise ProcessInputError(
            "node",
            f"{used} {sessions} planned from “{node.node_name}”, so it cannot be deleted. "
            "You can change its wording instead.",
        )
    node_id = str(node.id)
    for template in db.scalars(select(SessionTemplate)):
        if template.suggested_for_process_nodes and node_id in template.suggested_for_process_nodes:
            template.suggested_for_process_nodes = [
                n for n in template.suggested_for_process_nodes if n != node_id
            ]
    remaining = [n for n in sorted(version.nodes, key=lambda n: n.sequence) if n is not node]
    version.nodes.remove(node)
    db.delete(node)
    db.flush()
    _renumber(db, remaining)
    db.refresh(version, ["nodes"])
    _record(db, "process.node_deleted", version, user_id, {"node_id": node_id}, action="delete")


# --------------------------------------------------------------------------- records


def _record(
    db: DbSession,
    event_type: str,
    version: ProcessVersion,
    user_id: uuid.UUID | None,
    extra: dict[str, Any] | None = None,
    *,
    action: str = "update",
) -> None:
    payload = {"process_version_id": str(version.id), **(extra or {})}
    events.record_event(db, event_type=event_type, user_id=user_id, payload=payload)
    audit.record(
        db,
        actor_id=user_id,
        action=action,
        object_type="process_version",
        object_id=version.id,
        details={"event": event_type, **payload},
    )


def next_node(node: ProcessNode | None) -> ProcessNode | None:
    """The step after ``node`` in its process version (None after the last, or without one)."""
    if node is None:
        return None
    return next((n for n in node.process_version.nodes if n.sequence > node.sequence), None)
