"""Retention: operational records older than their period go; a storyteller's story stays."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Date, func, select, update

from storyteller import retention
from storyteller.models import AgentMetric, Base, LlmInteraction, PerformanceDaily, utcnow
from storyteller.models.base import UtcDateTime
from tests.personal_data_fill import fill_storyteller, shared_rows

DAYS = dict(retention.DEFAULT_DAYS)
PURGED = {rule.table for rule in retention.RULES}


def _age(db, table_ids: dict[str, set], moment: datetime) -> None:
    """Set every timestamp and date of these rows to ``moment``."""
    for name, ids in table_ids.items():
        t = Base.metadata.tables[name]
        values = {}
        for column in t.columns:
            if isinstance(column.type, UtcDateTime):
                values[column.name] = moment
            elif isinstance(column.type, Date):
                values[column.name] = moment.date()
        if values and ids:
            db.execute(update(t).where(t.c.id.in_(ids)).values(values))
    db.expire_all()


def _present(db, table_ids):
    result = {}
    for name, ids in table_ids.items():
        t = Base.metadata.tables[name]
        result[name] = db.scalar(select(func.count()).where(t.c.id.in_(ids)))
    return result


@pytest.fixture
def old_and_new(app, db_session):
    shared = shared_rows(db_session)
    old, old_ids, _ = fill_storyteller(db_session, shared, "Olive Oldtimer", app.instance_path)
    _, new_ids, _ = fill_storyteller(db_session, shared, "Nora Newcomer", app.instance_path)
    long_ago = utcnow() - timedelta(days=1000)
    _age(db_session, old_ids, long_ago)
    shared_ids = {
        "agent_metric": set(db_session.scalars(select(AgentMetric.id))),
        "performance_daily": set(db_session.scalars(select(PerformanceDaily.id))),
    }
    _age(db_session, shared_ids, long_ago)
    return old_ids, new_ids, shared_ids


def test_old_operational_rows_go_and_the_story_stays(db_session, old_and_new):
    old_ids, new_ids, shared_ids = old_and_new
    planned = {line.table: line.rows for line in retention.plan(db_session, utcnow(), DAYS)}
    for table in PURGED:
        expected = len(old_ids.get(table, ())) + len(shared_ids.get(table, ()))
        assert planned[table] >= expected, table
    assert _present(db_session, old_ids) == {t: len(i) for t, i in old_ids.items()}

    applied = {line.table: line.rows for line in retention.apply(db_session, utcnow(), DAYS)}
    assert applied == planned
    after = _present(db_session, old_ids)
    for table, ids in old_ids.items():
        if table in PURGED:
            assert after[table] == 0, table
        else:
            assert after[table] == len(ids), f"{table} must never be purged by age"
    for table in retention.NEVER_PURGED:
        assert after[table] == len(old_ids[table]) > 0, table
    assert _present(db_session, new_ids) == {t: len(i) for t, i in new_ids.items()}
    assert _present(db_session, shared_ids) == {"agent_metric": 0, "performance_daily": 0}
    assert not set(retention.NEVER_PURGED) & PURGED


def test_the_period_is_a_boundary(db_session, make_storyteller):
    now = utcnow()
    person = make_storyteller()
    keep = LlmInteraction(
        storyteller_id=person.id,
        model="m",
        created_at=now - timedelta(days=183) + timedelta(minutes=1),
    )
    drop = LlmInteraction(
        storyteller_id=person.id,
        model="m",
        created_at=now - timedelta(days=183) - timedelta(minutes=1),
    )
    db_session.add_all([keep, drop])
    db_session.flush()
    keep_id, drop_id = keep.id, drop.id
    retention.apply(db_session, now, DAYS)
    assert db_session.get(LlmInteraction, keep_id) is not None
    assert db_session.get(LlmInteraction, drop_id) is None
    # A shorter configured period reaches the newer row too.
    retention.apply(db_session, now, {**DAYS, "RETENTION_MESSAGES_DAYS": 30})
    assert db_session.get(LlmInteraction, keep_id) is None


def test_periods_are_validated():
    assert retention.periods({}) == retention.DEFAULT_DAYS
    assert retention.periods({"RETENTION_USAGE_DAYS": 10})["RETENTION_USAGE_DAYS"] == 10
    for bad in (0, -5, "30", None, True):
        with pytest.raises(ValueError, match="RETENTION_ERRORS_DAYS"):
            retention.periods({"RETENTION_ERRORS_DAYS": bad})


def test_the_command_is_a_dry_run_unless_told_to_apply(runner, db_session, make_storyteller):
    person = make_storyteller()
    call = LlmInteraction(
        storyteller_id=person.id, model="m", created_at=utcnow() - timedelta(days=400)
    )
    db_session.add(call)
    db_session.commit()
    call_id = call.id
    dry = runner.invoke(args=["retention"])
    assert dry.exit_code == 0, dry.output
    assert "Dry run" in dry.output and "llm_interaction: would delete" in dry.output
    assert "RETENTION_MESSAGES_DAYS=183" in dry.output
    db_session.expire_all()
    assert db_session.get(LlmInteraction, call_id) is not None
    done = runner.invoke(args=["retention", "--apply"])
    assert done.exit_code == 0, done.output
    assert "llm_interaction: deleted" in done.output
    db_session.expire_all()
    assert db_session.get(LlmInteraction, call_id) is None
