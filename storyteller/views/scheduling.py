"""Scheduling, plans, reschedule/cancel, progress and session notes, for coordinators.

Granted coordinators and admins plan and change sessions; everyone who may see the
storyteller may read progress (storytellers their own; reviewers read only). A session
note is for the people organising and reviewing the sessions: granted coordinators and
reviewers and admins write them; storytellers do not see notes.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from storyteller import (
    authz,
    life_events,
    progress_report,
    scheduling,
    session_notes,
    story_pages,
)
from storyteller.extensions import db
from storyteller.models import LifeEvent, Session, SessionArtifact, Storyteller, User
from storyteller.views import reviews as review_views
from storyteller.views.audit_trail import record_read

bp = Blueprint("scheduling", __name__)

CHANGE_ROLES = scheduling.CHANGE_ROLES


# ----------------------------------------------------------------------------- helpers


def _user() -> User:
    return current_user.user


def _storyteller_to_change(storyteller_id: uuid.UUID) -> Storyteller:
    user = _user()
    storyteller = authz.storyteller_or_404(db.session, user, storyteller_id)
    if user.role not in CHANGE_ROLES:
        abort(403)
    return storyteller


def _session_to_change(session_id: uuid.UUID) -> Session:
    user = _user()
    session = authz.session_or_404(db.session, user, session_id)
    if user.role not in CHANGE_ROLES:
        abort(403)
    return session


def _session_url(session_id: uuid.UUID) -> str:
    return url_for("storytellers.session_detail", session_id=session_id)


def _render_form(
    storyteller: Storyteller,
    form: scheduling.SessionForm,
    *,
    session: Session | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    source: Any = None,
):
    return render_template(
        "scheduling/session_form.html",
        storyteller=storyteller,
        form=form,
        session=session,
        errors=errors or {},
        source=source,
        **scheduling.choices_for_form(db.session, storyteller),
    ), status


def _preselected_event(storyteller: Storyteller) -> LifeEvent | None:
    raw = request.args.get("life_event")
    if not raw:
        return None
    try:
        event = db.session.get(LifeEvent, uuid.UUID(raw))
    except ValueError:
        event = None
    if event is None or event.storyteller_id != storyteller.id:
        return None
    return event


def _starting_form(storyteller: Storyteller) -> tuple[scheduling.SessionForm, dict[str, str], Any]:
    """The form a GET shows: from ?template=, ?node= or scratch (and ?life_event=)."""
    event = _preselected_event(storyteller)
    template_id, node_id = request.args.get("template"), request.args.get("node")
    try:
        if template_id:
            form = scheduling.form_from_template(
                db.session, template_id, storyteller, life_event=event
            )
            return form, {}, scheduling.usable_template(db.session, template_id)
        if node_id:
            form = scheduling.form_from_node(db.session, node_id, storyteller, life_event=event)
            return form, {}, None
    except scheduling.SchedulingError as exc:
        return scheduling.blank_form(life_event=event), {exc.field: exc.message}, None
    return scheduling.blank_form(life_event=event), {}, None


# ----------------------------------------------------------------------------- scheduling


@bp.route("/storytellers/<uuid:storyteller_id>/sessions/new", methods=["GET", "POST"])
@login_required
def new_session(storyteller_id: uuid.UUID):
    storyteller = _storyteller_to_change(storyteller_id)
    if request.method == "GET":
        form, errors, source = _starting_form(storyteller)
        return _render_form(
            storyteller, form, errors=errors, status=400 if errors else 200, source=source
        )
    form = scheduling.SessionForm.from_request(request.form)
    try:
        session = scheduling.create_from_form(db.session, storyteller, form, user=_user())
    except scheduling.SessionFormError as exc:
        db.session.rollback()
        return _render_form(storyteller, form, errors=exc.errors, status=400)
    db.session.commit()
    flash("The session is planned.", "success")
    return redirect(_session_url(session.id), code=303)


@bp.route("/life-events/<uuid:life_event_id>/plan", methods=["GET", "POST"])
@login_required
def plan_event(life_event_id: uuid.UUID):
    user = _user()
    event = life_events.life_event_or_404(db.session, user, life_event_id)
    if user.role not in CHANGE_ROLES:
        abort(403)
    storyteller = event.storyteller
    if request.method == "GET":
        form = scheduling.PlanForm()
        return _render_plan(event, form, {}, 200)
    form = scheduling.PlanForm.from_request(request.form)
    try:
        parsed = scheduling.parse_plan_form(storyteller, form)
        parent, _children = scheduling.plan_sessions_for_event(
            db.session,
            event,
            first_at=parsed.first_at,
            spacing_days=parsed.spacing_days,
            user=user,
        )
    except scheduling.SessionFormError as exc:
        db.session.rollback()
        return _render_plan(event, form, exc.errors, 400)
    db.session.commit()
    flash(f"Three sessions are planned for “{event.event_name}”.", "success")
    return redirect(_session_url(parent.id), code=303)


def _render_plan(event: LifeEvent, form: scheduling.PlanForm, errors: dict[str, str], status: int):
    return render_template(
        "scheduling/plan_form.html",
        event=event,
        storyteller=event.storyteller,
        form=form,
        errors=errors,
        existing=scheduling.sessions_linked_to(db.session, event),
        parts=scheduling._plan_parts(event),  # noqa: SLF001 - the preview of what will be made
    ), status


@bp.route("/sessions/<uuid:session_id>/schedule-next", methods=["POST"])
@login_required
def schedule_next(session_id: uuid.UUID):
    session = _session_to_change(session_id)
    try:
        follow_up = scheduling.schedule_next(db.session, session, user=_user())
    except scheduling.SchedulingError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(_session_url(session_id), code=303)
    db.session.commit()
    flash("The next session is planned. Choose a day and time for it.", "success")
    return redirect(url_for("scheduling.edit_session", session_id=follow_up.id), code=303)


@bp.route("/sessions/<uuid:session_id>/edit", methods=["GET", "POST"])
@login_required
def edit_session(session_id: uuid.UUID):
    session = _session_to_change(session_id)
    storyteller = session.storyteller
    if session.status not in scheduling.CHANGEABLE_STATUSES:
        return render_template("scheduling/locked.html", session=session), 409
    if request.method == "GET":
        form = scheduling.form_from_session(session, storyteller.time_zone)
        return _render_form(storyteller, form, session=session)
    form = scheduling.SessionForm.from_request(request.form)
    try:
        scheduling.update_from_form(db.session, session, form, user=_user())
    except scheduling.SessionFormError as exc:
        db.session.rollback()
        session = db.session.get(Session, session_id)
        return _render_form(storyteller, form, session=session, errors=exc.errors, status=400)
    except scheduling.SchedulingError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(_session_url(session_id), code=303)
    db.session.commit()
    flash("The session is saved.", "success")
    return redirect(_session_url(session_id), code=303)


@bp.route("/sessions/<uuid:session_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel_session(session_id: uuid.UUID):
    session = _session_to_change(session_id)
    if session.status not in scheduling.CHANGEABLE_STATUSES:
        return render_template("scheduling/locked.html", session=session), 409
    if request.method == "GET":
        return render_template("scheduling/cancel.html", session=session, reason="", errors={})
    reason = request.form.get("reason", "")
    try:
        scheduling.cancel_session(db.session, session, reason=reason, user=_user())
    except scheduling.SchedulingError as exc:
        db.session.rollback()
        session = db.session.get(Session, session_id)
        return render_template(
            "scheduling/cancel.html",
            session=session,
            reason=reason,
            errors={exc.field: exc.message},
        ), 400
    db.session.commit()
    flash("The session is cancelled.", "success")
    return redirect(_session_url(session_id), code=303)


# ----------------------------------------------------------------------------- progress


@bp.route("/sessions/<uuid:session_id>/progress")
@login_required
def progress(session_id: uuid.UUID):
    session = authz.session_or_404(db.session, _user(), session_id)
    report = progress_report.session_progress(db.session, session)
    record_read("session_progress", object_id=session.id, storyteller_id=session.storyteller_id)
    db.session.commit()
    return render_template("scheduling/progress.html", session=session, report=report)


@bp.route("/storytellers/<uuid:storyteller_id>/progress")
@login_required
def storyteller_progress(storyteller_id: uuid.UUID):
    user = _user()
    storyteller = authz.storyteller_or_404(db.session, user, storyteller_id)
    report = progress_report.storyteller_progress(db.session, storyteller)
    record_read("storyteller_progress", object_id=storyteller.id, storyteller_id=storyteller.id)
    db.session.commit()
    return render_template(
        "scheduling/storyteller_progress.html",
        storyteller=storyteller,
        report=report,
        show_notes=user.role != "storyteller",
        can_change=user.role in CHANGE_ROLES,
    )


# ----------------------------------------------------------------------------- notes


@bp.route("/sessions/<uuid:session_id>/notes", methods=["POST"])
@login_required
def add_note(session_id: uuid.UUID):
    """Add a note: coordinators, reviewers and admins who may see the session.

    Sent from an artifact's review page (``artifact_id`` in the form), a mistake is shown
    on that page again and success returns there.
    """
    user = _user()
    session = authz.session_or_404(db.session, user, session_id)
    if not session_notes.may_write_notes(user):
        abort(403)
    artifact = _note_artifact(session)
    form = session_notes.NoteForm.from_request(request.form)
    try:
        session_notes.add_note(db.session, session, form, user=user)
    except session_notes.NoteInputError as exc:
        db.session.rollback()
        errors = {exc.field: exc.message}
        if artifact is not None:
            artifact = db.session.get(SessionArtifact, artifact.id)
            return review_views.render_artifact_page(
                artifact, status=400, note_form=form, note_errors=errors
            )
        page = story_pages.session_with_content(db.session, session_id)
        return render_template(
            "storytellers/session.html",
            session=page,
            extras=story_pages.session_extras(db.session, page, user),
            note_form=form,
            note_errors=errors,
        ), 400
    db.session.commit()
    flash("The note is added.", "success")
    if artifact is not None:
        return redirect(url_for("reviews.artifact", artifact_id=artifact.id) + "#notes", code=303)
    return redirect(_session_url(session_id) + "#notes", code=303)


def _note_artifact(session: Session) -> SessionArtifact | None:
    """The artifact whose review page sent the note, if it is one of this session's."""
    raw = request.form.get("artifact_id", "")
    try:
        artifact = db.session.get(SessionArtifact, uuid.UUID(raw)) if raw else None
    except ValueError:
        return None
    if artifact is None or artifact.session_id != session.id:
        return None
    return artifact


@bp.route("/session-notes/<uuid:note_id>/done", methods=["POST"])
@login_required
def note_followup_done(note_id: uuid.UUID):
    user = _user()
    note = session_notes.note_or_404(db.session, user, note_id)
    if not session_notes.may_write_notes(user):
        abort(403)
    session_id = note.session_id
    try:
        session_notes.mark_followup_done(db.session, note, user=user)
    except session_notes.NoteInputError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(_session_url(session_id) + "#notes", code=303)
    db.session.commit()
    flash("The follow-up is marked as done.", "success")
    back = request.form.get("next", "")
    if back.startswith("/") and not back.startswith("//"):
        return redirect(back, code=303)
    return redirect(_session_url(session_id) + "#notes", code=303)
