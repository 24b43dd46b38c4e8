"""Permission rows for the book's export jobs (storyteller/views/exports.py).

Reviewers, coordinators and admins who may see the storyteller ask for files and retry
failed ones; the storyteller sees their own jobs and downloads the files but may not
start one (403); nobody but the admin finds someone else's storyteller or jobs (404).
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from storyteller import export_jobs
from storyteller.models import ExportJob
from tests.permissions_common import (
    ANON_TO_SIGN_IN,
    HIDDEN_FROM_ALL_BUT_ADMIN,
    VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    Route,
    Scenario,
)

STAFF_OWN_POST = {
    **ANON_TO_SIGN_IN,
    "storyteller": 403,
    "coordinator": 303,
    "reviewer": 303,
    "admin": 303,
}
OTHER_POST = {**HIDDEN_FROM_ALL_BUT_ADMIN, "admin": 303}


def _job(status: str):
    def setup(s: Scenario, ownership: str) -> None:
        job = ExportJob(
            storyteller_id=s.storyteller(ownership).id,
            kind="markdown",
            status="queued" if status == "succeeded" else status,
            error_message="The book could not be put together: test (RuntimeError).",
        )
        s.db.add(job)
        s.db.flush()
        if status == "succeeded":
            export_jobs.run_job(s.db, job.id, instance_path=Path(current_app.instance_path))
        s.db.commit()
        s.extra["job"] = job

    return setup


def _exports_url(s: Scenario, own: str) -> str:
    return f"/storytellers/{s.storyteller(own).id}/exports"


def _job_url(suffix: str = ""):
    return lambda s, own: f"/exports/{s.extra['job'].id}{suffix}"


ROWS = {
    "exports.index": Route(
        "GET",
        _exports_url,
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "exports.request_export": Route(
        "POST", _exports_url, data={"kind": "markdown"}, other=OTHER_POST, own=STAFF_OWN_POST
    ),
    "exports.job": Route(
        "GET",
        _job_url(),
        setup=_job("running"),
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "exports.job_status": Route(
        "GET",
        _job_url("/status"),
        setup=_job("running"),
        headers={"HX-Request": "true"},
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "exports.download": Route(
        "GET",
        _job_url("/download"),
        setup=_job("succeeded"),
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "exports.retry": Route(
        "POST",
        _job_url("/retry"),
        setup=_job("failed"),
        other=OTHER_POST,
        own=STAFF_OWN_POST,
    ),
}
