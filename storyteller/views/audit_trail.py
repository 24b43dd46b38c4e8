"""The audit trail of pages read: one call per view that shows a storyteller's data."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask_login import current_user

from storyteller import audit
from storyteller.extensions import db


def record_read(
    object_type: str, *, storyteller_id: uuid.UUID | None, object_id: Any = None
) -> None:
    """Note that the signed-in user read this; it is written with the request's commit."""
    audit.record(
        db.session,
        actor_id=current_user.user.id,
        action="read",
        object_type=object_type,
        object_id=object_id,
        storyteller_id=storyteller_id,
        ip_address=request.remote_addr,
    )
