"""Life events: the timeline, adding / editing / deleting an event, and the coverage map.

Everyone who may see the storyteller sees the timeline and the coverage map (the storyteller
too: it is their own story). Adding and editing: admins, granted coordinators and the
storyteller themself; deleting: admins and granted coordinators (see storyteller/life_events.py).
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from storyteller import authz, coverage, life_events
from storyteller.extensions import db
from storyteller.models import LifeEvent, Storyteller
from storyteller.views.audit_trail import record_read

bp = Blueprint("life_events", __name__)

# Scheduling pages (another area): linked from the coverage map only when they exist.
SCHEDULE_ENDPOINT = "scheduling.new_session"
PLAN_ENDPOINT = "scheduling.plan_event"
EVENT_TYPE_SUGGESTIONS = (
    "Birth",
    "Home",
    "School",
    "Job",
    "Marriage",
    "Child born",
    "Move",
    "Military service",
    "Travel",
    "Illness",
    "Loss",
    "Retirement",
    "Celebration",
)


def _timeline_url(storyteller_id: uuid.UUID) -> str:
    return url_for("life_events.timeline", storyteller_id=storyteller_id)


def _form_values() -> dict[str, str]:
    return {name: request.form.get(name, "") for name in life_events.FIELDS}


def _values_of(life_event: LifeEvent) -> dict[str, str]:
    return {
        name: "" if getattr(life_event, name) is None else str(getattr(life_event, name))
        for name in life_events.FIELDS
    }


def _render_form(
    storyteller: Storyteller,
    values: dict[str, str],
    *,
    life_event: LifeEvent | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
):
    return render_template(
        "life_events/form.html",
        storyteller=storyteller,
        life_event=life_event,
        values=values,
        errors=errors or {},
        periods=life_events.LIFE_PERIODS,
        event_types=EVENT_TYPE_SUGGESTIONS,
        min_year=life_events.MIN_YEAR,
    ), status


@bp.route("/storytellers/<uuid:storyteller_id>/life-events")
@login_required
def timeline(storyteller_id: uuid.UUID):
    user = current_user.user
    storyteller = authz.storyteller_or_404(db.session, user, storyteller_id)
    line = life_events.timeline(db.session, storyteller)
    record_read("life_events", storyteller_id=storyteller.id, object_id=storyteller.id)
    db.session.commit()
    return render_template(
        "life_events/timeline.html",
        storyteller=storyteller,
        timeline=line,
        can_edit=life_events.can_edit(db.session, user, storyteller.id),
        can_delete=life_events.can_delete(db.session, user, storyteller.id),
    )


@bp.route("/storytellers/<uuid:storyteller_id>/life-events/new", methods=["GET", "POST"])
@login_required
def new(storyteller_id: uuid.UUID):
    user = current_user.user
    storyteller = authz.storyteller_or_404(db.session, user, storyteller_id)
    if not life_events.can_edit(db.session, user, storyteller.id):
        abort(403)
    if request.method == "GET":
        return _render_form(storyteller, dict.fromkeys(life_events.FIELDS, ""))
    values = _form_values()
    try:
        life_event = life_events.create_life_event(
            db.session, storyteller, values, actor_id=user.id, ip_address=request.remote_addr
        )
    except life_events.LifeEventInputError as exc:
        db.session.rollback()
        return _render_form(storyteller, values, errors=exc.errors, status=400)
    name = life_event.event_name
    db.session.commit()
    flash(f"“{name}” is added to the timeline.", "success")
    return redirect(_timeline_url(storyteller.id), code=303)


@bp.route("/life-events/<uuid:life_event_id>/edit", methods=["GET", "POST"])
@login_required
def edit(life_event_id: uuid.UUID):
    user = current_user.user
    life_event = life_events.life_event_or_404(db.session, user, life_event_id)
    storyteller = life_event.storyteller
    if not life_events.can_edit(db.session, user, storyteller.id):
        abort(403)
    if request.method == "GET":
        return _render_form(storyteller, _values_of(life_event), life_event=life_event)
    values = _form_values()
    try:
        life_events.update_life_event(
            db.session, life_event, values, actor_id=user.id, ip_address=request.remote_addr
        )
    except life_events.LifeEventInputError as exc:
        db.session.rollback()
        return _render_form(
            storyteller, values, life_event=life_event, errors=exc.errors, status=400
        )
    storyteller_id = storyteller.id
    name = life_event.event_name
    db.session.commit()
    flash(f"“{name}” is saved.", "success")
    return redirect(_timeline_url(storyteller_id), code=303)


@bp.route("/life-events/<uuid:life_event_id>/delete", methods=["GET", "POST"])
@login_required
def delete(life_event_id: uuid.UUID):
    user = current_user.user
    life_event = life_events.life_event_or_404(db.session, user, life_event_id)
    storyteller = life_event.storyteller
    if not life_events.can_delete(db.session, user, storyteller.id):
        abort(403)
    if request.method == "GET":
        return render_template(
            "life_events/delete.html",
            storyteller=storyteller,
            life_event=life_event,
            linked=life_events.linked_session_count(db.session, life_event),
        )
    storyteller_id, name = storyteller.id, life_event.event_name
    unlinked = life_events.delete_life_event(
        db.session, life_event, actor_id=user.id, ip_address=request.remote_addr
    )
    db.session.commit()
    message = f"“{name}” is deleted."
    if unlinked:
        sessions = "session" if unlinked == 1 else "sessions"
        message += f" It is no longer linked to {unlinked} {sessions}; their answers are kept."
    flash(message, "success")
    return redirect(_timeline_url(storyteller_id), code=303)


@bp.route("/storytellers/<uuid:storyteller_id>/coverage", endpoint="coverage")
@login_required
def coverage_page(storyteller_id: uuid.UUID):
    user = current_user.user
    storyteller = authz.storyteller_or_404(db.session, user, storyteller_id)
    the_map = coverage.coverage_map(db.session, storyteller)
    record_read("coverage", storyteller_id=storyteller.id, object_id=storyteller.id)
    db.session.commit()
    may_schedule = user.role in ("admin", "coordinator")

    def offered(endpoint: str) -> str | None:
        return endpoint if may_schedule and endpoint in current_app.view_functions else None

    return render_template(
        "life_events/coverage.html",
        storyteller=storyteller,
        map=the_map,
        depths=coverage.DEPTHS,
        depth_labels=coverage.DEPTH_LABELS,
        depth_hints=coverage.DEPTH_HINTS,
        schedule_endpoint=offered(SCHEDULE_ENDPOINT),
        plan_endpoint=offered(PLAN_ENDPOINT),
        can_edit=life_events.can_edit(db.session, user, storyteller.id),
    )
