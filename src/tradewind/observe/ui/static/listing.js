/* A filtered, paginated table over one REST list endpoint — the Browse and Admin pages are configurations of it.
 *
 *   const list = tw.listing(rootNode, {
 *     filters: [{ name, label, type: "text"|"select"|"datetime", options: [[value, label], ...] }],
 *     columns: [{ label, cell(row) -> Node|string|array }],
 *     load: async (filterValues, { limit, offset }) => ({ rows, total }),
 *     empty: "Nothing yet.", pollMs: 0,
 *   });
 *   list.refresh(); list.setFilter("name", "value");
 * (syncUrl: false for a second list on the same page.)
 *
 * Filter values and the page live in the URL (shareable, back/forward safe). A datetime filter is read in the
 * zone chosen in the header (UTC, the browser's or any IANA zone) and handed to load() as ISO UTC. Errors of load() show in the table. */
(function () {
  "use strict";
  const el = (...a) => tw.el(...a);

  /** "2024-03-01T10:00" typed in the zone chosen in the header -> ISO UTC ("" when empty, null when unreadable). */
  const zonedIso = (value) => tw.zonedToIso(value);

  function listing(root, { filters = [], columns, load, empty = "Nothing to show.", pollMs = 0, limit = 50,
                           syncUrl = true }) {
    const q = new URLSearchParams(syncUrl ? location.search : "");
    const values = Object.fromEntries(filters.map((f) => [f.name, q.get(f.name) || ""]));
    let offset = Math.max(0, parseInt(q.get("offset") || "0", 10) || 0);
    let lastText = "";

    const byName = {};
    const inputs = filters.map((f) => {
      let input;
      if (f.type === "select") {
        input = el("select", { name: f.name }, el("option", { value: "" }, f.any || "Any"),
                   f.options.map(([v, label]) => el("option", { value: v, selected: v === values[f.name] }, label)));
      } else {
        input = el("input", { name: f.name, type: f.type === "datetime" ? "datetime-local" : "search", step: "1",
                              value: values[f.name], placeholder: f.placeholder || "" });
      }
      byName[f.name] = input;
      let typing = null;
      input.addEventListener(f.type === "select" || f.type === "datetime" ? "change" : "input", () => {
        clearTimeout(typing);
        typing = setTimeout(() => { values[f.name] = input.value.trim(); offset = 0; changed(); }, 250);
      });
      return el("label", {}, f.label, input);
    });
    const filterBar = el("div", { class: "filters" }, inputs);
    const tbody = el("tbody", {}, el("tr", {}, el("td", { colspan: columns.length, class: "muted" }, "Loading…")));
    const table = el("table", { class: "data" }, el("thead", {}, el("tr", {}, columns.map((c) => el("th", { class: c.class || "" }, c.label)))), tbody);
    const pager = el("div", { class: "pager" });
    root.replaceChildren(...(filters.length ? [filterBar] : []), el("div", { class: "table-scroll" }, table), pager);

    function writeUrl() {
      if (!syncUrl) return;
      const out = new URLSearchParams();
      for (const [k, v] of Object.entries(values)) if (v) out.set(k, v);
      if (offset) out.set("offset", String(offset));
      const qs = out.toString();
      history.replaceState(null, "", qs ? `?${qs}` : location.pathname);
    }

    function message(text, isError) {
      tbody.replaceChildren(el("tr", {}, el("td", { colspan: columns.length, class: isError ? "field-error" : "muted" }, text)));
      pager.replaceChildren();
    }

    async function refresh(force = true) {
      const args = {};
      for (const f of filters) {
        const v = values[f.name];
        if (f.type === "datetime") {
          const iso = zonedIso(v);
          if (iso === null) { message(`${f.label}: not a date and time`, true); return; }
          args[f.name] = iso;
        } else args[f.name] = v;
      }
      let result;
      try { result = await load(args, { limit, offset }); }
      catch (e) { lastText = ""; message(e.message, true); return; }
      const text = JSON.stringify(result);
      if (!force && text === lastText) return;
      lastText = text;
      const { rows, total } = result;
      if (!rows.length && total && offset) { offset = Math.max(0, Math.floor((total - 1) / limit) * limit); writeUrl(); return refresh(true); }
      if (!rows.length) { message(empty, false); return; }
      tbody.replaceChildren(...rows.map((r) => el("tr", {}, columns.map((c) => el("td", { class: c.class || "" }, c.cell(r))))));
      pager.replaceChildren(
        el("button", { type: "button", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - limit); changed(); } }, "‹ Previous"),
        el("span", { class: "muted" }, `${offset + 1}–${Math.min(total, offset + limit)} of ${total}`),
        el("button", { type: "button", disabled: offset + limit >= total, onclick: () => { offset += limit; changed(); } }, "Next ›"));
    }

    function changed() { writeUrl(); refresh(true); }

    tw.onTimezoneChange(() => refresh(true));
    if (pollMs) tw.poll(() => refresh(false), pollMs);
    else refresh(true);
    /** Set one filter (and its input) from elsewhere on the page, then reload. */
    function setFilter(name, value) {
      values[name] = value;
      if (byName[name]) byName[name].value = value;
      offset = 0;
      changed();
    }
    return { refresh: () => refresh(true), setFilter };
  }

  /** Links and cells the lists share. */
  const enc = encodeURIComponent;
  const links = {
    dag: (dagId) => el("a", { href: `/dags/${enc(dagId)}/grid` }, dagId),
    run: (dagId, runId) => el("a", { href: `/dags/${enc(dagId)}/grid?run_id=${enc(runId)}` }, runId),
    ti: (dagId, runId, taskId, mapIndex) => el("a", {
      href: `/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(taskId)}?map_index=${mapIndex ?? -1}` },
      taskId, mapIndex !== undefined && mapIndex !== null && mapIndex >= 0 ? ` [${mapIndex}]` : ""),
  };
  const time = (iso) => (iso ? tw.timeEl(iso) : el("span", { class: "muted" }, "—"));
  const duration = (start, end) => (start ? tw.fmtDuration(((end ? new Date(end) : new Date()) - new Date(start)) / 1000) : "");
  const json = (value) => (value === null || value === undefined || (typeof value === "object" && !Object.keys(value).length)
    ? "" : el("code", { class: "small" }, JSON.stringify(value)));

  /** A form in a dialog: fields [{name, label, type, value, options, readonly, hint}], submit(values) -> true to close.
   *  An ApiError shows next to the field the server named (or at the bottom). */
  function formDialog(title, fields, submitLabel, submit) {
    const rows = {};
    const general = el("div", { class: "field-error", role: "alert" });
    const form = el("form", { novalidate: true, onsubmit: (e) => e.preventDefault() }, fields.map((f) => {
      const id = `f-${f.name}`;
      let input;
      if (f.type === "select") {
        input = el("select", { id, name: f.name }, f.options.map(([v, label]) => el("option", { value: v, selected: v === f.value }, label)));
      } else if (f.type === "textarea") {
        input = el("textarea", { id, name: f.name, rows: 4, class: "mono", placeholder: f.placeholder || "" }, f.value ?? "");
      } else if (f.type === "checkbox") {
        input = el("input", { id, name: f.name, type: "checkbox", checked: Boolean(f.value) });
      } else {
        input = el("input", { id, name: f.name, type: f.type || "text", value: f.value ?? "", readonly: f.readonly,
                              placeholder: f.placeholder || "", autocomplete: f.type === "password" ? "new-password" : "off" });
      }
      const error = el("div", { class: "field-error", role: "alert" });
      const row = el("div", { class: "form-row" }, el("label", { for: id }, f.label), input,
                     f.hint ? el("div", { class: "hint" }, f.hint) : "", error);
      rows[f.name] = { input, error, row, field: f };
      return row;
    }), general);
    const read = () => Object.fromEntries(Object.entries(rows).map(([name, r]) => [name,
      r.field.type === "checkbox" ? r.input.checked : r.field.type === "number" ? (r.input.value === "" ? null : Number(r.input.value)) : r.input.value]));
    const dlg = tw.dialog(title, form, [{ label: submitLabel, primary: true, onclick: async () => {
      Object.values(rows).forEach((r) => { r.error.textContent = ""; r.row.classList.remove("invalid"); });
      general.textContent = "";
      try { return (await submit(read())) !== false; }
      catch (e) {
        const field = e.body && e.body.field;
        const target = field && rows[field.split(".")[0]];
        if (target) { target.error.textContent = e.message; target.row.classList.add("invalid"); }
        else general.textContent = e.message;
        return false;
      }
    } }]);
    const first = form.querySelector("input:not([readonly]), select, textarea");
    if (first) first.focus();
    return dlg;
  }

  /** Ask before a destructive action; run it and report. */
  function confirmAction(title, text, label, action) {
    const general = el("div", { class: "field-error", role: "alert" });
    tw.dialog(title, el("div", {}, el("p", {}, text), general), [{ label, danger: true, onclick: async () => {
      try { await action(); return true; } catch (e) { general.textContent = e.message; return false; }
    } }]);
  }

  window.tw.listing = listing;
  window.tw.lists = { links, time, duration, json, formDialog, confirmAction };
})();
