"""The calendar of upcoming sessions, its .ics download and feed, and the outbox of mail."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import func, select

from storyteller import audit, authz, calendar_feed
from storyteller.extensions import db
from storyteller.models import MailMessage, Session, Storyteller, User

bp = Blueprint("calendar", __name__)

OUTBOX_PAGE_SIZE = 50


def _base_url() -> str:
    return str(current_app.config.get("STORYTELLER_BASE_URL") or request.host_url).rstrip("/")


def _feed_url(user: User) -> str:
    token = calendar_feed.feed_token(current_app.config["SECRET_KEY"], user)
    return f"{_base_url()}/calendar/feed/{token}.ics"


def _audit_read(user: User, object_type: str, storyteller: Storyteller | None = None) -> None:
    audit.record(
        db.session,
        actor_id=user.id,
        action="read",
        object_type=object_type,
        object_id=storyteller.id if storyteller else None,
        storyteller_id=storyteller.id if storyteller else None,
        ip_address=request.remote_addr,
    )


def _calendar_page(storyteller: Storyteller | None):
    user = current_user.user
    upcoming = calendar_feed.upcoming(
        db.session, user, storyteller_id=storyteller.id if storyteller else None
    )
    _audit_read(user, "calendar", storyteller)
    db.session.commit()
    feed_url = _feed_url(user)
    return render_template(
        "calendar/upcoming.html",
        storyteller=storyteller,
        upcoming=upcoming,
        feed_url=feed_url,
        webcal_url="webcal://" + feed_url.split("://", 1)[-1],
        duration_minutes=calendar_feed.duration_minutes,
        clock=calendar_feed.clock,
    )


@bp.route("/calendar")
@login_required
def upcoming():
    return _calendar_page(None)


@bp.route("/storytellers/<uuid:storyteller_id>/calendar")
@login_required
def storyteller_calendar(storyteller_id: uuid.UUID):
    storyteller = authz.storyteller_or_404(db.session, current_user.user, storyteller_id)
    return _calendar_page(storyteller)


def _ics_response(user: User, sessions: list[Session], name: str, filename: str | None) -> Response:
    base = _base_url()
    body = calendar_feed.build_ics(
        db.session,
        sessions,
        base_url=base,
        link_for=lambda s: calendar_feed.session_link(base, s, user),
        name=name,
    )
    response = Response(body, content_type="text/calendar; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    if filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/calendar.ics")
@login_required
def download():
    user = current_user.user
    sessions = calendar_feed.ics_sessions(db.session, user)
    _audit_read(user, "calendar_ics")
    db.session.commit()
    return _ics_response(user, sessions, "Storyteller sessions", "storyteller-sessions.ics")


@bp.route("/storytellers/<uuid:storyteller_id>/calendar.ics")
@login_required
def storyteller_download(storyteller_id: uuid.UUID):
    user = current_user.user
    storyteller = authz.storyteller_or_404(db.session, user, storyteller_id)
    sessions = calendar_feed.ics_sessions(db.session, user, storyteller_id=storyteller.id)
    _audit_read(user, "calendar_ics", storyteller)
    db.session.commit()
    return _ics_response(
        user,
        sessions,
        f"Storyteller: {storyteller.display_name}",
        f"storyteller-{storyteller.id}.ics",
    )


@bp.route("/calendar/feed/<token>.ics")
def feed(token: str):
    """A calendar app's subscription: no cookie, the token in the address is the key."""
    user = calendar_feed.feed_user(db.session, current_app.config["SECRET_KEY"], token)
    if user is None:
        abort(404)
    sessions = calendar_feed.ics_sessions(db.session, user)
    _audit_read(user, "calendar_feed")
    db.session.commit()
    return _ics_response(user, sessions, "Storyteller sessions", None)


@bp.route("/outbox")
@authz.roles_required("admin")
def outbox():
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    total = db.session.scalar(select(func.count(MailMessage.id))) or 0
    messages = db.session.scalars(
        select(MailMessage)
        .order_by(MailMessage.created_at.desc(), MailMessage.id)
        .limit(OUTBOX_PAGE_SIZE)
        .offset((page - 1) * OUTBOX_PAGE_SIZE)
    ).all()
    return render_template(
        "calendar/outbox.html",
        messages=messages,
        page=page,
        has_more=page * OUTBOX_PAGE_SIZE < total,
        total=total,
        backend=current_app.config.get("MAIL_BACKEND", "outbox"),
    )


@bp.route("/outbox/<uuid:message_id>")
@authz.roles_required("admin")
def outbox_message(message_id: uuid.UUID):
    user = current_user.user
    message = db.session.get(MailMessage, message_id)
    if message is None:
        abort(404)
    session = db.session.get(Session, message.session_id) if message.session_id else None
    audit.record(
        db.session,
        actor_id=user.id,
        action="read",
        object_type="mail_message",
        object_id=message.id,
        storyteller_id=session.storyteller_id if session else None,
        ip_address=request.remote_addr,
    )
    db.session.commit()
    return render_template("calendar/outbox_message.html", message=message, session=session)
