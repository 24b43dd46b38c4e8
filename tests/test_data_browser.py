"""The admin's data browser: every table, read-only, escaped, audited for personal data."""

from __future__ import annotations

from sqlalchemy import func, select

from storyteller import table_browser
from storyteller.models import Agent, AuditLog, Base, SessionInteraction, Storyteller, User

LONG = "<script>alert('x')</script> " + "The walk to school was long. " * 10


def _audits(db, **where):
    query = select(AuditLog).where(*(getattr(AuditLog, k) == v for k, v in where.items()))
    return db.scalars(query.order_by(AuditLog.created_at)).all()


def test_index_lists_every_table_with_its_row_count(client, db_session, login, make_user):
    admin = make_user("admin")
    db_session.commit()
    login(admin)
    body = client.get("/admin/data/").get_data(as_text=True)
    for name in Base.metadata.tables:
        assert f'href="/admin/data/{name}"' in body
    summary = {t.name: t for t in table_browser.summaries(db_session)}
    assert summary["user"].rows == db_session.scalar(select(func.count()).select_from(User))
    assert summary["storyteller"].personal and not summary["agent"].personal
    assert not _audits(db_session, action="read", object_type="user")


def test_rows_are_cut_in_the_list_whole_on_the_row_page_and_always_escaped(
    client, db_session, login, make_user, make_storyteller, make_session
):
    admin = make_user("admin")
    person = make_storyteller(display_name="Esther Escaped")
    session = make_session(person)
    turn = SessionInteraction(
        session_id=session.id, interaction_sequence=1, storyteller_response=LONG
    )
    db_session.add(turn)
    db_session.commit()
    login(admin)
    listing = client.get(f"/admin/data/session_interaction?column=session_id&value={session.id}")
    assert listing.status_code == 200
    body = listing.get_data(as_text=True)
    assert "<script>alert" not in body and "&lt;script&gt;alert" in body
    assert LONG.strip() not in body.replace("&lt;", "<").replace("&gt;", ">")
    assert "1 row" in body
    entry = _audits(db_session, object_type="session_interaction")[-1]
    assert (
        entry.action == "read" and entry.storyteller_id == person.id and entry.actor_id == admin.id
    )

    page = client.get(f"/admin/data/session_interaction/{turn.id}")
    text = page.get_data(as_text=True)
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text
    assert ("The walk to school was long. " * 10).strip() in text
    assert f'href="/admin/data/session/{session.id}"' in text  # the reference is a link
    entry = _audits(db_session, object_type="session_interaction")[-1]
    assert entry.object_id == str(turn.id) and entry.storyteller_id == person.id


def test_a_list_of_many_storytellers_is_audited_without_one_storyteller(
    client, db_session, login, make_user, make_storyteller
):
    admin = make_user("admin")
    make_storyteller()
    make_storyteller()
    db_session.commit()
    login(admin)
    assert client.get("/admin/data/storyteller").status_code == 200
    entry = _audits(db_session, object_type="storyteller")[-1]
    assert entry.storyteller_id is None and entry.action == "read"
    client.get("/admin/data/agent")
    assert not _audits(db_session, object_type="agent")


def test_secrets_are_hidden(client, db_session, login, make_user):
    admin = make_user("admin")
    db_session.commit()
    login(admin)
    text = client.get(f"/admin/data/user/{admin.id}").get_data(as_text=True)
    assert admin.password_hash not in text and "(hidden)" in text
    response = client.get("/admin/data/user?column=password_hash&value=x")
    assert response.status_code == 400


def test_filters_and_pages_are_validated(client, db_session, login, make_user):
    admin = make_user("admin")
    for n in range(3):
        db_session.add(Agent(name=f"Browser agent {n}", type="analyzer"))
    db_session.commit()
    login(admin)
    for query, words in [
        ("column=nope&value=1", "has no column"),
        ("column=id&value=not-a-uuid", "not a valid value"),
        ("column=total_sessions&value=many", "not a valid value"),
        ("column=configuration&value=x", "holds JSON"),
        ("column=total_sessions&value=99999999999", "not a valid value"),
        ("column=success_rate&value=abc", "not a valid value"),
        ("column=name&value=a%00b", "not a valid value"),
        ("page=0", "whole number"),
        ("page=abc", "whole number"),
    ]:
        response = client.get("/admin/data/agent?" + query)
        assert response.status_code == 400, query
        assert words in response.get_data(as_text=True), query
    for query in ("column=total_cost&value=1e30", "column=total_cost&value=NaN"):
        response = client.get("/admin/data/usage_daily?" + query)
        assert response.status_code == 400, query
    assert client.get("/admin/data/usage_daily?column=total_cost&value=0.5").status_code == 200
    assert client.get("/admin/data/nope").status_code == 404
    assert client.get("/admin/data/agent/not-a-uuid").status_code == 404
    assert client.get(f"/admin/data/agent/{admin.id}").status_code == 404
    ok = client.get("/admin/data/agent?column=type&value=analyzer")
    assert ok.status_code == 200 and "Browser agent 2" in ok.get_data(as_text=True)
    assert client.get("/admin/data/agent?column=description&value=").status_code == 200

    table = Base.metadata.tables["agent"]
    condition = table_browser.where_column(table, "type", "analyzer")
    first = table_browser.rows_page(db_session, table, condition, page=1, page_size=2)
    second = table_browser.rows_page(db_session, table, condition, page=2, page_size=2)
    assert (first.total, first.pages, len(first.rows), len(second.rows)) == (3, 2, 2, 1)
    names = {r["name"] for r in first.rows + second.rows}
    assert names == {f"Browser agent {n}" for n in range(3)}


def test_the_browser_has_no_write_routes(app):
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin/data")]
    assert rules
    for rule in rules:
        assert rule.methods - {"HEAD", "OPTIONS"} == {"GET"}, rule


def test_storyteller_of_rows(db_session, make_user, make_storyteller, make_session):
    user = make_user("storyteller")
    person = db_session.scalar(select(Storyteller).where(Storyteller.user_id == user.id))
    other = make_storyteller()
    s1, s2 = make_session(person), make_session(other)
    tables = Base.metadata.tables
    assert table_browser.storyteller_of(db_session, tables["user"], [{"id": user.id}]) == person.id
    sessions = [{"session_id": s1.id}]
    assert table_browser.storyteller_of(db_session, tables["event"], sessions) == person.id
    both = [{"session_id": s1.id}, {"session_id": s2.id}]
    assert table_browser.storyteller_of(db_session, tables["event"], both) is None
