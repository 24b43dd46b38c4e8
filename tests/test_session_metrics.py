"""session_metric rows written as a session runs: per turn, at the end, on rating."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from storyteller.models import (
    AgentExecution,
    Session,
    SessionArtifact,
    SessionInteraction,
    SessionMetric,
)

ANSWERS = [
    "We lived on Adams Street in Dorchester. In the summer of 1948 my brother Tom and I sat on "
    "the back porch shelling peas while my mother sang along to the radio.",
    "My father worked at the shipyard in Quincy. He came home smelling of oil and salt.",
]


def _metrics(db_session, session_id, metric_type):
    return db_session.scalars(
        select(SessionMetric)
        .where(SessionMetric.session_id == session_id, SessionMetric.metric_type == metric_type)
        .order_by(SessionMetric.timestamp)
    ).all()


def test_metrics_are_written_per_turn_at_the_end_and_on_rating(
    client, login, make_user, make_storyteller, make_session, db_session
):
    user = make_user("storyteller")
    storyteller = make_storyteller(user=user)
    session = make_session(
        storyteller,
        success_indicators=["At least 2 scenes captured with who/where/when details"],
    )
    db_session.commit()
    login(user)
    assert client.post(f"/interview/{session.id}/start").status_code == 303
    for number, answer in enumerate(ANSWERS):
        db_session.expire_all()
        waiting = db_session.scalar(
            select(SessionInteraction).where(
                SessionInteraction.session_id == session.id,
                SessionInteraction.response_method.is_(None),
            )
        )
        data = {
            "interaction_id": waiting.id,
            "answer": answer,
            "idempotency_key": f"k-{number}",
            "action": "answer",
        }
        assert client.post(f"/interview/{session.id}/answer", data=data).status_code == 303
    db_session.expire_all()

    latencies = _metrics(db_session, session.id, "turn_latency_ms")
    assert len(latencies) == len(ANSWERS)
    for metric in latencies:
        execution_id = uuid.UUID(metric.metadata_["agent_execution_id"])
        execution = db_session.get(AgentExecution, execution_id)
        assert execution.session_id == session.id
        assert metric.metric_value == execution.duration_ms
    progress = [m for m in _metrics(db_session, session.id, "completion_percentage")]
    assert len(progress) == len(ANSWERS)
    assert progress[-1].metric_value == db_session.get(Session, session.id).completion_percentage

    assert client.post(f"/interview/{session.id}/finish").status_code == 303
    db_session.expire_all()
    done = db_session.get(Session, session.id)
    ends = {
        m.metric_type: m.metric_value
        for m in db_session.scalars(
            select(SessionMetric).where(SessionMetric.session_id == session.id)
        )
        if m.metadata_ == {"at": "end"}
    }
    artifacts = len(
        db_session.scalars(
            select(SessionArtifact).where(SessionArtifact.session_id == session.id)
        ).all()
    )
    assert artifacts > 0
    assert ends == {
        "duration_minutes": done.actual_duration_minutes,
        "completion_percentage": done.completion_percentage,
        "artifacts_created": artifacts,
        "quality_score": done.quality_score,
    }
    assert _metrics(db_session, session.id, "satisfaction") == []

    client.post(f"/interview/{session.id}/rate", data={"satisfaction": "4"})
    client.post(f"/interview/{session.id}/rate", data={"satisfaction": "2"})
    db_session.expire_all()
    rated = _metrics(db_session, session.id, "satisfaction")
    assert [m.metric_value for m in rated] == [2.0]  # the new rating replaced the old one


def test_a_refused_rating_writes_no_metric(
    client, login, make_user, make_storyteller, make_session, db_session
):
    user = make_user("storyteller")
    session = make_session(make_storyteller(user=user), status="completed")
    db_session.commit()
    login(user)
    client.post(f"/interview/{session.id}/rate", data={"satisfaction": "9"})
    db_session.expire_all()
    assert _metrics(db_session, session.id, "satisfaction") == []
