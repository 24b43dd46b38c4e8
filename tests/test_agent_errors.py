"""Agent errors: filters (and their refusals), resolving with a note, counts per type per day
as a chart, a table and CSV; context and stack trace shown escaped; links to the trace."""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from storyteller import agent_errors
from storyteller.form_errors import FormInputError
from storyteller.models import Agent, AgentError, AgentExecution, AuditLog
from tests.test_csrf import CSRF_MESSAGE, csrf_app, csrf_app_factory, form_token, signed_in

# Fixtures from the CSRF tests (an app instance with CSRF on), used by name.
csrf_app = csrf_app
csrf_app_factory = csrf_app_factory

DAY = date(2026, 3, 10)


def _at(day: date, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def errors_data(db_session, make_storyteller, make_session):
    """Errors over four days, two agents, two storytellers, some resolved; day edges included."""
    tag = uuid.uuid4().hex[:6]
    alice = make_storyteller(display_name=f"Alice {tag}")
    bob = make_storyteller(display_name=f"Bob {tag}")
    session = make_session(alice)
    interviewer = Agent(name=f"interviewer-{tag}", type="interviewer")
    summarizer = Agent(name=f"summarizer-{tag}", type="summarizer")
    db_session.add_all([interviewer, summarizer])
    db_session.flush()
    execution = AgentExecution(
        agent_id=interviewer.id, session_id=session.id, trace_id=uuid.uuid4(), status="failed"
    )
    db_session.add(execution)
    db_session.flush()
    specs = [
        # (day offset, hour, minute, second, type, agent, storyteller, resolved)
        (0, 0, 0, 0, "llm_timeout", interviewer, alice, False),  # first instant of the day
        (0, 23, 59, 59, "llm_timeout", interviewer, alice, True),  # last second of the day
        (0, 12, 0, 0, "llm_bad_response", summarizer, bob, False),
        (1, 8, 0, 0, "llm_timeout", summarizer, bob, False),
        (1, 9, 0, 0, "ValueError", interviewer, None, True),
        (3, 10, 0, 0, "llm_timeout", interviewer, alice, False),
        (-1, 23, 59, 59, "llm_timeout", interviewer, alice, False),  # the day before
    ]
    made = []
    for offset, hour, minute, second, kind, agent, teller, resolved in specs:
        error = AgentError(
            error_type=kind,
            error_message=f"{kind} happened",
            agent_id=agent.id,
            storyteller_id=teller.id if teller else None,
            session_id=session.id if teller is alice else None,
            agent_execution_id=execution.id if teller is alice else None,
            is_resolved=resolved,
            created_at=_at(DAY + timedelta(days=offset), hour, minute, second),
            context={"model": "gpt-4o-mini", "note": "<b>bold</b>"},
            stack_trace='Traceback:\n  File "x.py"\n<script>alert(1)</script>',
        )
        db_session.add(error)
        made.append(error)
    db_session.commit()
    return {
        "errors": made,
        "alice": alice,
        "bob": bob,
        "interviewer": interviewer,
        "summarizer": summarizer,
        "execution": execution,
        "session": session,
    }


def _ids(rows) -> set[uuid.UUID]:
    return {r.error.id for r in rows}


def _mine(data, **keep) -> set[uuid.UUID]:
    return {e.id for e in data["errors"] if all(getattr(e, k) == v for k, v in keep.items())}


def _list(db_session, **args) -> set[uuid.UUID]:
    filters = agent_errors.parse_filters({k: str(v) for k, v in args.items()})
    rows, total = agent_errors.list_errors(db_session, filters, page_size=500)
    assert total == len(rows)
    return _ids(rows)


def test_each_filter_keeps_only_its_errors(db_session, errors_data):
    data = errors_data
    interviewer, alice = data["interviewer"], data["alice"]
    everything = {e.id for e in data["errors"]}
    # Other tests' rows may exist on the shared database: compare within our own rows.
    mine = lambda found: found & everything  # noqa: E731
    assert mine(_list(db_session)) == everything
    assert mine(_list(db_session, type="llm_timeout")) == _mine(data, error_type="llm_timeout")
    assert mine(_list(db_session, agent=interviewer.id)) == _mine(data, agent_id=interviewer.id)
    assert _list(db_session, storyteller=alice.id) == _mine(data, storyteller_id=alice.id)
    assert mine(_list(db_session, status="resolved")) == _mine(data, is_resolved=True)
    assert mine(_list(db_session, status="unresolved")) == _mine(data, is_resolved=False)
    one_day = mine(_list(db_session, **{"from": DAY.isoformat(), "to": DAY.isoformat()}))
    assert one_day == {e.id for e in data["errors"][:3]}  # both edges of the day, not the eve
    combined = _list(
        db_session, type="llm_timeout", storyteller=alice.id, status="unresolved", to=DAY
    )
    assert combined == {data["errors"][0].id, data["errors"][6].id}


def test_bad_filters_are_refused_with_every_reason():
    with pytest.raises(FormInputError) as refused:
        agent_errors.parse_filters(
            {"agent": "nope", "storyteller": "x", "status": "maybe", "from": "yesterday"}
        )
    assert set(refused.value.errors) == {"agent", "storyteller", "status", "from"}
    with pytest.raises(FormInputError) as backwards:
        agent_errors.parse_filters({"from": "2026-03-10", "to": "2026-03-01"})
    assert set(backwards.value.errors) == {"to"}
    with pytest.raises(FormInputError):
        agent_errors.chart_range(
            agent_errors.parse_filters({"from": "2024-01-01", "to": "2026-01-01"})
        )


def test_counts_per_type_per_day_match_the_rows(db_session, errors_data):
    data = errors_data
    ours = agent_errors.ErrorFilters(agent_id=None, storyteller_id=None)
    start, end = DAY - timedelta(days=1), DAY + timedelta(days=3)
    counts = agent_errors.counts_per_day(db_session, ours, start, end)
    assert counts.days == [start + timedelta(days=n) for n in range(5)]
    expected: Counter[tuple[date, str]] = Counter(
        (e.created_at.astimezone(UTC).date(), e.error_type) for e in data["errors"]
    )
    everything_in_range = {
        (day, kind): counts.counts[kind][i]
        for kind in counts.types
        for i, day in enumerate(counts.days)
        if counts.counts[kind][i]
    }
    # Only our rows are in these days (the dataset's own dates), so the counts are exact.
    assert everything_in_range == dict(expected)
    assert counts.counts["llm_timeout"] == [1, 2, 1, 0, 1]
    assert counts.day_totals() == [1, 3, 2, 0, 1]

    by_agent = agent_errors.counts_per_day(
        db_session, agent_errors.ErrorFilters(agent_id=data["summarizer"].id), start, end
    )
    assert by_agent.counts == {"llm_bad_response": [0, 1, 0, 0, 0], "llm_timeout": [0, 0, 1, 0, 0]}

    table = list(csv.reader(io.StringIO(counts.to_csv())))
    assert table[0] == ["date", "error_type", "count"]
    from_csv = {(date.fromisoformat(d), t): int(n) for d, t, n in table[1:] if int(n)}
    assert from_csv == dict(expected)
    assert len(table) == 1 + 5 * len(counts.types)


def test_resolve_needs_a_note(db_session, errors_data, make_user):
    admin = make_user("admin")
    error = errors_data["errors"][0]
    with pytest.raises(FormInputError) as refused:
        agent_errors.resolve(db_session, error, user_id=admin.id, note="   ")
    assert refused.value.field == "note"
    assert error.is_resolved is False
    agent_errors.resolve(db_session, error, user_id=admin.id, note="Provider outage; back now.")
    assert error.is_resolved and error.resolved_by_id == admin.id and error.resolved_at
    assert error.resolution_note == "Provider outage; back now."
    with pytest.raises(FormInputError):
        agent_errors.resolve(db_session, error, user_id=admin.id, note="again")


# ----------------------------------------------------------------------------- the pages


def test_list_page_filters_chart_and_links(client, login, make_user, db_session, errors_data):
    admin = make_user("admin")
    db_session.commit()
    login(admin)
    data = errors_data
    query = f"?from={DAY - timedelta(days=1)}&to={DAY + timedelta(days=3)}"
    page = client.get("/admin/errors/" + query)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="error-chart"' in html and 'id="error-chart-data"' in html
    assert "js/error_chart.js" in html and "vendor/chart.umd.min.js" in html
    for error in data["errors"]:
        assert f"/admin/errors/{error.id}" in html
    assert f"/admin/traces/trace/{data['execution'].trace_id}" in html  # errors of a turn
    assert "/admin/errors/counts.csv?" in html

    only_bob = client.get(f"/admin/errors/{query}&storyteller={data['bob'].id}")
    body = only_bob.get_data(as_text=True)
    assert str(data["errors"][2].id) in body and str(data["errors"][0].id) not in body

    refused = client.get("/admin/errors/?from=31-12-2025&agent=x")
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "must look like 2026-01-31" in text and "is not a valid id" in text

    csv_response = client.get("/admin/errors/counts.csv" + query)
    assert csv_response.status_code == 200 and csv_response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(csv_response.get_data(as_text=True))))
    assert ["2026-03-10", "llm_timeout", "2"] in rows
    assert client.get("/admin/errors/counts.csv?to=nope").status_code == 400


def test_detail_escapes_and_resolve_form(client, login, make_user, db_session, errors_data):
    admin = make_user("admin")
    db_session.commit()
    login(admin)
    error = errors_data["errors"][0]
    page = client.get(f"/admin/errors/{error.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)" in html
    assert "<b>bold</b>" not in html
    assert f"/admin/traces/trace/{errors_data['execution'].trace_id}" in html
    assert (
        db_session.query(AuditLog)
        .filter_by(actor_id=admin.id, object_type="agent_error", object_id=str(error.id))
        .count()
        == 1
    )

    empty = client.post(f"/admin/errors/{error.id}/resolve", data={"note": "  "})
    assert empty.status_code == 400
    assert "Please write a short note" in empty.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(AgentError, error.id).is_resolved is False

    done = client.post(f"/admin/errors/{error.id}/resolve", data={"note": "Fixed the key."})
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/admin/errors/{error.id}")
    db_session.expire_all()
    saved = db_session.get(AgentError, error.id)
    assert saved.is_resolved and saved.resolution_note == "Fixed the key."
    assert saved.resolved_by_id == admin.id
    again = client.post(f"/admin/errors/{error.id}/resolve", data={"note": "twice"})
    assert again.status_code == 400
    assert client.get(f"/admin/errors/{uuid.uuid4()}").status_code == 404


def test_resolving_needs_the_forms_csrf_token(csrf_app, make_user, db_session, errors_data):
    admin = make_user("admin")
    db_session.commit()
    client = signed_in(csrf_app, admin)
    error = errors_data["errors"][0]
    url = f"/admin/errors/{error.id}/resolve"
    refused = client.post(url, data={"note": "No token"})
    assert refused.status_code == 400 and CSRF_MESSAGE in refused.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(AgentError, error.id).is_resolved is False
    token = form_token(client.get(f"/admin/errors/{error.id}"))
    done = client.post(url, data={"note": "With the token", "csrf_token": token})
    assert done.status_code == 303
    db_session.expire_all()
    assert db_session.get(AgentError, error.id).resolution_note == "With the token"
