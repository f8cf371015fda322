/* The task-instance page: header, tabs (mapped instances, log per try, rendered templates, XCom,
 * details with "why is this not running"), and the clear / mark actions with a dry-run preview.
 *
 * Data: /ui/data/dags/<dag>/runs/<run>/tasks/<task> (polled while the page is visible), the REST
 * log endpoint followed with its continuation token, /ui/data/.../xcom, and the REST API for
 * clear and mark. Every text shown is set with textContent (tw.el): nothing from a DAG, a log or
 * an XCom value is ever parsed as HTML.
 */
(function () {
  "use strict";
  const { el, api, fmtTime, fmtDuration, timeEl, stateBadge, flash } = tw;
  const pd = tw.pageData();
  if (!pd) return;
  const enc = encodeURIComponent;
  const mapIndex = Number(pd.map_index);
  const dataPath = `/ui/data/dags/${enc(pd.dag_id)}/runs/${enc(pd.run_id)}/tasks/${enc(pd.task_id)}`;
  const restTi = `dags/${enc(pd.dag_id)}/dagRuns/${enc(pd.run_id)}/taskInstances/${enc(pd.task_id)}`;
  const instanceHref = (i) => `/dags/${enc(pd.dag_id)}/runs/${enc(pd.run_id)}/tasks/${enc(pd.task_id)}?map_index=${i}`;

  let data = null;        // the last answer of dataPath
  let activeTab = null;
  let xcomLoadedFor = null;  // "<try>:<state>" the XCom tab was last loaded for

  const text = (v) => (v === null || v === undefined || v === "" ? "—" : String(v));
  const asText = (v) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));
  const clear = (node) => { node.replaceChildren(); return node; };

  // ------------------------------------------------------------------ header
  function renderHeader() {
    const ti = data.task_instance, task = data.task || {};
    const title = document.getElementById("ti-title");
    const item = (label, value) => el("div", {}, el("dt", {}, label), el("dd", {}, value));
    if (!ti) {  // an expanded mapped task: its instances are the Mapped tab
      clear(title).append(task.task_display_name || pd.task_id);
      clear(document.getElementById("ti-summary")).append(
        item("Mapped", `${data.mapped.length} instances`),
        item("Operator", text(task.operator)),
        item("Run", el("span", { class: "mono" }, pd.run_id)));
      return;
    }
    clear(title).append(ti.task_display_name || ti.task_id);
    if (mapIndex >= 0) {
      title.append(" ", el("span", { class: "muted" }, `[${ti.rendered_map_index || mapIndex}]`));
    }
    clear(document.getElementById("ti-summary")).append(...[
      item("State", stateBadge(ti.state, { text: true })),
      item("Try", `${ti.try_number} of ${ti.max_tries}`),
      mapIndex >= 0 ? item("Map index", String(mapIndex)) : (task.is_mapped ? item("Mapped", `${(data.mapped || []).length} instances`) : null),
      item("Operator", text(ti.operator || task.operator)),
      item("Started", ti.start_date ? timeEl(ti.start_date) : "—"),
      item("Duration", ti.duration !== null && ti.duration !== undefined ? fmtDuration(ti.duration) : "—"),
      item("Run", el("span", { class: "mono" }, ti.dag_run_id)),
    ].filter(Boolean));
  }

  // -------------------------------------------------------------------- tabs
  function tabLinks() { return Array.from(document.querySelectorAll("#ti-tabs a[data-tab]")); }
  function showTab(name) {
    const links = tabLinks().filter((a) => !a.hidden);
    if (!links.some((a) => a.dataset.tab === name)) name = links[0] && links[0].dataset.tab;
    activeTab = name;
    tabLinks().forEach((a) => a.classList.toggle("active", a.dataset.tab === name));
    document.querySelectorAll(".tab-panel").forEach((p) => { p.hidden = p.id !== `tab-${name}`; });
    if (name === "xcom") loadXcom();
    if (name === "log") logView.ensure();
  }
  window.addEventListener("hashchange", () => showTab(location.hash.slice(1)));

  // ------------------------------------------------------------ mapped list
  /** Tabs that need an instance (log, rendered, XCom) are hidden on an expanded mapped task's page. */
  function updateTabs() {
    tabLinks().forEach((a) => {
      if (a.dataset.tab === "mapped") a.hidden = !data.mapped;
      else if (a.dataset.tab !== "details") a.hidden = !data.task_instance;
    });
    if (activeTab && tabLinks().some((a) => a.dataset.tab === activeTab && a.hidden)) showTab(null);
  }

  function renderMapped() {
    const panel = clear(document.getElementById("tab-mapped"));
    if (!data.mapped) return;
    if (!data.mapped.length) {
      panel.append(el("p", { class: "muted" }, "This task has not been expanded yet: its input is not ready."));
      return;
    }
    const counts = {};
    data.mapped.forEach((m) => { const s = m.state || "none"; counts[s] = (counts[s] || 0) + 1; });
    panel.append(
      el("p", {}, ...Object.entries(counts).flatMap(([s, n]) => [stateBadge(s, { text: true }), ` ${n}  `])),
      el("table", { class: "data" },
        el("thead", {}, el("tr", {}, ...["Map index", "Label", "State", "Tries", "Started", "Duration"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...data.mapped.map((m) => el("tr", {},
          el("td", {}, el("a", { href: instanceHref(m.map_index) }, String(m.map_index))),
          el("td", {}, m.rendered_map_index ? el("a", { href: instanceHref(m.map_index) }, m.rendered_map_index) : "—"),
          el("td", {}, stateBadge(m.state, { text: true })),
          el("td", {}, String(m.try_number)),
          el("td", {}, m.start_date ? timeEl(m.start_date) : "—"),
          el("td", {}, m.duration !== null ? fmtDuration(m.duration) : "—"))))));
  }

  // -------------------------------------------------------- rendered fields
  function selectedTry() {
    const select = document.getElementById("log-try");
    const wanted = select && select.value ? Number(select.value) : null;
    return data.tries.find((t) => t.try_number === wanted) || data.tries[data.tries.length - 1] || null;
  }
  function renderRendered() {
    const panel = clear(document.getElementById("tab-rendered"));
    if (!data.task_instance) return;
    const attempt = selectedTry();
    const fields = (attempt && attempt.rendered_fields) || {};
    const names = Array.from(new Set([...((data.task && data.task.template_fields) || []), ...Object.keys(fields)]));
    panel.append(el("p", { class: "muted" }, attempt ? `Rendered for try ${attempt.try_number}.` : "Not rendered yet: no try has started."));
    if (!names.length) { panel.append(el("p", { class: "muted" }, "This task has no templated fields.")); return; }
    names.forEach((name) => panel.append(el("div", { class: "rendered-field" },
      el("h3", {}, name),
      el("pre", { class: "value" }, name in fields ? asText(fields[name]) : "(not rendered)"))));
  }

  // ------------------------------------------------------------------- XCom
  async function loadXcom(force = false) {
    const panel = document.getElementById("tab-xcom");
    if (!panel || !data || !data.task_instance) return;
    const stamp = `${data.task_instance.try_number}:${data.task_instance.state}`;
    if (!force && stamp === xcomLoadedFor) return;
    xcomLoadedFor = stamp;
    const { data: body } = await api(`${dataPath}/xcom`, { params: { map_index: mapIndex } });
    clear(panel);
    if (!body.xcom_entries.length) { panel.append(el("p", { class: "muted" }, "No XCom entries.")); return; }
    panel.append(el("table", { class: "data" },
      el("thead", {}, el("tr", {}, el("th", {}, "Key"), el("th", {}, "Value"), el("th", {}, "Pushed"))),
      el("tbody", {}, ...body.xcom_entries.map((x) => el("tr", {},
        el("td", { class: "mono" }, x.key),
        el("td", {}, el("pre", { class: "value" }, x.value)),
        el("td", {}, timeEl(x.timestamp)))))));
  }

  // ---------------------------------------------------------------- details
  function renderDetails() {
    const panel = clear(document.getElementById("tab-details"));
    const ti = data.task_instance;
    if (data.dependencies) {
      panel.append(el("h2", {}, "Why is this task instance not running?"));
      panel.append(data.dependencies.length
        ? el("ul", { class: "deps" }, ...data.dependencies.map((d) => el("li", {}, d.reason)))
        : el("p", {}, "All dependencies are met: it starts when the scheduler next picks it up."));
    }
    const dl = el("dl", { class: "details" });
    if (ti) panel.append(el("h2", {}, "Task instance"), dl);
    const timeKeys = new Set(["logical_date", "execution_date", "start_date", "end_date", "queued_when",
                              "scheduled_when", "next_retry_at"]);
    for (const [key, value] of Object.entries(ti || {})) {
      if (key === "rendered_fields") continue;
      let shown = text(value);
      if (timeKeys.has(key) && value) shown = timeEl(value);
      else if (key === "state") shown = stateBadge(value, { text: true });
      else if (key === "duration" && value !== null) shown = `${fmtDuration(value)} (${value} s)`;
      dl.append(el("dt", {}, key), el("dd", {}, shown));
    }
    if (data.task) {
      panel.append(el("h2", {}, "Task"));
      const tdl = el("dl", { class: "details" });
      for (const [key, value] of Object.entries(data.task)) {
        if (key === "doc_md") continue;
        tdl.append(el("dt", {}, key), el("dd", {}, Array.isArray(value) ? (value.join(", ") || "—") : text(value)));
      }
      panel.append(tdl);
      if (data.task.doc_md) panel.append(el("h2", {}, "Documentation"), el("pre", { class: "value" }, data.task.doc_md));
    }
    if (!ti) return;
    panel.append(el("h2", {}, "Tries"));
    if (!data.tries.length) { panel.append(el("p", { class: "muted" }, "No try has started yet.")); return; }
    panel.append(el("table", { class: "data" },
      el("thead", {}, el("tr", {}, ...["Try", "State", "Started", "Ended", "Duration", "Host", "Error"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...data.tries.map((t) => el("tr", {},
        el("td", {}, String(t.try_number)), el("td", {}, stateBadge(t.state, { text: true })),
        el("td", {}, t.start_date ? timeEl(t.start_date) : "—"), el("td", {}, t.end_date ? timeEl(t.end_date) : "—"),
        el("td", {}, t.duration !== null ? fmtDuration(t.duration) : "—"), el("td", {}, text(t.hostname)),
        el("td", {}, t.error ? el("span", { class: "error-text" }, t.error) : "—"))))));
  }

  // -------------------------------------------------------------------- log
  /** Follows one try's log: appends what the REST endpoint returns after the last token, until
   *  end_of_log; keeps the view at the bottom unless the reader has scrolled up. */
  const logView = {
    tryNumber: undefined, token: null, ended: false, busy: false, followLatest: true,
    pre: () => document.getElementById("log-text"),
    ensure() { if (this.tryNumber === undefined) this.syncTries(); },
    syncTries() {
      const select = document.getElementById("log-try");
      if (!select || !data) return;
      const have = Array.from(select.options).map((o) => Number(o.value));
      const want = data.tries.map((t) => t.try_number);
      if (have.join() !== want.join()) {
        const keep = select.value;
        select.replaceChildren(...data.tries.map((t) => el("option", { value: t.try_number }, `${t.try_number} (${t.state})`)));
        const latest = want[want.length - 1];
        select.value = this.followLatest || !keep ? String(latest ?? "") : keep;
      } else {
        data.tries.forEach((t, i) => { select.options[i].textContent = `${t.try_number} (${t.state})`; });
      }
      const chosen = select.value ? Number(select.value) : null;
      if (chosen !== this.tryNumber) this.open(chosen);
    },
    open(tryNumber) {
      this.tryNumber = tryNumber; this.token = null; this.ended = false;
      const pre = this.pre();
      clear(pre);
      const download = document.getElementById("log-download");
      if (tryNumber === null) {
        pre.append("No try has started yet: the log appears when the first try runs.");
        download.hidden = true;
        this.ended = true;
        return;
      }
      download.hidden = false;
      download.href = `${dataPath}/logs/${tryNumber}/download?map_index=${mapIndex}`;
      this.fetchMore();
    },
    async fetchMore() {
      if (this.ended || this.busy || this.tryNumber === null) return;
      this.busy = true;
      const tryNumber = this.tryNumber, pre = this.pre(), status = document.getElementById("log-status");
      try {
        for (;;) {
          const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
          const { data: body } = await api(`${restTi}/logs/${tryNumber}`, { params: { map_index: mapIndex, token: this.token } });
          if (tryNumber !== this.tryNumber) return;  // the reader picked another try meanwhile
          if (body.content) pre.append(document.createTextNode(body.content));
          this.token = body.continuation_token;
          this.ended = body.end_of_log;
          if (atBottom) pre.scrollTop = pre.scrollHeight;
          if (!body.content || this.ended) break;
        }
        status.textContent = this.ended ? "" : "following…";
        if (this.ended && !pre.textContent) pre.append("(this try wrote no log)");
      } finally {
        this.busy = false;
      }
    },
  };

  function initLog() {
    const select = document.getElementById("log-try");
    if (!select) return;
    select.addEventListener("change", () => {
      const latest = data.tries.length ? data.tries[data.tries.length - 1].try_number : null;
      logView.followLatest = Number(select.value) === latest;
      logView.open(Number(select.value));
      renderRendered();
    });
    const wrap = document.getElementById("log-wrap");
    wrap.addEventListener("change", () => logView.pre().classList.toggle("wrap", wrap.checked));
  }

  // ---------------------------------------------------------------- actions
  function tiRow(t) {
    return el("tr", {}, el("td", {}, t.task_id + (t.map_index >= 0 ? ` [${t.map_index}]` : "")),
      el("td", { class: "mono" }, t.dag_id === pd.dag_id ? t.dag_run_id : `${t.dag_id} / ${t.dag_run_id}`),
      el("td", {}, stateBadge(t.state, { text: true })));
  }

  /** A confirmation dialog: option checkboxes, the dry-run preview of what they select, Confirm. */
  function actionDialog({ title, options, preview, run, confirmLabel, danger }) {
    const boxes = {};
    const list = el("div", { class: "preview" }, el("p", { class: "muted" }, "Loading the preview…"));
    const optionRow = el("div", { class: "options" }, ...options.map((o) => {
      boxes[o.name] = el("input", { type: "checkbox", checked: o.checked });
      boxes[o.name].addEventListener("change", refreshPreview);
      return el("label", {}, boxes[o.name], o.label);
    }));
    const values = () => Object.fromEntries(Object.entries(boxes).map(([k, b]) => [k, b.checked]));
    let count = 0;
    async function refreshPreview() {
      try {
        const body = await preview(values());
        count = body.total_entries;
        clear(list).append(count
          ? el("div", {}, el("p", {}, `${count} task instance${count === 1 ? "" : "s"} will be affected:`),
            el("table", { class: "data" }, el("tbody", {}, ...body.task_instances.map(tiRow))))
          : el("p", { class: "muted" }, "No task instance matches these options."));
      } catch (e) {
        clear(list).append(el("p", { class: "error-text" }, e.message));
      }
    }
    tw.dialog(title, el("div", {}, optionRow, list), [{
      label: confirmLabel, danger, primary: !danger,
      onclick: async () => {
        if (!count) { flash("Nothing to do with these options.", true); return false; }
        try {
          const body = await run(values());
          flash(`${title.replace(/…$/, "")}: ${body.total_entries} task instance(s).`);
        } catch (e) { flash(e.message, true); return false; }
        await refresh();
        return true;
      },
    }]);
    refreshPreview();
  }

  function initActions() {
    const button = (id) => document.getElementById(id);
    if (!button("act-clear")) return;
    const clearBody = (o, dryRun) => ({ dry_run: dryRun, task_ids: [pd.task_id], dag_run_id: pd.run_id,
                                        include_upstream: o.upstream, include_downstream: o.downstream,
                                        only_failed: o.only_failed });
    const clearPath = `dags/${enc(pd.dag_id)}/clearTaskInstances`;
    button("act-clear").addEventListener("click", () => actionDialog({
      title: "Clear task instance…", confirmLabel: "Clear", danger: false,
      options: [{ name: "downstream", label: "Downstream", checked: true },
                { name: "upstream", label: "Upstream", checked: false },
                { name: "only_failed", label: "Only failed", checked: false }],
      preview: async (o) => (await api(clearPath, { method: "POST", body: clearBody(o, true) })).data,
      run: async (o) => { const r = (await api(clearPath, { method: "POST", body: clearBody(o, false) })).data; logView.followLatest = true; return r; },
    }));
    const markPath = mapIndex >= 0 ? `${restTi}/${mapIndex}` : restTi;
    const markBody = (state, o, dryRun) => ({ new_state: state, dry_run: dryRun,
                                              include_upstream: o.upstream, include_downstream: o.downstream });
    for (const state of ["success", "failed"]) {
      button(`act-${state}`).addEventListener("click", () => actionDialog({
        title: `Mark ${state}…`, confirmLabel: `Mark ${state}`, danger: state === "failed",
        options: [{ name: "downstream", label: "Downstream", checked: false },
                  { name: "upstream", label: "Upstream", checked: false }],
        preview: async (o) => (await api(markPath, { method: "PATCH", body: markBody(state, o, true) })).data,
        run: async (o) => (await api(markPath, { method: "PATCH", body: markBody(state, o, false) })).data,
      }));
    }
  }

  // ------------------------------------------------------------------- note
  /** The user's note on the instance: shown as text; editors save it through the REST setNote. */
  let noteInitialised = false;
  function showNote(text) {
    const shown = document.getElementById("ti-note-text");
    shown.textContent = text || "";
    shown.hidden = !text;
    document.getElementById("ti-note-empty").hidden = !!text;
  }
  function renderNote() {
    if (!data.task_instance || !document.getElementById("tab-note")) return;
    showNote(data.task_instance.note);
    const input = document.getElementById("ti-note-input");
    if (!input || noteInitialised) return;
    noteInitialised = true;
    input.value = data.task_instance.note || "";
    const save = document.getElementById("ti-note-save"), status = document.getElementById("ti-note-status");
    const error = document.getElementById("ti-note-error");
    const notePath = `${mapIndex >= 0 ? `${restTi}/${mapIndex}` : restTi}/setNote`;
    save.addEventListener("click", async () => {
      save.disabled = true;
      error.hidden = true;
      try {
        const { data: saved } = await api(notePath, { method: "PATCH", body: { note: input.value } });
        data.task_instance.note = saved.note;
        showNote(saved.note);
        status.textContent = "Saved.";
      } catch (e) {
        error.textContent = `The note was not saved: ${e.message}`;
        error.hidden = false;
      } finally { save.disabled = false; }
    });
  }

  // ----------------------------------------------------------------- refresh
  async function refresh() {
    data = (await api(dataPath, { params: { map_index: mapIndex } })).data;
    renderHeader();
    updateTabs();
    renderMapped();
    renderDetails();
    renderNote();
    if (activeTab === null) showTab(location.hash.slice(1) || (data.mapped ? "mapped" : "log"));
    logView.syncTries();
    renderRendered();
    if (activeTab === "xcom") await loadXcom();
    if (activeTab === "log") await logView.fetchMore();
  }

  initLog();
  initActions();
  tw.onTimezoneChange(() => { if (data) { renderHeader(); renderMapped(); renderDetails(); } });
  tw.poll(refresh, 2500);
  // Between data polls, a running try's log is read more often so it reads like a live console.
  tw.poll(() => (activeTab === "log" && !logView.ended ? logView.fetchMore() : null), 1000);
})();
