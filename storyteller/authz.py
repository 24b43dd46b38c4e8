"""Authorization: the one place that decides who may see which storyteller and what.

Views ask here and never decide for themselves. A coordinator or reviewer sees only
the storytellers granted to them (storyteller_access); a storyteller sees only their
own story; an admin sees everything. Objects the user may not see are "not found".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session as DbSession

from storyteller.models import Session, SessionArtifact, Storyteller, StorytellerAccess, User

F = TypeVar("F", bound=Callable[..., Any])

STAFF_ROLES = ("coordinator", "reviewer")


def storyteller_ids_visible_to(user: User) -> Select[tuple[uuid.UUID]]:
    """A select of the ids of every storyteller this user may see."""
    if user.role == "admin":
        return select(Storyteller.id)
    if user.role == "storyteller":
        return select(Storyteller.id).where(Storyteller.user_id == user.id)
    return select(StorytellerAccess.storyteller_id).where(StorytellerAccess.user_id == user.id)


def visible_storytellers(user: User) -> Select[tuple[Storyteller]]:
    return (
        select(Storyteller)
        .where(Storyteller.id.in_(storyteller_ids_visible_to(user)))
        .order_by(Storyteller.display_name)
    )


def can_see_storyteller(db: DbSession, user: User, storyteller_id: uuid.UUID) -> bool:
    if user.role == "admin":
        return db.get(Storyteller, storyteller_id) is not None
    if user.role == "storyteller":
        return (
            db.scalar(
                select(
                    exists().where(Storyteller.id == storyteller_id, Storyteller.user_id == user.id)
                )
            )
            or False
        )
    return (
        db.scalar(
            select(
                exists().where(
                    StorytellerAccess.storyteller_id == storyteller_id,
                    StorytellerAccess.user_id == user.id,
                )
            )
        )
        or False
    )


def storyteller_or_404(db: DbSession, user: User, storyteller_id: uuid.UUID) -> Storyteller:
    storyteller = db.get(Storyteller, storyteller_id)
    if storyteller is None or not can_see_storyteller(db, user, storyteller_id):
        abort(404)
    return storyteller


def session_or_404(db: DbSession, user: User, session_id: uuid.UUID) -> Session:
    session = db.get(Session, session_id)
    if session is None or not can_see_storyteller(db, user, session.storyteller_id):
        abort(404)
    return session


def artifact_or_404(db: DbSession, user: User, artifact_id: uuid.UUID) -> SessionArtifact:
    artifact = db.get(SessionArtifact, artifact_id)
    if artifact is None:
        abort(404)
    session_or_404(db, user, artifact.session_id)
    return artifact


def roles_required(*roles: str) -> Callable[[F], F]:
    """Signed in, and one of these roles; anyone else is refused with 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def can_conduct(db: DbSession, user: User, session: Session) -> bool:
    """Who may answer a session: the storyteller, or a coordinator sitting beside them."""
    if user.role == "storyteller":
        return can_see_storyteller(db, user, session.storyteller_id)
    if user.role == "coordinator":
        return can_see_storyteller(db, user, session.storyteller_id)
    return False


def conductable_session_or_404(db: DbSession, user: User, session_id: uuid.UUID) -> Session:
    """The session, if this user may run it; 404 if they may not see it, 403 if only see it."""
    session = session_or_404(db, user, session_id)
    if not can_conduct(db, user, session):
        abort(403)
    return session
