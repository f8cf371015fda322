/* The Graph view: draws the layout computed by the server (/ui/data/dags/<dag>/graph) as SVG.
 *
 * Nodes are coloured by the picked run's states (border and state mark), mapped tasks show
 * their instance count, setup/teardown tasks an up/down arrow. Clicking a task opens its task
 * instance; clicking a group node or an open group's title expands/collapses it. The mouse pans
 * (drag) and zooms (wheel) by changing the SVG viewBox. While the run is unfinished, only the
 * states are polled (/graph/states) every 2.5 s and repainted in place.
 */
(function () {
  "use strict";
  const pd = tw.pageData();
  const dagId = pd.dag.dag_id;
  const root = document.getElementById("graph-view");
  const url = new URL(window.location.href);
  const state = {
    runId: pd.run_id || null,
    expanded: url.searchParams.getAll("expanded"),
    data: null,
    view: null, // {x, y, w, h} of the viewBox
    stopPoll: null,
  };
  const S = tw.svg;

  async function load() {
    const { data } = await tw.api(twc.dataUrl(dagId, "graph"), { params: { run_id: state.runId, expanded: state.expanded } });
    state.data = data;
    state.runId = data.run ? data.run.run_id : null;
    state.expanded = data.expanded;
    render();
    startPolling();
  }

  function startPolling() {
    if (state.stopPoll) { state.stopPoll(); state.stopPoll = null; }
    if (!state.data.live || !state.runId) return;
    let first = true;
    state.stopPoll = tw.poll(async () => {
      if (first) { first = false; return; } // the full load just painted these states
      const { data } = await tw.api(twc.dataUrl(dagId, "graph/states"), { params: { run_id: state.runId } });
      Object.assign(state.data, data);
      paintStates();
      renderRunInfo();
      if (!data.live && state.stopPoll) { state.stopPoll(); state.stopPoll = null; }
    }, 2500);
  }

  // ------------------------------------------------------------------ toolbar
  const toolbar = tw.el("div", { class: "toolbar graph-toolbar" });
  const runInfo = tw.el("span", { class: "run-info" });
  const canvas = tw.el("div", { class: "graph-canvas", tabindex: "0", "aria-label": "DAG graph" });
  const legend = tw.el("div", { class: "chart-legend graph-legend" });
  root.append(toolbar, canvas, legend);

  function renderToolbar() {
    const d = state.data;
    toolbar.replaceChildren(
      d.runs.length
        ? twc.runPicker(d.runs, state.runId, (runId) => { state.runId = runId; twc.setQuery("run_id", runId); load(); })
        : tw.el("span", { class: "muted" }, "No runs yet: the graph shows the DAG's structure."),
      runInfo,
      d.all_groups.length ? tw.el("button", { type: "button", onclick: () => setExpanded(d.all_groups) }, "Expand all groups") : null,
      d.all_groups.length ? tw.el("button", { type: "button", onclick: () => setExpanded([]) }, "Collapse all") : null,
      tw.el("button", { type: "button", onclick: fit, title: "Fit the whole graph in view" }, "Fit"),
    );
    renderRunInfo();
  }

  function renderRunInfo() {
    const run = state.data.run;
    if (!run) { runInfo.replaceChildren(); return; }
    runInfo.replaceChildren(tw.stateBadge(run.state, { text: true }), " ",
      state.data.live ? tw.el("span", { class: "muted" }, "live") : "");
  }

  function setExpanded(groups) {
    state.expanded = groups;
    twc.setQuery("expanded", groups);
    state.view = null;
    load();
  }
  function toggleGroup(groupId) {
    const open = new Set(state.expanded);
    if (open.has(groupId)) {
      open.delete(groupId);
      [...open].filter((g) => g.startsWith(groupId + ".")).forEach((g) => open.delete(g));
    } else open.add(groupId);
    setExpanded([...open]);
  }

  // ------------------------------------------------------------------ drawing
  let svgRoot = null;
  const nodeShapes = new Map(); // node id -> {rect, mark, count}

  function render() {
    twc.hideTip(); // the node under the mouse may be gone
    renderToolbar();
    const d = state.data;
    nodeShapes.clear();
    const margin = 20;
    const full = { x: -margin, y: -margin, w: Math.max(d.width, 200) + 2 * margin, h: Math.max(d.height, 60) + 2 * margin };
    state.full = full;
    if (!state.view) state.view = initialView(full);
    svgRoot = S("svg", { class: "graph-svg", role: "img", "aria-label": `Graph of ${dagId}` },
      S("defs", {},
        S("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7",
                      orient: "auto-start-reverse" }, S("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow-head" }))));
    const groupLayer = S("g", { class: "groups" });
    const edgeLayer = S("g", { class: "edges" });
    const nodeLayer = S("g", { class: "nodes" });
    svgRoot.append(groupLayer, edgeLayer, nodeLayer);
    // open groups, outer first so inner boxes paint on top
    [...d.groups].sort((a, b) => (a.id.split(".").length - b.id.split(".").length)).forEach((g) => {
      const box = S("g", { class: "group-box" },
        S("rect", { x: g.x, y: g.y, width: g.w, height: g.h, rx: 8 }),
        S("text", { x: g.x + 10, y: g.y + 16, class: "group-title" }, `▾ ${g.label}`));
      box.addEventListener("click", (e) => { if (e.target.tagName === "text") toggleGroup(g.id); });
      twc.withTip(box.querySelector("text"), () => [g.label, g.tooltip, `${g.task_count} tasks — click to collapse`]);
      nodeShapes.set(g.id, { box: box.querySelector("rect") });
      groupLayer.append(box);
    });
    d.edges.forEach((e) => {
      edgeLayer.append(S("path", { d: edgePath(e.points), class: e.setup_teardown ? "edge setup-teardown" : "edge",
                                   "marker-end": "url(#arrow)" }));
      if (e.label) {
        const label = S("g", { class: "edge-label" });
        const text = S("text", { x: e.label_at[0], y: e.label_at[1] + 4, "text-anchor": "middle" }, e.label);
        label.append(text);
        edgeLayer.append(label);
        requestAnimationFrame(() => { // a background behind the text, once it can be measured
          const b = text.getBBox();
          label.insertBefore(S("rect", { x: b.x - 3, y: b.y - 1, width: b.width + 6, height: b.height + 2, rx: 3 }), text);
        });
      }
    });
    d.nodes.forEach((n) => nodeLayer.append(drawNode(n)));
    canvas.replaceChildren(svgRoot);
    applyView();
    paintStates();
    renderLegend();
  }

  /** A smooth path through the points: horizontal tangents at both ends (left-to-right flow). */
  function edgePath(points) {
    let path = `M${points[0][0]},${points[0][1]}`;
    for (let i = 1; i < points.length; i++) {
      const [x0, y0] = points[i - 1], [x1, y1] = points[i];
      const dx = Math.max((x1 - x0) / 2, 12);
      path += ` C${x0 + dx},${y0} ${x1 - dx},${y1} ${x1},${y1}`;
    }
    return path;
  }

  function drawNode(n) {
    const isGroup = n.kind === "group";
    const g = S("g", { class: `node ${isGroup ? "group-node" : "task-node"}`, tabindex: "0", role: "link" });
    const rect = S("rect", { x: n.x, y: n.y, width: n.w, height: n.h, rx: isGroup ? 10 : 6 });
    const mark = S("rect", { x: n.x + 8, y: n.y + 9, width: 10, height: 10, rx: 2, class: "state-mark" });
    let title = n.label;
    if (n.is_setup) title = `↗ ${title}`;
    if (n.is_teardown) title = `↘ ${title}`;
    const maxChars = Math.floor((n.w - 34) / 7);
    const shown = title.length > maxChars ? `${title.slice(0, Math.max(maxChars - 1, 1))}…` : title;
    const label = S("text", { x: n.x + 24, y: n.y + 18, class: "node-label" }, shown);
    const sub = S("text", { x: n.x + 24, y: n.y + 33, class: "node-sub" },
      isGroup ? `group · ${n.task_count} tasks` : operatorLabel(n.operator));
    const count = S("text", { x: n.x + n.w - 8, y: n.y + 33, class: "node-count", "text-anchor": "end" }, "");
    g.append(rect, mark, label, sub, count);
    nodeShapes.set(n.id, { rect, mark, count, sub, node: n });
    const open = () => {
      if (isGroup) { toggleGroup(n.id); return; }
      if (state.runId) window.location.assign(twc.tiUrl(dagId, state.runId, n.id));
    };
    g.addEventListener("click", open);
    g.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
    twc.withTip(g, () => nodeTip(n));
    return g;
  }

  function operatorLabel(operator) {
    return operator && operator.startsWith("_") && operator.includes("Decorated") ? "@task" : operator || "";
  }

  function nodeTip(n) {
    const s = (state.data.states || {})[n.id] || { state: "none" };
    const lines = [n.kind === "group" ? `Group ${n.id}` : n.id];
    if (n.kind === "group") lines.push(`${n.task_count} tasks — click to expand`);
    else lines.push(operatorLabel(n.operator));
    if (n.is_setup) lines.push("setup task");
    if (n.is_teardown) lines.push("teardown task");
    lines.push(`state: ${s.state}`);
    if (s.try_number) lines.push(`try: ${s.try_number}`);
    if (s.map_count !== null && s.map_count !== undefined) lines.push(`mapped: ${s.map_count} instances`);
    if (s.counts) Object.entries(s.counts).forEach(([k, v]) => lines.push(`  ${k}: ${v}`));
    return lines;
  }

  function paintStates() {
    const states = state.data.states || {};
    nodeShapes.forEach((shape, id) => {
      const s = states[id] || { state: "none" };
      const colour = twc.stateColour(s.state);
      if (shape.box) { shape.box.setAttribute("stroke", colour); return; }
      shape.rect.setAttribute("stroke", s.state === "none" ? "#9aa5b1" : colour);
      shape.mark.setAttribute("fill", colour);
      if (shape.node.kind === "task" && s.map_count !== null && s.map_count !== undefined) {
        shape.count.textContent = `[${s.map_count}]`;
      } else if (shape.node.kind === "task" && shape.node.is_mapped) {
        shape.count.textContent = "[ ]";
      }
    });
  }

  function renderLegend() {
    const seen = new Set(Object.values(state.data.states || {}).map((s) => s.state));
    legend.replaceChildren(...[...seen].sort().map((s) => tw.el("span", { class: "legend-item" }, tw.stateBadge(s), ` ${s}`)));
  }

  // ------------------------------------------------------------------ pan / zoom
  function applyView() {
    const v = state.view;
    svgRoot.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
  }
  function fit() { state.view = { ...state.full }; applyView(); }
  /** The whole graph, at most at its natural size (a small DAG is not blown up), centred. */
  function initialView(full) {
    const w = Math.max(full.w, canvas.clientWidth || full.w), h = Math.max(full.h, canvas.clientHeight || full.h);
    return { x: full.x - (w - full.w) / 2, y: full.y - (h - full.h) / 2, w, h };
  }

  canvas.addEventListener("wheel", (e) => {
    if (!svgRoot) return;
    e.preventDefault();
    const box = svgRoot.getBoundingClientRect();
    const v = state.view;
    const scale = Math.exp(Math.sign(e.deltaY) * 0.12);
    // keep the point under the mouse fixed (the SVG keeps the aspect ratio: use the larger scale)
    const unit = Math.max(v.w / box.width, v.h / box.height);
    const px = v.x + (e.clientX - box.left - (box.width - v.w / unit) / 2) * unit;
    const py = v.y + (e.clientY - box.top - (box.height - v.h / unit) / 2) * unit;
    const w = Math.min(Math.max(v.w * scale, 40), state.full.w * 8);
    const h = v.h * (w / v.w);
    state.view = { x: px - (px - v.x) * (w / v.w), y: py - (py - v.y) * (h / v.h), w, h };
    applyView();
  }, { passive: false });

  let drag = null;
  canvas.addEventListener("mousedown", (e) => {
    if (e.button !== 0 || !svgRoot) return;
    drag = { x: e.clientX, y: e.clientY, view: { ...state.view }, moved: false };
  });
  window.addEventListener("mousemove", (e) => {
    if (!drag) return;
    const box = svgRoot.getBoundingClientRect();
    const unit = Math.max(drag.view.w / box.width, drag.view.h / box.height);
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; canvas.classList.add("panning"); }
    state.view = { ...drag.view, x: drag.view.x - dx * unit, y: drag.view.y - dy * unit };
    applyView();
  });
  window.addEventListener("mouseup", () => {
    if (drag && drag.moved) { // a drag is not a click on the node under the mouse
      const swallow = (e) => { e.stopPropagation(); e.preventDefault(); };
      window.addEventListener("click", swallow, { capture: true, once: true });
      setTimeout(() => window.removeEventListener("click", swallow, { capture: true }), 0);
    }
    drag = null;
    canvas.classList.remove("panning");
  });

  load().catch((e) => { root.append(tw.el("p", { class: "banner-error" }, e.message)); });
})();
