"""Sensitive topics the storyteller has not agreed to are kept out of the interview."""

from __future__ import annotations

from dataclasses import replace

from storyteller import consent, interview, sessions
from storyteller.agent.offline import OfflineInterviewer
from storyteller.models import LifeEvent


def test_unconsented_topics_become_constraints_and_consented_ones_do_not(
    db_session, make_storyteller, make_session
):
    storyteller = make_storyteller(consent=False)
    consent.record_consent(
        db_session,
        storyteller,
        scope=["interview"],
        sensitive_topics=["faith"],
        recorded_by_id=None,
    )
    session = make_session(storyteller, constraints=["Keep it light"])
    ctx, _ = interview.build_context(db_session, session)
    joined = " | ".join(ctx.constraints)
    assert ctx.constraints[0] == "Keep it light"
    assert "health" in joined and "trauma" in joined and "politics" in joined
    assert "religion" not in joined  # faith was agreed to


def _periods_asked(db_session, make_storyteller, make_session, topics: list[str]) -> list[str]:
    storyteller = make_storyteller(consent=False)
    consent.record_consent(
        db_session, storyteller, scope=["interview"], sensitive_topics=topics, recorded_by_id=None
    )
    session = make_session(
        storyteller,
        intention="Capture memories of military service during the war: the army, the "
        "battles, the comrades who died",
    )
    event = LifeEvent(
        storyteller_id=storyteller.id,
        event_name="Army service in Korea",
        event_type="military",
        start_year=1951,
        end_year=1953,
    )
    db_session.add(event)
    db_session.flush()
    sessions.link_life_event(db_session, session, event.id, is_primary_focus=True)
    ctx, _ = interview.build_context(db_session, session)
    offline = OfflineInterviewer()
    periods = []
    for _ in range(8):
        question = offline.next_question(ctx)
        periods.append(question.life_period)
        turn = interview.Turn(
            question=question.text,
            category=question.category,
            answer="I remember it well, we did what we had to.",
            skipped=False,
            analysis=None,
        )
        ctx = replace(ctx, turns=[*ctx.turns, turn])
    return periods


def test_war_and_loss_are_asked_about_only_with_consent_to_trauma_topics(
    db_session, make_storyteller, make_session
):
    agreed = _periods_asked(db_session, make_storyteller, make_session, ["trauma"])
    refused = _periods_asked(db_session, make_storyteller, make_session, [])
    assert {"war_and_service", "loss"} & set(agreed)
    assert not {"war_and_service", "loss"} & set(refused)
