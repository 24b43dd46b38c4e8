"""The background worker: one huey queue and its tasks (export files, voice transcription).

Where the queue lives, decided from the environment when this module is imported (the
worker, ``huey_consumer storyteller.tasks.huey``, imports it with no Flask app):

* ``REDIS_URL`` set: ``RedisHuey`` on that server (several workers on several machines);
* otherwise ``SqliteHuey`` in the app's instance folder, ``instance/tasks.db`` (the same
  folder ``create_app()`` uses, so the web app and the worker share it);
* ``STORYTELLER_TASKS_IMMEDIATE=1`` (the tests): huey's immediate mode, in memory; a task
  runs at once inside the call that queued it. The app's config key of the same name
  switches the queue into (or out of) immediate mode whenever the app queues a task.

The Flask app: a task needs the database and the instance folder. When it runs inside an
app context (immediate mode: the request that queued it) it uses that app. In the worker
there is none, so the worker creates one app lazily, on its first task, with
``create_app()``: configured from the same environment as the web servers (same
``DATABASE_URL``, same instance folder), and reused for every later task of that process.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, current_app, has_app_context
from flask.sansio.scaffold import find_package
from huey import Huey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper

__all__ = [
    "QUEUE_NAME",
    "TASKS_DB",
    "default_instance_path",
    "enqueue_export",
    "enqueue_transcription",
    "export_book",
    "huey",
    "make_huey",
    "register_tasks",
    "transcribe_recording",
]

QUEUE_NAME = "storyteller"
TASKS_DB = "tasks.db"  # in the instance folder, for SqliteHuey

T = TypeVar("T")


def default_instance_path() -> Path:
    """The instance folder Flask gives ``create_app()`` (the same rule as Flask's own)."""
    prefix, package_path = find_package("storyteller")
    if prefix is None:
        return Path(package_path) / "instance"
    return Path(prefix) / "var" / "storyteller-instance"


def make_huey(
    *,
    redis_url: str | None,
    instance_path: Path | str,
    immediate: bool = False,
    name: str = QUEUE_NAME,
) -> Huey:
    """RedisHuey when there is a Redis URL, else SqliteHuey in ``<instance>/tasks.db``."""
    if redis_url:
        return RedisHuey(name, url=redis_url, immediate=immediate)
    folder = Path(instance_path)
    if not immediate:  # immediate mode keeps the queue in memory and needs no file
        folder.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(folder / TASKS_DB), immediate=immediate)


_worker_app: Flask | None = None
_worker_app_lock = threading.Lock()


def _app() -> Flask:
    """The worker's own app, made on first use (never at import)."""
    global _worker_app
    with _worker_app_lock:
        if _worker_app is None:
            from storyteller import create_app

            _worker_app = create_app()
        return _worker_app


def _in_app(work: Callable[[], T]) -> T:
    """Run ``work`` in the caller's app context, or in the worker's app when there is none."""
    if has_app_context():
        return work()
    with _app().app_context():
        try:
            return work()
        finally:
            from storyteller.extensions import db

            db.session.remove()


def register_tasks(queue: Huey) -> TaskWrapper:
    """Declare the tasks on ``queue``; returns the export task (one queue, one task today)."""

    @queue.task(name="export_book")
    def export_book(job_id: str) -> str:
        """Make the file of one export job; returns the job's final status."""

        def work() -> str:
            from storyteller import export_jobs
            from storyteller.extensions import db

            return export_jobs.run_job(
                db.session, uuid.UUID(job_id), instance_path=Path(current_app.instance_path)
            )

        return _in_app(work)

    return export_book


def _huey_from_environment(environ: Any = os.environ) -> Huey:
    raw = environ.get("STORYTELLER_TASKS_IMMEDIATE") or "0"
    return make_huey(
        redis_url=environ.get("REDIS_URL") or None,
        instance_path=default_instance_path(),
        immediate=raw.strip() not in ("", "0"),
    )


huey = _huey_from_environment()
export_book = register_tasks(huey)


@huey.task(name="transcribe_recording")
def transcribe_recording(recording_id: str) -> str | None:
    """Write down what was said in one assembled voice recording; returns its final status."""

    def work() -> str | None:
        from storyteller import recordings
        from storyteller.extensions import db
        from storyteller.file_storage import storage_for

        config = current_app.config
        recording = recordings.transcribe_recording(
            db.session,
            storage_for(current_app.instance_path),
            uuid.UUID(recording_id),
            recordings.transcription_settings_from_config(config),
            prices=config.get("STORYTELLER_TRANSCRIPTION_PRICES"),
        )
        db.session.commit()
        return recording.status if recording else None

    return _in_app(work)


def enqueue_transcription(recording_id: uuid.UUID) -> str:
    """Queue the transcription of an assembled recording (immediate mode: done on return)."""
    huey.immediate = bool(current_app.config.get("STORYTELLER_TASKS_IMMEDIATE"))
    return transcribe_recording(str(recording_id)).id


def enqueue_export(job_id: uuid.UUID) -> str:
    """Queue the export job (in a Flask app); returns huey's task id.

    In immediate mode (``STORYTELLER_TASKS_IMMEDIATE``) the job has run by the time this
    returns.
    """
    huey.immediate = bool(current_app.config.get("STORYTELLER_TASKS_IMMEDIATE"))
    result = export_book(str(job_id))
    return result.id
