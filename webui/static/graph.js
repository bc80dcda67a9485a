/* The graph view: find a start node, click to expand neighbours, filter types, double-click to open a page.
   Every label comes from plan data, so text reaches the page only through textContent, never innerHTML. */
(function () {
  "use strict";
  var COLOURS = {
    programme: "#8e44ad", plan: "#1f3a5f", agency: "#c0392b", unit: "#e67e22", measure: "#7f8c8d",
    system: "#138d75", practice: "#2e86c1", framework: "#27ae60", law: "#b7950b"
  };
  var SIZES = { agency: 46, plan: 40, programme: 34, unit: 34, practice: 34, system: 30, framework: 30, law: 26, measure: 20 };

  var box = document.getElementById("cy");
  var findUrl = box.dataset.findUrl, nodeUrl = box.dataset.nodeUrl;
  var statusEl = document.getElementById("graph-status");
  var selectedEl = document.getElementById("graph-selected");
  var openBtn = document.getElementById("graph-open");
  var layoutSel = document.getElementById("graph-layout");
  var selected = null;

  var style = [
    { selector: "node", style: {
      "background-color": function (n) { return COLOURS[n.data("type")] || "#999"; },
      "width": function (n) { return SIZES[n.data("type")] || 24; },
      "height": function (n) { return SIZES[n.data("type")] || 24; },
      // Hubs get larger labels; labels too small to read at the current zoom are dropped, so a few hundred
      // nodes show their hubs' names in overview and every name once zoomed in.
      "label": "data(short)", "font-size": function (n) { return n.data("type") === "measure" ? 10 : 13; },
      "min-zoomed-font-size": 8, "color": "#1b1b1b",
      "font-family": "Noto Sans CJK TC, Noto Sans TC, Microsoft JhengHei, PingFang TC, sans-serif",
      "text-valign": "bottom", "text-margin-y": 3, "text-wrap": "ellipsis", "text-max-width": 120,
      "text-background-color": "#ffffff", "text-background-opacity": 0.75, "text-background-padding": 1,
      "border-width": 0
    } },
    { selector: "node.expanded", style: { "border-width": 3, "border-color": "#111" } },
    { selector: "node:selected", style: { "border-width": 4, "border-color": "#f1c40f" } },
    { selector: "node.hidden", style: { "display": "none" } },
    { selector: "edge", style: {
      "width": 1.2, "line-color": "#b8c2cc", "curve-style": "haystack", "haystack-radius": 0,
      "font-size": 9, "color": "#555"
    } },
    { selector: "edge.near", style: { "line-color": "#566573", "width": 2 } },
    { selector: "edge.labelled, edge.hover", style: { "label": "data(label)", "text-background-color": "#fff",
      "text-background-opacity": 0.85, "text-rotation": "autorotate" } }
  ];

  var cy = cytoscape({ container: box, elements: [], style: style, minZoom: 0.1, maxZoom: 3,
                       boxSelectionEnabled: false });
  window.kgGraph = cy;  // for the end-to-end tests and for planners poking at the console

  function checkedTypes() {
    var out = {};
    document.querySelectorAll("#graph-types input[type=checkbox]").forEach(function (c) { out[c.value] = c.checked; });
    return out;
  }

  // Nearly every organisation and plan name starts with the city's; on the canvas it only costs room.
  function shortLabel(s) {
    var t = s.length > 8 ? s.replace(/^高雄市政府/, "").replace(/^高雄市/, "") : s;
    return t.length > 16 ? t.slice(0, 15) + "…" : t;
  }

  function setStatus(text) {
    statusEl.textContent = text;
    box.dataset.nodes = String(cy.nodes().length);
  }

  function counts() { return "節點 " + cy.nodes().length + "、連結 " + cy.edges().length; }

  function addNode(n, near) {
    if (cy.getElementById(n.id).length) { return cy.getElementById(n.id); }
    var at = near && near.length ? near.position() : { x: 0, y: 0 };
    var angle = Math.random() * 2 * Math.PI;
    var el = cy.add({ group: "nodes", data: { id: n.id, label: n.label, short: shortLabel(n.label), type: n.type,
                                               typeLabel: n.type_label, url: n.url },
                      position: { x: at.x + 80 * Math.cos(angle), y: at.y + 80 * Math.sin(angle) } });
    if (checkedTypes()[n.type] === false) { el.addClass("hidden"); }
    return el;
  }

  function runLayout() {
    var name = layoutSel.value;
    var visible = cy.elements().not(".hidden").filter(function (e) { return e.isEdge() ? !e.connectedNodes().hasClass("hidden") : true; });
    // A small graph fitted to the canvas would be zoomed far in; keep labels at reading size instead.
    var opts = { name: name, animate: false, fit: true, padding: 30,
                 stop: function () { if (cy.zoom() > 1.2) { cy.zoom(1.2); cy.center(); } } };
    if (name === "cose") {
      opts.nodeRepulsion = function () { return 16000; };
      opts.idealEdgeLength = function () { return 55; };
      opts.nodeOverlap = 8;
      opts.gravity = 1.2;
      opts.numIter = 2000;
      opts.randomize = false;  // keep the picture the planner already has; new nodes start beside their parent
    } else if (name === "concentric") {
      opts.concentric = function (n) { return n.degree(); };
      opts.levelWidth = function () { return 3; };
      opts.minNodeSpacing = 18;
    } else {
      opts.directed = false;
      opts.spacingFactor = 0.9;
    }
    visible.layout(opts).run();
  }

  function select(node) {
    selected = node;
    cy.edges().removeClass("near labelled");
    node.connectedEdges().addClass("near");
    // Relation names on every edge of a hub would pile up unreadably; show them when there are few.
    if (node.connectedEdges().length <= 12) { node.connectedEdges().addClass("labelled"); }
    selectedEl.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = node.data("label");
    var kind = document.createElement("span");
    kind.className = "hint";
    kind.textContent = "（" + node.data("typeLabel") + "）";
    selectedEl.appendChild(strong);
    selectedEl.appendChild(kind);
    openBtn.disabled = false;
  }

  function expand(id) {
    setStatus("載入中…");
    return fetch(nodeUrl + "?id=" + encodeURIComponent(id), { headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (data) {
        var before = cy.nodes().length;
        cy.batch(function () {
          var centre = addNode(data.node);
          centre.addClass("expanded");
          data.neighbours.forEach(function (n) { addNode(n, centre); });
          data.edges.forEach(function (e) {
            var eid = e.source + "|" + e.target;
            if (!cy.getElementById(eid).length) {
              cy.add({ group: "edges", data: { id: eid, source: e.source, target: e.target, label: e.label } });
            }
          });
        });
        runLayout();
        var node = cy.getElementById(data.node.id);
        node.select();
        select(node);
        var added = cy.nodes().length - before;
        setStatus("新增 " + added + " 個節點（" + counts() + "）" + (data.truncated ? "；鄰居過多，只顯示前 " + data.neighbours.length + " 個" : ""));
      })
      .catch(function (err) { setStatus("無法載入節點：" + err.message); });
  }

  // Cytoscape fires dbltap for any two quick taps, even on two different nodes; only a double tap on one node
  // opens its page, so quickly expanding neighbours one after another never navigates away.
  var taps = [null, null];
  cy.on("tap", function (evt) { taps = [taps[1], evt.target === cy ? null : evt.target.id()]; });

  cy.on("tap", "node", function (evt) {
    var node = evt.target;
    select(node);
    if (!node.hasClass("expanded")) { expand(node.id()); }
  });
  cy.on("mouseover", "edge", function (evt) { evt.target.addClass("hover"); });
  cy.on("mouseout", "edge", function (evt) { evt.target.removeClass("hover"); });
  cy.on("dbltap", "node", function (evt) {
    if (taps[0] === evt.target.id() && taps[1] === evt.target.id()) { window.location.href = evt.target.data("url"); }
  });

  openBtn.addEventListener("click", function () { if (selected) { window.location.href = selected.data("url"); } });
  document.getElementById("graph-clear").addEventListener("click", function () {
    cy.elements().remove(); selected = null; openBtn.disabled = true; selectedEl.textContent = ""; setStatus(counts());
  });
  document.getElementById("graph-relayout").addEventListener("click", runLayout);
  layoutSel.addEventListener("change", runLayout);

  document.querySelectorAll("#graph-types input[type=checkbox]").forEach(function (c) {
    c.addEventListener("change", function () {
      var nodes = cy.nodes().filter(function (n) { return n.data("type") === c.value; });
      if (c.checked) { nodes.removeClass("hidden"); } else { nodes.addClass("hidden"); }
      setStatus("顯示 " + cy.nodes().not(".hidden").length + " / " + cy.nodes().length + " 個節點");
    });
  });

  var found = document.getElementById("graph-found");
  document.getElementById("graph-find").addEventListener("submit", function (evt) {
    evt.preventDefault();
    var q = document.getElementById("graph-q").value.trim();
    if (!q) { return; }
    fetch(findUrl + "?q=" + encodeURIComponent(q), { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        found.textContent = "";
        if (!data.results || !data.results.length) {
          var li = document.createElement("li"); li.textContent = "找不到符合的節點"; found.appendChild(li); return;
        }
        data.results.forEach(function (n) {
          var li = document.createElement("li");
          var b = document.createElement("button");
          b.type = "button"; b.className = "found-node";
          var sw = document.createElement("span"); sw.className = "swatch swatch-" + n.type;
          b.appendChild(sw);
          b.appendChild(document.createTextNode(n.label + "（" + n.type_label + "，" + n.degree + "）"));
          b.addEventListener("click", function () { expand(n.id); });
          li.appendChild(b);
          found.appendChild(li);
        });
      });
  });

  if (box.dataset.start) { expand(box.dataset.start); } else { setStatus(statusEl.textContent); }
})();
