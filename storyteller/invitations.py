"""Invitations: a one-time link, sent by email, with which a storyteller chooses a password.

The link carries a random token; only its SHA-256 hash is stored (like sign-in tokens).
A link expires after STORYTELLER_INVITATION_DAYS, works once, and sending a new one revokes
the earlier unused ones. Accepting claims the invitation with one conditional UPDATE
(``... WHERE used_at IS NULL``) and checks the row count, so two people pressing the button
at the same moment cannot both get in.
Functions flush, never commit: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from storyteller import accounts, audit, events, local_time, mail
from storyteller.models import Invitation, Storyteller, User, utcnow

__all__ = [
    "InvitationError",
    "InvitationGone",
    "InvitationNotFound",
    "InvitationSettings",
    "InvitationStatus",
    "accept_invitation",
    "invitation_for_token",
    "latest_invitation_status",
    "send_invitation",
    "settings_from_config",
    "status_of",
]


class InvitationError(ValueError):
    """Input on the "choose your password" form that cannot be accepted."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvitationNotFound(LookupError):
    """No invitation has this token."""


class InvitationGone(LookupError):
    """The invitation exists but can no longer be used; ``reason`` is used/expired/revoked."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class InvitationSettings:
    mail: mail.MailSettings
    base_url: str
    days: int


def settings_from_config(config: Mapping[str, Any]) -> InvitationSettings:
    return InvitationSettings(
        mail=mail.settings_from_config(config),
        base_url=str(config.get("STORYTELLER_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        days=int(config.get("STORYTELLER_INVITATION_DAYS") or 7),
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def status_of(invitation: Invitation, now: datetime | None = None) -> str:
    """sent / accepted / expired / revoked."""
    now = now or utcnow()
    if invitation.used_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= now:
        return "expired"
    return "sent"


@dataclass(frozen=True)
class InvitationStatus:
    invitation: Invitation
    status: str


def latest_invitation_status(db: DbSession, storyteller: Storyteller) -> InvitationStatus | None:
    invitation = db.scalar(
        select(Invitation)
        .where(Invitation.storyteller_id == storyteller.id)
        .order_by(Invitation.created_at.desc())
        .limit(1)
    )
    return InvitationStatus(invitation, status_of(invitation)) if invitation else None


def _ensure_account(db: DbSession, storyteller: Storyteller, email: str | None) -> User:
    """The storyteller's account, made now (inactive, random password) if they have none."""
    if storyteller.user is not None:
        return storyteller.user
    email = accounts.normalise_email(email or storyteller.contact_email or "")
    local, _, domain = email.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in email):
        raise InvitationError(
            "email", "Please give the storyteller's email address so we can send the link."
        )
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise InvitationError(
            "email", f"Someone already signs in with {email}. Please use a different address."
        )
    user = accounts.create_user(
        db,
        email=email,
        name=storyteller.display_name,
        role="storyteller",
        password=secrets.token_urlsafe(32),
    )
    user.is_active = False
    storyteller.user = user
    storyteller.contact_email = storyteller.contact_email or email
    db.flush()
    return user


def _email_body(storyteller: Storyteller, inviter: User, link: str, expires_at: datetime) -> str:
    until = local_time.format_local(expires_at, storyteller.time_zone)
    return (
        f"Hello {storyteller.display_name},\n\n"
        f"{inviter.name} has invited you to Storyteller.\n\n"
        "Storyteller is a quiet place on the web where you can tell the story of your life "
        "in your own words, a little at a time. A friendly interviewer asks one question at "
        "a time; you answer by typing, you can skip anything, pause whenever you like, and "
        "nothing you write is lost. Your family can keep what you tell as a book.\n\n"
        "To begin, open this link and choose a password:\n\n"
        f"{link}\n\n"
        f"The link works once, until {until}. If it has run out, ask {inviter.name} "
        "for a new one.\n\n"
        "If you were not expecting this email, you can simply ignore it.\n\n"
        "With warm wishes,\nStoryteller\n"
    )


def send_invitation(
    db: DbSession,
    storyteller: Storyteller,
    *,
    invited_by: User,
    settings: InvitationSettings,
    email: str | None = None,
    ip_address: str | None = None,
) -> tuple[Invitation, str]:
    """Send a new sign-in link; earlier unused links stop working. Returns (invitation, token)."""
    user = _ensure_account(db, storyteller, email)
    now = utcnow()
    db.execute(
        update(Invitation)
        .where(
            Invitation.user_id == user.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        token_hash=hash_token(token),
        user_id=user.id,
        storyteller_id=storyteller.id,
        email=user.email,
        expires_at=now + timedelta(days=settings.days),
        created_by_id=invited_by.id,
        created_at=now,
    )
    db.add(invitation)
    db.flush()
    link = f"{settings.base_url}/invitations/{token}"
    mail.send_mail(
        db,
        settings.mail,
        to=user.email,
        subject=f"{invited_by.name} invites you to tell your story",
        body_text=_email_body(storyteller, invited_by, link, invitation.expires_at),
        kind="invitation",
    )
    events.record_event(
        db,
        event_type="invitation.sent",
        user_id=invited_by.id,
        payload={"storyteller_id": str(storyteller.id), "invitation_id": str(invitation.id)},
    )
    audit.record(
        db,
        actor_id=invited_by.id,
        action="create",
        object_type="invitation",
        object_id=invitation.id,
        storyteller_id=storyteller.id,
        ip_address=ip_address,
    )
    db.flush()
    return invitation, token


def invitation_for_token(db: DbSession, token: str) -> Invitation:
    """The invitation this token opens, if it can still be used."""
    invitation = db.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if invitation is None:
        raise InvitationNotFound(token)
    status = status_of(invitation)
    if status != "sent":
        raise InvitationGone("used" if status == "accepted" else status)
    return invitation


def validate_new_password(password: str, confirm: str) -> None:
    if password != confirm:
        raise InvitationError("confirm_password", "The two passwords are not the same.")
    try:
        accounts.validate_password(password)
    except accounts.AccountError as refused:
        raise InvitationError("password", str(refused)) from refused


def accept_invitation(
    db: DbSession,
    token: str,
    *,
    password: str,
    confirm: str,
    ip_address: str | None = None,
) -> User:
    """Use the invitation: set the password, activate the account, and return the user.

    The claim is the first statement of the transaction, so that on SQLite the writer lock
    is taken before anything is read, and on PostgreSQL the second of two concurrent claims
    waits for the first and then finds ``used_at`` set (row count 0).
    """
    validate_new_password(password, confirm)
    now = utcnow()
    claimed = db.execute(
        update(Invitation)
        .where(
            Invitation.token_hash == hash_token(token),
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        invitation_for_token(db, token)  # raises: not found, used, revoked or expired
        raise InvitationGone("used")  # it was claimed between the two statements
    invitation = db.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    assert invitation is not None
    db.refresh(invitation)
    user = db.get(User, invitation.user_id)
    assert user is not None
    accounts.set_password(db, user, password)
    user.is_active = True
    events.record_event(
        db,
        event_type="invitation.accepted",
        user_id=user.id,
        payload={"invitation_id": str(invitation.id)},
    )
    audit.record(
        db,
        actor_id=user.id,
        action="update",
        object_type="invitation",
        object_id=invitation.id,
        storyteller_id=invitation.storyteller_id,
        ip_address=ip_address,
        details={"accepted": True},
    )
    db.flush()
    return user


def invitations_of(db: DbSession, storyteller_id: uuid.UUID) -> list[Invitation]:
    return list(
        db.scalars(
            select(Invitation)
            .where(Invitation.storyteller_id == storyteller_id)
            .order_by(Invitation.created_at.desc())
        )
    )
