"""The roster: adding storytellers, editing their details, and who else may see their story.

A coordinator who adds a storyteller is granted coordinator access to them at once. Access
is granted to existing coordinator or reviewer accounts only, and taking it back works at
the next request (authz reads ``storyteller_access`` every time). Every change is audited.
Functions flush, never commit: the caller owns the transaction.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from flask import abort
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from storyteller import accounts, audit, authz, events, invitations, local_time
from storyteller.models import Storyteller, StorytellerAccess, User
from storyteller.models.people import ACCESS_LEVELS

__all__ = [
    "ACCESS_LEVELS",
    "COMMON_TIME_ZONES",
    "LANGUAGES",
    "MANAGER_ROLES",
    "RosterError",
    "StorytellerDetails",
    "access_list",
    "access_or_404",
    "can_manage",
    "create_storyteller",
    "grant_access",
    "managed_storyteller_or_404",
    "revoke_access",
    "update_storyteller",
    "validate_details",
]

MANAGER_ROLES = ("coordinator", "admin")
NAME_MAX_LENGTH = 200
EARLIEST_BIRTH_YEAR = 1880

# Offered first in the form; any other IANA zone can be typed in.
COMMON_TIME_ZONES = (
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Warsaw",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "UTC",
)
LANGUAGES = {
    "en": "English",
    "ga": "Irish",
    "cy": "Welsh",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
}
_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class RosterError(ValueError):
    """Input that cannot be accepted. ``errors`` maps each bad field to its message;
    ``field`` / ``message`` are the first of them."""

    def __init__(self, field: str, message: str, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.errors = dict(errors or {field: message})

    @classmethod
    def from_errors(cls, errors: Mapping[str, str]) -> RosterError:
        field, message = next(iter(errors.items()))
        return cls(field, message, errors)


@dataclass(frozen=True)
class StorytellerDetails:
    display_name: str
    birth_year: int | None
    preferred_language: str
    time_zone: str
    contact_email: str | None


def _birth_year(raw: str, errors: dict[str, str]) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    this_year = date.today().year
    try:
        year = int(raw)
    except ValueError:
        errors["birth_year"] = "Please give the year as four digits, for example 1942."
        return None
    if not EARLIEST_BIRTH_YEAR <= year <= this_year:
        errors["birth_year"] = f"Please give a year between {EARLIEST_BIRTH_YEAR} and {this_year}."
        return None
    return year


def _email(raw: str, errors: dict[str, str]) -> str | None:
    email = accounts.normalise_email(raw)
    if not email:
        return None
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or any(c.isspace() for c in email):
        errors["contact_email"] = "Please give a valid email address, like name@example.org."
        return None
    return email


def validate_details(raw: Mapping[str, str]) -> StorytellerDetails:
    """Check a storyteller's details as typed into the form; every bad field is reported."""
    errors: dict[str, str] = {}
    name = " ".join((raw.get("display_name") or "").split())
    if not name:
        errors["display_name"] = "Please give the storyteller's name."
    elif len(name) > NAME_MAX_LENGTH:
        errors["display_name"] = f"Please keep the name under {NAME_MAX_LENGTH} characters."
    birth_year = _birth_year(raw.get("birth_year") or "", errors)
    language = (raw.get("preferred_language") or "en").strip()
    if not _LANGUAGE_TAG.match(language) or len(language) > 20:
        errors["preferred_language"] = "Please choose a language from the list."
    zone = (raw.get("time_zone_other") or "").strip() or (raw.get("time_zone") or "").strip()
    if not local_time.is_valid_zone(zone):
        errors["time_zone"] = (
            f"“{zone}” is not a time zone we know. Choose one from the list, or type one "
            "like Europe/Dublin or America/New_York."
            if zone
            else "Please choose the storyteller's time zone."
        )
    email = _email(raw.get("contact_email") or "", errors)
    if errors:
        raise RosterError.from_errors(errors)
    return StorytellerDetails(name, birth_year, language, zone, email)


def _email_taken(db: DbSession, email: str) -> bool:
    return db.scalar(select(User.id).where(User.email == email)) is not None


def add_storyteller(
    db: DbSession,
    form: Mapping[str, str],
    *,
    created_by: User,
    with_sign_in: bool,
    invitation_settings: invitations.InvitationSettings,
    ip_address: str | None = None,
) -> Storyteller:
    """The "add a storyteller" form: validate, add, and with a sign-in email the invitation.

    Every refusal is a RosterError naming the form's own fields.
    """
    details = validate_details(form)
    storyteller = create_storyteller(
        db, details, created_by=created_by, with_sign_in=with_sign_in, ip_address=ip_address
    )
    if with_sign_in:
        try:
            invitations.send_invitation(
                db,
                storyteller,
                invited_by=created_by,
                settings=invitation_settings,
                ip_address=ip_address,
            )
        except invitations.InvitationError as refused:
            field = "contact_email" if refused.field == "email" else refused.field
            raise RosterError(field, refused.message) from refused
    return storyteller


def create_storyteller(
    db: DbSession,
    details: StorytellerDetails,
    *,
    created_by: User,
    with_sign_in: bool = False,
    ip_address: str | None = None,
) -> Storyteller:
    """Add a storyteller; with ``with_sign_in`` also an inactive storyteller account.

    The account gets a random password nobody knows; the invitation (sent by the caller,
    see invitations.send_invitation) lets the storyteller choose their own.
    """
    if created_by.role not in MANAGER_ROLES:
        raise RosterError("display_name", "Only coordinators and admins add storytellers.")
    user = None
    if with_sign_in:
        if details.contact_email is None:
            raise RosterError(
                "contact_email", "To give them their own sign-in, please give their email address."
            )
        if _email_taken(db, details.contact_email):
            raise RosterError(
                "contact_email",
                f"Someone already signs in with {details.contact_email}. "
                "Please use a different email address.",
            )
        user = accounts.create_user(
            db,
            email=details.contact_email,
            name=details.display_name,
            role="storyteller",
            password=secrets.token_urlsafe(32),
        )
        user.is_active = False  # until they accept the invitation and choose a password
    storyteller = Storyteller(
        display_name=details.display_name,
        birth_year=details.birth_year,
        preferred_language=details.preferred_language,
        time_zone=details.time_zone,
        contact_email=details.contact_email,
        user_id=user.id if user else None,
        created_by_id=created_by.id,
    )
    db.add(storyteller)
    db.flush()
    if created_by.role == "coordinator":
        db.add(
            StorytellerAccess(
                storyteller_id=storyteller.id,
                user_id=created_by.id,
                access_level="coordinator",
                granted_by_id=created_by.id,
            )
        )
    events.record_event(
        db,
        event_type="storyteller.created",
        user_id=created_by.id,
        payload={"storyteller_id": str(storyteller.id), "with_sign_in": bool(user)},
    )
    audit.record(
        db,
        actor_id=created_by.id,
        action="create",
        object_type="storyteller",
        object_id=storyteller.id,
        storyteller_id=storyteller.id,
        ip_address=ip_address,
    )
    db.flush()
    return storyteller


def update_storyteller(
    db: DbSession,
    storyteller: Storyteller,
    details: StorytellerDetails,
    *,
    updated_by: User,
    ip_address: str | None = None,
) -> dict[str, tuple[object, object]]:
    """Change a storyteller's details; returns {field: (before, after)} of what changed."""
    changes: dict[str, tuple[object, object]] = {}
    for field in ("display_name", "birth_year", "preferred_language", "time_zone", "contact_email"):
        before, after = getattr(storyteller, field), getattr(details, field)
        if before != after:
            changes[field] = (before, after)
            setattr(storyteller, field, after)
    if changes:
        audit.record(
            db,
            actor_id=updated_by.id,
            action="update",
            object_type="storyteller",
            object_id=storyteller.id,
            storyteller_id=storyteller.id,
            ip_address=ip_address,
            details={
                "changed": {k: [str(v[0]), str(v[1])] for k, v in changes.items()},
            },
        )
    db.flush()
    return changes


# --------------------------------------------------------------------------------- access


def can_manage(db: DbSession, user: User, storyteller_id: uuid.UUID) -> bool:
    """Granted coordinators and admins manage a storyteller (details, consent, access)."""
    return user.role in MANAGER_ROLES and authz.can_see_storyteller(db, user, storyteller_id)


def managed_storyteller_or_404(db: DbSession, user: User, storyteller_id: uuid.UUID) -> Storyteller:
    """404 when the user may not see the storyteller; 403 when they may see but not manage."""
    storyteller = authz.storyteller_or_404(db, user, storyteller_id)
    if user.role not in MANAGER_ROLES:
        abort(403)
    return storyteller


@dataclass(frozen=True)
class AccessRow:
    access: StorytellerAccess
    user: User
    granted_by: User | None


def access_list(db: DbSession, storyteller: Storyteller) -> list[AccessRow]:
    """Everyone granted to this storyteller, coordinators first, then by name."""
    rows = db.execute(
        select(StorytellerAccess, User)
        .join(User, StorytellerAccess.user_id == User.id)
        .where(StorytellerAccess.storyteller_id == storyteller.id)
        .order_by(StorytellerAccess.access_level, User.name)
    ).all()
    granters = {
        u.id: u
        for u in db.scalars(
            select(User).where(User.id.in_({a.granted_by_id for a, _ in rows if a.granted_by_id}))
        )
    }
    return [AccessRow(a, u, granters.get(a.granted_by_id)) for a, u in rows]


def grant_access(
    db: DbSession,
    storyteller: Storyteller,
    *,
    email: str,
    level: str,
    granted_by: User,
    ip_address: str | None = None,
) -> StorytellerAccess:
    """Grant an existing coordinator or reviewer account access; a new level replaces the old."""
    if level not in ACCESS_LEVELS:
        raise RosterError("access_level", "Please choose coordinator or reviewer.")
    email = accounts.normalise_email(email)
    if not email:
        raise RosterError("email", "Please give the email address they sign in with.")
    user = db.scalar(select(User).where(User.email == email))
    if user is None:
        raise RosterError(
            "email",
            f"Nobody signs in with {email}. Ask your admin to create their account first.",
        )
    if user.role not in ACCESS_LEVELS:
        raise RosterError(
            "email",
            f"{user.name} has a {user.role} account; only coordinator and reviewer "
            "accounts can be given access.",
        )
    if user.role == "reviewer" and level == "coordinator":
        raise RosterError(
            "access_level", f"{user.name} has a reviewer account, so they can only review."
        )
    existing = db.scalar(
        select(StorytellerAccess).where(
            StorytellerAccess.storyteller_id == storyteller.id,
            StorytellerAccess.user_id == user.id,
        )
    )
    if existing is not None and existing.access_level == level:
        raise RosterError("email", f"{user.name} already has access as {level}.")
    action = "update" if existing is not None else "create"
    if existing is None:
        existing = StorytellerAccess(storyteller_id=storyteller.id, user_id=user.id)
        db.add(existing)
    existing.access_level = level
    existing.granted_by_id = granted_by.id
    db.flush()
    audit.record(
        db,
        actor_id=granted_by.id,
        action=action,
        object_type="storyteller_access",
        object_id=existing.id,
        storyteller_id=storyteller.id,
        ip_address=ip_address,
        details={"user_id": str(user.id), "email": user.email, "access_level": level},
    )
    events.record_event(
        db,
        event_type="access.granted",
        user_id=granted_by.id,
        payload={
            "storyteller_id": str(storyteller.id),
            "user_id": str(user.id),
            "access_level": level,
        },
    )
    return existing


def access_or_404(
    db: DbSession, storyteller: Storyteller, access_id: uuid.UUID
) -> StorytellerAccess:
    access = db.get(StorytellerAccess, access_id)
    if access is None or access.storyteller_id != storyteller.id:
        abort(404)
    return access


def revoke_access(
    db: DbSession,
    storyteller: Storyteller,
    access: StorytellerAccess,
    *,
    revoked_by: User,
    ip_address: str | None = None,
) -> None:
    """Take access back; the person's next request for this storyteller is "not found"."""
    if access.storyteller_id != storyteller.id:
        raise RosterError("access", "That access belongs to another storyteller.")
    user = db.get(User, access.user_id)
    audit.record(
        db,
        actor_id=revoked_by.id,
        action="delete",
        object_type="storyteller_access",
        object_id=access.id,
        storyteller_id=storyteller.id,
        ip_address=ip_address,
        details={
            "user_id": str(access.user_id),
            "email": user.email if user else None,
            "access_level": access.access_level,
        },
    )
    events.record_event(
        db,
        event_type="access.revoked",
        user_id=revoked_by.id,
        payload={"storyteller_id": str(storyteller.id), "user_id": str(access.user_id)},
    )
    db.delete(access)
    db.flush()
