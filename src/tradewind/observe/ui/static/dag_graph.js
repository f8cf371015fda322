/* The Graph view: the DAG's tasks, task groups, assets and linked DAGs, laid out in the browser
 * (graph_view.js: measured labels, dagre, svg-pan-zoom) from /ui/data/dags/<dag>/graph.
 *
 * Nodes are coloured by the picked run's states (border and state mark), mapped tasks show their
 * instance count, setup/teardown tasks an arrow. A click on a task opens it in the grid's panel
 * (/dags/<dag>/grid?run_id=&task_id=); on a group node or an open group's title it expands or
 * collapses the group (no reload: the structure is all in the page); on an asset or DAG node its
 * page. While the run is unfinished only the states are polled (/graph/states) every 2.5 s.
 */
(function () {
  "use strict";
  const pd = tw.pageData();
  const dagId = pd.dag.dag_id;
  const enc = encodeURIComponent;
  const root = document.getElementById("graph-view");
  const url = new URL(window.location.href);
  const state = { runId: pd.run_id || null, expanded: new Set(url.searchParams.getAll("expanded")), data: null,
                  drawn: null, stopPoll: null, drawing: 0 };

  const toolbar = tw.el("div", { class: "toolbar graph-toolbar" });
  const runInfo = tw.el("span", { class: "run-info" });
  const canvas = tw.el("div", { class: "graph-canvas tw-graph-canvas", tabindex: "0", "aria-label": "DAG graph" });
  const legend = tw.el("div", { class: "chart-legend graph-legend" });
  root.append(toolbar, canvas, legend);

  async function load() {
    twg.loading(canvas, "Loading the graph…");
    const { data } = await tw.api(twc.dataUrl(dagId, "graph"), { params: { run_id: state.runId } });
    state.data = data;
    state.runId = data.run ? data.run.run_id : null;
    state.groups = new Map(data.groups.map((g) => [g.id, g]));
    [...state.expanded].forEach((g) => { if (!state.groups.has(g)) state.expanded.delete(g); });
    await render();
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
      renderLegend();
      if (!data.live && state.stopPoll) { state.stopPoll(); state.stopPoll = null; }
    }, 2500);
  }

  // ------------------------------------------------------------------ toolbar
  function renderToolbar() {
    const d = state.data;
    const items = [
      d.runs.length
        ? twc.runPicker(d.runs, state.runId, (runId) => { state.runId = runId; twc.setQuery("run_id", runId); reload(); })
        : tw.el("span", { class: "muted" }, "No runs yet: the graph shows the DAG's structure."),
      runInfo,
    ];
    // (replaceChildren turns a null argument into the text "null": only real nodes go in)
    if (d.groups.length) {
      items.push(tw.el("button", { type: "button", onclick: () => setExpanded(d.groups.map((g) => g.id)) }, "Expand all groups"),
                 tw.el("button", { type: "button", onclick: () => setExpanded([]) }, "Collapse all"));
    }
    items.push(tw.el("button", { type: "button", title: "Fit the whole graph in view",
      onclick: () => { if (state.drawn) { state.drawn.panZoom.resize(); state.drawn.panZoom.fit(); state.drawn.panZoom.center(); } } }, "Fit"));
    toolbar.replaceChildren(...items);
    renderRunInfo();
  }

  function renderRunInfo() {
    const run = state.data.run;
    const parts = run ? [tw.stateBadge(run.state, { text: true })] : [];
    if (run && state.data.live) parts.push(tw.el("span", { class: "muted" }, "live"));
    runInfo.replaceChildren(...parts);
  }

  function reload() { load().catch(showError); }
  function setExpanded(groups) {
    state.expanded = new Set(groups);
    twc.setQuery("expanded", [...state.expanded]);
    render().catch(showError);
  }
  function toggleGroup(groupId) {
    if (state.expanded.has(groupId)) {
      [...state.expanded].filter((g) => g === groupId || g.startsWith(groupId + ".")).forEach((g) => state.expanded.delete(g));
    } else state.expanded.add(groupId);
    setExpanded([...state.expanded]);
  }

  // ------------------------------------------------------------------ what is visible
  /** The visible stand-in of a task or group: itself, or its outermost collapsed group. */
  function visibleOf(id, groupOf) {
    const chain = [];
    let g = groupOf(id);
    while (g) { chain.unshift(g); g = state.groups.get(g).parent; }
    for (const gid of chain) if (!isOpen(gid)) return gid;
    return id;
  }
  function isOpen(gid) { return state.expanded.has(gid) && (state.groups.get(gid).task_count > 0); }

  function operatorLabel(operator) {
    return operator && operator.startsWith("_") && operator.includes("Decorated") ? "@task" : operator || "";
  }

  function buildSpec() {
    const d = state.data;
    const taskGroup = new Map(d.nodes.map((n) => [n.id, n.group]));
    const groupOf = (id) => (taskGroup.has(id) ? taskGroup.get(id) : state.groups.has(id) ? state.groups.get(id).parent : null);
    const visible = new Map(); // node id -> spec node
    const clusters = [];
    d.groups.forEach((g) => {
      const shown = visibleOf(g.id, groupOf);
      if (shown !== g.id) return; // inside a collapsed group
      if (isOpen(g.id)) {
        clusters.push({ id: g.id, title: `▾ ${g.label}`, fullTitle: g.id, parent: g.parent, onOpen: () => toggleGroup(g.id),
                        tip: () => [g.id, g.tooltip, `${g.task_count} tasks — click to collapse`] });
      } else {
        visible.set(g.id, { id: g.id, kind: "group", title: `▸ ${g.label}`, fullTitle: g.id, subtitle: `group · ${g.task_count} tasks`,
                            parent: g.parent, onOpen: () => toggleGroup(g.id), tip: () => nodeTip(g.id, "group", g) });
      }
    });
    d.nodes.forEach((n) => {
      if (visibleOf(n.id, groupOf) !== n.id) return;
      const mark = n.is_setup ? "↗ " : n.is_teardown ? "↘ " : "";
      visible.set(n.id, { id: n.id, kind: "task", title: mark + n.label, fullTitle: n.id, subtitle: operatorLabel(n.operator),
                          parent: n.group, reserve: n.is_mapped ? "[00000]" : "", cls: n.is_mapped ? "mapped" : "",
                          task: n, onOpen: () => openTask(n.id), tip: () => nodeTip(n.id, "task", n) });
    });
    d.assets.forEach((a) => visible.set(a.id, { id: a.id, kind: "asset", title: a.label, fullTitle: a.label, subtitle: "asset",
      onOpen: () => window.location.assign(`/assets/graph?asset=${enc(a.label)}`), tip: () => [a.label, a.uri, "asset"] }));
    d.dags.forEach((g) => visible.set(g.id, { id: g.id, kind: "dag", title: g.dag_id, fullTitle: g.dag_id, subtitle: "DAG",
      onOpen: () => window.location.assign(`/dags/${enc(g.dag_id)}/graph`), tip: () => [g.dag_id, "another DAG — click to open its graph"] }));
    const edges = new Map();
    const addEdge = (src, dst, label, cls) => {
      const a = visible.has(src) ? src : visibleOf(src, groupOf), b = visible.has(dst) ? dst : visibleOf(dst, groupOf);
      if (a === b || !visible.has(a) || !visible.has(b)) return;
      const key = `${a}\u0000${b}`;
      const lifted = a !== src || b !== dst;
      const prev = edges.get(key);
      if (prev) { if (!lifted && label) prev.label = label; return; }
      edges.set(key, { source: a, target: b, label: lifted ? null : label, cls });
    };
    d.edges.forEach((e) => addEdge(e.source, e.target, e.label, e.setup_teardown ? "setup-teardown" : ""));
    d.links.forEach((l) => addEdge(l.source, l.target, null, `link link-${l.kind}`));
    return { label: `Graph of ${dagId}`, nodes: [...visible.values()], clusters, edges: [...edges.values()] };
  }

  function openTask(taskId) {
    const params = new URLSearchParams();
    if (state.runId) params.set("run_id", state.runId);
    params.set("task_id", taskId);
    window.location.assign(`/dags/${enc(dagId)}/grid?${params}`);
  }

  function nodeTip(id, kind, n) {
    const s = (state.data.states || {})[id] || { state: "none" };
    const lines = [kind === "group" ? `Group ${id}` : id];
    if (kind === "group") lines.push(`${n.task_count} tasks — click to expand`);
    else lines.push(operatorLabel(n.operator));
    if (n.is_setup) lines.push("setup task");
    if (n.is_teardown) lines.push("teardown task");
    lines.push(`state: ${s.state}`);
    if (s.try_number) lines.push(`try: ${s.try_number}`);
    if (s.map_count !== null && s.map_count !== undefined) lines.push(`mapped: ${s.map_count} instances`);
    if (s.counts) Object.entries(s.counts).forEach(([k, v]) => lines.push(`  ${k}: ${v}`));
    return lines;
  }

  // ------------------------------------------------------------------ drawing
  async function render() {
    twc.hideTip();
    renderToolbar();
    const ticket = ++state.drawing;
    if (state.drawn) { state.drawn.panZoom.destroy(); state.drawn = null; }
    const drawn = await twg.draw(canvas, buildSpec());
    if (ticket !== state.drawing) return; // a newer drawing started meanwhile
    canvas.querySelectorAll("svg.tw-graph").forEach((s) => { if (s !== drawn.svg) s.remove(); });
    state.drawn = drawn;
    paintStates();
    renderLegend();
  }

  function paintStates() {
    if (!state.drawn) return;
    const states = state.data.states || {};
    state.drawn.shapes.forEach((shape, id) => {
      const n = shape.node;
      if (n.kind !== "task" && n.kind !== "group") return;
      const s = states[id] || { state: "none" };
      twg.paintState(shape, s.state);
      if (n.kind === "task" && n.task.is_mapped) {
        shape.count.textContent = s.map_count !== null && s.map_count !== undefined ? `[${s.map_count}]` : "[ ]";
      }
    });
    state.drawn.clusters.forEach((shape, id) => {
      const s = states[id] || { state: "none" };
      shape.rect.style.stroke = s.state === "none" ? "" : `var(--st-${String(s.state).replace(/[^a-z_]/g, "")})`;
    });
  }

  function renderLegend() {
    const seen = new Set(Object.values(state.data.states || {}).map((s) => s.state));
    legend.replaceChildren(...[...seen].sort().map((s) => tw.el("span", { class: "legend-item" }, tw.stateBadge(s), ` ${s}`)));
  }

  function showError(e) {
    canvas.replaceChildren(tw.el("p", { class: "banner-error", role: "alert" }, `The graph could not be shown: ${e.message}`));
  }

  load().catch(showError);
})();
