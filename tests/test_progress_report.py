"""storyteller.progress_report: seed 003 progress from a real (offline) interview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storyteller import interview, progress_report
from storyteller.agent.llm import LlmSettings
from storyteller.models import LifeEvent, SessionArtifact, SessionLifeEvent, SessionNote
from tests.interview_helpers import ANSWERS, answer_and_turn

OFFLINE = interview.InterviewSettings(
    llm=LlmSettings(base_url=None, api_key=None, model="none"), daily_token_budget=0, prices={}
)
SUCCESS = [
    "At least 3 scenes captured with who/where/when details",
    "Key people identified",
    "Photos of the house annotated",
]
DONE = "I think we've covered everything from those years. That's all."
COMPLETION = ["Storyteller says they've covered the main memories"]


@pytest.fixture
def interviewed(db_session, make_storyteller, make_session):
    """A session with three answers from the offline interviewer, still running."""
    storyteller = make_storyteller(display_name="Margaret")
    session = make_session(
        storyteller, success_indicators=SUCCESS, completion_indicators=COMPLETION
    )
    interview.start(db_session, session, user_id=None, settings=OFFLINE)
    db_session.commit()
    for text in ANSWERS[:3]:
        answer_and_turn(db_session, session, text, OFFLINE)
    return session


def test_progress_of_a_running_session_matches_the_interview(db_session, interviewed):
    report = progress_report.session_progress(db_session, interviewed)
    ctx, _ = interview.build_context(db_session, interviewed, with_memories=False)
    expected = interview.evaluate_progress(ctx)

    assert report.status == "in_progress"
    assert report.percentage == expected.percentage
    assert report.can_complete == expected.can_complete
    assert [c.indicator for c in report.success] == SUCCESS
    assert [c.met for c in report.success] == [r.met for r in expected.success]
    assert [c.indicator for c in report.completion] == COMPLETION
    assert report.interactions_count == 3 and report.answered_count == 3
    assert report.skipped_count == 0
    assert report.artifacts_count == len(interviewed.artifacts)
    # Two people are named in the first answer: met, with that answer as evidence.
    people = report.success[1]
    assert people.met
    assert people.interaction is not None
    assert people.interaction.storyteller_response == ANSWERS[0]
    assert people.evidence.startswith("turn 1")
    # No photo was talked about: not met, and no evidence.
    assert report.success[2].met is False and report.success[2].interaction is None
    assert not report.completion[0].met
    assert report.met_count == sum(c.met for c in report.success + report.completion)
    assert report.indicator_count == 4


def test_progress_after_finishing_uses_the_recorded_figures(db_session, interviewed):
    answer_and_turn(db_session, interviewed, DONE, OFFLINE)
    interview.finish(db_session, interviewed, user_id=None)
    db_session.flush()
    report = progress_report.session_progress(db_session, interviewed)
    assert report.status == "completed"
    assert report.percentage == interviewed.completion_percentage
    assert report.minutes_so_far == interviewed.actual_duration_minutes
    assert report.completion[0].met
    assert report.completion[0].interaction.storyteller_response == DONE
    assert report.completion[0].evidence == "turn 4"


def test_artifact_evidence_links_the_artifact(db_session, make_storyteller, make_session):
    storyteller = make_storyteller()
    session = make_session(storyteller, success_indicators=["A draft paragraph written"])
    artifact = SessionArtifact(session_id=session.id, artifact_type="draft_paragraph",
                               artifact_name="The porch in 1948", content="...")
    db_session.add(artifact)
    db_session.flush()
    [check] = progress_report.session_progress(db_session, session).success
    assert check.met and check.artifact is not None and check.artifact.id == artifact.id


def test_time_so_far_from_the_clock_when_no_answer_has_a_duration(
    db_session, make_storyteller, make_session
):
    storyteller = make_storyteller()
    start = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    session = make_session(storyteller, status="paused", started_at=start,
                           ended_at=start + timedelta(minutes=25))
    assert progress_report.session_progress(db_session, session).minutes_so_far == 25


def test_storyteller_progress(db_session, make_storyteller, make_session, make_user, interviewed):
    storyteller = interviewed.storyteller
    events = [LifeEvent(storyteller_id=storyteller.id, event_name=name) for name in "ABC"]
    db_session.add_all(events)
    db_session.flush()
    db_session.add(SessionLifeEvent(session_id=interviewed.id, life_event_id=events[0].id))
    done = make_session(storyteller, status="completed", actual_duration_minutes=40,
                        completion_percentage=80)
    make_session(storyteller)  # scheduled
    planned_only = make_session(storyteller)
    db_session.add(SessionLifeEvent(session_id=planned_only.id, life_event_id=events[1].id))
    make_session(storyteller, status="cancelled")
    db_session.add_all([
        SessionArtifact(session_id=done.id, artifact_type="scene_capture", content="x",
                        review_status="approved"),
        SessionArtifact(session_id=done.id, artifact_type="scene_capture", content="y"),
    ])
    open_note = SessionNote(session_id=done.id, note_type="concern", note_content="Ask again",
                            requires_followup=True)
    done_note = SessionNote(session_id=done.id, note_type="insight", note_content="Done",
                            requires_followup=True, followup_done_at=datetime.now(UTC))
    db_session.add_all([open_note, done_note])
    db_session.flush()

    report = progress_report.storyteller_progress(db_session, storyteller)
    assert report.sessions_done == 1
    assert report.sessions_scheduled == 2
    assert report.sessions_running == 1
    assert report.sessions_cancelled == 1
    running = progress_report.session_progress(db_session, interviewed).minutes_so_far
    assert report.minutes_spent == 40 + running
    artifacts_in_interview = len(interviewed.artifacts)
    assert report.artifacts_total == 2 + artifacts_in_interview
    assert report.artifacts_approved == 1
    # Touched: linked to a session that has begun (a planned one does not count yet).
    assert (report.life_events_touched, report.life_events_total) == (1, 3)
    assert report.coverage_percentage == 33
    assert [e.event_name for e in report.untouched_events] == ["B", "C"]
    assert [n.id for n in report.open_followups] == [open_note.id]
    assert len(report.sessions) == 5
