/* The graph view: find a start node, expand its neighbours (all, or one relation), collapse or remove nodes, filter
   node types and relations, find the paths between two nodes, share the scene by its URL, download it as PNG.
   Only what is new is laid out: nodes already drawn keep their place, so a scene of 500 nodes stays readable.
   Every label comes from plan data, so text reaches the page only through textContent, never innerHTML. */
(function () {
  "use strict";
  var COLOURS = {
    programme: "#8e44ad", plan: "#1f3a5f", agency: "#c0392b", unit: "#e67e22", measure: "#7f8c8d",
    system: "#138d75", practice: "#2e86c1", framework: "#27ae60", law: "#b7950b"
  };
  // Each kind has its own shape as well as colour (the legend's swatches show the same), so that a plan and the
  // agency whose name it starts with never look alike.
  var SHAPES = {
    programme: "star", plan: "round-rectangle", agency: "hexagon", unit: "triangle", measure: "ellipse",
    system: "diamond", practice: "tag", framework: "barrel", law: "pentagon"
  };
  var SIZES = { agency: 40, plan: 36, programme: 32, unit: 30, practice: 30, system: 28, framework: 26, law: 24, measure: 16 };
  // Kinds whose names repeat one another (a plan's title starts with its agency's name) carry their kind in front.
  var PREFIX = { plan: "計畫｜", agency: "機關｜", programme: "方案｜" };
  var REL_COLOURS = ["#5d6d7e", "#8e44ad", "#2c3e50", "#d35400", "#16a085", "#138d75", "#b7950b", "#2e86c1",
                     "#27ae60", "#7d3c98", "#a04000", "#1abc9c", "#34495e", "#e67e22", "#c0392b"];
  var SMALL_BATCH = 8;  // fewer new nodes than this are placed on arcs without running a layout
  var MAX_LABEL = 28;  // characters drawn on the canvas; the whole label shows on hover and in the side panel

  var box = document.getElementById("cy");
  var urls = { find: box.dataset.findUrl, node: box.dataset.nodeUrl, paths: box.dataset.pathsUrl,
               subgraph: box.dataset.subgraphUrl };
  var idBase = box.dataset.idBase;
  var statusEl = document.getElementById("graph-status");
  var selectedEl = document.getElementById("graph-selected");
  var actionsEl = document.getElementById("graph-actions");
  var openBtn = document.getElementById("graph-open");
  var layoutSel = document.getElementById("graph-layout");
  var tip = document.getElementById("graph-tip");
  var menu = document.getElementById("graph-menu");
  var selected = null;
  var pathEnds = { from: null, to: null };
  var lastPaths = null;

  var relColour = {};
  document.querySelectorAll("#graph-rels input[type=checkbox]").forEach(function (c, i) {
    relColour[c.value] = REL_COLOURS[i % REL_COLOURS.length];
    var sw = c.parentNode.querySelector(".edge-swatch");
    if (sw) { sw.style.borderTopColor = relColour[c.value]; }  // CSSOM, which the CSP allows (no inline style)
  });

  var style = [
    { selector: "node", style: {
      "background-color": function (n) { return COLOURS[n.data("type")] || "#999"; },
      "shape": "data(shape)",
      "width": "data(size)", "height": "data(size)",
      // Hubs get larger labels; labels too small to read at the current zoom are dropped, so that 500 nodes show
      // their hubs' names in overview and every name once zoomed in.
      "label": "data(short)", "font-size": "data(fs)", "min-zoomed-font-size": 7, "color": "#1b1b1b",
      "font-family": "Noto Sans CJK TC, Noto Sans TC, Microsoft JhengHei, PingFang TC, sans-serif",
      "text-valign": "bottom", "text-margin-y": 3, "text-wrap": "wrap", "text-max-width": 150,
      "text-background-color": "#ffffff", "text-background-opacity": 0.75, "text-background-padding": 1,
      "border-width": 0
    } },
    { selector: "node.expanded", style: { "border-width": 3, "border-color": "#111" } },
    { selector: "node:selected", style: { "border-width": 4, "border-color": "#f1c40f" } },
    { selector: "node.hidden, node.orphan", style: { "display": "none" } },
    { selector: "edge", style: {
      "width": 1.2, "line-color": "data(colour)",
      "line-opacity": 0.55, "curve-style": "haystack", "haystack-radius": 0, "font-size": 9, "color": "#444"
    } },
    { selector: "edge[?derived]", style: { "line-style": "dashed", "curve-style": "straight", "width": "data(w)" } },
    { selector: "edge.rel-hidden", style: { "display": "none" } },
    { selector: "edge.near", style: { "line-opacity": 1, "width": 2.2 } },
    { selector: "edge.labelled, edge.hover", style: { "label": "data(text)", "text-background-color": "#fff",
      "text-background-opacity": 0.85, "text-rotation": "autorotate" } },
    { selector: ".faded", style: { "opacity": 0.12 } },
    { selector: "node.path", style: { "border-width": 4, "border-color": "#d35400", "opacity": 1 } },
    { selector: "edge.path", style: { "line-color": "#d35400", "line-opacity": 1, "width": 4, "opacity": 1,
      "z-index": 10, "label": "data(text)", "text-background-color": "#fff", "text-background-opacity": 0.85,
      "text-rotation": "autorotate" } }
  ];

  var cy = cytoscape({ container: box, elements: [], style: style, minZoom: 0.05, maxZoom: 3,
                       boxSelectionEnabled: false, wheelSensitivity: 0.3 });
  window.kgGraph = cy;  // for the end-to-end tests, the benchmark and planners poking at the console

  // ----- small helpers -----

  function getJSON(url) {
    return fetch(url, { headers: { "Accept": "application/json" } }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) { throw new Error(body.error || ("HTTP " + r.status)); }
        return body;
      });
    });
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function shortId(iri) { return iri.indexOf(idBase) === 0 ? iri.slice(idBase.length) : iri; }

  // Nearly every organisation and plan name starts with the city's; on the canvas it only costs room.
  function shortLabel(type, s) {
    var t = s.length > 8 ? s.replace(/^高雄市政府/, "").replace(/^高雄市/, "") : s;
    if (t.length > MAX_LABEL) { t = t.slice(0, MAX_LABEL - 1) + "…"; }
    return (PREFIX[type] || "") + t;
  }

  function checked(listId) {
    var out = {};
    document.querySelectorAll("#" + listId + " input[type=checkbox]").forEach(function (c) { out[c.value] = c.checked; });
    return out;
  }

  function counts() { return "節點 " + cy.nodes().length + "、連結 " + cy.edges().length; }

  function setStatus(text) {
    statusEl.textContent = text;
    box.dataset.nodes = String(cy.nodes().length);
  }

  // The benchmark and the tests wait for this: set once the layout is done and the frame after it is drawn.
  function settled() {
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        box.dataset.settledAt = String(performance.now());
        box.dataset.busy = "";
        box.dispatchEvent(new CustomEvent("graph:settled"));
      });
    });
  }

  // ----- adding to the scene -----

  function nodeData(n) {
    var deg = n.degree || 0;
    var grow = 1 + 0.18 * Math.log2(1 + deg);
    return { id: n.id, label: n.label, short: shortLabel(n.type, n.label), type: n.type, typeLabel: n.type_label,
             url: n.url, degree: deg, relations: n.relations || {}, shape: SHAPES[n.type] || "ellipse",
             size: Math.round((SIZES[n.type] || 24) * Math.min(grow, 2.2)),
             fs: Math.round(Math.min(20, (n.type === "measure" ? 8 : 10) + 1.6 * Math.log2(1 + deg))) };
  }

  function addNode(n, at) {
    var have = cy.getElementById(n.id);
    if (have.length) { return null; }
    // A copy: Cytoscape keeps the object it is given, and nodes sharing one would move as one.
    var ele = cy.add({ group: "nodes", data: nodeData(n), position: at ? { x: at.x, y: at.y } : { x: 0, y: 0 } });
    if (checked("graph-types")[n.type] === false) { ele.addClass("hidden"); }
    return ele;
  }

  function addEdge(e) {
    if (cy.getElementById(e.id).length || !cy.getElementById(e.source).length || !cy.getElementById(e.target).length) {
      return;
    }
    var text = e.derived ? e.label + " " + e.count : e.label;
    var ele = cy.add({ group: "edges", data: { id: e.id, source: e.source, target: e.target, label: e.label, text: text,
                                               derived: !!e.derived, count: e.count || 0,
                                               colour: relColour[e.label] || "#b8c2cc",
                                               w: e.derived ? Math.min(6, 1 + Math.log2(e.count || 1)) : 1.2 } });
    if (checked("graph-rels")[e.label] === false) { ele.addClass("rel-hidden"); }
  }

  // Every link between what is drawn is drawn: each node the server sends comes with its links, and those whose
  // other end is on the canvas are added.
  function addLinks(nodes) {
    nodes.forEach(function (n) { (n.links || []).forEach(addEdge); });
  }

  // Where the new nodes start: on arcs around the node they hang from, on the side away from what is already drawn
  // there, so that the local layout only has to tidy them.
  function placeAround(centre, fresh) {
    var c = centre.position();
    var others = centre.neighborhood("node").difference(fresh);
    var dx = 0, dy = 0;
    if (others.length) {
      others.forEach(function (o) { dx += c.x - o.position("x"); dy += c.y - o.position("y"); });
    } else if (cy.nodes().length > fresh.length + 1) {
      var bb = cy.nodes().difference(fresh).difference(centre).boundingBox();
      dx = c.x - (bb.x1 + bb.x2) / 2; dy = c.y - (bb.y1 + bb.y2) / 2;
    }
    var away = Math.atan2(dy, dx);
    var spread = (dx || dy) ? Math.PI * 1.3 : Math.PI * 2;
    var placed = 0, ring = 0;
    while (placed < fresh.length) {
      var r = 90 + ring * 55;
      var room = Math.max(4, Math.floor(spread * r / 42));
      var here = Math.min(room, fresh.length - placed);
      for (var i = 0; i < here; i++) {
        var a = away - spread / 2 + spread * (i + 0.5) / here;
        fresh[placed + i].position({ x: c.x + r * Math.cos(a), y: c.y + r * Math.sin(a) });
      }
      placed += here; ring += 1;
    }
  }

  // Lays out only the new nodes (and the one they hang from, pinned): everything else stays where it was.
  function layoutNew(centre, fresh) {
    if (!fresh.length) { return Promise.resolve(); }
    var drawnBefore = cy.nodes().length - fresh.length;
    if (drawnBefore <= 1) { return layoutAll(true); }
    placeAround(centre, fresh);
    // A few new nodes on their arcs read well as placed; fcose over a handful of nodes with a pinned one can also
    // take seconds to settle (measured: 20 s for one new node), which a planner's click must never cost.
    if (fresh.length < SMALL_BATCH) { keepInView(fresh.union(centre)); return Promise.resolve(); }
    var pinned = centre.position();
    pinned = { x: pinned.x, y: pinned.y };
    var eles = fresh.union(centre).union(fresh.edgesWith(centre)).union(fresh.edgesWith(fresh));
    var layout = eles.layout({
      name: "fcose", randomize: false, quality: "default", animate: false, fit: false,
      nodeRepulsion: function () { return 9000; }, idealEdgeLength: function () { return 80; },
      nodeSeparation: 60, numIter: 600, tile: false, packComponents: false,
      fixedNodeConstraint: [{ nodeId: centre.id(), position: pinned }]
    });
    var done = layout.promiseOn("layoutstop");
    layout.run();
    return done.then(function () {
      // The constraint is met within a tolerance; put the anchor back exactly and move its new nodes with it.
      var now = centre.position(), sx = pinned.x - now.x, sy = pinned.y - now.y;
      if (sx || sy) { fresh.shift({ x: sx, y: sy }); }
      centre.position(pinned);
      keepInView(fresh.union(centre));
    });
  }

  function keepInView(eles) {
    var ext = cy.extent(), bb = eles.boundingBox();
    if (bb.x1 < ext.x1 || bb.x2 > ext.x2 || bb.y1 < ext.y1 || bb.y2 > ext.y2) {
      if (bb.w > ext.w || bb.h > ext.h) { cy.fit(cy.nodes(":visible"), 30); } else { cy.center(eles); }
    }
  }

  // The whole scene laid out afresh: on the first expansion, a restored scene and the 重新排列 button.
  function layoutAll(randomize) {
    var name = layoutSel.value;
    var visible = cy.elements(":visible");
    var opts = { name: name, animate: false, fit: true, padding: 30 };
    if (name === "fcose") {
      opts.randomize = randomize !== false; opts.quality = "default";
      opts.nodeRepulsion = function () { return 9000; };
      opts.idealEdgeLength = function (e) { return e.data("derived") ? 120 : 70; };
      opts.nodeSeparation = 60;
      opts.numIter = 2500;
    } else if (name === "concentric") {
      opts.concentric = function (n) { return n.degree(); };
      opts.levelWidth = function () { return 3; };
      opts.minNodeSpacing = 18;
    } else {
      opts.directed = false;
      opts.spacingFactor = 0.9;
    }
    var layout = visible.layout(opts);
    var done = layout.promiseOn("layoutstop");
    layout.run();
    // A small graph fitted to the canvas would be zoomed far in; keep labels at reading size instead.
    return done.then(function () { if (cy.zoom() > 1.2) { cy.zoom(1.2); cy.center(); } });
  }

  // ----- expanding, collapsing, removing -----

  // offset: the neighbours from there on (the next ones of a node that has more than one expansion shows).
  function expand(id, rel, offset) {
    setStatus("載入中…");
    box.dataset.busy = "1";
    var url = urls.node + "?id=" + encodeURIComponent(id) + (rel ? "&rel=" + encodeURIComponent(rel) : "") +
      (offset ? "&offset=" + offset : "");
    return getJSON(url)
      .then(function (data) {
        var before = cy.nodes().length;
        var fresh = cy.collection();
        var centre;
        cy.batch(function () {
          addNode(data.node);
          centre = cy.getElementById(data.node.id);
          if (!rel) { centre.addClass("expanded"); }
          centre.data("more", data.next === null ? null : { rel: rel || "", next: data.next, available: data.available });
          data.neighbours.forEach(function (n) { var e = addNode(n, centre.position()); if (e) { fresh = fresh.union(e); } });
          addLinks([data.node]);
          data.edges.forEach(addEdge);
          addLinks(data.neighbours);
          applyRelFilter();
        });
        return layoutNew(centre, fresh).then(function () {
          centre.select();
          select(centre);
          var added = cy.nodes().length - before;
          var note = data.truncated ? "；共 " + data.available + " 個鄰居，已顯示到第 " + data.next + " 個（「再顯示相鄰節點」顯示之後的）" : "";
          setStatus((rel ? "「" + rel + "」" : "") + "新增 " + added + " 個節點（" + counts() + "）" + note);
          saveScene();
        });
      })
      .catch(function (err) { setStatus("無法載入節點：" + err.message); })
      .then(settled);
  }

  // Collapsing takes away the neighbours that hang from this node only (nothing else on the canvas links to them).
  function collapse(node) {
    var leaves = node.neighborhood("node").filter(function (n) {
      return !n.hasClass("expanded") && !n.hasClass("path") && n.neighborhood("node").length === 1;
    });
    cy.batch(function () { leaves.remove(); node.removeClass("expanded"); });
    setStatus("收合：移除 " + leaves.length + " 個節點（" + counts() + "）");
    saveScene();
  }

  function removeNode(node) {
    if (selected && selected.id() === node.id()) { unselect(); }
    node.remove();
    applyRelFilter();
    setStatus("已移除節點（" + counts() + "）");
    saveScene();
  }

  // ----- selection, the actions on a node (side panel and right-click menu) -----

  function actionsFor(node) {
    var out = [];
    var rels = node.data("relations") || {};
    var more = node.data("more");
    if (more) {
      out.push({
        label: "再顯示相鄰節點" + (more.rel ? "「" + more.rel + "」" : "") + "（已顯示 " + more.next + "／共 " + more.available + " 個）",
        run: function () { expand(node.id(), more.rel, more.next); },
      });
    }
    out.push({ label: node.hasClass("expanded") ? "再展開全部相鄰節點" : "展開全部相鄰節點", run: function () { expand(node.id()); } });
    var names = Object.keys(rels);
    if (names.length) {
      out.push({ group: "只展開一種關係" });
      names.forEach(function (r) {
        out.push({ label: "只展開「" + r + "」（" + rels[r] + "）", rel: r, run: function () { expand(node.id(), r); } });
      });
    }
    out.push({ group: "其他" });
    out.push({ label: "收合（移除只連到此節點的鄰居）", run: function () { collapse(node); } });
    out.push({ label: "從圖中移除此節點", run: function () { removeNode(node); } });
    out.push({ label: "設為路徑起點", run: function () { setPathEnd("from", node); } });
    out.push({ label: "設為路徑終點", run: function () { setPathEnd("to", node); } });
    out.push({ label: "開啟此節點的頁面", run: function () { window.location.href = node.data("url"); } });
    return out;
  }

  function fillActions(container, node, after) {
    container.textContent = "";
    actionsFor(node).forEach(function (a) {
      if (a.group) { container.appendChild(el("div", "group", a.group)); return; }
      var b = el("button", a.rel ? "expand-rel" : "", a.label);
      b.type = "button";
      if (a.rel) { b.dataset.rel = a.rel; }
      b.addEventListener("click", function () { if (after) { after(); } a.run(); });
      container.appendChild(b);
    });
  }

  function select(node) {
    selected = node;
    cy.edges().removeClass("near labelled");
    node.connectedEdges().addClass("near");
    // Relation names on every edge of a hub would pile up unreadably; show them when there are few.
    if (node.connectedEdges().length <= 12) { node.connectedEdges().addClass("labelled"); }
    selectedEl.textContent = "";
    selectedEl.appendChild(el("strong", "", node.data("label")));
    selectedEl.appendChild(el("span", "hint", "（" + node.data("typeLabel") + "，" + node.data("degree") + " 個連結）"));
    fillActions(actionsEl, node);
    openBtn.disabled = false;
  }

  function unselect() {
    selected = null; openBtn.disabled = true; selectedEl.textContent = ""; actionsEl.textContent = "";
  }

  function showMenu(node, rendered) {
    menu.textContent = "";
    menu.appendChild(el("div", "menu-title", node.data("label")));
    var list = el("div", "");
    fillActions(list, node, hideMenu);
    menu.appendChild(list);
    menu.hidden = false;
    var w = box.clientWidth, h = box.clientHeight;
    menu.style.left = Math.min(rendered.x + 8, Math.max(0, w - menu.offsetWidth - 4)) + "px";
    menu.style.top = Math.min(rendered.y + 8, Math.max(0, h - menu.offsetHeight - 4)) + "px";
    var first = menu.querySelector("button");
    if (first) { first.focus(); }
  }

  function hideMenu() { menu.hidden = true; }

  // ----- filters -----

  // A relation unticked hides its links, and the nodes left with no link shown (they hung by that relation only).
  function applyRelFilter() {
    var on = checked("graph-rels");
    cy.batch(function () {
      cy.edges().forEach(function (e) { e.toggleClass("rel-hidden", on[e.data("label")] === false); });
      cy.nodes().forEach(function (n) {
        var edges = n.connectedEdges();
        n.toggleClass("orphan", edges.length > 0 && edges.every(function (e) { return e.hasClass("rel-hidden"); }) &&
                                !n.hasClass("expanded") && !n.hasClass("path"));
      });
    });
  }

  document.querySelectorAll("#graph-types input[type=checkbox]").forEach(function (c) {
    c.addEventListener("change", function () {
      var nodes = cy.nodes().filter(function (n) { return n.data("type") === c.value; });
      if (c.checked) { nodes.removeClass("hidden"); } else { nodes.addClass("hidden"); }
      setStatus("顯示 " + cy.nodes(":visible").length + " / " + cy.nodes().length + " 個節點");
      saveScene();
    });
  });
  document.querySelectorAll("#graph-rels input[type=checkbox]").forEach(function (c) {
    c.addEventListener("change", function () {
      applyRelFilter();
      setStatus((c.checked ? "顯示" : "隱藏") + "「" + c.value + "」連結；顯示 " + cy.edges(":visible").length + " / " + cy.edges().length + " 條連結");
      saveScene();
    });
  });

  // ----- paths -----

  function setPathEnd(which, node) {
    pathEnds[which] = { id: node.id(), label: node.data("label"), typeLabel: node.data("typeLabel") };
    var dd = document.getElementById(which === "from" ? "graph-path-from" : "graph-path-to");
    dd.textContent = node.data("label") + "（" + node.data("typeLabel") + "）";
    document.getElementById("graph-path-run").disabled = !(pathEnds.from && pathEnds.to);
    saveScene();
  }

  function clearPathMarks() {
    cy.elements().removeClass("path faded");
    lastPaths = null;
    document.getElementById("graph-path-list").textContent = "";
    applyRelFilter();
  }

  function markPaths(paths) {
    cy.batch(function () {
      cy.elements().removeClass("path").addClass("faded");
      paths.forEach(function (p) {
        p.nodes.forEach(function (id) { cy.getElementById(id).removeClass("faded").addClass("path"); });
        p.edges.forEach(function (e) { cy.getElementById(e.id).removeClass("faded").addClass("path"); });
      });
    });
    applyRelFilter();
  }

  // Path nodes not yet drawn start on the line between their neighbours on the path, each path on its own lane.
  function placePathNodes(paths, fresh) {
    var fromNode = cy.getElementById(paths[0].nodes[0]);
    var toNode = cy.getElementById(paths[0].nodes[paths[0].nodes.length - 1]);
    if (fresh.contains(fromNode) && fresh.contains(toNode)) {
      var bb = cy.nodes().difference(fresh).boundingBox();
      var base = cy.nodes().length > fresh.length ? { x: bb.x2 + 120, y: (bb.y1 + bb.y2) / 2 } : { x: 0, y: 0 };
      fromNode.position(base);
      toNode.position({ x: base.x + 160 * paths[0].nodes.length, y: base.y });
    } else if (fresh.contains(fromNode)) {
      fromNode.position({ x: toNode.position("x") - 160 * paths[0].nodes.length, y: toNode.position("y") });
    } else if (fresh.contains(toNode)) {
      toNode.position({ x: fromNode.position("x") + 160 * paths[0].nodes.length, y: fromNode.position("y") });
    }
    var a = fromNode.position(), b = toNode.position();
    var len = Math.hypot(b.x - a.x, b.y - a.y) || 1, nx = -(b.y - a.y) / len, ny = (b.x - a.x) / len;
    paths.forEach(function (p, k) {
      var lane = (k % 2 ? -1 : 1) * Math.ceil(k / 2) * 55;
      p.nodes.forEach(function (id, i) {
        var n = cy.getElementById(id);
        if (!fresh.contains(n) || n.same(fromNode) || n.same(toNode)) { return; }
        var t = i / (p.nodes.length - 1);
        n.position({ x: a.x + (b.x - a.x) * t + nx * lane, y: a.y + (b.y - a.y) * t + ny * lane });
      });
    });
  }

  function findPaths() {
    if (!(pathEnds.from && pathEnds.to)) { return Promise.resolve(); }
    var hops = document.getElementById("graph-hops").value;
    var list = document.getElementById("graph-path-list");
    setStatus("尋找路徑中…");
    box.dataset.busy = "1";
    var url = urls.paths + "?from=" + encodeURIComponent(pathEnds.from.id) + "&to=" + encodeURIComponent(pathEnds.to.id) +
              "&max_hops=" + encodeURIComponent(hops);
    return getJSON(url).then(function (data) {
      clearPathMarks();
      list.textContent = "";
      if (!data.paths.length) {
        list.appendChild(el("li", "none", data.message));
        setStatus(data.message);
        return;
      }
      var byId = {};
      data.nodes.forEach(function (n) { byId[n.id] = n; });
      var fresh = cy.collection();
      cy.batch(function () {
        data.nodes.forEach(function (n) { var e = addNode(n); if (e) { fresh = fresh.union(e); } });
        data.paths.forEach(function (p) { p.edges.forEach(addEdge); });
        addLinks(data.nodes);
        placePathNodes(data.paths, fresh);
      });
      lastPaths = data.paths;
      markPaths(data.paths);
      data.paths.forEach(function (p) {
        var li = el("li");
        var names = p.nodes.map(function (id) { return byId[id].label; });
        var brief = names.map(function (t) { return t.length > 18 ? t.slice(0, 17) + "…" : t; });
        var b = el("button", "path-item", brief.join(" → ") + "（" + p.hops + " 步）");
        b.type = "button";
        b.title = names.join(" → ");
        b.setAttribute("aria-pressed", "false");
        b.addEventListener("click", function () {
          var on = b.getAttribute("aria-pressed") !== "true";
          list.querySelectorAll("button").forEach(function (x) { x.setAttribute("aria-pressed", "false"); });
          b.setAttribute("aria-pressed", on ? "true" : "false");
          markPaths(on ? [p] : lastPaths);
        });
        li.appendChild(b);
        list.appendChild(li);
      });
      cy.fit(cy.elements(".path"), 40);
      if (cy.zoom() > 1.2) { cy.zoom(1.2); cy.center(cy.elements(".path")); }
      setStatus("找到 " + data.paths.length + " 條路徑，最短 " + data.paths[0].hops + " 步（" + counts() + "）");
      saveScene();
    }).catch(function (err) { list.textContent = ""; list.appendChild(el("li", "none", err.message)); setStatus(err.message); })
      .then(settled);
  }

  document.getElementById("graph-path-run").addEventListener("click", findPaths);
  document.getElementById("graph-path-clear").addEventListener("click", function () { clearPathMarks(); saveScene(); });

  // ----- the scene in the URL: which nodes, where, which are expanded, filters and the path asked for -----

  var saveTimer = null;
  function saveScene() {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(function () {
      var p = new URLSearchParams();
      var nodes = cy.nodes().map(function (n) {
        var pos = n.position();
        return shortId(n.id()) + "@" + Math.round(pos.x) + "_" + Math.round(pos.y) + (n.hasClass("expanded") ? "_x" : "");
      });
      if (nodes.length) { p.set("n", nodes.join(",")); }
      var offRels = Object.keys(checked("graph-rels")).filter(function (k) { return !checked("graph-rels")[k]; });
      if (offRels.length) { p.set("hide", offRels.join(",")); }
      var offTypes = Object.keys(checked("graph-types")).filter(function (k) { return !checked("graph-types")[k]; });
      if (offTypes.length) { p.set("hidetypes", offTypes.join(",")); }
      if (pathEnds.from) { p.set("from", shortId(pathEnds.from.id)); }
      if (pathEnds.to) { p.set("to", shortId(pathEnds.to.id)); }
      if (lastPaths) { p.set("hops", document.getElementById("graph-hops").value); }
      // Ids keep their slashes, @ and commas unescaped, so that a shared link stays short and readable.
      var hash = p.toString().replace(/%2F/g, "/").replace(/%40/g, "@").replace(/%2C/g, ",");
      history.replaceState(null, "", hash ? "#" + hash : window.location.pathname + window.location.search);
      box.dataset.saved = String(Date.now());
    }, 150);
  }

  function restoreScene(hash) {
    var p = new URLSearchParams(hash);
    var items = (p.get("n") || "").split(",").filter(Boolean).map(function (s) {
      var at = s.lastIndexOf("@");
      var ref = at > 0 ? s.slice(0, at) : s;
      var rest = at > 0 ? s.slice(at + 1).split("_") : [];
      var pos = rest.length >= 2 ? { x: Number(rest[0]), y: Number(rest[1]) } : null;
      return { ref: ref, pos: pos && isFinite(pos.x) && isFinite(pos.y) ? pos : null, expanded: rest[2] === "x" };
    });
    (p.get("hide") || "").split(",").forEach(function (r) {
      document.querySelectorAll("#graph-rels input[type=checkbox]").forEach(function (c) { if (c.value === r) { c.checked = false; } });
    });
    (p.get("hidetypes") || "").split(",").forEach(function (t) {
      var c = document.querySelector('#graph-types input[value="' + CSS.escape(t) + '"]');
      if (c) { c.checked = false; }
    });
    if (p.get("hops")) { document.getElementById("graph-hops").value = p.get("hops"); }
    if (!items.length) { return Promise.resolve(false); }
    setStatus("還原分享的關係圖…");
    box.dataset.busy = "1";
    return getJSON(urls.subgraph + "?ids=" + encodeURIComponent(items.map(function (i) { return i.ref; }).join(",")))
      .then(function (data) {
        var placed = {};
        items.forEach(function (i) { placed[idBase + i.ref] = i; placed[i.ref] = i; });
        var allPlaced = true;
        cy.batch(function () {
          data.nodes.forEach(function (n) {
            var i = placed[n.id];
            var e = addNode(n, i && i.pos ? i.pos : undefined);
            if (!(i && i.pos)) { allPlaced = false; }
            if (e && i && i.expanded) { e.addClass("expanded"); }
          });
          data.edges.forEach(addEdge);
          applyRelFilter();
        });
        var ready = allPlaced ? Promise.resolve(cy.fit(cy.nodes(":visible"), 30)) : layoutAll(true);
        return ready.then(function () {
          if (cy.zoom() > 1.2) { cy.zoom(1.2); cy.center(); }
          ["from", "to"].forEach(function (w) {
            var ref = p.get(w);
            var n = ref && (cy.getElementById(idBase + ref).length ? cy.getElementById(idBase + ref) : cy.getElementById(ref));
            if (n && n.length) { setPathEnd(w, n); }
          });
          var missing = data.missing.length ? "；" + data.missing.length + " 個節點已不在資料中" : "";
          setStatus("已還原分享的關係圖（" + counts() + "）" + missing);
          return true;
        });
      })
      .then(function (ok) { return p.get("hops") && pathEnds.from && pathEnds.to ? findPaths().then(function () { return ok; }) : ok; })
      .catch(function (err) { setStatus("無法還原分享的關係圖：" + err.message); return false; })
      .then(function (ok) { settled(); return ok; });
  }

  // ----- canvas events -----

  // Cytoscape fires dbltap for any two quick taps, even on two different nodes; only a double tap on one node
  // opens its page, so quickly expanding neighbours one after another never navigates away.
  var taps = [null, null];
  cy.on("tap", function (evt) {
    taps = [taps[1], evt.target === cy ? null : evt.target.id()];
    hideMenu();
  });
  cy.on("tap", "node", function (evt) {
    var node = evt.target;
    select(node);
    if (!node.hasClass("expanded")) { expand(node.id()); }
  });
  cy.on("dbltap", "node", function (evt) {
    if (taps[0] === evt.target.id() && taps[1] === evt.target.id()) { window.location.href = evt.target.data("url"); }
  });
  cy.on("cxttap", "node", function (evt) {
    var node = evt.target;
    node.select();
    select(node);
    showMenu(node, evt.renderedPosition || node.renderedPosition());
  });
  cy.on("cxttap", function (evt) { if (evt.target === cy) { hideMenu(); } });
  cy.on("dragfree", "node", saveScene);

  function showTip(evt, lines) {
    tip.textContent = "";
    tip.appendChild(el("div", "", lines[0]));
    if (lines[1]) { tip.appendChild(el("div", "kind", lines[1])); }
    tip.hidden = false;
    var p = evt.renderedPosition || { x: 0, y: 0 };
    tip.style.left = Math.min(p.x + 14, Math.max(0, box.clientWidth - tip.offsetWidth - 4)) + "px";
    tip.style.top = Math.min(p.y + 14, Math.max(0, box.clientHeight - tip.offsetHeight - 4)) + "px";
  }
  cy.on("mouseover", "node", function (evt) {
    var n = evt.target;
    showTip(evt, [n.data("label"), n.data("typeLabel") + "・" + n.data("degree") + " 個連結" + (n.hasClass("expanded") ? "・已展開" : "")]);
  });
  cy.on("mouseover", "edge", function (evt) {
    var e = evt.target;
    e.addClass("hover");
    showTip(evt, [e.data("label") + (e.data("derived") ? "（" + e.data("count") + " 項措施）" : ""),
                  e.source().data("label") + " → " + e.target().data("label")]);
  });
  cy.on("mouseout", "node, edge", function (evt) { evt.target.removeClass("hover"); tip.hidden = true; });
  cy.on("viewport", function () { tip.hidden = true; });
  document.addEventListener("keydown", function (evt) { if (evt.key === "Escape") { hideMenu(); } });

  // ----- the panel's buttons -----

  openBtn.addEventListener("click", function () { if (selected) { window.location.href = selected.data("url"); } });
  document.getElementById("graph-clear").addEventListener("click", function () {
    cy.elements().remove(); unselect(); clearPathMarks(); setStatus(counts()); saveScene();
  });
  function relayout() {
    box.dataset.busy = "1";
    layoutAll(true).then(function () { saveScene(); settled(); });
  }
  document.getElementById("graph-relayout").addEventListener("click", relayout);
  layoutSel.addEventListener("change", relayout);

  document.getElementById("graph-png").addEventListener("click", function () {
    var blob = cy.png({ output: "blob", full: true, scale: 2, bg: "#ffffff", maxWidth: 6000, maxHeight: 6000 });
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "關係圖.png";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  });

  document.getElementById("graph-share").addEventListener("click", function () {
    clearTimeout(saveTimer);
    saveTimer = null;
    var link = window.location.href;
    var ok = function () { setStatus("已複製分享連結：開啟它即還原目前的關係圖"); };
    var fail = function () { setStatus("請複製網址列中的連結：開啟它即還原目前的關係圖"); };
    if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(link).then(ok, fail); } else { fail(); }
  });

  var found = document.getElementById("graph-found");
  document.getElementById("graph-find").addEventListener("submit", function (evt) {
    evt.preventDefault();
    var q = document.getElementById("graph-q").value.trim();
    if (!q) { return; }
    getJSON(urls.find + "?q=" + encodeURIComponent(q))
      .then(function (data) {
        found.textContent = "";
        if (!data.results || !data.results.length) { found.appendChild(el("li", "", "找不到符合的節點")); return; }
        data.results.forEach(function (n) {
          var li = el("li");
          var b = el("button", "found-node");
          b.type = "button";
          b.title = n.label;
          b.appendChild(el("span", "swatch swatch-" + n.type + " shape-" + n.type));
          b.appendChild(document.createTextNode(n.label + "（" + n.type_label + "，" + n.degree + "）"));
          b.addEventListener("click", function () { expand(n.id); });
          li.appendChild(b);
          found.appendChild(li);
        });
      })
      .catch(function (err) { found.textContent = ""; found.appendChild(el("li", "", err.message)); });
  });

  var hash = window.location.hash.slice(1);
  restoreScene(hash).then(function (restored) {
    if (restored) { return; }
    if (box.dataset.start) { expand(box.dataset.start); } else { setStatus(statusEl.textContent); settled(); }
  });
})();
