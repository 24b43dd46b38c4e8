"""The coverage map: depth per life event and per period, from real sessions and their links."""

from __future__ import annotations

import pytest

from storyteller import coverage, life_events
from storyteller.models import LifeEvent, ProcessNode, ProcessVersion, SessionInteraction
from storyteller.sessions import create_session, link_life_event


def _event(db, storyteller, name, **fields) -> LifeEvent:
    event = LifeEvent(storyteller_id=storyteller.id, event_name=name, **fields)
    db.add(event)
    db.flush()
    return event


def _linked_session(db, storyteller, event, *, status, level=None, prompts=0, name=None, node=None):
    session = create_session(
        db,
        storyteller_id=storyteller.id,
        intention=f"Talk about {event.event_name}" if event else "Talk",
        session_name=name,
        current_process_node_id=node.id if node else None,
    )
    if event is not None:
        link = link_life_event(db, session, event.id, is_primary_focus=True, coverage_level=level)
        link.prompts_completed = prompts
    session.status = status
    db.flush()
    return session


def _answers(db, session, count, skipped=0):
    for i in range(count + skipped):
        db.add(
            SessionInteraction(
                session_id=session.id,
                interaction_sequence=i + 1,
                agent_prompt=f"Question {i + 1}",
                storyteller_response="An answer" if i < count else None,
                response_method="text" if i < count else "skip",
            )
        )
    db.flush()


def _process(db, *periods: str) -> list[ProcessNode]:
    version = ProcessVersion(name="Test process", version_number="t1")
    for sequence, period in enumerate(periods, start=1):
        version.nodes.append(
            ProcessNode(
                node_name=f"Node {period}",
                sequence=sequence,
                agent_objective=f"Talk about {period}",
                life_period=period,
            )
        )
    db.add(version)
    db.flush()
    return list(version.nodes)


# ---- The rule, one session and one event ---------------------------------------------------


@pytest.mark.parametrize(
    ("status", "declared", "prompts", "depth"),
    [
        ("cancelled", "deep_dive", 20, None),
        ("scheduled", "completion", 0, "planned"),
        ("scheduled", None, 0, "planned"),
        ("completed", None, 0, "introduction"),
        ("completed", "exploration", 0, "exploration"),
        ("completed", "introduction", 3, "introduction"),
        ("completed", "introduction", 4, "exploration"),
        ("completed", "introduction", 8, "deep_dive"),
        ("completed", "introduction", 50, "deep_dive"),  # prompts never reach completion
        ("completed", "completion", 1, "completion"),
        ("completed", "deep_dive", 2, "deep_dive"),  # a declared level is never lowered
        ("in_progress", "completion", 0, "planned"),  # the plan counts once completed
        ("in_progress", "completion", 5, "exploration"),
        ("paused", None, 1, "introduction"),
    ],
)
def test_depth_of_one_session(status, declared, prompts, depth):
    assert coverage.depth_of(status, declared, prompts) == depth


# ---- The map from real sessions ------------------------------------------------------------


def test_event_depths_from_sessions_and_links(db_session, make_storyteller):
    st = make_storyteller(birth_year=1941)
    untold = _event(db_session, st, "Grandmother's farm", start_year=1946, life_period="childhood")
    planned = _event(db_session, st, "First job", start_year=1957, life_period="work")
    deep = _event(db_session, st, "Moving to Boston", start_year=1948, life_period="migration")
    done = _event(db_session, st, "Wedding", start_year=1963, life_period="love_and_family")
    cancelled_only = _event(db_session, st, "Army", start_year=1959)

    _linked_session(db_session, st, planned, status="scheduled", level="introduction")
    _linked_session(db_session, st, deep, status="completed", level="introduction", prompts=2)
    _linked_session(
        db_session, st, deep, status="completed", level="exploration", prompts=9, name="Boston 2"
    )
    _linked_session(db_session, st, deep, status="scheduled", level="completion")
    _linked_session(db_session, st, done, status="completed", level="completion", prompts=3)
    _linked_session(db_session, st, cancelled_only, status="cancelled", level="deep_dive")

    the_map = coverage.coverage_map(db_session, st)

    depths = {row.life_event.id: row.depth for row in the_map.events}
    assert depths == {
        untold.id: "untold",
        planned.id: "planned",
        deep.id: "deep_dive",
        done.id: "completion",
        cancelled_only.id: "untold",
    }
    # In life order, like the timeline.
    assert [row.life_event.event_name for row in the_map.events] == [
        "Grandmother's farm",
        "Moving to Boston",
        "First job",
        "Army",
        "Wedding",
    ]
    deep_row = next(row for row in the_map.events if row.life_event.id == deep.id)
    assert [(t.depth, t.status) for t in deep_row.touches] == [
        ("introduction", "completed"),
        ("deep_dive", "completed"),
        ("planned", "scheduled"),
    ]
    assert {row.life_event.id for row in the_map.untold_events} == {untold.id, cancelled_only.id}


def test_period_depths_from_events_and_process_nodes(db_session, make_storyteller):
    st = make_storyteller()
    work_node, school_node, own_node = _process(db_session, "work", "school", "sailing")
    farm = _event(db_session, st, "Farm", start_year=1946, life_period="childhood")
    _event(db_session, st, "Village school", start_year=1947, life_period="school")
    _linked_session(db_session, st, farm, status="completed", level="exploration", prompts=1)
    # A work session with no life event linked: its answered questions count as prompts.
    work = _linked_session(db_session, st, None, status="completed", node=work_node)
    _answers(db_session, work, 8, skipped=3)
    # Planned school session from the process, not linked to the school event.
    _linked_session(db_session, st, None, status="scheduled", node=school_node)
    # A node with a period of its own making still gets a row.
    _linked_session(db_session, st, None, status="in_progress", node=own_node)

    the_map = coverage.coverage_map(db_session, st)
    periods = {row.key: row for row in the_map.periods}

    assert periods["childhood"].depth == "exploration"
    assert periods["childhood"].event_count == 1 and periods["childhood"].untold_events == 0
    assert periods["work"].depth == "deep_dive"
    [work_touch] = periods["work"].touches
    assert (work_touch.via, work_touch.prompts) == ("process node", 8)
    assert periods["school"].depth == "planned"
    assert periods["school"].untold_events == 1  # the event itself has no session
    assert periods["sailing"].depth == "planned"  # started, nothing answered yet
    assert periods["sailing"].label == "Sailing"
    # Every usual period is listed, so the untold ones show; "general" only when used.
    assert {"youth", "love_and_family", "war_and_service", "later_life"} <= {
        row.key for row in the_map.untold_periods
    }
    assert "general" not in periods
    assert list(periods)[-1] == "sailing"


def test_a_session_reaching_a_period_twice_counts_once_at_its_deepest(db_session, make_storyteller):
    st = make_storyteller()
    [work_node] = _process(db_session, "work")
    job = _event(db_session, st, "The mill", start_year=1957, life_period="work")
    session = _linked_session(
        db_session, st, job, status="completed", level="deep_dive", prompts=0, node=work_node
    )
    _answers(db_session, session, 1)
    row = next(r for r in coverage.coverage_map(db_session, st).periods if r.key == "work")
    assert [(t.session_id, t.depth) for t in row.touches] == [(session.id, "deep_dive")]


def test_a_storyteller_without_anything_is_all_untold(db_session, make_storyteller):
    the_map = coverage.coverage_map(db_session, make_storyteller())
    assert the_map.events == []
    assert the_map.periods and all(row.untold for row in the_map.periods)


# ---- The page ------------------------------------------------------------------------------


def test_coverage_page_shows_depth_in_words_and_marks_untold(
    client, login, db_session, make_user, make_storyteller
):
    coordinator = make_user("coordinator")
    st = make_storyteller(display_name="Margaret Doyle", granted_to=[coordinator])
    told = _event(db_session, st, "Moving to Boston", start_year=1948, life_period="migration")
    untold = _event(db_session, st, "Grandmother's farm", start_year=1946)
    _linked_session(
        db_session, st, told, status="completed", level="deep_dive", name="Boston crossing"
    )
    db_session.commit()
    login(coordinator)
    response = client.get(f"/storytellers/{st.id}/coverage")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "1 of 2 life events</strong> is still untold" in body
    farm_row = body[body.index("Grandmother&#39;s farm") : body.index("Moving to Boston")]
    assert "Untold" in farm_row and "Not talked about yet" in farm_row
    boston_row = body[body.index("Moving to Boston") :]
    assert "Deep dive" in boston_row and "Boston crossing" in boston_row
    assert 'class="depth-fill depth-level-4"' in boston_row
    assert 'aria-hidden="true"' in boston_row  # the bar is decoration; the words carry it
    assert '<th scope="row">Migration and moving</th>' in body
    # The next step for an untold event: schedule a session for it (the scheduling pages).
    assert f"/storytellers/{st.id}/sessions/new?life_event={untold.id}" in body
    assert f"/life-events/{untold.id}/plan" in body
    assert f"life_event={told.id}" not in body
    assert f"/life-events/{told.id}/plan" not in body


def test_an_event_without_a_period_falls_in_the_one_its_kind_names(db_session, make_storyteller):
    st = make_storyteller()
    wedding = _event(db_session, st, "Wedding", start_year=1963, event_type=" Marriage ")
    _event(db_session, st, "Odd one", start_year=1964, event_type="Something else")
    chosen = _event(
        db_session, st, "Job", start_year=1965, event_type="Marriage", life_period="work"
    )
    _linked_session(db_session, st, wedding, status="completed", level="exploration")
    periods = {row.key: row for row in coverage.coverage_map(db_session, st).periods}
    assert periods["love_and_family"].depth == "exploration"
    assert periods["love_and_family"].event_count == 1
    assert periods["work"].event_count == 1 and periods["work"].untold
    assert life_events.period_of(chosen) == "work"


def test_the_storyteller_sees_their_own_coverage_without_scheduling_links(
    client, login, db_session, make_user
):
    owner = make_user("storyteller")
    st = owner.storyteller_profile
    _event(db_session, st, "Learning to swim", start_year=1950)
    db_session.commit()
    login(owner)
    response = client.get(f"/storytellers/{st.id}/coverage")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Learning to swim" in body
    assert "Plan a session about" not in body
