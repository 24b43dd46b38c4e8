"""Admin audit log: who read or changed whose personal data, filterable."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from storyteller import audit_search, authz
from storyteller.extensions import db

bp = Blueprint("audit_log", __name__, url_prefix="/admin/audit")


@bp.get("/")
@authz.roles_required("admin")
def index():
    args = request.args
    try:
        chosen = audit_search.parse_filter(args)
    except audit_search.BadFilter as exc:
        return render_template("audit_log/refused.html", error=str(exc)), 400
    result = audit_search.search(db.session, chosen)
    options = audit_search.choices(db.session)
    return render_template("audit_log/index.html", result=result, args=args, **options)
