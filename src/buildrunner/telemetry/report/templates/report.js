/* BuildRunner report: sortable tables, task filters, chart-to-table highlighting.
   The page is complete without this script; it only adds ways to look at it. */
(function () {
  "use strict";
  var doc = document;

  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) { return ""; }
    var raw = cell.getAttribute("data-value");
    return raw !== null ? raw : cell.textContent.trim();
  }

  function sortBy(header) {
    var table = header.closest("table");
    var body = table.tBodies[0];
    var index = Array.prototype.indexOf.call(header.parentNode.children, header);
    var numeric = header.getAttribute("data-sort") === "number";
    var ascending = !header.classList.contains("sorted-asc");
    Array.prototype.forEach.call(header.parentNode.children, function (th) {
      th.classList.remove("sorted-asc", "sorted-desc");
    });
    header.classList.add(ascending ? "sorted-asc" : "sorted-desc");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index), y = cellValue(b, index);
      var order = numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
      return ascending ? order : -order;
    });
    var fragment = doc.createDocumentFragment();
    rows.forEach(function (row) { fragment.appendChild(row); });
    body.appendChild(fragment);
  }

  doc.addEventListener("click", function (event) {
    var header = event.target.closest("th[data-sort]");
    if (header) { sortBy(header); }
  });

  /* task filters: by status and by text */
  var taskTable = doc.getElementById("task-table");
  var search = doc.getElementById("task-search");
  var counter = doc.getElementById("visible-count");
  var chosen = "all";

  function applyFilters() {
    if (!taskTable) { return; }
    var needle = search ? search.value.trim().toLowerCase() : "";
    var shown = 0;
    Array.prototype.forEach.call(taskTable.tBodies[0].rows, function (row) {
      var statusOk = chosen === "all" || row.getAttribute("data-status") === chosen;
      var textOk = !needle || row.textContent.toLowerCase().indexOf(needle) !== -1;
      row.hidden = !(statusOk && textOk);
      if (!row.hidden) { shown += 1; }
    });
    if (counter) { counter.textContent = String(shown); }
  }

  Array.prototype.forEach.call(doc.querySelectorAll("button[data-status]"), function (button) {
    button.addEventListener("click", function () {
      chosen = button.getAttribute("data-status");
      Array.prototype.forEach.call(doc.querySelectorAll("button[data-status]"), function (other) {
        other.setAttribute("aria-pressed", other === button ? "true" : "false");
      });
      applyFilters();
    });
  });
  if (search) { search.addEventListener("input", applyFilters); }

  var onlyCritical = doc.getElementById("only-critical");
  if (onlyCritical) {
    onlyCritical.addEventListener("change", function () {
      doc.body.classList.toggle("only-critical", onlyCritical.checked);
    });
  }

  /* hovering a bar lights up the task's other bars and its table row */
  var lit = [];
  function light(taskId) {
    lit.forEach(function (node) { node.classList.remove("hover"); });
    lit = [];
    if (!taskId) { return; }
    lit = Array.prototype.slice.call(doc.querySelectorAll('[data-task="' + CSS.escape(taskId) + '"]'));
    var row = doc.getElementById("task-" + taskId);
    if (row) { lit.push(row); }
    lit.forEach(function (node) { node.classList.add("hover"); });
  }
  var chart = doc.getElementById("gantt");
  if (chart) {
    chart.addEventListener("mouseover", function (event) {
      var bar = event.target.closest("[data-task]");
      light(bar ? bar.getAttribute("data-task") : null);
    });
    chart.addEventListener("mouseleave", function () { light(null); });
  }

  /* a link to a log opens its excerpt */
  function openTarget() {
    var target = location.hash ? doc.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
    if (target && target.tagName === "DETAILS") { target.open = true; }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();

  applyFilters();
  doc.documentElement.setAttribute("data-ready", "1");
})();
