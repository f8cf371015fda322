/* Admin > Connections: tw.listing over /api/v1/connections with create/edit/delete/test dialogs.
 *
 * The connection dialog is built from GET /ui/data/connections/types: the type is picked from the
 * known conn types, and the chosen type's form shows — standard fields hidden or relabelled as its
 * hook declares, placeholders, and the type's own fields, which are kept in the connection's
 * `extra` JSON (the "Extra (JSON)" box below them shows the whole object and stays in step both ways).
 * "Test" tries the values in the dialog (POST /api/v1/connections/test) and shows the answer in it.
 * The API never returns passwords; "***" sent back (an untouched masked field) keeps the stored secret. */
(function () {
  "use strict";
  const el = (...a) => tw.el(...a);
  const enc = encodeURIComponent;
  const MASK = "***";
  const EDITABLE = ["conn_type", "description", "host", "login", "schema", "port", "extra"];
  const STANDARD = [
    ["description", "Description", "textarea"], ["host", "Host", "text"], ["schema", "Schema", "text"],
    ["login", "Login", "text"], ["password", "Password", "password"], ["port", "Port", "number"],
  ];
  const OTHER = "__other__";

  /** A checkbox row on one line (the form CSS stacks labels over full-width inputs); CSSOM, as the CSP refuses style attributes. */
  function inline(node) {
    Object.assign(node.style, { display: "flex", alignItems: "center", gap: "0.5rem", flexWrap: "wrap" });
    node.querySelectorAll("input").forEach((i) => Object.assign(i.style, { width: "auto", margin: "0" }));
    node.querySelectorAll("label").forEach((l) => Object.assign(l.style, { display: "inline", margin: "0" }));
    return node;
  }

  let typesPromise = null;
  /** The conn-type catalogue, by conn_type (fetched once per page). */
  function loadTypes() {
    if (!typesPromise) {
      typesPromise = tw.api("/ui/data/connections/types")
        .then(({ data }) => Object.fromEntries(data.connection_types.map((t) => [t.conn_type, t])))
        .catch((e) => { typesPromise = null; throw e; });
    }
    return typesPromise;
  }

  function parseExtra(text) {
    if (!text || !text.trim()) return {};
    const value = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("must be a JSON object");
    return value;
  }

  /** The connection dialog: create (c = {}) or edit (editing = true). save(body) does the API call. */
  async function connectionDialog(title, c, editing, submitLabel, save) {
    let types;
    try { types = await loadTypes(); }
    catch (e) { tw.flash(`Cannot load the connection types: ${e.message}`, true); types = {}; }
    const rows = {};
    const errorBox = () => el("div", { class: "field-error", role: "alert" });
    const row = (name, label, input, hint) => {
      const error = errorBox();
      const labelNode = el("label", { for: input.id }, label);
      const hintNode = el("div", { class: "hint" }, hint || "");
      hintNode.hidden = !hint;
      const node = el("div", { class: "form-row", dataset: { field: name } }, labelNode, input, hintNode, error);
      rows[name] = { node, input, error, labelNode, hintNode, label };
      return node;
    };

    // Connection id and type.
    const idInput = el("input", { id: "conn-connection_id", name: "connection_id", value: c.connection_id || "",
                                  readonly: editing, autocomplete: "off" });
    const known = Object.keys(types).sort();
    const current = c.conn_type || "";
    const typeSelect = el("select", { id: "conn-conn_type", name: "conn_type" },
      el("option", { value: "" }, "— choose a type —"),
      known.map((t) => el("option", { value: t, selected: t === current },
                          types[t].hook_name && types[t].hook_name !== t ? `${t} — ${types[t].hook_name}` : t)),
      el("option", { value: OTHER, selected: Boolean(current) && !types[current] }, "Other (type it)…"));
    const otherInput = el("input", { id: "conn-conn_type_other", name: "conn_type_other", autocomplete: "off",
                                     placeholder: "conn type, e.g. snowflake", "aria-label": "Other connection type",
                                     value: current && !types[current] ? current : "" });
    const typeInfo = el("div", { class: "hint", id: "conn-type-info" });
    const typeRow = el("div", { class: "form-row", dataset: { field: "conn_type" } },
      el("label", { for: "conn-conn_type" }, "Connection type"), typeSelect, otherInput, typeInfo, errorBox());
    rows.conn_type = { node: typeRow, input: typeSelect, error: typeRow.querySelector(".field-error") };

    // Standard fields.
    const standard = STANDARD.map(([name, label, kind]) => {
      const id = `conn-${name}`;
      let input;
      if (kind === "textarea") input = el("textarea", { id, name, rows: 2 }, c[name] || "");
      else {
        input = el("input", { id, name, type: kind, autocomplete: kind === "password" ? "new-password" : "off",
                              value: name === "password" ? "" : c[name] ?? "" });
      }
      return row(name, label, input);
    });

    // The type's own fields (rebuilt when the type changes) and the whole extra JSON.
    const extraFieldsBox = el("fieldset", { class: "conn-extra-fields", id: "conn-extra-fields" });
    const extraInput = el("textarea", { id: "conn-extra", name: "extra", rows: 4, class: "mono", spellcheck: "false" },
                          c.extra || "");
    const extraRow = row("extra", "Extra (JSON object)", extraInput,
                         "Values shown as *** are secrets: leave them as they are to keep them.");
    let extraFields = [];

    const chosenType = () => (typeSelect.value === OTHER ? otherInput.value.trim() : typeSelect.value);

    function readExtraSafe() { try { return parseExtra(extraInput.value); } catch { return null; } }

    /** Put one extra field's value into the JSON box (an empty field removes its key). */
    function writeExtraKey(field, input) {
      const extra = readExtraSafe();
      if (extra === null) { rows.extra.error.textContent = "Extra is not a JSON object: fix it to use the fields above."; return; }
      rows.extra.error.textContent = "";
      let value;
      if (field.type === "boolean") value = input.checked;
      else if (input.value === "") value = undefined;
      else if (field.type === "integer" || field.type === "number") {
        value = Number(input.value);
        if (!Number.isFinite(value)) value = input.value;
      } else value = input.value;
      if (value === undefined) delete extra[field.name];
      else extra[field.name] = value;
      extraInput.value = Object.keys(extra).length ? JSON.stringify(extra, null, 2) : "";
    }

    /** Fill the type's fields from the JSON box. */
    function readExtraIntoFields() {
      const extra = readExtraSafe();
      if (extra === null) return;
      for (const { field, input } of extraFields) {
        const v = extra[field.name];
        if (field.type === "boolean") input.checked = v === undefined ? Boolean(field.default) : v === true || String(v).toLowerCase() === "true";
        else input.value = v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
      }
    }

    function applyType() {
      const conn_type = chosenType();
      otherInput.hidden = typeSelect.value !== OTHER;
      const spec = types[conn_type] || { hidden_fields: [], relabeling: {}, placeholders: {}, extra_fields: [] };
      typeInfo.textContent = types[conn_type]
        ? `Hook: ${spec.hook_name}${spec.source ? ` (${spec.source})` : ""}${spec.testable ? "" : " — Test is not available for this type"}`
        : conn_type ? "A type no installed hook declares: every field is shown." : "";
      for (const [name, label] of STANDARD) {
        const r = rows[name];
        r.node.hidden = (spec.hidden_fields || []).includes(name);
        r.labelNode.textContent = (spec.relabeling || {})[name] || label;
        let placeholder = (spec.placeholders || {})[name] || "";
        if (name === "password" && editing) placeholder = "(stored: leave empty to keep it)";
        r.input.placeholder = placeholder;
      }
      rows.extra.hintNode.textContent = [spec.extra_hint, "Values shown as *** are secrets: leave them as they are to keep them."]
        .filter(Boolean).join(" ");
      rows.extra.hintNode.hidden = false;
      extraFields = (spec.extra_fields || []).map((field) => {
        const id = `conn-extra-${field.name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
        let input;
        if (field.type === "select") {
          input = el("select", { id, name: `extra.${field.name}` }, el("option", { value: "" }, "—"),
                     (field.options || []).map((o) => el("option", { value: o }, o)));
        } else if (field.type === "boolean") {
          input = el("input", { id, name: `extra.${field.name}`, type: "checkbox" });
        } else {
          input = el("input", { id, name: `extra.${field.name}`, autocomplete: "off",
                                type: field.type === "password" ? "password" : field.type === "integer" || field.type === "number" ? "number" : "text",
                                step: field.type === "number" ? "any" : field.type === "integer" ? "1" : undefined,
                                placeholder: field.placeholder || (spec.placeholders || {})[field.name] || "" });
        }
        input.addEventListener(field.type === "boolean" || field.type === "select" ? "change" : "input",
                               () => writeExtraKey(field, input));
        const node = field.type === "boolean"
          ? inline(el("div", { class: "form-row check-row", dataset: { field: `extra.${field.name}` } }, input,
                      el("label", { for: id }, field.label), field.description ? el("div", { class: "hint" }, field.description) : ""))
          : el("div", { class: "form-row", dataset: { field: `extra.${field.name}` } }, el("label", { for: id }, field.label), input,
               field.description ? el("div", { class: "hint" }, field.description) : "");
        return { field, input, node };
      });
      extraFieldsBox.replaceChildren(...(extraFields.length
        ? [el("legend", {}, `${spec.hook_name || conn_type} settings (kept in extra)`), ...extraFields.map((f) => f.node)] : []));
      extraFieldsBox.hidden = !extraFields.length;
      readExtraIntoFields();
    }
    typeSelect.addEventListener("change", applyType);
    otherInput.addEventListener("input", applyType);
    extraInput.addEventListener("input", () => {
      rows.extra.error.textContent = readExtraSafe() === null ? "Not a JSON object yet." : "";
      readExtraIntoFields();
    });

    const general = el("div", { class: "field-error", role: "alert", id: "conn-error" });
    const testResult = el("div", { id: "conn-test-result", role: "status", "aria-live": "polite" });
    testResult.hidden = true;
    const form = el("form", { class: "connection-form", novalidate: true, onsubmit: (e) => e.preventDefault() },
      row("connection_id", "Connection id", idInput), typeRow, standard, extraFieldsBox, extraRow, general, testResult);
    // Long forms scroll inside the dialog; the buttons below stay in view (a 900 px tall screen shows it all).
    form.style.maxHeight = "calc(90vh - 9rem)";
    form.style.overflowY = "auto";
    applyType();

    function clearErrors() {
      Object.values(rows).forEach((r) => { r.error.textContent = ""; r.node.classList.remove("invalid"); });
      general.textContent = "";
    }
    function showError(field, message) {
      const target = field && rows[String(field).split(".")[0]];
      const box = target ? target.error : general;
      box.textContent = box.textContent ? `${box.textContent}; ${message}` : message;
      if (target) target.node.classList.add("invalid");
    }
    /** The API body from the form, or null after marking what is wrong. */
    function read() {
      clearErrors();
      const out = { connection_id: idInput.value.trim() };
      let ok = true;
      if (!out.connection_id) { showError("connection_id", "required"); ok = false; }
      out.conn_type = chosenType() || null;
      if (!out.conn_type) { showError("conn_type", "choose a type"); ok = false; }
      for (const [name] of STANDARD) {
        if (name === "password") continue;
        const v = rows[name].input.value;
        out[name] = v === "" ? null : name === "port" ? Number(v) : v;
      }
      if (out.port !== null && !Number.isInteger(out.port)) { showError("port", "a whole number"); ok = false; }
      try {
        const extra = parseExtra(extraInput.value);
        out.extra = Object.keys(extra).length ? JSON.stringify(extra) : null;
      } catch (e) { showError("extra", `not a JSON object: ${e.message}`); ok = false; }
      const password = rows.password.input.value;
      if (password !== "") out.password = password;
      else if (editing) out.password = MASK;
      return ok ? out : null;
    }
    function apiError(e) {
      const errors = (e.body && e.body.errors) || [];
      if (errors.length) errors.forEach((err) => showError(err.field, err.msg));
      else showError(e.body && e.body.field, e.message);
    }

    async function test() {
      const body = read();
      if (!body) return false;
      testResult.hidden = false;
      testResult.className = "conn-test-result muted";
      testResult.textContent = "Testing…";
      try {
        const { data } = await tw.api("connections/test", { method: "POST", body });
        testResult.className = `conn-test-result ${data.status ? "test-ok" : "field-error"}`;
        testResult.style.color = data.status ? "var(--ok)" : "";
        testResult.textContent = data.status ? `Test succeeded: ${data.message}` : `Test failed: ${data.message}`;
      } catch (e) {
        testResult.className = "conn-test-result field-error";
        testResult.style.color = "";
        testResult.textContent = `Test failed: ${e.message}`;
      }
      return false;  // the dialog stays open
    }

    const dlg = tw.dialog(title, form, [
      { label: "Test", onclick: test },
      { label: submitLabel, primary: true, onclick: async () => {
        const body = read();
        if (!body) return false;
        try { await save(body); return true; } catch (e) { apiError(e); return false; }
      } },
    ]);
    dlg.node.addEventListener("keydown", (e) => { if (e.key === "Escape" && dlg.node.isConnected) dlg.close(); });
    (editing ? typeSelect : idInput).focus();
    return dlg;
  }

  async function testConnection(c) {
    try {
      const body = { connection_id: c.connection_id, password: MASK };
      for (const name of EDITABLE) body[name] = c[name] ?? null;
      const { data } = await tw.api("connections/test", { method: "POST", body });
      tw.flash(data.status ? `Connection ${c.connection_id}: ${data.message}` : `Connection ${c.connection_id} failed: ${data.message}`,
        !data.status);
    } catch (e) { tw.flash(`Connection ${c.connection_id}: ${e.message}`, true); }
  }

  function view(root, pd) {
    const { confirmAction } = tw.lists;
    let table;
    const edit = (c) => connectionDialog(`Edit connection ${c.connection_id}`, c, true, "Save", async (b) => {
      const { connection_id: id, ...rest } = b;
      await tw.api(`connections/${enc(id)}`, { method: "PATCH", params: { update_mask: [...EDITABLE, "password"] }, body: rest });
      tw.flash(`Connection ${c.connection_id} saved`); table.refresh();
    });
    table = tw.listing(root, {
      columns: [
        { label: "Conn id", cell: (c) => el("code", {}, c.connection_id) },
        { label: "Type", cell: (c) => c.conn_type },
        { label: "Host", cell: (c) => c.host || "" },
        { label: "Port", cell: (c) => (c.port == null ? "" : String(c.port)) },
        { label: "Schema", cell: (c) => c.schema || "" },
        { label: "Login", cell: (c) => c.login || "" },
        { label: "Extra", cell: (c) => (c.extra ? el("code", { class: "small" }, c.extra) : "") },
        { label: "Description", cell: (c) => c.description || "" },
        { label: "", class: "actions", cell: (c) => [
          pd.testable.includes(c.conn_type) && pd.can.create && el("button", { type: "button", onclick: () => testConnection(c) }, "Test"),
          pd.can.edit && el("button", { type: "button", onclick: () => edit(c) }, "Edit"),
          pd.can.delete && el("button", { type: "button", class: "danger", onclick: () => confirmAction("Delete connection",
            `Delete connection ${c.connection_id}? Tasks using it will fail until it exists again.`, "Delete", async () => {
              await tw.api(`connections/${enc(c.connection_id)}`, { method: "DELETE" });
              tw.flash(`Connection ${c.connection_id} deleted`); table.refresh();
            }) }, "Delete"),
        ].filter(Boolean) },
      ],
      load: async (f, page) => {
        const { data } = await tw.api("connections", { params: page });
        return { rows: data.connections, total: data.total_entries };
      },
      empty: "No connections.",
    });
    if (pd.can.create) {
      document.getElementById("page-actions").replaceChildren(el("button", { type: "button", class: "primary", onclick: () =>
        connectionDialog("New connection", {}, false, "Create", async (b) => {
          await tw.api("connections", { method: "POST", body: b });
          tw.flash(`Connection ${b.connection_id} created`); table.refresh();
        }) }, "+ Connection"));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const pd = tw.pageData() || {};
    if (pd.view === "connections") view(document.getElementById("listing"), pd);
  });
})();
