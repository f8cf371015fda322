/* The task-instance page's "Required action" panel: a human-in-the-loop request of this instance,
 * its answer once given, and (while it waits, for users who may edit task instances) a form to
 * answer it: the options as radio buttons (checkboxes when several may be chosen) and one field
 * per param. Data: the REST API's .../taskInstances/<task>/<map_index>/hitlDetails (GET, PATCH).
 * Everything shown is text (tw.el); values typed into the form are sent as JSON where they parse.
 */
(function () {
  "use strict";
  const { el, api, timeEl, flash } = tw;
  const pd = tw.pageData();
  const panel = document.getElementById("ti-hitl");
  if (!pd || !panel) return;
  const enc = encodeURIComponent;
  const mapIndex = Number(pd.map_index);
  const path = `dags/${enc(pd.dag_id)}/dagRuns/${enc(pd.run_id)}/taskInstances/${enc(pd.task_id)}/${mapIndex}/hitlDetails`;
  const canEdit = panel.dataset.canEdit === "true";
  let shownKey = null;  // what the panel shows: re-rendered only when it changes (keeps a half-filled form)

  function valueOf(input, spec) {
    const raw = input.value;
    const type = spec && spec.schema ? spec.schema.type : undefined;
    if (type === "string" || (Array.isArray(type) && type.includes("string") && raw !== "null")) return raw;
    try { return JSON.parse(raw); } catch (e) { return raw; }
  }

  function answerForm(d) {
    const name = `hitl-option-${pd.task_id}`;
    const choices = d.options.map((option) => el("label", { class: "hitl-option" },
      el("input", { type: d.multiple ? "checkbox" : "radio", name, value: option,
                    checked: (d.defaults || []).includes(option) }), " ", option));
    const fields = Object.entries(d.params || {}).map(([key, spec]) => {
      const current = spec && typeof spec === "object" && "value" in spec ? spec.value : spec;
      const input = el("input", { type: "text", name: key,
                                  value: current === null || current === undefined ? "" :
                                    typeof current === "string" ? current : JSON.stringify(current) });
      return { key, spec, input, row: el("label", { class: "hitl-param" },
        el("span", {}, key + (spec && spec.description ? ` — ${spec.description}` : "")), input) };
    });
    const submit = el("button", { type: "submit", class: "primary" }, "Respond");
    const form = el("form", { class: "hitl-form" }, el("div", { class: "hitl-options" }, ...choices),
      ...fields.map((f) => f.row), el("div", { class: "toolbar" }, submit));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const chosen = Array.from(form.querySelectorAll(`input[name="${name}"]:checked`)).map((i) => i.value);
      const params_input = Object.fromEntries(fields.map((f) => [f.key, valueOf(f.input, f.spec)]));
      submit.disabled = true;
      try {
        await api(path, { method: "PATCH", body: { chosen_options: chosen, params_input } });
        flash(`Responded ${chosen.join(", ")}; the task resumes.`);
        shownKey = null;
        await refresh();
      } catch (e) {
        flash(e.message, true);
        submit.disabled = false;
      }
    });
    return form;
  }

  function render(d) {
    const who = d.responded_by_user ? d.responded_by_user.name : "nobody (the defaults after the timeout)";
    panel.replaceChildren(
      el("h2", {}, "Required action: ", d.subject),
      d.body ? el("pre", { class: "hitl-body wrap" }, d.body) : null,
      d.response_received
        ? el("p", {}, `Answered ${JSON.stringify(d.chosen_options)} by ${who} at `, timeEl(d.responded_at),
             Object.keys(d.params_input || {}).length ? ` with ${JSON.stringify(d.params_input)}` : "")
        : d.pending
          ? el("div", {},
               el("p", { class: "muted" }, `Options: ${d.options.join(", ")}`,
                  d.timeout_at ? " — the defaults apply at " : "", d.timeout_at ? timeEl(d.timeout_at) : "",
                  d.assigned_users.length ? ` — respondents: ${d.assigned_users.map((u) => u.name).join(", ")}` : ""),
               canEdit ? answerForm(d) : null)
          : el("p", { class: "muted" }, "Not answered; the task no longer waits for it."));
    panel.hidden = false;
  }

  async function refresh() {
    let d;
    try {
      d = (await api(path)).data;
    } catch (e) {
      if (e.status === 404) { panel.hidden = true; shownKey = null; return; }
      throw e;
    }
    const key = JSON.stringify([d.try_number, d.pending, d.response_received]);
    if (key !== shownKey) { shownKey = key; render(d); }
  }

  tw.poll(refresh, 3000);
})();
