/*
 * Storyteller: the admin dashboards' charts (Chart.js, vendored). No inline script: the
 * figures come from <script type="application/json" id="dashboard-data">, and each
 * <canvas data-chart="..."> says which chart to draw. Every chart has a table of the same
 * numbers right under it, so the page is complete without JavaScript.
 */
(function () {
  "use strict";

  // Okabe-Ito: colours told apart by people with the common colour-vision differences.
  var COLOURS = {
    blue: "#0072B2",
    orange: "#E69F00",
    green: "#009E73",
    vermillion: "#D55E00",
    purple: "#CC79A7",
    sky: "#56B4E9",
    grey: "#555555",
  };

  function bars(label, data, colour, stack) {
    return { type: "bar", label: label, data: data, backgroundColor: colour, stack: stack };
  }

  function line(label, data, colour, dashed) {
    return {
      type: "line",
      label: label,
      data: data,
      borderColor: colour,
      backgroundColor: colour,
      borderWidth: 3,
      pointRadius: 4,
      borderDash: dashed ? [8, 6] : [],
      spanGaps: true,
    };
  }

  var CHARTS = {
    "llm-calls": function (d) {
      return {
        datasets: [
          bars("Succeeded", d.calls, COLOURS.blue, "calls"),
          bars("Failed", d.failed, COLOURS.vermillion, "calls"),
          line("Fell back", d.fallbacks, COLOURS.orange, true),
        ],
        y: "Calls",
        stacked: true,
      };
    },
    "llm-cost": function (d) {
      return {
        datasets: [bars("Cost of priced calls (US$)", d.cost, COLOURS.green)],
        y: "US dollars",
      };
    },
    "llm-speed": function (d) {
      return {
        datasets: [
          line("Latency, half within (ms)", d.latency_p50, COLOURS.blue),
          line("Latency, 95% within (ms)", d.latency_p95, COLOURS.vermillion),
          line("First token, half within (ms)", d.ttft_p50, COLOURS.sky, true),
          line("First token, 95% within (ms)", d.ttft_p95, COLOURS.purple, true),
        ],
        y: "Milliseconds",
      };
    },
    "session-counts": function (d) {
      return {
        datasets: [
          bars("Scheduled", d.scheduled, COLOURS.sky),
          bars("Started", d.started, COLOURS.blue),
          bars("Completed", d.completed, COLOURS.green),
          bars("Abandoned", d.abandoned, COLOURS.vermillion),
        ],
        y: "Sessions",
      };
    },
    "session-quality": function (d) {
      return {
        datasets: [
          line("Completion (%)", d.completion, COLOURS.blue),
          line("Quality score (%)", d.quality, COLOURS.green, true),
          line("Satisfaction (out of 100)", d.satisfaction, COLOURS.orange),
        ],
        y: "Out of 100",
      };
    },
    "session-artifacts": function (d) {
      return {
        datasets: [
          bars("Created per session", d.artifacts, COLOURS.blue),
          bars("Approved per session", d.approved, COLOURS.green),
        ],
        y: "Per session",
      };
    },
  };

  function draw(canvas, data) {
    var build = CHARTS[canvas.getAttribute("data-chart")];
    if (!build) return;
    var spec = build(data);
    var big = { size: 16 };
    new window.Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: spec.datasets },
      options: {
        responsive: true,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom", labels: { font: big, boxWidth: 24 } },
          tooltip: { titleFont: big, bodyFont: big },
        },
        scales: {
          x: { stacked: !!spec.stacked, ticks: { font: big, maxRotation: 60 } },
          y: {
            stacked: !!spec.stacked,
            beginAtZero: true,
            title: { display: true, text: spec.y, font: big },
            ticks: { font: big },
          },
        },
      },
    });
  }

  // A long table by day scrolls in its box: open it at its end, the latest days.
  function showLatestDays() {
    var boxes = document.querySelectorAll(".table-long.by-day");
    for (var i = 0; i < boxes.length; i += 1) boxes[i].scrollTop = boxes[i].scrollHeight;
  }

  function start() {
    showLatestDays();
    var source = document.getElementById("dashboard-data");
    if (!source || !window.Chart) return;
    var data;
    try {
      data = JSON.parse(source.textContent);
    } catch (error) {
      return; // the tables are still there
    }
    window.Chart.defaults.font.size = 16;
    window.Chart.defaults.color = "#222222";
    var canvases = document.querySelectorAll("canvas[data-chart]");
    for (var i = 0; i < canvases.length; i += 1) draw(canvases[i], data);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
