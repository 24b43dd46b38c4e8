"""How much does the app add to an interview turn, compared with the bare LLM calls?

    .venv/bin/python bench/interview_turns.py [--turns N] [--database sqlite|postgresql|both]

A FakeLlmServer on 127.0.0.1 answers every chat call after a fixed 200 ms (before the
first byte). For each database, the app is built on a fresh database (SQLite file in a
temporary directory, or a PostgreSQL database created and dropped here), a storyteller
signs in through the test client and answers N questions over HTTP: POST
/interview/<id>/answer (the non-streaming path), then the 303 is followed with a GET of
the page, so saving, analysis, artifacts, memories, both LLM calls, persistence and
rendering are all inside one "turn". Each turn is timed end to end.

After every app turn, the very request bodies the app sent to the server during that turn
are replayed with one bare ``openai.OpenAI`` client made once (same calls, same shapes:
the structured-output call and the streamed question, read to the end), and timed as one
"bare turn". The bare calls get the very replies the app got, so the server does the same
work. App and bare turns alternate, so background load hits both alike.

The report, per database: median and p95 of app turns and bare turns, app/bare ratio and
app - bare overhead (ms), against the target (ratio <= 1.05 and overhead < 10 ms at p95).
When the target is missed, one more turn is profiled with cProfile (the fake LLM then
answers at once, so the figures are the app's own work, not waiting) and the storyteller
functions with the most cumulative time are printed, with the top functions by own time.
Only turns after a short warm-up are measured (first-use costs such as template compiling
are not what the target is about). The script always exits 0 when it
ran: it is a report, not a gate.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import logging
import os
import pstats
import re
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import openai  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import event, select  # noqa: E402

from storyteller import accounts, consent, create_app  # noqa: E402
from storyteller.extensions import db  # noqa: E402
from storyteller.models import LlmInteraction, Session, Storyteller  # noqa: E402
from tests.conftest import (  # noqa: E402
    IsolatedClient,
    create_postgres_database,
    drop_postgres_database,
    test_config,
)
from tests.fake_llm_server import FakeLlmServer  # noqa: E402

LATENCY_SECONDS = 0.200
WARMUP_TURNS = 2
TARGET_RATIO = 1.05
TARGET_OVERHEAD_MS = 10.0
PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway bench user
CHAT_PATH = "/v1/chat/completions"
INTERACTION_ID = re.compile(r'name="interaction_id" value="([0-9a-f-]{36})"')

ANSWERS = [
    "We lived on Adams Street in Dorchester. In the summer of 1948 my brother Tom and I sat "
    "on the back porch shelling peas while my mother sang along to the radio.",
    "My brother Tom was tall and funny. He taught me to ride a bicycle in Franklin Park in "
    "1950, running behind me until I looked back and fell into the hedge.",
    "My father worked at the shipyard in Quincy. He came home smelling of oil and salt, and "
    "he always kept a peppermint in his coat pocket for me.",
    "School was the Mather School, a big brick building. Miss Kelleher taught us penmanship "
    "and rapped our knuckles with a ruler if the loops were sloppy.",
    "Sundays meant church at Saint Mark's and then a roast at my grandmother's flat in South "
    "Boston. She made the gravy in a cast iron pan that was older than my father.",
    "The winter of 1952 was hard. My mother was ill for months and I cooked for the family, "
    "mostly potatoes and whatever the butcher on Dorchester Avenue let us have on credit.",
    "I met Arthur at a dance at the Roseland Ballroom in 1957. He stepped on my feet twice "
    "and apologised so sweetly that I agreed to a second dance anyway.",
    "We married in June 1959 at Saint Mark's. It rained all morning and cleared up just as "
    "we came out of the church, and my aunt Rose said that was a sign of luck.",
    "Our first apartment was three rooms over a bakery on Hancock Street. The whole place "
    "smelled of bread at four in the morning, which I loved and Arthur did not.",
    "I worked as a telephone operator at New England Telephone for six years. We wore "
    "headsets and sat in long rows, and the supervisor timed our breaks to the second.",
    "Our daughter Susan was born in 1962 at the Carney Hospital. Arthur fainted in the "
    "waiting room, and the nurses teased him about it for the rest of our stay.",
    "We bought a little house in Milton in 1966 with a yard for the children. Arthur planted "
    "tomatoes every spring and every summer the squirrels ate most of them.",
    "The blizzard of 1978 kept us snowed in for a week. The neighbours shared what food they "
    "had and the children built a tunnel from our porch to the Murphys' door.",
    "When Arthur retired we drove across the country to see the Grand Canyon. I remember "
    "standing at the edge at sunrise and feeling very small and very lucky.",
    "My mother's recipe box is the thing I treasure most. Her handwriting on the cards, the "
    "grease stains, the notes like 'Tom's favourite' in the margins.",
]

QUESTIONS = [
    "What do you remember about the kitchen in that house?",
    "Who else lived on your street when you were small?",
    "What did your mother sing along to on the radio?",
    "How did your family spend the summer evenings?",
    "What was a typical school day like for you then?",
    "Which teacher do you remember most fondly, and why?",
    "What did Sunday dinners at your grandmother's look like?",
    "How did the family manage while your mother was ill?",
    "What was the music like at the Roseland Ballroom?",
    "What do you remember about your wedding day?",
    "What was it like to wake up to the smell of the bakery?",
    "What was the hardest part of working at the telephone exchange?",
    "How did life change when Susan was born?",
    "What made you choose the house in Milton?",
    "Who were your closest neighbours during the blizzard?",
]

ANALYSES = [
    {
        "sentiment": "positive",
        "key_themes": ["family", "summer"],
        "people": ["brother Tom"],
        "places": ["Adams Street", "Dorchester"],
    },
    {
        "sentiment": "positive",
        "key_themes": ["childhood", "play"],
        "people": ["brother Tom"],
        "places": ["Franklin Park"],
    },
    {
        "sentiment": "neutral",
        "key_themes": ["work", "father"],
        "people": ["father"],
        "places": ["Quincy"],
    },
    {
        "sentiment": "neutral",
        "key_themes": ["school"],
        "people": ["Miss Kelleher"],
        "places": ["Mather School"],
    },
    {
        "sentiment": "positive",
        "key_themes": ["church", "food"],
        "people": ["grandmother"],
        "places": ["South Boston"],
    },
    {
        "sentiment": "difficult",
        "key_themes": ["illness", "hardship"],
        "people": ["mother"],
        "places": ["Dorchester Avenue"],
    },
]


@dataclass
class TurnSample:
    app_ms: float
    bare_ms: float
    llm_calls: int
    app_llm_ms: float
    queries: int
    query_ms: float


@dataclass
class DatabaseReport:
    name: str
    samples: list[TurnSample] = field(default_factory=list)
    skipped: str | None = None
    profile_text: str | None = None
    profile_seconds: float = 0.0


# ----------------------------------------------------------------------------- helpers


def percentile(values: list[float], pct: float) -> float:
    """Linear-interpolated percentile (the same as numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * pct / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class QueryCounter:
    """Counts SQL statements and the time spent executing them (cursor level)."""

    def __init__(self, engine) -> None:  # noqa: ANN001 - an SQLAlchemy Engine
        self.engine = engine
        self.count = 0
        self.seconds = 0.0
        self._started: list[float] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *args: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, *args: Any) -> None:
        self.count += 1
        if self._started:
            self.seconds += time.perf_counter() - self._started.pop()

    def reset(self) -> tuple[int, float]:
        count, seconds = self.count, self.seconds
        self.count, self.seconds = 0, 0.0
        return count, seconds

    def remove(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


def script_replies(server: FakeLlmServer, turn: int) -> None:
    """The replies for one turn: the analysis JSON, then the next question (streamed)."""
    server.queue_json(ANALYSES[turn % len(ANALYSES)])
    round_ = turn // len(QUESTIONS)
    question = QUESTIONS[turn % len(QUESTIONS)]
    if round_:
        question = f"Thinking back once more ({round_ + 1}), {question[0].lower()}{question[1:]}"
    server.queue_reply(question)


def answer_text(turn: int) -> str:
    text = ANSWERS[turn % len(ANSWERS)]
    round_ = turn // len(ANSWERS)
    return text if not round_ else f"Something else comes back to me now. {text}"


def chat_exchanges(server: FakeLlmServer) -> tuple[list[dict[str, Any]], list[str]]:
    """The chat request bodies received and the reply texts sent since the last reset."""
    bodies = [r["json"] for r in server.requests if r["path"].endswith(CHAT_PATH)]
    replies = [r["content"] for r in server.responses if r["path"].endswith(CHAT_PATH)]
    return bodies, replies


def reset_server(server: FakeLlmServer) -> None:
    """Forget recorded requests and any unused scripted reply; keep the latency."""
    server.reset()
    server.set_latency(LATENCY_SECONDS)


def bare_turn(client: openai.OpenAI, bodies: list[dict[str, Any]]) -> float:
    """Replay one turn's LLM calls with the raw openai client; seconds taken."""
    started = time.perf_counter()
    for body in bodies:
        params = dict(body)
        if params.get("stream"):
            parts = []
            for chunk in client.chat.completions.create(**params):
                for choice in chunk.choices:
                    if choice.delta.content:
                        parts.append(choice.delta.content)
            content = "".join(parts)
        else:
            completion = client.chat.completions.create(**params)
            content = completion.choices[0].message.content or ""
            if params.get("response_format"):
                json.loads(content)
        if not content:
            raise RuntimeError("The bare call got no text back.")
    return time.perf_counter() - started


# ----------------------------------------------------------------------------- setup


def build_app(database_url: str, instance_path: str, server: FakeLlmServer):
    app = create_app(
        test_config(
            database_url,
            instance_path,
            TESTING=False,
            OPENAI_API_KEY="bench-key",
            OPENAI_BASE_URL=server.base_url,
            STORYTELLER_DAILY_TOKEN_BUDGET=1_000_000_000,
            WTF_CSRF_ENABLED=False,
        )
    )
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.create_all()
        user = accounts.create_user(
            db.session,
            email=f"bench-{uuid.uuid4().hex[:8]}@example.org",
            name="Margaret Ellis",
            role="storyteller",
            password=PASSWORD,
        )
        storyteller = Storyteller(display_name=user.name, user_id=user.id)
        db.session.add(storyteller)
        db.session.flush()
        consent.record_consent(
            db.session, storyteller, scope=["interview", "llm_processing"], recorded_by_id=None
        )
        session = Session(
            storyteller_id=storyteller.id,
            session_name="Childhood and family",
            intention="Capture scenes from childhood and early family life with who, where, when",
            success_indicators=["At least 3 scenes captured with who/where/when details"],
            completion_indicators=["Storyteller says they've covered the main memories"],
        )
        db.session.add(session)
        db.session.commit()
        email, session_id = user.email, session.id
        db.session.remove()
    return app, email, session_id


def llm_latencies(app, session_id: uuid.UUID) -> list[int]:  # noqa: ANN001 - a Flask app
    """latency_ms of the session's llm_interaction rows, oldest first (as the app timed them)."""
    with app.app_context():
        try:
            return list(
                db.session.scalars(
                    select(LlmInteraction.latency_ms)
                    .where(LlmInteraction.session_id == session_id)
                    .order_by(LlmInteraction.created_at)
                )
            )
        finally:
            db.session.remove()


def open_question_id(html: str) -> str:
    match = INTERACTION_ID.search(html)
    if match is None:
        raise RuntimeError("The interview page shows no open question.")
    return match.group(1)


def app_turn(client: FlaskClient, session_id: uuid.UUID, interaction_id: str, turn: int):
    """One turn over HTTP: POST the answer, follow the 303, GET the page. (seconds, html)"""
    started = time.perf_counter()
    response = client.post(
        f"/interview/{session_id}/answer",
        data={
            "interaction_id": interaction_id,
            "answer": answer_text(turn),
            "idempotency_key": uuid.uuid4().hex,
            "action": "answer",
        },
    )
    if response.status_code != 303:
        raise RuntimeError(f"POST answer gave {response.status_code}")
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    elapsed = time.perf_counter() - started
    if page.status_code != 200:
        raise RuntimeError(f"GET page gave {page.status_code}")
    if "could not be prepared" in html:
        raise RuntimeError("The turn failed (see the app log above).")
    return elapsed, html


def sign_in_and_start(app, email: str, session_id: uuid.UUID, server: FakeLlmServer):  # noqa: ANN001, ANN201
    """A signed-in test client, with the session started (its opening question asked)."""
    client = app.test_client()
    signed_in = client.post("/sign-in", data={"email": email, "password": PASSWORD})
    if signed_in.status_code != 303:
        raise RuntimeError(f"sign-in gave {signed_in.status_code}")
    server.queue_reply("Where did you grow up, and what was your home like?")
    started = client.post(f"/interview/{session_id}/start")
    if started.status_code != 303:
        raise RuntimeError(f"start gave {started.status_code}")
    return client


def measure_turns(  # noqa: PLR0913 - one call site
    app,  # noqa: ANN001 - a Flask app
    client: FlaskClient,
    session_id: uuid.UUID,
    html: str,
    turns: int,
    server: FakeLlmServer,
    bare: openai.OpenAI,
    counter: QueryCounter,
    report: DatabaseReport,
) -> str:
    """Warm-up turns, then ``turns`` measured ones, each followed by its bare replay."""
    llm_rows_seen = len(llm_latencies(app, session_id))
    for turn in range(WARMUP_TURNS + turns):
        reset_server(server)
        script_replies(server, turn)
        counter.reset()
        seconds, html = app_turn(client, session_id, open_question_id(html), turn)
        queries, query_seconds = counter.reset()
        latencies = llm_latencies(app, session_id)
        app_llm_ms = sum(latencies[llm_rows_seen:])
        llm_rows_seen = len(latencies)
        bodies, replies = chat_exchanges(server)
        # The same calls again, bare, getting the very replies the app got.
        reset_server(server)
        for reply in replies:
            server.queue_reply(reply)
        bare_seconds = bare_turn(bare, bodies)
        if server.pending():
            raise RuntimeError(f"turn {turn}: {server.pending()} scripted replies unused")
        if turn >= WARMUP_TURNS:
            report.samples.append(
                TurnSample(
                    seconds * 1000,
                    bare_seconds * 1000,
                    len(bodies),
                    float(app_llm_ms),
                    queries,
                    query_seconds * 1000,
                )
            )
    return html


def profile_turn(
    client: FlaskClient,
    session_id: uuid.UUID,
    interaction_id: str,
    turn: int,
    server: FakeLlmServer,
) -> tuple[str, str, float]:
    """One more turn under cProfile, with the fake LLM answering at once so that the
    cumulative figures are the app's own work, not waiting. (text, html, seconds)"""
    server.set_latency(0.0)
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        try:
            seconds, html = app_turn(client, session_id, interaction_id, turn)
        finally:
            profiler.disable()
    finally:
        server.set_latency(LATENCY_SECONDS)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    out.write("storyteller/* by cumulative time, top 15:\n")
    stats.sort_stats("cumulative").print_stats(r"[/\\]storyteller[/\\]", 15)
    out.write("\nEverything, by own time (tottime), top 10:\n")
    stats.sort_stats("tottime").print_stats(10)
    return out.getvalue(), html, seconds


# ----------------------------------------------------------------------------- one database


def run_database(
    name: str, turns: int, server: FakeLlmServer, bare: openai.OpenAI
) -> DatabaseReport:
    report = DatabaseReport(name)
    pg_url: str | None = None
    with tempfile.TemporaryDirectory(prefix="storyteller-bench-") as tmp:
        if name == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        else:
            try:
                pg_url = create_postgres_database("storyteller_bench")
            except BaseException as exc:  # noqa: BLE001 - pytest.skip raises a BaseException
                report.skipped = str(exc) or type(exc).__name__
                return report
            url = pg_url
        app = None
        counter = None
        try:
            app, email, session_id = build_app(url, str(Path(tmp) / "instance"), server)
            with app.app_context():
                counter = QueryCounter(db.engine)
            client = sign_in_and_start(app, email, session_id, server)
            html = client.get(f"/interview/{session_id}").get_data(as_text=True)
            html = measure_turns(
                app, client, session_id, html, turns, server, bare, counter, report
            )

            if not meets_target(report):
                turn = WARMUP_TURNS + turns
                reset_server(server)
                script_replies(server, turn)
                report.profile_text, html, report.profile_seconds = profile_turn(
                    client, session_id, open_question_id(html), turn, server
                )
        finally:
            if counter is not None:
                counter.remove()
            if app is not None:
                with app.app_context():
                    db.session.remove()
                    db.engine.dispose()
            if pg_url is not None:
                drop_postgres_database(pg_url)
    return report


# ----------------------------------------------------------------------------- report


def figures(report: DatabaseReport) -> dict[str, float]:
    app = [s.app_ms for s in report.samples]
    bare = [s.bare_ms for s in report.samples]
    result = {}
    for label, pct in (("median", 50), ("p95", 95)):
        a, b = percentile(app, pct), percentile(bare, pct)
        result[f"app_{label}"] = a
        result[f"bare_{label}"] = b
        result[f"ratio_{label}"] = a / b if b else float("inf")
        result[f"overhead_{label}"] = a - b
    return result


def meets_target(report: DatabaseReport) -> bool:
    f = figures(report)
    return f["ratio_p95"] <= TARGET_RATIO and f["overhead_p95"] < TARGET_OVERHEAD_MS


def print_report(report: DatabaseReport) -> None:
    print(f"\n=== {report.name} ===")
    if report.skipped:
        print(f"  skipped: {report.skipped}")
        return
    f = figures(report)
    calls = sorted({s.llm_calls for s in report.samples})
    queries = [s.queries for s in report.samples]
    query_ms = [s.query_ms for s in report.samples]
    app_llm = [s.app_llm_ms for s in report.samples]
    print(
        f"  turns measured: {len(report.samples)} (after {WARMUP_TURNS} warm-up turns); "
        f"LLM calls per turn: {', '.join(map(str, calls))}; "
        f"fake LLM latency {LATENCY_SECONDS * 1000:.0f} ms per call"
    )
    print(f"  {'':30}{'median':>10}{'p95':>10}")
    rows = (
        ("app turn (ms)", f["app_median"], f["app_p95"], ".1f"),
        ("bare openai calls (ms)", f["bare_median"], f["bare_p95"], ".1f"),
        ("ratio app/bare", f["ratio_median"], f["ratio_p95"], ".3f"),
        ("overhead app - bare (ms)", f["overhead_median"], f["overhead_p95"], ".1f"),
    )
    for label, median, p95, fmt in rows:
        print(f"  {label:30}{median:>10{fmt}}{p95:>10{fmt}}")
    met = meets_target(report)
    print(
        f"  target at p95: ratio <= {TARGET_RATIO:.2f} and overhead < {TARGET_OVERHEAD_MS:.0f} ms"
        f" -> {'MET' if met else 'NOT MET'}"
    )
    print(
        f"  inside the app turn: its LLM calls took {percentile(app_llm, 50):.0f} ms "
        f"(median, llm_interaction.latency_ms summed) vs {f['bare_median']:.0f} ms bare; "
        f"{percentile(queries, 50):.0f} SQL statements, "
        f"{percentile(query_ms, 50):.1f} ms in the database driver (median)"
    )
    if report.profile_text:
        print(
            f"\n  Where the time goes: one more turn under cProfile, with the fake LLM answering "
            f"at once\n  (so the figures are the app's own work; that turn took "
            f"{report.profile_seconds * 1000:.0f} ms under the profiler)."
        )
        print(_indent(_trim_pstats(report.profile_text)))


def _trim_pstats(text: str) -> str:
    keep = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("Ordered by", "List reduced")):
            continue
        if "function calls" in stripped and " in " in stripped:
            continue
        keep.append(line.replace(str(REPO_ROOT) + os.sep, "").replace(sys.prefix + os.sep, ""))
    return "\n".join(keep)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    if args.turns < 1:
        parser.error("--turns must be at least 1")
    logging.getLogger("storyteller").setLevel(logging.ERROR)
    names = ["sqlite", "postgresql"] if args.database == "both" else [args.database]

    print(
        f"Interview turns: app over HTTP (test client, non-streaming path, 303 followed) vs the "
        f"same LLM calls made with a bare openai client; {args.turns} turns per database."
    )
    reports = []
    with FakeLlmServer() as server:
        server.set_latency(LATENCY_SECONDS)
        bare = openai.OpenAI(
            base_url=server.base_url,
            api_key="bench-key",
            max_retries=0,
            timeout=openai.Timeout(20.0, connect=5.0),
        )
        try:
            for name in names:
                report = run_database(name, args.turns, server, bare)
                reports.append(report)
                print_report(report)
        finally:
            bare.close()
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
