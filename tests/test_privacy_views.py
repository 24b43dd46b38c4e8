"""The admin's privacy page (download everything, erase) and the audit log page."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from storyteller import audit, audit_search
from storyteller.models import AuditLog, Session, Storyteller


def test_download_everything_is_a_zip_of_their_rows_and_is_audited(
    client, db_session, login, make_user, make_storyteller, make_session
):
    admin = make_user("admin")
    person = make_storyteller(display_name="Winifred Export")
    other = make_storyteller(display_name="Someone Else")
    session = make_session(person)
    make_session(other)
    db_session.commit()
    login(admin)
    page = client.get(f"/admin/privacy/{person.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Download everything (ZIP)" in text
    assert "<tr><td>session</td><td>1</td></tr>" in text
    read = db_session.scalar(select(AuditLog).where(AuditLog.action == "read"))
    assert read.storyteller_id == person.id and read.actor_id == admin.id
    response = client.get(f"/admin/privacy/{person.id}/export.zip")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    sessions = json.loads(archive.read("tables/session.json"))
    assert [row["id"] for row in sessions] == [str(session.id)]
    assert "Someone Else" not in archive.read("tables/storyteller.json").decode()
    entry = db_session.scalar(select(AuditLog).where(AuditLog.action == "export"))
    assert entry.storyteller_id == person.id and entry.actor_id == admin.id


def test_erase_needs_the_exact_name(
    client, db_session, login, make_user, make_storyteller, make_session
):
    admin = make_user("admin")
    person = make_storyteller(display_name="Harold Erase")
    make_session(person)
    db_session.commit()
    person_id = person.id
    login(admin)
    for typed in ("", "Harold", "harold erase x"):
        response = client.post(f"/admin/privacy/{person.id}/erase", data={"confirm_name": typed})
        assert response.status_code == 400
        assert "nothing was erased" in response.get_data(as_text=True).lower()
    assert db_session.get(Storyteller, person.id) is not None

    response = client.post(
        f"/admin/privacy/{person_id}/erase", data={"confirm_name": " Harold Erase "}
    )
    assert response.status_code == 303
    assert "was erased" in client.get(response.headers["Location"]).get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Storyteller, person_id) is None
    assert (
        db_session.scalars(select(Session).where(Session.storyteller_id == person_id)).all() == []
    )
    entry = db_session.scalar(select(AuditLog).where(AuditLog.action == "erase"))
    assert entry.object_id == str(person_id) and entry.actor_id == admin.id
    assert "Harold" not in json.dumps(entry.details)
    assert client.get(f"/admin/privacy/{person_id}").status_code == 404


def _entry(db, actor, storyteller, action, object_type, when):
    row = audit.record(
        db,
        actor_id=actor.id,
        action=action,
        object_type=object_type,
        storyteller_id=storyteller.id if storyteller else None,
    )
    row.created_at = when
    db.flush()
    return row


def test_audit_log_filters_and_pages(client, db_session, login, make_user, make_storyteller):
    admin = make_user("admin")
    reviewer = make_user("reviewer", name="Rowena Reader")
    ann = make_storyteller(display_name="Ann Audit")
    bob = make_storyteller(display_name="Bob Audit")
    day = datetime(2026, 5, 10, 12, tzinfo=UTC)
    a1 = _entry(db_session, reviewer, ann, "read", "session", day)
    a2 = _entry(db_session, reviewer, bob, "update", "artifact", day + timedelta(days=1))
    a3 = _entry(db_session, admin, ann, "read", "book", day + timedelta(days=2))
    db_session.commit()
    login(admin)

    def ids(query):
        query += "" if "from=" in query else "&from=2026-05-01&to=2026-05-31"
        response = client.get("/admin/audit/?" + query)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        f = audit_search.parse_filter(dict(p.split("=", 1) for p in query.split("&") if p))
        return [e.id for e, _, _ in audit_search.search(db_session, f).rows], response

    assert ids(f"actor={reviewer.id}")[0] == [a2.id, a1.id]
    assert ids(f"storyteller={ann.id}")[0] == [a3.id, a1.id]
    assert ids("action=update")[0] == [a2.id]
    assert ids("object_type=book")[0] == [a3.id]
    got, response = ids("from=2026-05-11&to=2026-05-11")
    assert got == [a2.id]
    body = response.get_data(as_text=True)
    assert "Bob Audit" in body and "Rowena Reader" in body and "1 record" in body
    may = {"start": day.date().replace(day=1), "end": day.date().replace(day=31)}
    page_one = audit_search.search(db_session, audit_search.AuditFilter(**may), page_size=2)
    page_two = audit_search.search(db_session, audit_search.AuditFilter(page=2, **may), 2)
    assert (page_one.total, page_one.pages, len(page_two.rows)) == (3, 2, 1)
    newest = [e.created_at for e, _, _ in page_one.rows + page_two.rows]
    assert newest == sorted(newest, reverse=True)


def test_audit_log_refuses_bad_filters(client, db_session, login, make_user):
    login(make_user("admin"))
    for query, words in [
        ("from=2026-02-30", "must look like"),
        ("from=2026-03-02&to=2026-03-01", "before the first"),
        ("actor=nobody", "not one the log knows"),
        ("page=0", "whole number"),
        ("action=read%00", "cannot be searched"),
        ("action=" + "x" * 60, "at most"),
    ]:
        response = client.get("/admin/audit/?" + query)
        assert response.status_code == 400, query
        assert words in response.get_data(as_text=True), query


def test_privacy_scan_command(runner, db_session, make_storyteller, make_session):
    person = make_storyteller(display_name="Scanned Sally")
    make_session(person, session_name="Sally's school days")
    db_session.commit()
    found = runner.invoke(args=["privacy-scan", str(person.id), "--name", "scanned sally"])
    assert found.exit_code == 1
    assert "storyteller.id row" in found.output and "session.storyteller_id" in found.output
    assert "storyteller.display_name" in found.output
    nothing = runner.invoke(args=["privacy-scan", "00000000-0000-4000-8000-000000000000"])
    assert nothing.exit_code == 0 and "Nothing found." in nothing.output
    bad = runner.invoke(args=["privacy-scan", "not-an-id"])
    assert bad.exit_code == 2 and "not a storyteller id" in bad.output
