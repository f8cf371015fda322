/* The Runs tab (/dags/{dag_id}/runs): this DAG's runs, newest first, from GET /api/v1/dags/{id}/dagRuns.
 *
 * Filters by run type and state, pages of 50, actions per run (static/run_actions.js). `?run_id=X`
 * shows that one run (the grid's "Open in the Runs list"). While a shown run is queued or running
 * the page re-reads itself every 3 s.
 */
(function () {
  "use strict";
  const el = (...a) => tw.el(...a);
  const PAGE = 50;
  let page, dag, offset = 0, onlyRun = null, filters = { run_type: "", state: "" };
  let active = false;

  const runsPath = () => `dags/${encodeURIComponent(dag.dag_id)}/dagRuns`;

  function duration(run) {
    if (!run.start_date) return "";
    const end = run.end_date ? Date.parse(run.end_date) : Date.now();
    return tw.fmtDuration(Math.max(0, (end - Date.parse(run.start_date)) / 1000));
  }

  async function load() {
    let runs, total;
    if (onlyRun) {
      try {
        const { data } = await tw.api(`${runsPath()}/${encodeURIComponent(onlyRun)}`);
        runs = [data];
      } catch (e) {
        if (e.status !== 404) throw e;
        runs = [];
      }
      total = runs.length;
    } else {
      const { data } = await tw.api(runsPath(), { params: {
        limit: PAGE, offset, order_by: "-logical_date", run_type: filters.run_type, state: filters.state } });
      runs = data.dag_runs;
      total = data.total_entries;
    }
    active = runs.some((r) => r.state === "queued" || r.state === "running");
    render(runs, total);
  }

  function render(runs, total) {
    const showActions = dag.can_edit_runs || dag.can_delete_runs;
    const gridHref = `/dags/${encodeURIComponent(dag.dag_id)}/grid`;
    const table = el("table", { class: "data runs" },
      el("thead", {}, el("tr", {}, ["State", "Run id", "Type", "Logical date", "Started", "Ended", "Duration", "Conf"]
        .map((h) => el("th", {}, h)), showActions ? el("th", {}, "Actions") : "")),
      el("tbody", {}, runs.length ? runs.map((run) => el("tr", { dataset: { runId: run.dag_run_id }, class: run.dag_run_id === onlyRun ? "highlight" : "" },
        el("td", {}, tw.stateBadge(run.state, { text: true })),
        el("td", { class: "mono" }, el("a", { href: gridHref, title: "Open the grid" }, run.dag_run_id)),
        el("td", {}, run.run_type),
        el("td", {}, tw.timeEl(run.logical_date)),
        el("td", {}, tw.timeEl(run.start_date)),
        el("td", {}, tw.timeEl(run.end_date)),
        el("td", {}, duration(run)),
        el("td", { class: "conf" }, Object.keys(run.conf || {}).length ? el("pre", {}, JSON.stringify(run.conf, null, 1)) : ""),
        showActions ? el("td", { class: "actions" }, tw.runActionButtons(dag, run, { onDone: () => load().catch(fail) })) : ""))
        : el("tr", {}, el("td", { colspan: showActions ? 9 : 8, class: "muted" }, onlyRun ? `No run ${onlyRun}.` : "No runs."))));
    document.getElementById("runs-table").replaceChildren(table);
    const pager = document.getElementById("runs-pager");
    if (onlyRun) {
      pager.replaceChildren(el("a", { href: location.pathname }, "Show all runs"));
    } else {
      const last = Math.min(offset + PAGE, total);
      pager.replaceChildren(
        el("button", { type: "button", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); load().catch(fail); } }, "Newer"),
        el("span", { class: "muted" }, total ? `${offset + 1}–${last} of ${total}` : ""),
        el("button", { type: "button", disabled: last >= total, onclick: () => { offset += PAGE; load().catch(fail); } }, "Older"));
    }
    document.getElementById("runs-status").textContent = active ? "live" : "";
  }

  const fail = (e) => tw.flash(e.message, true);

  document.addEventListener("DOMContentLoaded", () => {
    page = tw.pageData();
    dag = page.dag;
    const q = new URLSearchParams(location.search);
    onlyRun = q.get("run_id");
    const typeSel = document.getElementById("runs-run-type"), stateSel = document.getElementById("runs-state");
    page.run_types.forEach((t) => typeSel.append(el("option", { value: t }, t)));
    page.run_states.forEach((s) => stateSel.append(el("option", { value: s }, s)));
    const onFilter = () => {
      filters = { run_type: typeSel.value, state: stateSel.value };
      offset = 0;
      onlyRun = null;
      load().catch(fail);
    };
    typeSel.addEventListener("change", onFilter);
    stateSel.addEventListener("change", onFilter);
    document.addEventListener("tw:run-triggered", () => { onlyRun = null; offset = 0; load().catch(fail); });
    tw.onTimezoneChange(() => tw.refreshTimes(document.getElementById("runs-table")));
    let ticks = 0;
    tw.poll(async () => {
      ticks += 1;
      if (ticks > 1 && !active && ticks % 10 !== 1) return;
      await load();
    }, 3000);
  });
})();
