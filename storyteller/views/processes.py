"""Interview processes and session templates, for coordinators and admins.

Thin views: parse the form, call storyteller/processes.py or storyteller/session_templates.py,
commit, redirect (303) or re-render the form with status 400 and the messages by the fields.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from storyteller import authz, processes, session_templates
from storyteller.extensions import db
from storyteller.models import ProcessVersion, SessionTemplate
from storyteller.processes import NodeFields, ProcessInputError, VersionFields
from storyteller.session_templates import TemplateFields, TemplateInputError

bp = Blueprint("processes", __name__)

MANAGERS = ("coordinator", "admin")
BUILTIN_PROCESS = (
    "The built-in process cannot be changed. Press “Make a new version” to get a copy you can "
    "change."
)
BUILTIN_TEMPLATE = (
    "Built-in templates cannot be changed. Press “Copy and edit” to make your own version."
)


def _user_id() -> uuid.UUID:
    return current_user.user.id


SCHEDULE_ENDPOINT = "scheduling.new_session"
SCHEDULE_LINKS_MAX = 6


def _schedule_for() -> dict:
    """Storytellers this user may schedule for, for "Schedule with this" links (at most a
    few; with more, the page points to the storytellers' own pages instead)."""
    if SCHEDULE_ENDPOINT not in current_app.view_functions:
        return {"endpoint": None, "storytellers": [], "more": False}
    found = list(
        db.session.scalars(
            authz.visible_storytellers(current_user.user).limit(SCHEDULE_LINKS_MAX + 1)
        )
    )
    return {
        "endpoint": SCHEDULE_ENDPOINT,
        "storytellers": found[:SCHEDULE_LINKS_MAX],
        "more": len(found) > SCHEDULE_LINKS_MAX,
    }


def _show_url(version_id: uuid.UUID, anchor: str | None = None) -> str:
    return url_for("processes.show", process_id=version_id, _anchor=anchor)


# --------------------------------------------------------------------------- processes


@bp.route("/processes")
@authz.roles_required(*MANAGERS)
def index():
    return render_template("processes/index.html", versions=processes.list_versions(db.session))


def _render_show(version: ProcessVersion, *, error: str | None = None, status: int = 200):
    active = list(db.session.scalars(session_templates.active_templates()))
    templates = {
        str(node.id): [t for t in active if str(node.id) in (t.suggested_for_process_nodes or [])]
        for node in version.nodes
    }
    return render_template(
        "processes/show.html",
        version=version,
        error=error,
        templates_by_node=templates,
        periods=processes.LIFE_PERIOD_LABELS,
        schedule=_schedule_for(),
    ), status


@bp.route("/processes/<uuid:process_id>")
@authz.roles_required(*MANAGERS)
def show(process_id: uuid.UUID):
    return _render_show(processes.version_or_404(db.session, process_id))


@bp.route("/processes/<uuid:process_id>/copy", methods=["POST"])
@authz.roles_required(*MANAGERS)
def new_version(process_id: uuid.UUID):
    source = processes.version_or_404(db.session, process_id)
    copy = processes.copy_version(db.session, source, user_id=_user_id())
    db.session.commit()
    flash(
        f"Version {copy.version_number} of “{copy.name}” is ready for your changes. "
        "It is not in use until you press “Use this process”.",
        "success",
    )
    return redirect(_show_url(copy.id), code=303)


@bp.route("/processes/<uuid:process_id>/edit", methods=["GET", "POST"])
@authz.roles_required(*MANAGERS)
def edit(process_id: uuid.UUID):
    version = processes.version_or_404(db.session, process_id)
    if version.is_builtin:
        return _locked_process(version)
    if request.method == "GET":
        fields = VersionFields(version.name, version.version_number, version.description or "")
        return render_template("processes/edit.html", version=version, fields=fields, errors={})
    fields = VersionFields(
        name=request.form.get("name", ""),
        version_number=request.form.get("version_number", ""),
        description=request.form.get("description", ""),
    )
    try:
        processes.update_version(db.session, version, fields, user_id=_user_id())
    except ProcessInputError as exc:
        db.session.rollback()
        version = processes.version_or_404(db.session, process_id)
        return render_template(
            "processes/edit.html", version=version, fields=fields, errors=exc.errors
        ), 400
    db.session.commit()
    flash("The process is saved.", "success")
    return redirect(_show_url(version.id), code=303)


def _locked_process(version: ProcessVersion):
    if request.method == "GET":
        flash(BUILTIN_PROCESS, "info")
        return redirect(_show_url(version.id))
    return _render_show(version, error=BUILTIN_PROCESS, status=400)


@bp.route("/processes/<uuid:process_id>/activate", methods=["POST"])
@authz.roles_required(*MANAGERS)
def activate(process_id: uuid.UUID):
    version = processes.version_or_404(db.session, process_id)
    try:
        processes.activate(db.session, version, user_id=_user_id())
        db.session.commit()
    except ProcessInputError as exc:
        db.session.rollback()
        return _render_show(
            processes.version_or_404(db.session, process_id), error=exc.message, status=400
        )
    except IntegrityError:
        db.session.rollback()
        return _render_show(
            processes.version_or_404(db.session, process_id),
            error="Someone else changed the process in use at the same moment. Please try again.",
            status=409,
        )
    flash(
        f"“{version.name}” version {version.version_number} is now the process in use.", "success"
    )
    return redirect(_show_url(version.id), code=303)


def _node_fields_from_form() -> NodeFields:
    return NodeFields(
        node_name=request.form.get("node_name", ""),
        agent_objective=request.form.get("agent_objective", ""),
        agent_constraints=request.form.get("agent_constraints", ""),
        user_facing_text=request.form.get("user_facing_text", ""),
        life_period=request.form.get("life_period", ""),
        suggested_event_types=request.form.get("suggested_event_types", ""),
    )


def _node_form(version: ProcessVersion, fields: NodeFields, errors: dict, node=None, status=200):
    return render_template(
        "processes/node_form.html",
        version=version,
        node=node,
        fields=fields,
        errors=errors,
        periods=processes.LIFE_PERIOD_LABELS,
    ), status


@bp.route("/processes/<uuid:process_id>/nodes/new", methods=["GET", "POST"])
@authz.roles_required(*MANAGERS)
def new_node(process_id: uuid.UUID):
    version = processes.version_or_404(db.session, process_id)
    if version.is_builtin:
        return _locked_process(version)
    if request.method == "GET":
        return _node_form(version, NodeFields(), {})
    fields = _node_fields_from_form()
    try:
        node = processes.add_node(db.session, version, fields, user_id=_user_id())
    except ProcessInputError as exc:
        db.session.rollback()
        version = processes.version_or_404(db.session, process_id)
        return _node_form(version, fields, exc.errors, status=400)
    db.session.commit()
    flash(f"The step “{node.node_name}” is added.", "success")
    return redirect(_show_url(version.id, f"node-{node.id}"), code=303)


@bp.route("/process-nodes/<uuid:node_id>/edit", methods=["GET", "POST"])
@authz.roles_required(*MANAGERS)
def edit_node(node_id: uuid.UUID):
    node = processes.node_or_404(db.session, node_id)
    version = node.process_version
    if version.is_builtin:
        return _locked_process(version)
    if request.method == "GET":
        return _node_form(version, NodeFields.of(node), {}, node=node)
    fields = _node_fields_from_form()
    try:
        processes.update_node(db.session, node, fields, user_id=_user_id())
    except ProcessInputError as exc:
        db.session.rollback()
        node = processes.node_or_404(db.session, node_id)
        return _node_form(node.process_version, fields, exc.errors, node=node, status=400)
    db.session.commit()
    flash(f"The step “{node.node_name}” is saved.", "success")
    return redirect(_show_url(version.id, f"node-{node.id}"), code=303)


@bp.route("/process-nodes/<uuid:node_id>/move", methods=["POST"])
@authz.roles_required(*MANAGERS)
def move_node(node_id: uuid.UUID):
    node = processes.node_or_404(db.session, node_id)
    version_id = node.process_version_id
    try:
        processes.move_node(db.session, node, request.form.get("direction", ""), user_id=_user_id())
    except ProcessInputError as exc:
        db.session.rollback()
        return _render_show(
            processes.version_or_404(db.session, version_id), error=exc.message, status=400
        )
    db.session.commit()
    return redirect(_show_url(version_id, f"node-{node_id}"), code=303)


@bp.route("/process-nodes/<uuid:node_id>/delete", methods=["POST"])
@authz.roles_required(*MANAGERS)
def delete_node(node_id: uuid.UUID):
    node = processes.node_or_404(db.session, node_id)
    version_id, name = node.process_version_id, node.node_name
    try:
        processes.delete_node(db.session, node, user_id=_user_id())
    except ProcessInputError as exc:
        db.session.rollback()
        return _render_show(
            processes.version_or_404(db.session, version_id), error=exc.message, status=400
        )
    db.session.commit()
    flash(f"The step “{name}” is deleted.", "success")
    return redirect(_show_url(version_id), code=303)


# --------------------------------------------------------------------------- templates


def _templates_url(template_id: uuid.UUID | None = None) -> str:
    return url_for(
        "processes.templates", _anchor=f"template-{template_id}" if template_id else None
    )


def _render_templates(*, error: str | None = None, status: int = 200):
    in_use, retired = session_templates.list_templates(db.session)
    return render_template(
        "processes/templates.html",
        in_use=in_use,
        retired=retired,
        error=error,
        node_names=session_templates.node_names(db.session, in_use + retired),
        schedule=_schedule_for(),
    ), status


@bp.route("/templates")
@authz.roles_required(*MANAGERS)
def templates():
    return _render_templates()


def _template_fields_from_form() -> TemplateFields:
    form = request.form
    return TemplateFields(
        template_name=form.get("template_name", ""),
        template_description=form.get("template_description", ""),
        suggested_for_event_types=form.get("suggested_for_event_types", ""),
        suggested_for_process_nodes=form.getlist("suggested_for_process_nodes"),
        default_intention=form.get("default_intention", ""),
        default_success_indicators=form.get("default_success_indicators", ""),
        default_completion_indicators=form.get("default_completion_indicators", ""),
        default_constraints=form.get("default_constraints", ""),
        default_procedure_notes=form.get("default_procedure_notes", ""),
        default_duration_minutes=form.get("default_duration_minutes", ""),
        wants_photos=form.get("wants_photos") in ("1", "on", "yes", "true"),
    )


def _template_form(
    fields: TemplateFields, errors: dict, template: SessionTemplate | None = None, status=200
):
    return render_template(
        "processes/template_form.html",
        template=template,
        fields=fields,
        errors=errors,
        node_choices=session_templates.node_choices(db.session, fields.suggested_for_process_nodes),
        duration_min=session_templates.DURATION_MIN,
        duration_max=session_templates.DURATION_MAX,
    ), status


@bp.route("/templates/new", methods=["GET", "POST"])
@authz.roles_required(*MANAGERS)
def new_template():
    if request.method == "GET":
        return _template_form(TemplateFields(), {})
    fields = _template_fields_from_form()
    try:
        template = session_templates.create_template(db.session, fields, user_id=_user_id())
    except TemplateInputError as exc:
        db.session.rollback()
        return _template_form(fields, exc.errors, status=400)
    db.session.commit()
    flash(f"The template “{template.template_name}” is saved.", "success")
    return redirect(_templates_url(template.id), code=303)


@bp.route("/templates/<uuid:template_id>/edit", methods=["GET", "POST"])
@authz.roles_required(*MANAGERS)
def edit_template(template_id: uuid.UUID):
    template = session_templates.template_or_404(db.session, template_id)
    if template.is_builtin:
        if request.method == "GET":
            flash(BUILTIN_TEMPLATE, "info")
            return redirect(_templates_url(template.id))
        return _render_templates(error=BUILTIN_TEMPLATE, status=400)
    if request.method == "GET":
        return _template_form(TemplateFields.of(template), {}, template=template)
    fields = _template_fields_from_form()
    try:
        session_templates.update_template(db.session, template, fields, user_id=_user_id())
    except TemplateInputError as exc:
        db.session.rollback()
        template = session_templates.template_or_404(db.session, template_id)
        return _template_form(fields, exc.errors, template=template, status=400)
    db.session.commit()
    flash(f"The template “{template.template_name}” is saved.", "success")
    return redirect(_templates_url(template.id), code=303)


@bp.route("/templates/<uuid:template_id>/copy", methods=["POST"])
@authz.roles_required(*MANAGERS)
def copy_template(template_id: uuid.UUID):
    source = session_templates.template_or_404(db.session, template_id)
    copy = session_templates.copy_template(db.session, source, user_id=_user_id())
    db.session.commit()
    flash("This is your own copy. Change what you like and press “Save template”.", "success")
    return redirect(url_for("processes.edit_template", template_id=copy.id), code=303)


@bp.route("/templates/<uuid:template_id>/retire", methods=["POST"])
@authz.roles_required(*MANAGERS)
def retire_template(template_id: uuid.UUID):
    template = session_templates.template_or_404(db.session, template_id)
    session_templates.retire_template(db.session, template, user_id=_user_id())
    db.session.commit()
    flash(
        f"“{template.template_name}” is retired: it is no longer offered when scheduling. "
        "You can restore it from the list of retired templates.",
        "success",
    )
    return redirect(_templates_url(template.id), code=303)


@bp.route("/templates/<uuid:template_id>/restore", methods=["POST"])
@authz.roles_required(*MANAGERS)
def restore_template(template_id: uuid.UUID):
    template = session_templates.template_or_404(db.session, template_id)
    session_templates.restore_template(db.session, template, user_id=_user_id())
    db.session.commit()
    flash(f"“{template.template_name}” is back in use.", "success")
    return redirect(_templates_url(template.id), code=303)
