"""The built-in library: every required template is there, with real content, created once."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from storyteller import builtin_content
from storyteller.agent.context import LIFE_PERIODS
from storyteller.models import SessionTemplate
from storyteller.session_templates import DURATION_MAX, DURATION_MIN

REQUIRED = (
    "Childhood exploration",
    "School years",
    "Work life",
    "Love and family",
    "Military service deep dive",
    "Migration and moving",
    "A gentle approach for trauma and loss",
    "Photo memories",
    "Reflection and legacy",
)
SPECS = {spec.name: spec for spec in builtin_content.BUILTIN_TEMPLATES}


def test_every_required_template_ships():
    assert set(REQUIRED) <= set(SPECS)
    assert len(SPECS) == len(builtin_content.BUILTIN_TEMPLATES), "names must be unique"


@pytest.mark.parametrize("name", REQUIRED)
def test_each_required_template_has_real_content(name):
    spec = SPECS[name]
    assert len(spec.description.split()) >= 8
    assert len(spec.intention.split()) >= 12, "an intention says what to capture and why"
    assert 3 <= len(spec.success) <= 5
    assert all(len(s.split()) >= 4 for s in spec.success)
    assert len(set(spec.success)) == len(spec.success)
    assert spec.completion
    assert len(spec.constraints) >= 3
    assert any("skip" in c.lower() for c in spec.constraints), "the storyteller may always skip"
    steps = re.findall(r"^\d+\. ", spec.procedure, re.MULTILINE)
    assert len(steps) >= 5, "procedure notes are a numbered order of conversation"
    questions = re.findall(r"“[^”]+\?”", spec.procedure)
    assert len(questions) >= 3, "procedure notes include example questions"
    assert "opening question" in spec.procedure.lower()
    assert DURATION_MIN <= spec.duration <= DURATION_MAX
    assert spec.event_types


def test_sensitive_templates_are_gentle_and_short():
    trauma = SPECS["A gentle approach for trauma and loss"]
    assert trauma.duration <= 30
    text = " ".join(trauma.constraints).lower()
    assert "gentle" in text and "consent" in text and "stop" in text
    military = SPECS["Military service deep dive"]
    assert any("trauma" in c.lower() for c in military.constraints)


def test_photo_templates_ask_for_photos():
    assert SPECS["Photo memories"].wants_photos
    assert SPECS["Childhood exploration"].wants_photos
    assert not SPECS["A gentle approach for trauma and loss"].wants_photos


def test_default_process_nodes_are_complete():
    names = [n.name for n in builtin_content.DEFAULT_NODES]
    assert len(names) == len(set(names)) >= 5
    for node in builtin_content.DEFAULT_NODES:
        assert node.life_period in LIFE_PERIODS
        assert node.objective and node.user_text and node.constraints
    for spec in builtin_content.BUILTIN_TEMPLATES:
        assert set(spec.node_names) <= set(names), spec.name


def test_ensure_builtin_templates_is_idempotent_and_links_steps(db_session):
    process = builtin_content.ensure_default_process(db_session)
    first = builtin_content.ensure_builtin_templates(db_session, process)
    second = builtin_content.ensure_builtin_templates(db_session, process)
    assert [t.id for t in first] == [t.id for t in second]
    count = db_session.scalar(
        select(func.count()).select_from(SessionTemplate).where(SessionTemplate.is_builtin)
    )
    assert count == len(builtin_content.BUILTIN_TEMPLATES)
    by_name = {t.template_name: t for t in second}
    for name in REQUIRED:
        template = by_name[name]
        assert template.is_builtin and template.is_active
        assert template.default_intention
        assert len(template.default_success_indicators or []) >= 3
        assert template.default_completion_indicators
        assert template.default_procedure_notes
    childhood_node = next(n for n in process.nodes if n.node_name == "Childhood")
    assert by_name["Childhood exploration"].suggested_for_process_nodes == [str(childhood_node.id)]
    assert by_name["Photo memories"].suggested_for_process_nodes == []


def test_ensure_brings_an_old_builtin_up_to_date(db_session):
    process = builtin_content.ensure_default_process(db_session)
    old = SessionTemplate(
        template_name="School years",
        default_intention="thin",
        default_success_indicators=["one"],
        is_builtin=True,
        is_active=False,
    )
    db_session.add(old)
    db_session.flush()
    templates = builtin_content.ensure_builtin_templates(db_session, process)
    assert old in templates
    assert old.default_intention == SPECS["School years"].intention
    assert old.default_success_indicators == list(SPECS["School years"].success)
    assert old.process_version_id == process.id
    assert old.is_active is False, "a retired built-in stays retired"


def test_demo_seeding_still_works_twice(db_session):
    from storyteller import demo

    demo.seed_demo(db_session)
    assert demo.seed_demo(db_session).created is False
    count = db_session.scalar(
        select(func.count()).select_from(SessionTemplate).where(SessionTemplate.is_builtin)
    )
    assert count == len(builtin_content.BUILTIN_TEMPLATES)
