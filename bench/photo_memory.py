"""How much memory and time does adding a 20-megapixel phone photo take?

    .venv/bin/python bench/photo_memory.py [--width 5472 --height 3648] [--repeat 3]

Makes (in a child process, so its pixels do not count) a 5472x3648 JPEG (about 20
megapixels) with an EXIF block holding a GPS position, the date taken and an orientation,
under a temporary folder. Then, each in a fresh child process so the figures do not mix:

- ``add_photo``: storyteller.photos.add_photo exactly as the upload route calls it (a
  temporary SQLite database and instance folder, the file read as a stream): checks the
  bytes, writes the original without location (no decode), the 1600 px web copy and the
  320 px thumbnail (JPEG decoded at reduced scale with Image.draft);
- ``naive``: for comparison, what a straightforward version would do: decode the whole
  photo, rotate it, save it again without EXIF, and make the two copies from it.

Reported per mode: wall time (best of --repeat, in the same child after one warm-up call
with a small photo), peak resident memory growth (resource.getrusage ru_maxrss after minus
before the call: covers Pillow's pixel buffers, which tracemalloc cannot see) and the peak of
Python allocations (tracemalloc, a separate call). Target: add_photo's growth under 100 MB.
The script is a report: it exits 0 even when the target is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 100


def make_photo(path: Path, width: int, height: int) -> None:
    from PIL import Image

    small = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize((width // 8, height // 8)),
            Image.effect_noise((width // 8, height // 8), 40),
            Image.linear_gradient("L").rotate(90).resize((width // 8, height // 8)),
        ),
    )
    image = small.resize((width, height), Image.Resampling.BILINEAR)
    noise = Image.effect_noise((width, height), 12).convert("RGB")
    image = Image.blend(image, noise, 0.15)
    exif = Image.Exif()
    exif[0x010F] = "BenchCam"
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9003] = "1987:06:21 14:05:00"
    exif.get_ifd(0x8825).update({1: "N", 2: (51.0, 28.0, 40.1), 3: "W", 4: (0.0, 0.0, 5.3)})
    image.save(path, "JPEG", quality=92, exif=exif)


def _naive(path: Path, out: Path) -> None:
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image.load()
        upright = ImageOps.exif_transpose(image)
        upright.save(out / "original.jpg", "JPEG", quality=95)
        web = upright.copy()
        web.thumbnail((1600, 1600))
        web.save(out / "web.jpg", "JPEG", quality=85)
        web.thumbnail((320, 320))
        web.save(out / "thumb.jpg", "JPEG", quality=80)


def child(mode: str, path: Path, repeat: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from storyteller import create_app, photos
    from storyteller.extensions import db
    from storyteller.file_storage import storage_for
    from storyteller.models import Storyteller

    work = Path(tempfile.mkdtemp(prefix="photo-bench-"))
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{work / 'bench.db'}",
            "INSTANCE_PATH": str(work / "instance"),
            "OPENAI_API_KEY": None,
            "OPENAI_BASE_URL": None,
        }
    )
    with app.app_context():
        db.create_all()
        storyteller = Storyteller(display_name="Bench")
        db.session.add(storyteller)
        db.session.commit()
        storage = storage_for(app.instance_path)

        def run() -> None:
            if mode == "naive":
                _naive(path, work)
                return
            with path.open("rb") as stream:
                photos.add_photo(db.session, storyteller, stream, user=None, storage=storage)
            db.session.commit()

        # Warm-up: imports, plugins, the first query, with a small photo.
        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (800, 600), "white").save(buffer, "JPEG")
        photos.add_photo(db.session, storyteller, buffer.getvalue(), user=None, storage=storage)
        db.session.commit()

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        run()
        _, python_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "mode": mode,
        "best_s": min(times),
        "rss_growth_mb": (after - before) / 1024,  # ru_maxrss is in KiB on Linux
        "python_peak_mb": python_peak / (1024 * 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=5472)
    parser.add_argument("--height", type=int, default=3648)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--photo", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.photo), args.repeat)))
        return

    folder = Path(tempfile.mkdtemp(prefix="photo-bench-src-"))
    photo = folder / "phone.jpg"
    make_in_child(photo, args.width, args.height)
    megapixels = args.width * args.height / 1e6
    size_mb = photo.stat().st_size / (1024 * 1024)
    print(f"Photo: {args.width}x{args.height} ({megapixels:.1f} MP), {size_mb:.1f} MB JPEG,")
    print("       EXIF with GPS position, date taken and orientation 6.")
    print(f"CPU: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}\n")
    print(f"{'mode':<10} {'best time':>10} {'peak RSS growth':>16} {'Python peak':>12}")
    results = {}
    for mode in ("add_photo", "naive"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--photo", str(photo)]
            + ["--repeat", str(args.repeat)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results[mode] = result
        print(
            f"{mode:<10} {result['best_s']:>9.2f}s {result['rss_growth_mb']:>13.1f} MB"
            f" {result['python_peak_mb']:>9.1f} MB"
        )
    growth = results["add_photo"]["rss_growth_mb"]
    verdict = "met" if growth < TARGET_MB else "MISSED"
    print(f"\nTarget: add_photo peak RSS growth under {TARGET_MB} MB: {verdict} ({growth:.1f} MB).")


def make_in_child(photo: Path, width: int, height: int) -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from bench.photo_memory import make_photo; from pathlib import Path; "
        "make_photo(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(ROOT), str(photo), str(width), str(height)], check=True
    )


if __name__ == "__main__":
    main()
