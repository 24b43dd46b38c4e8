"""Erasure after real interviews (through the fake LLM server) and the daily rollups."""

from __future__ import annotations

from storyteller import interview, personal_data, rollups
from storyteller.models import utcnow
from tests import interview_helpers
from tests.interview_helpers import ANSWERS, answer_and_turn, llm_settings

fake_llm = interview_helpers.fake_llm


def _interviewed(db, fake, make_user, make_storyteller, make_session, name):
    user = make_user("storyteller", name=name)
    storyteller = make_storyteller(user=user)
    session = make_session(storyteller)
    db.commit()
    settings = llm_settings(fake)
    interview.start(db, session, user_id=user.id, settings=settings)
    db.commit()
    for text in ANSWERS[:2]:
        answer_and_turn(db, session, f"{text} ({name})", settings, user=user)
    interview.finish(db, session, user_id=user.id)
    db.commit()
    return storyteller


def test_erasure_after_real_interviews_leaves_no_trace(
    app,
    db_session,
    fake_llm,
    make_user,
    make_storyteller,
    make_session,  # noqa: F811
):
    a = _interviewed(db_session, fake_llm, make_user, make_storyteller, make_session, "Winona Wipe")
    b = _interviewed(
        db_session, fake_llm, make_user, make_storyteller, make_session, "Kenneth Keep"
    )
    today = utcnow().date()
    rollups.rollup(db_session, today, today)
    db_session.commit()
    admin = make_user("admin")
    a_id, a_user = a.id, a.user_id
    assert personal_data.scan_for_storyteller(db_session, a_id, "Winona Wipe").tables() >= {
        "session",
        "llm_interaction",
        "usage_daily",
        "llm_usage_daily",
        "storyteller",
    }
    b_before = personal_data.scan_for_storyteller(db_session, b.id, "Kenneth Keep")

    personal_data.erase_storyteller(db_session, a_id, app.instance_path, admin)

    leftover = personal_data.scan_for_storyteller(db_session, a_id, "Winona Wipe")
    assert not leftover.hits, leftover.hits
    assert not personal_data.scan_for_storyteller(db_session, a_user, None).hits
    assert personal_data.scan_for_storyteller(db_session, b.id, "Kenneth Keep").hits == (
        b_before.hits
    )
