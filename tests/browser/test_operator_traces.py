"""An admin reads the errors page (chart drawn by Chart.js under the CSP), resolves an error
with a note through the real form (CSRF on), follows it to its trace, and reads a turn's LLM
call; axe-core on every page."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from storyteller import events
from storyteller.models import Agent, AgentError, AgentExecution, Event, LlmInteraction, utcnow
from tests.browser.axe import check_accessibility, screenshot

pytestmark = pytest.mark.browser


def _turn_with_error(live_server) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    storyteller_id = live_server.create_storyteller("Edith Walker")
    session_id = live_server.create_session(storyteller_id, session_name="The seaside years")
    now = utcnow().replace(microsecond=0)
    with live_server.db() as db:
        agent = Agent(name=f"interviewer-browser-{uuid.uuid4().hex[:6]}", type="interviewer")
        db.add(agent)
        db.flush()
        execution = AgentExecution(
            agent_id=agent.id,
            session_id=session_id,
            trace_id=uuid.uuid4(),
            status="succeeded",
            started_at=now - timedelta(seconds=3),
            completed_at=now,
            duration_ms=3000,
            input_data={"step": "answer"},
            output_data={"fell_back": True},
        )
        db.add(execution)
        db.flush()
        failed = LlmInteraction(
            session_id=session_id,
            storyteller_id=storyteller_id,
            agent_execution_id=execution.id,
            trace_id=execution.trace_id,
            purpose="analysis",
            prompt=[{"role": "user", "content": "<answer>We went to Whitby</answer>"}],
            model="gpt-4o-mini",
            latency_ms=900,
            success=False,
            error_type="server_error",
            error_message="upstream broke",
            status_code=500,
            created_at=now - timedelta(seconds=3),
        )
        asked = LlmInteraction(
            session_id=session_id,
            storyteller_id=storyteller_id,
            agent_execution_id=execution.id,
            trace_id=execution.trace_id,
            purpose="next_question",
            prompt=[{"role": "user", "content": "Ask about Whitby"}],
            response="What did the harbour smell like?",
            model="gpt-4o-mini",
            response_model="gpt-4o-mini",
            prompt_tokens=300,
            response_tokens=12,
            latency_ms=1800,
            success=True,
            created_at=now - timedelta(seconds=2),
        )
        db.add_all([failed, asked])
        db.flush()
        db.add(
            Event(
                event_type="question.asked",
                session_id=session_id,
                sequence=1,
                timestamp_ms=events.epoch_ms(),
                duration_ms=1900,
                agent_execution_id=execution.id,
                trace_id=execution.trace_id,
                payload={"source": "llm"},
            )
        )
        error = AgentError(
            storyteller_id=storyteller_id,
            session_id=session_id,
            agent_id=agent.id,
            agent_execution_id=execution.id,
            error_type="llm_server_error",
            error_message="upstream broke",
            stack_trace="Traceback (most recent call last):\n  <frame>",
            context={"model": "gpt-4o-mini", "trace_id": str(execution.trace_id)},
        )
        db.add(error)
        db.flush()
        return session_id, execution.id, error.id


def test_admin_reads_errors_resolves_one_and_follows_it_to_the_trace(page, live_server, sign_in):
    session_id, execution_id, error_id = _turn_with_error(live_server)
    admin = live_server.create_user("admin", name="Ada Admin")
    sign_in(admin)

    page.goto("/admin/errors/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Errors")
    # Chart.js drew the stacked bars from the JSON block (no inline script).
    page.wait_for_function("() => window.Chart && Chart.getChart('error-chart')")
    labels = page.evaluate("() => Chart.getChart('error-chart').data.datasets.map(d => d.label)")
    assert "llm_server_error" in labels
    check_accessibility(page, "errors list")
    screenshot(page, "admin-errors")

    page.locator(f"a[href='/admin/errors/{error_id}']").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Error: llm_server_error")
    expect(page.locator("pre", has_text="<frame>")).to_be_visible()  # shown as text
    check_accessibility(page, "error detail")
    page.get_by_role("button", name="Mark resolved").click()  # empty note: the browser asks
    expect(page.get_by_role("heading", level=1)).to_have_text("Error: llm_server_error")
    page.get_by_label("What was done about it").fill("The provider had an outage; it is back.")
    page.get_by_role("button", name="Mark resolved").click()
    expect(page.get_by_text("The error is marked resolved, with your note.")).to_be_visible()
    expect(page.get_by_text("The provider had an outage; it is back.")).to_be_visible()
    check_accessibility(page, "error resolved")

    page.get_by_role("link", name=str(_trace_id(live_server, execution_id))).click()
    assert page.url.endswith(f"/admin/traces/{session_id}#turn-{execution_id}")
    expect(page.get_by_role("heading", level=2, name="Turn 1 Succeeded")).to_be_visible()
    expect(page.locator("rect.waterfall-llm-failed")).to_have_count(1)
    facts = page.locator("dl.trace-facts").first
    expect(facts).to_contain_text("312")  # tokens of the calls
    expect(facts).to_contain_text("unpriced")  # no price: never shown as $0
    call = page.locator("details.trace-call", has_text="next_question")
    call.locator("summary").click()
    expect(call.get_by_text("What did the harbour smell like?")).to_be_visible()
    check_accessibility(page, "session trace")
    screenshot(page, "admin-trace")


def _trace_id(live_server, execution_id: uuid.UUID) -> uuid.UUID:
    with live_server.db() as db:
        return db.get(AgentExecution, execution_id).trace_id
