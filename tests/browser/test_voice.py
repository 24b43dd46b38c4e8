"""Answering by voice in Chromium with a fake microphone: record, reload halfway, continue, send.

The microphone is Chromium's fake capture device playing a WAV that espeak-ng makes here (a few
sentences about a brother and his boat; Chromium loops the file). The recording is uploaded in
pieces while it is made; the reload loses at most the last few seconds, the page offers to
continue, and on Stop the server assembles the pieces once and writes down what was said
(offline recognition: checked loosely). The storyteller hears it back, sends the transcript as
the answer, and the recording stays attached to the answered question.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from storyteller.models import AudioChunk, AudioRecording, Document, SessionInteraction
from tests.browser.axe import check_accessibility, screenshot
from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser

SENTENCES = (
    "My brother had a small boat.",
    "We went out on the lake every summer.",
    "One day the wind was very strong and the boat turned over.",
    "We swam back to the shore and our father took the boat home.",
)
# espeak-ng's Klatt voice: pocketsphinx's model recognises it far better than the default one.
VOICE = "en-us+klatt"
CONTENT_WORDS = {
    "brother", "small", "boat", "went", "lake", "every", "summer", "day", "wind", "very",
    "strong", "turned", "swam", "back", "shore", "father", "took", "home",
}  # fmt: skip
# Offline recognition of synthetic speech is rough: a good share of the words, not all.
ENOUGH_WORDS = 6


def _words(text: str) -> set[str]:
    """Lower-case words without a plural or possessive s ("brother's" and "brothers" count)."""
    return {re.sub(r"(?:'s|s)$", "", w) for w in re.findall(r"[a-z']+", text.lower())}


HEARD = "Here is what we heard. You can change it before sending."


def _required(name: str) -> bool:
    return any(os.environ.get(v, "") not in ("", "0", "false", "no") for v in (name, "CI"))


def _unavailable(reason: str) -> None:
    if _required("STORYTELLER_REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SENTENCES spoken by espeak-ng, a second of silence after each (the fake microphone loops
    the file). The pauses matter: offline recognition writes down stretches of speech between
    pauses, as a storyteller's speech has them."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        _unavailable("espeak-ng is not installed (Debian package espeak-ng)")
    folder = tmp_path_factory.mktemp("voice")
    path = folder / "speech.wav"
    with wave.open(str(path), "wb") as out:
        for n, sentence in enumerate(SENTENCES):
            spoken = folder / f"sentence-{n}.wav"
            subprocess.run(
                [espeak, "-v", VOICE, "-s", "140", "-w", str(spoken), sentence],
                check=True,
                timeout=60,
                capture_output=True,
            )
            with wave.open(str(spoken)) as source:
                if n == 0:
                    out.setparams(source.getparams())
                out.writeframes(source.readframes(source.getnframes()))
                out.writeframes(b"\0" * source.getsampwidth() * source.getframerate())
    return path


@pytest.fixture(scope="module")
def browser(launch_chromium, speech_wav: Path) -> Iterator[Browser]:
    """Chromium whose microphone plays speech_wav, allowed without asking (this module only)."""
    chromium = launch_chromium(
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={speech_wav}",
        "--autoplay-policy=no-user-gesture-required",
    )
    yield chromium
    chromium.close()


def _recording(live_server: LiveServer, session_id: uuid.UUID) -> tuple[uuid.UUID, str, int]:
    """(id, status, pieces held) of the session's one recording."""
    with live_server.db() as db:
        rows = db.scalars(
            select(AudioRecording).where(AudioRecording.session_id == session_id)
        ).all()
        assert len(rows) == 1, f"{len(rows)} recordings for one question"
        count = db.scalar(
            select(func.count())
            .select_from(AudioChunk)
            .where(AudioChunk.recording_id == rows[0].id)
        )
        return rows[0].id, rows[0].status, int(count or 0)


def _wait_for_pieces(live_server: LiveServer, session_id: uuid.UUID, at_least: int) -> int:
    deadline = time.monotonic() + 30
    while True:
        with live_server.db() as db:
            count = db.scalar(
                select(func.count())
                .select_from(AudioChunk)
                .join(AudioRecording, AudioRecording.id == AudioChunk.recording_id)
                .where(AudioRecording.session_id == session_id)
            )
        if count and count >= at_least:
            return int(count)
        assert time.monotonic() < deadline, f"only {count} pieces uploaded, waited for {at_least}"
        time.sleep(0.25)


def _first_question(page: Page, live_server: LiveServer, sign_in, name: str) -> uuid.UUID:
    """A new storyteller signs in and starts a new session; returns the session's id."""
    user = live_server.create_user("storyteller", name=name)
    session_id = live_server.create_session(
        user.storyteller_id,
        session_name="Summers on the lake",
        intention="Summers at the lake with my brother: who, where and when",
    )
    sign_in(user, page=page)
    page.goto(f"/interview/{session_id}")
    check_accessibility(page, "voice: before starting")
    with page.expect_navigation():
        page.get_by_role("button", name="Start", exact=True).click()
    check_accessibility(page, "voice: first question")
    return session_id


def test_a_storyteller_answers_by_voice_across_a_reload(make_page, live_server, sign_in):
    page: Page = make_page()
    session_id = _first_question(page, live_server, sign_in, "Walter Brennan")
    question = page.locator("#current-question").inner_text().strip()

    # One big Record button; pressing it starts recording (no holding down).
    record = page.get_by_role("button", name="Record", exact=True)
    expect(record).to_be_visible()
    height = record.evaluate("b => b.getBoundingClientRect().height")
    assert height >= 56, f"the Record button is {height}px high"
    screenshot(page, "voice-question")
    record.click()
    stop = page.get_by_role("button", name="Stop", exact=True)
    expect(stop).to_be_visible()
    expect(stop).to_have_attribute("aria-pressed", "true")
    status = page.locator("[data-recorder-status]")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_contain_text("Recording…")
    # The answer cannot be sent half-recorded.
    expect(page.get_by_role("button", name="Send my answer")).to_be_disabled()
    # The level moves with the voice and the timer runs.
    page.wait_for_function("() => document.querySelector('#recorder-level').value > 0.01")
    expect(page.locator("[data-recorder-timer]")).not_to_have_text("0:00")

    # Pieces go up while recording (every ~3 s), before Stop is pressed.
    first_part = _wait_for_pieces(live_server, session_id, at_least=2)
    recording_id, state, _ = _recording(live_server, session_id)
    assert state == "recording"
    screenshot(page, "voice-recording")

    # Reload halfway: the page offers to continue what is on the server.
    page.reload()
    check_accessibility(page, "voice: reloaded while recording")
    resume = page.locator("[data-recorder-resume]")
    expect(resume).to_be_visible()
    expect(resume).to_contain_text("You have a recording in progress")
    expect(resume.locator("[data-recorder-resume-length]")).to_have_text(
        re.compile(r"^0:0[3-9]$|^0:[1-5]\d$")
    )
    expect(page.get_by_role("button", name="Record", exact=True)).to_be_hidden()
    screenshot(page, "voice-reloaded")
    page.get_by_role("button", name="Continue recording").click()
    expect(page.get_by_role("button", name="Stop", exact=True)).to_be_visible()
    # Chromium starts the WAV again for the new capture: record it all this time (~18 s).
    _wait_for_pieces(live_server, session_id, at_least=first_part + 6)
    page.get_by_role("button", name="Stop", exact=True).click()

    # Uploaded, assembled, written down; the transcript fills the answer box.
    expect(status).to_have_text(HEARD, timeout=120_000)
    again_id, state, pieces = _recording(live_server, session_id)
    assert again_id == recording_id, "the reload started a second recording"
    assert state == "transcribed", state
    assert pieces >= first_part + 6
    answer_box = page.get_by_label("Your answer")
    transcript = answer_box.input_value()
    heard = _words(transcript) & _words(" ".join(CONTENT_WORDS))
    assert len(heard) >= ENOUGH_WORDS, f"heard only {sorted(heard)} in {transcript!r}"
    expect(page.locator("input[name=recording_id]")).to_have_value(str(recording_id))
    expect(page.get_by_role("button", name="Send my answer")).to_be_enabled()

    # It plays back: the browser loads the assembled audio, and the server sends audio bytes.
    audio = page.locator("[data-recorder-audio]")
    expect(audio).to_be_visible()
    page.wait_for_function(
        "() => { const a = document.querySelector('[data-recorder-audio]');"
        " return a.readyState >= 1 && a.duration > 0; }",
        timeout=20_000,
    )
    duration = audio.evaluate("a => a.duration")
    assert duration > 5, f"the audio is {duration}s long"
    audio_url = audio.evaluate("a => a.src")
    fetched = page.request.get(audio_url)
    assert fetched.status == 200
    assert fetched.headers["content-type"].startswith("audio/"), fetched.headers
    assert len(fetched.body()) > 10_000
    check_accessibility(page, "voice: transcript ready")
    screenshot(page, "voice-transcript")

    # The storyteller corrects a word and sends; the recording stays with the answer.
    edited = transcript + " That was in 1953."
    answer_box.fill(edited)
    with page.expect_navigation(url=re.compile(rf"/interview/{session_id}$")):
        page.get_by_role("button", name="Send my answer").click()
    check_accessibility(page, "voice: next question")
    expect(page.locator(".conversation .turn-answer").last).to_have_text(edited.strip())
    screenshot(page, "voice-sent")

    with live_server.db() as db:
        recording = db.get(AudioRecording, recording_id)
        interaction = db.get(SessionInteraction, recording.interaction_id)
        assert interaction is not None and interaction.agent_prompt.strip() == question
        assert interaction.response_method == "voice"
        assert interaction.storyteller_response == edited.strip()
        assert recording.status == "sent"
        document = db.get(Document, recording.document_id)
        assert document is not None and document.kind == "audio"
        assert document.interaction_id == interaction.id


def test_without_a_recorder_in_the_browser_the_typed_answer_is_all_there_is(
    make_page, live_server, sign_in
):
    page: Page = make_page()
    page.add_init_script("delete window.MediaRecorder;")
    user = live_server.create_user("storyteller", name="Edith Crowley")
    session_id = live_server.create_session(user.storyteller_id)
    sign_in(user, page=page)
    page.goto(f"/interview/{session_id}")
    check_accessibility(page, "no recorder: before starting")
    with page.expect_navigation():
        page.get_by_role("button", name="Start", exact=True).click()
    check_accessibility(page, "no recorder: first question")
    expect(page.locator("[data-recorder]")).to_be_hidden()
    expect(page.get_by_role("button", name="Record", exact=True)).to_have_count(0)
    answer = "We lived above the bakery on Main Street."
    page.get_by_label("Your answer").fill(answer)
    with page.expect_navigation(url=re.compile(rf"/interview/{session_id}$")):
        page.get_by_role("button", name="Send my answer").click()
    check_accessibility(page, "no recorder: next question")
    expect(page.locator(".conversation .turn-answer").last).to_have_text(answer)
    with live_server.db() as db:
        count = db.scalar(
            select(func.count())
            .select_from(AudioRecording)
            .where(AudioRecording.session_id == session_id)
        )
    assert count == 0


def test_an_interrupted_recording_sent_as_it_is_then_thrown_away(make_page, live_server, sign_in):
    page: Page = make_page()
    session_id = _first_question(page, live_server, sign_in, "Nora Hegarty")
    page.get_by_role("button", name="Record", exact=True).click()
    pieces = _wait_for_pieces(live_server, session_id, at_least=2)
    page.reload()
    check_accessibility(page, "voice: interrupted recording")
    page.get_by_role("button", name="Send it as it is").click()
    status = page.locator("[data-recorder-status]")
    expect(status).to_have_text(HEARD, timeout=120_000)
    recording_id, state, held = _recording(live_server, session_id)
    assert state == "transcribed" and held == pieces
    with live_server.db() as db:
        metadata = db.get(AudioRecording, recording_id).metadata_
        assert metadata["missing_accepted"] == [] and metadata["client_chunk_count"] == pieces
    box = page.get_by_label("Your answer")
    assert box.input_value().strip()
    expect(page.locator("[data-recorder-audio]")).to_be_visible()
    screenshot(page, "voice-sent-as-it-is")

    page.get_by_role("button", name="Throw this recording away").click()
    expect(status).to_contain_text("The recording was thrown away")
    expect(box).to_have_value("")
    expect(page.locator("input[name=recording_id]")).to_have_value("")
    expect(page.get_by_role("button", name="Record", exact=True)).to_be_visible()
    expect(page.locator("[data-recorder-audio]")).to_be_hidden()
    assert _recording(live_server, session_id)[1] == "discarded"
    page.reload()
    check_accessibility(page, "voice: after throwing the recording away")
    expect(page.locator("[data-recorder-resume]")).to_be_hidden()
    expect(page.get_by_role("button", name="Record", exact=True)).to_be_visible()


def test_a_piece_that_fails_to_upload_is_sent_again(browser, live_server, sign_in):
    """The server answers 503 twice for piece 1: the page tries again and nothing is lost.

    An unwatched page: the two refused uploads are console errors on purpose (checked here).
    """
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    refused: list[str] = []

    def flaky(route):
        if route.request.method == "PUT" and len(refused) < 2:
            refused.append(route.request.url)
            route.fulfill(status=503, body="down for a moment")
        else:
            route.continue_()

    try:
        session_id = _first_question(page, live_server, sign_in, "Peggy Sheehan")
        page.route(re.compile(r"/recordings/[0-9a-f-]+/chunks/1$"), flaky)
        page.get_by_role("button", name="Record", exact=True).click()
        pieces = _wait_for_pieces(live_server, session_id, at_least=3)
        page.get_by_role("button", name="Stop", exact=True).click()
        expect(page.locator("[data-recorder-status]")).to_have_text(HEARD, timeout=120_000)
        assert len(refused) == 2 and all(url.endswith("/chunks/1") for url in refused)
        recording_id, state, held = _recording(live_server, session_id)
        assert state == "transcribed" and held >= pieces
        with live_server.db() as db:
            recording = db.get(AudioRecording, recording_id)
            assert recording.metadata_["missing_accepted"] == []
            assert recording.chunk_count == recording.metadata_["client_chunk_count"] == held
        unexpected = [e for e in errors if "503" not in e]
        assert not unexpected, unexpected
    finally:
        context.close()
