"""Session templates (seed 003 ``session_template``): create, edit, copy, retire, restore.

A template holds the defaults a new session starts from. Built-in templates (shipped in
builtin_content.py) are never changed in place: "copy and edit" makes an editable copy.
A retired template is kept (sessions may point at it) but is hidden from scheduling until
restored. Functions flush, never commit: the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import abort
from sqlalchemy import Select, select
from sqlalchemy.orm import Session as DbSession

from storyteller import audit, events
from storyteller.form_errors import FormInputError
from storyteller.models import ProcessNode, ProcessVersion, SessionTemplate
from storyteller.processes import NAME_MAX_LENGTH, parse_event_types, parse_lines

__all__ = [
    "DURATION_MAX",
    "DURATION_MIN",
    "TemplateFields",
    "TemplateInputError",
    "TemplateLocked",
    "active_templates",
    "copy_template",
    "create_template",
    "list_templates",
    "node_choices",
    "node_names",
    "restore_template",
    "retire_template",
    "template_or_404",
    "update_template",
]

DURATION_MIN = 5
DURATION_MAX = 240
TEXT_MAX_LENGTH = 5000


class TemplateInputError(FormInputError):
    """Values that cannot be saved; ``errors`` maps each form field to its message."""


class TemplateLocked(TemplateInputError):
    """A built-in template is not edited in place."""

    def __init__(self) -> None:
        super().__init__(
            "template",
            "Built-in templates cannot be changed. Use “Copy and edit” to make your own version.",
        )


@dataclass
class TemplateFields:
    """What the template form sends, as text (lists one item per line)."""

    template_name: str = ""
    template_description: str = ""
    suggested_for_event_types: str = ""
    suggested_for_process_nodes: list[str] = field(default_factory=list)
    default_intention: str = ""
    default_success_indicators: str = ""
    default_completion_indicators: str = ""
    default_constraints: str = ""
    default_procedure_notes: str = ""
    default_duration_minutes: str = "30"
    wants_photos: bool = False

    @classmethod
    def of(cls, template: SessionTemplate) -> TemplateFields:
        return cls(
            template_name=template.template_name,
            template_description=template.template_description or "",
            suggested_for_event_types=", ".join(template.suggested_for_event_types or []),
            suggested_for_process_nodes=list(template.suggested_for_process_nodes or []),
            default_intention=template.default_intention or "",
            default_success_indicators="\n".join(template.default_success_indicators or []),
            default_completion_indicators="\n".join(template.default_completion_indicators or []),
            default_constraints="\n".join(template.default_constraints or []),
            default_procedure_notes=template.default_procedure_notes or "",
            default_duration_minutes=(
                str(template.default_duration_minutes)
                if template.default_duration_minutes is not None
                else ""
            ),
            wants_photos=template.wants_photos,
        )


# --------------------------------------------------------------------------- validation


def _text(field: str, value: str | None, errors: dict[str, str], *, required: str = "") -> str:
    value = (value or "").strip()
    if required and not value:
        errors[field] = required
    elif len(value) > TEXT_MAX_LENGTH:
        errors[field] = f"This can be at most {TEXT_MAX_LENGTH} characters."
    return value


def _duration(value: str | int | None, errors: dict[str, str]) -> int | None:
    text = str(value if value is not None else "").strip()
    message = f"Enter the usual length in whole minutes, from {DURATION_MIN} to {DURATION_MAX}."
    if not text:
        errors["default_duration_minutes"] = message
        return None
    try:
        minutes = int(text)
    except ValueError:
        errors["default_duration_minutes"] = message
        return None
    if minutes < DURATION_MIN or minutes > DURATION_MAX:
        errors["default_duration_minutes"] = message
        return None
    return minutes


def _nodes(db: DbSession, values: Iterable[str], errors: dict[str, str]) -> list[ProcessNode]:
    nodes: list[ProcessNode] = []
    for value in values:
        value = (value or "").strip()
        if not value:
            continue
        try:
            node = db.get(ProcessNode, uuid.UUID(value))
        except ValueError:
            node = None
        if node is None:
            errors["suggested_for_process_nodes"] = (
                "One of the chosen process steps does not exist any more. Please choose again."
            )
            return []
        if node not in nodes:
            nodes.append(node)
    return nodes


def _clean(db: DbSession, fields: TemplateFields) -> dict[str, Any]:
    errors: dict[str, str] = {}
    name = " ".join((fields.template_name or "").split())
    if not name:
        errors["template_name"] = "Please give the template a name."
    elif len(name) > NAME_MAX_LENGTH:
        errors["template_name"] = f"The name can be at most {NAME_MAX_LENGTH} characters."
    nodes = _nodes(db, fields.suggested_for_process_nodes or [], errors)
    cleaned: dict[str, Any] = {
        "template_name": name,
        "template_description": _text("template_description", fields.template_description, errors)
        or None,
        "suggested_for_event_types": parse_event_types(
            "suggested_for_event_types", fields.suggested_for_event_types, errors
        ),
        "suggested_for_process_nodes": [str(n.id) for n in nodes],
        "default_intention": _text(
            "default_intention",
            fields.default_intention,
            errors,
            required="Please write what the session should achieve (its intention).",
        ),
        "default_success_indicators": parse_lines(
            "default_success_indicators", fields.default_success_indicators, errors
        ),
        "default_completion_indicators": parse_lines(
            "default_completion_indicators", fields.default_completion_indicators, errors
        ),
        "default_constraints": parse_lines(
            "default_constraints", fields.default_constraints, errors
        ),
        "default_procedure_notes": _text(
            "default_procedure_notes", fields.default_procedure_notes, errors
        )
        or None,
        "default_duration_minutes": _duration(fields.default_duration_minutes, errors),
        "wants_photos": bool(fields.wants_photos),
    }
    if errors:
        raise TemplateInputError(errors)
    cleaned["process_version_id"] = nodes[0].process_version_id if nodes else None
    return cleaned


# --------------------------------------------------------------------------- lookups


def template_or_404(db: DbSession, template_id: uuid.UUID) -> SessionTemplate:
    template = db.get(SessionTemplate, template_id)
    if template is None:
        abort(404)
    return template


def active_templates() -> Select[tuple[SessionTemplate]]:
    """The templates offered when scheduling (retired ones are left out), by name."""
    return (
        select(SessionTemplate)
        .where(SessionTemplate.is_active)
        .order_by(SessionTemplate.template_name)
    )


def list_templates(db: DbSession) -> tuple[list[SessionTemplate], list[SessionTemplate]]:
    """(in use, retired), each by name."""
    templates = list(db.scalars(select(SessionTemplate).order_by(SessionTemplate.template_name)))
    return [t for t in templates if t.is_active], [t for t in templates if not t.is_active]


# --------------------------------------------------------------------------- changes


def create_template(
    db: DbSession, fields: TemplateFields, *, user_id: uuid.UUID | None
) -> SessionTemplate:
    template = SessionTemplate(is_active=True, is_builtin=False, **_clean(db, fields))
    db.add(template)
    db.flush()
    _record(db, "template.created", template, user_id, action="create")
    return template


def update_template(
    db: DbSession, template: SessionTemplate, fields: TemplateFields, *, user_id: uuid.UUID | None
) -> SessionTemplate:
    if template.is_builtin:
        raise TemplateLocked()
    cleaned = _clean(db, fields)
    if cleaned["process_version_id"] is None:
        cleaned["process_version_id"] = template.process_version_id
    for key, value in cleaned.items():
        setattr(template, key, value)
    db.flush()
    _record(db, "template.updated", template, user_id)
    return template


def copy_template(
    db: DbSession, source: SessionTemplate, *, user_id: uuid.UUID | None
) -> SessionTemplate:
    """An editable, in-use copy of any template (built-in or not), named "... (copy)"."""
    suffix = " (copy)"
    copy = SessionTemplate(
        process_version_id=source.process_version_id,
        template_name=source.template_name[: NAME_MAX_LENGTH - len(suffix)] + suffix,
        template_description=source.template_description,
        suggested_for_event_types=list(source.suggested_for_event_types or []),
        suggested_for_process_nodes=list(source.suggested_for_process_nodes or []),
        default_intention=source.default_intention,
        default_success_indicators=list(source.default_success_indicators or []),
        default_completion_indicators=list(source.default_completion_indicators or []),
        default_constraints=list(source.default_constraints or []),
        default_procedure_notes=source.default_procedure_notes,
        default_duration_minutes=source.default_duration_minutes,
        wants_photos=source.wants_photos,
        is_active=True,
        is_builtin=False,
    )
    db.add(copy)
    db.flush()
    _record(db, "template.copied", copy, user_id, {"from": str(source.id)}, action="create")
    return copy


def retire_template(
    db: DbSession, template: SessionTemplate, *, user_id: uuid.UUID | None
) -> SessionTemplate:
    """Hide a template from scheduling; it is kept and can be restored."""
    if template.is_active:
        template.is_active = False
        db.flush()
        _record(db, "template.retired", template, user_id)
    return template


def restore_template(
    db: DbSession, template: SessionTemplate, *, user_id: uuid.UUID | None
) -> SessionTemplate:
    if not template.is_active:
        template.is_active = True
        db.flush()
        _record(db, "template.restored", template, user_id)
    return template


def _record(
    db: DbSession,
    event_type: str,
    template: SessionTemplate,
    user_id: uuid.UUID | None,
    extra: dict[str, Any] | None = None,
    *,
    action: str = "update",
) -> None:
    payload = {"session_template_id": str(template.id), **(extra or {})}
    events.record_event(db, event_type=event_type, user_id=user_id, payload=payload)
    audit.record(
        db,
        actor_id=user_id,
        action=action,
        object_type="session_template",
        object_id=template.id,
        details={"event": event_type, **payload},
    )


# --------------------------------------------------------------------------- form helpers


def node_choices(db: DbSession, selected: Iterable[str] = ()) -> list[tuple[str, str, bool]]:
    """(node id, label, checked) for the form: the steps of the process in use, then any
    already-chosen step of another version (labelled with its process and version)."""
    chosen = {str(s) for s in selected if s}
    active = db.scalar(select(ProcessVersion).where(ProcessVersion.is_active))
    choices: list[tuple[str, str, bool]] = []
    seen: set[str] = set()
    for node in active.nodes if active is not None else []:
        key = str(node.id)
        seen.add(key)
        choices.append((key, f"{node.sequence}. {node.node_name}", key in chosen))
    for key in sorted(chosen - seen):
        try:
            node = db.get(ProcessNode, uuid.UUID(key))
        except ValueError:
            node = None
        if node is not None:
            version = node.process_version
            label = f"{node.node_name} ({version.name} {version.version_number})"
            choices.append((key, label, True))
    return choices


def node_names(db: DbSession, templates: Iterable[SessionTemplate]) -> dict[str, str]:
    """{node id: "Process version · step name"} for every step the templates suggest."""
    ids: set[uuid.UUID] = set()
    for template in templates:
        for value in template.suggested_for_process_nodes or []:
            try:
                ids.add(uuid.UUID(str(value)))
            except ValueError:
                continue
    if not ids:
        return {}
    rows = db.execute(
        select(
            ProcessNode.id,
            ProcessNode.node_name,
            ProcessVersion.name,
            ProcessVersion.version_number,
        )
        .join(ProcessVersion, ProcessNode.process_version_id == ProcessVersion.id)
        .where(ProcessNode.id.in_(ids))
    )
    return {str(i): f"{node} ({name} {number})" for i, node, name, number in rows}
