/* The Calendar view: a year of days (columns are weeks, Monday on top), each day coloured by the
 * runs whose logical date falls on it (UTC days): all succeeded, some failed, all failed,
 * running/queued, or only planned runs still to come. Tooltips give the counts per state.
 * Data: /ui/data/dags/<dag>/calendar?year= (grouped per day by the server, so any schedule
 * answers at once); a loading sign shows meanwhile, an error as a readable message.
 */
(function () {
  "use strict";
  const pd = tw.pageData();
  const dagId = pd.dag.dag_id;
  const root = document.getElementById("calendar-view");
  const S = tw.svg;
  let year = pd.year || null;
  let data = null;
  const toolbar = tw.el("div", { class: "toolbar" });
  const chart = tw.el("div", { class: "chart-area" });
  const legend = tw.el("div", { class: "chart-legend" });
  root.append(toolbar, chart, legend);
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const KINDS = [
    ["success", "all runs succeeded"], ["mixed", "some runs failed"], ["failed", "all runs failed"],
    ["running", "running or queued"], ["planned", "planned runs"], ["empty", "no runs"],
  ];

  async function load() {
    twc.loading(chart, `Loading ${year || "this year"}…`);
    try {
      ({ data } = await tw.api(twc.dataUrl(dagId, "calendar"), { params: { year } }));
    } catch (error) {
      twc.showError(chart, error);
      return;
    }
    year = data.year;
    render();
  }

  /** The class of one day from its counts per state and its planned runs. */
  function kindOf(counts, planned) {
    const n = (s) => counts[s] || 0;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    if (n("running") || n("queued")) return "running";
    if (n("failed") && n("failed") === total) return "failed";
    if (n("failed")) return "mixed";
    if (total) return "success";
    return planned ? "planned" : "empty";
  }

  function render() {
    const select = tw.el("select", { "aria-label": "Year" },
      ...data.years.map((y) => tw.el("option", { value: y, selected: y === year }, String(y))));
    select.addEventListener("change", () => { year = Number(select.value); twc.setQuery("year", year); load(); });
    toolbar.replaceChildren(
      tw.el("button", { type: "button", disabled: !data.years.includes(year - 1), onclick: () => step(-1), "aria-label": "Previous year" }, "‹"),
      select,
      tw.el("button", { type: "button", disabled: !data.years.includes(year + 1), onclick: () => step(1), "aria-label": "Next year" }, "›"),
      data.planned_truncated ? tw.el("span", { class: "muted" }, "planned runs: this schedule is only counted for its next 200 runs") : "");

    const cell = 13, gap = 3, left = 34, top = 22;
    const jan1 = Date.UTC(year, 0, 1);
    const offset = (new Date(jan1).getUTCDay() + 6) % 7; // Monday = 0
    const days = Math.round((Date.UTC(year + 1, 0, 1) - jan1) / 86400000);
    const weeks = Math.ceil((days + offset) / 7);
    const width = left + weeks * (cell + gap) + 10, height = top + 7 * (cell + gap) + 6;
    const svg = S("svg", { class: "calendar-svg", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
                           "aria-label": `Runs of ${dagId} per day in ${year}` });
    ["Mon", "", "Wed", "", "Fri", "", ""].forEach((label, row) => {
      if (label) svg.append(S("text", { x: 0, y: top + row * (cell + gap) + cell - 2, class: "axis-label" }, label));
    });
    for (let i = 0; i < days; i++) {
      const date = new Date(jan1 + i * 86400000);
      const key = date.toISOString().slice(0, 10);
      const pos = i + offset, col = Math.floor(pos / 7), row = pos % 7;
      const x = left + col * (cell + gap), y = top + row * (cell + gap);
      if (date.getUTCDate() === 1) {
        svg.append(S("text", { x, y: top - 8, class: "axis-label" }, MONTHS[date.getUTCMonth()]));
      }
      const counts = data.days[key] || {};
      const planned = data.planned[key] || 0;
      const kind = kindOf(counts, planned);
      const square = S("rect", { x, y, width: cell, height: cell, rx: 2,
                                 class: `day day-${kind}${key === data.today ? " today" : ""}` });
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      twc.withTip(square, () => [
        key,
        total ? `${total} run${total === 1 ? "" : "s"}` : null,
        ...Object.entries(counts).sort().map(([s, c]) => `${s}: ${c}`),
        planned ? `planned: ${planned}` : null,
        !planned && !Object.keys(counts).length ? "no runs" : null,
      ]);
      svg.append(square);
    }
    chart.replaceChildren(svg);
    legend.replaceChildren(...KINDS.map(([kind, text]) => tw.el("span", { class: "legend-item" },
      S("svg", { width: 12, height: 12, class: "calendar-svg" }, S("rect", { width: 12, height: 12, rx: 2, class: `day day-${kind}` })),
      ` ${text}`)));
  }

  function step(delta) { year += delta; twc.setQuery("year", year); load(); }

  load();
})();
