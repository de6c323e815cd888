/* nnsurgeon report page: lays out the DOT views with Graphviz (WebAssembly, inlined), pans and zooms the SVG,
   shows a node's panel on click. Reads its data from the two JSON script elements; fetches nothing. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("nns-data").textContent);
  var views = JSON.parse(document.getElementById("nns-views").textContent);
  var g = data.graph;
  var state = window.nnsReport = {ready: false, view: null, layoutMs: {}, selected: null};
  var byId = {};
  g.nodes.forEach(function (n) { byId[n.id] = {kind: "node", d: n}; });
  g.badges.forEach(function (b) { byId[b.id] = {kind: "badge", d: b}; });
  (g.groups || []).forEach(function (gr) { byId[gr.id] = {kind: "group", d: gr}; });
  var errors = data.errors || null;
  var changed = {};
  ((data.diff || {}).changed || []).forEach(function (c) { changed[c.name] = c.changes; });
  var added = {};
  ((data.diff || {}).added || []).forEach(function (a) { added[a.name] = true; });

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k]; else if (k === "html") e.innerHTML = attrs[k];
      else if (k === "onclick") e.addEventListener("click", attrs[k]); else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function fmt(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "boolean") return v ? "True" : "False";  /* as list-layers writes them */
    if (typeof v === "number") return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : String(+v.toPrecision(5));
    if (Array.isArray(v)) return "(" + v.map(fmt).join(", ") + ")";
    return String(v);
  }
  function shape(s) { return s && s.length ? s.map(function (d) { return d < 0 ? "N" : d; }).join("×") : "scalar"; }
  function table(heads, rows, numeric) {
    var t = el("table");
    if (heads) t.appendChild(el("tr", {}, heads.map(function (h) { return el("th", {text: h}); })));
    rows.forEach(function (r) {
      t.appendChild(el("tr", {}, r.map(function (c, i) {
        var td = el("td", numeric && numeric.indexOf(i) >= 0 ? {"class": "num"} : {});
        if (c instanceof Node) td.appendChild(c); else td.textContent = c === undefined ? "" : String(c);
        return td;
      })));
    });
    return t;
  }
  function link(text, id) { return el("a", {text: text, onclick: function () { select(id, true); }}); }

  /* ---- page skeleton ---- */
  var s = data.summary;
  var chips = [el("span", {"class": "chip", text: "network " + data.network}),
               el("span", {"class": "chip", text: s.nodes + " functions"}),
               el("span", {"class": "chip" + (s.badges ? " warn" : ""), text: s.badges + " quantizers"})];
  if (data.diff) chips.push(el("span", {"class": "chip", text: "+" + data.diff.added.length + " / −" +
    data.diff.removed.length + " / ~" + data.diff.changed.length}));
  if (errors && errors.jump) chips.push(el("span", {"class": "chip bad", text: "error jumps at " + errors.jump}));
  document.body.appendChild(el("header", {}, [el("h1", {text: data.title}), el("div", {"class": "chips"}, chips)]));
  var graphDiv = el("div", {id: "graph"}, [el("div", {id: "status", text: "laying out the graph…"})]);
  var crumb = el("span", {id: "crumb"});
  var toolbar = el("div", {id: "toolbar"}, [
    el("button", {text: "+", title: "zoom in", onclick: function () { zoomBy(1 / 1.3); }}),
    el("button", {text: "−", title: "zoom out", onclick: function () { zoomBy(1.3); }}),
    el("button", {text: "fit", title: "whole graph", onclick: function () { fit(true); }}),
    el("button", {text: "top", title: "back to the top", onclick: function () { fit(false); }}), crumb]);
  var wrap = el("div", {id: "graph-wrap"}, [toolbar, graphDiv]);
  var panel = el("aside", {id: "panel"});
  document.body.appendChild(el("main", {}, [wrap, panel]));
  if (errors) wrap.appendChild(legend());

  function legend() {
    var L = errors.legend;
    var box = el("div", {id: "legend"}, [el("b", {text: "error per layer: " + L.title})]);
    box.appendChild(el("div", {"class": "bar", style: "background:linear-gradient(to right," + L.stops.join(",") + ")"}));
    var ticks = el("div", {"class": "ticks"});
    L.ticks.forEach(function (t) {
      var shift = t.pos < 0.08 ? "0" : t.pos > 0.92 ? "-100%" : "-50%";  /* end labels stay inside the box */
      ticks.appendChild(el("span", {text: t.label, style: "left:" + (t.pos * 100) + "%;transform:translateX(" + shift + ")"}));
    });
    box.appendChild(ticks);
    box.appendChild(el("div", {"class": "keys"}, [
      el("span", {}, [el("span", {"class": "sw", style: "border-color:#7f1d1d"}), "error jumps"]),
      el("span", {}, [el("span", {"class": "sw", style: "border-color:#16a34a"}), "added"]),
      el("span", {}, [el("span", {"class": "sw", style: "border-color:#ea580c"}), "changed"])]));
    return box;
  }

  /* ---- layout and pan/zoom ---- */
  var viz = null, svg = null, full = null, vb = null;
  function setVB() { svg.setAttribute("viewBox", [vb.x, vb.y, vb.w, vb.h].join(" ")); }
  function fit(whole) {
    if (!svg) return;
    var cw = graphDiv.clientWidth || 800, ch = graphDiv.clientHeight || 600;
    var sc = whole ? Math.min(cw / full.w, ch / full.h) : Math.min(cw / full.w, 1.4);
    sc = Math.max(sc, 1e-3);
    vb = {w: cw / sc, h: ch / sc};
    vb.x = full.x + (full.w - vb.w) / 2;
    vb.y = whole ? full.y + (full.h - vb.h) / 2 : full.y - 48 / sc;
    setVB();
  }
  function zoomBy(f, cx, cy) {
    if (!svg) return;
    cx = cx === undefined ? vb.x + vb.w / 2 : cx; cy = cy === undefined ? vb.y + vb.h / 2 : cy;
    vb.x = cx - (cx - vb.x) * f; vb.y = cy - (cy - vb.y) * f; vb.w *= f; vb.h *= f; setVB();
  }
  function toSvg(ev) {
    var r = graphDiv.getBoundingClientRect();
    return [vb.x + (ev.clientX - r.left) / r.width * vb.w, vb.y + (ev.clientY - r.top) / r.height * vb.h];
  }
  graphDiv.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { var p = toSvg(ev); zoomBy(Math.exp(ev.deltaY * 0.002), p[0], p[1]); }
    else { var r = graphDiv.getBoundingClientRect(); vb.x += ev.deltaX * vb.w / r.width; vb.y += ev.deltaY * vb.h / r.height; setVB(); }
  }, {passive: false});
  var drag = null;
  graphDiv.addEventListener("mousedown", function (ev) { drag = {x: ev.clientX, y: ev.clientY, moved: false}; });
  window.addEventListener("mousemove", function (ev) {
    if (!drag || !svg) return;
    var r = graphDiv.getBoundingClientRect(), dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; graphDiv.classList.add("dragging"); }
    vb.x -= dx * vb.w / r.width; vb.y -= dy * vb.h / r.height; drag.x = ev.clientX; drag.y = ev.clientY; setVB();
  });
  window.addEventListener("mouseup", function () { setTimeout(function () { drag = null; }, 0); graphDiv.classList.remove("dragging"); });

  function show(view) {
    var t0 = performance.now();
    svg = viz.renderSVGElement(views[view]);
    state.layoutMs[view] = performance.now() - t0;
    state.view = view;
    svg.querySelectorAll("title").forEach(function (t) { t.remove(); });
    var bb = svg.viewBox.baseVal;
    full = {x: bb.x, y: bb.y, w: bb.width, h: bb.height};
    svg.removeAttribute("width"); svg.removeAttribute("height");
    svg.setAttribute("preserveAspectRatio", "xMidYMin meet");
    graphDiv.replaceChildren(svg);
    svg.querySelectorAll("g.node").forEach(function (node) {
      if (!byId[node.id]) return;
      node.addEventListener("click", function () { if (!drag || !drag.moved) select(node.id, false); });
      if (byId[node.id].kind === "group") node.addEventListener("dblclick", function () { open(node.id); });
    });
    crumb.replaceChildren();
    if (view !== "main") {
      crumb.appendChild(el("a", {text: "← all groups", href: "#", onclick: function (ev) { ev.preventDefault(); show("main"); summary(); }}));
      crumb.appendChild(document.createTextNode("  ›  " + byId[view].d.name));
    } else if (g.groups) {
      crumb.textContent = g.groups.length + " groups (" + s.nodes + " functions, more than " + data.collapse_above +
        "): click a group to list it, double-click to open it";
    }
    fit(false);
    state.ready = true;
  }
  function open(groupId) { show(groupId); select(groupId, false); }
  function viewOf(id) {
    if (!g.groups || byId[id].kind === "group") return "main";
    for (var i = 0; i < g.groups.length; i++) if (g.groups[i].members.indexOf(id) >= 0) return g.groups[i].id;
    if (byId[id].kind === "badge") {
      var src = g.edges.filter(function (e) { return e[1] === id; })[0];
      if (src) return viewOf(src[0]);
    }
    return "main";
  }
  function select(id, reveal) {
    if (reveal && views[viewOf(id)] && state.view !== viewOf(id)) show(viewOf(id));
    if (svg) {
      svg.querySelectorAll("g.node.selected").forEach(function (n) { n.classList.remove("selected"); });
      var node = svg.getElementById ? svg.getElementById(id) : svg.querySelector("#" + id);
      if (node) {
        node.classList.add("selected");
        if (reveal) { var b = node.getBBox(); vb.x = b.x + b.width / 2 - vb.w / 2; vb.y = b.y + b.height / 2 - vb.h / 2; setVB(); }
      }
    }
    state.selected = id;
    details(id);
  }

  /* ---- side panel ---- */
  function histogram(h, range) {
    if (!h || !h.counts || !h.counts.length) return null;
    var W = 360, H = 110, pad = 18, max = Math.max.apply(null, h.counts) || 1, n = h.counts.length;
    var x = function (v) { return pad + (v - h.lo) / (h.hi - h.lo) * (W - 2 * pad); };
    var parts = ['<svg class="hist" width="' + W + '" height="' + (H + 22) + '" viewBox="0 0 ' + W + ' ' + (H + 22) + '">'];
    if (range) parts.push('<rect x="' + x(range[0]) + '" y="4" width="' + Math.max(x(range[1]) - x(range[0]), 1) +
      '" height="' + (H - 4) + '" fill="#fde68a" opacity="0.5"/>');
    h.counts.forEach(function (c, i) {
      var bw = (W - 2 * pad) / n, bh = c ? Math.max(c / max * (H - 10), 1) : 0;
      parts.push('<rect x="' + (pad + i * bw) + '" y="' + (H - bh) + '" width="' + Math.max(bw - 1, 1) + '" height="' + bh + '" fill="#3b82f6"/>');
    });
    if (range) [0, 1].forEach(function (k) {
      parts.push('<line x1="' + x(range[k]) + '" x2="' + x(range[k]) + '" y1="2" y2="' + H + '" stroke="#d97706" stroke-width="2"/>');
    });
    parts.push('<line x1="' + pad + '" x2="' + (W - pad) + '" y1="' + H + '" y2="' + H + '" stroke="#9ca3af"/>');
    parts.push('<text x="' + pad + '" y="' + (H + 15) + '" font-size="10" fill="#4b5563">' + fmt(h.lo) + '</text>');
    parts.push('<text x="' + (W - pad) + '" y="' + (H + 15) + '" font-size="10" fill="#4b5563" text-anchor="end">' + fmt(h.hi) + '</text>');
    parts.push("</svg>");
    var d = el("div"); d.innerHTML = parts.join(""); return d.firstChild;
  }
  function argsTable(args, changes) {
    var ch = {};
    (changes || []).forEach(function (c) { ch[c.arg] = c; });
    var keys = Object.keys(args || {});
    if (!keys.length) return el("div", {"class": "sub", text: "no arguments"});
    return table(null, keys.map(function (k) {
      var v = el("span", {"class": "mono"});
      if (ch[k]) { v.appendChild(el("span", {"class": "old", text: fmt(ch[k].old)})); v.appendChild(document.createTextNode(" → ")); v.appendChild(el("span", {"class": "new", text: fmt(ch[k].new)})); }
      else v.textContent = fmt(args[k]);
      return [k, v];
    }));
  }
  function paramsTable(params) {
    if (!params.length) return el("div", {"class": "sub", text: "no parameters"});
    var total = params.reduce(function (a, p) { return a + p.count; }, 0);
    var rows = params.map(function (p) { return [el("span", {"class": "mono", text: p.name}), shape(p.shape), p.count.toLocaleString("en")]; });
    rows.push(["total", "", total.toLocaleString("en")]);
    return table(["name", "shape", "count"], rows, [2]);
  }
  function details(id) {
    var it = byId[id], d = it.d, out = [];
    out.push(el("div", {}, [el("a", {text: "← summary", onclick: summary})]));
    if (it.kind === "group") {
      out.push(el("h2", {"class": "node-title", text: d.name}));
      out.push(el("div", {"class": "sub", text: d.members.length + " functions (" + (d.kind === "scope" ? "name scope" : "a run in network order") + ")"}));
      out.push(el("p", {}, [el("button", {text: "open this group", onclick: function () { open(id); }})]));
      out.push(el("h3", {text: "functions"}));
      out.push(table(["#", "type", "name"], d.members.slice(0, 400).map(function (m) {
        var n = byId[m].d; return [n.index, n.type, link(n.name, m)]; })));
      return panel.replaceChildren.apply(panel, out);
    }
    var tags = [];
    if (it.kind === "badge") tags.push(el("span", {"class": "tag badge", text: "quantizer"}));
    if (added[d.name]) tags.push(el("span", {"class": "tag added", text: "added"}));
    if (changed[d.name]) tags.push(el("span", {"class": "tag changed", text: "changed"}));
    if (errors && errors.jump_id === id) tags.push(el("span", {"class": "tag jump", text: "error jumps here"}));
    out.push(el("h2", {"class": "node-title", text: d.type}));
    out.push(el("div", {"class": "sub", text: d.name}));
    if (tags.length) out.push(el("div", {style: "margin-top:6px"}, tags));
    if (it.kind === "badge") {
      out.push(el("h3", {text: "quantizer"}));
      out.push(table(null, [["functions", d.functions.join(", ")], ["bits", d.bits || "?"], ["mode", d.mode +
        (d.mode === "static" ? " (range stored in the file)" : " (min/max of each batch)")],
        ["range", d.range ? "[" + fmt(d.range[0]) + ", " + fmt(d.range[1]) + "]" : "—"],
        ["scale", d.per_channel ? "per channel" : "per tensor"], ["reads", d.input], ["writes", d.output]]));
      Object.keys(d.args).forEach(function (f) { out.push(el("h3", {text: "arguments of " + f})); out.push(argsTable(d.args[f], changed[f])); });
      out.push(el("h3", {text: "parameters"})); out.push(paramsTable(d.params));
    } else {
      if (errors && errors.layers[id]) {
        var e = errors.layers[id];
        out.push(el("h3", {text: "error against the original"}));
        out.push(table(null, [["1 - cosine", fmt(1 - e.cosine)], ["SQNR", e.sqnr_db === null ? "∞ (identical)" : e.sqnr_db.toFixed(2) + " dB"],
          ["max |a-b|", fmt(e.max_abs)], ["mean |a-b|", fmt(e.mean_abs)]]));
      }
      out.push(el("h3", {text: "inputs → outputs"}));
      out.push(table(null, d.inputs.map(function (v) { return ["in", el("span", {"class": "mono", text: v.name}), shape(v.shape)]; })
        .concat(d.outputs.map(function (v) { return ["out", el("span", {"class": "mono", text: v.name}), shape(v.shape)]; }))));
      out.push(el("h3", {text: "arguments"})); out.push(argsTable(d.args, changed[d.name]));
      out.push(el("h3", {text: "parameters"})); out.push(paramsTable(d.params));
    }
    var h = (data.hist || {})[id];
    if (h) {
      out.push(el("h3", {text: it.kind === "badge" ? "calibration range against observed input values" : "observed output values (" + data.samples + " samples)"}));
      out.push(histogram(h, it.kind === "badge" ? d.range : null));
      if (h.outside !== undefined) out.push(el("div", {"class": "sub", text: (h.outside * 100).toFixed(2) + "% of values outside the range (clipped)"}));
      out.push(el("div", {"class": "sub", text: "min " + fmt(h.min) + ", max " + fmt(h.max)}));
    }
    var th = (data.thumbs || {})[id];
    if (th) { out.push(el("h3", {text: "feature map, sample 0"})); out.push(el("img", {"class": "thumb", src: th, alt: "feature map of " + d.name})); }
    panel.replaceChildren.apply(panel, out);
  }
  function summary() {
    if (svg) svg.querySelectorAll("g.node.selected").forEach(function (n) { n.classList.remove("selected"); });
    state.selected = null;
    var out = [el("h2", {text: "Summary"})];
    out.push(el("h3", {text: "models"}));
    out.push(table(["", "file", "networks", "functions", "parameters"], s.models.map(function (m) {
      return [m.role, el("span", {"class": "mono", text: m.file}), m.networks.join(", "), m.functions, m.parameters.toLocaleString("en")]; }), [3, 4]));
    out.push(el("h3", {text: "network " + data.network}));
    var q = Object.keys(s.quantizers).map(function (k) { return s.quantizers[k] + " " + k; }).join(", ");
    out.push(table(null, [["function nodes", s.nodes], ["quantizers", s.badges + (q ? " (" + q + ")" : "")],
      ["types", Object.keys(s.types).slice(0, 8).map(function (t) { return t + " " + s.types[t]; }).join(", ")]]));
    if (errors) {
      out.push(el("h3", {text: "outputs against the original"}));
      out.push(table(["output", "1 - cosine", "SQNR dB", "top-1 agree"], errors.outputs.map(function (o) {
        return [o.name, fmt(1 - o.cosine), o.sqnr_db === null ? "∞" : o.sqnr_db.toFixed(2), o.top1 === null ? "" : (o.top1 * 100).toFixed(1) + "%"]; }), [1, 2, 3]));
      if (errors.jump) out.push(el("p", {}, ["The error jumps first at ", link(errors.jump, errors.jump_id), "."]));
    }
    if (data.accuracy) {
      out.push(el("h3", {text: "accuracy against --labels"}));
      var rows = [];
      Object.keys(data.accuracy).forEach(function (role) { Object.keys(data.accuracy[role]).forEach(function (o) {
        rows.push([role, o, (data.accuracy[role][o] * 100).toFixed(2) + "%"]); }); });
      out.push(table(["model", "output", "top-1"], rows, [2]));
    }
    if (data.diff) {
      var D = data.diff;
      out.push(el("h3", {text: "changes against the original"}));
      var nameId = {};
      g.nodes.forEach(function (n) { nameId[n.name] = n.id; });
      g.badges.forEach(function (b) { b.functions.forEach(function (f) { nameId[f] = b.id; }); });
      var rowsD = [];
      D.added.forEach(function (a) { rowsD.push(["added", a.type, nameId[a.name] ? link(a.name, nameId[a.name]) : a.name]); });
      D.removed.forEach(function (a) { rowsD.push(["removed", a.type, a.name]); });
      D.changed.forEach(function (c) { rowsD.push(["changed", c.changes.map(function (x) { return x.arg + ": " + fmt(x.old) + " → " + fmt(x.new); }).join("; "),
        nameId[c.name] ? link(c.name, nameId[c.name]) : c.name]); });
      out.push(rowsD.length ? table(["", "what", "function"], rowsD.slice(0, 500)) : el("div", {"class": "sub", text: "no differences"}));
    }
    s.notes.forEach(function (n) { out.push(el("div", {"class": "note", text: n})); });
    out.push(el("h3", {text: "how to read"}));
    out.push(el("p", {text: "Boxes are functions (type, stable name, output shape); hover for parameters, click for details. " +
      "Yellow pills are quantizers on the edges they cut. Scroll to pan, Ctrl+scroll or the buttons to zoom, drag to move."}));
    panel.replaceChildren.apply(panel, out);
  }

  summary();
  Viz.instance().then(function (v) { viz = v; show("main"); }).catch(function (err) {
    graphDiv.replaceChildren(el("div", {id: "status", text: "could not lay out the graph: " + err}));
    state.error = String(err);
  });
})();
