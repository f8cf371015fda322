/* Task Duration and Task Tries: a line per task over the recent runs (x = run, oldest first;
 * y = duration or number of tries), drawn with Chart.js from /ui/data/dags/<dag>/durations.
 * The legend's buttons toggle a task's line; hovering a point shows the task, the run and the
 * value; clicking it opens the Grid on that run and task. page_data.metric says which chart
 * this page is ("duration" or "tries"). Colours come from the theme's CSS variables.
 */
(function () {
  "use strict";
  const pd = tw.pageData();
  const dagId = pd.dag.dag_id;
  const metric = pd.metric === "tries" ? "tries" : "duration";
  const root = document.getElementById("chart-view");
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
    if (!data) renderToolbar();
    twc.loading(chart);
    try {
      ({ data } = await tw.api(twc.dataUrl(dagId, "durations"), { params: { runs } }));
    } catch (error) {
      twc.showError(chart, error);
      return;
    }
    render();
  }

  const values = (taskId) => (metric === "tries" ? data.tries[taskId] : data.durations[taskId]);
  const fmt = (v) => (metric === "tries" ? `${v} ${v === 1 ? "try" : "tries"}` : tw.fmtDuration(v));
  /** A run's label on the x axis: its logical date without the zone (never broken inside). */
  const runLabel = (r) => (r.logical_date ? tw.fmtTime(r.logical_date, { seconds: false }).replace(" UTC", "") : r.run_id);

  /** Seconds, minutes or hours, whichever keeps the axis numbers readable. */
  function durationUnit(maxSeconds) {
    if (maxSeconds >= 3 * 3600) return { div: 3600, name: "hours" };
    if (maxSeconds >= 180) return { div: 60, name: "minutes" };
    return { div: 1, name: "seconds" };
  }

  function render() {
    renderToolbar();
    if (!data.runs.length) {
      chart.replaceChildren(tw.el("p", { class: "muted" }, "This DAG has no runs yet."));
      legend.replaceChildren();
      return;
    }
    const colours = twc.palette();
    const colour = Object.fromEntries(data.tasks.map((t, i) => [t.task_id, colours[i % colours.length]]));
    const withValues = data.tasks.filter((t) => values(t.task_id).some((v) => v !== null));
    let max = 0;
    withValues.forEach((t) => values(t.task_id).forEach((v) => { if (v !== null) max = Math.max(max, v); }));
    const unit = metric === "duration" ? durationUnit(max) : { div: 1, name: "tries" };
    const datasets = withValues.map((t) => ({
      label: t.label, taskId: t.task_id, hidden: hidden.has(t.task_id),
      data: values(t.task_id).map((v) => (v === null ? null : v / unit.div)),
      borderColor: colour[t.task_id], backgroundColor: colour[t.task_id],
      borderWidth: 2, pointRadius: 3.5, pointHoverRadius: 6, spanGaps: false, tension: 0,
    }));
    const instance = twc.drawChart(chart, 380, {
      type: "line",
      data: { labels: data.runs.map(runLabel), datasets },
      options: {
        interaction: { mode: "nearest", intersect: true },
        onHover: (event, elements) => { event.native.target.style.cursor = elements.length ? "pointer" : "default"; },
        onClick: (_event, elements) => {
          if (!elements.length) return;
          const { datasetIndex, index } = elements[0];
          window.location.assign(twc.gridUrl(dagId, data.runs[index].run_id, datasets[datasetIndex].taskId));
        },
        scales: {
          x: twc.axis({ ticks: { maxRotation: 35, minRotation: 0, autoSkip: true, autoSkipPadding: 12 } }),
          y: twc.axis({ beginAtZero: true, title: { display: true, text: unit.name },
                        ticks: metric === "tries" ? { precision: 0 } : {} }),
        },
        plugins: {
          tooltip: {
            callbacks: {
              title: (items) => (items.length ? datasets[items[0].datasetIndex].label : ""),
              label: (item) => fmt(values(datasets[item.datasetIndex].taskId)[item.dataIndex]),
              afterLabel: (item) => {
                const run = data.runs[item.dataIndex];
                return [`run: ${run.run_id}`, `logical date: ${tw.fmtTime(run.logical_date)}`, `run state: ${run.state}`];
              },
            },
          },
        },
      },
    }, metric === "tries" ? "Task tries per run" : "Task duration per run");
    if (instance) chart.firstChild.dataset.series = String(datasets.filter((d) => !d.hidden).length);
    legend.replaceChildren(...data.tasks.map((t) => {
      const off = hidden.has(t.task_id);
      const item = tw.el("button", { type: "button", class: off ? "legend-item off" : "legend-item", "aria-pressed": String(!off),
                                     title: off ? "Show this task" : "Hide this task" },
        tw.el("span", { class: "swatch" }), t.label);
      item.querySelector(".swatch").style.background = colour[t.task_id];
      item.addEventListener("click", () => { if (off) hidden.delete(t.task_id); else hidden.add(t.task_id); render(); });
      return item;
    }));
  }

  tw.onTimezoneChange(() => data && render());
  twc.onThemeChange(() => data && render());
  load();
})();
