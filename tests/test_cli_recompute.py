"""`flask recompute`: the command corrects drifted counters and reports per step."""

from __future__ import annotations

from sqlalchemy import select, update

from storyteller.memories import create_memory, record_memory_access
from storyteller.models import InteractionMemory, Session, SessionInteraction


def test_flask_recompute_corrects_counters(db_session, runner, make_storyteller, make_session):
    storyteller = make_storyteller()
    session = make_session(storyteller, status="in_progress")
    db_session.add_all(
        [
            SessionInteraction(
                session_id=session.id,
                interaction_sequence=1,
                agent_prompt="Where were you born?",
                storyteller_response="Leeds.",
            ),
            SessionInteraction(
                session_id=session.id, interaction_sequence=2, agent_prompt="Who was there?"
            ),
        ]
    )
    memory = create_memory(
        db_session, storyteller_id=storyteller.id, memory_type="place", content={"value": "Leeds"}
    )
    record_memory_access(db_session, memory_id=memory.id, accessed_by="agent")
    record_memory_access(db_session, memory_id=memory.id, accessed_by="agent")
    db_session.execute(update(Session).where(Session.id == session.id).values(message_count=0))
    db_session.execute(
        update(InteractionMemory)
        .where(InteractionMemory.id == memory.id)
        .values(access_count=11, last_accessed_at=None)
    )
    db_session.flush()

    result = runner.invoke(args=["recompute"])

    assert result.exit_code == 0, result.output
    assert "session_counters:" in result.output
    assert "memory_access_counts:" in result.output
    assert "agent_totals:" in result.output
    db_session.expire_all()
    assert db_session.scalar(select(Session.message_count).where(Session.id == session.id)) == 3
    count, last = db_session.execute(
        select(InteractionMemory.access_count, InteractionMemory.last_accessed_at).where(
            InteractionMemory.id == memory.id
        )
    ).one()
    assert count == 2 and last is not None

    again = runner.invoke(args=["recompute"])
    assert again.exit_code == 0, again.output
    assert "session_counters: 0 rows" in again.output
    assert "memory_access_counts: 0 rows" in again.output
