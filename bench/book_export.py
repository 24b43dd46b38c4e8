"""How long do the book exports take, and how much memory do they need?

    .venv/bin/python bench/book_export.py [--artifacts 300] [--photos 20] [--repeat 1]

Builds, in a temporary SQLite database and instance folder, one storyteller's book of
N approved artifacts (each included in the book, each the source of one paragraph of
about 90 words) in chapters of 25 paragraphs, with P of them carrying a photo (a
1600x1200 JPEG made with Pillow under <instance>/uploads/). Then, through
storyteller.exports.render (exactly what the background job calls):

- times the PDF (normal and large print) and the EPUB, best of --repeat runs;
- reports wall time and this process's CPU time (other load on the machine inflates the
  first, not the second), with the load average;
- measures peak memory: the process's peak resident set (resource.getrusage ru_maxrss,
  which only grows: it is read after each kind) and Python allocations during one
  render (tracemalloc, a separate run since tracing slows the work a lot; skip it with
  --no-tracemalloc).

Targets: PDF under 15 s, EPUB under 2 s. The script is a report: it exits 0 even when a
target is missed.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from PIL import Image, ImageDraw  # noqa: E402

from storyteller import create_app, exports  # noqa: E402
from storyteller.book_content import UPLOADS_FOLDER  # noqa: E402
from storyteller.extensions import db  # noqa: E402
from storyteller.models import (  # noqa: E402
    BookChapter,
    Document,
    Session,
    SessionArtifact,
    SessionInteraction,
    Storyteller,
)
from tests.conftest import test_config  # noqa: E402

TARGETS = {"pdf": 15.0, "pdf_large": 15.0, "epub": 2.0}
PER_CHAPTER = 25
WORDS = (
    "we lived at the end of a long lane where the hedges were full of blackberries in "
    "september and my mother would send us out with tin cans to pick them while my father "
    "mended the cart in the yard the school was two miles away and we walked it every day "
    "in all weathers with bread and butter wrapped in paper for our dinner"
).split()


def photo_jpeg(number: int) -> bytes:
    rng = random.Random(number)
    image = Image.new("RGB", (1600, 1200), (rng.randrange(120, 220), 150, 110))
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = rng.randrange(1600), rng.randrange(1200)
        draw.ellipse((x, y, x + rng.randrange(40, 300), y + rng.randrange(40, 300)),
                     fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def paragraph_text(rng: random.Random, number: int) -> str:
    words = [rng.choice(WORDS) for _ in range(90)]
    return f"Memory {number}: " + " ".join(words).capitalize() + "."


def build(artifacts: int, photos: int, instance: Path) -> Storyteller:
    rng = random.Random(5)
    storyteller = Storyteller(display_name="Bench Storyteller", time_zone="Europe/Dublin")
    db.session.add(storyteller)
    db.session.flush()
    session = Session(storyteller_id=storyteller.id, intention="A long life, told",
                      session_name="Everything", status="completed",
                      started_at=datetime(2026, 10, 1, 9, tzinfo=UTC))
    db.session.add(session)
    db.session.flush()
    uploads = instance / UPLOADS_FOLDER / "bench"
    uploads.mkdir(parents=True, exist_ok=True)
    photo_every = max(1, artifacts // photos) if photos else 0
    paragraphs: list[dict] = []
    for number in range(1, artifacts + 1):
        text = paragraph_text(rng, number)
        interaction = SessionInteraction(session_id=session.id, interaction_sequence=number,
                                         agent_prompt="What do you remember?",
                                         storyteller_response=text)
        db.session.add(interaction)
        db.session.flush()
        structured = None
        if photo_every and number % photo_every == 0 and number // photo_every <= photos:
            path = uploads / f"photo-{number}.jpg"
            path.write_bytes(photo_jpeg(number))
            document = Document(storyteller_id=storyteller.id, session_id=session.id,
                                kind="photo", title=path.name, content_type="image/jpeg",
                                storage_key=path.relative_to(instance / UPLOADS_FOLDER)
                                .as_posix())
            db.session.add(document)
            db.session.flush()
            structured = {"document_id": str(document.id)}
        artifact = SessionArtifact(
            session_id=session.id, source_interaction_id=interaction.id,
            artifact_type="scene_capture", artifact_name=f"Photo with memory {number}",
            content=text, structured_data=structured, review_status="approved",
            is_approved=True, included_in_synthesis=True,
        )
        db.session.add(artifact)
        db.session.flush()
        paragraphs.append({"text": text, "artifact_ids": [str(artifact.id)],
                           "interaction_ids": [str(interaction.id)]})
    for sequence, start in enumerate(range(0, len(paragraphs), PER_CHAPTER), start=1):
        part = paragraphs[start:start + PER_CHAPTER]
        db.session.add(BookChapter(
            storyteller_id=storyteller.id, sequence=sequence, title=f"Part {sequence}",
            paragraphs=part, content="\n\n".join(p["text"] for p in part),
            review_status="approved",
        ))
    db.session.commit()
    return storyteller


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def pdf_pages(data: bytes, folder: str) -> str:
    pdfinfo = shutil.which("pdfinfo")
    if pdfinfo is None:
        return "-"
    path = Path(folder) / "pages.pdf"
    path.write_bytes(data)
    out = subprocess.run([pdfinfo, str(path)], capture_output=True, text=True).stdout
    found = re.search(r"^Pages:\s+(\d+)", out, re.MULTILINE)
    return found.group(1) if found else "-"


def load() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def measure(storyteller: Storyteller, kind: str, instance: Path, repeat: int):
    """(best wall seconds, CPU seconds of that run, the rendered file)."""
    best = None
    for _ in range(repeat):
        db.session.expire_all()
        wall, cpu = time.perf_counter(), time.process_time()
        rendered = exports.render(db.session, storyteller, kind, instance_path=instance)
        run = (time.perf_counter() - wall, time.process_time() - cpu, rendered)
        if best is None or run[0] < best[0]:
            best = run
    return best


def python_peak(storyteller: Storyteller, kind: str, instance: Path) -> float:
    tracemalloc.start()
    try:
        exports.render(db.session, storyteller, kind, instance_path=instance)
        return tracemalloc.get_traced_memory()[1] / 1024 / 1024
    finally:
        tracemalloc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifacts", type=int, default=300)
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-tracemalloc", action="store_true",
                        help="skip the (slow) traced runs that measure Python allocations")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="book-bench-") as folder:
        instance = Path(folder) / "instance"
        app = create_app(test_config(f"sqlite:///{folder}/bench.db", str(instance)))
        with app.app_context():
            db.create_all()
            started = time.perf_counter()
            storyteller = build(args.artifacts, args.photos, instance)
            book = exports.render(db.session, storyteller, "markdown", instance_path=instance)
            print(f"Book: {args.artifacts} approved artifacts in "
                  f"{-(-args.artifacts // PER_CHAPTER)} chapters, {args.photos} photos, "
                  f"{len(book.data.decode().split())} words (built in "
                  f"{time.perf_counter() - started:.1f} s)")
            started = time.perf_counter()
            importlib.import_module("storyteller.exports.pdf")
            importlib.import_module("storyteller.exports.epub")
            print(f"Importing WeasyPrint and ebooklib (once per worker): "
                  f"{time.perf_counter() - started:.1f} s")
            print(f"Machine: {os.cpu_count()} CPUs, load average {load()} before exporting")
            print(f"Process peak RSS before exporting: {max_rss_mb():.0f} MB\n")
            print(f"{'kind':<10} {'wall s':>7} {'CPU s':>6} {'target':>7} {'met':>4} "
                  f"{'size':>8} {'pages':>6} {'max RSS':>8} {'py peak':>8}")
            for kind in ("pdf", "pdf_large", "epub"):
                wall, cpu, rendered = measure(storyteller, kind, instance, args.repeat)
                rss = max_rss_mb()
                peak = ("-" if args.no_tracemalloc
                        else f"{python_peak(storyteller, kind, instance):.0f}MB")
                pages = pdf_pages(rendered.data, folder) if kind != "epub" else "-"
                met = "yes" if wall < TARGETS[kind] else "NO"
                print(f"{kind:<10} {wall:>7.2f} {cpu:>6.2f} {TARGETS[kind]:>6.0f}s {met:>4} "
                      f"{len(rendered.data) / 1024 / 1024:>6.1f}MB {pages:>6} "
                      f"{rss:>6.0f}MB {peak:>8}", flush=True)
            print(f"\nLoad average after: {load()}. Wall time is what the target is about; "
                  "CPU s is this process's own work, which other load on the machine does "
                  "not inflate.")
            print("max RSS: the process's peak resident memory so far (ru_maxrss, only "
                  "grows); py peak: Python allocations during one render (tracemalloc).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
