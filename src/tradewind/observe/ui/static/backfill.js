/* The "Backfill" form of a DAG page (Airflow 3's backfill dialog), opened from the header button
 * that static/dag_header.js adds next to Trigger:
 *
 *   tw.backfillDag(dag)   // dag: the page data's dag ({dag_id, display_name, ...})
 *
 * Fields: date range (read in the UTC/local zone of the header toggle), reprocess behaviour
 * (none / failed / completed), max active runs, run backwards, run conf (JSON object). While the
 * user edits, POST /api/v2/backfills/dry_run previews the logical dates the backfill will run; the
 * Create button POSTs /api/v2/backfills. The API's refusals (a range with no runs, a DAG without a
 * time schedule, an active backfill already) show inside the form, next to the field they name.
 * Below the form, the DAG's backfills with pause / unpause / cancel.
 */
(function () {
  "use strict";
  const el = (...a) => tw.el(...a);
  const BASE = "/api/v2/backfills";
  const REPROCESS = [
    ["none", "Missing runs only", "Dates that already have a run are skipped."],
    ["failed", "Missing and failed runs", "Dates whose run failed are run again."],
    ["completed", "All runs", "Every date in the range runs again, whatever its last run did."],
  ];

  /** Radio and checkbox rows on one line (the form CSS stacks labels over full-width inputs). CSSOM, not style
   *  attributes: the Content-Security-Policy refuses inline styles. */
  function inline(node) {
    Object.assign(node.style, { display: "flex", alignItems: "center", gap: "0.5rem", flexWrap: "wrap" });
    node.querySelectorAll("input").forEach((i) => Object.assign(i.style, { width: "auto", margin: "0" }));
    node.querySelectorAll("label").forEach((l) => Object.assign(l.style, { display: "inline", margin: "0" }));
    return node;
  }

  function row(id, field, label, input, hint) {
    const error = el("div", { class: "field-error", role: "alert" });
    const node = el("div", { class: "form-row", dataset: { field } }, el("label", { for: id }, label), input,
                    hint ? el("div", { class: "hint" }, hint) : "", error);
    return { node, error, input };
  }

  /** The DAG's backfills as a small table with pause / unpause / cancel. */
  function backfillList(dagId, onChange) {
    const box = el("div", { class: "backfill-list" });
    async function action(b, verb) {
      try {
        await tw.api(`${BASE}/${b.id}/${verb}`, { method: "PUT" });
        tw.flash(`Backfill ${b.id}: ${verb === "cancel" ? "cancelled" : verb === "pause" ? "paused" : "unpaused"}`);
      } catch (e) { tw.flash(`Backfill ${b.id}: ${e.message}`, true); }
      refresh();
      if (onChange) onChange();
    }
    async function refresh() {
      let data;
      try { data = (await tw.api(BASE, { params: { dag_id: dagId, order_by: "-id", limit: 10 } })).data; }
      catch (e) { box.replaceChildren(el("p", { class: "field-error" }, `Cannot list backfills: ${e.message}`)); return; }
      if (!data.backfills.length) { box.replaceChildren(el("p", { class: "muted" }, "No backfills of this DAG yet.")); return; }
      box.replaceChildren(el("table", { class: "data backfills" },
        el("thead", {}, el("tr", {}, ["Id", "From", "To", "Reprocess", "Max runs", "State", ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, data.backfills.map((b) => el("tr", { dataset: { backfillId: String(b.id) } },
          el("td", {}, String(b.id)), el("td", {}, tw.timeEl(b.from_date)), el("td", {}, tw.timeEl(b.to_date)),
          el("td", {}, b.reprocess_behavior), el("td", {}, String(b.max_active_runs)),
          el("td", {}, b.completed_at ? "completed" : b.is_paused ? "paused" : "running"),
          el("td", { class: "actions" }, b.completed_at ? "" : [
            el("button", { type: "button", onclick: () => action(b, b.is_paused ? "unpause" : "pause") },
               b.is_paused ? "Unpause" : "Pause"),
            el("button", { type: "button", class: "danger", onclick: () => action(b, "cancel") }, "Cancel backfill"),
          ]))))));
    }
    refresh();
    return { node: box, refresh };
  }

  function backfillDag(dag) {
    const dagId = dag.dag_id;
    const zone = tw.tzName();
    const from = row("backfill-from", "from_date", `From (${zone})`,
                     el("input", { id: "backfill-from", type: "datetime-local", step: "1", required: true }));
    const to = row("backfill-to", "to_date", `To (${zone})`,
                   el("input", { id: "backfill-to", type: "datetime-local", step: "1", required: true }),
                   "Runs whose logical date falls in the range, both ends included.");
    const reprocessError = el("div", { class: "field-error", role: "alert" });
    const radios = REPROCESS.map(([value, label, hint], i) => {
      const input = el("input", { type: "radio", name: "reprocess_behavior", value, id: `backfill-reprocess-${value}`,
                                  checked: i === 0 });
      return inline(el("div", { class: "radio-row" }, input, el("label", { for: input.id, title: hint }, label),
                       el("span", { class: "hint muted" }, hint)));
    });
    const reprocess = { node: el("fieldset", { class: "form-row", dataset: { field: "reprocess_behavior" } },
                                 el("legend", {}, "Reprocess behaviour"), radios, reprocessError), error: reprocessError };
    const maxRuns = row("backfill-max-active-runs", "max_active_runs", "Max active runs",
                        el("input", { id: "backfill-max-active-runs", type: "number", min: 1, step: 1, value: 10 }),
                        "How many of the backfill's runs may run at once.");
    const backwardsInput = el("input", { id: "backfill-run-backwards", type: "checkbox" });
    const backwards = { node: inline(el("div", { class: "form-row check-row", dataset: { field: "run_backwards" } }, backwardsInput,
                                        el("label", { for: "backfill-run-backwards" }, "Run backwards (latest date first)"),
                                        el("div", { class: "field-error", role: "alert" }))) };
    backwards.error = backwards.node.querySelector(".field-error");
    const conf = row("backfill-conf", "dag_run_conf", "Run conf (JSON object)",
                     el("textarea", { id: "backfill-conf", rows: 4, class: "mono", spellcheck: "false" }, "{}"),
                     "Given to every run of the backfill.");
    const general = el("div", { class: "field-error", role: "alert", id: "backfill-error" });
    const preview = el("div", { class: "backfill-preview", id: "backfill-preview", "aria-live": "polite" },
                       el("p", { class: "muted" }, "Choose a date range to see the runs it creates."));
    const fields = [from, to, reprocess, maxRuns, backwards, conf];
    const list = backfillList(dagId);
    const form = el("form", { class: "backfill-form", novalidate: true, onsubmit: (e) => e.preventDefault() },
      el("div", { class: "form-grid" }, from.node, to.node), reprocess.node,
      el("div", { class: "form-grid" }, maxRuns.node, backwards.node),
      el("details", { class: "advanced", open: false }, el("summary", {}, "Run conf"), conf.node), general,
      el("h3", {}, "Preview"), preview, el("h3", {}, "Backfills of this DAG"), list.node);

    function clearErrors() {
      fields.forEach((f) => { f.error.textContent = ""; f.node.classList.remove("invalid"); });
      general.textContent = "";
    }
    function showError(field, message) {
      const target = field && fields.find((f) => f.node.dataset.field === field.split(".")[0]);
      const box = target ? target.error : general;
      box.textContent = box.textContent ? `${box.textContent}; ${message}` : message;
      if (target) target.node.classList.add("invalid");
    }
    /** The request body, or null after marking what is wrong (quiet: no messages for empty dates). */
    function read(quiet) {
      const body = { dag_id: dagId };
      let ok = true;
      const fromIso = tw.zonedToIso(from.input.value), toIso = tw.zonedToIso(to.input.value);
      for (const [iso, name] of [[fromIso, "from_date"], [toIso, "to_date"]]) {
        if (iso === null) { showError(name, "not a date and time"); ok = false; }
        else if (!iso) { if (!quiet) showError(name, "required"); ok = false; }
        else body[name] = iso;
      }
      body.reprocess_behavior = (form.querySelector('input[name="reprocess_behavior"]:checked') || {}).value || "none";
      const n = Number(maxRuns.input.value);
      if (!Number.isInteger(n) || n < 1) { showError("max_active_runs", "a whole number of at least 1"); ok = false; }
      else body.max_active_runs = n;
      body.run_backwards = backwardsInput.checked;
      try {
        const parsed = conf.input.value.trim() ? JSON.parse(conf.input.value) : {};
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("must be a JSON object");
        body.dag_run_conf = parsed;
      } catch (e) {
        showError("dag_run_conf", `not a JSON object: ${e.message}`);
        conf.node.closest("details").open = true;
        ok = false;
      }
      return ok ? body : null;
    }
    function apiErrors(e) {
      const errors = (e.body && e.body.errors) || [];
      if (errors.length) errors.forEach((err) => showError(err.field, err.msg));
      else showError(e.body && e.body.field, e.message);
    }

    let seq = 0;
    async function refreshPreview() {
      clearErrors();
      const body = read(true);
      if (!body) {
        preview.replaceChildren(el("p", { class: "muted" }, "Choose a date range to see the runs it creates."));
        return;
      }
      const mine = ++seq;
      preview.replaceChildren(el("p", { class: "muted" }, "Checking…"));
      try {
        const { data } = await tw.api(`${BASE}/dry_run`, { method: "POST", body });
        if (mine !== seq) return;
        const n = data.total_entries;
        preview.replaceChildren(
          el("p", { class: "backfill-count" }, n === 1 ? "1 run will be created." : `${n} runs will be created.`),
          n ? el("ol", { class: "backfill-dates" }, data.backfills.map((b) => el("li", {}, tw.timeEl(b.logical_date)))) : "");
      } catch (e) {
        if (mine !== seq) return;
        preview.replaceChildren(el("p", { class: "muted" }, "No preview: see the error above."));
        apiErrors(e);
      }
    }
    let timer = null;
    const later = () => { clearTimeout(timer); timer = setTimeout(refreshPreview, 300); };
    form.addEventListener("input", later);
    form.addEventListener("change", later);

    async function create() {
      clearErrors();
      const body = read(false);
      if (!body) return false;
      try {
        const { data } = await tw.api(BASE, { method: "POST", body });
        tw.flash(`Backfill ${data.id} of ${dagId} created`);
        document.dispatchEvent(new CustomEvent("tw:backfill-created", { detail: data }));
        return true;
      } catch (e) { apiErrors(e); return false; }
    }

    const dlg = tw.dialog(`Backfill ${dag.display_name || dagId}`, form, [{ label: "Create backfill", primary: true, onclick: create }]);
    dlg.node.addEventListener("keydown", (e) => { if (e.key === "Escape" && dlg.node.isConnected) dlg.close(); });
    from.input.focus();
    return dlg;
  }

  window.tw.backfillDag = backfillDag;
})();
