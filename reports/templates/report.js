// Sortable tables (click a header; empty cells always last) and the leaderboard's subset tabs.
// Plain DOM, no library: the report must work offline from one file.
(function () {
  function key(cell) {
    if (!cell) return null;
    var raw = cell.getAttribute("data-v");
    if (raw === null) raw = cell.textContent.trim();
    if (raw === "" || raw === "—") return null;
    var num = Number(raw);
    return isNaN(num) ? raw.toLowerCase() : num;
  }
  // The cell under column `index`; null inside a spanning cell (a model with no scores sorts last).
  function cellAt(row, index) {
    var column = 0;
    for (var k = 0; k < row.cells.length; k++) {
      var cell = row.cells[k];
      if (column === index && cell.colSpan === 1) return cell;
      column += cell.colSpan;
      if (column > index) return null;
    }
    return null;
  }
  function sortBy(table, th) {
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var descending = !th.classList.contains("desc");
    table.querySelectorAll("th[data-sort]").forEach(function (h) { h.classList.remove("asc", "desc"); });
    th.classList.add(descending ? "desc" : "asc");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(cellAt(a, index)), y = key(cellAt(b, index));
      if (x === null) return y === null ? 0 : 1;
      if (y === null) return -1;
      var order = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th[data-sort]").forEach(function (th) {
      th.addEventListener("click", function () { sortBy(table, th); });
    });
  });
  document.querySelectorAll(".tabs").forEach(function (tabs) {
    tabs.querySelectorAll("button").forEach(function (button) {
      button.addEventListener("click", function () {
        tabs.querySelectorAll("button").forEach(function (b) { b.classList.remove("active"); });
        button.classList.add("active");
        document.querySelectorAll("[data-tab-group='" + tabs.id + "']").forEach(function (panel) {
          panel.classList.toggle("active", panel.id === button.getAttribute("data-target"));
        });
      });
    });
  });
  // Set last: a page without it had a script error (the browser test checks for it).
  document.documentElement.setAttribute("data-report-ready", "1");
})();
