/* The Gantt view: one row per task (per map index), one bar per try, on a time axis.
 *
 * A bar's light part is the time it waited in the queue (queued -> start), the solid part the
 * try itself (start -> end, or -> now while it runs), coloured by the try's state. Earlier tries
 * of a retried task sit in the same row, so retries are visible. Tooltips give the times and
 * the duration; clicking a bar opens the task instance. Polls while the run is unfinished.
 */
(function () {
  "use strict";
  const pd = tw.pageData();
  const dagId = pd.dag.dag_id;
  const root = document.getElementById("gantt-view");
  const S = tw.svg;
  const state = { runId: pd.run_id || null, data: null, stopPoll: null };
  const toolbar = tw.el("div", { class: "toolbar" });
  const chart = tw.el("div", { class: "chart-area" });
  root.append(toolbar, chart);

  async function load() {
    const { data } = await tw.api(twc.dataUrl(dagId, "gantt"), { params: { run_id: state.runId } });
    state.data = data;
    state.runId = data.run ? data.run.run_id : null;
    render();
    return data;
  }

  function render() {
    const d = state.data;
    toolbar.replaceChildren(
      d.runs.length ? twc.runPicker(d.runs, state.runId, (runId) => {
        state.runId = runId; twc.setQuery("run_id", runId); load().then(startPolling);
      }) : "",
      d.run ? tw.stateBadge(d.run.state, { text: true }) : "",
      d.live ? tw.el("span", { class: "muted" }, "live") : "");
    if (!d.run) { chart.replaceChildren(tw.el("p", { class: "muted" }, "This DAG has no runs yet.")); return; }
    if (!d.tries.length) { chart.replaceChildren(tw.el("p", { class: "muted" }, "No task of this run has been queued yet.")); return; }
    chart.replaceChildren(draw(d));
  }

  function draw(d) {
    const now = Date.parse(d.now);
    const ms = (iso) => (iso ? Date.parse(iso) : null);
    // rows: one per (task, map index), in the server's (graph) order
    const rows = [];
    const rowOf = new Map();
    const labels = Object.fromEntries(d.tasks.map((t) => [t.task_id, t.label]));
    d.tries.forEach((t) => {
      const key = `${t.task_id}\u0000${t.map_index}`;
      if (!rowOf.has(key)) {
        rowOf.set(key, rows.length);
        rows.push({ label: (labels[t.task_id] || t.task_id) + (t.map_index >= 0 ? ` [${t.map_index}]` : ""), t });
      }
    });
    let lo = Infinity, hi = -Infinity;
    d.tries.forEach((t) => {
      [ms(t.queued_at), ms(t.start_date), ms(t.end_date)].forEach((v) => { if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
      if (!t.end_date) hi = Math.max(hi, now);
    });
    if (!Number.isFinite(lo)) { lo = now - 60000; hi = now; }
    if (hi - lo < 1000) hi = lo + 1000;
    const labelW = Math.min(280, 40 + Math.max(...rows.map((r) => r.label.length)) * 7);
    const width = Math.max(640, chart.clientWidth || 960), rowH = 24, top = 28;
    const plotW = width - labelW - 20;
    const height = top + rows.length * rowH + 10;
    const x = (t) => labelW + ((t - lo) / (hi - lo)) * plotW;
    const svg = S("svg", { class: "gantt-svg", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
                           "aria-label": "Gantt chart of the run's task tries" });
    twc.timeTicks(lo, hi, Math.max(3, Math.floor(plotW / 130))).forEach((t) => {
      svg.append(S("line", { x1: x(t), x2: x(t), y1: top - 6, y2: height - 10, class: "grid-line" }),
        S("text", { x: x(t), y: top - 10, "text-anchor": "middle", class: "axis-label" }, tickLabel(t, hi - lo)));
    });
    rows.forEach((r, i) => {
      const y = top + i * rowH;
      if (i % 2) svg.append(S("rect", { x: 0, y, width, height: rowH, class: "row-band" }));
      svg.append(S("text", { x: labelW - 8, y: y + rowH / 2 + 4, "text-anchor": "end", class: "row-label" }, r.label));
    });
    d.tries.forEach((t) => {
      const y = top + rowOf.get(`${t.task_id}\u0000${t.map_index}`) * rowH + 4;
      const q = ms(t.queued_at), s = ms(t.start_date), e = ms(t.end_date) || (s !== null ? now : null);
      const bar = S("g", { class: "gantt-bar", role: "link", tabindex: "0" });
      if (q !== null) {
        const qEnd = s !== null ? s : now;
        bar.append(S("rect", { x: x(q), y: y + 4, width: Math.max(x(qEnd) - x(q), 1), height: rowH - 16,
                               class: "queued-part", fill: twc.stateColour("queued") }));
      }
      if (s !== null) {
        bar.append(S("rect", { x: x(s), y, width: Math.max(x(e) - x(s), 2), height: rowH - 8, rx: 2,
                               fill: twc.stateColour(t.state), class: "try-part" }));
      }
      twc.withTip(bar, () => [
        `${t.task_id}${t.map_index >= 0 ? ` [${t.map_index}]` : ""} · try ${t.try_number}`,
        `state: ${t.state}`,
        t.queued_at ? `queued: ${tw.fmtTime(t.queued_at)}` : null,
        t.start_date ? `started: ${tw.fmtTime(t.start_date)}` : "not started",
        t.end_date ? `ended: ${tw.fmtTime(t.end_date)}` : (t.start_date ? "still running" : null),
        t.start_date ? `duration: ${tw.fmtDuration(t.duration !== null ? t.duration : ((e - s) / 1000))}` : null,
      ]);
      const open = () => window.location.assign(twc.tiUrl(dagId, state.runId, t.task_id, t.map_index));
      bar.addEventListener("click", open);
      bar.addEventListener("keydown", (ev) => { if (ev.key === "Enter") open(); });
      svg.append(bar);
    });
    return svg;
  }

  /** An axis label: the time of day (with seconds for short spans) in the chosen zone. */
  function tickLabel(t, span) {
    const text = tw.fmtTime(new Date(t).toISOString(), { seconds: span < 600000 });
    const parts = text.split(" ");
    if (span > 86400000) return `${parts[0]} ${parts[1]}`;
    return span < 5000 ? `${parts[1]}.${String(t % 1000).padStart(3, "0")}` : parts[1];
  }

  function startPolling() {
    if (state.stopPoll) { state.stopPoll(); state.stopPoll = null; }
    if (!state.data || !state.data.live) return;
    let first = true;
    state.stopPoll = tw.poll(async () => {
      if (first) { first = false; return; }
      const data = await load();
      if (!data.live && state.stopPoll) { state.stopPoll(); state.stopPoll = null; }
    }, 2500);
  }

  tw.onTimezoneChange(() => state.data && render());
  load().then(startPolling).catch((e) => root.append(tw.el("p", { class: "banner-error" }, e.message)));
})();
