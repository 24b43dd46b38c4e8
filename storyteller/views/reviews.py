"""Reviewing artifacts: the queue, one artifact next to its source, decisions, edits and
their history, the book choice; and the storyteller's own "My stories" page.

Reviewers, coordinators and admins review (``reviews.REVIEW_ROLES``); a storyteller is
refused those pages (403) and instead confirms or corrects their own artifacts. Anything
the user may not see is "not found" (404), before any role check.
"""

from __future__ import annotations

import uuid

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from storyteller import authz, recordings, reviews, session_notes
from storyteller.extensions import db
from storyteller.models import SessionArtifact, Storyteller, User
from storyteller.views.audit_trail import record_read

bp = Blueprint("reviews", __name__)


# ----------------------------------------------------------------------------- helpers


def _user() -> User:
    return current_user.user


def _ip() -> str | None:
    return request.remote_addr


def _artifact_to_review(artifact_id: uuid.UUID) -> SessionArtifact:
    user = _user()
    artifact = authz.artifact_or_404(db.session, user, artifact_id)
    if user.role not in reviews.REVIEW_ROLES:
        abort(403)
    return artifact


def _own_artifact(artifact_id: uuid.UUID) -> SessionArtifact:
    """An artifact of the signed-in storyteller's own story; staff are refused (403)."""
    user = _user()
    artifact = authz.artifact_or_404(db.session, user, artifact_id)
    if user.role != "storyteller":
        abort(403)
    return artifact


def _artifact_url(artifact_id: uuid.UUID, anchor: str = "") -> str:
    return url_for("reviews.artifact", artifact_id=artifact_id) + anchor


def render_artifact_page(
    artifact: SessionArtifact,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    comment: str = "",
    note_form: session_notes.NoteForm | None = None,
    note_errors: dict[str, str] | None = None,
):
    """The review page of one artifact (also used by the notes route to show a mistake)."""
    artifact_text, answer_text = reviews.source_highlights(artifact)
    source_id = artifact.source_interaction.id if artifact.source_interaction else None
    voice = recordings.sent_for(db.session, [source_id] if source_id else [])
    all_versions = reviews.versions(db.session, artifact)
    return render_template(
        "reviews/artifact.html",
        artifact=artifact,
        storyteller=artifact.session.storyteller,
        facts=reviews.structured_facts(artifact.structured_data),
        artifact_text=artifact_text,
        answer_text=answer_text,
        source_recording=voice.get(source_id),
        versions=all_versions,
        type_labels=reviews.ARTIFACT_TYPE_LABELS,
        errors=errors or {},
        comment=comment,
        notes=session_notes.notes_of(db.session, artifact.session_id),
        note_types=session_notes.NOTE_TYPE_LABELS,
        note_form=note_form,
        note_errors=note_errors or {},
    ), status


# ----------------------------------------------------------------------------- the queue


@bp.route("/review")
@login_required
def queue():
    user = _user()
    if user.role not in reviews.REVIEW_ROLES:
        abort(403)
    errors: dict[str, str] = {}
    try:
        filters = reviews.parse_filters(db.session, user, request.args)
        page = reviews.queue(db.session, user, filters)
    except reviews.ReviewInputError as exc:
        errors = exc.errors
        filters, page = reviews.QueueFilters(), None
    record_read("review_queue", object_id=None, storyteller_id=filters.storyteller_id)
    db.session.commit()
    context = {
        "filters": filters,
        "page": page,
        "errors": errors,
        "args": request.args,
        "type_labels": reviews.ARTIFACT_TYPE_LABELS,
        **reviews.filter_choices(db.session, user, filters),
    }
    fragment = request.headers.get("HX-Target") == "queue-list" and not errors
    template = "reviews/_queue_list.html" if fragment else "reviews/queue.html"
    response = make_response(render_template(template, **context), 400 if errors else 200)
    response.headers["Vary"] = "HX-Request, HX-Target"
    return response


# ----------------------------------------------------------------------------- one artifact


@bp.route("/artifacts/<uuid:artifact_id>")
@login_required
def artifact(artifact_id: uuid.UUID):
    artifact = _artifact_to_review(artifact_id)
    record_read(
        "session_artifact", object_id=artifact.id, storyteller_id=artifact.session.storyteller_id
    )
    db.session.commit()
    return render_artifact_page(artifact)


@bp.route("/artifacts/<uuid:artifact_id>/decision", methods=["POST"])
@login_required
def decide(artifact_id: uuid.UUID):
    artifact = _artifact_to_review(artifact_id)
    decision = request.form.get("decision", "")
    comment = request.form.get("comment", "")
    try:
        changed = reviews.decide(
            db.session, artifact, decision, comment, user=_user(), ip_address=_ip()
        )
    except reviews.ReviewInputError as exc:
        db.session.rollback()
        artifact = db.session.get(SessionArtifact, artifact_id)
        return render_artifact_page(artifact, status=400, errors=exc.errors, comment=comment)
    db.session.commit()
    words = {
        "approve": "The story is approved.",
        "request_changes": "Changes are requested.",
        "reject": "The story is rejected.",
    }
    flash(words[decision] if changed else "That decision was already saved.", "success")
    return redirect(_artifact_url(artifact_id), code=303)


def _render_edit(
    artifact: SessionArtifact, form: dict[str, str], errors: dict[str, str], status: int = 200
):
    return render_template(
        "reviews/edit.html",
        artifact=artifact,
        form=form,
        errors=errors,
        type_labels=reviews.ARTIFACT_TYPE_LABELS,
    ), status


def _base_version(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


@bp.route("/artifacts/<uuid:artifact_id>/edit", methods=["GET", "POST"])
@login_required
def edit(artifact_id: uuid.UUID):
    artifact = _artifact_to_review(artifact_id)
    if request.method == "GET":
        form = {
            "artifact_name": artifact.artifact_name or "",
            "content": artifact.content or "",
            "reason": "",
            "base_version": str(reviews.current_version_number(db.session, artifact)),
        }
        return _render_edit(artifact, form, {})
    form = {
        k: request.form.get(k, "") for k in ("artifact_name", "content", "reason", "base_version")
    }
    try:
        revision = reviews.edit(
            db.session,
            artifact,
            name=form["artifact_name"],
            content=form["content"],
            reason=form["reason"],
            user=_user(),
            base_version=_base_version(form["base_version"]),
            ip_address=_ip(),
        )
    except reviews.ReviewInputError as exc:
        db.session.rollback()
        artifact = db.session.get(SessionArtifact, artifact_id)
        return _render_edit(artifact, form, exc.errors, 400)
    db.session.commit()
    flash(
        "The changes are saved; the earlier version is kept in the history."
        if revision
        else "Nothing was changed.",
        "success",
    )
    return redirect(_artifact_url(artifact_id, "#history"), code=303)


@bp.route("/artifacts/<uuid:artifact_id>/diff")
@login_required
def diff(artifact_id: uuid.UUID):
    artifact = _artifact_to_review(artifact_id)
    a, b = request.args.get("a"), request.args.get("b")
    errors: dict[str, str] = {}
    try:
        all_versions, result = reviews.diff_versions(db.session, artifact, a, b)
    except reviews.ReviewInputError as exc:
        errors = exc.errors
        all_versions, result = reviews.versions(db.session, artifact), None
    record_read(
        "artifact_revision", object_id=artifact.id, storyteller_id=artifact.session.storyteller_id
    )
    db.session.commit()
    return render_template(
        "reviews/diff.html",
        artifact=artifact,
        versions=all_versions,
        result=result,
        errors=errors,
        chosen_a=result.a.key if result else (a or ""),
        chosen_b=result.b.key if result else (b or ""),
    ), 400 if errors else 200


@bp.route("/artifacts/<uuid:artifact_id>/include", methods=["POST"])
@login_required
def include(artifact_id: uuid.UUID):
    artifact = _artifact_to_review(artifact_id)
    raw = request.form.get("included", "")
    if raw not in ("1", "0"):
        return render_artifact_page(
            artifact, status=400, errors={"included": "Please choose to include it or not."}
        )
    try:
        reviews.set_included(db.session, artifact, raw == "1", user=_user(), ip_address=_ip())
    except reviews.ReviewInputError as exc:
        db.session.rollback()
        artifact = db.session.get(SessionArtifact, artifact_id)
        return render_artifact_page(artifact, status=400, errors=exc.errors)
    db.session.commit()
    flash("It will be in the book." if raw == "1" else "It will not be in the book.", "success")
    back = request.form.get("next", "")
    if back.startswith("/") and not back.startswith("//"):
        return redirect(back, code=303)
    return redirect(_artifact_url(artifact_id), code=303)


@bp.route("/storytellers/<uuid:storyteller_id>/artifacts")
@login_required
def storyteller_artifacts(storyteller_id: uuid.UUID):
    user = _user()
    storyteller = authz.storyteller_or_404(db.session, user, storyteller_id)
    if user.role not in reviews.REVIEW_ROLES:
        abort(403)
    approved = reviews.approved_artifacts(db.session, storyteller)
    record_read("approved_artifacts", object_id=storyteller.id, storyteller_id=storyteller.id)
    db.session.commit()
    return render_template(
        "reviews/storyteller_artifacts.html",
        storyteller=storyteller,
        artifacts=approved,
        included=sum(1 for a in approved if a.included_in_synthesis),
        type_labels=reviews.ARTIFACT_TYPE_LABELS,
    )


# ----------------------------------------------------------------------------- the storyteller


def _own_profile(user: User) -> Storyteller | None:
    return db.session.scalar(authz.visible_storytellers(user).where(Storyteller.user_id == user.id))


@bp.route("/my-stories")
@login_required
def my_stories():
    user = _user()
    if user.role != "storyteller":
        abort(403)
    profile = _own_profile(user)
    artifacts = reviews.my_artifacts(db.session, profile) if profile else []
    if profile:
        record_read("my_stories", object_id=profile.id, storyteller_id=profile.id)
    db.session.commit()
    return render_template(
        "reviews/my_stories.html",
        storyteller=profile,
        artifacts=artifacts,
        type_labels=reviews.ARTIFACT_TYPE_LABELS,
    )


@bp.route("/artifacts/<uuid:artifact_id>/confirm", methods=["POST"])
@login_required
def confirm(artifact_id: uuid.UUID):
    artifact = _own_artifact(artifact_id)
    changed = reviews.confirm(db.session, artifact, user=_user(), ip_address=_ip())
    db.session.commit()
    flash(
        "Thank you. You said this is right." if changed else "You had already said this is right.",
        "success",
    )
    return redirect(url_for("reviews.my_stories") + f"#artifact-{artifact_id}", code=303)


@bp.route("/artifacts/<uuid:artifact_id>/correct", methods=["GET", "POST"])
@login_required
def correct(artifact_id: uuid.UUID):
    artifact = _own_artifact(artifact_id)
    if request.method == "GET":
        form = {"content": artifact.content or "", "reason": ""}
        return render_template(
            "reviews/correct.html",
            artifact=artifact,
            form=form,
            errors={},
            type_labels=reviews.ARTIFACT_TYPE_LABELS,
        )
    form = {"content": request.form.get("content", ""), "reason": request.form.get("reason", "")}
    try:
        revision = reviews.correct(
            db.session,
            artifact,
            content=form["content"],
            reason=form["reason"],
            user=_user(),
            ip_address=_ip(),
        )
    except reviews.ReviewInputError as exc:
        db.session.rollback()
        artifact = db.session.get(SessionArtifact, artifact_id)
        return render_template(
            "reviews/correct.html",
            artifact=artifact,
            form=form,
            errors=exc.errors,
            type_labels=reviews.ARTIFACT_TYPE_LABELS,
        ), 400
    db.session.commit()
    flash(
        "Thank you. Your correction is saved."
        if revision
        else "Nothing was changed, so we noted that it is right.",
        "success",
    )
    return redirect(url_for("reviews.my_stories") + f"#artifact-{artifact_id}", code=303)
