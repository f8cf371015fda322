/* Shared helpers of the per-DAG chart views (graph, Gantt, duration/tries, calendar): a tooltip,
 * a run picker, URL query updates, nice axis ticks and state colours. Everything is text: the
 * tooltip and labels are built with tw.el/tw.svg, never innerHTML.
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

  /** The colour of a state, read from the stylesheet's --st-<state> variables. */
  const colourCache = {};
  function stateColour(state) {
    const s = state || "none";
    if (!(s in colourCache)) {
      colourCache[s] = getComputedStyle(document.documentElement).getPropertyValue(`--st-${s}`).trim() || "#cccccc";
    }
    return colourCache[s];
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

  window.twc = { dataUrl, tiUrl, setQuery, stateColour, showTip, hideTip, withTip, runPicker, ticks, timeTicks };
})();
