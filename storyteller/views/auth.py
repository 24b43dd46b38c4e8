"""Signing in and out, and changing one's password."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

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
from flask_login import current_user, login_required, login_user, logout_user

from storyteller import accounts
from storyteller.extensions import db

bp = Blueprint("auth", __name__)


def _rate_limit() -> accounts.RateLimit:
    cfg = current_app.config
    return accounts.RateLimit(
        attempts_per_account=cfg["LOGIN_RATE_LIMIT_ATTEMPTS"],
        attempts_per_address=cfg["LOGIN_RATE_LIMIT_PER_ADDRESS"],
        window=timedelta(seconds=cfg["LOGIN_RATE_LIMIT_WINDOW_SECONDS"]),
    )


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/sign-in", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    email = request.form.get("email", "").strip()
    if request.method == "GET":
        return render_template("auth/login.html", email=email)
    password = request.form.get("password", "")
    ip = request.remote_addr or "unknown"
    if not email or not password:
        return render_template(
            "auth/login.html", email=email, error="Please enter your email and password."
        ), 400
    if accounts.is_rate_limited(db.session, email=email, ip_address=ip, limit=_rate_limit()):
        minutes = max(1, current_app.config["LOGIN_RATE_LIMIT_WINDOW_SECONDS"] // 60)
        return render_template(
            "auth/login.html",
            email=email,
            code=429,
            error=(
                "Too many sign-in attempts. For your safety, please wait "
                f"{minutes} minutes and try again."
            ),
        ), 429
    user = accounts.authenticate(db.session, email=email, password=password, ip_address=ip)
    if user is None:
        db.session.commit()
        return render_template(
            "auth/login.html",
            email=email,
            error="That email and password do not match. Please check them and try again.",
        ), 401
    token = accounts.start_sign_in(
        db.session, user, ip_address=ip, user_agent=request.headers.get("User-Agent")
    )
    db.session.commit()
    session.clear()  # a fresh session at sign-in: nothing from before carries over
    login_user(accounts.SignedInUser(user, token))
    session.permanent = True
    return redirect(_safe_next(request.args.get("next")) or url_for("home.index"), code=303)


@bp.route("/sign-out", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        accounts.end_sign_in(db.session, current_user.token)
        db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out. See you next time.", "success")
    return redirect(url_for("auth.login"), code=303)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    if request.method == "GET":
        return render_template("auth/password.html")
    user = current_user.user
    new = request.form.get("new_password", "")
    if new != request.form.get("confirm_password", ""):
        return render_template("auth/password.html", error="The two new passwords differ."), 400
    try:
        accounts.change_password(
            db.session, user, current=request.form.get("current_password", ""), new=new
        )
    except accounts.AccountError as exc:
        db.session.rollback()
        return render_template("auth/password.html", error=str(exc)), 400
    token = accounts.start_sign_in(
        db.session,
        user,
        ip_address=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
    )
    db.session.commit()
    session.clear()
    login_user(accounts.SignedInUser(user, token))
    session.permanent = True
    flash("Your password has been changed. Other devices have been signed out.", "success")
    return redirect(url_for("home.index"), code=303)
