/* The per-DAG page header (templates/dag_base.html): the pause switch, the trigger button and, next to it,
 * the Backfill button (static/backfill.js, loaded on demand).
 *
 * Triggering uses the DAG list's form (static/trigger.js, `tw.triggerDag(dagId, {onTriggered})`,
 * generated from the params) when the page loaded it, else a small dialog with an optional JSON conf. After a trigger the
 * document gets a "tw:run-triggered" event (detail: the new run) so the view can refresh at once.
 */
(function () {
  "use strict";

  /** A "Backfill" button next to Trigger; it opens static/backfill.js's form (loaded here, on pages that can trigger). */
  function addBackfillButton(trigger, dag) {
    const backfill = tw.el("button", { type: "button", id: "dag-backfill", class: "backfill-dag", disabled: true,
                                       title: "Create runs for a range of past dates" }, "Backfill");
    trigger.after(" ", backfill);
    backfill.addEventListener("click", () => { if (typeof tw.backfillDag === "function") tw.backfillDag(dag); });
    if (typeof tw.backfillDag === "function") { backfill.disabled = false; return; }
    const script = tw.el("script", { src: "/static/backfill.js" });
    script.addEventListener("load", () => { backfill.disabled = false; });
    script.addEventListener("error", () => { backfill.title = "The backfill form could not be loaded"; });
    document.head.append(script);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const data = tw.pageData() || {};
    const dag = data.dag || {};
    const path = `dags/${encodeURIComponent(dag.dag_id)}`;

    const toggle = document.getElementById("dag-pause-toggle");
    if (toggle) {
      toggle.addEventListener("change", async () => {
        const paused = !toggle.checked;
        toggle.disabled = true;
        try {
          await tw.api(path, { method: "PATCH", body: { is_paused: paused } });
          dag.is_paused = paused;
          tw.flash(paused ? `${dag.dag_id} is paused` : `${dag.dag_id} is active`);
        } catch (e) {
          toggle.checked = !paused;
          tw.flash(e.message, true);
        } finally {
          toggle.disabled = !dag.can_edit_dag;
        }
      });
    }

    const announce = (run) => {
      tw.flash(`Triggered ${dag.dag_id}: run ${run.dag_run_id}`);
      document.dispatchEvent(new CustomEvent("tw:run-triggered", { detail: run }));
    };

    const button = document.getElementById("dag-trigger");
    if (!button) return;
    addBackfillButton(button, dag);
    button.addEventListener("click", () => {
      if (typeof tw.triggerDag === "function") {
        tw.triggerDag(dag.dag_id, { onTriggered: announce });
        return;
      }
      const conf = tw.el("textarea", { id: "trigger-conf", rows: 6, spellcheck: "false", class: "mono" }, "{}");
      const error = tw.el("p", { class: "banner-error", hidden: true });
      const dlg = tw.dialog(`Trigger ${dag.display_name || dag.dag_id}`, tw.el("div", {},
        tw.el("div", { class: "form-row" }, tw.el("label", { for: "trigger-conf" }, "Run conf (JSON object)"), conf),
        error), [{
        label: "Trigger", primary: true, onclick: async () => {
          let body;
          try {
            const parsed = JSON.parse(conf.value || "{}");
            if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("conf must be a JSON object");
            body = { conf: parsed };
          } catch (e) {
            error.textContent = `Invalid conf: ${e.message}`;
            error.hidden = false;
            return false;
          }
          try {
            const { data: run } = await tw.api(`${path}/dagRuns`, { method: "POST", body });
            announce(run);
            return true;
          } catch (e) {
            error.textContent = e.message;
            error.hidden = false;
            return false;
          }
        },
      }]);
      dlg.node.addEventListener("keydown", (e) => { if (e.key === "Escape" && dlg.node.isConnected) dlg.close(); });
      conf.focus();
    });
  });
})();
