/* Admin > Connections: tw.listing over /api/v1/connections with create/edit/delete/test dialogs.
 * The API never returns passwords; "***" sent back (an untouched masked field) keeps the stored secret. */
(function () {
  "use strict";
  const el = (...a) => tw.el(...a);
  const enc = encodeURIComponent;
  const MASK = "***";
  const EDITABLE = ["conn_type", "description", "host", "login", "schema", "port", "extra"];

  function fields(c, editing) {
    return [
      { name: "connection_id", label: "Connection id", value: c.connection_id || "", readonly: editing },
      { name: "conn_type", label: "Connection type", value: c.conn_type || "", placeholder: "postgres, mysql, aws, http, smtp, ..." },
      { name: "description", label: "Description", type: "textarea", value: c.description || "" },
      { name: "host", label: "Host", value: c.host || "" },
      { name: "schema", label: "Schema", value: c.schema || "" },
      { name: "login", label: "Login", value: c.login || "" },
      { name: "password", label: "Password", type: "password", value: "",
        placeholder: editing ? "(stored: leave empty to keep it)" : "" },
      { name: "port", label: "Port", type: "number", value: c.port ?? "" },
      { name: "extra", label: "Extra (JSON object)", type: "textarea", value: c.extra || "",
        hint: "Values shown as *** are secrets: leave them as they are to keep them." },
    ];
  }

  function body(f, editing) {
    const out = {};
    for (const name of EDITABLE) {
      const v = f[name];
      out[name] = v === "" || v === undefined ? null : v;
    }
    if (f.password !== "") out.password = f.password;
    else if (editing) out.password = MASK;
    return out;
  }

  async function testConnection(f, editing) {
    const { data } = await tw.api("connections/test", { method: "POST", body: { connection_id: f.connection_id, ...body(f, editing) } });
    tw.flash(data.status ? `Connection ${f.connection_id}: ${data.message}` : `Connection ${f.connection_id} failed: ${data.message}`,
      !data.status);
  }

  function view(root, pd) {
    const { formDialog, confirmAction } = tw.lists;
    let table;
    const edit = (c) => formDialog(`Edit connection ${c.connection_id}`, fields(c, true), "Save", async (f) => {
      const b = body(f, true);
      await tw.api(`connections/${enc(c.connection_id)}`, { method: "PATCH", params: { update_mask: [...EDITABLE, "password"] }, body: b });
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
          pd.testable.includes(c.conn_type) && pd.can.create && el("button", { type: "button", onclick: () =>
            testConnection({ ...c, password: "" }, true) }, "Test"),
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
        formDialog("New connection", fields({}, false), "Create", async (f) => {
          await tw.api("connections", { method: "POST", body: { connection_id: f.connection_id, ...body(f, false) } });
          tw.flash(`Connection ${f.connection_id} created`); table.refresh();
        }) }, "+ Connection"));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const pd = tw.pageData() || {};
    if (pd.view === "connections") view(document.getElementById("listing"), pd);
  });
})();
