"""Export and erasure of one storyteller, over data in every table (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storyteller import file_storage, personal_data
from storyteller.models import AuditLog, Base, ExportJob
from tests.personal_data_fill import fill_storyteller, shared_rows


def test_every_table_is_classified():
    assert personal_data.unclassified_tables() == []
    assert set(personal_data.REGISTRY) == set(Base.metadata.tables)


@pytest.fixture
def two_storytellers(app, db_session):
    shared = shared_rows(db_session)
    a, a_ids, a_keys = fill_storyteller(db_session, shared, "Agatha Applewood", app.instance_path)
    b, b_ids, b_keys = fill_storyteller(db_session, shared, "Bertram Birchall", app.instance_path)
    personal = set(personal_data.personal_tables())
    assert set(a_ids) == personal, f"fill misses {personal - set(a_ids)}"
    assert set(b_ids) == personal
    db_session.commit()
    return shared, (a, a_ids, a_keys), (b, b_ids, b_keys)


def _counts(db, tables):
    return {
        name: db.scalar(select(func.count()).select_from(Base.metadata.tables[name]))
        for name in tables
    }


def test_export_has_all_their_rows_and_none_of_anyone_elses(app, db_session, two_storytellers):
    _, (a, a_ids, a_keys), (b, b_ids, _) = two_storytellers
    assert personal_data.row_counts(db_session, a.id) == {t: len(i) for t, i in a_ids.items()}
    with personal_data.export_storyteller(db_session, a.id, app.instance_path) as out:
        _check_export(zipfile.ZipFile(out), app, a, a_ids, a_keys, b, b_ids)


def _check_export(archive, app, a, a_ids, a_keys, b, b_ids):
    names = set(archive.namelist())
    for table in personal_data.personal_tables():
        rows = json.loads(archive.read(f"tables/{table}.json"))
        exported = {row["id"] for row in rows}
        assert exported == {str(i) for i in a_ids[table]}, table
        assert not exported & {str(i) for i in b_ids[table]}, table
    for key in a_keys:
        assert f"files/{key}" in names
        assert archive.read(f"files/{key}") == file_storage.storage_for(app.instance_path).read(key)
    assert any(n.startswith("files/exports/") and n.endswith("book.pdf") for n in names)
    assert "Bertram" not in " ".join(names)
    assert archive.getinfo("tables/user.json").compress_type == zipfile.ZIP_DEFLATED
    users = json.loads(archive.read("tables/user.json"))
    assert users[0]["password_hash"] is None and users[0]["email"].startswith("agatha-")
    readme = archive.read("README.txt").decode()
    assert "Agatha Applewood" in readme and str(a.id) in readme
    everything = b"".join(archive.read(n) for n in names)
    assert b"Bertram" not in everything and str(b.id).encode() not in everything


def test_already_compressed_files_go_in_the_zip_as_they_are_and_text_is_deflated(tmp_path):
    photo = tmp_path / "photo.bin"
    photo.write_bytes(os.urandom(200_000))  # as incompressible as a JPEG or a WebM
    notes = tmp_path / "notes.bin"
    notes.write_bytes(b"We kept the goats behind the barn in the summer of 1952. " * 3000)
    assert personal_data.zip_method(photo) == zipfile.ZIP_STORED
    assert personal_data.zip_method(notes) == zipfile.ZIP_DEFLATED


def test_export_of_unknown_storyteller_is_a_lookup_error(app, db_session):
    import uuid

    with pytest.raises(LookupError):
        personal_data.export_storyteller(db_session, uuid.uuid4(), app.instance_path)


def test_erase_removes_everything_about_them_and_nothing_else(app, db_session, two_storytellers):
    shared, (a, a_ids, a_keys), (b, b_ids, b_keys) = two_storytellers
    a_id, a_user_id = a.id, a.user_id
    tables = list(Base.metadata.tables)
    before = _counts(db_session, tables)
    assert personal_data.scan_for_storyteller(db_session, a_id, "Agatha Applewood")
    b_scan_before = personal_data.scan_for_storyteller(db_session, b.id, "Bertram Birchall")
    storage = file_storage.storage_for(app.instance_path)
    a_export = [
        Path(app.instance_path, key)
        for key in db_session.scalars(
            select(ExportJob.storage_path).where(ExportJob.storyteller_id == a_id)
        )
    ]

    erasure = personal_data.erase_storyteller(db_session, a_id, app.instance_path, shared.reviewer)

    after = _counts(db_session, tables)
    for table in tables:
        expected = before[table] - len(a_ids.get(table, ()))
        if table == "audit_log":
            expected += 1  # the erasure's own record
        assert after[table] == expected, table
    assert erasure.counts == {t: len(ids) for t, ids in a_ids.items()}
    for table, ids in a_ids.items():
        t = Base.metadata.tables[table]
        assert db_session.scalar(select(func.count()).where(t.c.id.in_(ids))) == 0, table
    for table, ids in b_ids.items():
        t = Base.metadata.tables[table]
        assert db_session.scalar(select(func.count()).where(t.c.id.in_(ids))) == len(ids), table
    assert not personal_data.scan_for_storyteller(db_session, a_id, "Agatha Applewood").hits
    assert not personal_data.scan_for_storyteller(db_session, a_user_id, None).hits
    b_scan_after = personal_data.scan_for_storyteller(db_session, b.id, "Bertram Birchall")
    assert b_scan_after.hits == b_scan_before.hits
    for key in a_keys:
        assert not storage.exists(key)
    for key in b_keys:
        assert storage.exists(key)
    assert a_export and not any(p.exists() for p in a_export)
    # The reviewer stays: only their link to A's rows went away.
    assert shared.reviewer.id is not None
    record = db_session.get(AuditLog, erasure.audit_id)
    assert record.action == "erase" and record.object_id == str(a_id)
    assert record.actor_id == shared.reviewer.id and record.storyteller_id is None
    assert record.details["rows_deleted"]["session"] == 2
    assert "Agatha" not in json.dumps(record.details)


def test_a_failed_erasure_deletes_nothing(app, db_session, two_storytellers, monkeypatch):
    shared, (a, a_ids, a_keys), _ = two_storytellers
    tables = list(Base.metadata.tables)
    before = _counts(db_session, tables)

    def boom(*args, **kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr(personal_data.audit, "record", boom)
    with pytest.raises(RuntimeError):
        personal_data.erase_storyteller(db_session, a.id, app.instance_path, shared.reviewer)
    assert _counts(db_session, tables) == before
    storage = file_storage.storage_for(app.instance_path)
    assert all(storage.exists(key) for key in a_keys)
