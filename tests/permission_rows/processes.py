"""Permission rows for interview processes and session templates (coordinators and admins)."""

from __future__ import annotations

from storyteller import builtin_content, processes, session_templates
from tests.permissions_common import ANON_TO_SIGN_IN, Route, Scenario

# Managing processes and templates is for coordinators and admins; they are not anyone's
# personal data, so there is no "own" or "other" object: only roles matter.
MANAGE_GET = {
    **ANON_TO_SIGN_IN,
    "storyteller": 403,
    "coordinator": 200,
    "reviewer": 403,
    "admin": 200,
}


def _manage(ok: int) -> dict:
    return {**ANON_TO_SIGN_IN, "storyteller": 403, "coordinator": ok, "reviewer": 403, "admin": ok}


def _draft(s: Scenario, ownership: str) -> None:
    """An editable process version with two steps, and an editable template."""
    default = builtin_content.ensure_default_process(s.db)
    draft = processes.copy_version(s.db, default, user_id=None)
    s.extra["process"] = draft
    s.extra["node"] = draft.nodes[1]
    s.extra["template"] = session_templates.create_template(
        s.db,
        session_templates.TemplateFields(
            template_name="Summer holidays",
            default_intention="Capture two summer holidays as scenes",
            default_duration_minutes="30",
        ),
        user_id=None,
    )
    s.db.commit()


def _retired(s: Scenario, ownership: str) -> None:
    _draft(s, ownership)
    session_templates.retire_template(s.db, s.extra["template"], user_id=None)
    s.db.commit()


def _p(s: Scenario) -> str:
    return f"/processes/{s.extra['process'].id}"


def _n(s: Scenario) -> str:
    return f"/process-nodes/{s.extra['node'].id}"


def _t(s: Scenario) -> str:
    return f"/templates/{s.extra['template'].id}"


NODE_FORM = {
    "node_name": "Summers by the sea",
    "agent_objective": "Capture summer holidays as scenes",
    "agent_constraints": "Allow the storyteller to skip any question",
    "user_facing_text": "Let's remember the summers.",
    "life_period": "childhood",
    "suggested_event_types": "holiday, family",
}
TEMPLATE_FORM = {
    "template_name": "Winter evenings",
    "default_intention": "Capture two winter evenings at home as scenes",
    "default_success_indicators": "At least 2 scenes captured with who/where/when details",
    "default_duration_minutes": "25",
}

ROWS = {
    "processes.index": Route("GET", lambda s, own: "/processes", other=MANAGE_GET),
    "processes.show": Route("GET", lambda s, own: _p(s), other=MANAGE_GET, setup=_draft),
    "processes.new_version": Route(
        "POST", lambda s, own: f"{_p(s)}/copy", other=_manage(303), setup=_draft
    ),
    "processes.edit": [
        Route("GET", lambda s, own: f"{_p(s)}/edit", other=MANAGE_GET, setup=_draft),
        Route(
            "POST",
            lambda s, own: f"{_p(s)}/edit",
            other=_manage(303),
            setup=_draft,
            data={"name": "Life story (family)", "version_number": "7.0", "description": ""},
        ),
    ],
    "processes.activate": Route(
        "POST", lambda s, own: f"{_p(s)}/activate", other=_manage(303), setup=_draft
    ),
    "processes.new_node": [
        Route("GET", lambda s, own: f"{_p(s)}/nodes/new", other=MANAGE_GET, setup=_draft),
        Route(
            "POST",
            lambda s, own: f"{_p(s)}/nodes/new",
            other=_manage(303),
            setup=_draft,
            data=NODE_FORM,
        ),
    ],
    "processes.edit_node": [
        Route("GET", lambda s, own: f"{_n(s)}/edit", other=MANAGE_GET, setup=_draft),
        Route(
            "POST",
            lambda s, own: f"{_n(s)}/edit",
            other=_manage(303),
            setup=_draft,
            data=NODE_FORM,
        ),
    ],
    "processes.move_node": Route(
        "POST",
        lambda s, own: f"{_n(s)}/move",
        other=_manage(303),
        setup=_draft,
        data={"direction": "up"},
    ),
    "processes.delete_node": Route(
        "POST", lambda s, own: f"{_n(s)}/delete", other=_manage(303), setup=_draft
    ),
    "processes.templates": Route("GET", lambda s, own: "/templates", other=MANAGE_GET),
    "processes.new_template": [
        Route("GET", lambda s, own: "/templates/new", other=MANAGE_GET),
        Route("POST", lambda s, own: "/templates/new", other=_manage(303), data=TEMPLATE_FORM),
    ],
    "processes.edit_template": [
        Route("GET", lambda s, own: f"{_t(s)}/edit", other=MANAGE_GET, setup=_draft),
        Route(
            "POST",
            lambda s, own: f"{_t(s)}/edit",
            other=_manage(303),
            setup=_draft,
            data=TEMPLATE_FORM,
        ),
    ],
    "processes.copy_template": Route(
        "POST", lambda s, own: f"{_t(s)}/copy", other=_manage(303), setup=_draft
    ),
    "processes.retire_template": Route(
        "POST", lambda s, own: f"{_t(s)}/retire", other=_manage(303), setup=_draft
    ),
    "processes.restore_template": Route(
        "POST", lambda s, own: f"{_t(s)}/restore", other=_manage(303), setup=_retired
    ),
}
