"""Permission rows: the admin's agents and versions pages (admin only; everyone else 403)."""

from __future__ import annotations

from storyteller import agent_versions
from tests.permissions_common import ANON_TO_SIGN_IN, Route, Scenario

ADMIN_ONLY = {
    **ANON_TO_SIGN_IN,
    "storyteller": 403,
    "coordinator": 403,
    "reviewer": 403,
    "admin": 200,
}
ADMIN_ONLY_POST = {**ADMIN_ONLY, "admin": 303}


def _interviewer(s: Scenario, own: str) -> None:
    agent, active = agent_versions.ensure_interviewer_agent(s.db)
    older = agent_versions.create_agent_version(
        s.db,
        agent_id=agent.id,
        version_number="0.9.0-perm",
        configuration={"system_prompt": "An older interviewer."},
    )
    s.db.flush()
    s.extra.update(agent=agent, active=active, older=older)


def _new_version(s: Scenario) -> dict[str, str]:
    return {
        "system_prompt": "Ask one kind question at a time.",
        "model": "",
        "temperature": "0.5",
        "changes": "Shorter instructions.",
        "version_number": "",
    }


ROWS = {
    "agents.index": Route("GET", lambda s, own: "/admin/agents/", other=ADMIN_ONLY),
    "agents.detail": Route(
        "GET",
        lambda s, own: f"/admin/agents/{s.extra['agent'].id}",
        other=ADMIN_ONLY,
        setup=_interviewer,
    ),
    "agents.create_version": Route(
        "POST",
        lambda s, own: f"/admin/agents/{s.extra['agent'].id}/versions",
        other=ADMIN_ONLY_POST,
        setup=_interviewer,
        data=_new_version,
    ),
    "agents.activate": Route(
        "POST",
        lambda s, own: (
            f"/admin/agents/{s.extra['agent'].id}/versions/{s.extra['older'].id}/activate"
        ),
        other=ADMIN_ONLY_POST,
        setup=_interviewer,
    ),
    "agents.compare": Route(
        "GET",
        lambda s, own: (
            f"/admin/agents/{s.extra['agent'].id}/compare"
            f"?a={s.extra['older'].id}&b={s.extra['active'].id}"
        ),
        other=ADMIN_ONLY,
        setup=_interviewer,
    ),
}
