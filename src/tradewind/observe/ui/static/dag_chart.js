/* Task Duration and Task Tries: a line per task over the recent runs (x = run logical date,
 * y = seconds or number of tries), from /ui/data/dags/<dag>/durations. The legend toggles a
 * task's line; hovering a point shows the run, the task and the value; clicking it opens the
 * task instance. page_data.metric says which chart this page is ("duration" or "tries").
 */
(function () {
  "use strict";
  const pd = tw.pageData();
  const dagId = pd.dag.dag_id;
  const metric = pd.metric === "tries" ? "tries" : "duration";
  const root = document.getElementById("chart-view");
  const S = tw.svg;
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                   "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"];
  const hidden = new Set();
  let data = null;
  let runs = pd.runs;
  const toolbar = tw.el("div", { class: "toolbar" });
  const chart = tw.el("div", { class: "chart-area" });
  const legend = tw.el("div", { class: "chart-legend" });
  root.append(toolbar, chart, legend);

  function renderToolbar() {
    const select = tw.el("select", { "aria-label": "Number of runs" },
      ...[...new Set([...pd.choices, runs])].sort((a, b) => a - b)
        .map((n) => tw.el("option", { value: n, selected: n === runs }, `last ${n} runs`)));
    select.addEventListener("change", () => { runs = Number(select.value); twc.setQuery("runs", runs); load(); });
    toolbar.replaceChildren(select,
      tw.el("button", { type: "button", onclick: () => { hidden.clear(); render(); } }, "Show all"),
      tw.el("button", { type: "button", onclick: () => { data.tasks.forEach((t) => hidden.add(t.task_id)); render(); } }, "Hide all"));
  }

  async function load() {
    ({ data } = await tw.api(twc.dataUrl(dagId, "durations"), { params: { runs } }));
    render();
  }

  const values = (taskId) => (metric === "tries" ? data.tries[taskId] : data.durations[taskId]);
  const fmt = (v) => (metric === "tries" ? `${v} ${v === 1 ? "try" : "tries"}` : tw.fmtDuration(v));

  function render() {
    renderToolbar();
    if (!data.runs.length) { chart.replaceChildren(tw.el("p", { class: "muted" }, "This DAG has no runs yet.")); legend.replaceChildren(); return; }
    const colour = Object.fromEntries(data.tasks.map((t, i) => [t.task_id, PALETTE[i % PALETTE.length]]));
    const shown = data.tasks.filter((t) => !hidden.has(t.task_id) && values(t.task_id).some((v) => v !== null));
    let max = 0;
    shown.forEach((t) => values(t.task_id).forEach((v) => { if (v !== null) max = Math.max(max, v); }));
    if (metric === "tries") max = Math.max(max, 1);
    else {
      max = max > 0 ? max : 1;
    }
    const unit = metric === "duration" ? durationUnit(max) : { div: 1, name: "tries" };
    const width = Math.max(640, chart.clientWidth || 960), height = 360;
    const m = { left: 110, right: 20, top: 16, bottom: 70 };
    const plotW = width - m.left - m.right, plotH = height - m.top - m.bottom;
    const n = data.runs.length;
    const x = (i) => m.left + (n === 1 ? plotW / 2 : (i / (n - 1)) * plotW);
    const yTicks = metric === "tries" ? twc.ticks(0, max, Math.min(max, 5)).filter((v) => Number.isInteger(v))
                                      : twc.ticks(0, max / unit.div, 5);
    const top = Math.max(yTicks[yTicks.length - 1] * unit.div, max);
    const y = (v) => m.top + plotH - (v / top) * plotH;
    const svg = S("svg", { class: "line-chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
                           "aria-label": metric === "tries" ? "Task tries per run" : "Task duration per run" });
    yTicks.forEach((t) => svg.append(
      S("line", { x1: m.left, x2: width - m.right, y1: y(t * unit.div), y2: y(t * unit.div), class: "grid-line" }),
      S("text", { x: m.left - 8, y: y(t * unit.div) + 4, "text-anchor": "end", class: "axis-label" }, String(t))));
    svg.append(S("text", { x: 60, y: m.top + plotH / 2, class: "axis-title", transform: `rotate(-90 60 ${m.top + plotH / 2})`,
                           "text-anchor": "middle" }, metric === "tries" ? "tries" : unit.name));
    const every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(plotW / 90))));
    data.runs.forEach((r, i) => {
      if (i % every && i !== n - 1) return;
      const label = tw.fmtTime(r.logical_date, { seconds: false }).replace(" UTC", "");
      svg.append(S("text", { x: x(i), y: height - m.bottom + 16, "text-anchor": "end", class: "axis-label",
                             transform: `rotate(-30 ${x(i)} ${height - m.bottom + 16})` }, label));
    });
    svg.append(S("line", { x1: m.left, x2: width - m.right, y1: y(0), y2: y(0), class: "axis-line" }));
    shown.forEach((t) => {
      const vals = values(t.task_id);
      let d = "";
      let pen = false;
      vals.forEach((v, i) => {
        if (v === null) { pen = false; return; }
        d += `${pen ? "L" : "M"}${x(i)},${y(v)} `;
        pen = true;
      });
      svg.append(S("path", { d, class: "series", stroke: colour[t.task_id] }));
      vals.forEach((v, i) => {
        if (v === null) return;
        const dot = S("circle", { cx: x(i), cy: y(v), r: 3.5, fill: colour[t.task_id], class: "point" });
        const run = data.runs[i];
        twc.withTip(dot, () => [t.label, fmt(v), `run: ${run.run_id}`, `logical date: ${tw.fmtTime(run.logical_date)}`,
                                `run state: ${run.state}`]);
        dot.addEventListener("click", () => window.location.assign(twc.tiUrl(dagId, run.run_id, t.task_id)));
        svg.append(dot);
      });
    });
    chart.replaceChildren(svg);
    legend.replaceChildren(...data.tasks.map((t) => {
      const off = hidden.has(t.task_id);
      const item = tw.el("button", { type: "button", class: off ? "legend-item off" : "legend-item", "aria-pressed": String(!off),
                                     title: off ? "Show this task" : "Hide this task" },
        tw.el("span", { class: "swatch", dataset: { colour: colour[t.task_id] } }), t.label);
      item.querySelector(".swatch").style.background = colour[t.task_id];
      item.addEventListener("click", () => { if (off) hidden.delete(t.task_id); else hidden.add(t.task_id); render(); });
      return item;
    }));
  }

  /** Seconds, minutes or hours, whichever keeps the axis numbers readable. */
  function durationUnit(maxSeconds) {
    if (maxSeconds >= 3 * 3600) return { div: 3600, name: "hours" };
    if (maxSeconds >= 180) return { div: 60, name: "minutes" };
    return { div: 1, name: "seconds" };
  }

  tw.onTimezoneChange(() => data && render());
  load().catch((e) => root.append(tw.el("p", { class: "banner-error" }, e.message)));
})();
