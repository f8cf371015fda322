/* The Browse pages (runs, task instances, audit log, import errors, assets): tw.listing over REST list endpoints. */
(function () {
  "use strict";
  const el = (...a) => tw.el(...a);
  const enc = encodeURIComponent;

  async function list(path, params, key) {
    const { data } = await tw.api(path, { params });
    return { rows: data[key], total: data.total_entries };
  }
  const options = (names) => names.map((n) => [n, n]);

  /** JSON on one line with a space after ":" and ",": {"conf": {}, "n": 1}. */
  function oneLine(value) {
    if (Array.isArray(value)) return `[${value.map(oneLine).join(", ")}]`;
    if (value !== null && typeof value === "object") {
      return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${oneLine(v)}`).join(", ")}}`;
    }
    return JSON.stringify(value);
  }

  /** An audit-log entry's extra: the API sends the stored JSON text, shown as JSON (not as a quoted string);
   *  text that is not JSON shows as it is, long objects indented. */
  function extraCell(extra) {
    if (extra === null || extra === undefined || extra === "") return "";
    let value = extra;
    if (typeof extra === "string") {
      try { value = JSON.parse(extra); } catch { return el("code", { class: "small audit-extra" }, extra); }
    }
    if (value !== null && typeof value === "object" && !Object.keys(value).length) return "";
    if (typeof value === "string") return el("code", { class: "small audit-extra" }, value);
    const text = oneLine(value);
    if (text.length <= 120) return el("code", { class: "small audit-extra" }, text);
    return el("details", { class: "audit-extra" }, el("summary", {}, el("code", { class: "small" }, `${text.slice(0, 100)}…`)),
              el("pre", { class: "small" }, JSON.stringify(value, null, 2)));
  }

  const VIEWS = {
    runs(root, pd) {
      const { links, time, duration } = tw.lists;
      tw.listing(root, {
        filters: [
          { name: "dag_id", label: "DAG id" },
          { name: "state", label: "State", type: "select", options: options(pd.run_states) },
          { name: "run_type", label: "Run type", type: "select", options: options(pd.run_types) },
          { name: "logical_date_gte", label: "Logical date from", type: "datetime" },
          { name: "logical_date_lte", label: "Logical date to", type: "datetime" },
        ],
        columns: [
          { label: "DAG", cell: (r) => links.dag(r.dag_id) },
          { label: "Run", cell: (r) => links.run(r.dag_id, r.dag_run_id) },
          { label: "State", cell: (r) => tw.stateBadge(r.state, { text: true }) },
          { label: "Type", class: "wide-only", cell: (r) => r.run_type },
          { label: "Logical date", cell: (r) => time(r.logical_date) },
          { label: "Started", cell: (r) => time(r.start_date) },
          { label: "Ended", cell: (r) => time(r.end_date) },
          { label: "Duration", cell: (r) => duration(r.start_date, r.end_date) },
        ],
        load: (f, page) => list(`dags/${enc(f.dag_id || "~")}/dagRuns`, {
          ...page, order_by: "-id", state: f.state, run_type: f.run_type,
          logical_date_gte: f.logical_date_gte, logical_date_lte: f.logical_date_lte }, "dag_runs"),
        empty: "No runs match.", pollMs: 3000,
      });
    },

    task_instances(root, pd) {
      const { links, time } = tw.lists;
      tw.listing(root, {
        filters: [
          { name: "dag_id", label: "DAG id" },
          { name: "dag_run_id", label: "Run id" },
          { name: "task_id", label: "Task id" },
          { name: "state", label: "State", type: "select", options: options(pd.ti_states) },
        ],
        columns: [
          { label: "DAG", cell: (r) => links.dag(r.dag_id) },
          { label: "Run", cell: (r) => links.run(r.dag_id, r.dag_run_id) },
          { label: "Task", cell: (r) => links.ti(r.dag_id, r.dag_run_id, r.task_id, r.map_index) },
          { label: "State", cell: (r) => tw.stateBadge(r.state || "none", { text: true }) },
          { label: "Try", cell: (r) => String(r.try_number) },
          { label: "Operator", class: "wide-only", cell: (r) => r.operator || "" },
          { label: "Started", cell: (r) => time(r.start_date) },
          { label: "Ended", cell: (r) => time(r.end_date) },
          { label: "Duration", cell: (r) => (r.duration === null ? "" : tw.fmtDuration(r.duration)) },
          { label: "Pool", class: "wide-only", cell: (r) => r.pool },
        ],
        load: (f, page) => list(`dags/${enc(f.dag_id || "~")}/dagRuns/${enc(f.dag_run_id || "~")}/taskInstances`, {
          ...page, order_by: "-id", task_id: f.task_id, state: f.state }, "task_instances"),
        empty: "No task instances match.", pollMs: 3000,
      });
    },

    audit_log(root) {
      const { links, time } = tw.lists;
      tw.listing(root, {
        filters: [
          { name: "dag_id", label: "DAG id" },
          { name: "event", label: "Event" },
          { name: "owner", label: "User" },
          { name: "after", label: "From", type: "datetime" },
          { name: "before", label: "To", type: "datetime" },
        ],
        columns: [
          { label: "When", cell: (r) => time(r.when) },
          { label: "Event", cell: (r) => el("code", {}, r.event) },
          { label: "User", cell: (r) => r.owner || "" },
          { label: "DAG", cell: (r) => (r.dag_id ? links.dag(r.dag_id) : "") },
          { label: "Run", cell: (r) => (r.dag_id && r.run_id ? links.run(r.dag_id, r.run_id) : r.run_id || "") },
          { label: "Task", cell: (r) => (r.dag_id && r.run_id && r.task_id
            ? links.ti(r.dag_id, r.run_id, r.task_id, r.map_index) : r.task_id || "") },
          { label: "Details", cell: (r) => extraCell(r.extra) },
        ],
        load: (f, page) => list("eventLogs", { ...page, order_by: "-event_log_id", dag_id: f.dag_id, event: f.event,
                                                owner: f.owner, after: f.after, before: f.before }, "event_logs"),
        empty: "No audit-log entries match.",
      });
    },

    import_errors(root) {
      const { time } = tw.lists;
      tw.listing(root, {
        columns: [
          { label: "File", cell: (r) => el("code", {}, r.filename) },
          { label: "Line", cell: (r) => (r.lineno === null || r.lineno === undefined ? "" : String(r.lineno)) },
          { label: "Seen", cell: (r) => time(r.timestamp) },
          { label: "Error", cell: (r) => [el("div", {}, r.message),
            r.stack_trace && r.stack_trace !== r.message
              ? el("details", { class: "trace" }, el("summary", {}, "Stack trace"), el("pre", { class: "log" }, r.stack_trace))
              : ""] },
        ],
        load: (f, page) => list("importErrors", { ...page, order_by: "filename" }, "import_errors"),
        empty: "Every DAG file imports cleanly.", pollMs: 5000,
      });
    },

    assets(root) {
      const { links, time, json } = tw.lists;
      let events = null;
      tw.listing(root, {
        filters: [{ name: "name_pattern", label: "Name contains" }, { name: "uri_pattern", label: "URI contains" }],
        columns: [
          { label: "Name", cell: (r) => el("button", { type: "button", class: "link-like", title: "Show this asset's events",
            onclick: () => events.setFilter("asset_id", String(r.id)) }, r.name) },
          { label: "URI", cell: (r) => el("code", {}, r.uri) },
          { label: "Group", cell: (r) => r.group || "" },
          { label: "Produced by", cell: (r) => r.producing_tasks.map((p) => el("div", {}, links.dag(p.dag_id), ".", p.task_id)) },
          { label: "Schedules", cell: (r) => r.consuming_dags.map((c) => el("div", {}, links.dag(c.dag_id))) },
          { label: "Updated", cell: (r) => time(r.updated_at) },
        ],
        load: (f, page) => list("assets", { ...page, order_by: "name", name_pattern: f.name_pattern,
                                            uri_pattern: f.uri_pattern }, "assets"),
        empty: "No assets yet: DAGs declare them with outlets= and schedule=[Asset(...)].",
      });
      events = tw.listing(document.getElementById("listing-2"), {
        filters: [{ name: "asset_id", label: "Asset id", placeholder: "all" }],
        columns: [
          { label: "When", cell: (r) => time(r.timestamp) },
          { label: "Asset", cell: (r) => [r.name, " ", el("code", { class: "small" }, r.uri)] },
          { label: "Source", cell: (r) => (r.source_dag_id && r.source_run_id && r.source_task_id
            ? [links.run(r.source_dag_id, r.source_run_id), " · ",
               links.ti(r.source_dag_id, r.source_run_id, r.source_task_id, r.source_map_index)]
            : el("span", { class: "muted" }, "manual")) },
          { label: "Through alias", cell: (r) => (r.source_aliases || []).map((a) => el("div", {}, a.name)) },
          { label: "Extra", cell: (r) => json(r.extra) },
        ],
        load: (f, page) => {
          if (f.asset_id && !/^\d+$/.test(f.asset_id)) return Promise.reject(new Error("Asset id must be a number"));
          return list("assets/events", { ...page, order_by: "-timestamp", asset_id: f.asset_id }, "asset_events");
        },
        empty: "No asset events match.", limit: 25, syncUrl: false,
      });
    },
  };

  document.addEventListener("DOMContentLoaded", () => {
    const pd = tw.pageData() || {};
    const view = VIEWS[pd.view];
    if (view) view(document.getElementById("listing"), pd);
  });
})();
