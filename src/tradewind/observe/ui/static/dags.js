/* The DAG list: one request to /ui/data/dags per view (DAGs + their last runs + tab counts + import errors),
 * refreshed every 3 s while the page is visible so run states change on screen without a reload.
 * Filters (search, tags, All/Active/Paused, sort, page) live in the URL, so a filtered list can be shared. */
(function () {
  "use strict";
  const el = (...a) => tw.el(...a);
  const RUNS_SHOWN = 10;
  const POLL_MS = 3000;

  const view = {
    search: "", tags: [], status: "all", order_by: "dag_id", offset: 0, limit: 25,
  };
  let perms = {};
  let lastBody = "";

  function readUrl() {
    const q = new URLSearchParams(location.search);
    view.search = q.get("search") || "";
    view.tags = q.getAll("tags").filter(Boolean);
    view.status = ["all", "active", "paused"].includes(q.get("status")) ? q.get("status") : "all";
    view.order_by = q.get("order_by") || "dag_id";
    view.offset = Math.max(0, parseInt(q.get("offset") || "0", 10) || 0);
    const limit = parseInt(q.get("limit") || "25", 10);
    view.limit = Math.min(perms.max_page || 100, Math.max(1, Number.isFinite(limit) ? limit : 25));
  }

  function writeUrl() {
    const q = new URLSearchParams();
    if (view.search) q.set("search", view.search);
    view.tags.forEach((t) => q.append("tags", t));
    if (view.status !== "all") q.set("status", view.status);
    if (view.order_by !== "dag_id") q.set("order_by", view.order_by);
    if (view.offset) q.set("offset", String(view.offset));
    if (view.limit !== 25) q.set("limit", String(view.limit));
    const qs = q.toString();
    history.replaceState(null, "", qs ? `?${qs}` : location.pathname);
  }

  const dagUrl = (dagId, tail = "grid") => `/dags/${encodeURIComponent(dagId)}/${tail}`;

  function runSquares(dag) {
    // Oldest left, newest right (the API gives newest first).
    const runs = [...dag.recent_runs].reverse();
    return el("span", { class: "run-marks" }, runs.map((r) => el("a", {
      class: `state s-${r.state}`, href: `${dagUrl(dag.dag_id)}?run_id=${encodeURIComponent(r.dag_run_id)}`,
      title: `${r.dag_run_id}\n${r.state} · ${r.run_type}\n${tw.fmtTime(r.logical_date)}`,
      "aria-label": `run ${r.dag_run_id}: ${r.state}`,
    })));
  }

  function pauseToggle(dag) {
    const input = el("input", {
      type: "checkbox", role: "switch", class: "pause-toggle", checked: !dag.is_paused,
      disabled: !perms.can_pause, "aria-label": `${dag.is_paused ? "Unpause" : "Pause"} ${dag.dag_id}`,
      title: perms.can_pause ? (dag.is_paused ? "Paused: click to unpause" : "Active: click to pause")
        : "Your role cannot pause or unpause DAGs",
      dataset: { dagId: dag.dag_id },
    });
    input.addEventListener("change", async () => {
      const paused = !input.checked;
      input.disabled = true;
      try {
        await tw.api(`dags/${encodeURIComponent(dag.dag_id)}`, { method: "PATCH", params: { update_mask: "is_paused" },
                                                                 body: { is_paused: paused } });
        tw.flash(`${dag.dag_id} ${paused ? "paused" : "unpaused"}`);
        await refresh(true);
      } catch (e) {
        input.checked = !paused;
        tw.flash(`Cannot ${paused ? "pause" : "unpause"} ${dag.dag_id}: ${e.message}`, true);
      } finally { input.disabled = false; }
    });
    return input;
  }

  function tagPills(dag) {
    return dag.tags.map((t) => el("button", {
      type: "button", class: "tag", title: `Show DAGs tagged ${t.name}`,
      onclick: () => { if (!view.tags.includes(t.name)) { view.tags.push(t.name); view.offset = 0; changed(); } },
    }, t.name));
  }

  /** When the next run will start (Airflow 3's run_after: the end of the data interval for interval
   *  schedules), with its logical date underneath; a paused DAG's next run waits for unpausing. */
  function nextRunCell(dag) {
    const startsAt = dag.next_dagrun_create_after || dag.next_dagrun_data_interval_end || dag.next_dagrun;
    if (!startsAt) return el("span", { class: "muted" }, "—");
    const logical = dag.next_dagrun_logical_date || dag.next_dagrun;
    const interval = dag.next_dagrun_data_interval_start && dag.next_dagrun_data_interval_end
      ? `data interval ${tw.fmtTime(dag.next_dagrun_data_interval_start)} – ${tw.fmtTime(dag.next_dagrun_data_interval_end)}` : "";
    return el("div", { class: "next-run", title: [`starts at ${tw.fmtTime(startsAt)}`, logical ? `logical date ${tw.fmtTime(logical)}` : "", interval,
      dag.is_paused ? "paused: runs only once unpaused" : ""].filter(Boolean).join("\n") },
      el("span", { class: "nowrap next-run-at" }, tw.timeEl(startsAt)),
      logical && logical !== startsAt ? el("div", { class: "muted small nowrap next-run-logical" }, "logical ", tw.timeEl(logical)) : "",
      dag.is_paused ? el("div", { class: "muted small" }, "paused") : "");
  }

  function row(dag) {
    const last = dag.recent_runs[0];
    const nextRun = nextRunCell(dag);
    return el("tr", { dataset: { dagId: dag.dag_id }, class: dag.is_paused ? "paused" : "" },
      el("td", {}, pauseToggle(dag)),
      el("td", {},
        el("a", { href: dagUrl(dag.dag_id), class: "dag-name" }, dag.dag_display_name || dag.dag_id),
        dag.dag_display_name && dag.dag_display_name !== dag.dag_id ? el("div", { class: "muted mono" }, dag.dag_id) : "",
        dag.has_import_errors ? el("span", { class: "pill s-failed", title: "its file has an import error" }, "import error") : "",
        dag.description ? el("div", { class: "muted small" }, dag.description) : "",
        dag.tags.length ? el("div", { class: "chips" }, tagPills(dag)) : ""),
      el("td", {}, dag.owners.join(", ")),
      el("td", {}, dag.recent_runs.length ? runSquares(dag) : el("span", { class: "muted nowrap" }, "no runs")),
      el("td", { class: "schedule", title: dag.timetable_description || dag.timetable_summary || "" },
        el("span", { class: "mono nowrap" }, dag.timetable_summary || "")),
      el("td", { class: "nowrap" }, last ? [tw.stateBadge(last.state), " ", el("a", {
        href: `${dagUrl(dag.dag_id)}?run_id=${encodeURIComponent(last.dag_run_id)}`, title: `${last.dag_run_id}\n${last.state}`,
      }, tw.timeEl(last.logical_date || last.run_after))] : el("span", { class: "muted" }, "—")),
      el("td", {}, nextRun),
      el("td", {}, perms.can_trigger ? el("button", {
        type: "button", class: "trigger", title: `Trigger ${dag.dag_id}`, "aria-label": `Trigger ${dag.dag_id}`,
        onclick: () => tw.triggerDag(dag.dag_id, { onTriggered: () => refresh(true) }),
      }, "▶ Trigger") : ""));
  }

  function renderTabs(counts) {
    document.querySelectorAll("#status-tabs a").forEach((a) => {
      const status = a.dataset.status;
      a.classList.toggle("active", status === view.status);
      a.querySelector(".count").textContent = `(${counts[status]})`;
    });
  }

  function renderChips() {
    const box = document.getElementById("tag-chips");
    box.replaceChildren(...view.tags.map((t) => el("button", {
      type: "button", class: "tag selected", title: `Stop filtering by ${t}`,
      onclick: () => { view.tags = view.tags.filter((x) => x !== t); view.offset = 0; changed(); },
    }, t, " ×")));
  }

  function renderPager(total) {
    const pager = document.getElementById("dag-pager");
    const first = total ? view.offset + 1 : 0;
    const lastShown = Math.min(total, view.offset + view.limit);
    const sizes = el("select", { "aria-label": "DAGs per page", onchange: (e) => {
      view.limit = Number(e.target.value); view.offset = 0; changed(); } },
      [25, 50, 100].filter((n) => n <= (perms.max_page || 100)).map((n) => el("option", { value: n, selected: n === view.limit }, `${n} per page`)));
    pager.replaceChildren(
      el("button", { type: "button", disabled: view.offset === 0,
                     onclick: () => { view.offset = Math.max(0, view.offset - view.limit); changed(); } }, "‹ Previous"),
      el("span", { class: "muted" }, `${first}–${lastShown} of ${total}`),
      el("button", { type: "button", disabled: view.offset + view.limit >= total,
                     onclick: () => { view.offset += view.limit; changed(); } }, "Next ›"),
      sizes);
  }

  function renderBanner(count) {
    const banner = document.getElementById("import-banner");
    banner.hidden = !count;
    if (!count) return;
    banner.replaceChildren(`${count} DAG file${count === 1 ? "" : "s"} failed to import. `,
      perms.can_read_import_errors ? el("a", { href: "/import-errors" }, "See the import errors") : "");
  }

  function render(data) {
    renderBanner(data.import_errors);
    renderTabs(data.counts);
    renderChips();
    document.querySelectorAll("#dag-table button.sort").forEach((b) => {
      const key = b.dataset.sort;
      b.classList.toggle("asc", view.order_by === key);
      b.classList.toggle("desc", view.order_by === `-${key}`);
    });
    const body = document.getElementById("dag-rows");
    if (!data.dags.length) {
      const filtered = view.search || view.tags.length || view.status !== "all";
      body.replaceChildren(el("tr", {}, el("td", { colspan: 8, class: "muted" },
        filtered ? "No DAG matches these filters." : "No DAGs yet: put DAG files in the dags folder.")));
    } else {
      body.replaceChildren(...data.dags.map(row));
    }
    renderPager(data.total_entries);
  }

  async function refresh(force = false) {
    const { data } = await tw.api("/ui/data/dags", { params: {
      search: view.search, tags: view.tags, status: view.status, order_by: view.order_by,
      offset: view.offset, limit: view.limit, runs: RUNS_SHOWN } });
    // A page past the end (DAGs went away): go back to the last page.
    if (!data.dags.length && data.total_entries && view.offset) {
      view.offset = Math.max(0, Math.floor((data.total_entries - 1) / view.limit) * view.limit);
      writeUrl();
      return refresh(true);
    }
    const text = JSON.stringify(data);
    if (!force && text === lastBody) return;
    lastBody = text;
    render(data);
  }

  function changed() {
    writeUrl();
    document.getElementById("dag-search").value = view.search;
    document.getElementById("dag-sort").value = view.order_by;
    refresh(true).catch((e) => tw.flash(e.message, true));
  }

  async function loadTags() {
    const select = document.getElementById("tag-filter");
    const { data } = await tw.api("/ui/data/dag-tags");
    select.append(...data.tags.map((t) => el("option", { value: t }, t)));
    select.addEventListener("change", () => {
      if (select.value && !view.tags.includes(select.value)) { view.tags.push(select.value); view.offset = 0; changed(); }
      select.value = "";
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    perms = tw.pageData() || {};
    readUrl();
    const search = document.getElementById("dag-search");
    const sort = document.getElementById("dag-sort");
    search.value = view.search;
    if (![...sort.options].some((o) => o.value === view.order_by)) sort.append(el("option", { value: view.order_by }, view.order_by));
    sort.value = view.order_by;
    let typing = null;
    search.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => { view.search = search.value.trim(); view.offset = 0; changed(); }, 250);
    });
    sort.addEventListener("change", () => { view.order_by = sort.value; view.offset = 0; changed(); });
    document.querySelectorAll("#status-tabs a").forEach((a) => a.addEventListener("click", (e) => {
      e.preventDefault(); view.status = a.dataset.status; view.offset = 0; changed();
    }));
    document.querySelectorAll("#dag-table button.sort").forEach((b) => b.addEventListener("click", () => {
      const key = b.dataset.sort;
      view.order_by = view.order_by === key ? `-${key}` : key; view.offset = 0; changed();
    }));
    loadTags().catch((e) => tw.flash(e.message, true));
    tw.onTimezoneChange(() => refresh(true));
    tw.poll(() => refresh(false), POLL_MS);
  });
})();
