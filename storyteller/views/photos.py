"""Photos: upload to life events or during a session, the photos page, serving without location.

Who may do what mirrors the life events: everyone who may see the storyteller sees their
photos (others get 404); admins, granted coordinators and the storyteller themself add them.
During a session, whoever may conduct it (the storyteller, a coordinator beside them) adds a
photo or asks the interviewer about one. Files are served through ``send_stored_file``.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from storyteller import authz, life_events, photos
from storyteller.extensions import db
from storyteller.file_storage import storage_for
from storyteller.models import Document, LifeEvent, Session, Storyteller
from storyteller.views.audit_trail import record_read
from storyteller.views.stored_files import send_stored_file

bp = Blueprint("photos", __name__)

OPEN_STATUSES = ("scheduled", "in_progress", "paused")


def _storage():
    return storage_for(current_app.instance_path)


def _max_bytes() -> int:
    return int(current_app.config.get("PHOTO_MAX_BYTES") or photos.DEFAULT_MAX_BYTES)


def _life_event_of(storyteller: Storyteller, raw: str | None) -> LifeEvent | None:
    """The form's life event, only if it is one of this storyteller's; None when not chosen."""
    if not raw:
        return None
    try:
        life_event = db.session.get(LifeEvent, uuid.UUID(raw))
    except ValueError:
        life_event = None
    if life_event is None or life_event.storyteller_id != storyteller.id:
        raise photos.PhotoRejected("Please choose one of the life events in the list.", 400)
    return life_event


def _sessions_to_ask_in(storyteller: Storyteller) -> list[Session]:
    user = current_user.user
    open_sessions = db.session.scalars(
        select(Session)
        .where(Session.storyteller_id == storyteller.id, Session.status.in_(OPEN_STATUSES))
        .order_by(Session.scheduled_at, Session.created_at)
    )
    return [s for s in open_sessions if authz.can_conduct(db.session, user, s)]


def _render_index(
    storyteller: Storyteller, *, error: str | None = None, status: int = 200, form=None
):
    user = current_user.user
    documents = photos.photos_of(db.session, storyteller)
    events = {
        e.id: e
        for e in db.session.scalars(
            select(LifeEvent)
            .where(LifeEvent.storyteller_id == storyteller.id)
            .order_by(LifeEvent.start_year, LifeEvent.event_name)
        )
    }
    return render_template(
        "photos/index.html",
        storyteller=storyteller,
        photos=documents,
        life_events=list(events.values()),
        events_by_id=events,
        can_add=life_events.can_edit(db.session, user, storyteller.id),
        sessions=_sessions_to_ask_in(storyteller),
        error=error,
        form=form or {"life_event_id": request.args.get("life_event", "")},
        max_mb=_max_bytes() // (1024 * 1024),
    ), status


@bp.route("/storytellers/<uuid:storyteller_id>/photos")
@login_required
def index(storyteller_id: uuid.UUID):
    storyteller = authz.storyteller_or_404(db.session, current_user.user, storyteller_id)
    record_read("photos", storyteller_id=storyteller.id, object_id=storyteller.id)
    db.session.commit()
    return _render_index(storyteller)


@bp.route("/storytellers/<uuid:storyteller_id>/photos", methods=["POST"])
@login_required
def upload(storyteller_id: uuid.UUID):
    user = current_user.user
    storyteller = authz.storyteller_or_404(db.session, user, storyteller_id)
    if not life_events.can_edit(db.session, user, storyteller.id):
        abort(403)
    form = {
        "title": request.form.get("title", ""),
        "life_event_id": request.form.get("life_event_id", ""),
    }
    upload_file = request.files.get("photo")
    try:
        if upload_file is None or not upload_file.filename:
            raise photos.PhotoRejected("Please choose a photo to add.", 400)
        document = photos.add_photo(
            db.session,
            storyteller,
            upload_file.stream,
            user=user,
            storage=_storage(),
            life_event=_life_event_of(storyteller, form["life_event_id"]),
            title=form["title"],
            max_bytes=_max_bytes(),
            ip_address=request.remote_addr,
        )
    except photos.PhotoRejected as refused:
        db.session.rollback()
        return _render_index(storyteller, error=refused.message, status=refused.status, form=form)
    document_id = document.id
    db.session.commit()
    flash("The photo is added.", "success")
    return redirect(
        url_for("photos.index", storyteller_id=storyteller_id) + f"#photo-{document_id}", code=303
    )


@bp.route("/sessions/<uuid:session_id>/photos", methods=["POST"])
@login_required
def upload_in_session(session_id: uuid.UUID):
    """A photo added during a session: kept, and one of the next questions is about it."""
    user = current_user.user
    session = authz.conductable_session_or_404(db.session, user, session_id)
    storyteller = db.session.get(Storyteller, session.storyteller_id)
    upload_file = request.files.get("photo")
    try:
        if upload_file is None or not upload_file.filename:
            raise photos.PhotoRejected("Please choose a photo to add.", 400)
        photos.add_photo(
            db.session,
            storyteller,
            upload_file.stream,
            user=user,
            storage=_storage(),
            session=session,
            title=request.form.get("title", ""),
            max_bytes=_max_bytes(),
            ip_address=request.remote_addr,
        )
    except photos.PhotoRejected as refused:
        db.session.rollback()
        return render_template(
            "photos/refused.html",
            message=refused.message,
            back=url_for("interview.page", session_id=session_id),
        ), refused.status
    db.session.commit()
    flash("The photo is added. I will ask you about it in one of the next questions.", "success")
    return redirect(url_for("interview.page", session_id=session_id), code=303)


@bp.route("/photos/<uuid:document_id>/ask", methods=["POST"])
@login_required
def ask(document_id: uuid.UUID):
    """'Ask about this photo' in one of the storyteller's open sessions."""
    user = current_user.user
    document = photos.photo_or_404(db.session, user, document_id)
    try:
        session_id = uuid.UUID(request.form.get("session_id", ""))
    except ValueError:
        abort(400)
    session = authz.conductable_session_or_404(db.session, user, session_id)
    if session.storyteller_id != document.storyteller_id or session.status not in OPEN_STATUSES:
        abort(400)
    photos.ask_in_session(db.session, document, session, user=user)
    db.session.commit()
    flash("I will ask you about this photo in one of the next questions.", "success")
    return redirect(url_for("interview.page", session_id=session.id), code=303)


@bp.route("/photos/<uuid:document_id>/<variant>")
@login_required
def serve(document_id: uuid.UUID, variant: str):
    document: Document = photos.photo_or_404(db.session, current_user.user, document_id)
    key = photos.variant_key(document, variant)
    if key is None:
        abort(404)
    return send_stored_file(
        _storage(),
        key,
        content_type=photos.variant_content_type(document, variant),
        download_name=photos.download_name(document, variant),
    )


@bp.app_context_processor
def _question_photo_helper():
    """``photo_for_question(interaction)`` for the interview page's photo include."""

    def photo_for_question(interaction):
        return photos.photo_asked_about(db.session, interaction)

    return {"photo_for_question": photo_for_question}
