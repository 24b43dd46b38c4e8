"""The admin's home links every operator tool, and an admin's session page links its trace."""

from __future__ import annotations

from tests.conftest import sign_in

TOOLS = (
    "/admin/dashboards/",
    "/admin/dashboards/sessions",
    "/admin/errors/",
    "/admin/traces/",
    "/admin/agents/",
    "/admin/data/",
    "/admin/audit/",
    "/admin/privacy/",
    "/outbox",
)


def test_admin_home_links_every_tool_and_each_opens(client, make_user):
    admin = make_user(role="admin")
    sign_in(client, admin)
    html = client.get("/").get_data(as_text=True)
    for path in TOOLS:
        assert f'href="{path}' in html, path
        assert client.get(path).status_code == 200, path


def test_session_page_links_the_trace_for_admins_only(
    client, make_user, make_storyteller, make_session
):
    coordinator = make_user(role="coordinator")
    admin = make_user(role="admin")
    session = make_session(make_storyteller(granted_to=[coordinator]))
    trace_link = f'href="/admin/traces/{session.id}"'
    sign_in(client, admin)
    assert trace_link in client.get(f"/sessions/{session.id}").get_data(as_text=True)
    client.post("/sign-out")
    sign_in(client, coordinator)
    page = client.get(f"/sessions/{session.id}")
    assert page.status_code == 200
    assert trace_link not in page.get_data(as_text=True)
