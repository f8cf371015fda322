/* The run page (/dags/{dag_id}/runs/{run_id}): details, conf, note, task instances and actions.
 *
 * Reads GET /api/v2/dags/{d}/dagRuns/{r} (details, conf, DAG versions, note) and
 * GET /api/v1/dags/{d}/dagRuns/{r}/taskInstances; saves the note with PATCH /api/v2/.../dagRuns/{r}
 * (update_mask=note); actions come from run_actions.js (mark success/failed only offered when they
 * change the run's state). While the run is queued or running the page re-reads itself every 3 s.
 * A task instance's "Log" opens tw.logViewer below the table.
 */
(function () {
  "use strict";
  const el = (...a) => tw.el(...a);
  const enc = encodeURIComponent;
  const ACTIVE = new Set(["queued", "running"]);
  let data, dag, runId, run = null, stopPolling = null, viewer = null, editing = false;

  const v2Path = () => `/api/v2/dags/${enc(dag.dag_id)}/dagRuns/${enc(runId)}`;
  const v1Path = () => `dags/${enc(dag.dag_id)}/dagRuns/${enc(runId)}`;

  function showError(message) {
    const node = document.getElementById("run-error");
    node.textContent = message || "";
    node.hidden = !message;
  }

  function duration(start, end, seconds) {
    if (seconds !== null && seconds !== undefined) return tw.fmtDuration(seconds);
    if (!start) return "";
    const stop = end ? Date.parse(end) : Date.now();
    return tw.fmtDuration(Math.max(0, (stop - Date.parse(start)) / 1000));
  }

  function renderDetails() {
    document.getElementById("run-state").replaceChildren(tw.stateBadge(run.state, { text: true }));
    const versions = run.dag_versions || [];
    const version = versions.length ? versions[versions.length - 1] : null;
    const triggered = [run.triggered_by, run.triggering_user_name ? `by ${run.triggering_user_name}` : ""]
      .filter(Boolean).join(" ");
    const rows = [
      ["State", tw.stateBadge(run.state, { text: true })],
      ["Run id", el("span", { class: "mono" }, run.dag_run_id)],
      ["Run type", run.run_type],
      ["Logical date", run.logical_date ? tw.timeEl(run.logical_date) : el("span", { class: "muted" }, "none")],
      ["Run after", tw.timeEl(run.run_after)],
      ["Data interval", run.data_interval_start
        ? el("span", {}, tw.timeEl(run.data_interval_start), " – ", tw.timeEl(run.data_interval_end)) : ""],
      ["Queued at", tw.timeEl(run.queued_at)],
      ["Started", tw.timeEl(run.start_date)],
      ["Ended", tw.timeEl(run.end_date)],
      ["Duration", duration(run.start_date, run.end_date, run.duration)],
      ["DAG version", version ? `v${version.version_number}${version.bundle_version ? ` (${version.bundle_version})` : ""}` : ""],
      ["Triggered by", triggered],
    ];
    document.getElementById("run-details").replaceChildren(...rows.flatMap(([label, value]) =>
      [el("dt", {}, label), el("dd", {}, value === "" || value === null || value === undefined
        ? el("span", { class: "muted" }, "—") : value)]));
    const conf = run.conf && Object.keys(run.conf).length ? JSON.stringify(run.conf, null, 2) : "{}";
    document.getElementById("run-conf").textContent = conf;
    renderActions();
    if (!editing) renderNote();
  }

  function renderActions() {
    const box = document.getElementById("run-actions");
    const buttons = tw.runActionButtons(dag, run, {
      onDone: (what) => {
        if (what === "deleted") { window.location.assign(`/dags/${enc(dag.dag_id)}/runs`); return; }
        refresh();
      },
    }).filter((b) => !(b.dataset.action === `Mark ${run.state}`));
    box.replaceChildren(...buttons);
  }

  function renderNote() {
    const view = document.getElementById("run-note-view");
    const button = document.getElementById("run-note-button");
    view.replaceChildren(run.note ? run.note : el("span", { class: "muted" }, "No note."));
    button.hidden = !data.can_edit_note;
    button.textContent = run.note ? "Edit note" : "Add note";
  }

  function setupNote() {
    const button = document.getElementById("run-note-button");
    const edit = document.getElementById("run-note-edit");
    const input = document.getElementById("run-note-input");
    const view = document.getElementById("run-note-view");
    const close = () => { editing = false; edit.hidden = true; view.hidden = false; renderNote(); };
    button.addEventListener("click", () => {
      editing = true;
      input.value = run.note || "";
      edit.hidden = false;
      view.hidden = true;
      button.hidden = true;
      input.focus();
    });
    document.getElementById("run-note-cancel").addEventListener("click", close);
    document.getElementById("run-note-save").addEventListener("click", async () => {
      try {
        const { data: saved } = await tw.api(v2Path(), { method: "PATCH", params: { update_mask: "note" },
                                                         body: { note: input.value || null } });
        run = saved;
        tw.flash("Note saved");
        close();
      } catch (e) {
        showError(`Could not save the note: ${e.message}`);
      }
    });
  }

  function gridHref(ti) {
    const params = new URLSearchParams({ run_id: runId, task_id: ti.task_id });
    if (ti.map_index >= 0) params.set("map_index", String(ti.map_index));
    return `/dags/${enc(dag.dag_id)}/grid?${params}`;
  }

  function openLog(ti) {
    if (viewer) viewer.destroy();
    const section = document.getElementById("run-log");
    section.hidden = false;
    document.getElementById("run-log-title").textContent =
      `Log of ${ti.task_id}${ti.map_index >= 0 ? ` [${ti.map_index}]` : ""}`;
    viewer = tw.logViewer(document.getElementById("run-log-viewer"),
      { dagId: dag.dag_id, runId, taskId: ti.task_id, mapIndex: ti.map_index, tryNumber: ti.try_number || null });
    section.scrollIntoView({ block: "start" });
  }

  function renderTis(tis, total) {
    const table = el("table", { class: "data run-tis" },
      el("thead", {}, el("tr", {}, ["Task", "State", "Tries", "Started", "Ended", "Duration", "Operator", ""]
        .map((h) => el("th", {}, h)))),
      el("tbody", {}, tis.length ? tis.map((ti) => el("tr", { dataset: { taskId: ti.task_id, mapIndex: ti.map_index } },
        el("td", { class: "mono" }, el("a", { class: "run-ti-grid", href: gridHref(ti), title: "Open in the grid" },
          ti.task_id, ti.map_index >= 0 ? ` [${ti.rendered_map_index || ti.map_index}]` : "")),
        el("td", {}, tw.stateBadge(ti.state || "none", { text: true })),
        el("td", { class: "num" }, String(ti.try_number || 0)),
        el("td", {}, tw.timeEl(ti.start_date)),
        el("td", {}, tw.timeEl(ti.end_date)),
        el("td", { class: "num" }, duration(ti.start_date, ti.end_date, ti.duration)),
        el("td", {}, ti.operator || ""),
        el("td", { class: "run-ti-links" },
          el("a", { class: "run-ti-page", href: `/dags/${enc(dag.dag_id)}/runs/${enc(runId)}/tasks/${enc(ti.task_id)}?map_index=${ti.map_index}` }, "Details"),
          data.can_read_log && ti.try_number
            ? el("button", { type: "button", class: "run-ti-log", onclick: () => openLog(ti) }, "Log") : "")))
        : el("tr", {}, el("td", { colspan: 8, class: "muted" }, "This run has no task instances."))));
    const note = total > tis.length ? el("p", { class: "muted" }, `Showing ${tis.length} of ${total} task instances.`) : "";
    document.getElementById("run-tis").replaceChildren(table, note);
  }

  async function load() {
    const [{ data: fresh }, { data: list }] = await Promise.all([
      tw.api(v2Path()),
      tw.api(`${v1Path()}/taskInstances`, { params: { limit: 1000 } }),
    ]);
    run = fresh;
    renderDetails();
    renderTis(list.task_instances, list.total_entries);
    showError("");
    return ACTIVE.has(run.state) || list.task_instances.some((ti) => ACTIVE.has(ti.state));
  }

  async function refresh() {
    try {
      const active = await load();
      if (active && !stopPolling) startPolling();
    } catch (e) {
      showError(e.status === 404 ? `Run ${runId} no longer exists.` : `Could not load the run: ${e.message}`);
    }
  }

  function startPolling() {
    let first = true;
    stopPolling = tw.poll(async () => {
      if (first) { first = false; return; }
      const active = await load();
      if (!active && stopPolling) { stopPolling(); stopPolling = null; }
    }, 3000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    data = tw.pageData();
    dag = data.dag;
    runId = data.run_id;
    setupNote();
    refresh();
    tw.onTimezoneChange(() => { if (run) renderDetails(); });
  });
})();
