"""The storyteller's interview page: one question at a time, streamed as it is written."""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Callable, Iterator

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required

from storyteller import authz, interview, recordings
from storyteller.extensions import db
from storyteller.models import SessionInteraction
from storyteller.views.write_transactions import committed

bp = Blueprint("interview", __name__, url_prefix="/interview")

TURN_FAILED = (
    "Your answer is saved. The next question could not be prepared just now; "
    "press “Continue” to try again."
)


def _settings() -> interview.InterviewSettings:
    return interview.settings_from_config(current_app.config)


def _page_url(session_id: uuid.UUID) -> str:
    return url_for("interview.page", session_id=session_id)


@bp.route("/<uuid:session_id>")
@login_required
def page(session_id: uuid.UUID):
    user = current_user.user
    session = authz.conductable_session_or_404(db.session, user, session_id)
    snapshot = interview.load_snapshot(db.session, session, with_memories=False)
    waiting = snapshot.open_interaction
    draft = interview.draft_for(db.session, waiting) if waiting else None
    # A recording of this question left from before a reload: continue it, or check and send.
    recording = recordings.unfinished_for(db.session, waiting, user) if waiting else None
    progress = interview.evaluate_progress(interview.context_from(session, snapshot))
    history = [i for i in snapshot.interactions if i.response_method]
    return render_template(
        "interview/page.html",
        session=session,
        history=history,
        voice=recordings.sent_for(db.session, [i.id for i in history]),
        waiting=waiting,
        draft=draft,
        recording=recording,
        progress=progress,
        idempotency_key=uuid.uuid4().hex,
    )


def _act(
    session_id: uuid.UUID,
    operation: Callable[..., object],
    *,
    done: str | None = None,
    then: str | None = None,
    **kwargs: object,
):
    """Run one session operation for the signed-in user, commit, and go back to a page."""
    user = current_user.user
    session = authz.conductable_session_or_404(db.session, user, session_id)
    try:
        operation(db.session, session, user_id=user.id, **kwargs)
    except interview.InterviewError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(_page_url(session_id), code=303)
    db.session.commit()
    if done:
        flash(done, "success")
    return redirect(then or _page_url(session_id), code=303)


@bp.route("/<uuid:session_id>/start", methods=["POST"])
@login_required
def start(session_id: uuid.UUID):
    return _act(session_id, interview.start, settings=_settings())


def _interaction_from_form(session_id: uuid.UUID) -> SessionInteraction | None:
    try:
        interaction_id = uuid.UUID(request.form.get("interaction_id", ""))
    except ValueError:
        return None
    interaction = db.session.get(SessionInteraction, interaction_id)
    if interaction is None or interaction.session_id != session_id:
        return None
    return interaction


@bp.route("/<uuid:session_id>/draft", methods=["POST"])
@login_required
def save_draft(session_id: uuid.UUID):
    user = current_user.user
    authz.conductable_session_or_404(db.session, user, session_id)
    interaction = _interaction_from_form(session_id)
    if interaction is None:
        return render_template(
            "interview/_save_state.html", state="error", message="This question is no longer open."
        ), 404
    try:
        version = int(request.form.get("version", "0"))
    except ValueError:
        return render_template(
            "interview/_save_state.html",
            state="error",
            message="Not saved: the page is out of date. Please reload.",
        ), 400
    content, user_id, interaction_id = request.form.get("answer", ""), user.id, interaction.id

    def save():
        # Loaded again inside the write transaction: another request may have just changed it.
        current = db.session.get(SessionInteraction, interaction_id)
        return interview.save_draft(
            db.session, current, content=content, version=version, user_id=user_id
        )

    try:
        draft = committed(save, domain_errors=(interview.InterviewError,))
    except interview.StaleDraft as exc:
        return render_template(
            "interview/_save_state.html", state="stale", message=str(exc), version=exc.draft.version
        ), 409
    except interview.AlreadyAnswered as exc:
        return render_template("interview/_save_state.html", state="error", message=str(exc)), 409
    return render_template("interview/_save_state.html", state="saved", version=draft.version)


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


@bp.route("/<uuid:session_id>/answer", methods=["POST"])
@login_required
def answer(session_id: uuid.UUID):
    user = current_user.user
    session = authz.conductable_session_or_404(db.session, user, session_id)
    interaction = _interaction_from_form(session_id)
    if interaction is None:
        flash("That question is no longer open. Here is where you are now.", "info")
        return redirect(_page_url(session_id), code=303)
    method = "skip" if request.form.get("action") == "skip" else "text"
    key = (request.form.get("idempotency_key") or "")[:64] or None
    try:
        saved, created = interview.record_answer(
            db.session,
            session,
            interaction,
            text=request.form.get("answer", ""),
            method=method,
            idempotency_key=key,
            user_id=user.id,
        )
        recording_id = request.form.get("recording_id", "").strip()
        if created and method != "skip" and recording_id:
            # The (edited) transcript is the answer; the recording goes with it ("voice").
            recordings.attach_to_answer(db.session, recording_id, saved, user)
    except interview.AlreadyAnswered:
        db.session.rollback()
        flash("This question was already answered, perhaps in another window.", "info")
        return redirect(_page_url(session_id), code=303)
    except (interview.InterviewError, recordings.RecordingError) as exc:
        db.session.rollback()
        if method != "skip" and request.form.get("answer", "").strip():
            # Keep what they typed: it goes back into the box as the draft.
            interview.save_draft(
                db.session,
                interaction,
                content=request.form["answer"],
                version=1_000_000,
                user_id=user.id,
            )
            db.session.commit()
        flash(str(exc), "error")
        return redirect(_page_url(session_id), code=303)
    db.session.commit()  # the answer is safe before anything else happens
    if not created:
        return redirect(_page_url(session_id), code=303)
    if "text/event-stream" in request.headers.get("Accept", ""):
        return _stream_turn(session_id, saved.id, user.id)
    if not _turn(session_id, saved.id, user.id):
        flash(TURN_FAILED, "error")
    return redirect(_page_url(session_id), code=303)


def _turn(
    session_id: uuid.UUID, interaction_id: uuid.UUID, user_id: uuid.UUID, on_delta=None
) -> bool:
    session = db.session.get(interview.Session, session_id)
    interaction = db.session.get(SessionInteraction, interaction_id)
    try:
        interview.run_turn(
            db.session,
            session,
            interaction,
            user_id=user_id,
            settings=_settings(),
            on_delta=on_delta,
        )
        db.session.commit()
        return True
    except Exception as exc:  # noqa: BLE001 - the answer is saved; record and tell them
        db.session.rollback()
        current_app.logger.exception("Turn failed for session %s", session_id)
        session = db.session.get(interview.Session, session_id)
        interaction = db.session.get(SessionInteraction, interaction_id)
        interview.record_turn_failure(db.session, session, interaction, exc)
        db.session.commit()
        return False


def _stream_turn(session_id: uuid.UUID, interaction_id: uuid.UUID, user_id: uuid.UUID) -> Response:
    """Run the turn in a worker thread and send the question's words as they arrive."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    deltas: queue.Queue[str | None] = queue.Queue()
    outcome: dict[str, bool] = {}

    def work() -> None:
        with app.app_context():
            try:
                outcome["ok"] = _turn(session_id, interaction_id, user_id, on_delta=deltas.put)
            finally:
                deltas.put(None)

    def generate() -> Iterator[str]:
        yield _sse("saved", {"message": "Your answer is saved."})
        worker = threading.Thread(target=work, name="interview-turn", daemon=True)
        worker.start()
        while (delta := deltas.get()) is not None:
            yield _sse("delta", {"text": delta})
        worker.join()
        ok = outcome.get("ok", False)
        if not ok:
            flash(TURN_FAILED, "error")
        yield _sse("done", {"ok": ok, "url": _page_url(session_id)})

    response = Response(stream_with_context(generate()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


@bp.route("/<uuid:session_id>/pause", methods=["POST"])
@login_required
def pause(session_id: uuid.UUID):
    return _act(
        session_id,
        interview.pause,
        done="Paused. Everything is saved; press Continue whenever you are ready.",
        then=url_for("home.index"),
    )


@bp.route("/<uuid:session_id>/finish", methods=["POST"])
@login_required
def finish(session_id: uuid.UUID):
    return _act(session_id, interview.finish)


@bp.route("/<uuid:session_id>/rate", methods=["POST"])
@login_required
def rate(session_id: uuid.UUID):
    try:
        value = int(request.form.get("satisfaction", ""))
    except ValueError:
        value = 0  # interview.rate refuses it with a message
    return _act(
        session_id,
        interview.rate,
        satisfaction=value,
        done="Thank you for telling us how it went.",
    )
