/* The Gantt view (Chart.js horizontal floating bars): one row per task (per map index), one bar
 * per try, on a time axis.
 *
 * A try's thin light bar is the time it waited in the queue (queued -> start), the thick one the
 * try itself (start -> end, or -> now while it runs), coloured by the try's state from the theme's
 * --st-<state> variables. Earlier tries of a retried task sit in the same row, so retries are
 * visible. Tooltips give task, try, times and duration; clicking a bar opens the Grid on that run
 * and task. Polls while the run is unfinished.
 */
(function () {
  "use strict";
  const pd = tw.pageData();
  const dagId = pd.dag.dag_id;
  const root = document.getElementById("gantt-view");
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
        state.runId = runId; twc.setQuery("run_id", runId); twc.loading(chart);
        load().then(startPolling).catch((e) => twc.showError(chart, e));
      }) : "",
      d.run ? tw.stateBadge(d.run.state, { text: true }) : "",
      d.live ? tw.el("span", { class: "muted" }, "live") : "");
    if (!d.run) { chart.replaceChildren(tw.el("p", { class: "muted" }, "This DAG has no runs yet.")); return; }
    if (!d.tries.length) { chart.replaceChildren(tw.el("p", { class: "muted" }, "No task of this run has been queued yet.")); return; }
    draw(d);
  }

  /** The chart: one category row per (task, map index); per try a thin bar for its time in the
   *  queue and a thick one for the try itself, coloured by state. */
  function draw(d) {
    const now = Date.parse(d.now);
    const ms = (iso) => (iso ? Date.parse(iso) : null);
    const rows = [];
    const rowOf = new Map();
    const labels = Object.fromEntries(d.tasks.map((t) => [t.task_id, t.label]));
    d.tries.forEach((t) => {
      const key = `${t.task_id}\u0000${t.map_index}`;
      if (!rowOf.has(key)) {
        rowOf.set(key, rows.length);
        rows.push((labels[t.task_id] || t.task_id) + (t.map_index >= 0 ? ` [${t.map_index}]` : ""));
      }
    });
    let lo = Infinity, hi = -Infinity;
    const queued = [], running = [];
    d.tries.forEach((t) => {
      const q = ms(t.queued_at), s = ms(t.start_date), e = ms(t.end_date) || (s !== null ? now : null);
      [q, s, e].forEach((v) => { if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
      const y = rowOf.get(`${t.task_id}\u0000${t.map_index}`);
      if (q !== null) queued.push({ x: [q, s !== null ? s : now], y, t });
      if (q !== null && s === null) hi = Math.max(hi, now);
      if (s !== null) running.push({ x: [s, Math.max(e, s + 1)], y, t });
    });
    if (!Number.isFinite(lo)) { lo = now - 60000; hi = now; }
    if (hi - lo < 1000) hi = lo + 1000;
    const span = hi - lo;
    const queuedColour = twc.withAlpha(twc.stateColour("queued"), 0.55);
    const datasets = [
      { label: "queued", data: queued, backgroundColor: queuedColour, borderWidth: 0, barPercentage: 0.45, grouped: false,
        order: 2 },
      { label: "running", data: running, backgroundColor: (ctx) => (ctx.raw ? twc.stateColour(ctx.raw.t.state) : queuedColour),
        borderColor: twc.cssVar("--state-line"), borderWidth: 1, borderRadius: 2, barPercentage: 0.8, grouped: false, order: 1 },
    ];
    const instance = twc.drawChart(chart, Math.max(140, rows.length * 30 + 70), {
      type: "bar",
      data: { labels: rows, datasets },
      options: {
        indexAxis: "y",
        parsing: { xAxisKey: "x", yAxisKey: "y" },
        interaction: { mode: "nearest", intersect: true, axis: "xy" },
        onHover: (event, elements) => { event.native.target.style.cursor = elements.length ? "pointer" : "default"; },
        onClick: (_event, elements) => {
          if (!elements.length) return;
          const { datasetIndex, index } = elements[0];
          const t = datasets[datasetIndex].data[index].t;
          window.location.assign(twc.gridUrl(dagId, state.runId, t.task_id));
        },
        scales: {
          x: twc.axis({ type: "linear", position: "top", min: lo, max: hi,
                        ticks: { maxTicksLimit: 8, callback: (v) => tickLabel(v, span) } }),
          y: twc.axis({ type: "category", grid: { display: false }, ticks: { autoSkip: false } }),
        },
        plugins: {
          tooltip: {
            callbacks: {
              title: (items) => {
                if (!items.length) return "";
                const t = items[0].raw.t;
                return `${labels[t.task_id] || t.task_id}${t.map_index >= 0 ? ` [${t.map_index}]` : ""} · try ${t.try_number}`;
              },
              label: (item) => {
                const t = item.raw.t;
                const s = ms(t.start_date), e = ms(t.end_date) || now;
                return [
                  `state: ${t.state}`,
                  t.queued_at ? `queued: ${tw.fmtTime(t.queued_at)}` : null,
                  t.start_date ? `started: ${tw.fmtTime(t.start_date)}` : "not started",
                  t.end_date ? `ended: ${tw.fmtTime(t.end_date)}` : (t.start_date ? "still running" : null),
                  t.start_date ? `duration: ${tw.fmtDuration(t.duration !== null ? t.duration : (e - s) / 1000)}` : null,
                ].filter(Boolean);
              },
            },
          },
        },
      },
    }, "Gantt chart of the run's task tries");
    if (instance) {
      chart.firstChild.dataset.rows = String(rows.length);
      chart.firstChild.dataset.tries = String(running.length);
    }
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
  twc.onThemeChange(() => state.data && render());
  twc.loading(chart);
  load().then(startPolling).catch((e) => twc.showError(chart, e));
})();
