/*
 * Storyteller: the errors page's chart, errors per day stacked by kind (Chart.js, vendored).
 * No inline script: the figures come from <script type="application/json"
 * id="error-chart-data"> ({labels: [...days], series: [{label, values}]}), drawn on
 * <canvas id="error-chart">. The same numbers are in a table on the page and as CSV.
 */
(function () {
  "use strict";

  // Okabe-Ito: colours told apart by people with the common colour-vision differences.
  var COLOURS = ["#D55E00", "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#555555", "#F0E442"];

  function draw() {
    var canvas = document.getElementById("error-chart");
    var source = document.getElementById("error-chart-data");
    if (!canvas || !source || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.series.map(function (s, i) {
          return { label: s.label, data: s.values, backgroundColor: COLOURS[i % COLOURS.length] };
        }),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { stacked: true, ticks: { font: { size: 14 } } },
          y: {
            stacked: true,
            beginAtZero: true,
            ticks: { precision: 0, font: { size: 14 } },
            title: { display: true, text: "Errors", font: { size: 14 } },
          },
        },
        plugins: { legend: { labels: { font: { size: 15 } } } },
      },
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
