/* Herald UI behaviour: placeholder picker and Chart.js charts fed by server-rendered JSON. */
(function () {
  "use strict";

  // Placeholder picker: <button data-insert="{{first_name}}" data-target="id_text">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-insert]");
    if (!button) return;
    event.preventDefault();
    var field = document.getElementById(button.dataset.target);
    if (!field) return;
    var start = field.selectionStart == null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd == null ? field.value.length : field.selectionEnd;
    var text = button.dataset.insert;
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    field.focus();
    field.selectionStart = field.selectionEnd = start + text.length;
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });

  // The main menu starts folded on a phone (details is open in the HTML, so it works without JS).
  function foldMenu() {
    var menu = document.querySelector("[data-menu]");
    if (menu && window.matchMedia("(max-width: 640px)").matches) menu.removeAttribute("open");
  }
  document.addEventListener("DOMContentLoaded", foldMenu);

  // The browser's time zone, for people who have not chosen one (ui/timezones.py reads it).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("herald_tz=" + zone) === -1) {
      document.cookie = "herald_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) { /* no Intl: the server's zone is used */ }

  var charts = {};
  var COLORS = ["#9aa3af", "#f0b400", "#5b8def", "#1b7f3b", "#b42318", "#8e44ad", "#e67e22", "#7f8c8d", "#34495e"];

  // <canvas data-chart="ID" data-kind="bar"> reads <script type="application/json" id="ID">.
  function draw(root) {
    if (typeof Chart === "undefined") return;
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.dataset.chart);
      if (!source) return;
      var data = JSON.parse(source.textContent);
      var key = canvas.id;
      if (charts[key] && charts[key].canvas === canvas) {
        charts[key].data.labels = data.labels;
        data.datasets.forEach(function (set, i) { charts[key].data.datasets[i].data = set.data; });
        charts[key].update();
        return;
      }
      var kind = canvas.dataset.kind || "bar";
      var round = kind === "doughnut" || kind === "pie";
      // A doughnut has no axes; its legend names the slices. Bars have axes and a legend when
      // they show more than one series.
      var scales = round ? {} : { x: { beginAtZero: true }, y: { beginAtZero: true, ticks: { precision: 0 } } };
      charts[key] = new Chart(canvas, {
        type: kind,
        data: {
          labels: data.labels,
          datasets: data.datasets.map(function (set, i) {
            var color = set.colors || COLORS[(i + 2) % COLORS.length];
            return { label: set.label, data: set.data, backgroundColor: color,
                     borderColor: kind === "line" ? color : undefined, spanGaps: true };
          })
        },
        options: { responsive: true, maintainAspectRatio: false, animation: { duration: 300 },
                   indexAxis: canvas.dataset.axis || "x",
                   plugins: { legend: { display: round || data.datasets.length > 1,
                                        position: round ? "right" : "top" } },
                   scales: scales }
      });
    });
  }
  // Phones: tables stack into cards (herald.css); each cell carries its column's header.
  function labelCells() {
    document.querySelectorAll(".table-wrap table").forEach(function (table) {
      var heads = [];
      table.querySelectorAll("thead th").forEach(function (th) { heads.push(th.textContent.trim()); });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (cell, i) {
          if (!cell.hasAttribute("data-label") && !cell.hasAttribute("colspan")) {
            cell.setAttribute("data-label", heads[i] || "");
            // The labelled cell is a two-column grid: each child node would be its own grid
            // item, so "status · error" split into rows with the " · " under the label, and a
            // badge stretched across the card. One wrapper keeps the value as one flow.
            if (cell.childNodes.length) {
              var value = document.createElement("span");
              value.className = "cell-value";
              value.append.apply(value, Array.prototype.slice.call(cell.childNodes));
              cell.appendChild(value);
            }
          }
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(); labelCells(); });
  document.addEventListener("htmx:afterSettle", function () { draw(); labelCells(); });
})();

/* <select data-autosubmit>: submit its form on change (no inline handler under the CSP). */
document.addEventListener("change", function (event) {
  var field = event.target.closest && event.target.closest("[data-autosubmit]");
  if (field && field.form) field.form.submit();
});
