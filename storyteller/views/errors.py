"""Friendly error pages that leak nothing."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from storyteller.extensions import db

bp = Blueprint("errors", __name__)

MESSAGES = {
    400: ("Something in that request was not right", "Please go back and try again."),
    401: ("Please sign in", "You need to sign in to see this page."),
    403: ("This page is not for your account", "If you think you should see it, ask your admin."),
    404: ("We could not find that page", "It may have moved, or the address may be mistyped."),
    405: ("That did not work", "Please go back and use the buttons on the page."),
    413: ("That file is too large", "Please choose a smaller file."),
    429: ("Please wait a little", "There were too many attempts. Try again in a few minutes."),
    500: (
        "Something went wrong on our side",
        "Nothing you wrote has been lost. Please try again in a moment.",
    ),
}


def _render(code: int, detail: str | None = None):
    title, text = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    return render_template("errors/error.html", code=code, title=title, text=detail or text), code


@bp.app_errorhandler(CSRFError)
def csrf_error(error: CSRFError):
    return _render(
        400,
        "This page had been open for a while or your sign-in changed. "
        "Please reload the page and try again; nothing you typed has been sent yet.",
    )


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    code = error.code or 500
    if request.path.startswith("/static/"):
        return error
    return _render(code)


@bp.app_errorhandler(Exception)
def unhandled_error(error: Exception):
    db.session.rollback()
    from flask import current_app

    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    return _render(500)
