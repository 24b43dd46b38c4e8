"""Each role's home page, at one address."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from storyteller import role_homes
from storyteller.extensions import db

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    user = current_user.user
    if user.role == "storyteller":
        return render_template(
            "home/storyteller.html", sessions=role_homes.storyteller_sessions(db.session, user)
        )
    if user.role == "coordinator":
        return render_template(
            "home/coordinator.html", rows=role_homes.coordinator_storytellers(db.session, user)
        )
    if user.role == "reviewer":
        return render_template(
            "home/reviewer.html", queue=role_homes.review_queue(db.session, user)
        )
    return render_template("home/admin.html", overview=role_homes.system_overview(db.session))
