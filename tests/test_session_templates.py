"""Session templates: validation, create/edit, copy, retire and restore, built-in protection."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from storyteller import builtin_content, processes, session_templates
from storyteller.models import AuditLog, SessionTemplate
from storyteller.session_templates import TemplateFields, TemplateInputError, TemplateLocked


@pytest.fixture
def process(db_session):
    return builtin_content.ensure_default_process(db_session)


def _fields(**overrides) -> TemplateFields:
    values = {
        "template_name": "Summer holidays",
        "template_description": "Holidays by the sea and in the country.",
        "suggested_for_event_types": "Holiday, travel",
        "default_intention": "Capture two summer holidays as scenes",
        "default_success_indicators": "At least 2 scenes captured\n\nPlaces named\n",
        "default_completion_indicators": "Storyteller says they've covered the main memories",
        "default_constraints": "Allow the storyteller to skip any question",
        "default_procedure_notes": "1. Where did you go?\n2. Who came along?",
        "default_duration_minutes": "35",
        "wants_photos": True,
    }
    values.update(overrides)
    return TemplateFields(**values)


def test_create_cleans_every_field(db_session, process):
    node = process.nodes[1]
    template = session_templates.create_template(
        db_session, _fields(suggested_for_process_nodes=[str(node.id), str(node.id)]), user_id=None
    )
    assert template.template_name == "Summer holidays"
    assert template.suggested_for_event_types == ["holiday", "travel"]
    assert template.suggested_for_process_nodes == [str(node.id)]
    assert template.process_version_id == process.id
    assert template.default_success_indicators == ["At least 2 scenes captured", "Places named"]
    assert template.default_completion_indicators == [
        "Storyteller says they've covered the main memories"
    ]
    assert template.default_constraints == ["Allow the storyteller to skip any question"]
    assert template.default_duration_minutes == 35
    assert template.wants_photos is True
    assert template.is_active and not template.is_builtin
    audit = db_session.scalar(
        select(AuditLog).where(
            AuditLog.object_type == "session_template", AuditLog.object_id == str(template.id)
        )
    )
    assert audit is not None and audit.action == "create"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"template_name": "   "}, "template_name"),
        ({"template_name": "n" * 201}, "template_name"),
        ({"default_intention": ""}, "default_intention"),
        ({"default_duration_minutes": ""}, "default_duration_minutes"),
        ({"default_duration_minutes": "ten"}, "default_duration_minutes"),
        ({"default_duration_minutes": "-5"}, "default_duration_minutes"),
        ({"default_duration_minutes": "4"}, "default_duration_minutes"),
        ({"default_duration_minutes": "241"}, "default_duration_minutes"),
        ({"default_duration_minutes": "30.5"}, "default_duration_minutes"),
        ({"default_success_indicators": "x" * 501}, "default_success_indicators"),
        ({"suggested_for_process_nodes": [str(uuid.uuid4())]}, "suggested_for_process_nodes"),
        ({"suggested_for_process_nodes": ["not-an-id"]}, "suggested_for_process_nodes"),
        ({"template_description": "d" * 5001}, "template_description"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_saved(db_session, process, overrides, field):
    before = db_session.scalars(select(SessionTemplate.id)).all()
    with pytest.raises(TemplateInputError) as info:
        session_templates.create_template(db_session, _fields(**overrides), user_id=None)
    assert field in info.value.errors
    assert info.value.message
    assert db_session.scalars(select(SessionTemplate.id)).all() == before


def test_all_problems_are_reported_at_once(db_session):
    with pytest.raises(TemplateInputError) as info:
        session_templates.create_template(
            db_session,
            _fields(template_name="", default_intention="", default_duration_minutes="0"),
            user_id=None,
        )
    assert set(info.value.errors) == {
        "template_name",
        "default_intention",
        "default_duration_minutes",
    }


def test_duration_bounds_are_accepted(db_session):
    for minutes in ("5", "240", " 60 "):
        template = session_templates.create_template(
            db_session, _fields(default_duration_minutes=minutes), user_id=None
        )
        assert template.default_duration_minutes == int(minutes)


def test_update_changes_the_template(db_session, process):
    template = session_templates.create_template(db_session, _fields(), user_id=None)
    session_templates.update_template(
        db_session,
        template,
        _fields(template_name="Winter evenings", default_duration_minutes="20", wants_photos=False),
        user_id=None,
    )
    db_session.expire_all()
    assert template.template_name == "Winter evenings"
    assert template.default_duration_minutes == 20
    assert template.wants_photos is False


def test_a_failed_update_changes_nothing(db_session):
    template = session_templates.create_template(db_session, _fields(), user_id=None)
    with pytest.raises(TemplateInputError):
        session_templates.update_template(
            db_session,
            template,
            _fields(template_name="Changed", default_intention=""),
            user_id=None,
        )
    assert template.template_name == "Summer holidays"


def test_builtin_templates_are_copied_not_edited(db_session, process):
    builtin = builtin_content.ensure_builtin_templates(db_session, process)[1]
    with pytest.raises(TemplateLocked):
        session_templates.update_template(db_session, builtin, _fields(), user_id=None)
    assert builtin.template_name == "Childhood exploration"
    copy = session_templates.copy_template(db_session, builtin, user_id=None)
    assert copy.id != builtin.id
    assert copy.template_name == "Childhood exploration (copy)"
    assert not copy.is_builtin and copy.is_active
    assert copy.default_intention == builtin.default_intention
    assert copy.default_success_indicators == builtin.default_success_indicators
    assert copy.suggested_for_process_nodes == builtin.suggested_for_process_nodes
    session_templates.update_template(db_session, copy, _edited(copy), user_id=None)
    assert copy.template_name == "Our childhood"
    assert builtin.template_name == "Childhood exploration"


def _edited(template: SessionTemplate) -> TemplateFields:
    fields = TemplateFields.of(template)
    fields.template_name = "Our childhood"
    return fields


def test_copy_keeps_long_names_within_the_limit(db_session):
    template = session_templates.create_template(
        db_session, _fields(template_name="n" * 200), user_id=None
    )
    copy = session_templates.copy_template(db_session, template, user_id=None)
    assert len(copy.template_name) == 200 and copy.template_name.endswith(" (copy)")


def test_retire_hides_from_scheduling_and_restore_brings_back(db_session):
    template = session_templates.create_template(db_session, _fields(), user_id=None)
    offered = db_session.scalars(session_templates.active_templates()).all()
    assert template in offered
    session_templates.retire_template(db_session, template, user_id=None)
    assert template not in db_session.scalars(session_templates.active_templates()).all()
    in_use, retired = session_templates.list_templates(db_session)
    assert template in retired and template not in in_use
    assert db_session.get(SessionTemplate, template.id) is not None  # kept
    session_templates.restore_template(db_session, template, user_id=None)
    assert template in db_session.scalars(session_templates.active_templates()).all()
    events = db_session.scalars(
        select(AuditLog.details).where(AuditLog.object_id == str(template.id))
    ).all()
    assert sorted(e["event"] for e in events if e) == [
        "template.created",
        "template.restored",
        "template.retired",
    ]


def test_builtin_templates_can_be_retired_and_stay_retired(db_session, process):
    builtin = builtin_content.ensure_builtin_templates(db_session, process)[0]
    session_templates.retire_template(db_session, builtin, user_id=None)
    builtin_content.ensure_builtin_templates(db_session, process)
    assert builtin.is_active is False


def test_fields_round_trip_through_the_form(db_session, process):
    template = session_templates.create_template(
        db_session, _fields(suggested_for_process_nodes=[str(process.nodes[0].id)]), user_id=None
    )
    again = TemplateFields.of(template)
    assert again.default_success_indicators == "At least 2 scenes captured\nPlaces named"
    assert again.suggested_for_event_types == "holiday, travel"
    assert again.default_duration_minutes == "35"
    assert again.suggested_for_process_nodes == [str(process.nodes[0].id)]


def test_node_choices_offer_the_active_process_and_keep_other_choices(db_session, process):
    draft = processes.copy_version(db_session, process, user_id=None)
    chosen = str(draft.nodes[0].id)
    choices = session_templates.node_choices(db_session, [chosen, str(process.nodes[2].id)])
    ids = [c[0] for c in choices]
    assert ids[: len(process.nodes)] == [str(n.id) for n in process.nodes]
    assert chosen in ids
    checked = {c[0] for c in choices if c[2]}
    assert checked == {chosen, str(process.nodes[2].id)}
    assert "2.0" in dict((c[0], c[1]) for c in choices)[chosen]


def test_node_names_label_suggested_steps(db_session, process):
    templates = builtin_content.ensure_builtin_templates(db_session, process)
    names = session_templates.node_names(db_session, templates)
    childhood = next(t for t in templates if t.template_name == "Childhood exploration")
    assert names[childhood.suggested_for_process_nodes[0]].startswith("Childhood (Life story")
