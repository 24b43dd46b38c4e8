"""Admin trace view of one session's turns, and its LLM calls as OpenTelemetry JSONL."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from storyteller import authz, otel_export, traces
from storyteller.extensions import db
from storyteller.views.audit_trail import record_read

bp = Blueprint("traces", __name__, url_prefix="/admin/traces")


def _search_page(query: str = "", message: str | None = None, status: int = 200):
    return (
        render_template(
            "traces/index.html",
            query=query,
            message=message,
            recent=traces.recent_sessions(db.session),
        ),
        status,
    )


@bp.route("/")
@authz.roles_required("admin")
def index():
    query = (request.args.get("q") or "").strip()
    if not query:
        return _search_page()
    try:
        wanted = uuid.UUID(query)
    except ValueError:
        return _search_page(
            query,
            "That is not a session id or a trace id. Both look like "
            "1b4e28ba-2fa1-11d2-883f-0016d3cca427.",
            400,
        )
    if traces.session_exists(db.session, wanted):
        return redirect(url_for("traces.session", session_id=wanted), 303)
    found = traces.find_by_trace_id(db.session, wanted)
    if found is not None:
        return redirect(url_for("traces.by_trace_id", trace_id=wanted), 303)
    return _search_page(query, "No session and no trace has that id.", 404)


@bp.route("/<uuid:session_id>")
@authz.roles_required("admin")
def session(session_id: uuid.UUID):
    trace = traces.load_session_trace(db.session, session_id)
    if trace is None:
        abort(404)
    # Rendered before the commit: a commit expires every loaded row, and the page would then
    # reload them one query at a time.
    page = render_template("traces/session.html", trace=trace)
    record_read("trace", storyteller_id=trace.session.storyteller_id, object_id=session_id)
    db.session.commit()
    return page


@bp.route("/trace/<uuid:trace_id>")
@authz.roles_required("admin")
def by_trace_id(trace_id: uuid.UUID):
    found = traces.find_by_trace_id(db.session, trace_id)
    if found is None:
        abort(404)
    anchor = f"turn-{found.execution_id}" if found.execution_id else None
    return redirect(url_for("traces.session", session_id=found.session_id, _anchor=anchor), 302)


@bp.route("/<uuid:session_id>/llm-calls.jsonl")
@authz.roles_required("admin")
def llm_calls(session_id: uuid.UUID):
    trace = traces.load_session_trace(db.session, session_id)
    if trace is None:
        abort(404)
    content = request.args.get("content", "") == "1"
    body = "".join(otel_export.jsonl_lines(trace, include_content=content))  # before the commit
    record_read(
        "trace_export" if not content else "trace_export_with_content",
        storyteller_id=trace.session.storyteller_id,
        object_id=session_id,
    )
    db.session.commit()
    return Response(
        body,
        mimetype="application/x-ndjson",
        headers={
            "Content-Disposition": f'attachment; filename="session-{session_id}-llm-calls.jsonl"'
        },
    )
