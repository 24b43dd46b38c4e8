"""Consent: recording, withdrawing, its history, the page, and the gate before a session."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storyteller import consent
from storyteller.models import AuditLog, ConsentRecord, Session, utcnow


@pytest.fixture
def setting(make_user, make_storyteller, make_session):
    """A coordinator granted to a storyteller whose consent is not recorded yet."""
    coordinator = make_user("coordinator", name="Cora Coordinator")
    storyteller = make_storyteller(
        display_name="Margaret Ellis",
        granted_to=(coordinator,),
        consent=False,
        time_zone="Europe/Dublin",
    )
    session = make_session(storyteller)
    return coordinator, storyteller, session


# ------------------------------------------------------------------------------ domain


def test_record_and_withdraw_keep_the_history(db_session, setting):
    coordinator, storyteller, _ = setting
    assert not consent.has_consent(storyteller)
    first = consent.record_consent(
        db_session,
        storyteller,
        scope=["interview", "llm_processing"],
        sensitive_topics=["health"],
        recorded_by_id=coordinator.id,
    )
    second = consent.record_consent(
        db_session,
        storyteller,
        scope=["interview"],
        sensitive_topics=["faith", "trauma"],
        method="written",
        recorded_by_id=coordinator.id,
        note="Signed the paper form.",
    )
    assert consent.has_consent(storyteller)
    assert consent.consented_topics(storyteller) == ["faith", "trauma"]
    history = consent.consent_history(db_session, storyteller)
    assert [row.record.id for row in history] == [second.id, first.id]
    assert [row.in_force for row in history] == [True, False]
    assert history[0].recorded_by.name == "Cora Coordinator"

    withdrawn = consent.withdraw_consent(db_session, storyteller, withdrawn_by_id=coordinator.id)
    assert withdrawn.id == second.id
    assert not consent.has_consent(storyteller)
    history = consent.consent_history(db_session, storyteller)
    assert history[0].withdrawn_by.id == coordinator.id
    assert history[0].record.withdrawn_at is not None
    # The older record is not revived: withdrawing means no consent at all.
    assert consent.consent_in_force(db_session, storyteller) is None
    assert consent.withdraw_consent(db_session, storyteller, withdrawn_by_id=None) is None
    assert first.withdrawn_at is None  # replaced, not withdrawn: its history says so
    assert [row.in_force for row in consent.consent_history(db_session, storyteller)] == [
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scope": ["llm_processing"]}, "scope"),
        ({"scope": ["interview", "selling"]}, "scope"),
        ({"scope": ["interview"], "sensitive_topics": ["gossip"]}, "sensitive_topics"),
        ({"scope": ["interview"], "method": "telepathy"}, "method"),
        ({"scope": ["interview"], "agreed_at": utcnow() + timedelta(days=2)}, "agreed_at"),
    ],
)
def test_bad_consent_is_refused(db_session, setting, kwargs, field):
    _, storyteller, _ = setting
    with pytest.raises(consent.ConsentError) as refused:
        consent.record_consent(db_session, storyteller, recorded_by_id=None, **kwargs)
    assert refused.value.field == field
    assert (
        db_session.scalars(
            select(ConsentRecord).where(ConsentRecord.storyteller_id == storyteller.id)
        ).all()
        == []
    )


# ------------------------------------------------------------------------------- pages


def test_consent_page_shows_the_missing_notice_and_records_consent(
    db_session, client, login, setting
):
    coordinator, storyteller, _ = setting
    login(coordinator)
    page = client.get(f"/storytellers/{storyteller.id}/consent")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Consent not recorded yet" in text
    for label in (*consent.SCOPE_LABELS.values(), *consent.TOPIC_LABELS.values()):
        assert label in text

    response = client.post(
        f"/storytellers/{storyteller.id}/consent",
        data={
            "scope": ["interview", "photos"],
            "sensitive_topics": ["health", "faith"],
            "method": "verbal",
            "agreed_at": "2026-11-20T10:30",
            "note": "Agreed over the phone with her son.",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/storytellers/{storyteller.id}/consent")
    db_session.expire_all()
    record = consent.consent_in_force(db_session, storyteller)
    assert record.scope == ["interview", "photos"]
    assert record.sensitive_topics == ["health", "faith"]
    assert record.method == "verbal"
    # 10:30 in Dublin in November is 10:30 UTC.
    assert (record.agreed_at.hour, record.agreed_at.minute) == (10, 30)
    assert record.recorded_by_id == coordinator.id

    text = client.get(f"/storytellers/{storyteller.id}/consent").get_data(as_text=True)
    assert "Consent not recorded yet" not in text
    assert "Health and illness" in text and "Agreed over the phone with her son." in text
    assert "Cora Coordinator" in text
    assert "Withdraw this consent" in text


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"scope": ["photos"], "method": "in_person"}, "scope", "being interviewed"),
        (
            {"scope": ["interview"], "method": "in_person", "agreed_at": "yesterday"},
            "agreed_at",
            "Please give a date and time",
        ),
        (
            {"scope": ["interview"], "method": "in_person", "agreed_at": "2099-01-01T10:00"},
            "agreed_at",
            "future",
        ),
        ({"scope": ["interview"], "method": "pigeon"}, "method", "how the consent"),
    ],
)
def test_bad_consent_form_is_shown_again_with_the_message(
    db_session, client, login, setting, data, field, words
):
    coordinator, storyteller, _ = setting
    login(coordinator)
    response = client.post(
        f"/storytellers/{storyteller.id}/consent", data={**data, "note": "Kept note"}
    )
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert words in text
    assert f'id="{field}-error"' in text
    assert "Kept note" in text  # what was typed is kept
    db_session.expire_all()
    assert consent.consent_in_force(db_session, storyteller) is None


def test_withdraw_from_the_page(db_session, client, login, setting):
    coordinator, storyteller, _ = setting
    consent.record_consent(db_session, storyteller, scope=["interview"], recorded_by_id=None)
    login(coordinator)
    response = client.post(f"/storytellers/{storyteller.id}/consent/withdraw")
    assert response.status_code == 303
    db_session.expire_all()
    assert consent.consent_in_force(db_session, storyteller) is None
    text = client.get(f"/storytellers/{storyteller.id}/consent").get_data(as_text=True)
    assert "Withdrawn" in text and "Cora Coordinator" in text
    # Nothing left to withdraw: said plainly, not an error.
    again = client.post(f"/storytellers/{storyteller.id}/consent/withdraw")
    assert again.status_code == 303
    assert "no consent in force" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_reading_the_consent_page_is_audited(db_session, client, login, setting):
    coordinator, storyteller, _ = setting
    login(coordinator)
    client.get(f"/storytellers/{storyteller.id}/consent")
    entry = db_session.scalar(
        select(AuditLog).where(
            AuditLog.storyteller_id == storyteller.id, AuditLog.object_type == "consent_record"
        )
    )
    assert entry.action == "read" and entry.actor_id == coordinator.id


# ------------------------------------------------------------------------------ gating


def test_a_session_cannot_start_until_consent_is_recorded(db_session, client, login, setting):
    coordinator, storyteller, session = setting
    login(coordinator)

    hub = client.get(f"/storytellers/{storyteller.id}").get_data(as_text=True)
    assert "Consent not recorded yet" in hub
    assert f"/storytellers/{storyteller.id}/consent" in hub

    refused = client.post(f"/interview/{session.id}/start")
    assert refused.status_code == 303
    page = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "consent has not been recorded yet" in page
    assert "Consent not recorded yet" in page  # the interview page's notice, with the link
    assert f"/storytellers/{storyteller.id}/consent" in page
    db_session.expire_all()
    assert db_session.get(Session, session.id).status == "scheduled"

    assert (
        client.post(
            f"/storytellers/{storyteller.id}/consent",
            data={"scope": ["interview"], "method": "in_person"},
        ).status_code
        == 303
    )
    assert client.post(f"/interview/{session.id}/start").status_code == 303
    db_session.expire_all()
    assert db_session.get(Session, session.id).status == "in_progress"
    hub = client.get(f"/storytellers/{storyteller.id}").get_data(as_text=True)
    assert "Consent not recorded yet" not in hub


def test_withdrawn_consent_stops_the_next_session(db_session, client, login, setting):
    coordinator, storyteller, session = setting
    consent.record_consent(db_session, storyteller, scope=["interview"], recorded_by_id=None)
    consent.withdraw_consent(db_session, storyteller, withdrawn_by_id=coordinator.id)
    login(coordinator)
    client.post(f"/interview/{session.id}/start")
    db_session.expire_all()
    assert db_session.get(Session, session.id).status == "scheduled"


def test_a_storyteller_sees_the_notice_without_the_coordinator_link(
    db_session, client, login, make_user
):
    user = make_user("storyteller", name="Nora Storyteller", consent=False)
    login(user)
    text = client.get(f"/storytellers/{user.storyteller_profile.id}").get_data(as_text=True)
    assert "Consent not recorded yet" in text
    assert "/consent" not in text
    assert "Your coordinator will go through it with you" in text
