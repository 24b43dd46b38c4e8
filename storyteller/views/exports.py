"""Book files made in the background: ask for one, watch its progress, download, try again.

Reviewers, coordinators and admins who may see the storyteller ask for exports and retry
failed ones; the storyteller sees their own jobs and downloads the files (403 on asking);
anyone else gets 404. See storyteller/export_jobs.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from storyteller import audit, authz, export_jobs, tasks
from storyteller.extensions import db
from storyteller.models import ExportJob, Storyteller, User

bp = Blueprint("exports", __name__)

# Constants (not queries) the book page's include of exports/_panel.html needs.
bp.add_app_template_global(export_jobs.KIND_LABELS, "export_kind_labels")
bp.add_app_template_global(export_jobs.STATUS_LABELS, "export_status_labels")


def _user() -> User:
    return current_user.user


def _audit(action: str, object_type: str, object_id, storyteller_id, **details) -> None:
    audit.record(
        db.session,
        actor_id=_user().id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        storyteller_id=storyteller_id,
        ip_address=request.remote_addr,
        details=details or None,
    )


def _render_index(storyteller: Storyteller, *, errors: dict[str, str] | None = None, status=200):
    return render_template(
        "exports/index.html",
        storyteller=storyteller,
        jobs=export_jobs.recent_jobs(db.session, storyteller),
        can_request=export_jobs.can_request(_user()),
        export_errors=errors or {},
    ), status


def _job_context(job: ExportJob) -> dict:
    return {
        "job": job,
        "storyteller": job.storyteller,
        "can_request": export_jobs.can_request(_user()),
        "size_text": export_jobs.human_size(job.size_bytes),
    }


def _queue(job: ExportJob) -> None:
    """Hand the job to the worker; a queue that cannot be reached fails the job, with why."""
    try:
        task_id = tasks.enqueue_export(job.id)
    except Exception as exc:  # noqa: BLE001 - shown on the job page, never a 500
        db.session.rollback()
        export_jobs.fail_to_queue(db.session, job.id, exc)
        db.session.commit()
        return
    job = db.session.get(ExportJob, job.id)
    job.task_id = task_id
    db.session.commit()


@bp.route("/storytellers/<uuid:storyteller_id>/exports", methods=["GET"])
@login_required
def index(storyteller_id: uuid.UUID):
    storyteller = authz.storyteller_or_404(db.session, _user(), storyteller_id)
    _audit("read", "export_job", None, storyteller.id)
    db.session.commit()
    return _render_index(storyteller)


@bp.route("/storytellers/<uuid:storyteller_id>/exports", methods=["POST"])
@login_required
def request_export(storyteller_id: uuid.UUID):
    user = _user()
    storyteller = authz.storyteller_or_404(db.session, user, storyteller_id)
    if not export_jobs.can_request(user):
        abort(403)
    try:
        job = export_jobs.create_job(
            db.session, storyteller, request.form.get("kind", ""), requested_by=user
        )
    except export_jobs.ExportRequestError as exc:
        db.session.rollback()
        return _render_index(storyteller, errors=exc.errors, status=400)
    _audit("create", "export_job", job.id, storyteller.id, kind=job.kind)
    db.session.commit()
    job_id = job.id
    _queue(job)
    flash("Your file has been asked for. This page shows how far it has got.", "info")
    return redirect(url_for("exports.job", job_id=job_id), code=303)


@bp.route("/exports/<uuid:job_id>")
@login_required
def job(job_id: uuid.UUID):
    job = export_jobs.job_or_404(db.session, _user(), job_id)
    _audit("read", "export_job", job.id, job.storyteller_id)
    db.session.commit()
    return render_template("exports/job.html", **_job_context(job))


@bp.route("/exports/<uuid:job_id>/status")
@login_required
def job_status(job_id: uuid.UUID):
    """The status box alone; it asks again every second until the job is done."""
    job = export_jobs.job_or_404(db.session, _user(), job_id)
    return render_template("exports/_status.html", **_job_context(job))


@bp.route("/exports/<uuid:job_id>/download")
@login_required
def download(job_id: uuid.UUID):
    job = export_jobs.job_or_404(db.session, _user(), job_id)
    path = export_jobs.file_path(Path(current_app.instance_path), job)
    if path is None:
        abort(404)
    _audit("export", "export_file", job.id, job.storyteller_id, kind=job.kind, file=job.file_name)
    db.session.commit()
    response = Response(_file_chunks(path), mimetype=job.content_type or "application/octet-stream")
    response.headers.set("Content-Disposition", "attachment", filename=job.file_name or path.name)
    response.headers["Content-Length"] = str(path.stat().st_size)
    response.headers["Cache-Control"] = "no-store"
    return response


def _file_chunks(path: Path, size: int = 256 * 1024) -> Iterator[bytes]:
    """The file in pieces, closed as soon as the last piece is sent (or the client leaves).

    Used instead of send_file, whose open file is closed only when the server closes the
    response: streaming stays the same, and no file handle outlives the request.
    """
    with path.open("rb") as stream:
        while chunk := stream.read(size):
            yield chunk


@bp.route("/exports/<uuid:job_id>/retry", methods=["POST"])
@login_required
def retry(job_id: uuid.UUID):
    user = _user()
    job = export_jobs.job_or_404(db.session, user, job_id)
    if not export_jobs.can_request(user):
        abort(403)
    try:
        export_jobs.prepare_retry(db.session, job)
    except export_jobs.ExportRequestError as exc:
        db.session.rollback()
        context = _job_context(job)
        return render_template("exports/job.html", retry_error=exc.message, **context), 400
    _audit("update", "export_job", job.id, job.storyteller_id, retry=True)
    db.session.commit()
    _queue(job)
    flash("Trying again. This page shows how far it has got.", "info")
    return redirect(url_for("exports.job", job_id=job_id), code=303)
