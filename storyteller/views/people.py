"""Storytellers and the people around them: adding and editing, consent, access, invitations."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user

from storyteller import accounts, authz, consent, invitations, local_time, roster
from storyteller.extensions import db
from storyteller.models import Storyteller
from storyteller.views.audit_trail import record_read

bp = Blueprint("people", __name__)

MAX_TOKEN_LENGTH = 200


def _ip() -> str | None:
    return request.remote_addr


def _show(storyteller_id: uuid.UUID):
    return redirect(url_for("storytellers.show", storyteller_id=storyteller_id), code=303)


def _details_form(
    template: str,
    *,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    status: int = 200,
    **context: object,
):
    return render_template(
        template,
        values=values,
        errors=errors or {},
        time_zones=roster.COMMON_TIME_ZONES,
        languages=roster.LANGUAGES,
        **context,
    ), status


def _values_of(storyteller: Storyteller) -> dict[str, str]:
    return {
        "display_name": storyteller.display_name,
        "birth_year": str(storyteller.birth_year or ""),
        "preferred_language": storyteller.preferred_language,
        "time_zone": storyteller.time_zone,
        "contact_email": storyteller.contact_email or "",
    }


# ------------------------------------------------------------------------- add and edit


@bp.route("/storytellers/new", methods=["GET", "POST"])
@authz.roles_required(*roster.MANAGER_ROLES)
def new_storyteller():
    template = "people/new.html"
    if request.method == "GET":
        return _details_form(template, values={"time_zone": "UTC", "preferred_language": "en"})
    form = request.form
    with_sign_in = form.get("with_sign_in") == "yes"
    try:
        storyteller = roster.add_storyteller(
            db.session,
            form,
            created_by=current_user.user,
            with_sign_in=with_sign_in,
            invitation_settings=invitations.settings_from_config(current_app.config),
            ip_address=_ip(),
        )
    except roster.RosterError as refused:
        db.session.rollback()
        return _details_form(template, values=form, errors=refused.errors, status=400)
    db.session.commit()
    if with_sign_in:
        flash(
            f"{storyteller.display_name} has been added. We emailed them a link to choose "
            "their password.",
            "success",
        )
    else:
        flash(f"{storyteller.display_name} has been added.", "success")
    return _show(storyteller.id)


@bp.route("/storytellers/<uuid:storyteller_id>/edit", methods=["GET", "POST"])
@login_required
def edit_storyteller(storyteller_id: uuid.UUID):
    user = current_user.user
    storyteller = roster.managed_storyteller_or_404(db.session, user, storyteller_id)
    template = "people/edit.html"
    if request.method == "GET":
        return _details_form(template, values=_values_of(storyteller), storyteller=storyteller)
    try:
        details = roster.validate_details(request.form)
        roster.update_storyteller(
            db.session, storyteller, details, updated_by=user, ip_address=_ip()
        )
    except roster.RosterError as refused:
        db.session.rollback()
        return _details_form(
            template,
            values=request.form,
            errors=refused.errors,
            status=400,
            storyteller=storyteller,
        )
    db.session.commit()
    flash("The changes are saved.", "success")
    return _show(storyteller.id)


# ------------------------------------------------------------------------------ consent


def _consent_page(
    storyteller: Storyteller,
    *,
    values: Mapping[str, object] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
):
    return render_template(
        "people/consent.html",
        storyteller=storyteller,
        in_force=consent.consent_in_force(db.session, storyteller),
        history=consent.consent_history(db.session, storyteller),
        scope_labels=consent.SCOPE_LABELS,
        topic_labels=consent.TOPIC_LABELS,
        methods=METHOD_LABELS,
        values=values or {"scope": [consent.REQUIRED_SCOPE], "method": "in_person"},
        errors=errors or {},
    ), status


METHOD_LABELS = {
    "in_person": "In person, face to face",
    "written": "In writing, on paper",
    "online": "Online, by the storyteller themselves",
    "verbal": "Spoken, over the phone or a call",
}


@bp.route(
    "/storytellers/<uuid:storyteller_id>/consent", methods=["GET", "POST"], endpoint="consent"
)
@login_required
def consent_page(storyteller_id: uuid.UUID):
    user = current_user.user
    storyteller = roster.managed_storyteller_or_404(db.session, user, storyteller_id)
    if request.method == "GET":
        record_read("consent_record", storyteller_id=storyteller.id)
        db.session.commit()
        return _consent_page(storyteller)
    form = request.form
    values = {
        "scope": form.getlist("scope"),
        "sensitive_topics": form.getlist("sensitive_topics"),
        "method": form.get("method", ""),
        "agreed_at": form.get("agreed_at", ""),
        "note": form.get("note", ""),
    }
    try:
        agreed_at = local_time.parse_local_input(values["agreed_at"], storyteller.time_zone)
        consent.record_consent(
            db.session,
            storyteller,
            scope=values["scope"],
            sensitive_topics=values["sensitive_topics"],
            method=values["method"],
            recorded_by_id=user.id,
            agreed_at=agreed_at,
            note=values["note"],
            ip_address=_ip(),
        )
    except local_time.TimeInputError as refused:
        db.session.rollback()
        return _consent_page(
            storyteller, values=values, errors={"agreed_at": str(refused)}, status=400
        )
    except consent.ConsentError as refused:
        db.session.rollback()
        return _consent_page(
            storyteller, values=values, errors={refused.field: refused.message}, status=400
        )
    db.session.commit()
    flash(f"{storyteller.display_name}'s consent is recorded.", "success")
    return redirect(url_for("people.consent", storyteller_id=storyteller.id), code=303)


@bp.route("/storytellers/<uuid:storyteller_id>/consent/withdraw", methods=["POST"])
@login_required
def withdraw_consent(storyteller_id: uuid.UUID):
    user = current_user.user
    storyteller = roster.managed_storyteller_or_404(db.session, user, storyteller_id)
    withdrawn = consent.withdraw_consent(
        db.session, storyteller, withdrawn_by_id=user.id, ip_address=_ip()
    )
    db.session.commit()
    if withdrawn is None:
        flash("There was no consent in force to withdraw.", "info")
    else:
        flash(
            f"{storyteller.display_name}'s consent is withdrawn. No session can start until "
            "consent is recorded again.",
            "success",
        )
    return redirect(url_for("people.consent", storyteller_id=storyteller.id), code=303)


# ------------------------------------------------------------------ access and sign-in


def _access_page(
    storyteller: Storyteller,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
):
    return render_template(
        "people/access.html",
        storyteller=storyteller,
        rows=roster.access_list(db.session, storyteller),
        invitations=invitations.invitations_of(db.session, storyteller.id),
        status_of=invitations.status_of,
        values=values or {"access_level": "coordinator"},
        errors=errors or {},
    ), status


@bp.route("/storytellers/<uuid:storyteller_id>/access", methods=["GET", "POST"])
@login_required
def access(storyteller_id: uuid.UUID):
    user = current_user.user
    storyteller = roster.managed_storyteller_or_404(db.session, user, storyteller_id)
    if request.method == "GET":
        record_read("storyteller_access", storyteller_id=storyteller.id)
        db.session.commit()
        return _access_page(storyteller)
    values = {
        "email": request.form.get("email", ""),
        "access_level": request.form.get("access_level", ""),
    }
    try:
        granted = roster.grant_access(
            db.session,
            storyteller,
            email=values["email"],
            level=values["access_level"],
            granted_by=user,
            ip_address=_ip(),
        )
    except roster.RosterError as refused:
        db.session.rollback()
        return _access_page(storyteller, values=values, errors=refused.errors, status=400)
    db.session.commit()
    flash(
        f"{granted.user.name} can now see {storyteller.display_name}'s story "
        f"as {granted.access_level}.",
        "success",
    )
    return redirect(url_for("people.access", storyteller_id=storyteller.id), code=303)


@bp.route("/storytellers/<uuid:storyteller_id>/access/<uuid:access_id>/revoke", methods=["POST"])
@login_required
def revoke_access(storyteller_id: uuid.UUID, access_id: uuid.UUID):
    user = current_user.user
    storyteller = roster.managed_storyteller_or_404(db.session, user, storyteller_id)
    grant = roster.access_or_404(db.session, storyteller, access_id)
    name = grant.user.name
    roster.revoke_access(db.session, storyteller, grant, revoked_by=user, ip_address=_ip())
    db.session.commit()
    flash(f"{name} can no longer see {storyteller.display_name}'s story.", "success")
    if not authz.can_see_storyteller(db.session, user, storyteller.id):
        return redirect(url_for("home.index"), code=303)
    return redirect(url_for("people.access", storyteller_id=storyteller.id), code=303)


@bp.route("/storytellers/<uuid:storyteller_id>/invite", methods=["POST"])
@login_required
def invite(storyteller_id: uuid.UUID):
    user = current_user.user
    storyteller = roster.managed_storyteller_or_404(db.session, user, storyteller_id)
    email = request.form.get("email", "")
    try:
        invitation, _ = invitations.send_invitation(
            db.session,
            storyteller,
            invited_by=user,
            settings=invitations.settings_from_config(current_app.config),
            email=email,
            ip_address=_ip(),
        )
    except invitations.InvitationError as refused:
        db.session.rollback()
        return _access_page(
            storyteller,
            values={"invite_email": email, "access_level": "coordinator"},
            errors={"invite_email": refused.message},
            status=400,
        )
    db.session.commit()
    flash(
        f"We emailed a new sign-in link to {invitation.email}. Any earlier link no longer works.",
        "success",
    )
    return redirect(url_for("people.access", storyteller_id=storyteller.id), code=303)


# -------------------------------------------------------------- accepting an invitation


def _gone(reason: str, code: int):
    return render_template("people/invitation_gone.html", reason=reason, code=code), code


def _choose_password(token: str, *, error: dict[str, str] | None = None, status: int = 200):
    """The form, or the "ask for a new link" page when the link cannot be used any more."""
    if len(token) > MAX_TOKEN_LENGTH:
        return _gone("unknown", 404)
    try:
        invitation = invitations.invitation_for_token(db.session, token)
    except invitations.InvitationNotFound:
        return _gone("unknown", 404)
    except invitations.InvitationGone as gone:
        return _gone(gone.reason, 410)
    return render_template(
        "people/accept_invitation.html",
        invitation=invitation,
        errors=error or {},
        min_length=accounts.MIN_PASSWORD_LENGTH,
    ), status


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    if request.method == "GET":
        return _choose_password(token)
    if len(token) > MAX_TOKEN_LENGTH:
        return _gone("unknown", 404)
    try:
        user = invitations.accept_invitation(
            db.session,
            token,
            password=request.form.get("password", ""),
            confirm=request.form.get("confirm_password", ""),
            ip_address=_ip(),
        )
    except invitations.InvitationError as refused:
        db.session.rollback()
        return _choose_password(token, error={refused.field: refused.message}, status=400)
    except invitations.InvitationNotFound:
        db.session.rollback()
        return _gone("unknown", 404)
    except invitations.InvitationGone as gone:
        db.session.rollback()
        return _gone(gone.reason, 410)
    if current_user.is_authenticated:  # someone else was signed in on this browser
        accounts.end_sign_in(db.session, current_user.token)
    sign_in_token = accounts.start_sign_in(
        db.session, user, ip_address=_ip(), user_agent=request.headers.get("User-Agent")
    )
    db.session.commit()
    session.clear()
    login_user(accounts.SignedInUser(user, sign_in_token))
    session.permanent = True
    flash(f"Welcome, {user.name}. Your password is set and you are signed in.", "success")
    return redirect(url_for("home.index"), code=303)
