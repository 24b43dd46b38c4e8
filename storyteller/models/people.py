"""People and access: users, storytellers, who may see whom, sign-ins and the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storyteller.models.base import Base, CreatedMixin, IdMixin, TimestampMixin, check_in

if TYPE_CHECKING:
    from storyteller.models.process import LifeEvent
    from storyteller.models.sessions import Session

ROLES = ("storyteller", "coordinator", "reviewer", "admin")
ACCESS_LEVELS = ("coordinator", "reviewer")


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "user"
    __table_args__ = (CheckConstraint(check_in("role", ROLES), name="role"),)

    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(default=True)
    is_demo: Mapped[bool] = mapped_column(default=False)
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]

    storyteller_profile: Mapped[Storyteller | None] = relationship(
        back_populates="user", foreign_keys="Storyteller.user_id"
    )
    access_grants: Mapped[list[StorytellerAccess]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        foreign_keys="StorytellerAccess.user_id",
    )

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class Storyteller(IdMixin, TimestampMixin, Base):
    """The person whose story is told; may have no sign-in of their own."""

    __tablename__ = "storyteller"

    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), unique=True
    )
    display_name: Mapped[str] = mapped_column(String(200))
    birth_year: Mapped[int | None]
    preferred_language: Mapped[str] = mapped_column(String(20), default="en")
    # IANA zone name ("Europe/Dublin"): scheduled times are shown and entered in it.
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    contact_email: Mapped[str | None] = mapped_column(String(254))
    consent_recorded_at: Mapped[datetime | None]
    consent_scope: Mapped[dict[str, Any] | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )

    user: Mapped[User | None] = relationship(
        back_populates="storyteller_profile", foreign_keys=[user_id]
    )
    access: Mapped[list[StorytellerAccess]] = relationship(
        back_populates="storyteller", cascade="all, delete-orphan", passive_deletes=True
    )
    life_events: Mapped[list[LifeEvent]] = relationship(
        back_populates="storyteller", cascade="all, delete-orphan", passive_deletes=True
    )
    sessions: Mapped[list[Session]] = relationship(
        back_populates="storyteller", cascade="all, delete-orphan", passive_deletes=True
    )

    consents: Mapped[list[ConsentRecord]] = relationship(
        back_populates="storyteller",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ConsentRecord.created_at",
    )

    def __repr__(self) -> str:
        return f"<Storyteller {self.display_name}>"


class StorytellerAccess(IdMixin, CreatedMixin, Base):
    """A coordinator or reviewer granted to one storyteller (seed 004 access control)."""

    __tablename__ = "storyteller_access"
    __table_args__ = (
        UniqueConstraint("storyteller_id", "user_id"),
        CheckConstraint(check_in("access_level", ACCESS_LEVELS), name="access_level"),
        Index("ix_storyteller_access_user", "user_id"),
    )

    storyteller_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("storyteller.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    access_level: Mapped[str] = mapped_column(String(20))
    granted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )

    storyteller: Mapped[Storyteller] = relationship(back_populates="access")
    user: Mapped[User] = relationship(back_populates="access_grants", foreign_keys=[user_id])


class LoginSession(IdMixin, CreatedMixin, Base):
    """A server-side sign-in: the cookie names it, sign-out revokes it."""

    __tablename__ = "login_session"
    __table_args__ = (Index("ix_login_session_user", "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[User] = relationship()


class LoginAttempt(IdMixin, CreatedMixin, Base):
    """One failed or successful sign-in attempt, for rate limiting by account and by address."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_email_created", "email", "created_at"),
        Index("ix_login_attempt_ip_created", "ip_address", "created_at"),
    )

    email: Mapped[str] = mapped_column(String(254))
    ip_address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(default=False)


class AuditLog(IdMixin, CreatedMixin, Base):
    """Seed 004's audit trail: who read or changed what, when, from where."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_storyteller_created", "storyteller_id", "created_at"),
        Index("ix_audit_log_actor_created", "actor_id", "created_at"),
    )

    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    storyteller_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("storyteller.id", ondelete="SET NULL")
    )
    action: Mapped[str] = mapped_column(
        String(50)
    )  # read / create / update / delete / erase / export
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str | None] = mapped_column(String(64))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None]
    note: Mapped[str | None] = mapped_column(Text)


CONSENT_SCOPES = ("interview", "llm_processing", "voice_recording", "photos", "family_sharing",
                  "book_publication")
SENSITIVE_TOPICS = ("health", "faith", "trauma", "relationships", "politics", "finances")
CONSENT_METHODS = ("in_person", "written", "online", "verbal")


class ConsentRecord(IdMixin, CreatedMixin, Base):
    """What a storyteller agreed to, when, and who recorded it; a withdrawal is kept, not erased.

    ``scope`` lists the agreed items of CONSENT_SCOPES; ``sensitive_topics`` the topics of
    SENSITIVE_TOPICS they explicitly agreed to talk about. The newest record that is not
    withdrawn is the one in force (mirrored on ``storyteller.consent_recorded_at`` /
    ``consent_scope``).
    """

    __tablename__ = "consent_record"
    __table_args__ = (
        CheckConstraint(check_in("method", CONSENT_METHODS), name="method"),
        Index("ix_consent_record_storyteller", "storyteller_id", "created_at"),
    )

    storyteller_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("storyteller.id", ondelete="CASCADE")
    )
    scope: Mapped[list[str]]
    sensitive_topics: Mapped[list[str] | None]
    method: Mapped[str] = mapped_column(String(20), default="in_person")
    agreed_at: Mapped[datetime]
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )
    note: Mapped[str | None] = mapped_column(Text)
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )

    storyteller: Mapped[Storyteller] = relationship(back_populates="consents")
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])


class Invitation(IdMixin, CreatedMixin, Base):
    """A one-time sign-in link: the email carries a random token; only its hash is stored."""

    __tablename__ = "invitation"
    __table_args__ = (Index("ix_invitation_user", "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    storyteller_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("storyteller.id", ondelete="CASCADE")
    )
    email: Mapped[str] = mapped_column(String(254))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    storyteller: Mapped[Storyteller | None] = relationship()
