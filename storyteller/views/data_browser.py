"""Admin-only read-only browser over every table; views of personal data are audited."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, render_template, request

from storyteller import authz, table_browser
from storyteller.extensions import db
from storyteller.views.audit_trail import record_read

bp = Blueprint("data_browser", __name__, url_prefix="/admin/data")


def _table_or_404(name: str):
    table = table_browser.table_or_none(name)
    if table is None:
        abort(404)
    return table


@bp.get("/")
@authz.roles_required("admin")
def index():
    return render_template("data_browser/index.html", tables=table_browser.summaries(db.session))


@bp.get("/<name>")
@authz.roles_required("admin")
def table(name: str):
    table = _table_or_404(name)
    column = request.args.get("column", "").strip()
    value = request.args.get("value")
    page_text = request.args.get("page", "1").strip() or "1"
    try:
        if not page_text.isdigit() or not 1 <= int(page_text) <= 1_000_000:
            raise table_browser.BadFilter("The page must be a whole number from 1.")
        condition = table_browser.where_column(table, column, value) if column else None
    except table_browser.BadFilter as exc:
        return render_template("data_browser/refused.html", table=table, error=str(exc)), 400
    result = table_browser.rows_page(db.session, table, condition, int(page_text))
    if table_browser.is_personal(name):
        record_read(
            name, storyteller_id=table_browser.storyteller_of(db.session, table, result.rows)
        )
        db.session.commit()
    return render_template(
        "data_browser/table.html",
        table=table,
        result=result,
        column=column,
        value=value or "",
        shown=table_browser.shown,
        personal=table_browser.is_personal(name),
    )


@bp.get("/<name>/<row_id>")
@authz.roles_required("admin")
def row(name: str, row_id: str):
    table = _table_or_404(name)
    try:
        key = uuid.UUID(row_id)
    except ValueError:
        abort(404)
    found = table_browser.get_row(db.session, table, key)
    if found is None:
        abort(404)
    if table_browser.is_personal(name):
        record_read(
            name,
            storyteller_id=table_browser.storyteller_of(db.session, table, [found]),
            object_id=key,
        )
        db.session.commit()
    return render_template(
        "data_browser/row.html",
        table=table,
        row=found,
        shown=table_browser.shown,
        references=table_browser.references(table),
        personal=table_browser.is_personal(name),
    )
