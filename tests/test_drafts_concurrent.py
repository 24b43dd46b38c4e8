"""Autosaves racing other writes: every request answers 200 or 409, never a 500.

Several tabs autosave the same answer while others write to the same database; on SQLite a
transaction that read before another writer committed used to fail with "database is
locked" (a 500). The draft view now writes in a transaction that takes the write lock first
(views/write_transactions.py). The newest version always wins.
"""

from __future__ import annotations

from sqlalchemy import select

from storyteller.extensions import db
from storyteller.models import AnswerDraft
from tests.concurrent_tabs import all_at_once, tab

TABS = 4
ROUNDS = 5


def test_autosaves_from_several_tabs_at_once_never_fail(seeded):
    tabs = [tab(seeded) for _ in range(TABS)]
    url = f"/interview/{seeded['session_id']}/draft"
    question = str(seeded["question_id"])
    statuses: list[int] = []
    for round_ in range(ROUNDS):
        results = all_at_once(
            [
                lambda c=c, v=round_ * TABS + i + 1: c.post(
                    url,
                    data={"interaction_id": question, "answer": f"version {v}", "version": str(v)},
                )
                for i, c in enumerate(tabs)
            ]
        )
        assert all(not isinstance(r, Exception) for r in results), results
        statuses += [r.status_code for r in results]
    assert set(statuses) <= {200, 409}, statuses
    assert 200 in statuses
    with seeded["app"].app_context():
        draft = db.session.scalar(select(AnswerDraft))
        assert draft.version == ROUNDS * TABS
        assert draft.content == f"version {ROUNDS * TABS}"
