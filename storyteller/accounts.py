"""Accounts: creating users, signing in with rate limits, server-side sign-in sessions."""

from __future__ import annotations

import functools
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask_login import LoginManager, UserMixin
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session as DbSession
from werkzeug.security import check_password_hash, generate_password_hash

from storyteller.models import LoginAttempt, LoginSession, User, utcnow
from storyteller.models.people import ROLES

MIN_PASSWORD_LENGTH = 8
# werkzeug's default (scrypt). The test suite lowers it to keep thousands of hashes fast.
PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 - a method name, not a password
SIGN_IN_LIFETIME = timedelta(days=30)


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message is for people."""


class SignedInUser(UserMixin):
    """What Flask-Login holds for a request: the user and the sign-in session they came with."""

    def __init__(self, user: User, token: str) -> None:
        self.user = user
        self.token = token

    def get_id(self) -> str:
        return self.token

    def __getattr__(self, name: str):  # noqa: ANN204 - delegate everything else to the user
        return getattr(self.user, name)

    @property
    def is_active(self) -> bool:
        return self.user.is_active


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if len(password) > 1024:
        raise AccountError("The password is too long.")


def create_user(
    db: DbSession, *, email: str, name: str, role: str, password: str, is_demo: bool = False
) -> User:
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError("Please give a valid email address.")
    if role not in ROLES:
        raise AccountError(f"Role must be one of: {', '.join(ROLES)}.")
    if not name.strip():
        raise AccountError("Please give a name.")
    validate_password(password)
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(f"A user with the email {email} already exists.")
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=generate_password_hash(password, method=PASSWORD_HASH_METHOD),
        is_demo=is_demo,
        password_changed_at=utcnow(),
    )
    db.add(user)
    db.flush()
    return user


@dataclass(frozen=True)
class RateLimit:
    attempts_per_account: int
    attempts_per_address: int
    window: timedelta


def is_rate_limited(db: DbSession, *, email: str, ip_address: str, limit: RateLimit) -> bool:
    """True when recent failed sign-ins for this account or from this address reach the limit."""
    since = utcnow() - limit.window
    failed = select(func.count(LoginAttempt.id)).where(
        LoginAttempt.succeeded.is_(False), LoginAttempt.created_at >= since
    )
    by_account = db.scalar(failed.where(LoginAttempt.email == normalise_email(email))) or 0
    if by_account >= limit.attempts_per_account:
        return True
    by_address = db.scalar(failed.where(LoginAttempt.ip_address == ip_address)) or 0
    return by_address >= limit.attempts_per_address


def authenticate(db: DbSession, *, email: str, password: str, ip_address: str) -> User | None:
    """The active user with these credentials, or None; every attempt is recorded."""
    email = normalise_email(email)
    user = db.scalar(select(User).where(User.email == email))
    ok = user is not None and user.is_active and check_password_hash(user.password_hash, password)
    if user is None:
        # Spend the same time as a real check so response times do not reveal accounts.
        check_password_hash(_dummy_hash(), password)
    db.add(LoginAttempt(email=email[:254], ip_address=ip_address[:64], succeeded=ok))
    db.flush()
    return user if ok else None


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(8), method=PASSWORD_HASH_METHOD)


def start_sign_in(
    db: DbSession, user: User, *, ip_address: str | None, user_agent: str | None
) -> str:
    """Open a new server-side sign-in session and return its secret token (the cookie's value)."""
    token = secrets.token_urlsafe(32)
    db.add(
        LoginSession(
            token_hash=_hash_token(token),
            user_id=user.id,
            ip_address=(ip_address or "")[:64],
            user_agent=(user_agent or "")[:300],
            last_seen_at=utcnow(),
        )
    )
    user.last_login_at = utcnow()
    db.flush()
    return token


def end_sign_in(db: DbSession, token: str) -> None:
    db.execute(
        update(LoginSession)
        .where(LoginSession.token_hash == _hash_token(token), LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def end_all_sign_ins(db: DbSession, user_id: uuid.UUID) -> None:
    db.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def user_for_token(db: DbSession, token: str) -> User | None:
    """The user a sign-in token belongs to, if it is still valid."""
    row = db.scalar(select(LoginSession).where(LoginSession.token_hash == _hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.created_at < utcnow() - SIGN_IN_LIFETIME:
        return None
    user = db.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if user.password_changed_at is not None and row.created_at < user.password_changed_at:
        return None
    return user


def change_password(db: DbSession, user: User, *, current: str, new: str) -> None:
    if not check_password_hash(user.password_hash, current):
        raise AccountError("The current password is not right.")
    set_password(db, user, new)


def set_password(db: DbSession, user: User, new: str) -> None:
    """Set a new password and end every sign-in made with the old one."""
    validate_password(new)
    user.password_hash = generate_password_hash(new, method=PASSWORD_HASH_METHOD)
    user.password_changed_at = utcnow()
    end_all_sign_ins(db, user.id)
    db.flush()


def deactivate(db: DbSession, user: User) -> None:
    user.is_active = False
    end_all_sign_ins(db, user.id)
    db.flush()


def init_login_manager(login_manager: LoginManager) -> None:
    from storyteller.extensions import db

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = None

    @login_manager.user_loader
    def load_user(token: str) -> SignedInUser | None:
        user = user_for_token(db.session, token)
        return SignedInUser(user, token) if user is not None else None
