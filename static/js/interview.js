// The interview page: autosave the answer, stream the next question, read aloud.
// Works without this file too: the forms post normally.
(function () {
  "use strict";

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function setupReadAloud() {
    var button = document.querySelector("[data-read-aloud]");
    var question = document.querySelector("[data-question]");
    if (!button || !question || !("speechSynthesis" in window)) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      window.speechSynthesis.cancel();
      var utterance = new SpeechSynthesisUtterance(question.textContent.trim());
      utterance.rate = 0.9;
      window.speechSynthesis.speak(utterance);
    });
  }

  function setupAutosave(form) {
    var box = form.querySelector("textarea[name=answer]");
    var versionInput = form.querySelector("[data-draft-version]");
    var status = document.getElementById("save-state");
    var url = form.getAttribute("data-draft-url");
    if (!box || !versionInput || !url) return;
    var timer = null;
    var version = parseInt(versionInput.value, 10) || 0;
    var lastSaved = box.value;

    function show(html) { if (status) status.innerHTML = html; }

    function save() {
      timer = null;
      if (box.value === lastSaved) return;
      var content = box.value;
      version = Math.max(version + 1, Date.now());
      var body = new FormData();
      body.append("csrf_token", csrfToken(form));
      body.append("interaction_id", form.querySelector("input[name=interaction_id]").value);
      body.append("answer", content);
      body.append("version", String(version));
      show('<span class="save-state">Saving…</span>');
      fetch(url, { method: "POST", body: body, credentials: "same-origin" })
        .then(function (response) {
          return response.text().then(function (text) {
            show(text);
            if (response.ok) { lastSaved = content; versionInput.value = String(version); }
          });
        })
        .catch(function () {
          show('<span class="save-state save-state-error">Not saved yet: no connection. Your text is still here; we will try again.</span>');
          schedule();
        });
    }

    function schedule() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(save, 1200);
    }

    box.addEventListener("input", function () {
      show('<span class="save-state">Not saved yet</span>');
      schedule();
    });
    // The answer itself carries the text: a draft saved after it would be refused (409).
    form.addEventListener("submit", function () { clearTimeout(timer); timer = null; });
    window.addEventListener("beforeunload", function () { if (timer) save(); });
  }

  function setupStreaming(form) {
    var streaming = document.querySelector("[data-streaming]");
    var submitter = null;
    form.addEventListener("click", function (event) {
      if (event.target && event.target.name === "action") submitter = event.target;
    });
    form.addEventListener("submit", function (event) {
      if (!window.fetch || !window.ReadableStream || !streaming) return;
      event.preventDefault();
      var body = new FormData(form);
      if (submitter) body.set("action", submitter.value);
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      streaming.hidden = false;
      streaming.textContent = "Saving your answer…";
      fetch(form.getAttribute("action"), {
        method: "POST", body: body, credentials: "same-origin",
        headers: { Accept: "text/event-stream" }
      }).then(function (response) {
        if (!response.ok || !response.body ||
            (response.headers.get("Content-Type") || "").indexOf("text/event-stream") !== 0) {
          window.location.href = response.url || window.location.href;
          return;
        }
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        var question = "";
        function handle(block) {
          var name = "message", data = "";
          block.split("\n").forEach(function (line) {
            if (line.indexOf("event: ") === 0) name = line.slice(7);
            else if (line.indexOf("data: ") === 0) data += line.slice(6);
          });
          var payload = data ? JSON.parse(data) : {};
          if (name === "saved") streaming.textContent = "Saved. The next question is coming…";
          else if (name === "delta") { question += payload.text; streaming.textContent = question; }
          else if (name === "done") window.location.href = payload.url;
        }
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) return;
            buffer += decoder.decode(chunk.value, { stream: true });
            var parts = buffer.split("\n\n");
            buffer = parts.pop();
            parts.forEach(handle);
            return pump();
          });
        }
        return pump();
      }).catch(function () { window.location.reload(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupReadAloud();
    var form = document.querySelector("[data-answer-form]");
    if (form) { setupAutosave(form); setupStreaming(form); }
  });
})();
