/* The Admin pages (variables, pools, users): tw.listing over the REST API, with create/edit/delete dialogs.
 * Buttons a role may not use are not drawn (page_data.can); the API refuses them anyway. */
(function () {
  "use strict";
  const el = (...a) => tw.el(...a);
  const enc = encodeURIComponent;
  const MASK = "***";

  async function list(path, params, key) {
    const { data } = await tw.api(path, { params });
    return { rows: data[key], total: data.total_entries };
  }

  function actionsCell(buttons) {
    return buttons.filter(Boolean).map(([label, onclick, danger]) =>
      el("button", { type: "button", class: danger ? "danger" : "", onclick }, label));
  }

  function addButton(label, onclick) {
    document.getElementById("page-actions").replaceChildren(el("button", { type: "button", class: "primary", onclick }, label));
  }

  const VIEWS = {
    variables(root, pd) {
      const { formDialog, confirmAction } = tw.lists;
      let table;
      const edit = (v) => formDialog(`Edit variable ${v.key}`, [
        { name: "key", label: "Key", value: v.key, readonly: true },
        { name: "value", label: "Value", type: "textarea", value: v.value === MASK ? "" : v.value,
          placeholder: v.value === MASK ? "(secret: leave empty to keep it)" : "",
          hint: v.value === MASK ? "The stored value is masked; type a new one to replace it." : "" },
        { name: "description", label: "Description", type: "textarea", value: v.description || "" },
      ], "Save", async (f) => {
        const keepSecret = v.value === MASK && f.value === "";
        const body = { description: f.description || null };
        const mask = ["description"];
        if (!keepSecret) { body.value = f.value; mask.push("value"); }
        await tw.api(`variables/${enc(v.key)}`, { method: "PATCH", params: { update_mask: mask }, body });
        tw.flash(`Variable ${v.key} saved`);
        table.refresh();
      });
      table = tw.listing(root, {
        filters: [{ name: "variable_key_pattern", label: "Key contains" }],
        columns: [
          { label: "Key", cell: (v) => el("code", {}, v.key) },
          { label: "Value", cell: (v) => (v.value === MASK ? el("span", { class: "masked", title: "secret-looking key: masked" }, MASK)
            : el("code", { class: "small" }, v.value)) },
          { label: "Description", cell: (v) => v.description || "" },
          { label: "", class: "actions", cell: (v) => actionsCell([
            pd.can.edit && ["Edit", () => edit(v)],
            pd.can.delete && ["Delete", () => confirmAction("Delete variable", `Delete variable ${v.key}?`, "Delete", async () => {
              await tw.api(`variables/${enc(v.key)}`, { method: "DELETE" });
              tw.flash(`Variable ${v.key} deleted`); table.refresh();
            }), true],
          ]) },
        ],
        load: (f, page) => list("variables", { ...page, variable_key_pattern: f.variable_key_pattern }, "variables"),
        empty: "No variables.",
      });
      if (pd.can.create) addButton("+ Variable", () => formDialog("New variable", [
        { name: "key", label: "Key" },
        { name: "value", label: "Value", type: "textarea" },
        { name: "description", label: "Description", type: "textarea" },
      ], "Create", async (f) => {
        await tw.api("variables", { method: "POST", body: { key: f.key, value: f.value, description: f.description || null } });
        tw.flash(`Variable ${f.key} created`); table.refresh();
      }));
    },

    pools(root, pd) {
      const { formDialog, confirmAction } = tw.lists;
      let table;
      // Widths through CSSOM: the Content-Security-Policy refuses inline style attributes.
      const bar = (cls, n, slots) => {
        const node = el("span", { class: cls });
        node.style.width = `${slots > 0 ? Math.min(100, (100 * n) / slots) : 0}%`;
        return node;
      };
      const meter = (p) => el("span", { class: "meter", title: `${p.running_slots} running, ${p.queued_slots} queued of ${p.slots}` },
        bar("running", p.running_slots, p.slots), bar("queued", p.queued_slots, p.slots));
      const edit = (p) => formDialog(`Edit pool ${p.name}`, [
        { name: "name", label: "Name", value: p.name, readonly: true },
        { name: "slots", label: "Slots", type: "number", value: p.slots },
        { name: "description", label: "Description", type: "textarea", value: p.description || "" },
      ], "Save", async (f) => {
        await tw.api(`pools/${enc(p.name)}`, { method: "PATCH", params: { update_mask: ["slots", "description"] },
                                               body: { slots: f.slots, description: f.description || null } });
        tw.flash(`Pool ${p.name} saved`); table.refresh();
      });
      table = tw.listing(root, {
        columns: [
          { label: "Pool", cell: (p) => el("code", {}, p.name) },
          { label: "Slots", cell: (p) => String(p.slots) },
          { label: "Usage", cell: (p) => meter(p) },
          { label: "Running", cell: (p) => String(p.running_slots) },
          { label: "Queued", cell: (p) => String(p.queued_slots) },
          { label: "Scheduled", cell: (p) => String(p.scheduled_slots) },
          { label: "Deferred", cell: (p) => String(p.deferred_slots) },
          { label: "Open", cell: (p) => String(p.open_slots) },
          { label: "Description", cell: (p) => p.description || "" },
          { label: "", class: "actions", cell: (p) => actionsCell([
            pd.can.edit && ["Edit", () => edit(p)],
            pd.can.delete && p.name !== "default_pool" && ["Delete", () => confirmAction("Delete pool",
              `Delete pool ${p.name}? Tasks assigned to it will wait until it exists again.`, "Delete", async () => {
                await tw.api(`pools/${enc(p.name)}`, { method: "DELETE" });
                tw.flash(`Pool ${p.name} deleted`); table.refresh();
              }), true],
          ]) },
        ],
        load: (f, page) => list("pools", { ...page, order_by: "name" }, "pools"),
        empty: "No pools.", pollMs: 3000,
      });
      if (pd.can.create) addButton("+ Pool", () => formDialog("New pool", [
        { name: "name", label: "Name" },
        { name: "slots", label: "Slots", type: "number", value: 8 },
        { name: "description", label: "Description", type: "textarea" },
      ], "Create", async (f) => {
        await tw.api("pools", { method: "POST", body: { name: f.name, slots: f.slots, description: f.description || null } });
        tw.flash(`Pool ${f.name} created`); table.refresh();
      }));
    },

    users(root, pd) {
      const { formDialog, confirmAction, time } = tw.lists;
      const roleOptions = pd.roles.map((r) => [r, r]);
      let table;
      const edit = (u) => formDialog(`Edit user ${u.username}`, [
        { name: "role", label: "Role", type: "select", options: roleOptions, value: u.role },
        { name: "active", label: "Active (may sign in)", type: "checkbox", value: u.active },
        { name: "first_name", label: "First name", value: u.first_name },
        { name: "last_name", label: "Last name", value: u.last_name },
        { name: "email", label: "Email", type: "email", value: u.email },
      ], "Save", async (f) => {
        await tw.api(`users/${enc(u.username)}`, { method: "PATCH", body: f });
        tw.flash(`User ${u.username} saved`); table.refresh();
      });
      const resetPassword = (u) => formDialog(`Reset password of ${u.username}`, [
        { name: "password", label: "New password", type: "password", hint: "Signs the user out everywhere." },
      ], "Set password", async (f) => {
        await tw.api(`users/${enc(u.username)}`, { method: "PATCH", params: { update_mask: "password" },
                                                   body: { password: f.password } });
        tw.flash(`Password of ${u.username} changed`);
      });
      table = tw.listing(root, {
        columns: [
          { label: "Username", cell: (u) => [el("code", {}, u.username), u.username === pd.me ? el("span", { class: "muted" }, " (you)") : ""] },
          { label: "Name", cell: (u) => `${u.first_name} ${u.last_name}`.trim() },
          { label: "Email", cell: (u) => u.email },
          { label: "Role", cell: (u) => el("span", { class: "pill" }, u.role) },
          { label: "Active", cell: (u) => (u.active ? "yes" : el("span", { class: "field-error" }, "no")) },
          { label: "Last sign-in", cell: (u) => time(u.last_login) },
          { label: "Sign-ins", cell: (u) => String(u.login_count) },
          { label: "", class: "actions", cell: (u) => actionsCell([
            pd.can.edit && ["Edit", () => edit(u)],
            pd.can.edit && ["Password", () => resetPassword(u)],
            pd.can.delete && u.username !== pd.me && ["Delete", () => confirmAction("Delete user",
              `Delete user ${u.username}? Their sessions and tokens stop working.`, "Delete", async () => {
                await tw.api(`users/${enc(u.username)}`, { method: "DELETE" });
                tw.flash(`User ${u.username} deleted`); table.refresh();
              }), true],
          ]) },
        ],
        load: (f, page) => list("users", { ...page, order_by: "username" }, "users"),
        empty: "No users.",
      });
      if (pd.can.create) addButton("+ User", () => formDialog("New user", [
        { name: "username", label: "Username" },
        { name: "password", label: "Password", type: "password" },
        { name: "role", label: "Role", type: "select", options: roleOptions, value: "viewer" },
        { name: "first_name", label: "First name" },
        { name: "last_name", label: "Last name" },
        { name: "email", label: "Email", type: "email" },
      ], "Create", async (f) => {
        await tw.api("users", { method: "POST", body: { ...f, email: f.email || null } });
        tw.flash(`User ${f.username} created`); table.refresh();
      }));
    },
  };

  document.addEventListener("DOMContentLoaded", () => {
    const pd = tw.pageData() || {};
    const view = VIEWS[pd.view];
    if (view) view(document.getElementById("listing"), pd);
  });
})();
