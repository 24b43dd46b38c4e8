"""Permission rows: the admin trace pages and the OpenTelemetry export of a session's LLM calls.

Admin only, like every operator page: anyone else signed in is refused (403), whoever owns
the session; the anonymous visitor is sent to sign in.
"""

from __future__ import annotations

import uuid

from storyteller.models import Agent, AgentExecution, LlmInteraction
from tests.permissions_common import ANON_TO_SIGN_IN, Route, Scenario

ADMIN_ONLY = {
    **ANON_TO_SIGN_IN,
    "storyteller": 403,
    "coordinator": 403,
    "reviewer": 403,
    "admin": 200,
}


def _with_turn(s: Scenario, ownership: str) -> None:
    session = s.session(ownership)
    agent = Agent(name=f"interviewer-perm-{uuid.uuid4().hex[:6]}", type="interviewer")
    s.db.add(agent)
    s.db.flush()
    execution = AgentExecution(
        agent_id=agent.id, session_id=session.id, trace_id=uuid.uuid4(), status="succeeded"
    )
    s.db.add(execution)
    s.db.flush()
    s.db.add(
        LlmInteraction(
            session_id=session.id,
            storyteller_id=session.storyteller_id,
            agent_execution_id=execution.id,
            trace_id=execution.trace_id,
            purpose="next_question",
            prompt=[{"role": "user", "content": "Hello"}],
            response="What is your first memory?",
            model="gpt-4o-mini",
            success=True,
        )
    )
    s.db.commit()
    s.extra["execution"] = execution


ROWS = {
    "traces.index": Route("GET", lambda s, own: "/admin/traces/", other=ADMIN_ONLY),
    "traces.session": Route(
        "GET",
        lambda s, own: f"/admin/traces/{s.session(own).id}",
        other=ADMIN_ONLY,
        own=ADMIN_ONLY,
        setup=_with_turn,
    ),
    "traces.by_trace_id": Route(
        "GET",
        lambda s, own: f"/admin/traces/trace/{s.extra['execution'].trace_id}",
        # The admin is sent on to the session's trace, anchored at the turn.
        other={**ADMIN_ONLY, "admin": 302},
        setup=_with_turn,
    ),
    "traces.llm_calls": Route(
        "GET",
        lambda s, own: f"/admin/traces/{s.session(own).id}/llm-calls.jsonl",
        other=ADMIN_ONLY,
        own=ADMIN_ONLY,
        setup=_with_turn,
    ),
}
