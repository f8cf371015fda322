/* The Grid view (/dags/{dag_id}/grid): runs as columns (newest right) x tasks as rows.
 *
 * Data: GET /ui/data/dags/{dag_id}/grid (see observe/ui/grid.py) — task/group rows, runs as
 * column arrays, one state letter per run for each task. Painted in one DocumentFragment; clicks
 * and tooltips are delegated (no listener or title per cell). While a shown run is queued or
 * running the data is polled every 2.5 s with If-None-Match (an unchanged grid answers 304) and
 * only the cells whose state changed are repainted; otherwise every 30 s, to pick up new runs.
 */
(function () {
  "use strict";
  const el = (...a) => tw.el(...a);
  const POLL_MS = 2500, IDLE_EVERY = 12;  // idle: every 12th tick (30 s)
  // Most urgent first: what a group row / mapped cell shows when its members differ (as grid.py).
  const PRIORITY = ["failed", "upstream_failed", "up_for_retry", "up_for_reschedule", "queued", "scheduled", "deferred",
                    "running", "restarting", "none", "removed", "skipped", "success"];
  const RANK = Object.fromEntries(PRIORITY.map((s, i) => [s, i]));

  let page, dag, root, tip, side, statusNode;
  let data = null, etag = null, params = {}, collapsed = new Set();
  let rowNodes = [], cellNodes = [], barNodes = [], groupMembers = {}, selectedRun = null, ticks = 0;

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
    const t0 = performance.now();
    if (data && sameShape(data, next)) update(next);
    else render(next);
    statusNode.textContent = `${next.runs.run_id.length} run(s)` + (next.active ? " · live" : "");
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
      bar.style.height = `${Math.max(3, Math.round(60 * runDuration(data, c) / maxDur))}px`;
      barsCell.append(bar);
      barNodes[c] = bar;
    }
    table.append(el("div", { class: "grid-row grid-runbars", dataset: { row: "runs" } },
      el("div", { class: "gl" }, n ? "Runs (duration)" : "No runs yet"), barsCell));

    rowNodes = [];
    cellNodes = [];
    data.rows.forEach((row, r) => {
      const label = el("div", { class: "gl", title: row.kind === "group" ? (row.tooltip || row.id) : row.id },
        row.label, row.kind === "task" && row.mapped ? el("span", { class: "muted" }, " [ ]") : "");
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
    if (selectedRun !== null) {
      const c = data.runs.run_id.indexOf(selectedRun);
      if (c >= 0) showRun(c); else closeSide();
    }
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
      barNodes[c].style.height = `${Math.max(3, Math.round(60 * runDuration(next, c) / maxDur))}px`;
    }
    updateMappedLabels();
    if (selectedRun !== null) {
      const c = next.runs.run_id.indexOf(selectedRun);
      if (c >= 0) showRun(c);
    }
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
        rowNodes[r].setAttribute("aria-expanded", String(!isCollapsed));
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
    if (!(target instanceof Element) || (target.tagName !== "I" && target.tagName !== "B")) return null;
    const rowNode = target.parentNode.parentNode;
    const c = Array.prototype.indexOf.call(target.parentNode.children, target);
    return { row: rowNode.dataset.row, c };
  }

  function taskHref(row, c) {
    const enc = encodeURIComponent;
    return `/dags/${enc(dag.dag_id)}/runs/${enc(data.runs.run_id[c])}/tasks/${enc(row.id)}?map_index=-1`;
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
    if (h.row === "runs") { showRun(h.c); return; }
    const row = data.rows[Number(h.row)];
    if (row.kind === "group") { showRun(h.c); return; }
    if (data.states[row.id][h.c] === " ") return;
    location.assign(taskHref(row, h.c));
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
    lines.push(`Run: ${runs.run_id[c]}`, `Run state: ${runs.state[c]} (${runs.run_type[c]})`);
    if (runs.logical_date[c]) lines.push(`Logical date: ${tw.fmtTime(runs.logical_date[c])}`);
    if (runs.start_date[c]) lines.push(`Duration: ${tw.fmtDuration(runDuration(data, c))}`);
    return lines.join("\n");
  }

  function onHover(event) {
    const h = hit(event.target);
    if (!h || (h.row !== "runs" && data.rows[Number(h.row)].kind === "task" && data.states[data.rows[Number(h.row)].id][h.c] === " ")) {
      tip.hidden = true;
      return;
    }
    tip.textContent = tooltipText(h);
    tip.hidden = false;
    const rect = event.target.getBoundingClientRect();
    const left = Math.min(rect.right + 8, window.innerWidth - tip.offsetWidth - 8);
    tip.style.left = `${Math.max(4, left)}px`;
    tip.style.top = `${Math.min(rect.bottom + 6, window.innerHeight - tip.offsetHeight - 4)}px`;
  }

  // ------------------------------------------------------------------ run panel
  function showRun(c) {
    const runs = data.runs;
    selectedRun = runs.run_id[c];
    barNodes.forEach((b, i) => b.classList.toggle("sel", i === c));
    const run = { dag_run_id: runs.run_id[c], state: runs.state[c] };
    const dd = (label, value) => [el("dt", {}, label), el("dd", {}, value === null || value === undefined || value === "" ? "—" : value)];
    const counts = {};
    data.rows.forEach((row) => {
      if (row.kind !== "task") return;
      const m = mappedCount(data, row, c);
      if (m) Object.entries(m).forEach(([s, k]) => { counts[s] = (counts[s] || 0) + k; });
      else { const s = cellState(data, row, c); if (s) counts[s] = (counts[s] || 0) + 1; }
    });
    side.replaceChildren(
      el("button", { type: "button", class: "close", "aria-label": "Close", onclick: closeSide }, "×"),
      el("h2", {}, runs.run_id[c]),
      el("dl", { class: "details" },
        dd("State", tw.stateBadge(runs.state[c], { text: true })),
        dd("Run type", runs.run_type[c]),
        dd("Logical date", runs.logical_date[c] && tw.timeEl(runs.logical_date[c])),
        dd("Data interval", runs.data_interval_start[c] &&
          el("span", {}, tw.timeEl(runs.data_interval_start[c]), " – ", tw.timeEl(runs.data_interval_end[c]))),
        dd("Queued at", runs.queued_at[c] && tw.timeEl(runs.queued_at[c])),
        dd("Started", runs.start_date[c] && tw.timeEl(runs.start_date[c])),
        dd("Ended", runs.end_date[c] && tw.timeEl(runs.end_date[c])),
        dd("Duration", runs.start_date[c] ? tw.fmtDuration(runDuration(data, c)) : ""),
        dd("Tasks", el("span", { class: "counts" },
          Object.entries(counts).map(([s, k]) => el("span", { class: `pill s-${s}`, title: s }, `${k} ${s}`))))),
      el("div", { class: "toolbar", "aria-label": "Run actions" },
        tw.runActionButtons(dag, run, { onDone: (what) => { if (what === "deleted") selectedRun = null; refresh({ force: true }); } })),
      el("p", {}, el("a", { href: `/dags/${encodeURIComponent(dag.dag_id)}/runs?run_id=${encodeURIComponent(runs.run_id[c])}` },
        "Open in the Runs list")));
    side.hidden = false;
  }

  function closeSide() {
    selectedRun = null;
    side.hidden = true;
    barNodes.forEach((b) => b.classList.remove("sel"));
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
    root.addEventListener("mouseover", onHover);
    root.addEventListener("mouseleave", () => { tip.hidden = true; });
    root.parentNode.after(legend());
    document.addEventListener("tw:run-triggered", () => refresh().catch((e) => tw.flash(e.message, true)));
    tw.onTimezoneChange(() => { if (selectedRun !== null && data) showRun(data.runs.run_id.indexOf(selectedRun)); });
    tw.poll(async () => {
      ticks += 1;
      if (data && !data.active && ticks % IDLE_EVERY !== 1) return;
      await refresh();
    }, POLL_MS);
  });
})();
