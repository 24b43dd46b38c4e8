"""Export jobs: ask for a book file, make it in the background, show progress, retry, download.

A job (``export_job``) is queued by ``create_job`` (or ``prepare_retry`` for a failed
one) and made by ``run_job``, which the worker task calls (storyteller/tasks.py). The
file goes to ``<instance>/exports/<job id>/<file name>``: the folder is the job's id and
the name is cleaned, so no part of the path comes from a user.

Who: reviewers, coordinators and admins who may see the storyteller ask for exports and
retry them; the storyteller may see their own jobs and download the finished files, but
does not start exports (the people editing the book decide when it is ready). Anyone who
may not see the storyteller gets "not found".

``create_job`` and ``prepare_retry`` flush and never commit (the view commits).
``run_job`` is the worker's unit of work and owns its transactions: it commits "running",
each progress update (in its own short transaction, so the job page sees it while the
file is being made) and the final "succeeded" or "failed".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from flask import abort
from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession
from werkzeug.utils import secure_filename

from storyteller import authz, exports
from storyteller.form_errors import FormInputError
from storyteller.models import ExportJob, Storyteller, User, utcnow

__all__ = [
    "ACTIVE_STATUSES",
    "EXPORTS_FOLDER",
    "KIND_LABELS",
    "REQUEST_ROLES",
    "STATUS_LABELS",
    "ExportRequestError",
    "can_request",
    "create_job",
    "fail_to_queue",
    "file_path",
    "human_size",
    "job_or_404",
    "prepare_retry",
    "recent_jobs",
    "run_job",
]

EXPORTS_FOLDER = "exports"  # under the instance folder
REQUEST_ROLES = ("reviewer", "coordinator", "admin")
ACTIVE_STATUSES = ("queued", "running")

# The kinds made by a background job, in the order the buttons show them. "html" is the
# in-app preview of the book (book.preview): it is shown at once and needs no job.
KIND_LABELS = {
    "pdf": "PDF",
    "pdf_large": "PDF, large print",
    "epub": "EPUB e-book",
    "markdown": "Markdown",
    "archive": "Archive package (ZIP)",
}
assert set(KIND_LABELS) <= set(exports.KINDS)

STATUS_LABELS = {
    "queued": "Waiting to start",
    "running": "Being made",
    "succeeded": "Ready to download",
    "failed": "Could not be made",
}

RECENT_LIMIT = 20


class ExportRequestError(FormInputError):
    """An export that cannot be started; ``field`` names the form field."""


def can_request(user: User) -> bool:
    return user.role in REQUEST_ROLES


def job_or_404(db: DbSession, user: User, job_id: uuid.UUID) -> ExportJob:
    """The job, if this user may see its storyteller; otherwise 404, as for a missing one."""
    job = db.get(ExportJob, job_id)
    if job is None or not authz.can_see_storyteller(db, user, job.storyteller_id):
        abort(404)
    return job


def recent_jobs(db: DbSession, storyteller: Storyteller, limit: int = RECENT_LIMIT):
    """The storyteller's latest jobs, newest first."""
    return db.scalars(
        select(ExportJob)
        .where(ExportJob.storyteller_id == storyteller.id)
        .order_by(ExportJob.created_at.desc(), ExportJob.id)
        .limit(limit)
    ).all()


def create_job(
    db: DbSession, storyteller: Storyteller, kind: str, *, requested_by: User | None
) -> ExportJob:
    """A queued job for one kind of file; an unknown kind is refused."""
    kind = (kind or "").strip()
    if kind not in KIND_LABELS:
        raise ExportRequestError("kind", "Please choose one of the kinds of file listed.")
    job = ExportJob(
        storyteller_id=storyteller.id,
        kind=kind,
        status="queued",
        progress=0,
        message="Waiting for the worker to start.",
        requested_by_id=requested_by.id if requested_by else None,
    )
    db.add(job)
    db.flush()
    return job


def prepare_retry(db: DbSession, job: ExportJob) -> ExportJob:
    """Queue a failed job again (a new run of the same job; ``attempts`` keeps counting)."""
    if job.status != "failed":
        raise ExportRequestError(
            "job", "Only an export that could not be made can be tried again."
        )
    job.status = "queued"
    job.progress = 0
    job.message = "Waiting for the worker to start."
    job.finished_at = None
    _forget_file(job)
    db.flush()
    return job


def file_path(instance_path: Path, job: ExportJob) -> Path | None:
    """The finished file of a succeeded job, or None when there is none (any more)."""
    if job.status != "succeeded" or not job.storage_path:
        return None
    root = (Path(instance_path) / EXPORTS_FOLDER).resolve()
    path = (Path(instance_path) / job.storage_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def human_size(size_bytes: int | None) -> str:
    """"2.4 MB", "830 KB", "120 bytes"; empty for no size."""
    if size_bytes is None:
        return ""
    if size_bytes < 1024:
        return f"{size_bytes} bytes"
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:.0f} KB"
    return f"{size_bytes / (1024 * 1024):.1f} MB"


def fail_to_queue(db: DbSession, job_id: uuid.UUID, exc: BaseException) -> str:
    """The queue could not take the job (e.g. Redis unreachable): the job says so."""
    return _fail(db, job_id, _failure_message(exc, "The export could not be handed to the worker"))


# ----------------------------------------------------------------------------- the run


def _forget_file(job: ExportJob) -> None:
    job.error_message = None
    job.storage_path = None
    job.size_bytes = None
    job.file_name = None
    job.content_type = None


def _safe_file_name(name: str, kind: str) -> str:
    cleaned = secure_filename(name or "")[:150]
    return cleaned or f"book-{kind}"


def _write_file(instance_path: Path, job: ExportJob, rendered: exports.Rendered) -> Path:
    folder = Path(instance_path) / EXPORTS_FOLDER / str(job.id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _safe_file_name(rendered.file_name, job.kind)
    temporary = path.with_name(path.name + ".part")
    temporary.write_bytes(rendered.data)
    temporary.replace(path)
    return path


def progress_writer(db: DbSession, job_id: uuid.UUID) -> Callable[[int, str], None]:
    """A ``progress(pct, message)`` that writes to the job row in its own short transaction."""
    bind = db.get_bind()

    def progress(pct: int, message: str) -> None:
        value = max(0, min(100, int(pct)))
        with DbSession(bind=bind, join_transaction_mode="create_savepoint") as own:
            own.execute(
                update(ExportJob)
                .where(ExportJob.id == job_id)
                .values(progress=value, message=(message or "")[:300], updated_at=utcnow())
            )
            own.commit()

    return progress


def _failure_message(exc: BaseException, stage: str) -> str:
    detail = str(exc).strip() or "no further detail"
    return f"{stage}: {detail} ({type(exc).__name__})."


def run_job(db: DbSession, job_id: uuid.UUID, *, instance_path: Path) -> str:
    """Make the job's file; returns the final status (or "missing" for an unknown job).

    Only a queued job runs, so a task delivered twice does not make the file twice.
    Any failure ends in "failed" with a plain reason and the exception type.
    """
    job = db.get(ExportJob, job_id)
    if job is None:
        return "missing"
    if job.status != "queued":
        return job.status
    job.status = "running"
    job.started_at = utcnow()
    job.finished_at = None
    job.attempts = (job.attempts or 0) + 1
    job.progress = 0
    job.message = "Starting."
    _forget_file(job)
    db.commit()

    stage = "The book could not be put together"
    try:
        storyteller = db.get(Storyteller, job.storyteller_id)
        rendered = exports.render(
            db,
            storyteller,
            job.kind,
            instance_path=Path(instance_path),
            progress=progress_writer(db, job.id),
        )
        stage = "The finished file could not be saved"
        path = _write_file(instance_path, job, rendered)
        db.commit()  # end the reading transaction before the final write
    except Exception as exc:  # noqa: BLE001 - every failure is shown on the job page
        db.rollback()
        status = _fail(db, job_id, _failure_message(exc, stage))
        db.commit()
        return status

    job = db.get(ExportJob, job_id)
    job.status = "succeeded"
    job.progress = 100
    job.message = "Ready."
    job.file_name = path.name
    job.content_type = rendered.content_type
    job.storage_path = path.relative_to(Path(instance_path)).as_posix()
    job.size_bytes = path.stat().st_size
    job.finished_at = utcnow()
    db.commit()
    return "succeeded"


def _fail(db: DbSession, job_id: uuid.UUID, reason: str) -> str:
    job = db.get(ExportJob, job_id)
    if job is None:
        return "missing"
    job.status = "failed"
    job.message = "Stopped."
    job.error_message = reason
    job.finished_at = utcnow()
    db.flush()
    return "failed"
