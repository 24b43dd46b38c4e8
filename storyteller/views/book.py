"""The book: chapters and their review, compiling, and the HTML preview of the approved book.

Everyone who may see the storyteller reads the chapters and the preview (the storyteller
too: it is their own story). Compiling, editing and deciding on chapters: reviewers,
coordinators and admins granted to the storyteller (storyteller/book.py can_manage); the
storyteller gets 403. Someone else's storyteller or chapter: 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from storyteller import authz, book, interview
from storyteller.book_content import UPLOADS_FOLDER, load_book
from storyteller.extensions import db
from storyteller.models import BookChapter, Storyteller
from storyteller.views.audit_trail import record_read

bp = Blueprint("book", __name__)


def _managed_chapter(chapter_id: uuid.UUID) -> BookChapter:
    user = current_user.user
    chapter = book.chapter_or_404(db.session, user, chapter_id)
    if not book.can_manage(db.session, user, chapter.storyteller_id):
        abort(403)
    return chapter


def _render_index(storyteller: Storyteller, errors: dict[str, str] | None = None, status=200):
    user = current_user.user
    chapters = book.chapters_of(db.session, storyteller)
    return render_template(
        "book/index.html",
        storyteller=storyteller,
        chapters=chapters,
        artifact_count=len(book.book_artifacts(db.session, storyteller)),
        approved_count=sum(1 for c in chapters if c.review_status == "approved"),
        can_manage=book.can_manage(db.session, user, storyteller.id),
        status_labels=book.STATUS_LABELS,
        errors=errors or {},
    ), status


@bp.route("/storytellers/<uuid:storyteller_id>/book")
@login_required
def index(storyteller_id: uuid.UUID):
    storyteller = authz.storyteller_or_404(db.session, current_user.user, storyteller_id)
    record_read("book", storyteller_id=storyteller.id, object_id=storyteller.id)
    db.session.commit()
    return _render_index(storyteller)


def _compile_message(result: book.CompileResult) -> str:
    parts = [
        f"{len(result.made)} chapter{'s' if len(result.made) != 1 else ''} drafted"
        + (f", {len(result.kept)} approved kept as they were" if result.kept else "")
        + "."
    ]
    if result.left_out:
        parts.append(
            f"{result.left_out} passage{'s' if result.left_out != 1 else ''} belong to an "
            "approved chapter and were left out; use “Recompile everything” to include them."
        )
    if result.llm_failures:
        parts.append(
            "The writing assistant could not write some chapters; they hold the storyteller’s "
            "own words instead."
        )
    return " ".join(parts)


@bp.route("/storytellers/<uuid:storyteller_id>/book/compile", methods=["POST"])
@login_required
def compile(storyteller_id: uuid.UUID):  # noqa: A001 - the endpoint's name
    user = current_user.user
    storyteller = authz.storyteller_or_404(db.session, user, storyteller_id)
    if not book.can_manage(db.session, user, storyteller.id):
        abort(403)
    scope = request.form.get("scope", "unapproved")
    if scope not in ("unapproved", "everything"):
        return _render_index(storyteller, {"scope": "Please choose what to compile."}, 400)
    everything = scope == "everything"
    if everything and request.form.get("confirm") != "yes":
        message = "Please tick the box to confirm that approved chapters will be replaced too."
        return _render_index(storyteller, {"confirm": message}, 400)
    result = book.compile_book(
        db.session,
        storyteller,
        actor_id=user.id,
        settings=interview.settings_from_config(current_app.config),
        everything=everything,
        ip_address=request.remote_addr,
    )
    db.session.commit()
    flash(_compile_message(result), "success")
    return redirect(url_for("book.index", storyteller_id=storyteller.id), 303)


def _render_chapter(chapter: BookChapter, errors: dict[str, str] | None = None, values=None):
    user = current_user.user
    storyteller = db.session.get(Storyteller, chapter.storyteller_id)
    return render_template(
        "book/chapter.html",
        storyteller=storyteller,
        chapter=chapter,
        sources=book.sources_of(db.session, chapter),
        revisions=book.revisions_of(db.session, chapter),
        can_manage=book.can_manage(db.session, user, chapter.storyteller_id),
        status_labels=book.STATUS_LABELS,
        decisions=book.DECISIONS,
        errors=errors or {},
        values=values or {},
    ), (400 if errors else 200)


@bp.route("/chapters/<uuid:chapter_id>")
@login_required
def chapter(chapter_id: uuid.UUID):
    found = book.chapter_or_404(db.session, current_user.user, chapter_id)
    record_read("book_chapter", storyteller_id=found.storyteller_id, object_id=found.id)
    db.session.commit()
    return _render_chapter(found)


def _render_edit(chapter: BookChapter, values: dict[str, Any], errors=None, status=200):
    storyteller = db.session.get(Storyteller, chapter.storyteller_id)
    return render_template(
        "book/edit.html",
        storyteller=storyteller,
        chapter=chapter,
        values=values,
        errors=errors or {},
    ), status


@bp.route("/chapters/<uuid:chapter_id>/edit", methods=["GET", "POST"])
@login_required
def edit_chapter(chapter_id: uuid.UUID):
    chapter = _managed_chapter(chapter_id)
    paragraphs = list(chapter.paragraphs or [])
    if request.method == "GET":
        values = {"title": chapter.title, "texts": [p.get("text", "") for p in paragraphs]}
        return _render_edit(chapter, values)
    texts = [request.form.get(f"paragraph_{n}", "") for n in range(len(paragraphs))]
    values = {"title": request.form.get("title", ""), "texts": texts}
    try:
        changed = book.edit_chapter(
            db.session,
            chapter,
            title=values["title"],
            texts=texts,
            actor_id=current_user.user.id,
            reason=request.form.get("reason") or None,
            ip_address=request.remote_addr,
        )
    except book.BookInputError as exc:
        db.session.rollback()
        chapter = db.session.get(BookChapter, chapter_id)
        return _render_edit(chapter, values, exc.errors, 400)
    db.session.commit()
    flash("Your changes are saved." if changed else "Nothing was changed.", "success")
    return redirect(url_for("book.chapter", chapter_id=chapter.id), 303)


@bp.route("/chapters/<uuid:chapter_id>/decision", methods=["POST"])
@login_required
def decide_chapter(chapter_id: uuid.UUID):
    chapter = _managed_chapter(chapter_id)
    values = {
        "decision": request.form.get("decision", ""),
        "comment": request.form.get("comment", ""),
    }
    try:
        book.decide_chapter(
            db.session,
            chapter,
            decision=values["decision"],
            comment=values["comment"],
            actor_id=current_user.user.id,
            ip_address=request.remote_addr,
        )
    except book.BookInputError as exc:
        db.session.rollback()
        chapter = db.session.get(BookChapter, chapter_id)
        return _render_chapter(chapter, exc.errors, values)
    db.session.commit()
    flash(f"Chapter “{chapter.title}”: {book.STATUS_LABELS[chapter.review_status]}.", "success")
    return redirect(url_for("book.chapter", chapter_id=chapter.id), 303)


@bp.route("/chapters/<uuid:chapter_id>/diff")
@login_required
def chapter_diff(chapter_id: uuid.UUID):
    chapter = book.chapter_or_404(db.session, current_user.user, chapter_id)
    storyteller = db.session.get(Storyteller, chapter.storyteller_id)
    revisions = book.revisions_of(db.session, chapter)
    values = {"from": request.args.get("from", ""), "to": request.args.get("to", "")}
    errors: dict[str, str] = {}
    diff = None
    try:
        diff = book.revision_diff(db.session, chapter, values["from"], values["to"])
    except book.BookInputError as exc:
        errors = exc.errors
    record_read("book_chapter", storyteller_id=chapter.storyteller_id, object_id=chapter.id)
    db.session.commit()
    return render_template(
        "book/diff.html",
        storyteller=storyteller,
        chapter=chapter,
        revisions=revisions,
        diff=diff,
        values=values,
        errors=errors,
    ), (400 if errors else 200)


@bp.route("/storytellers/<uuid:storyteller_id>/book/preview")
@login_required
def preview(storyteller_id: uuid.UUID):
    storyteller = authz.storyteller_or_404(db.session, current_user.user, storyteller_id)
    the_book = load_book(db.session, storyteller, current_app.instance_path)
    root = (Path(current_app.instance_path) / UPLOADS_FOLDER).resolve()
    by_key = {
        str((root / key).resolve()): doc_id
        for key, doc_id in book.photo_documents(db.session, storyteller).items()
    }
    photo_urls = {
        str(photo.path): url_for("book.photo", document_id=by_key[str(photo.path)])
        for photo in the_book.photos
        if str(photo.path) in by_key
    }
    record_read("book_preview", storyteller_id=storyteller.id, object_id=storyteller.id)
    db.session.commit()
    return render_template(
        "book/preview.html", storyteller=storyteller, book=the_book, photo_urls=photo_urls
    )


def _chunks(path: Path, size: int = 64 * 1024) -> Iterator[bytes]:
    """The file in pieces; it is opened only when the body is read, and always closed."""
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


@bp.route("/book-photos/<uuid:document_id>")
@login_required
def photo(document_id: uuid.UUID):
    document = book.photo_document_or_404(db.session, current_user.user, document_id)
    path = book.photo_path(document, current_app.instance_path)
    if path is None:
        abort(404)
    response = Response(
        _chunks(path),
        mimetype=document.content_type or "application/octet-stream",
    )
    response.headers["Content-Length"] = str(path.stat().st_size)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
