"""Admin list of agent errors: filter, context and stack trace, resolve; counts per day."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from storyteller import agent_errors, authz
from storyteller.extensions import db
from storyteller.form_errors import FormInputError
from storyteller.views.audit_trail import record_read

bp = Blueprint("agent_errors", __name__, url_prefix="/admin/errors")

PAGE_SIZE = 50


def _page() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


@bp.route("/")
@authz.roles_required("admin")
def index():
    args = {k: request.args.get(k, "") for k in ("type", "agent", "storyteller", "status")}
    args.update({k: request.args.get(k, "") for k in ("from", "to")})
    choices = agent_errors.filter_choices(db.session)
    try:
        filters = agent_errors.parse_filters(request.args)
        start, end = agent_errors.chart_range(filters)
    except FormInputError as refused:
        return (
            render_template(
                "agent_errors/index.html",
                args=args,
                errors=refused.errors,
                choices=choices,
                rows=[],
                total=0,
                page=1,
                has_more=False,
                counts=None,
                filters=None,
            ),
            400,
        )
    page = _page()
    rows, total = agent_errors.list_errors(db.session, filters, page=page, page_size=PAGE_SIZE)
    counts = agent_errors.counts_per_day(db.session, filters, start, end)
    return render_template(
        "agent_errors/index.html",
        args=args,
        errors={},
        choices=choices,
        rows=rows,
        total=total,
        page=page,
        has_more=page * PAGE_SIZE < total,
        counts=counts,
        filters=filters,
    )


@bp.route("/counts.csv")
@authz.roles_required("admin")
def counts_csv():
    try:
        filters = agent_errors.parse_filters(request.args)
        start, end = agent_errors.chart_range(filters)
    except FormInputError as refused:
        return Response(refused.message + "\n", status=400, mimetype="text/plain")
    counts = agent_errors.counts_per_day(db.session, filters, start, end)
    return Response(
        counts.to_csv(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="errors-per-day-{start}-{end}.csv"'},
    )


def _row_or_404(error_id: uuid.UUID) -> agent_errors.ErrorRow:
    row = agent_errors.error_row(db.session, error_id)
    if row is None:
        abort(404)
    return row


def _detail(row: agent_errors.ErrorRow, note: str = "", errors=None, status: int = 200):
    return (
        render_template("agent_errors/detail.html", row=row, note=note, errors=errors or {}),
        status,
    )


@bp.route("/<uuid:error_id>")
@authz.roles_required("admin")
def detail(error_id: uuid.UUID):
    row = _row_or_404(error_id)
    record_read("agent_error", storyteller_id=row.error.storyteller_id, object_id=error_id)
    db.session.commit()
    return _detail(row)


@bp.route("/<uuid:error_id>/resolve", methods=["POST"])
@authz.roles_required("admin")
def resolve(error_id: uuid.UUID):
    row = _row_or_404(error_id)
    note = request.form.get("note", "")
    try:
        agent_errors.resolve(db.session, row.error, user_id=current_user.user.id, note=note)
    except FormInputError as refused:
        db.session.rollback()
        return _detail(_row_or_404(error_id), note=note, errors=refused.errors, status=400)
    db.session.commit()
    flash("The error is marked resolved, with your note.", "success")
    return redirect(url_for("agent_errors.detail", error_id=error_id), 303)
