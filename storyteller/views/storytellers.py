"""A storyteller's page and a session's page, for everyone allowed to see them."""

from __future__ import annotations

import uuid

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from storyteller import audit, authz, story_pages
from storyteller.extensions import db

bp = Blueprint("storytellers", __name__)


@bp.route("/storytellers/<uuid:storyteller_id>")
@login_required
def show(storyteller_id: uuid.UUID):
    user = current_user.user
    storyteller = authz.storyteller_or_404(db.session, user, storyteller_id)
    page = story_pages.storyteller_page(db.session, storyteller)
    audit.record(
        db.session,
        actor_id=user.id,
        action="read",
        object_type="storyteller",
        object_id=storyteller.id,
        storyteller_id=storyteller.id,
        ip_address=request.remote_addr,
    )
    db.session.commit()
    return render_template("storytellers/show.html", page=page)


@bp.route("/sessions/<uuid:session_id>")
@login_required
def session_detail(session_id: uuid.UUID):
    user = current_user.user
    authz.session_or_404(db.session, user, session_id)
    session = story_pages.session_with_content(db.session, session_id)
    audit.record(
        db.session,
        actor_id=user.id,
        action="read",
        object_type="session",
        object_id=session_id,
        storyteller_id=session.storyteller_id,
        ip_address=request.remote_addr,
    )
    db.session.commit()
    return render_template(
        "storytellers/session.html",
        session=session,
        extras=story_pages.session_extras(db.session, session, user),
    )
