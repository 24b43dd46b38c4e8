"""The audit trail (seed 004): who read or changed whose personal data, when, from where."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session as DbSession

from storyteller.models import AuditLog


def record(
    db: DbSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    object_type: str,
    object_id: uuid.UUID | str | None = None,
    storyteller_id: uuid.UUID | None = None,
    ip_address: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    entry = AuditLog(
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        storyteller_id=storyteller_id,
        ip_address=(ip_address or "")[:64] or None,
        details=details,
    )
    db.add(entry)
    db.flush()
    return entry
