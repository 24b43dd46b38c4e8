"""Export jobs: queued, run (huey immediate mode), progress, failure with a reason, retry,
download, the polled status box, and who may do what. Both databases."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import event, select

from storyteller import export_jobs, tasks
from storyteller.models import AuditLog, BookChapter, ExportJob

APPROVED_TEXT = "We walked to the harbour every Sunday to watch the boats come in."
REJECTED_TEXT = "An invented story about a circus that never happened."


def _chapters(db, storyteller) -> None:
    for sequence, (title, text, status) in enumerate(
        [
            ("The harbour", APPROVED_TEXT, "approved"),
            ("The circus", REJECTED_TEXT, "rejected"),
        ],
        start=1,
    ):
        db.add(
            BookChapter(
                storyteller_id=storyteller.id,
                sequence=sequence,
                title=title,
                content=text,
                paragraphs=[{"text": text, "artifact_ids": [], "interaction_ids": []}],
                review_status=status,
            )
        )
    db.flush()


def _instance() -> Path:
    return Path(current_app.instance_path)


def _blocker(job_id: uuid.UUID) -> Path:
    """A plain file where the job's folder must go: the file cannot be saved (even as root)."""
    folder = _instance() / export_jobs.EXPORTS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    blocker = folder / str(job_id)
    blocker.write_text("in the way")
    return blocker


@pytest.fixture
def reviewer_setup(make_user, make_storyteller, db_session):
    reviewer = make_user("reviewer")
    storyteller_user = make_user("storyteller", name="Mary O'Brien")
    storyteller = make_storyteller(user=storyteller_user, granted_to=[reviewer])
    storyteller.display_name = "Mary O'Brien"
    _chapters(db_session, storyteller)
    return reviewer, storyteller_user, storyteller


def _download_ok(client, job_id) -> None:
    response = client.get(f"/exports/{job_id}/download")
    assert response.status_code == 200
    assert response.get_data()
    response.close()


# ----------------------------------------------------------------------------- domain


def test_create_job_refuses_an_unknown_kind(db_session, reviewer_setup):
    reviewer, _, storyteller = reviewer_setup
    for kind in ("", "html", "docx"):
        with pytest.raises(export_jobs.ExportRequestError) as caught:
            export_jobs.create_job(db_session, storyteller, kind, requested_by=reviewer)
        assert caught.value.field == "kind"
    assert db_session.scalars(select(ExportJob)).all() == []


def test_job_runs_to_succeeded_with_its_file(db_session, reviewer_setup):
    reviewer, _, storyteller = reviewer_setup
    job = export_jobs.create_job(db_session, storyteller, "markdown", requested_by=reviewer)
    assert (job.status, job.attempts) == ("queued", 0)

    task_id = tasks.enqueue_export(job.id)  # immediate mode: it has run

    db_session.expire_all()
    job = db_session.get(ExportJob, job.id)
    assert task_id
    assert job.status == "succeeded", job.error_message
    assert (job.progress, job.attempts, job.error_message) == (100, 1, None)
    assert job.started_at is not None and job.finished_at >= job.started_at
    assert job.content_type.startswith("text/markdown")
    assert job.storage_path == f"exports/{job.id}/{job.file_name}"
    path = export_jobs.file_path(_instance(), job)
    assert path == (_instance() / job.storage_path).resolve()
    data = path.read_text(encoding="utf-8")
    assert APPROVED_TEXT in data and REJECTED_TEXT not in data
    assert job.size_bytes == path.stat().st_size


def test_progress_is_written_to_the_job_row_while_rendering(db_session, reviewer_setup):
    reviewer, _, storyteller = reviewer_setup
    job = export_jobs.create_job(db_session, storyteller, "markdown", requested_by=reviewer)
    written: list[dict] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE EXPORT_JOB") and "progress" in statement:
            written.append(dict(parameters) if isinstance(parameters, dict) else parameters)

    connection = db_session.connection()
    event.listen(connection, "before_cursor_execute", capture)
    try:
        status = export_jobs.run_job(db_session, job.id, instance_path=_instance())
    finally:
        event.remove(connection, "before_cursor_execute", capture)
    assert status == "succeeded"
    # The renderer's own progress calls, each written by its own statement.
    messages = " ".join(str(p) for p in written)
    assert "Gathering the approved chapters." in messages
    assert len(written) >= 3


def test_progress_writer_commits_its_own_update(db_session, reviewer_setup):
    reviewer, _, storyteller = reviewer_setup
    job = export_jobs.create_job(db_session, storyteller, "pdf", requested_by=reviewer)
    db_session.commit()
    progress = export_jobs.progress_writer(db_session, job.id)
    progress(140, "Chapter 2 of 3")  # kept within 0..100
    db_session.expire_all()
    job = db_session.get(ExportJob, job.id)
    assert (job.progress, job.message) == (100, "Chapter 2 of 3")
    progress(-5, "Starting")
    db_session.expire_all()
    assert db_session.get(ExportJob, job.id).progress == 0


def test_failure_is_recorded_with_a_reason_and_retry_succeeds(db_session, reviewer_setup):
    reviewer, _, storyteller = reviewer_setup
    job = export_jobs.create_job(db_session, storyteller, "markdown", requested_by=reviewer)
    blocker = _blocker(job.id)
    try:
        tasks.enqueue_export(job.id)
        db_session.expire_all()
        job = db_session.get(ExportJob, job.id)
        assert job.status == "failed"
        assert job.attempts == 1
        assert job.error_message.startswith("The finished file could not be saved")
        assert "FileExistsError" in job.error_message or "NotADirectoryError" in job.error_message
        assert export_jobs.file_path(_instance(), job) is None
    finally:
        blocker.unlink()

    export_jobs.prepare_retry(db_session, job)
    assert (job.status, job.error_message, job.progress) == ("queued", None, 0)
    tasks.enqueue_export(job.id)
    db_session.expire_all()
    job = db_session.get(ExportJob, job.id)
    assert (job.status, job.attempts, job.error_message) == ("succeeded", 2, None)
    assert export_jobs.file_path(_instance(), job).is_file()


def test_only_a_failed_job_can_be_retried_and_a_run_only_runs_queued_jobs(
    db_session, reviewer_setup
):
    reviewer, _, storyteller = reviewer_setup
    job = export_jobs.create_job(db_session, storyteller, "markdown", requested_by=reviewer)
    with pytest.raises(export_jobs.ExportRequestError):
        export_jobs.prepare_retry(db_session, job)
    assert export_jobs.run_job(db_session, job.id, instance_path=_instance()) == "succeeded"
    # Delivered twice: the second delivery does not run it again.
    assert export_jobs.run_job(db_session, job.id, instance_path=_instance()) == "succeeded"
    assert db_session.get(ExportJob, job.id).attempts == 1
    assert export_jobs.run_job(db_session, uuid.uuid4(), instance_path=_instance()) == "missing"


def test_file_path_is_none_when_the_file_is_gone_or_outside_the_exports_folder(
    db_session, reviewer_setup
):
    reviewer, _, storyteller = reviewer_setup
    job = export_jobs.create_job(db_session, storyteller, "markdown", requested_by=reviewer)
    export_jobs.run_job(db_session, job.id, instance_path=_instance())
    path = export_jobs.file_path(_instance(), job)
    assert path is not None
    job.storage_path = "secret_key"
    assert export_jobs.file_path(_instance(), job) is None
    job.storage_path = f"exports/{job.id}/../../secret_key"
    assert export_jobs.file_path(_instance(), job) is None
    job.storage_path = path.relative_to(_instance()).as_posix()
    shutil.rmtree(path.parent)
    assert export_jobs.file_path(_instance(), job) is None


def test_human_size():
    assert export_jobs.human_size(None) == ""
    assert export_jobs.human_size(120) == "120 bytes"
    assert export_jobs.human_size(2048) == "2 KB"
    assert export_jobs.human_size(5 * 1024 * 1024 + 200_000) == "5.2 MB"


# ----------------------------------------------------------------------------- pages


def test_reviewer_requests_a_file_watches_it_and_downloads_it(
    client, login, db_session, reviewer_setup
):
    reviewer, _, storyteller = reviewer_setup
    login(reviewer)
    page = client.get(f"/storytellers/{storyteller.id}/exports")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for label in ("PDF", "PDF, large print", "EPUB e-book", "Markdown", "Archive package (ZIP)"):
        assert f">{label}</button>" in html
    assert "No files have been made yet." in html

    response = client.post(f"/storytellers/{storyteller.id}/exports", data={"kind": "markdown"})
    assert response.status_code == 303
    job = db_session.scalars(select(ExportJob)).one()
    assert response.headers["Location"] == f"/exports/{job.id}"
    assert (job.kind, job.requested_by_id, job.status) == ("markdown", reviewer.id, "succeeded")
    assert job.task_id

    page = client.get(f"/exports/{job.id}").get_data(as_text=True)
    assert "Ready to download" in page
    assert '<progress id="export-progress" max="100" value="100"' in page
    assert 'hx-trigger="every 1s"' not in page
    assert f'href="/exports/{job.id}/download"' in page

    download = client.get(f"/exports/{job.id}/download")
    assert download.status_code == 200
    assert download.mimetype == "text/markdown"
    assert download.headers["Content-Disposition"] == f"attachment; filename={job.file_name}"
    assert download.headers["Content-Length"] == str(job.size_bytes)
    assert APPROVED_TEXT in download.get_data(as_text=True)

    listing = client.get(f"/storytellers/{storyteller.id}/exports").get_data(as_text=True)
    assert f"Download {job.file_name}" in listing
    actions = db_session.scalars(
        select(AuditLog.action).where(AuditLog.storyteller_id == storyteller.id)
    ).all()
    assert {"create", "read", "export"} <= set(actions)


def test_unknown_kind_is_refused_with_a_message_and_nothing_saved(
    client, login, db_session, reviewer_setup
):
    reviewer, _, storyteller = reviewer_setup
    login(reviewer)
    response = client.post(f"/storytellers/{storyteller.id}/exports", data={"kind": "docx"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Please choose one of the kinds of file listed." in html
    assert 'aria-describedby="kind-help kind-error"' in html
    assert db_session.scalars(select(ExportJob)).all() == []


def test_status_box_polls_while_running_and_stops_when_done(
    client, login, db_session, reviewer_setup
):
    reviewer, _, storyteller = reviewer_setup
    job = export_jobs.create_job(db_session, storyteller, "pdf", requested_by=reviewer)
    job.status, job.progress, job.message = "running", 40, "Chapter 2 of 5"
    db_session.commit()
    login(reviewer)

    running = client.get(f"/exports/{job.id}/status", headers={"HX-Request": "true"})
    assert running.status_code == 200
    html = running.get_data(as_text=True)
    assert "<html" not in html  # the box alone
    assert f'hx-get="/exports/{job.id}/status"' in html
    assert 'hx-trigger="every 1s"' in html
    assert 'value="40"' in html and "40%: Chapter 2 of 5" in html
    page = client.get(f"/exports/{job.id}").get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in page and "Check again" in page

    job.status, job.progress, job.message = "succeeded", 100, "Ready."
    db_session.commit()
    done = client.get(f"/exports/{job.id}/status").get_data(as_text=True)
    assert "hx-trigger" not in done and "hx-get" not in done
    assert "Ready to download" in done


def test_failed_job_page_says_why_and_try_again_makes_the_file(
    client, login, db_session, reviewer_setup
):
    reviewer, storyteller_user, storyteller = reviewer_setup
    job = export_jobs.create_job(db_session, storyteller, "markdown", requested_by=reviewer)
    blocker = _blocker(job.id)
    try:
        tasks.enqueue_export(job.id)
    finally:
        blocker.unlink()
    db_session.commit()
    login(reviewer)
    page = client.get(f"/exports/{job.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "The file could not be made." in html
    assert "The finished file could not be saved" in html
    assert ">Try again</button>" in html
    assert client.get(f"/exports/{job.id}/download").status_code == 404

    response = client.post(f"/exports/{job.id}/retry")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/exports/{job.id}"
    db_session.expire_all()
    job = db_session.get(ExportJob, job.id)
    assert (job.status, job.attempts) == ("succeeded", 2)
    _download_ok(client, job.id)

    again = client.post(f"/exports/{job.id}/retry")
    assert again.status_code == 400
    assert "Only an export that could not be made can be tried again." in again.get_data(
        as_text=True
    )


def test_storyteller_downloads_their_own_book_but_does_not_start_exports(
    client, login, db_session, reviewer_setup
):
    reviewer, storyteller_user, storyteller = reviewer_setup
    job = export_jobs.create_job(db_session, storyteller, "markdown", requested_by=reviewer)
    export_jobs.run_job(db_session, job.id, instance_path=_instance())
    login(storyteller_user)
    listing = client.get(f"/storytellers/{storyteller.id}/exports")
    assert listing.status_code == 200
    assert "<button" not in listing.get_data(as_text=True).split("<main", 1)[1]
    _download_ok(client, job.id)
    refused = client.post(f"/storytellers/{storyteller.id}/exports", data={"kind": "markdown"})
    assert refused.status_code == 403
    assert db_session.scalars(select(ExportJob)).all() == [job]


def test_someone_elses_jobs_are_not_found(client, login, db_session, make_user, reviewer_setup):
    reviewer, _, storyteller = reviewer_setup
    job = export_jobs.create_job(db_session, storyteller, "markdown", requested_by=reviewer)
    export_jobs.run_job(db_session, job.id, instance_path=_instance())
    login(make_user("coordinator"))  # not granted to this storyteller
    for url in (
        f"/exports/{job.id}",
        f"/exports/{job.id}/status",
        f"/exports/{job.id}/download",
        f"/exports/{uuid.uuid4()}",
        f"/storytellers/{storyteller.id}/exports",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/exports/{job.id}/retry").status_code == 404


def test_download_is_404_when_the_file_was_removed(client, login, db_session, reviewer_setup):
    reviewer, _, storyteller = reviewer_setup
    job = export_jobs.create_job(db_session, storyteller, "markdown", requested_by=reviewer)
    export_jobs.run_job(db_session, job.id, instance_path=_instance())
    export_jobs.file_path(_instance(), job).unlink()
    login(reviewer)
    assert client.get(f"/exports/{job.id}/download").status_code == 404


def test_a_queue_that_cannot_be_reached_fails_the_job_not_the_page(
    app, client, login, db_session, reviewer_setup, monkeypatch
):
    reviewer, _, storyteller = reviewer_setup
    login(reviewer)
    unreachable = tasks.make_huey(
        redis_url="redis://127.0.0.1:1/0", instance_path=app.instance_path, name="unreachable"
    )
    monkeypatch.setitem(app.config, "STORYTELLER_TASKS_IMMEDIATE", False)
    monkeypatch.setattr(tasks, "huey", unreachable)
    monkeypatch.setattr(tasks, "export_book", tasks.register_tasks(unreachable))
    response = client.post(f"/storytellers/{storyteller.id}/exports", data={"kind": "markdown"})
    assert response.status_code == 303
    job = db_session.scalars(select(ExportJob)).one()
    assert job.status == "failed"
    assert job.error_message.startswith("The export could not be handed to the worker")
    assert "ConnectionError" in job.error_message


def test_book_page_shows_the_export_panel(client, login, db_session, reviewer_setup):
    reviewer, storyteller_user, storyteller = reviewer_setup
    login(reviewer)
    html = client.get(f"/storytellers/{storyteller.id}/book").get_data(as_text=True)
    assert f'action="/storytellers/{storyteller.id}/exports"' in html
    assert '<button type="submit" name="kind" value="pdf_large" class="button">' in html
    assert f'hx-get="/storytellers/{storyteller.id}/exports"' in html
    assert 'hx-select="#export-jobs"' in html
    # Without JavaScript: a plain link to the list of files.
    assert f'<a href="/storytellers/{storyteller.id}/exports">' in html
    # What the panel's htmx request loads: the list, by the id it selects.
    listing = client.get(f"/storytellers/{storyteller.id}/exports").get_data(as_text=True)
    assert '<div id="export-jobs"' in listing

    client.post("/sign-out")
    login(storyteller_user)
    html = client.get(f"/storytellers/{storyteller.id}/book").get_data(as_text=True)
    assert f'action="/storytellers/{storyteller.id}/exports"' not in html
    assert f'<a href="/storytellers/{storyteller.id}/exports">' in html
