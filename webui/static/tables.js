// Sortable and filterable tables (progressive enhancement): a table marked data-sortable gets a sort button in
// each column header; one marked data-filterable gets a text box that hides the rows not containing its text.
// No inline script anywhere (the Content-Security-Policy forbids it); without this file the tables still work.
(function () {
  "use strict";

  var collator = new Intl.Collator("zh-Hant", { numeric: true });

  function cellValue(row, index) {
    var cell = row.children[index];
    if (!cell) return "";
    var given = cell.getAttribute("data-sort");
    return (given !== null ? given : cell.textContent).trim();
  }

  function asNumber(text) {
    if (text === "" || text === "—") return 0;
    var n = Number(text.replace(/,/g, ""));
    return isNaN(n) ? null : n;
  }

  function sortBy(table, index, button) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var th = button.closest("th");
    var descending = th.getAttribute("aria-sort") === "ascending";
    var numeric = rows.every(function (r) { return asNumber(cellValue(r, index)) !== null; });
    rows.sort(function (a, b) {
      var x = cellValue(a, index), y = cellValue(b, index);
      var d = numeric ? asNumber(x) - asNumber(y) : collator.compare(x, y);
      return descending ? -d : d;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }

  function makeSortable(table) {
    if (!table.tHead || !table.tBodies.length) return;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      if (th.querySelector("a")) {  // keep the header's link; sort with a small button beside it
        button.textContent = "⇅";
        button.setAttribute("aria-label", "依「" + th.textContent.trim() + "」排序");
        th.appendChild(button);
      } else {
        button.textContent = th.textContent.trim();
        button.title = "依此欄排序";
        th.textContent = "";
        th.appendChild(button);
      }
      button.addEventListener("click", function () { sortBy(table, index, button); });
    });
  }

  function makeFilterable(table) {
    var body = table.tBodies[0];
    if (!body) return;
    var box = document.createElement("div");
    box.className = "table-filter";
    var input = document.createElement("input");
    input.type = "search";
    input.placeholder = table.getAttribute("data-filter-placeholder") || "篩選此表…";
    input.setAttribute("aria-label", "篩選表格");
    var shown = document.createElement("span");
    shown.className = "hint";
    shown.setAttribute("aria-live", "polite");
    box.appendChild(input);
    box.appendChild(shown);
    var anchor = table.closest(".table-wrap, .heatmap-wrap") || table;
    anchor.parentNode.insertBefore(box, anchor);
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      var visible = 0;
      Array.prototype.forEach.call(body.rows, function (r) {
        var hit = !needle || r.textContent.toLowerCase().indexOf(needle) !== -1;
        r.hidden = !hit;
        if (hit) visible += 1;
      });
      shown.textContent = needle ? "顯示 " + visible + " / " + body.rows.length + " 列" : "";
    });
  }

  // The gap analysis form: only the chosen agency's plans are offered.
  function linkPlanToAgency() {
    var agency = document.getElementById("gap-agency");
    var plan = document.getElementById("gap-plan");
    if (!agency || !plan) return;
    function update() {
      Array.prototype.forEach.call(plan.options, function (o) {
        var owner = o.getAttribute("data-agency");
        o.hidden = owner !== null && owner !== agency.value;
      });
      var current = plan.options[plan.selectedIndex];
      if (current && current.hidden) plan.value = "";
    }
    agency.addEventListener("change", update);
    update();
  }

  document.querySelectorAll("table[data-sortable]").forEach(makeSortable);
  document.querySelectorAll("table[data-filterable]").forEach(makeFilterable);
  linkPlanToAgency();
})();
