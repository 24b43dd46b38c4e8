// Answering by voice on the interview page (templates/interview/_recorder.html).
//
// Press Record once to start and once to stop. While recording, MediaRecorder hands over a
// piece of audio every few seconds; each piece is PUT to the server at once with its sequence
// number, retried with growing pauses until the server has it, and kept in memory until then.
// A reload loses at most the last few seconds: the page then offers to continue (a new
// MediaRecorder, a new "segment", numbers carrying on after the last piece the server has),
// to send the recording as it is, or to throw it away. On Stop the server assembles the pieces
// and writes down what was said; the transcript goes into the answer box, where it can be
// changed, and "Send my answer" sends it with the hidden recording_id.
//
// Without MediaRecorder/getUserMedia (or without JavaScript) the recorder stays hidden and the
// typed answer works as before.
(function () {
  "use strict";

  var TIMESLICE_MS = 3000;
  var POLL_MS = 1500;
  var FIRST_RETRY_MS = 1000;
  var MAX_RETRY_MS = 30000;
  var KEEPALIVE_LIMIT = 60000; // bytes: fetch keepalive bodies are capped at 64 KiB in all
  var MIME_TYPES = [
    "audio/webm;codecs=opus",
    "audio/ogg;codecs=opus",
    "audio/webm",
    "audio/mp4"
  ];
  var FINISHED = ["transcribed", "failed", "sent"];

  var SAY = {
    preparing: "Getting the microphone ready…",
    noMicrophone: "We could not use the microphone. Please check that it is plugged in and " +
      "that this page may use it. You can still type your answer.",
    uploading: "Uploading",
    offline: "Your recording is safe on this computer. We are waiting for the connection to " +
      "send the rest; please keep this page open.",
    writing: "Writing down what you said…",
    heard: "Here is what we heard. You can change it before sending.",
    notHeard: "Your recording is kept, but we could not write down what you said. " +
      "Please type your answer in the box, then send it.",
    discarded: "The recording was thrown away. You can record again or type your answer.",
    failed: "Something went wrong with the recording. Please try again, or type your answer."
  };

  function supported() {
    return !!(window.MediaRecorder && navigator.mediaDevices &&
      navigator.mediaDevices.getUserMedia && window.fetch && window.FormData &&
      window.Promise);
  }

  function chooseMimeType() {
    if (typeof MediaRecorder.isTypeSupported !== "function") return "";
    for (var i = 0; i < MIME_TYPES.length; i++) {
      if (MediaRecorder.isTypeSupported(MIME_TYPES[i])) return MIME_TYPES[i];
    }
    return "";
  }

  function clock(ms) {
    var seconds = Math.max(0, Math.floor(ms / 1000));
    var rest = seconds % 60;
    return Math.floor(seconds / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function Problem(message) { this.message = message; }

  async function messageFrom(response, fallback) {
    try {
      var data = await response.json();
      return data.message || data.error || fallback;
    } catch (e) {
      return fallback;
    }
  }

  function setup(root, form) {
    var token = (form.querySelector("input[name=csrf_token]") || {}).value || "";
    var box = form.querySelector("textarea[name=answer]");
    var toggle = root.querySelector("[data-recorder-toggle]");
    var controls = root.querySelector("[data-recorder-controls]");
    var timer = root.querySelector("[data-recorder-timer]");
    var level = root.querySelector("[data-recorder-level]");
    var status = root.querySelector("[data-recorder-status]");
    var resume = root.querySelector("[data-recorder-resume]");
    var result = root.querySelector("[data-recorder-result]");
    var audio = root.querySelector("[data-recorder-audio]");
    var idInput = root.querySelector("[data-recorder-id]");
    var sendButtons = form.querySelectorAll("button[name=action]");
    var createUrl = root.getAttribute("data-create-url");
    var interactionId = root.getAttribute("data-interaction-id");
    var mimeType = chooseMimeType();

    var rec = null; // the server's JSON for the recording being made
    var stream = null;
    var mediaRecorder = null;
    var meter = null; // {context, analyser, samples}
    var ticker = null;
    var nextSeq = 0;
    var segment = 0;
    var baseMs = 0; // length recorded before the current segment
    var startedAt = 0;
    var pending = new Map(); // seq -> {blob, segment, durationMs, sending}
    var inserted = ""; // the transcript as put into the answer box
    var busy = false;

    function say(text) { status.textContent = text; }

    function headers(extra) {
      var h = { "X-CSRFToken": token, Accept: "application/json" };
      for (var k in extra || {}) h[k] = extra[k];
      return h;
    }

    function formBody(fields) {
      var body = new FormData();
      body.append("csrf_token", token);
      for (var k in fields) body.append(k, String(fields[k]));
      return body;
    }

    function post(url, fields) {
      return fetch(url, {
        method: "POST", body: formBody(fields || {}), headers: headers(),
        credentials: "same-origin"
      });
    }

    function elapsed() {
      return baseMs + (mediaRecorder ? performance.now() - startedAt : 0);
    }

    function setBusy(value) {
      busy = value;
      // Sending the answer while the recording is still being made would leave it behind.
      sendButtons.forEach(function (b) { b.disabled = value; });
      root.classList.toggle("recorder-busy", value);
    }

    function showRecording(on) {
      root.classList.toggle("recorder-is-recording", on);
      toggle.textContent = on ? "Stop" : "Record";
      toggle.setAttribute("aria-pressed", on ? "true" : "false");
      toggle.classList.toggle("button-danger", on);
      toggle.classList.toggle("button-primary", !on);
    }

    // ---- The level meter and the timer ------------------------------------------------
    function startMeter() {
      var AudioContext = window.AudioContext || window.webkitAudioContext;
      if (AudioContext) {
        try {
          var context = new AudioContext();
          var analyser = context.createAnalyser();
          analyser.fftSize = 1024;
          context.createMediaStreamSource(stream).connect(analyser);
          meter = { context: context, analyser: analyser, samples: new Uint8Array(1024) };
        } catch (e) {
          meter = null;
        }
      }
      var lastMinute = 0;
      ticker = setInterval(function () {
        var ms = elapsed();
        timer.textContent = clock(ms);
        var minute = Math.floor(ms / 60000);
        // Announced once a minute (a screen reader reading every second would drown speech).
        if (minute !== lastMinute) { lastMinute = minute; say("Recording… " + clock(ms)); }
        if (!meter) return;
        meter.analyser.getByteTimeDomainData(meter.samples);
        var sum = 0;
        for (var i = 0; i < meter.samples.length; i++) {
          var v = (meter.samples[i] - 128) / 128;
          sum += v * v;
        }
        level.value = Math.min(1, Math.sqrt(sum / meter.samples.length) * 4);
      }, 100);
    }

    function stopMeter() {
      clearInterval(ticker);
      ticker = null;
      level.value = 0;
      if (meter) { meter.context.close(); meter = null; }
    }

    function releaseMicrophone() {
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      stream = null;
    }

    // ---- Talking to the server ---------------------------------------------------------
    async function openRecording() {
      var response = await post(createUrl, { interaction_id: interactionId, mime_type: mimeType });
      if (!response.ok) throw new Problem(await messageFrom(response, SAY.failed));
      return response.json();
    }

    // PUT one piece until the server has it. Network trouble and 5xx: try again, waiting longer
    // each time (the piece stays in `pending`). A 4xx is final: it is reported, not repeated.
    function send(seq) {
      var item = pending.get(seq);
      if (!item) return Promise.resolve(true);
      if (item.sending) return item.sending;
      item.sending = (async function () {
        var wait = FIRST_RETRY_MS;
        for (;;) {
          var response = null;
          try {
            response = await fetch(rec.chunk_url + seq, {
              method: "PUT",
              body: item.blob,
              credentials: "same-origin",
              keepalive: item.blob.size < KEEPALIVE_LIMIT,
              headers: headers({
                "Content-Type": item.blob.type || mimeType || "application/octet-stream",
                "X-Segment": String(item.segment),
                // The first piece of each MediaRecorder run carries its own container header.
                "X-Segment-Start": item.first ? "1" : "0",
                "X-Duration-Ms": String(Math.round(item.durationMs))
              })
            });
          } catch (e) {
            response = null;
          }
          if (response && response.ok) {
            pending.delete(seq);
            return true;
          }
          if (response && response.status >= 400 && response.status < 500 &&
              response.status !== 408 && response.status !== 429) {
            item.problem = await messageFrom(response, SAY.failed);
            item.sending = null;
            return false;
          }
          item.retrying = true;
          if (!mediaRecorder) say(SAY.offline);
          await sleep(wait);
          wait = Math.min(wait * 2, MAX_RETRY_MS);
        }
      })();
      return item.sending;
    }

    function keep(blob) {
      var seq = nextSeq++;
      pending.set(seq, {
        blob: blob, segment: segment, first: seq === segment, durationMs: elapsed(), sending: null
      });
      send(seq);
    }

    async function sendEverything() {
      var all = [];
      pending.forEach(function (item, seq) { all.push(send(seq)); });
      var outcomes = await Promise.all(all);
      return outcomes.every(Boolean);
    }

    // Ask the server to put the pieces together. Missing pieces we still hold are sent again;
    // pieces nobody has any more are given up (accept_missing) so the rest is not lost.
    async function finish(chunkCount, durationMs, acceptMissing) {
      say(SAY.uploading);
      var message = SAY.failed;
      for (var attempt = 0; attempt < 4; attempt++) {
        var fields = { chunk_count: chunkCount, duration_ms: Math.round(durationMs) };
        if (acceptMissing) fields.accept_missing = "1";
        var response = await post(rec.finish_url, fields);
        if (response.ok) return response.json();
        if (response.status !== 409) throw new Problem(await messageFrom(response, SAY.failed));
        var data = {};
        try { data = await response.json(); } catch (e) { data = {}; }
        message = data.message || message;
        // Finished already (another tab) or thrown away: its status says which.
        if (!data.missing || !data.missing.length) return { status: "transcribing" };
        var ours = data.missing.filter(function (seq) { return pending.has(seq); });
        if (ours.length && attempt < 2) {
          await Promise.all(ours.map(send));
        } else {
          acceptMissing = true;
        }
      }
      throw new Problem(message);
    }

    async function waitForTranscript(data) {
      say(SAY.writing);
      while (FINISHED.indexOf(data.status) === -1) {
        if (data.status === "discarded") throw new Problem(SAY.discarded);
        await sleep(POLL_MS);
        var response = await fetch(rec.status_url, {
          headers: headers(), credentials: "same-origin"
        });
        if (!response.ok) throw new Problem(await messageFrom(response, SAY.failed));
        data = await response.json();
      }
      return data;
    }

    // ---- What the storyteller sees ------------------------------------------------------
    function editedKey() { return "recording-edited-" + (rec ? rec.id : ""); }

    function remembered(key) {
      try { return window.localStorage.getItem(key) === "1"; } catch (e) { return false; }
    }

    function remember(key) {
      try { window.localStorage.setItem(key, "1"); } catch (e) { /* private mode: fine */ }
    }

    box.addEventListener("input", function () {
      if (inserted && rec) remember(editedKey());
    });

    function showResult(data) {
      idInput.value = rec.id;
      if (data.audio_url) {
        audio.src = data.audio_url;
        audio.load();
      }
      result.hidden = false;
      controls.hidden = true;
      resume.hidden = true;
      var transcript = (data.transcript || "").trim();
      if (transcript) {
        // Not autosaved as a draft (that would race with Discard): the server keeps the
        // transcript and after a reload it is put back here, unless the storyteller has
        // changed it since (their edits are autosaved as usual: the draft has their version).
        if (box.value.indexOf(transcript) === -1 && !remembered(editedKey())) {
          var before = box.value.trim();
          box.value = before ? before + "\n\n" + transcript : transcript;
        }
        inserted = transcript;
        say(SAY.heard);
      } else {
        say(SAY.notHeard);
      }
    }

    function reset() {
      rec = null;
      pending.clear();
      idInput.value = "";
      audio.removeAttribute("src");
      audio.load(); // stop fetching the thrown-away audio
      result.hidden = true;
      resume.hidden = true;
      controls.hidden = false;
      timer.textContent = "0:00";
      if (inserted && box.value.indexOf(inserted) !== -1) {
        box.value = box.value.replace(inserted, "").trim();
      }
      inserted = "";
    }

    async function complete(chunkCount, durationMs, acceptMissing) {
      setBusy(true);
      try {
        var data = await finish(chunkCount, durationMs, acceptMissing);
        data = await waitForTranscript(data);
        showResult(data);
      } catch (e) {
        say(e instanceof Problem ? e.message : SAY.failed);
      } finally {
        setBusy(false);
      }
    }

    async function start() {
      setBusy(true);
      toggle.disabled = true;
      say(SAY.preparing);
      try {
        stream = await navigator.mediaDevices.getUserMedia({
          audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false }
        });
      } catch (e) {
        say(SAY.noMicrophone);
        toggle.disabled = false;
        setBusy(false);
        return;
      }
      try {
        rec = await openRecording();
      } catch (e) {
        releaseMicrophone();
        say(e instanceof Problem ? e.message : SAY.failed);
        toggle.disabled = false;
        setBusy(false);
        return;
      }
      var received = rec.received || [];
      nextSeq = received.length ? Math.max.apply(null, received) + 1 : 0;
      segment = nextSeq; // a segment is named by its first piece: unique and increasing
      baseMs = rec.duration_ms || 0;
      var options = { audioBitsPerSecond: 64000 };
      if (mimeType) options.mimeType = mimeType;
      mediaRecorder = new MediaRecorder(stream, options);
      mediaRecorder.addEventListener("dataavailable", function (event) {
        if (event.data && event.data.size) keep(event.data);
      });
      mediaRecorder.start(TIMESLICE_MS);
      startedAt = performance.now();
      resume.hidden = true;
      controls.hidden = false;
      result.hidden = true;
      showRecording(true);
      startMeter();
      toggle.disabled = false;
      say(baseMs ? "Recording again… " + clock(baseMs) : "Recording…");
    }

    async function stop() {
      toggle.disabled = true;
      var durationMs = elapsed();
      await new Promise(function (resolve) {
        mediaRecorder.addEventListener("stop", resolve, { once: true });
        mediaRecorder.stop();
      });
      mediaRecorder = null;
      baseMs = durationMs;
      stopMeter();
      releaseMicrophone();
      showRecording(false);
      toggle.disabled = false;
      say(SAY.uploading);
      var allSent = await sendEverything();
      if (!allSent) {
        var problem = null;
        pending.forEach(function (item) { problem = problem || item.problem; });
        say(problem || SAY.failed);
      }
      await complete(nextSeq, durationMs, !allSent);
    }

    toggle.addEventListener("click", function () {
      if (mediaRecorder) stop();
      else if (!busy) start();
    });

    // ---- A recording left from before a reload -------------------------------------------
    var recordingUrl = root.getAttribute("data-recording-url");

    async function discard() {
      var url = rec && rec.discard_url ? rec.discard_url : recordingUrl + "/discard";
      setBusy(true);
      try {
        var response = await post(url);
        if (!response.ok) throw new Problem(await messageFrom(response, SAY.failed));
        reset();
        say(SAY.discarded);
      } catch (e) {
        say(e instanceof Problem ? e.message : SAY.failed);
      } finally {
        setBusy(false);
      }
    }

    root.querySelector("[data-recorder-continue]").addEventListener("click", function () {
      if (!busy) start();
    });
    root.querySelector("[data-recorder-send-as-is]").addEventListener("click", async function () {
      if (busy) return;
      try {
        rec = await openRecording();
      } catch (e) {
        say(e instanceof Problem ? e.message : SAY.failed);
        return;
      }
      var received = rec.received || [];
      var count = received.length ? Math.max.apply(null, received) + 1 : 0;
      await complete(count, rec.duration_ms || 0, true);
    });
    root.querySelector("[data-recorder-discard]").addEventListener("click", function () {
      if (!busy) discard();
    });
    root.querySelector("[data-recorder-again]").addEventListener("click", function () {
      if (!busy) discard();
    });

    async function restore() {
      var state = root.getAttribute("data-recording-status");
      if (!recordingUrl || state === "recording") return;
      // Finished before the reload: show it again (still being written down, or done).
      var response = await fetch(recordingUrl, { headers: headers(), credentials: "same-origin" });
      if (!response.ok) return;
      var data = await response.json();
      rec = data;
      rec.status_url = rec.status_url || recordingUrl;
      setBusy(true);
      try {
        showResult(await waitForTranscript(data));
      } catch (e) {
        say(e instanceof Problem ? e.message : SAY.failed);
      } finally {
        setBusy(false);
      }
    }

    // Pieces the server has not taken yet live only in this page: ask before leaving it.
    window.addEventListener("beforeunload", function (event) {
      var stuck = false;
      pending.forEach(function (item) { stuck = stuck || !!item.retrying; });
      if (stuck) { event.preventDefault(); event.returnValue = ""; }
    });

    root.hidden = false;
    restore();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-recorder]");
    var form = root && root.closest("form");
    if (!root || !form || !supported()) return;
    setup(root, form);
  });
})();
