/* The "Trigger DAG" form, generated from the DAG's params. Shared by the DAG list and the per-DAG pages:
 *
 *   tw.triggerDag(dagId, { onTriggered(run) {} })
 *
 * Reads GET /api/v1/dags/{dag_id}/details (params: {name: {value, description, schema}}) and builds one field
 * per param from its JSON schema: enum -> select, boolean -> checkbox, integer/number -> number input,
 * array/object -> JSON textarea, anything else -> text. A DAG without params gets a free "conf" JSON textarea.
 * Optional logical date (read in the UTC/local zone the header toggle shows) and run id.
 * The client checks only what it can (required, JSON syntax, numbers); the server validates everything and
 * its 422 reasons ("errors": [{field: "conf.<name>", msg}]) are shown next to the field they name.
 */
(function () {
  "use strict";
  const el = (...a) => tw.el(...a);

  /** The schema's main type: "integer" for {"type": ["null", "integer"]}, null when untyped. */
  function mainType(schema) {
    const t = schema.type;
    if (Array.isArray(t)) return t.find((x) => x !== "null") || null;
    return t || null;
  }
  const allowsNull = (schema) => schema.type === "null" || (Array.isArray(schema.type) && schema.type.includes("null"));

  /** A field for one param: {row, input, error, read() -> {ok, value, omit, message}}. */
  function paramField(name, param) {
    const schema = param.schema || {};
    const type = mainType(schema);
    const value = param.value;
    const required = (value === null || value === undefined) && !allowsNull(schema);
    const id = `param-${name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const error = el("div", { class: "field-error", role: "alert" });
    let input, read;
    const jsonish = type === "array" || type === "object" || (!type && value !== null && typeof value === "object");
    if (Array.isArray(schema.enum)) {
      input = el("select", { id, name });
      if (!required || value === null || value === undefined) input.append(el("option", { value: "" }, "—"));
      schema.enum.forEach((option, i) => input.append(el("option", { value: String(i), selected: option === value },
                                                            option === null ? "null" : String(option))));
      read = () => (input.value === "" ? { ok: true, omit: true } : { ok: true, value: schema.enum[Number(input.value)] });
    } else if (type === "boolean") {
      input = el("input", { id, name, type: "checkbox", checked: value === true });
      read = () => ({ ok: true, value: input.checked });
    } else if (type === "integer" || type === "number") {
      input = el("input", { id, name, type: "number", step: type === "integer" ? "1" : "any",
                            min: schema.minimum, max: schema.maximum, value: value ?? "" });
      read = () => {
        if (input.value.trim() === "") return { ok: true, omit: true };
        const n = Number(input.value);
        if (!Number.isFinite(n)) return { ok: false, message: "not a number" };
        if (type === "integer" && !Number.isInteger(n)) return { ok: false, message: "must be a whole number" };
        return { ok: true, value: n };
      };
    } else if (jsonish) {
      input = el("textarea", { id, name, rows: 4, class: "mono", spellcheck: "false" },
                 value === null || value === undefined ? "" : JSON.stringify(value, null, 2));
      read = () => {
        if (input.value.trim() === "") return { ok: true, omit: true };
        try { return { ok: true, value: JSON.parse(input.value) }; }
        catch (e) { return { ok: false, message: `not valid JSON: ${e.message}` }; }
      };
    } else {
      const kind = schema.format === "date" ? "date" : "text";
      input = el("input", { id, name, type: kind, value: value ?? "", minlength: schema.minLength,
                            maxlength: schema.maxLength });
      read = () => (input.value === "" && (value === null || value === undefined)
        ? { ok: true, omit: true } : { ok: true, value: input.value });
    }
    const label = el("label", { for: id }, name, required ? el("span", { class: "required", title: "required" }, " *") : "",
                     type ? el("span", { class: "muted" }, ` (${type})`) : "");
    const row = el("div", { class: "form-row", dataset: { field: `conf.${name}` } }, label, input,
                   param.description ? el("div", { class: "hint" }, param.description) : "", error);
    const check = () => {
      const got = read();
      if (!got.ok) return got;
      if (required && got.omit) return { ok: false, message: "required" };
      return got;
    };
    return { name, row, error, read: check };
  }

  /** ISO UTC from a datetime-local value, read in the zone the header shows (any IANA zone);
   *  null when empty, undefined when unreadable. */
  function logicalIso(value) {
    const iso = tw.zonedToIso(value);
    return iso === "" ? null : iso === null ? undefined : iso;
  }

  function simpleRow(id, field, labelText, input, hint) {
    const error = el("div", { class: "field-error", role: "alert" });
    return { row: el("div", { class: "form-row", dataset: { field } }, el("label", { for: id }, labelText), input,
                     hint ? el("div", { class: "hint" }, hint) : "", error), error };
  }

  async function triggerDag(dagId, { onTriggered } = {}) {
    let details;
    try { details = (await tw.api(`dags/${encodeURIComponent(dagId)}/details`)).data; }
    catch (e) { tw.flash(`Cannot load DAG ${dagId}: ${e.message}`, true); return; }
    const params = details.params || {};
    const fields = Object.entries(params).map(([name, p]) => paramField(name, p));
    let confBox = null;
    if (!fields.length) {
      const input = el("textarea", { id: "trigger-conf", rows: 5, class: "mono", spellcheck: "false" }, "{}");
      confBox = { input, ...simpleRow("trigger-conf", "conf", "Configuration JSON", input,
                                      "Optional run conf, a JSON object.") };
    }
    const dateInput = el("input", { id: "trigger-logical-date", type: "datetime-local", step: "1" });
    const dateRow = simpleRow("trigger-logical-date", "logical_date", `Logical date (${tw.tzName()})`,
                              dateInput, "Empty: now.");
    const runIdInput = el("input", { id: "trigger-run-id", type: "text", maxlength: 250, placeholder: "manual__<logical date>" });
    const runIdRow = simpleRow("trigger-run-id", "dag_run_id", "Run id", runIdInput, "Empty: generated.");
    const general = el("div", { class: "field-error", role: "alert" });
    const all = [...fields, ...(confBox ? [confBox] : []), dateRow, runIdRow];
    const clearErrors = () => { all.forEach((f) => { f.error.textContent = ""; f.row.classList.remove("invalid"); });
                                general.textContent = ""; };
    const showError = (fieldName, message) => {
      const target = all.find((f) => f.row.dataset.field === fieldName)
        || (fieldName && fieldName.startsWith("conf") && confBox);
      if (!target) { general.textContent = general.textContent ? `${general.textContent}; ${message}` : message; return; }
      target.error.textContent = target.error.textContent ? `${target.error.textContent}; ${message}` : message;
      target.row.classList.add("invalid");
    };
    const body = el("form", { class: "trigger-form", novalidate: true, onsubmit: (e) => e.preventDefault() },
      details.description ? el("p", { class: "muted" }, details.description) : "",
      fields.length ? el("fieldset", {}, el("legend", {}, "Params"), fields.map((f) => f.row)) : confBox.row,
      el("details", { class: "advanced" }, el("summary", {}, "Logical date and run id"), dateRow.row, runIdRow.row),
      general);

    async function submit() {
      clearErrors();
      const payload = {};
      let ok = true;
      if (confBox) {
        try {
          const conf = confBox.input.value.trim() ? JSON.parse(confBox.input.value) : {};
          if (conf === null || typeof conf !== "object" || Array.isArray(conf)) throw new Error("must be a JSON object");
          payload.conf = conf;
        } catch (e) { showError("conf", `not a JSON object: ${e.message}`); ok = false; }
      } else {
        payload.conf = {};
        for (const f of fields) {
          const got = f.read();
          if (!got.ok) { showError(`conf.${f.name}`, got.message); ok = false; }
          else if (!got.omit) payload.conf[f.name] = got.value;
        }
      }
      const logical = logicalIso(dateInput.value);
      if (logical === undefined) { showError("logical_date", "not a date and time"); ok = false; }
      else if (logical) payload.logical_date = logical;
      if (runIdInput.value.trim()) payload.dag_run_id = runIdInput.value.trim();
      if (!ok) return false;
      try {
        const { data: run } = await tw.api(`dags/${encodeURIComponent(dagId)}/dagRuns`, { method: "POST", body: payload });
        tw.flash(`Triggered ${dagId}: run ${run.dag_run_id}`);
        if (onTriggered) onTriggered(run);
        return true;
      } catch (e) {
        const errors = (e.body && e.body.errors) || [];
        if (errors.length) errors.forEach((err) => showError(err.field, err.msg));
        else if (e.status === 409) showError("dag_run_id", e.message);
        else showError(e.body && e.body.field, e.message);
        return false;
      }
    }
    const dlg = tw.dialog(`Trigger DAG ${details.dag_display_name || dagId}`, body, [{ label: "Trigger", primary: true, onclick: submit }]);
    dlg.node.addEventListener("keydown", (e) => { if (e.key === "Escape" && dlg.node.isConnected) dlg.close(); });
    const first = body.querySelector("input, select, textarea");
    if (first) first.focus();
  }

  window.tw.triggerDag = triggerDag;
})();
