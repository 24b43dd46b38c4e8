"""The process and template pages, as a coordinator and an admin would use them."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from storyteller import builtin_content, processes, session_templates
from storyteller.models import ProcessVersion, SessionTemplate


@pytest.fixture
def coordinator(make_user, login):
    user = make_user("coordinator")
    login(user)
    return user


@pytest.fixture
def default(db_session):
    process = builtin_content.ensure_default_process(db_session)
    builtin_content.ensure_builtin_templates(db_session, process)
    db_session.commit()
    return process


@pytest.fixture
def draft(db_session, default):
    version = processes.copy_version(db_session, default, user_id=None)
    db_session.commit()
    return version


def _text(response) -> str:
    return response.get_data(as_text=True)


def _assert_page_rules(body: str) -> None:
    """CSP-safe markup: no inline script or style; every POST form has a CSRF token."""
    assert "style=" not in body
    assert not re.search(r"<script(?![^>]*\bsrc=)", body)
    for form in re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", body, re.S):
        assert 'name="csrf_token"' in form


def test_index_and_show(client, coordinator, default, draft):
    response = client.get("/processes")
    assert response.status_code == 200
    body = _text(response)
    _assert_page_rules(body)
    assert "Life story" in body and "In use" in body and "2.0" in body
    response = client.get(f"/processes/{default.id}")
    body = _text(response)
    assert response.status_code == 200
    _assert_page_rules(body)
    for node in default.nodes:
        assert node.node_name in body
    assert "Make a new version" in body
    assert "Delete step" not in body and "Add a step" not in body  # built-in: read only
    assert "Childhood exploration" in body  # templates suggested for the Childhood step
    body = _text(client.get(f"/processes/{draft.id}"))
    _assert_page_rules(body)
    assert "Use this process" in body and "Delete step" in body and "Move up" in body


def test_make_a_new_version(client, coordinator, db_session, default):
    response = client.post(f"/processes/{default.id}/copy")
    assert response.status_code == 303
    copy_id = uuid.UUID(response.headers["Location"].rstrip("/").split("/")[-1])
    copy = db_session.get(ProcessVersion, copy_id)
    assert copy.version_number == "2.0" and not copy.is_builtin and not copy.is_active
    body = _text(client.get(response.headers["Location"]))
    assert "is ready for your changes" in body


def test_builtin_process_cannot_be_edited(client, coordinator, db_session, default):
    node = default.nodes[0]
    for url in (
        f"/processes/{default.id}/edit",
        f"/processes/{default.id}/nodes/new",
        f"/process-nodes/{node.id}/edit",
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/processes/{default.id}")
    response = client.post(
        f"/processes/{default.id}/edit", data={"name": "Hacked", "version_number": "1.0"}
    )
    assert response.status_code == 400
    assert "cannot be changed" in _text(response)
    for url in (f"/process-nodes/{node.id}/delete", f"/process-nodes/{node.id}/move"):
        response = client.post(url, data={"direction": "down"})
        assert response.status_code == 400, url
        assert "cannot be changed" in _text(response)
    db_session.expire_all()
    assert default.name == "Life story" and default.nodes[0].id == node.id


def test_edit_version(client, coordinator, db_session, draft):
    url = f"/processes/{draft.id}/edit"
    assert client.get(url).status_code == 200
    response = client.post(url, data={"name": "", "version_number": "1.0", "description": "Ours"})
    assert response.status_code == 400
    body = _text(response)
    _assert_page_rules(body)
    assert "Please enter a name for the process." in body
    assert 'aria-describedby="name-error"' in body
    assert ">Ours</textarea>" in body  # what was typed is kept
    response = client.post(url, data={"name": "Life story", "version_number": "1.0"})
    assert response.status_code == 400
    assert "already has a version 1.0" in _text(response)
    response = client.post(url, data={"name": "Family story", "version_number": "1"})
    assert response.status_code == 303
    db_session.expire_all()
    assert draft.name == "Family story"


def test_add_and_edit_a_step(client, coordinator, db_session, draft):
    url = f"/processes/{draft.id}/nodes/new"
    body = _text(client.get(url))
    _assert_page_rules(body)
    assert '<label for="node_name">' in body and "Later life and legacy" in body
    bad = {"node_name": "Summers", "agent_objective": "", "life_period": "teens"}
    response = client.post(url, data=bad)
    assert response.status_code == 400
    body = _text(response)
    assert "Please enter what the interviewer should aim for" in body
    assert "Choose one of the life periods" in body
    assert 'value="Summers"' in body
    count = len(draft.nodes)
    good = {
        "node_name": "Summers",
        "agent_objective": "Capture summer holidays",
        "agent_constraints": "Keep it short\nAllow the storyteller to skip any question",
        "life_period": "childhood",
        "suggested_event_types": "holiday",
    }
    response = client.post(url, data=good)
    assert response.status_code == 303
    db_session.expire_all()
    assert len(draft.nodes) == count + 1
    node = draft.nodes[-1]
    assert node.node_name == "Summers" and node.sequence == count + 1
    assert response.headers["Location"].endswith(f"#node-{node.id}")
    edit_url = f"/process-nodes/{node.id}/edit"
    assert 'value="Summers"' in _text(client.get(edit_url))
    response = client.post(edit_url, data={**good, "node_name": ""})
    assert response.status_code == 400
    assert "Please enter a name for this step." in _text(response)
    response = client.post(edit_url, data={**good, "node_name": "Summer holidays"})
    assert response.status_code == 303
    db_session.expire_all()
    assert node.node_name == "Summer holidays"


def test_move_and_delete_steps(client, coordinator, db_session, draft):
    names = [n.node_name for n in draft.nodes]
    second = draft.nodes[1]
    response = client.post(f"/process-nodes/{second.id}/move", data={"direction": "up"})
    assert response.status_code == 303
    db_session.expire_all()
    assert [n.node_name for n in draft.nodes][:2] == [names[1], names[0]]
    response = client.post(f"/process-nodes/{second.id}/move", data={"direction": "up"})
    assert response.status_code == 400
    assert "already the first step" in _text(response)
    response = client.post(f"/process-nodes/{second.id}/move", data={"direction": "left"})
    assert response.status_code == 400
    response = client.post(f"/process-nodes/{second.id}/delete")
    assert response.status_code == 303
    db_session.expire_all()
    assert [n.node_name for n in draft.nodes] == [names[0], *names[2:]]
    assert [n.sequence for n in draft.nodes] == list(range(1, len(names)))


def test_a_step_in_use_is_not_deleted(
    client, coordinator, db_session, draft, make_storyteller, make_session
):
    node = draft.nodes[0]
    make_session(make_storyteller(), current_process_node_id=node.id)
    db_session.commit()
    response = client.post(f"/process-nodes/{node.id}/delete")
    assert response.status_code == 400
    assert "cannot be deleted" in _text(response)


def test_activate(client, coordinator, db_session, default, draft):
    response = client.post(f"/processes/{draft.id}/activate")
    assert response.status_code == 303
    db_session.expire_all()
    assert draft.is_active and not default.is_active
    assert "is now the process in use" in _text(client.get(f"/processes/{draft.id}"))
    empty = processes.copy_version(db_session, draft, user_id=None)
    for node in list(empty.nodes):
        processes.delete_node(db_session, node, user_id=None)
    db_session.commit()
    response = client.post(f"/processes/{empty.id}/activate")
    assert response.status_code == 400
    assert "Add at least one step" in _text(response)
    db_session.expire_all()
    assert draft.is_active and not empty.is_active


def test_unknown_ids_are_not_found(client, coordinator, default):
    missing = uuid.uuid4()
    gets = [
        f"/processes/{missing}",
        f"/processes/{missing}/edit",
        f"/processes/{missing}/nodes/new",
        f"/process-nodes/{missing}/edit",
        f"/templates/{missing}/edit",
    ]
    posts = [
        f"/processes/{missing}/copy",
        f"/processes/{missing}/edit",
        f"/processes/{missing}/activate",
        f"/processes/{missing}/nodes/new",
        f"/process-nodes/{missing}/edit",
        f"/process-nodes/{missing}/move",
        f"/process-nodes/{missing}/delete",
        f"/templates/{missing}/edit",
        f"/templates/{missing}/copy",
        f"/templates/{missing}/retire",
        f"/templates/{missing}/restore",
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        assert client.post(url, data={"direction": "up"}).status_code == 404, url
    assert client.get("/processes/not-a-uuid").status_code == 404


# --------------------------------------------------------------------------- templates

TEMPLATE_FORM = {
    "template_name": "Winter evenings",
    "template_description": "Evenings at home",
    "default_intention": "Capture two winter evenings at home as scenes",
    "default_success_indicators": "At least 2 scenes captured with who/where/when details",
    "default_completion_indicators": "Storyteller says they've covered the main memories",
    "default_constraints": "Allow the storyteller to skip any question",
    "default_procedure_notes": "1. Opening question: “What did winter evenings sound like?”",
    "default_duration_minutes": "25",
    "suggested_for_event_types": "childhood, home",
    "wants_photos": "1",
}


def test_template_list(client, coordinator, default):
    response = client.get("/templates")
    assert response.status_code == 200
    body = _text(response)
    _assert_page_rules(body)
    for spec in builtin_content.BUILTIN_TEMPLATES:
        assert spec.name in body
    assert "Copy and edit" in body and "Retire" in body and "Built-in" in body
    assert "No retired templates." in body


def test_new_template(client, coordinator, db_session, default):
    body = _text(client.get("/templates/new"))
    _assert_page_rules(body)
    assert "Childhood" in body  # the steps of the process in use can be ticked
    bad = {**TEMPLATE_FORM, "default_intention": "", "default_duration_minutes": "-5"}
    response = client.post("/templates/new", data=bad)
    assert response.status_code == 400
    body = _text(response)
    assert "Please write what the session should achieve" in body
    assert "whole minutes, from 5 to 240" in body
    assert 'aria-describedby="default_duration_minutes-help default_duration_minutes-error"' in (
        body
    )
    assert 'value="Winter evenings"' in body and 'value="-5"' in body
    assert (
        db_session.scalar(
            select(SessionTemplate).where(SessionTemplate.template_name == "Winter evenings")
        )
        is None
    )
    node = default.nodes[1]
    response = client.post(
        "/templates/new", data={**TEMPLATE_FORM, "suggested_for_process_nodes": [str(node.id)]}
    )
    assert response.status_code == 303
    template = db_session.scalar(
        select(SessionTemplate).where(SessionTemplate.template_name == "Winter evenings")
    )
    assert template.default_duration_minutes == 25 and template.wants_photos
    assert template.suggested_for_process_nodes == [str(node.id)]
    assert response.headers["Location"].endswith(f"/templates#template-{template.id}")
    response = client.post(
        "/templates/new",
        data={**TEMPLATE_FORM, "suggested_for_process_nodes": [str(uuid.uuid4())]},
    )
    assert response.status_code == 400
    assert "does not exist any more" in _text(response)


def test_edit_template(client, coordinator, db_session):
    template = session_templates.create_template(
        db_session,
        session_templates.TemplateFields(
            template_name="Old name", default_intention="Aim", default_duration_minutes="30"
        ),
        user_id=None,
    )
    db_session.commit()
    url = f"/templates/{template.id}/edit"
    body = _text(client.get(url))
    assert 'value="Old name"' in body
    response = client.post(url, data={**TEMPLATE_FORM, "default_duration_minutes": "999"})
    assert response.status_code == 400
    db_session.expire_all()
    assert template.template_name == "Old name"
    response = client.post(url, data=TEMPLATE_FORM)
    assert response.status_code == 303
    db_session.expire_all()
    assert template.template_name == "Winter evenings"


def test_builtin_template_copy_and_edit(client, coordinator, db_session, default):
    builtin = db_session.scalar(
        select(SessionTemplate).where(SessionTemplate.template_name == "Work life")
    )
    response = client.get(f"/templates/{builtin.id}/edit")
    assert response.status_code == 302
    response = client.post(f"/templates/{builtin.id}/edit", data=TEMPLATE_FORM)
    assert response.status_code == 400
    assert "Built-in templates cannot be changed" in _text(response)
    db_session.expire_all()
    assert builtin.template_name == "Work life"
    response = client.post(f"/templates/{builtin.id}/copy")
    assert response.status_code == 303
    assert re.search(r"/templates/[0-9a-f-]{36}/edit$", response.headers["Location"])
    body = _text(client.get(response.headers["Location"]))
    assert 'value="Work life (copy)"' in body
    assert "This is your own copy" in body


def test_retire_and_restore(client, coordinator, db_session, default):
    template = db_session.scalar(
        select(SessionTemplate).where(SessionTemplate.template_name == "Photo memories")
    )
    response = client.post(f"/templates/{template.id}/retire")
    assert response.status_code == 303
    db_session.expire_all()
    assert template.is_active is False
    body = _text(client.get("/templates"))
    retired_part = body.split("<h2>Retired</h2>", 1)[1]
    assert "Photo memories" in retired_part and "Restore" in retired_part
    assert "Photo memories" not in body.split("<h2>Retired</h2>", 1)[0].split("<h2>In use</h2>")[1]
    response = client.post(f"/templates/{template.id}/restore")
    assert response.status_code == 303
    db_session.expire_all()
    assert template.is_active is True


def test_admin_can_manage_too(client, make_user, login, default):
    login(make_user("admin"))
    assert client.get("/processes").status_code == 200
    assert client.get("/templates").status_code == 200
    assert client.post("/templates/new", data=TEMPLATE_FORM).status_code == 303


@pytest.mark.parametrize("role", ["storyteller", "reviewer"])
def test_others_are_refused(client, make_user, login, default, role):
    login(make_user(role))
    assert client.get("/processes").status_code == 403
    assert client.get("/templates").status_code == 403
    assert client.post(f"/processes/{default.id}/copy").status_code == 403


def test_schedule_with_this_links_only_for_visible_storytellers(
    client, make_user, login, make_storyteller, db_session, default
):
    coordinator = make_user("coordinator")
    mine = make_storyteller(display_name="Margaret Mine", granted_to=(coordinator,))
    make_storyteller(display_name="Somebody Else")
    db_session.commit()
    login(coordinator)
    template = db_session.scalar(
        select(SessionTemplate).where(SessionTemplate.template_name == "School years")
    )
    body = _text(client.get("/templates"))
    assert f"/storytellers/{mine.id}/sessions/new?template={template.id}" in body
    assert "Somebody Else" not in body
    node = default.nodes[0]
    body = _text(client.get(f"/processes/{default.id}"))
    assert f"/storytellers/{mine.id}/sessions/new?node={node.id}" in body
    assert "Somebody Else" not in body
