"""Admin privacy tools: export everything about one storyteller, erase one storyteller."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from storyteller import audit, authz, personal_data
from storyteller.extensions import db
from storyteller.file_storage import LocalStorage
from storyteller.models import Storyteller
from storyteller.views.audit_trail import record_read
from storyteller.views.stored_files import send_stored_file

bp = Blueprint("privacy", __name__, url_prefix="/admin/privacy")


def _storyteller_or_404(storyteller_id: uuid.UUID) -> Storyteller:
    storyteller = db.session.get(Storyteller, storyteller_id)
    if storyteller is None:
        abort(404)
    return storyteller


@bp.get("/")
@authz.roles_required("admin")
def index():
    storytellers = db.session.scalars(select(Storyteller).order_by(Storyteller.display_name))
    return render_template("privacy/index.html", storytellers=list(storytellers))


@bp.get("/<uuid:storyteller_id>")
@authz.roles_required("admin")
def storyteller(storyteller_id: uuid.UUID):
    person = _storyteller_or_404(storyteller_id)
    counts = personal_data.row_counts(db.session, person.id)
    record_read("storyteller", storyteller_id=person.id, object_id=person.id)
    db.session.commit()
    return render_template("privacy/storyteller.html", storyteller=person, counts=counts)


@bp.get("/<uuid:storyteller_id>/export.zip")
@authz.roles_required("admin")
def export(storyteller_id: uuid.UUID):
    person = _storyteller_or_404(storyteller_id)
    folder = Path(tempfile.mkdtemp(prefix="storyteller-export-"))
    try:
        with (folder / "export.zip").open("wb") as archive:
            personal_data.export_storyteller(
                db.session, person.id, current_app.instance_path, out=archive
            )
        audit.record(
            db.session,
            actor_id=current_user.user.id,
            action="export",
            object_type="storyteller",
            object_id=person.id,
            storyteller_id=person.id,
            ip_address=request.remote_addr,
        )
        db.session.commit()
        response = send_stored_file(
            LocalStorage(folder),
            "export.zip",
            content_type="application/zip",
            download_name=f"storyteller-{person.id}.zip",
            max_age=0,
        )
    finally:
        # The response holds the open file; on POSIX it outlives its name.
        shutil.rmtree(folder, ignore_errors=True)
    response.cache_control.no_store = True
    return response


@bp.post("/<uuid:storyteller_id>/erase")
@authz.roles_required("admin")
def erase(storyteller_id: uuid.UUID):
    person = _storyteller_or_404(storyteller_id)
    typed = request.form.get("confirm_name", "")
    if typed.strip() != person.display_name.strip():
        error = (
            "The name typed is not the storyteller's name, so nothing was erased. "
            "To erase, type their name exactly as shown."
            if typed.strip()
            else "Type the storyteller's name to confirm. Nothing was erased."
        )
        return render_template("privacy/refused.html", error=error), 400
    erasure = personal_data.erase_storyteller(
        db.session, person.id, current_app.instance_path, current_user.user
    )
    rows = sum(erasure.counts.values())
    flash(
        f"Everything about the storyteller was erased: {rows} records and "
        f"{erasure.files_removed} files.",
        "success",
    )
    return redirect(url_for("privacy.index"), code=303)
