/* Shared helpers of the per-DAG chart views (graph, Gantt, duration/tries, calendar): a tooltip,
 * a run picker, URL query updates, nice axis ticks, colours read from the stylesheet's variables
 * (so the dark theme applies), and the Chart.js set-up (static/vendor/chartjs) the Gantt and the
 * duration/tries charts share. Everything is text: the tooltip and labels are built with
 * tw.el/tw.svg, never innerHTML; Chart.js draws its labels and tooltips on a canvas.
 */
(function () {
  "use strict";
  const enc = encodeURIComponent;

  /** /ui/data/dags/<dag>/<part> */
  const dataUrl = (dagId, part) => `/ui/data/dags/${enc(dagId)}/${part}`;
  /** The task instance page of one task in one run (map index for a mapped instance). */
  const tiUrl = (dagId, runId, taskId, mapIndex) =>
    `/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(taskId)}` +
    (mapIndex !== undefined && mapIndex !== null && mapIndex >= 0 ? `?map_index=${mapIndex}` : "");

  /** Replace (not push) one query parameter in the address bar, so a reload shows the same view. */
  function setQuery(key, value) {
    const url = new URL(window.location.href);
    url.searchParams.delete(key);
    (Array.isArray(value) ? value : [value]).forEach((v) => {
      if (v !== undefined && v !== null && v !== "") url.searchParams.append(key, v);
    });
    window.history.replaceState(null, "", url);
  }

  /** The Grid view focused on one task of one run (where a chart's bar or point leads). */
  const gridUrl = (dagId, runId, taskId) => {
    const q = new URLSearchParams();
    if (runId) q.set("run_id", runId);
    if (taskId) q.set("task_id", taskId);
    return `/dags/${enc(dagId)}/grid?${q}`;
  };

  /** The value of a CSS variable of the page (the theme's current one). */
  const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  /** The colour of a state, read from the stylesheet's --st-<state> variables (never cached: the theme may change). */
  function stateColour(state) {
    return cssVar(`--st-${state || "none"}`) || cssVar("--muted");
  }
  /** Colours for task series: --chart-1 .. --chart-10 of dag_charts.css (light and dark values). */
  function palette() {
    const out = [];
    for (let i = 1; i <= 10; i++) out.push(cssVar(`--chart-${i}`) || cssVar("--accent"));
    return out;
  }
  /** `colour` (#rrggbb or rgb()) at opacity `alpha`, for the queued part of a Gantt bar. */
  function withAlpha(colour, alpha) {
    const hex = /^#([0-9a-f]{6})$/i.exec(colour);
    if (hex) {
      const n = parseInt(hex[1], 16);
      return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
    }
    const rgb = /^rgba?\(([^,]+),([^,]+),([^,)]+)/.exec(colour);
    return rgb ? `rgba(${rgb[1]},${rgb[2]},${rgb[3]}, ${alpha})` : colour;
  }
  /** Call fn() when the colour theme changes (theme.js sets data-theme on <html>). */
  function onThemeChange(fn) {
    new MutationObserver(fn).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme", "class"] });
  }

  // ------------------------------------------------------------------ Chart.js
  /** Chart.js options every chart shares: text, grid and tooltip colours from the theme. */
  function baseOptions() {
    const fg = cssVar("--fg"), muted = cssVar("--muted"), line = cssVar("--line"), panel = cssVar("--panel");
    return {
      responsive: true, maintainAspectRatio: false, animation: false,
      color: fg, borderColor: line,
      plugins: {
        legend: { display: false },
        tooltip: { backgroundColor: panel, titleColor: fg, bodyColor: fg, borderColor: line, borderWidth: 1,
                   displayColors: true, padding: 8 },
      },
      scales: {},
      _axis: { ticks: { color: muted }, grid: { color: line }, border: { color: line }, title: { color: muted } },
    };
  }
  /** An axis config with the theme's colours merged into `extra`. */
  function axis(extra) {
    const base = baseOptions()._axis;
    return { ...extra, ticks: { ...base.ticks, ...(extra.ticks || {}) }, grid: { ...base.grid, ...(extra.grid || {}) },
             border: base.border, title: { ...base.title, ...(extra.title || {}) } };
  }
  /** Draw a Chart.js chart in `container` (replacing what was there, destroying the previous
   *  chart) at `height` pixels; returns the chart. A missing library shows a readable error. */
  function drawChart(container, height, config, label) {
    const previous = container.querySelector("canvas");
    if (previous && window.Chart && window.Chart.getChart(previous)) window.Chart.getChart(previous).destroy();
    if (!window.Chart) {
      container.replaceChildren(tw.el("p", { class: "banner-error" }, "The chart library did not load: reload the page."));
      return null;
    }
    const canvas = tw.el("canvas", { role: "img", "aria-label": label });
    const box = tw.el("div", { class: "chart-box" }, canvas);
    box.style.height = `${height}px`;
    container.replaceChildren(box);
    const options = baseOptions();
    delete options._axis;
    const merged = { ...config, options: { ...options, ...config.options,
      plugins: { ...options.plugins, ...(config.options.plugins || {}),
                 tooltip: { ...options.plugins.tooltip, ...((config.options.plugins || {}).tooltip || {}) } } } };
    return new window.Chart(canvas, merged);
  }

  /** A loading sign in `container` (replaced by what comes next). */
  function loading(container, text = "Loading…") {
    container.replaceChildren(tw.el("p", { class: "chart-loading muted", role: "status" }, tw.el("span", { class: "spinner" }), ` ${text}`));
  }
  /** A readable error in `container` (an API error's detail, else its message). */
  function showError(container, error) {
    const detail = (error && error.body && (error.body.detail || error.body.title)) || (error && error.message) || String(error);
    const text = typeof detail === "string" ? detail : JSON.stringify(detail);
    container.replaceChildren(tw.el("p", { class: "banner-error", role: "alert" }, `Could not load the chart: ${text}`));
  }

  // ------------------------------------------------------------------ tooltip
  let tip = null;
  /** Show a tooltip of text lines near the mouse event; the first line is bold. */
  function showTip(event, lines) {
    if (!tip) { tip = tw.el("div", { class: "chart-tip", role: "tooltip" }); document.body.append(tip); }
    tip.replaceChildren(...lines.filter((l) => l !== null && l !== undefined && l !== "")
      .map((line, i) => tw.el("div", { class: i === 0 ? "tip-title" : "" }, line)));
    tip.hidden = false;
    const pad = 14, box = tip.getBoundingClientRect();
    let x = event.clientX + pad, y = event.clientY + pad;
    if (x + box.width > window.innerWidth) x = event.clientX - box.width - pad;
    if (y + box.height > window.innerHeight) y = event.clientY - box.height - pad;
    tip.style.left = `${Math.max(0, x + window.scrollX)}px`;
    tip.style.top = `${Math.max(0, y + window.scrollY)}px`;
  }
  function hideTip() { if (tip) tip.hidden = true; }
  /** Attach a tooltip to an element: lines() is called on each hover. */
  function withTip(node, lines) {
    node.addEventListener("mousemove", (e) => showTip(e, lines()));
    node.addEventListener("mouseleave", hideTip);
    return node;
  }

  // ------------------------------------------------------------------ run picker
  /** A <select> of runs (newest first); onChange(run_id). */
  function runPicker(runs, selected, onChange) {
    const select = tw.el("select", { "aria-label": "DAG run", class: "run-picker" },
      ...runs.map((r) => tw.el("option", { value: r.run_id, selected: r.run_id === selected },
        `${tw.fmtTime(r.logical_date, { seconds: false })} · ${r.state} · ${r.run_id}`)));
    select.addEventListener("change", () => onChange(select.value));
    tw.onTimezoneChange(() => {
      Array.from(select.options).forEach((opt, i) => {
        const r = runs[i];
        opt.textContent = `${tw.fmtTime(r.logical_date, { seconds: false })} · ${r.state} · ${r.run_id}`;
      });
    });
    return select;
  }

  // ------------------------------------------------------------------ axes
  /** About `count` round tick values covering [min, max]. */
  function ticks(min, max, count = 5) {
    if (!(max > min)) return [min];
    const raw = (max - min) / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const out = [];
    for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
    return out;
  }
  /** Tick values for a time span in milliseconds, at a round step (seconds .. days). */
  function timeTicks(startMs, endMs, count = 6) {
    const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
                   172800, 604800].map((s) => s * 1000);
    const span = Math.max(endMs - startMs, 1);
    const step = steps.find((s) => span / s <= count) || steps[steps.length - 1];
    const out = [];
    for (let t = Math.ceil(startMs / step) * step; t <= endMs; t += step) out.push(t);
    return out;
  }

  window.twc = { dataUrl, tiUrl, gridUrl, setQuery, cssVar, stateColour, palette, withAlpha, onThemeChange, axis,
                 drawChart, loading, showError, showTip, hideTip, withTip, runPicker, ticks, timeTicks };
})();
