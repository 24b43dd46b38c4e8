"""Process versions and their steps: copying, activation, editing, reordering, protection."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storyteller import builtin_content, processes
from storyteller.models import Event, ProcessNode, ProcessVersion, SessionTemplate
from storyteller.processes import NodeFields, ProcessInputError, ProcessLocked, VersionFields


@pytest.fixture
def default(db_session):
    return builtin_content.ensure_default_process(db_session)


@pytest.fixture
def draft(db_session, default):
    return processes.copy_version(db_session, default, user_id=None)


def _names(version):
    return [n.node_name for n in sorted(version.nodes, key=lambda n: n.sequence)]


def _sequences(db, version):
    return list(
        db.scalars(
            select(ProcessNode.sequence)
            .where(ProcessNode.process_version_id == version.id)
            .order_by(ProcessNode.sequence)
        )
    )


def test_default_process_is_builtin_active_and_created_once(db_session, default):
    again = builtin_content.ensure_default_process(db_session)
    assert again.id == default.id
    assert default.is_builtin and default.is_active
    assert _names(default) == [spec.name for spec in builtin_content.DEFAULT_NODES]
    count = db_session.scalar(
        select(func.count()).select_from(ProcessVersion).where(ProcessVersion.is_builtin)
    )
    assert count == 1


def test_copy_makes_an_editable_inactive_draft_with_the_next_version(db_session, default, draft):
    assert draft.id != default.id
    assert draft.name == default.name
    assert draft.version_number == "2.0"
    assert not draft.is_builtin and not draft.is_active
    assert _names(draft) == _names(default)
    assert [n.agent_objective for n in draft.nodes] == [n.agent_objective for n in default.nodes]
    assert {n.id for n in draft.nodes}.isdisjoint({n.id for n in default.nodes})
    third = processes.copy_version(db_session, draft, user_id=None)
    assert third.version_number == "3.0"
    # Copying the old one again still bumps past the highest number.
    assert processes.copy_version(db_session, default, user_id=None).version_number == "4.0"
    assert (
        db_session.scalar(
            select(func.count()).select_from(Event).where(Event.event_type == "process.copied")
        )
        == 3
    )


def test_next_version_number_ignores_other_names_and_odd_numbers(db_session, default, draft):
    processes.update_version(
        db_session, draft, VersionFields("Other process", "beta", ""), user_id=None
    )
    assert processes.next_version_number(db_session, "Other process") == "1.0"
    assert processes.next_version_number(db_session, default.name) == "2.0"


def test_activate_switches_the_one_active_version(db_session, default, draft):
    processes.activate(db_session, draft, user_id=None)
    db_session.refresh(default)
    assert draft.is_active and draft.activated_at is not None
    assert not default.is_active
    active = list(db_session.scalars(select(ProcessVersion).where(ProcessVersion.is_active)))
    assert active == [draft]
    assert processes.active_version(db_session) is draft
    processes.activate(db_session, default, user_id=None)
    db_session.refresh(draft)
    assert default.is_active and not draft.is_active
    # Activating the active one again changes nothing.
    processes.activate(db_session, default, user_id=None)
    assert processes.active_version(db_session) is default


def test_the_database_refuses_two_active_versions(db_session, default, draft):
    savepoint = db_session.begin_nested()
    draft.is_active = True
    with pytest.raises(IntegrityError):
        db_session.flush()
    savepoint.rollback()


def test_a_version_without_steps_cannot_be_activated(db_session, draft):
    for node in list(draft.nodes):
        processes.delete_node(db_session, node, user_id=None)
    assert draft.nodes == []
    with pytest.raises(ProcessInputError) as info:
        processes.activate(db_session, draft, user_id=None)
    assert "at least one step" in info.value.message
    assert not draft.is_active


def test_the_builtin_process_is_never_changed_in_place(db_session, default):
    node = default.nodes[0]
    fields = NodeFields(node_name="X", agent_objective="Y")
    before = _names(default)
    with pytest.raises(ProcessLocked):
        processes.update_version(db_session, default, VersionFields("A", "9", ""), user_id=None)
    with pytest.raises(ProcessLocked):
        processes.add_node(db_session, default, fields, user_id=None)
    with pytest.raises(ProcessLocked):
        processes.update_node(db_session, node, fields, user_id=None)
    with pytest.raises(ProcessLocked):
        processes.move_node(db_session, default.nodes[1], "up", user_id=None)
    with pytest.raises(ProcessLocked):
        processes.delete_node(db_session, node, user_id=None)
    db_session.expire_all()
    assert _names(default) == before
    assert default.name == builtin_content.DEFAULT_PROCESS_NAME


def test_update_version_validates_and_keeps_names_unique(db_session, default, draft):
    with pytest.raises(ProcessInputError) as info:
        processes.update_version(db_session, draft, VersionFields("", "", "x"), user_id=None)
    assert set(info.value.errors) == {"name", "version_number"}
    with pytest.raises(ProcessInputError) as info:
        processes.update_version(
            db_session, draft, VersionFields(default.name, "1.0", ""), user_id=None
        )
    assert info.value.field == "version_number"
    assert "already has a version 1.0" in info.value.message
    with pytest.raises(ProcessInputError) as info:
        processes.update_version(db_session, draft, VersionFields("n" * 201, "2", ""), user_id=None)
    assert info.value.field == "name"
    processes.update_version(
        db_session, draft, VersionFields("  Family   story ", "2.1", " Ours. "), user_id=None
    )
    assert (draft.name, draft.version_number, draft.description) == ("Family story", "2.1", "Ours.")


def test_add_node_appends_and_cleans_the_fields(db_session, draft):
    count = len(draft.nodes)
    node = processes.add_node(
        db_session,
        draft,
        NodeFields(
            node_name=" Summers ",
            agent_objective="Capture summer holidays",
            agent_constraints="  Allow skipping  \n\n Keep it short\nAllow skipping",
            user_facing_text="Let's remember the summers.",
            life_period="childhood",
            suggested_event_types="Holiday, family , holiday,, Summer camp",
        ),
        user_id=None,
    )
    assert node.sequence == count + 1
    assert node.node_name == "Summers"
    assert node.agent_constraints == "Allow skipping\nKeep it short"
    assert node.suggested_event_types == ["holiday", "family", "summer_camp"]
    assert node.life_period == "childhood"
    assert draft.nodes[-1] is node


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (NodeFields(node_name="", agent_objective="Aim"), "node_name"),
        (NodeFields(node_name="Name", agent_objective="   "), "agent_objective"),
        (NodeFields(node_name="Name", agent_objective="Aim", life_period="teens"), "life_period"),
        (
            NodeFields(node_name="Name", agent_objective="Aim", agent_constraints="x" * 501),
            "agent_constraints",
        ),
        (
            NodeFields(node_name="Name", agent_objective="Aim", suggested_event_types="y" * 51),
            "suggested_event_types",
        ),
        (
            NodeFields(
                node_name="Name",
                agent_objective="Aim",
                agent_constraints="\n".join(f"rule {i}" for i in range(21)),
            ),
            "agent_constraints",
        ),
    ],
)
def test_bad_node_fields_are_refused_with_the_field_named(db_session, draft, fields, field):
    before = len(draft.nodes)
    with pytest.raises(ProcessInputError) as info:
        processes.add_node(db_session, draft, fields, user_id=None)
    assert field in info.value.errors
    assert len(draft.nodes) == before


def test_update_node_changes_only_that_node(db_session, draft):
    node = draft.nodes[2]
    processes.update_node(
        db_session,
        node,
        NodeFields(node_name="Schooldays", agent_objective="School scenes", life_period=""),
        user_id=None,
    )
    db_session.expire_all()
    assert node.node_name == "Schooldays" and node.life_period is None
    assert node.agent_constraints is None and node.suggested_event_types == []
    assert draft.nodes[1].node_name == "Childhood"


def test_move_node_up_and_down_keeps_sequences_one_to_n(db_session, draft):
    names = _names(draft)
    third = draft.nodes[2]
    processes.move_node(db_session, third, "up", user_id=None)
    db_session.expire_all()
    assert _names(draft) == [names[0], names[2], names[1], *names[3:]]
    assert _sequences(db_session, draft) == list(range(1, len(names) + 1))
    processes.move_node(db_session, third, "down", user_id=None)
    processes.move_node(db_session, third, "down", user_id=None)
    db_session.expire_all()
    assert _names(draft) == [names[0], names[1], names[3], names[2], *names[4:]]
    assert third.sequence == 4


def test_move_node_refuses_past_the_ends_and_bad_directions(db_session, draft):
    first, last = draft.nodes[0], draft.nodes[-1]
    with pytest.raises(ProcessInputError, match="already the first step"):
        processes.move_node(db_session, first, "up", user_id=None)
    with pytest.raises(ProcessInputError, match="already the last step"):
        processes.move_node(db_session, last, "down", user_id=None)
    with pytest.raises(ProcessInputError) as info:
        processes.move_node(db_session, first, "sideways", user_id=None)
    assert info.value.field == "direction"


def test_delete_node_closes_the_gap_and_forgets_it_in_templates(db_session, draft):
    names = _names(draft)
    doomed = draft.nodes[1]
    template = SessionTemplate(
        template_name="Uses the step",
        default_intention="x",
        suggested_for_process_nodes=[str(doomed.id), str(draft.nodes[0].id)],
    )
    db_session.add(template)
    db_session.flush()
    processes.delete_node(db_session, doomed, user_id=None)
    db_session.expire_all()
    assert _names(draft) == [names[0], *names[2:]]
    assert _sequences(db_session, draft) == list(range(1, len(names)))
    assert db_session.get(ProcessNode, doomed.id) is None
    assert template.suggested_for_process_nodes == [str(draft.nodes[0].id)]


def test_a_node_sessions_were_planned_from_cannot_be_deleted(
    db_session, draft, make_storyteller, make_session
):
    node = draft.nodes[0]
    make_session(make_storyteller(), current_process_node_id=node.id)
    with pytest.raises(ProcessInputError, match="1 session was planned"):
        processes.delete_node(db_session, node, user_id=None)
    assert db_session.get(ProcessNode, node.id) is not None


def test_list_versions_puts_the_active_one_first(db_session, default, draft):
    processes.activate(db_session, draft, user_id=None)
    listed = processes.list_versions(db_session)
    assert listed[0] is draft
    assert default in listed
