"""The huey queue: SqliteHuey in the instance folder by default, RedisHuey with REDIS_URL,
immediate mode from the environment; a job queued in a real queue and run by a worker's
own steps (dequeue, execute) without a consumer process. Both databases."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import redis
from flask import current_app
from huey import RedisHuey, SqliteHuey
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

from storyteller import export_jobs, tasks
from storyteller.models import BookChapter, ExportJob

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _job(db, make_user, make_storyteller) -> ExportJob:
    reviewer = make_user("reviewer")
    storyteller = make_storyteller(display_name="Arthur Penn", granted_to=[reviewer])
    db.add(
        BookChapter(
            storyteller_id=storyteller.id,
            sequence=1,
            title="The farm",
            content="We kept two cows and a grey horse called Smoke.",
            paragraphs=[{"text": "We kept two cows and a grey horse called Smoke."}],
            review_status="approved",
        )
    )
    job = export_jobs.create_job(db, storyteller, "markdown", requested_by=reviewer)
    db.commit()
    return job


def test_sqlite_huey_in_the_instance_folder_without_redis(tmp_path):
    queue = tasks.make_huey(redis_url=None, instance_path=tmp_path / "instance")
    assert isinstance(queue, SqliteHuey)
    assert isinstance(queue.storage, SqliteStorage)
    assert queue.storage.filename == str(tmp_path / "instance" / tasks.TASKS_DB)
    assert (tmp_path / "instance" / tasks.TASKS_DB).is_file()


def test_redis_huey_when_redis_url_is_set(tmp_path):
    queue = tasks.make_huey(redis_url="redis://127.0.0.1:6379/3", instance_path=tmp_path)
    assert isinstance(queue, RedisHuey)
    assert isinstance(queue.storage, RedisStorage)
    assert queue.storage.conn.connection_pool.connection_kwargs["db"] == 3
    assert not (tmp_path / tasks.TASKS_DB).exists()


def test_immediate_mode_keeps_the_queue_in_memory(tmp_path):
    queue = tasks.make_huey(redis_url=None, instance_path=tmp_path, immediate=True)
    assert queue.immediate and isinstance(queue.storage, MemoryStorage)
    assert not (tmp_path / tasks.TASKS_DB).exists()


def test_the_module_queue_follows_the_environment():
    from_env = tasks._huey_from_environment  # noqa: SLF001 - what the worker's import runs
    assert isinstance(from_env({"REDIS_URL": "redis://127.0.0.1:6379/0"}), RedisHuey)
    immediate = from_env({"STORYTELLER_TASKS_IMMEDIATE": "1", "REDIS_URL": ""})
    assert immediate.immediate and isinstance(immediate, SqliteHuey)
    assert tasks.default_instance_path() == Path(current_app_instance_default())


def current_app_instance_default() -> str:
    from flask import Flask

    return Flask("storyteller").instance_path


def _run_through(queue, db_session, job: ExportJob) -> None:
    task = tasks.register_tasks(queue)
    result = task(str(job.id))
    assert queue.pending_count() == 1
    db_session.expire_all()
    assert db_session.get(ExportJob, job.id).status == "queued"  # nothing ran yet
    message = queue.dequeue()
    assert message.id == result.id
    queue.execute(message)  # what a consumer's worker does with it
    assert result.get() == "succeeded"
    db_session.expire_all()
    done = db_session.get(ExportJob, job.id)
    assert (done.status, done.attempts) == ("succeeded", 1)
    path = export_jobs.file_path(Path(current_app.instance_path), done)
    assert "grey horse called Smoke" in path.read_text(encoding="utf-8")


def test_a_job_goes_through_a_real_sqlite_queue(
    db_session, make_user, make_storyteller, tmp_path
):
    job = _job(db_session, make_user, make_storyteller)
    queue = tasks.make_huey(redis_url=None, instance_path=tmp_path, name="test-sqlite")
    _run_through(queue, db_session, job)


def test_a_job_goes_through_a_real_redis_queue(db_session, make_user, make_storyteller, tmp_path):
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    job = _job(db_session, make_user, make_storyteller)
    queue = tasks.make_huey(
        redis_url=REDIS_URL, instance_path=tmp_path, name=f"test-{uuid.uuid4().hex[:8]}"
    )
    try:
        _run_through(queue, db_session, job)
    finally:
        queue.flush()
