/* Shared drawing of the graph views (DAG graph, DAG dependencies, asset graph).
 *
 * twg.draw(canvas, spec) builds an SVG of boxes and arrows:
 *   spec.nodes:    [{id, kind, title, subtitle, parent, reserve, onOpen, tip}]  (parent: a cluster id)
 *   spec.clusters: [{id, title, parent, onOpen, tip}]                          (open task groups)
 *   spec.edges:    [{source, target, label, cls}]
 * Every label is measured in the page first, so each box is as wide as its text (up to MAX_W; a
 * longer text is ellipsised and the full text is the node's accessible name and tooltip). The
 * layout is dagre's (vendor/dagre); a loading sign shows while a large graph is laid out. Pan and zoom: svg-pan-zoom.
 * Everything is text: labels are set with textContent (tw.svg).
 */
(function () {
  "use strict";
  const S = tw.svg;
  const NODE_H = 44, PAD_L = 26, PAD_R = 10, MAX_W = 320, GAP = 10;
  const CLUSTER_HEAD = 0; // the title sits in the room dagre leaves above a cluster's first row (nodesep / 2 + a bit)

  /** Cut `text` element's content with "…" until it is at most `max` px wide. */
  function fitText(text, full, max) {
    text.textContent = full;
    if (text.getComputedTextLength() <= max) return false;
    let lo = 0, hi = full.length;
    while (lo < hi) { // the longest prefix that fits with the ellipsis
      const mid = Math.ceil((lo + hi) / 2);
      text.textContent = `${full.slice(0, mid)}…`;
      if (text.getComputedTextLength() <= max) lo = mid; else hi = mid - 1;
    }
    text.textContent = `${full.slice(0, lo)}…`;
    return true;
  }

  /** Run dagre on the page, after the loading sign has painted. (A Web Worker would keep the page
   *  responsive during a huge layout, but the static files' Content-Security-Policy, default-src
   *  'none', forbids a worker from loading dagre.) */
  async function layout(input) {
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    return runDagre(input);
  }

  /** dagre on plain data: {nodes:[{id,w,h,parent}], clusters:[{id,parent}], edges:[{source,target,w,h}]}. */
  function runDagre(input) {
    const g = new dagre.graphlib.Graph({ compound: true, multigraph: true });
    g.setGraph({ rankdir: input.rankdir || "LR", nodesep: 36, ranksep: 46, edgesep: 12, marginx: 16, marginy: 16 });
    g.setDefaultEdgeLabel(() => ({}));
    input.clusters.forEach((c) => g.setNode(c.id, { paddingTop: CLUSTER_HEAD }));
    input.nodes.forEach((n) => g.setNode(n.id, { width: n.w, height: n.h }));
    input.clusters.forEach((c) => { if (c.parent) g.setParent(c.id, c.parent); });
    input.nodes.forEach((n) => { if (n.parent) g.setParent(n.id, n.parent); });
    input.edges.forEach((e, i) => g.setEdge(e.source, e.target,
      { width: e.w || 0, height: e.h || 0, labelpos: "c", minlen: 1 }, String(i)));
    dagre.layout(g);
    const out = { nodes: {}, edges: [], width: g.graph().width, height: g.graph().height };
    g.nodes().forEach((id) => { const n = g.node(id); out.nodes[id] = { x: n.x, y: n.y, w: n.width, h: n.height }; });
    input.edges.forEach((e, i) => {
      const d = g.edge({ v: e.source, w: e.target, name: String(i) });
      out.edges.push({ points: d.points, x: d.x, y: d.y });
    });
    return out;
  }

  function pathOf(points) {
    if (!points || !points.length) return "";
    let d = `M${points[0].x},${points[0].y}`;
    if (points.length === 2) return `${d} L${points[1].x},${points[1].y}`;
    for (let i = 1; i < points.length - 1; i++) { // quadratic curves through the midpoints
      const p = points[i], q = points[i + 1];
      const mx = i === points.length - 2 ? q.x : (p.x + q.x) / 2, my = i === points.length - 2 ? q.y : (p.y + q.y) / 2;
      d += ` Q${p.x},${p.y} ${mx},${my}`;
    }
    return d;
  }

  /** A loading sign in the canvas (replaced once the graph is drawn). */
  function loading(canvas, text) {
    canvas.replaceChildren(tw.el("div", { class: "graph-loading", role: "status" },
      tw.el("span", { class: "spinner", "aria-hidden": "true" }), text || "Laying out the graph…"));
  }

  /**
   * Draw spec into canvas. Returns a promise of {svg, shapes: Map(id -> {g, rect, mark, count, node}), panZoom}.
   */
  async function draw(canvas, spec) {
    loading(canvas, spec.nodes.length > 500 ? `Laying out ${spec.nodes.length} nodes…` : undefined);
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))); // let the sign paint
    // 1. build the boxes off-layout in a hidden SVG to measure their text
    const svg = S("svg", { class: "tw-graph", role: "group", "aria-label": spec.label || "graph" },
      S("defs", {}, S("marker", { id: "tw-arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7",
        markerHeight: "7", orient: "auto-start-reverse" }, S("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow-head" }))));
    const viewport = S("g", { class: "viewport" });
    const clusterLayer = S("g", { class: "clusters" }), edgeLayer = S("g", { class: "edges" }), nodeLayer = S("g", { class: "nodes" });
    viewport.append(clusterLayer, edgeLayer, nodeLayer);
    svg.append(viewport);
    svg.classList.add("measuring");
    canvas.append(svg);
    const shapes = new Map();
    spec.nodes.forEach((n) => {
      const g = S("g", { class: `node kind-${n.kind}${n.cls ? " " + n.cls : ""}`, tabindex: "0", role: "link",
        "aria-label": n.fullTitle || n.title, "data-id": n.id });
      const rect = S("rect", { class: "box", rx: n.kind === "asset" ? 14 : n.kind === "group" ? 10 : 6 });
      const mark = S("rect", { class: "state-mark", x: 9, y: 10, width: 10, height: 10, rx: 2 });
      const title = S("text", { class: "node-label", x: PAD_L, y: 19 });
      const sub = S("text", { class: "node-sub", x: PAD_L, y: 35 });
      const count = S("text", { class: "node-count", y: 35, "text-anchor": "end" });
      g.append(rect, mark, title, sub, count);
      nodeLayer.append(g);
      shapes.set(n.id, { g, rect, mark, title, sub, count, node: n });
    });
    const clusterShapes = new Map();
    spec.clusters.forEach((c) => {
      const g = S("g", { class: "cluster", "data-id": c.id });
      const rect = S("rect", { class: "cluster-box", rx: 8 });
      const title = S("text", { class: "cluster-title", tabindex: "0", role: "button", "aria-label": c.fullTitle || c.title });
      g.append(rect, title);
      clusterLayer.append(g);
      clusterShapes.set(c.id, { g, rect, title, cluster: c });
    });
    const edgeLabels = spec.edges.map((e) => {
      if (!e.label) return null;
      const t = S("text", { class: "edge-label-text", "text-anchor": "middle" });
      t.textContent = e.label;
      edgeLayer.append(t);
      return t;
    });
    // 2. measure (all reads after all writes: one style/layout pass)
    const sizes = new Map();
    shapes.forEach((s) => {
      const n = s.node;
      s.title.textContent = n.title;
      s.sub.textContent = n.subtitle || "";
      s.count.textContent = n.reserve || "";
    });
    shapes.forEach((s, id) => {
      const tw0 = s.title.getComputedTextLength(), sw = s.sub.getComputedTextLength();
      const cw = s.node.reserve ? s.count.getComputedTextLength() + GAP : 0;
      sizes.set(id, { tw: tw0, sw, cw });
    });
    const labelSizes = edgeLabels.map((t) => (t ? t.getBBox() : null));
    shapes.forEach((s, id) => {
      const m = sizes.get(id);
      const w = Math.min(MAX_W, Math.max(90, PAD_L + Math.max(m.tw, m.sw + m.cw) + PAD_R));
      const inner = w - PAD_L - PAD_R;
      s.truncated = fitText(s.title, s.node.title, inner);
      fitText(s.sub, s.node.subtitle || "", inner - m.cw);
      s.count.textContent = "";
      s.w = w; s.h = NODE_H;
    });
    // 3. lay out
    const input = {
      rankdir: spec.rankdir || "LR",
      nodes: [...shapes.values()].map((s) => ({ id: s.node.id, w: s.w, h: s.h, parent: s.node.parent || null })),
      clusters: spec.clusters.map((c) => ({ id: c.id, parent: c.parent || null })),
      edges: spec.edges.map((e, i) => ({ source: e.source, target: e.target,
        w: labelSizes[i] ? labelSizes[i].width + 8 : 0, h: labelSizes[i] ? labelSizes[i].height + 4 : 0 })),
    };
    const out = await layout(input);
    // 4. place
    shapes.forEach((s, id) => {
      const p = out.nodes[id];
      s.g.setAttribute("transform", `translate(${p.x - s.w / 2},${p.y - s.h / 2})`);
      s.rect.setAttribute("width", s.w); s.rect.setAttribute("height", s.h);
      s.count.setAttribute("x", s.w - PAD_R);
      const open = () => s.node.onOpen && s.node.onOpen(s.node);
      s.g.addEventListener("click", (e) => { if (!canvas.dataset.dragged) open(); else e.preventDefault(); });
      s.g.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
      if (s.node.tip && window.twc) twc.withTip(s.g, () => s.node.tip(s.node));
    });
    clusterShapes.forEach((s, id) => {
      const p = out.nodes[id];
      const x = p.x - p.w / 2, y = p.y - p.h / 2 - CLUSTER_HEAD;
      s.rect.setAttribute("x", x); s.rect.setAttribute("y", y);
      s.rect.setAttribute("width", p.w); s.rect.setAttribute("height", p.h + CLUSTER_HEAD);
      s.title.setAttribute("x", x + 8); s.title.setAttribute("y", y + 15);
      fitText(s.title, s.cluster.title, p.w - 16);
      const open = () => s.cluster.onOpen && s.cluster.onOpen(s.cluster);
      s.title.addEventListener("click", () => { if (!canvas.dataset.dragged) open(); });
      s.title.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
      if (s.cluster.tip && window.twc) twc.withTip(s.title, () => s.cluster.tip(s.cluster));
    });
    spec.edges.forEach((e, i) => {
      const d = out.edges[i];
      edgeLayer.insertBefore(S("path", { d: pathOf(d.points), class: `edge${e.cls ? " " + e.cls : ""}`,
        "marker-end": "url(#tw-arrow)", "data-source": e.source, "data-target": e.target }), edgeLayer.firstChild);
      const t = edgeLabels[i];
      if (t) {
        t.setAttribute("x", d.x); t.setAttribute("y", d.y + 4);
        const b = labelSizes[i];
        edgeLayer.insertBefore(S("rect", { class: "edge-label-bg", x: d.x - b.width / 2 - 3, y: d.y - b.height / 2 - 1,
          width: b.width + 6, height: b.height + 2, rx: 3 }), t);
      }
    });
    // the cluster boxes start higher than dagre's bounds: grow the drawing to include them
    let minY = 0;
    clusterShapes.forEach((s) => { minY = Math.min(minY, Number(s.rect.getAttribute("y")) - 4); });
    const width = Math.max(out.width, 100), height = Math.max(out.height - minY, 60);
    svg.setAttribute("viewBox", `0 ${minY} ${width} ${height}`);
    canvas.querySelectorAll(".graph-loading").forEach((n) => n.remove());
    svg.classList.remove("measuring");
    // svg-pan-zoom writes setAttribute("style", "overflow: hidden; ...") unless the style already
    // names overflow, and the CSP forbids style attributes: set it through the CSSOM (allowed) first.
    svg.style.overflow = "hidden";
    const panZoom = svgPanZoom(svg, { zoomEnabled: true, panEnabled: true, controlIconsEnabled: false, fit: true,
      center: true, minZoom: 0.02, maxZoom: 20, dblClickZoomEnabled: false, zoomScaleSensitivity: 0.25 });
    if (panZoom.getZoom() > 1) { panZoom.zoom(1); panZoom.center(); } // a small graph keeps its natural size
    trackDrags(canvas);
    svg.dataset.ready = "1";
    return { svg, shapes, clusters: clusterShapes, panZoom };
  }

  /** A drag that pans the graph is not a click on the node under the mouse. */
  function trackDrags(canvas) {
    if (canvas.dataset.dragTracked) return;
    canvas.dataset.dragTracked = "1";
    let start = null;
    canvas.addEventListener("mousedown", (e) => { start = [e.clientX, e.clientY]; delete canvas.dataset.dragged; });
    canvas.addEventListener("mousemove", (e) => {
      if (start && Math.abs(e.clientX - start[0]) + Math.abs(e.clientY - start[1]) > 4) canvas.dataset.dragged = "1";
    });
    canvas.addEventListener("mouseup", () => {
      start = null;
      setTimeout(() => { delete canvas.dataset.dragged; }, 0);
    });
  }

  /** Paint a node's state: border and mark take the --st-<state> colour (dark mode follows the CSS). */
  function paintState(shape, st) {
    const s = String(st || "none").replace(/[^a-z_]/g, "");
    shape.g.dataset.state = s;
    shape.rect.style.stroke = s === "none" ? "" : `var(--st-${s})`;
    shape.mark.style.fill = `var(--st-${s})`;
  }

  window.twg = { draw, runDagre, paintState, fitText, loading };
})();
