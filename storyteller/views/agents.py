"""Admin agents and versions: list, create a version, activate, roll back, compare side by side."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from storyteller import agent_comparison, agent_versions, authz
from storyteller.extensions import db
from storyteller.form_errors import FormInputError
from storyteller.models import Agent, AgentVersion

bp = Blueprint("agents", __name__, url_prefix="/admin/agents")


def _agent_or_404(agent_id: uuid.UUID) -> Agent:
    agent = db.session.get(Agent, agent_id)
    if agent is None:
        abort(404)
    return agent


def _version_or_404(agent: Agent, version_id: uuid.UUID) -> AgentVersion:
    version = db.session.get(AgentVersion, version_id)
    if version is None or version.agent_id != agent.id:
        abort(404)
    return version


@bp.route("/")
@authz.roles_required("admin")
def index():
    # The interviewer always exists (it is otherwise made when the first session starts), so
    # an admin can prepare a new version before anyone has been interviewed.
    agent_versions.ensure_interviewer_agent(db.session)
    db.session.commit()
    agents = db.session.scalars(select(Agent).order_by(Agent.type, Agent.name)).all()
    active = {
        v.agent_id: v
        for v in db.session.scalars(select(AgentVersion).where(AgentVersion.is_active))
    }
    return render_template(
        "agents/index.html",
        agents=agents,
        active=active,
        totals=agent_comparison.agent_totals(db.session),
    )


def _detail(agent: Agent, form: dict[str, str] | None = None, errors=None, status: int = 200):
    versions = agent_versions.versions_of(db.session, agent.id)
    active = next((v for v in versions if v.is_active), None)
    if form is None:
        config = dict(active.configuration or {}) if active else {}
        form = {
            "system_prompt": config.get("system_prompt") or agent_versions.DEFAULT_SYSTEM_PROMPT,
            "model": config.get("model") or "",
            "temperature": str(config.get("temperature", agent_versions.DEFAULT_TEMPERATURE)),
            "changes": "",
            "version_number": "",
        }
    figures = {f.version.id: f for f in agent_comparison.compare_versions(db.session, versions)}
    return (
        render_template(
            "agents/detail.html",
            agent=agent,
            versions=versions,
            active=active,
            figures=figures,
            form=form,
            errors=errors or {},
            next_number=agent_versions.next_version_number(db.session, agent.id),
        ),
        status,
    )


@bp.route("/<uuid:agent_id>")
@authz.roles_required("admin")
def detail(agent_id: uuid.UUID):
    return _detail(_agent_or_404(agent_id))


@bp.route("/<uuid:agent_id>/versions", methods=["POST"])
@authz.roles_required("admin")
def create_version(agent_id: uuid.UUID):
    agent = _agent_or_404(agent_id)
    form = {key: request.form.get(key, "") for key in agent_versions.VERSION_FORM_FIELDS}
    try:
        version = agent_versions.create_version_from_form(
            db.session,
            agent,
            form,
            created_by_id=current_user.user.id,
            ip_address=request.remote_addr,
        )
    except FormInputError as refused:
        db.session.rollback()
        return _detail(agent, form=form, errors=refused.errors, status=400)
    db.session.commit()
    flash(
        f"Version {version.version_number} is saved. It is not in use yet: "
        "press \u201cUse this version\u201d when you are ready.",
        "success",
    )
    return redirect(url_for("agents.detail", agent_id=agent.id), 303)


@bp.route("/<uuid:agent_id>/versions/<uuid:version_id>/activate", methods=["POST"])
@authz.roles_required("admin")
def activate(agent_id: uuid.UUID, version_id: uuid.UUID):
    agent = _agent_or_404(agent_id)
    version = _version_or_404(agent, version_id)
    agent_versions.switch_to_version(
        db.session, version, actor_id=current_user.user.id, ip_address=request.remote_addr
    )
    db.session.commit()
    flash(
        f"Version {version.version_number} is now in use for new sessions. "
        "Sessions already started keep the version they started with.",
        "success",
    )
    return redirect(url_for("agents.detail", agent_id=agent.id), 303)


class _NotAVersion(ValueError):
    pass


def _version_arg(agent: Agent, name: str, default: AgentVersion | None) -> AgentVersion | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        version = db.session.get(AgentVersion, uuid.UUID(raw))
    except ValueError:
        version = None
    if version is None or version.agent_id != agent.id:
        raise _NotAVersion(
            f"The address asks for a version ({name}) that {agent.name} does not have. "
            "Choose two versions from the lists below."
        )
    return version


@bp.route("/<uuid:agent_id>/compare")
@authz.roles_required("admin")
def compare(agent_id: uuid.UUID):
    agent = _agent_or_404(agent_id)
    versions = agent_versions.versions_of(db.session, agent.id)
    active = next((v for v in versions if v.is_active), None)
    others = [v for v in versions if active is None or v.id != active.id]
    # By default: the version before beside the version in use.
    try:
        a = _version_arg(agent, "a", others[0] if others else None)
        b = _version_arg(agent, "b", active)
    except _NotAVersion as refused:
        return (
            render_template(
                "agents/compare.html",
                agent=agent,
                versions=versions,
                a=None,
                b=None,
                figures=[],
                error=str(refused),
            ),
            400,
        )
    chosen = [v for v in (a, b) if v is not None]
    figures = agent_comparison.compare_versions(db.session, chosen)
    return render_template(
        "agents/compare.html",
        agent=agent,
        versions=versions,
        a=a,
        b=b,
        figures=figures,
        error=None,
    )
