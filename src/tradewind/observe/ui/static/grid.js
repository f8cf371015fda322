/* The Grid view (/dags/{dag_id}/grid): runs as columns (newest right) x tasks as rows.
 *
 * Data: GET /ui/data/dags/{dag_id}/grid (see observe/ui/grid.py) — task/group rows, runs as
 * column arrays, one state letter per run for each task. Painted in one DocumentFragment; clicks
 * and tooltips are delegated (no listener or title per cell). While a shown run is queued or
 * running the data is polled every 2.5 s with If-None-Match (an unchanged grid answers 304) and
 * only the cells whose state changed are repainted; otherwise every 30 s, to pick up new runs.
 *
 * A click on a task cell opens that task instance in the details panel beside the grid
 * (static/grid_panel.js); a click on a run bar, a run label or a group cell opens the run. The
 * selection is in the URL (?run_id=&task_id=&map_index=) so reload and Back show it again. Arrow
 * keys move the selection between cells (and open it), Escape closes the panel. A task cell's
 * tooltip gives that instance's own duration, read from the run's panel data when first hovered.
 */
(function () {
  "use strict";
  const el = (...a) => tw.el(...a);
  const POLL_MS = 2500, IDLE_EVERY = 12;  // idle: every 12th tick (30 s)
  // Most urgent first: what a group row / mapped cell shows when its members differ (as grid.py).
  const PRIORITY = ["failed", "upstream_failed", "up_for_retry", "up_for_reschedule", "queued", "scheduled", "deferred",
                    "running", "restarting", "none", "removed", "skipped", "success"];
  const RANK = Object.fromEntries(PRIORITY.map((s, i) => [s, i]));

  const COL_PX = 22;  // one run's column: cell width + gap (dag.css .grid-row i / .grid-runbars b)
  const LABEL_EVERY_PX = 66;  // past 120 runs, one run label every this many pixels

  let page, dag, root, tip, side, statusNode, panel;
  let data = null, etag = null, params = {}, collapsed = new Set();
  let rowNodes = [], cellNodes = [], barNodes = [], groupMembers = {}, ticks = 0;
  // What the panel shows: {runId, taskId (null for the run), mapIndex}; null when closed.
  let selection = null, opened = false, marked = [];  // marked: the nodes outlined as selected
  const runTimes = new Map();  // run_id -> {instances} from the run panel data (task durations)

  const storageKey = () => `tradewind.grid.collapsed.${dag.dag_id}`;
  const stateClass = (state) => (state ? `s-${state}` : "s-absent");

  function readParams() {
    const q = new URLSearchParams(location.search);
    const limit = Number(q.get("num_runs")) || page.limits[0];
    params = { limit, run_type: q.get("run_type") || "", state: q.get("run_state") || "" };
  }

  function writeParams() {
    const q = new URLSearchParams(location.search);
    const set = (k, v, dflt) => { if (v && v !== dflt) q.set(k, v); else q.delete(k); };
    set("num_runs", String(params.limit), String(page.limits[0]));
    set("run_type", params.run_type);
    set("run_state", params.state);
    const qs = q.toString();
    history.replaceState(null, "", location.pathname + (qs ? `?${qs}` : ""));
  }

  // ------------------------------------------------------------------ fetching
  async function fetchGrid() {
    const url = new URL(`/ui/data/dags/${encodeURIComponent(dag.dag_id)}/grid`, location.origin);
    url.searchParams.set("limit", params.limit);
    if (params.run_type) url.searchParams.set("run_type", params.run_type);
    if (params.state) url.searchParams.set("state", params.state);
    const headers = { Accept: "application/json" };
    if (etag) headers["If-None-Match"] = etag;
    const resp = await fetch(url, { headers, credentials: "same-origin", cache: "no-store" });
    if (resp.status === 304) return null;
    if (resp.status === 401) { location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`); return null; }
    if (!resp.ok) {
      let detail = `HTTP ${resp.status}`;
      try { detail = (await resp.json()).detail || detail; } catch (e) { /* keep the status */ }
      throw new Error(`Grid: ${detail}`);
    }
    etag = resp.headers.get("etag");
    return resp.json();
  }

  async function refresh({ force = false } = {}) {
    if (force) etag = null;
    const next = await fetchGrid();
    if (next === null) return;
    const first = !opened;
    opened = true;
    const t0 = performance.now();
    if (data && sameShape(data, next)) update(next);
    else render(next);
    statusNode.textContent = `${next.runs.run_id.length} run(s)` + (next.active ? " · live" : "");
    if (first && selection) openSelection();
    // For bench/grid.py: how long building the DOM took, and when the next frame was painted.
    root.dataset.buildMs = String(Math.round(performance.now() - t0));
    requestAnimationFrame(() => setTimeout(() => { root.dataset.paintedAt = String(performance.now()); }, 0));
  }

  function sameShape(a, b) {
    if (a.rows.length !== b.rows.length || a.runs.run_id.length !== b.runs.run_id.length) return false;
    for (let i = 0; i < a.rows.length; i++) if (a.rows[i].id !== b.rows[i].id || a.rows[i].kind !== b.rows[i].kind) return false;
    const ra = a.runs.run_id, rb = b.runs.run_id;
    for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return false;
    return true;
  }

  // ------------------------------------------------------------------ states
  /** The state of row r (a task or group) in column c, from the data. */
  function cellState(d, row, c) {
    if (row.kind === "task") {
      const code = d.states[row.id][c];
      return code === " " ? null : d.codes[code];
    }
    let best = null;
    for (const tid of groupMembers[row.id]) {
      const code = d.states[tid][c];
      if (code === " ") continue;
      const s = d.codes[code];
      if (best === null || (RANK[s] ?? 99) < (RANK[best] ?? 99)) best = s;
    }
    return best;
  }

  function computeGroupMembers(rows) {
    groupMembers = {};
    const stack = [];
    for (const row of rows) {
      while (stack.length && stack[stack.length - 1].depth >= row.depth) stack.pop();
      if (row.kind === "task") stack.forEach((g) => groupMembers[g.id].push(row.id));
      else { groupMembers[row.id] = []; stack.push(row); }
    }
  }

  function runDuration(d, c) {
    const start = d.runs.start_date[c];
    if (!start) return 0;
    const end = d.runs.end_date[c] ? Date.parse(d.runs.end_date[c]) : Date.now();
    return Math.max(0, (end - Date.parse(start)) / 1000);
  }

  function mappedCount(d, row, c) {
    const m = d.mapped[row.id];
    return m ? m[String(c)] : undefined;
  }

  // ------------------------------------------------------------------ painting
  function render(next) {
    const keepRight = !data || root.scrollLeft + root.clientWidth >= root.scrollWidth - 4;
    data = next;
    computeGroupMembers(data.rows);
    const n = data.runs.run_id.length;
    const frag = document.createDocumentFragment();
    const table = el("div", { class: "grid-table" });
    frag.append(table);

    const maxDur = Math.max(1, ...Array.from({ length: n }, (_, c) => runDuration(data, c)));
    const barsCell = el("div", { class: "gc" });
    barNodes = new Array(n);
    for (let c = 0; c < n; c++) {
      const bar = document.createElement("b");
      bar.className = stateClass(data.runs.state[c]);
      bar.style.height = `${Math.max(3, Math.round(80 * runDuration(data, c) / maxDur))}px`;
      barsCell.append(bar);
      barNodes[c] = bar;
    }
    table.append(el("div", { class: "grid-row grid-runbars", dataset: { row: "runs" } },
      el("div", { class: "gl" }, n ? "Runs (duration)" : "No runs yet"), barsCell));
    table.append(runLabels(data));

    rowNodes = [];
    cellNodes = [];
    data.rows.forEach((row, r) => {
      // A group's label is its open/close button (aria-expanded lives there, set by applyCollapsed).
      const label = el("div", { class: "gl", title: row.kind === "group" ? (row.tooltip || row.id) : row.id },
        row.label, row.kind === "task" && row.mapped ? el("span", { class: "muted" }, " [ ]") : "");
      if (row.kind === "group") { label.setAttribute("role", "button"); label.tabIndex = 0; }
      label.style.paddingLeft = `${row.depth * 1.1 + (row.kind === "group" ? 0 : 1)}em`;
      const cells = el("div", { class: "gc" });
      const nodes = new Array(n);
      for (let c = 0; c < n; c++) {
        const cell = document.createElement("i");
        cell.className = cellClass(data, row, c);
        cells.append(cell);
        nodes[c] = cell;
      }
      const node = el("div", { class: `grid-row ${row.kind}`, dataset: { row: String(r) } }, label, cells);
      rowNodes.push(node);
      cellNodes.push(nodes);
      table.append(node);
    });
    updateMappedLabels();
    applyCollapsed();
    root.replaceChildren(frag);
    if (keepRight) root.scrollLeft = root.scrollWidth;
    markSelection();
  }

  /** The run labels under the bars: the date each run is for (logical date, else run after),
   *  rotated, at most one every LABEL_EVERY_PX so they never overlap. */
  function runLabels(d) {
    const n = d.runs.run_id.length;
    const box = el("div", { class: "gc grid-labels" });
    box.style.width = `${n * COL_PX}px`;
    const step = n <= 120 ? 1 : Math.ceil(LABEL_EVERY_PX / COL_PX);
    for (let c = n - 1; c >= 0; c -= step) {
      const iso = d.runs.logical_date[c] || d.runs.run_after[c];
      const label = el("span", { dataset: { c: String(c) } }, shortDate(iso));
      label.style.left = `${c * COL_PX}px`;
      box.append(label);
    }
    return el("div", { class: "grid-row grid-runlabels", dataset: { row: "labels" } },
      el("div", { class: "gl muted" }, n ? "Run dates" : ""), box);
  }

  /** "03-05 06:00" in the chosen zone (the year is in the tooltip and the run panel). */
  function shortDate(iso) {
    const full = tw.fmtTime(iso, { seconds: false });
    const m = /^\d{4}-(\d\d-\d\d) (\d\d:\d\d)/.exec(full);
    return m ? `${m[1]} ${m[2]}` : full;
  }

  function cellClass(d, row, c) {
    const cls = stateClass(cellState(d, row, c));
    return row.kind === "task" && mappedCount(d, row, c) ? `${cls} m` : cls;
  }

  /** A mapped task's label shows how many instances its newest run has ("[5]"). */
  function updateMappedLabels() {
    const last = data.runs.run_id.length - 1;
    data.rows.forEach((row, r) => {
      if (row.kind !== "task" || !row.mapped) return;
      const counts = last >= 0 ? mappedCount(data, row, last) : undefined;
      const total = counts ? Object.values(counts).reduce((a, b) => a + b, 0) : null;
      const span = rowNodes[r].querySelector(".gl > span");
      if (span) span.textContent = ` [${total === null ? " " : total}]`;
    });
  }

  /** Repaint only what changed between the shown data and `next` (same runs and rows). */
  function update(next) {
    const prev = data;
    data = next;
    const n = next.runs.run_id.length;
    let changed = 0;
    const dirty = new Set();
    next.rows.forEach((row, r) => {
      if (row.kind !== "task") return;
      const a = prev.states[row.id], b = next.states[row.id];
      const am = prev.mapped[row.id], bm = next.mapped[row.id];
      for (let c = 0; c < n; c++) {
        const mappedChanged = (am || bm) && JSON.stringify(am && am[c]) !== JSON.stringify(bm && bm[c]);
        if (a[c] !== b[c] || mappedChanged) { cellNodes[r][c].className = cellClass(next, row, c); dirty.add(c); changed++; }
      }
    });
    next.rows.forEach((row, r) => {
      if (row.kind !== "group") return;
      dirty.forEach((c) => { cellNodes[r][c].className = cellClass(next, row, c); });
    });
    const maxDur = Math.max(1, ...Array.from({ length: n }, (_, c) => runDuration(next, c)));
    for (let c = 0; c < n; c++) {
      barNodes[c].className = stateClass(next.runs.state[c]);
      barNodes[c].style.height = `${Math.max(3, Math.round(80 * runDuration(next, c) / maxDur))}px`;
    }
    updateMappedLabels();
    dirty.forEach((c) => runTimes.delete(next.runs.run_id[c]));
    next.runs.state.forEach((st, c) => { if (st !== prev.runs.state[c]) runTimes.delete(next.runs.run_id[c]); });
    markSelection();
    root.dataset.updatedCells = String(changed);
  }

  // ------------------------------------------------------------------ groups
  function applyCollapsed() {
    const hiddenUnder = [];
    data.rows.forEach((row, r) => {
      while (hiddenUnder.length && hiddenUnder[hiddenUnder.length - 1] >= row.depth) hiddenUnder.pop();
      const hidden = hiddenUnder.length > 0;
      rowNodes[r].classList.toggle("hidden", hidden);
      if (row.kind === "group") {
        const isCollapsed = collapsed.has(row.id);
        rowNodes[r].classList.toggle("collapsed", isCollapsed);
        rowNodes[r].firstChild.setAttribute("aria-expanded", String(!isCollapsed));
        if (isCollapsed || hidden) hiddenUnder.push(row.depth);
      }
    });
  }

  function saveCollapsed() {
    try { localStorage.setItem(storageKey(), JSON.stringify([...collapsed])); } catch (e) { /* private mode */ }
  }

  // ------------------------------------------------------------------ interaction
  /** (row index or "runs", column) of a cell or run bar under an event, else null. */
  function hit(target) {
    if (target instanceof Element && target.tagName === "SPAN" && target.dataset.c !== undefined) {
      return { row: "runs", c: Number(target.dataset.c) };
    }
    if (!(target instanceof Element) || (target.tagName !== "I" && target.tagName !== "B")) return null;
    const rowNode = target.parentNode.parentNode;
    const c = Array.prototype.indexOf.call(target.parentNode.children, target);
    return { row: rowNode.dataset.row, c };
  }

  /** Enter or Space on a focused group label opens/closes the group, as a click does. */
  function onKey(event) {
    if (event.key !== "Enter" && event.key !== " ") return;
    if (!(event.target instanceof Element) || !event.target.matches(".grid-row.group > .gl")) return;
    event.preventDefault();
    onClick(event);
  }

  function onClick(event) {
    const label = event.target instanceof Element && event.target.closest(".grid-row.group > .gl");
    if (label) {
      const row = data.rows[Number(label.parentNode.dataset.row)];
      if (collapsed.has(row.id)) collapsed.delete(row.id); else collapsed.add(row.id);
      saveCollapsed();
      applyCollapsed();
      return;
    }
    const h = hit(event.target);
    if (!h) return;
    selectCell(h.row === "runs" ? null : Number(h.row), h.c, { push: true });
  }

  function tooltipText(h) {
    const c = h.c, runs = data.runs;
    const lines = [];
    if (h.row !== "runs") {
      const row = data.rows[Number(h.row)];
      lines.push(`${row.kind === "group" ? "Group" : "Task"}: ${row.id}`);
      const state = cellState(data, row, c);
      lines.push(`State: ${state || "no instance"}`);
      const counts = row.kind === "task" ? mappedCount(data, row, c) : undefined;
      if (counts) {
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        Object.entries(counts).forEach(([s, k]) => lines.push(`${k}/${total} ${s}`));
      }
    }
    const row = h.row === "runs" ? null : data.rows[Number(h.row)];
    if (row && row.kind === "task") lines.push(`Duration: ${taskDuration(row, c)}`);
    lines.push(`Run: ${runs.run_id[c]}`, `Run state: ${runs.state[c]} (${runs.run_type[c]})`);
    if (runs.logical_date[c]) lines.push(`Logical date: ${tw.fmtTime(runs.logical_date[c])}`);
    else if (runs.run_after[c]) lines.push(`Run after: ${tw.fmtTime(runs.run_after[c])}`);
    if (runs.start_date[c]) lines.push(`${row && row.kind === "task" ? "Run duration" : "Duration"}: ${tw.fmtDuration(runDuration(data, c))}`);
    return lines.join("\n");
  }

  /** A task instance's own duration in column c (mapped: first start to last end of its
   *  instances), from the run's panel data; "…" while that loads (the tooltip is redrawn). */
  function taskDuration(row, c) {
    const runId = data.runs.run_id[c];
    const times = runTimes.get(runId);
    if (!times || times.loading) {
      if (!times) loadRunTimes(runId);
      return times && times.error ? "unknown" : "…";
    }
    const rowsOf = times.instances[row.id] || [];
    // [map_index, state, try_number, start, end, duration]
    if (!rowsOf.length) return "—";
    const started = rowsOf.filter((x) => x[3]);
    if (!started.length) return "not started";
    if (rowsOf.length === 1 && rowsOf[0][5] !== null && rowsOf[0][5] !== undefined) return tw.fmtDuration(rowsOf[0][5]);
    const first = Math.min(...started.map((x) => Date.parse(x[3])));
    const ends = started.map((x) => (x[4] ? Date.parse(x[4]) : Date.now()));
    return tw.fmtDuration(Math.max(0, (Math.max(...ends) - first) / 1000)) + (rowsOf.some((x) => !x[4] && x[3]) ? " (running)" : "");
  }

  function loadRunTimes(runId) {
    const entry = { loading: true };
    runTimes.set(runId, entry);
    tw.api(`/ui/data/dags/${encodeURIComponent(dag.dag_id)}/runs/${encodeURIComponent(runId)}/panel`).then(({ data: body }) => {
      if (runTimes.get(runId) !== entry) return;
      runTimes.set(runId, { instances: body.instances });
      if (!tip.hidden && lastHover) showTip(lastHover.h, lastHover.target);
    }).catch(() => { if (runTimes.get(runId) === entry) entry.error = true; entry.loading = false; });
  }

  function onHover(event) {
    const h = hit(event.target);
    if (!h || (h.row !== "runs" && data.rows[Number(h.row)].kind === "task" && data.states[data.rows[Number(h.row)].id][h.c] === " ")) {
      tip.hidden = true;
      return;
    }
    showTip(h, event.target);
  }

  let lastHover = null;
  function showTip(h, target) {
    if (!target.isConnected) { tip.hidden = true; return; }
    lastHover = { h, target };
    tip.textContent = tooltipText(h);
    tip.hidden = false;
    const rect = target.getBoundingClientRect();
    const left = Math.min(rect.right + 8, window.innerWidth - tip.offsetWidth - 8);
    tip.style.left = `${Math.max(4, left)}px`;
    tip.style.top = `${Math.min(rect.bottom + 6, window.innerHeight - tip.offsetHeight - 4)}px`;
  }

  // ------------------------------------------------------------------ selection and the panel
  function runCounts(c) {
    const counts = {};
    data.rows.forEach((row) => {
      if (row.kind !== "task") return;
      const m = mappedCount(data, row, c);
      if (m) Object.entries(m).forEach(([s, k]) => { counts[s] = (counts[s] || 0) + k; });
      else { const s = cellState(data, row, c); if (s) counts[s] = (counts[s] || 0) + 1; }
    });
    return counts;
  }

  /** Select row r (a task/group row index; null = the run) of column c and open it in the panel. */
  function selectCell(r, c, { push = false } = {}) {
    const runId = data.runs.run_id[c];
    const row = r === null ? null : data.rows[r];
    if (row && row.kind === "task") select({ runId, taskId: row.id, mapIndex: -1, row: r }, push);
    else select({ runId, taskId: null, mapIndex: -1, row: r }, push);
  }

  function select(sel, push) {
    selection = sel;
    writeSelection(push);
    openSelection();
  }

  function openSelection() {
    markSelection();
    if (!selection) { panel.close(); document.body.classList.remove("grid-panel-open"); return; }
    document.body.classList.add("grid-panel-open");
    const c = data ? data.runs.run_id.indexOf(selection.runId) : -1;
    if (selection.taskId === null) {
      panel.showRun(selection.runId, { counts: c >= 0 ? runCounts(c) : undefined });
      return;
    }
    const r = data ? data.rows.findIndex((x) => x.id === selection.taskId && x.kind === "task") : -1;
    if (c >= 0 && r >= 0 && data.states[selection.taskId][c] === " ") {
      panel.close();
      side.hidden = false;
      side.replaceChildren(
        el("button", { type: "button", class: "close", "aria-label": "Close panel", onclick: closePanel }, "×"),
        el("h2", { class: "gp-title" }, selection.taskId),
        el("p", { class: "muted" }, `Run ${selection.runId} has no instance of this task.`));
      return;
    }
    panel.showInstance(selection.runId, selection.taskId, selection.mapIndex);
  }

  function closePanel() {
    if (!selection) { panel.close(); return; }
    selection = null;
    writeSelection(true);
    openSelection();
  }

  /** Outline the selected cell (or run bar). */
  function markSelection() {
    marked.forEach((n) => n.classList.remove("sel"));
    marked = [];
    const mark = (n) => { if (n) { n.classList.add("sel"); marked.push(n); } };
    if (!selection || !data) return;
    const c = data.runs.run_id.indexOf(selection.runId);
    if (c < 0) return;
    if (selection.taskId === null) {
      mark(barNodes[c]);
      if (selection.row !== null && selection.row !== undefined && cellNodes[selection.row]) mark(cellNodes[selection.row][c]);
      return;
    }
    const r = data.rows.findIndex((x) => x.id === selection.taskId && x.kind === "task");
    if (r >= 0) {
      mark(cellNodes[r][c]);
      selection.row = r;
    }
  }

  function readSelection() {
    const q = new URLSearchParams(location.search);
    const runId = q.get("run_id");
    if (!runId) return null;
    const taskId = q.get("task_id") || null;
    const mapIndex = Number(q.get("map_index") ?? -1);
    return { runId, taskId, mapIndex: Number.isFinite(mapIndex) ? mapIndex : -1, row: null };
  }

  function writeSelection(push) {
    const q = new URLSearchParams(location.search);
    ["run_id", "task_id", "map_index"].forEach((k) => q.delete(k));
    if (selection) {
      q.set("run_id", selection.runId);
      if (selection.taskId !== null) { q.set("task_id", selection.taskId); q.set("map_index", String(selection.mapIndex)); }
    }
    const qs = q.toString();
    const url = location.pathname + (qs ? `?${qs}` : "");
    if (url === location.pathname + location.search) return;
    if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
  }

  // ------------------------------------------------------------------ keyboard
  /** Visible rows in order, as row indexes (collapsed groups hide their members). */
  function visibleRows() {
    const out = [];
    rowNodes.forEach((node, r) => { if (!node.classList.contains("hidden")) out.push(r); });
    return out;
  }

  function move(dr, dc) {
    if (!data || !data.runs.run_id.length) return false;
    const n = data.runs.run_id.length;
    if (!selection) { selectCell(null, n - 1); return true; }
    let c = data.runs.run_id.indexOf(selection.runId);
    if (c < 0) c = n - 1;
    const rows = visibleRows();
    let pos = selection.row === null || selection.row === undefined ? -1 : rows.indexOf(selection.row);
    c = Math.max(0, Math.min(n - 1, c + dc));
    pos = Math.max(-1, Math.min(rows.length - 1, pos + dr));
    selectCell(pos < 0 ? null : rows[pos], c);
    const target = pos < 0 ? barNodes[c] : cellNodes[rows[pos]][c];
    if (target && target.scrollIntoView) target.scrollIntoView({ block: "nearest", inline: "nearest" });
    return true;
  }

  const typing = (t) => t instanceof Element && (t.closest("input, textarea, select, [contenteditable=''], [contenteditable=true]") !== null);

  function initKeys() {
    const keys = [
      ["ArrowLeft", "Grid: previous run", () => move(0, -1)],
      ["ArrowRight", "Grid: next run", () => move(0, 1)],
      ["ArrowUp", "Grid: task above", () => move(-1, 0)],
      ["ArrowDown", "Grid: task below", () => move(1, 0)],
      ["Escape", "Grid: close the details panel", () => { if (!selection || document.querySelector(".dialog")) return false; closePanel(); return true; }],
    ];
    // false = not handled (the key goes on to an earlier shortcut or the browser).
    const guarded = (fn) => (event) => {
      if (event && (typing(event.target) || event.altKey || event.ctrlKey || event.metaKey)) return false;
      const handled = fn() !== false;
      if (handled && event && event.preventDefault) event.preventDefault();
      return handled;
    };
    if (tw.shortcuts && typeof tw.shortcuts.add === "function") {
      keys.forEach(([key, description, fn]) => tw.shortcuts.add(key, description, guarded(fn), "Grid"));
      return;
    }
    const byKey = Object.fromEntries(keys.map(([key, , fn]) => [key, guarded(fn)]));
    document.addEventListener("keydown", (event) => { if (byKey[event.key]) byKey[event.key](event); });
  }

  function legend() {
    return el("div", { class: "grid-legend", "aria-label": "States" },
      PRIORITY.slice().reverse().map((s) => el("span", {}, tw.stateBadge(s), s)));
  }

  // ------------------------------------------------------------------ start
  function fillSelect(node, values, current, labelOf) {
    values.forEach((v) => node.append(el("option", { value: String(v), selected: String(v) === String(current) }, labelOf ? labelOf(v) : String(v))));
  }

  document.addEventListener("DOMContentLoaded", () => {
    page = tw.pageData();
    dag = page.dag;
    root = document.getElementById("grid");
    tip = document.getElementById("grid-tip");
    side = document.getElementById("grid-side");
    statusNode = document.getElementById("grid-status");
    panel = tw.gridPanel(side, {
      dag,
      onClose: () => { selection = null; writeSelection(true); markSelection(); document.body.classList.remove("grid-panel-open"); },
      onChanged: (what) => { if (what !== "note") { if (selection) runTimes.delete(selection.runId); refresh({ force: true }).catch((e) => tw.flash(e.message, true)); } },
      onOpenInstance: (runId, taskId, mapIndex) => select({ runId, taskId, mapIndex, row: selection && selection.row }, true),
    });
    selection = readSelection();
    window.addEventListener("popstate", () => { selection = readSelection(); openSelection(); });
    initKeys();
    try { collapsed = new Set(JSON.parse(localStorage.getItem(storageKey()) || "[]")); } catch (e) { collapsed = new Set(); }
    readParams();
    const limits = page.limits.includes(params.limit) ? page.limits : [...page.limits, params.limit].sort((a, b) => a - b);
    fillSelect(document.getElementById("grid-limit"), limits, params.limit);
    fillSelect(document.getElementById("grid-run-type"), page.run_types, params.run_type);
    fillSelect(document.getElementById("grid-run-state"), page.run_states, params.state);
    const onFilter = (key) => (e) => {
      params[key] = key === "limit" ? Number(e.target.value) : e.target.value;
      writeParams();
      data = null;
      refresh({ force: true }).catch((err) => tw.flash(err.message, true));
    };
    document.getElementById("grid-limit").addEventListener("change", onFilter("limit"));
    document.getElementById("grid-run-type").addEventListener("change", onFilter("run_type"));
    document.getElementById("grid-run-state").addEventListener("change", onFilter("state"));
    document.getElementById("grid-expand-all").addEventListener("click", () => {
      collapsed.clear(); saveCollapsed(); if (data) applyCollapsed();
    });
    document.getElementById("grid-collapse-all").addEventListener("click", () => {
      if (!data) return;
      data.rows.forEach((r) => { if (r.kind === "group") collapsed.add(r.id); });
      saveCollapsed(); applyCollapsed();
    });
    root.addEventListener("click", onClick);
    root.addEventListener("keydown", onKey);
    root.addEventListener("mouseover", onHover);
    root.addEventListener("mouseleave", () => { tip.hidden = true; });
    root.parentNode.after(legend());
    document.addEventListener("tw:run-triggered", () => refresh().catch((e) => tw.flash(e.message, true)));
    tw.onTimezoneChange(() => { if (data) render(data); });
    tw.poll(async () => {
      ticks += 1;
      if (data && !data.active && ticks % IDLE_EVERY !== 1) return;
      await refresh();
    }, POLL_MS);
  });
})();
