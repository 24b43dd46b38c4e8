"""What the interviewer remembers about a storyteller, and the annotations that check,
correct or add to it (storyteller/memory_review.py does the work).

Everyone who may see the storyteller sees the list and each memory (the storyteller too,
read only: it is their own story). Reviewers, coordinators and admins granted to the
storyteller annotate and apply; a storyteller is refused those (403). A memory or an
annotation of someone the user may not see is "not found" (404), before any role check.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from storyteller import authz, memory_review
from storyteller.extensions import db
from storyteller.models import InteractionMemory, Storyteller, User
from storyteller.models.memory import VERIFICATION_STATUSES
from storyteller.views.audit_trail import record_read

bp = Blueprint("memory_review", __name__)


def _user() -> User:
    return current_user.user


def _memory_url(memory_id: uuid.UUID) -> str:
    return url_for("memory_review.show", memory_id=memory_id)


@bp.route("/storytellers/<uuid:storyteller_id>/memories")
@login_required
def index(storyteller_id: uuid.UUID):
    user = _user()
    storyteller: Storyteller = authz.storyteller_or_404(db.session, user, storyteller_id)
    types = memory_review.memory_types_of(db.session, storyteller.id)
    errors: dict[str, str] = {}
    status = 200
    try:
        filters = memory_review.parse_filters(request.args, types)
    except memory_review.MemoryReviewInputError as exc:
        errors, status = exc.errors, 400
        filters = memory_review.MemoryFilters()
    rows = memory_review.list_memories(db.session, storyteller, filters)
    record_read("interaction_memory", object_id=storyteller.id, storyteller_id=storyteller.id)
    db.session.commit()
    return render_template(
        "memories/index.html",
        storyteller=storyteller,
        rows=rows,
        args=request.args,
        errors=errors,
        types={t: memory_review.MEMORY_TYPE_LABELS.get(t, t) for t in types},
        statuses={s: memory_review.STATUS_LABELS[s] for s in VERIFICATION_STATUSES},
        sorts=memory_review.SORTS,
        filtered=bool(filters.memory_type or filters.status),
        can_annotate=memory_review.can_annotate(user),
    ), status


def _render_show(
    memory: InteractionMemory,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
):
    detail = memory_review.memory_detail(db.session, memory)
    change_values = {f"c_{k}": v for k, v in memory_review.editable_values(memory).items()}
    change_values.update(
        {
            "annotation_type": "correction",
            "memory_type": memory.memory_type,
            "memory_key": memory.memory_key or "",
        }
    )
    submitted = values or {}
    if submitted.get("annotation_type") in memory_review.CHANGE_KINDS:
        change_values.update(submitted)
    verify_values = submitted if submitted.get("annotation_type") == "verification" else {}
    return render_template(
        "memories/show.html",
        detail=detail,
        memory=memory,
        storyteller=detail.storyteller,
        can_annotate=memory_review.can_annotate(_user()),
        change_values=change_values,
        verify_values=verify_values,
        errors=errors or {},
        editable=memory_review.EDITABLE_FIELDS,
        whole_numbers=memory_review.WHOLE_NUMBER_FIELDS,
        change_kinds=memory_review.CHANGE_KINDS,
        type_labels=memory_review.MEMORY_TYPE_LABELS,
        status_labels=memory_review.STATUS_LABELS,
        annotation_labels=memory_review.ANNOTATION_LABELS,
        annotation_summary=memory_review.annotation_summary,
        describe=memory_review.describe,
    ), status


@bp.route("/memories/<uuid:memory_id>")
@login_required
def show(memory_id: uuid.UUID):
    memory = memory_review.memory_or_404(db.session, _user(), memory_id)
    record_read("interaction_memory", object_id=memory.id, storyteller_id=memory.storyteller_id)
    db.session.commit()
    return _render_show(memory)


@bp.route("/memories/<uuid:memory_id>/annotations", methods=["POST"])
@login_required
def annotate(memory_id: uuid.UUID):
    user = _user()
    memory = memory_review.memory_or_404(db.session, user, memory_id)
    if not memory_review.can_annotate(user):
        abort(403)
    form = memory_review.AnnotationForm.from_request(request.form)
    try:
        annotation = memory_review.annotate(
            db.session, memory, form, user=user, ip_address=request.remote_addr
        )
    except memory_review.MemoryReviewInputError as exc:
        db.session.rollback()
        memory = memory_review.memory_or_404(db.session, user, memory_id)
        return _render_show(memory, values=form.values(), errors=exc.errors, status=400)
    kind, verdict = annotation.annotation_type, (annotation.content or {}).get("verdict")
    db.session.commit()
    if kind == "verification":
        message = (
            "Marked as right."
            if verdict == "verified"
            else "Marked as wrong. The interviewer will no longer bring it up."
        )
    else:
        message = "Your proposed change is saved. Press “Apply this change” to use it."
    flash(message, "success")
    return redirect(_memory_url(memory_id), code=303)


@bp.route("/memory-annotations/<uuid:annotation_id>/apply", methods=["POST"])
@login_required
def apply(annotation_id: uuid.UUID):
    user = _user()
    annotation = memory_review.annotation_or_404(db.session, user, annotation_id)
    if not memory_review.can_annotate(user):
        abort(403)
    memory_id = annotation.memory_id
    try:
        memory_review.apply_annotation(
            db.session, annotation, user=user, ip_address=request.remote_addr
        )
    except memory_review.MemoryReviewInputError as exc:
        db.session.rollback()
        memory = memory_review.memory_or_404(db.session, user, memory_id)
        return _render_show(memory, errors=exc.errors, status=400)
    db.session.commit()
    flash("The change is applied: the memory now reads as corrected.", "success")
    return redirect(_memory_url(memory_id), code=303)
