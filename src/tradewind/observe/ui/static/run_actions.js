/* Actions on one DAG run, shared by the Grid's run panel and the Runs tab:
 *
 *   tw.runActionButtons(dag, run, { onDone })  -> [button, ...]
 *
 * `dag` is the page's header data (tw.pageData().dag: dag_id and the can_* flags), `run` needs
 * dag_run_id and state. Each action asks for confirmation in a dialog, then calls the REST API
 * (mark success/failed: PATCH .../dagRuns/{id}; clear: POST .../clear; delete: DELETE) and calls
 * onDone(action) so the page refreshes. Buttons the role may not use are not offered, nor a
 * mark that would change nothing ("Mark success" on a run that succeeded, "Mark failed" on a
 * failed one).
 */
(function () {
  "use strict";

  function runPath(dagId, runId) {
    return `dags/${encodeURIComponent(dagId)}/dagRuns/${encodeURIComponent(runId)}`;
  }

  function confirmThen(title, message, label, danger, action) {
    const error = tw.el("p", { class: "banner-error", hidden: true });
    tw.dialog(title, tw.el("div", {}, tw.el("p", {}, message), error), [{
      label, primary: !danger, danger, onclick: async () => {
        try {
          await action();
          return true;
        } catch (e) {
          error.textContent = e.message;
          error.hidden = false;
          return false;
        }
      },
    }]);
  }

  function runActionButtons(dag, run, { onDone } = {}) {
    const id = run.dag_run_id;
    const path = runPath(dag.dag_id, id);
    const done = (what) => { tw.flash(`Run ${id}: ${what}`); if (onDone) onDone(what); };
    const buttons = [];
    const button = (label, cls, onclick) => tw.el("button", { type: "button", class: cls, dataset: { action: label }, onclick }, label);
    if (dag.can_edit_runs) {
      for (const state of ["success", "failed"]) {
        if (run.state === state) continue;  // marking it so would change nothing
        buttons.push(button(`Mark ${state}`, "", () => confirmThen(
          `Mark run ${state}`, `Mark run ${id} as ${state}? Its unfinished task instances change with it.`,
          `Mark ${state}`, state === "failed",
          async () => { await tw.api(path, { method: "PATCH", body: { state } }); done(`marked ${state}`); })));
      }
      buttons.push(button("Clear", "", async () => {
        let count = "its";
        try {
          const { data } = await tw.api(`${path}/clear`, { method: "POST", body: { dry_run: true } });
          count = `${data.total_entries}`;
        } catch (e) { /* the confirmation still works without the count */ }
        confirmThen("Clear run", `Clear run ${id}? ${count} task instance(s) will run again.`, "Clear", false,
          async () => { await tw.api(`${path}/clear`, { method: "POST", body: { dry_run: false } }); done("cleared"); });
      }));
    }
    if (dag.can_delete_runs) {
      buttons.push(button("Delete", "danger", () => confirmThen(
        "Delete run", `Delete run ${id} with its task instances, tries and XComs? This cannot be undone.`, "Delete", true,
        async () => { await tw.api(path, { method: "DELETE" }); done("deleted"); })));
    }
    return buttons;
  }

  window.tw.runActionButtons = runActionButtons;
})();
