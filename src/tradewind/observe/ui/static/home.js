/* The home page: one request to /ui/data/home (health, failures of the last 24 h, run-state counts,
 * what runs now, pools, import errors), refreshed every 5 s while the page is visible.
 * A failed refresh shows its reason above the panels and keeps the last good data on screen. */
(function () {
  "use strict";
  const el = (...a) => tw.el(...a);
  const POLL_MS = 5000;
  const RUN_STATES = ["queued", "running", "success", "failed"];
  let perms = {};
  let last = null;

  const enc = encodeURIComponent;
  const dagUrl = (dagId) => `/dags/${enc(dagId)}/grid`;
  const runUrl = (dagId, runId) => `${dagUrl(dagId)}?run_id=${enc(runId)}`;
  const tiUrl = (ti) => `/dags/${enc(ti.dag_id)}/runs/${enc(ti.run_id)}/tasks/${enc(ti.task_id)}`
    + (ti.map_index >= 0 ? `?map_index=${ti.map_index}` : "");
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  /** "12 s ago", "3 min ago", "2 h ago", measured against the server's clock (no browser skew). */
  function ago(iso) {
    if (!iso || !last) return "";
    const s = Math.max(0, (Date.parse(last.now) - Date.parse(iso)) / 1000);
    if (!Number.isFinite(s)) return "";
    if (s < 90) return `${Math.round(s)} s ago`;
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    if (s < 172800) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} days ago`;
  }
  const when = (iso) => iso ? el("span", { class: "nowrap" }, tw.timeEl(iso), " ", el("span", { class: "muted" }, `(${ago(iso)})`))
    : el("span", { class: "muted" }, "never");

  // ------------------------------------------------------------------ summary
  function stat(label, value, { href, tone, id } = {}) {
    const body = [el("span", { class: "stat-value" }, String(value)), el("span", { class: "stat-label" }, label)];
    const cls = `stat${tone ? ` stat-${tone}` : ""}`;
    return href ? el("a", { class: cls, href, dataset: { stat: id } }, body) : el("div", { class: cls, dataset: { stat: id } }, body);
  }

  function renderStats(d) {
    const failedRuns = d.failed_runs.total, failedTis = d.failed_task_instances.total;
    document.getElementById("home-stats").replaceChildren(
      stat(`failed run${failedRuns === 1 ? "" : "s"} (${d.window_hours} h)`, failedRuns,
        { href: "#failed-runs-title", tone: failedRuns ? "bad" : "good", id: "failed_runs" }),
      stat(`failed task${failedTis === 1 ? "" : "s"} (${d.window_hours} h)`, failedTis,
        { href: "#failed-tis-title", tone: failedTis ? "bad" : "good", id: "failed_tis" }),
      stat("running runs", d.running_runs.total, { href: "#now-title", id: "running_runs" }),
      stat("queued runs", d.queued_runs.total, { href: "#now-title", id: "queued_runs" }),
      stat("running tasks", d.running_task_instances.total, { href: "#now-title", id: "running_tis" }),
      stat("queued tasks", d.queued_task_instances.total, { href: "#now-title", id: "queued_tis" }),
      stat("active DAGs", d.dags.active, { href: "/dags?status=active", id: "active_dags" }),
      stat(`import error${d.import_errors === 1 ? "" : "s"}`, d.import_errors,
        { href: perms.can_read_import_errors ? "/import-errors" : undefined, tone: d.import_errors ? "bad" : "good",
          id: "import_errors" }));
  }

  // ------------------------------------------------------------------- health
  /** [label, css tone] of a component's status; "down" when nothing of it is alive. */
  function verdict(section) {
    if (section.status === "healthy") return ["Healthy", "good"];
    if (section.status === null || section.status === undefined) return ["Not running", "idle"];
    const alive = (section.jobs || []).some((j) => j.alive);
    return alive ? ["Unhealthy", "bad"] : ["Down", "bad"];
  }

  function jobLines(section) {
    return (section.jobs || []).map((j) => el("li", { class: j.alive ? "" : "stale" },
      el("span", { class: "mono" }, `${j.hostname || "?"} pid ${j.pid ?? "?"}`), " · heartbeat ", when(j.latest_heartbeat),
      j.alive ? "" : el("span", { class: "pill s-failed" }, "no heartbeat")));
  }

  function problems(list) {
    return list && list.length ? el("ul", { class: "problems" }, list.map((p) => el("li", {}, p))) : "";
  }

  function component(key, name, section, extra) {
    const [label, tone] = verdict(section);
    return el("div", { class: `health-item tone-${tone}`, dataset: { component: key } },
      el("div", { class: "health-top" },
        el("span", { class: `health-dot tone-${tone}`, "aria-hidden": "true" }),
        el("strong", {}, name),
        el("span", { class: `health-status tone-${tone}` }, label)),
      section.latest_heartbeat !== undefined ? el("div", { class: "small" }, "Latest heartbeat: ", when(section.latest_heartbeat)) : "",
      problems(section.problems),
      extra || "");
  }

  function workersItem(w, scheduler) {
    if (!w.celery) {
      const [label, tone] = verdict(scheduler);
      return el("div", { class: `health-item tone-${tone}`, dataset: { component: "workers" } },
        el("div", { class: "health-top" },
          el("span", { class: `health-dot tone-${tone}`, "aria-hidden": "true" }),
          el("strong", {}, "Workers"), el("span", { class: `health-status tone-${tone}` }, label)),
        el("div", { class: "small muted" }, `Tasks run inside the scheduler (${w.executor}); their health is the scheduler's.`));
    }
    const section = { status: w.status, jobs: w.workers.map((x) => ({ alive: true })) };
    const [label, tone] = w.workers.length ? verdict(section) : ["Down", "bad"];
    return el("div", { class: `health-item tone-${tone}`, dataset: { component: "workers" } },
      el("div", { class: "health-top" },
        el("span", { class: `health-dot tone-${tone}`, "aria-hidden": "true" }),
        el("strong", {}, "Celery workers"), el("span", { class: `health-status tone-${tone}` }, label)),
      w.error ? el("div", { class: "small error-text" }, w.error) : "",
      w.workers.length ? el("ul", { class: "jobs" }, w.workers.map((x) => el("li", {},
        el("span", { class: "mono" }, x.hostname || "?"), " · ",
        `${x.running}/${x.concurrency ?? "?"} running`, x.queues.length ? ` · queues ${x.queues.join(", ")}` : "",
        " · heartbeat ", when(x.heartbeat), problems(x.problems)))) : "");
  }

  function renderHealth(h) {
    const sections = [
      ["scheduler", "Scheduler"], ["dag_processor", "DAG processor"], ["triggerer", "Triggerer"]];
    const db = h.metadatabase.status === "healthy";
    const items = [
      el("div", { class: `health-item tone-${db ? "good" : "bad"}`, dataset: { component: "metadatabase" } },
        el("div", { class: "health-top" },
          el("span", { class: `health-dot tone-${db ? "good" : "bad"}`, "aria-hidden": "true" }),
          el("strong", {}, "Metadata database"),
          el("span", { class: `health-status tone-${db ? "good" : "bad"}` }, db ? "Healthy" : "Down"))),
      ...sections.map(([key, name]) => component(key, name, h[key],
        h[key].jobs && h[key].jobs.length ? el("ul", { class: "jobs" }, jobLines(h[key])) : "")),
      workersItem(h.workers, h.scheduler),
    ];
    document.getElementById("home-health").replaceChildren(...items);
    // Anything down is said once, above everything, in words.
    const down = [];
    if (!db) down.push("the metadata database is unreachable");
    sections.forEach(([key, name]) => {
      const [label] = verdict(h[key]);
      if (label === "Down") down.push(`${name.toLowerCase().replace("dag", "DAG")} is down (latest heartbeat: ${h[key].latest_heartbeat ? `${tw.fmtTime(h[key].latest_heartbeat)}, ${ago(h[key].latest_heartbeat)}` : "never"})`);
      else if (label === "Unhealthy") down.push(`${name.toLowerCase().replace("dag", "DAG")} is unhealthy: ${(h[key].problems || []).join("; ")}`);
    });
    if (h.workers.celery && h.workers.status !== "healthy") down.push(`Celery workers: ${h.workers.error || "every worker reports problems"}`);
    const banner = document.getElementById("health-banner");
    banner.hidden = !down.length;
    banner.replaceChildren(down.length ? `Attention: ${down.join(" · ")}.` : "");
  }

  // ------------------------------------------------------------ history, pools
  function stackedBar(parts, total, label) {
    const bar = el("div", { class: "stack", role: "img", "aria-label": label });
    parts.forEach(([cls, n, title]) => {
      if (!n || !total) return;
      const seg = el("span", { class: cls, title });
      seg.style.width = `${(100 * n) / total}%`; // CSSOM, not a style attribute: allowed by the CSP
      bar.append(seg);
    });
    return bar;
  }

  function renderHistory(d) {
    const counts = d.run_states;
    const total = RUN_STATES.reduce((s, k) => s + (counts[k] || 0), 0);
    const box = document.getElementById("home-history");
    if (!total) {
      box.replaceChildren(el("p", { class: "muted empty" }, `No runs in the last ${d.window_hours} hours.`));
      return;
    }
    box.replaceChildren(
      stackedBar(RUN_STATES.map((s) => [`s-${s}`, counts[s] || 0, `${s}: ${counts[s] || 0}`]), total,
        RUN_STATES.map((s) => `${s} ${counts[s] || 0}`).join(", ")),
      el("ul", { class: "legend" }, RUN_STATES.map((s) => el("li", { dataset: { state: s } },
        tw.stateBadge(s), " ", s, " ", el("strong", {}, String(counts[s] || 0))))),
      el("p", { class: "muted small" }, `${plural(total, "run")}: finished in the last ${d.window_hours} hours, or queued or running now.`));
  }

  function renderPools(pools) {
    const box = document.getElementById("home-pools");
    if (!pools.length) { box.replaceChildren(el("p", { class: "muted empty" }, "No pools.")); return; }
    box.replaceChildren(el("table", { class: "data compact pools" },
      el("thead", {}, el("tr", {}, el("th", {}, "Pool"), el("th", {}, "Use"),
        el("th", { class: "num" }, "Running"), el("th", { class: "num" }, "Queued"), el("th", { class: "num" }, "Open"))),
      el("tbody", {}, pools.map((p) => el("tr", { dataset: { pool: p.name } },
        el("td", { class: "mono nowrap" }, perms.can_read_pools ? el("a", { href: "/pools" }, p.name) : p.name),
        el("td", { class: "bar-cell" }, stackedBar([["s-running", p.running, `${p.running} running`],
          ["s-queued", p.queued, `${p.queued} queued`]], Math.max(p.slots, p.running + p.queued),
        `${p.running} running, ${p.queued} queued of ${p.slots} slots`)),
        el("td", { class: "num" }, String(p.running)), el("td", { class: "num" }, String(p.queued)),
        el("td", { class: `num${p.open < 0 ? " error-text" : ""}` }, `${p.open} of ${p.slots}`))))));
  }

  // -------------------------------------------------------------------- lists
  function table(headers, rows) {
    return el("table", { class: "data compact" },
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))), el("tbody", {}, rows));
  }

  function more(found, what) {
    return found.total > found.items.length
      ? el("p", { class: "muted small" }, `Showing the newest ${found.items.length} of ${found.total} ${what}.`) : "";
  }

  const runLink = (r) => el("a", { href: runUrl(r.dag_id, r.run_id), class: "mono nowrap", title: r.run_id }, r.run_id);
  const dagLink = (dagId) => el("a", { href: dagUrl(dagId), class: "nowrap" }, dagId);
  const tiLabel = (ti) => ti.map_index >= 0 ? `${ti.task_id} [${ti.map_index}]` : ti.task_id;

  function renderFailedRuns(d) {
    const found = d.failed_runs;
    document.getElementById("failed-runs-count").textContent = `(${found.total})`;
    const box = document.getElementById("home-failed-runs");
    if (!found.total) {
      box.replaceChildren(el("p", { class: "muted empty" }, `No failed runs in the last ${d.window_hours} hours.`));
      return;
    }
    box.replaceChildren(table(["DAG", "Run", "Type", "Logical date", "Failed at"], found.items.map((r) =>
      el("tr", { dataset: { dagId: r.dag_id, runId: r.run_id } },
        el("td", {}, dagLink(r.dag_id)), el("td", {}, runLink(r)), el("td", { class: "nowrap" }, r.run_type),
        el("td", { class: "nowrap" }, r.logical_date ? tw.timeEl(r.logical_date) : "—"),
        el("td", { class: "nowrap" }, when(r.end_date))))), more(found, "failed runs"));
  }

  function renderFailedTis(d) {
    const found = d.failed_task_instances;
    document.getElementById("failed-tis-count").textContent = `(${found.total})`;
    const box = document.getElementById("home-failed-tis");
    if (!found.total) {
      box.replaceChildren(el("p", { class: "muted empty" }, `No failed task instances in the last ${d.window_hours} hours.`));
      return;
    }
    box.replaceChildren(table(["DAG", "Task", "Run", "Try", "Failed at"], found.items.map((ti) =>
      el("tr", { dataset: { dagId: ti.dag_id, taskId: ti.task_id } },
        el("td", {}, dagLink(ti.dag_id)),
        el("td", {}, el("a", { href: tiUrl(ti), class: "mono nowrap" }, tiLabel(ti))),
        el("td", {}, runLink(ti)),
        el("td", { class: "nowrap" }, `${ti.try_number} of ${ti.max_tries}`),
        el("td", { class: "nowrap" }, when(ti.end_date))))), more(found, "failed task instances"));
  }

  function renderActive(d) {
    const runs = [...d.running_runs.items, ...d.queued_runs.items];
    const runBox = document.getElementById("home-active-runs");
    runBox.replaceChildren(runs.length
      ? table(["State", "DAG", "Run", "Since"], runs.map((r) => el("tr", { dataset: { dagId: r.dag_id, runId: r.run_id } },
        el("td", {}, tw.stateBadge(r.state, { text: true })), el("td", {}, dagLink(r.dag_id)), el("td", {}, runLink(r)),
        el("td", { class: "nowrap" }, when(r.start_date || r.queued_at || r.run_after)))))
      : el("p", { class: "muted empty" }, "No run is running or queued."),
    more({ total: d.running_runs.total + d.queued_runs.total, items: runs }, "running and queued runs"));
    const tis = [...d.running_task_instances.items, ...d.queued_task_instances.items];
    const tiBox = document.getElementById("home-active-tis");
    tiBox.replaceChildren(tis.length
      ? table(["State", "DAG", "Task", "Since"], tis.map((ti) => el("tr", { dataset: { dagId: ti.dag_id, taskId: ti.task_id } },
        el("td", {}, tw.stateBadge(ti.state, { text: true })), el("td", {}, dagLink(ti.dag_id)),
        el("td", {}, el("a", { href: tiUrl(ti), class: "mono nowrap", title: ti.run_id }, tiLabel(ti))),
        el("td", { class: "nowrap" }, when(ti.start_date || ti.queued_dttm)))))
      : el("p", { class: "muted empty" }, "No task is running or queued."),
    more({ total: d.running_task_instances.total + d.queued_task_instances.total, items: tis }, "running and queued task instances"));
  }

  function render(d) {
    last = d;
    document.querySelectorAll(".window-hours").forEach((n) => { n.textContent = String(d.window_hours); });
    renderStats(d);
    renderHealth(d.health);
    renderHistory(d);
    renderPools(d.pools);
    renderFailedRuns(d);
    renderFailedTis(d);
    renderActive(d);
  }

  async function refresh() {
    const error = document.getElementById("home-error");
    let data;
    try {
      ({ data } = await tw.api("/ui/data/home"));
    } catch (e) {
      error.hidden = false;
      error.textContent = `Cannot load the home page data: ${e.message}${e.status ? ` (HTTP ${e.status})` : ""}. `
        + (last ? "Showing the last data received; retrying." : "Retrying.");
      if (!last) {
        ["home-stats", "home-health", "home-history", "home-pools", "home-failed-runs", "home-failed-tis",
          "home-active-runs", "home-active-tis"].forEach((id) => document.getElementById(id)
          .replaceChildren(el("p", { class: "muted" }, "Not available: the data could not be loaded.")));
      }
      return;
    }
    error.hidden = true;
    document.getElementById("home-updated").textContent = `Updated ${tw.fmtTime(data.now)}`;
    render(data); // every time: the "… ago" of each heartbeat moves on even when nothing else does
  }

  document.addEventListener("DOMContentLoaded", () => {
    perms = tw.pageData() || {};
    tw.onTimezoneChange(() => { if (last) render(last); });
    tw.poll(refresh, POLL_MS);
  });
})();
