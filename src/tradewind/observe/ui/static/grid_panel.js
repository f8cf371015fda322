/* The Grid's details panel (templates/dag_grid.html, beside the grid): a run or one task instance,
 * opened by grid.js without leaving the page.
 *
 *   const panel = tw.gridPanel(node, { dag, onClose, onChanged, onOpenInstance });
 *   panel.showRun(runId, { counts });            // details, note, actions of a run
 *   panel.showInstance(runId, taskId, mapIndex); // log, XCom, rendered fields, details, note, actions
 *   panel.close();
 *
 * Everything loads when it is shown (the grid's own data stays small): the run from
 * /ui/data/dags/<dag>/runs/<run>/panel, the instance from /ui/data/.../tasks/<task> (polled while
 * it has not finished), a tab's content when the tab is opened. Notes are saved through the REST
 * API's setNote; clear and mark go through the REST API with a dry-run preview. Every text from a
 * DAG, a log, an XCom or a user is set as text (tw.el). An API error shows in the panel.
 */
(function () {
  "use strict";
  const enc = encodeURIComponent;
  const POLL_MS = 2500;
  const FINISHED = new Set(["success", "failed", "skipped", "upstream_failed", "removed"]);

  function gridPanel(node, { dag, onClose, onChanged, onOpenInstance } = {}) {
    const { el, api, timeEl, fmtDuration, stateBadge, flash } = tw;
    let token = 0;            // bumped on every show/close: answers for an older selection are dropped
    let stopPoll = null;
    let viewer = null;        // the log viewer of the shown instance (tw.logViewer or the plain one)
    const dash = (v) => (v === null || v === undefined || v === "" ? "—" : v);
    const dd = (label, value) => [el("dt", {}, label), el("dd", {}, dash(value))];
    const errorBox = (what, e) => el("p", { class: "banner-error", role: "alert" }, `${what}: ${e && e.message ? e.message : e}`);
    const runPath = (runId) => `dags/${enc(dag.dag_id)}/dagRuns/${enc(runId)}`;

    function reset() {
      token += 1;
      if (stopPoll) { stopPoll(); stopPoll = null; }
      if (viewer) { try { viewer.destroy(); } catch (e) { /* already gone */ } viewer = null; }
      return token;
    }

    function close() {
      reset();
      node.replaceChildren();
      node.hidden = true;
    }

    function frame(title, subtitle, openHref) {
      const closeButton = el("button", { type: "button", class: "close", "aria-label": "Close panel", title: "Close (Esc)",
                                         onclick: () => { close(); if (onClose) onClose(); } }, "×");
      return el("header", { class: "gp-head" }, closeButton,
        el("h2", { class: "gp-title" }, title),
        subtitle ? el("div", { class: "gp-sub muted" }, subtitle) : "",
        openHref ? el("a", { class: "gp-open", href: openHref }, "Open full page") : "");
    }

    /** Tabs: [{key, label, render(panelNode)}]; a tab renders the first time it is opened. */
    function tabs(list, initial) {
      const nav = el("nav", { class: "tabs gp-tabs", role: "tablist", "aria-label": "Details panel" });
      const bodies = {};
      const rendered = new Set();
      let active = null;
      const open = (key) => {
        active = key;
        nav.querySelectorAll("a").forEach((a) => {
          const on = a.dataset.tab === key;
          a.classList.toggle("active", on);
          a.setAttribute("aria-selected", String(on));
        });
        Object.entries(bodies).forEach(([k, b]) => { b.hidden = k !== key; });
        if (!rendered.has(key)) {
          rendered.add(key);
          const tab = list.find((t) => t.key === key);
          Promise.resolve(tab.render(bodies[key])).catch((e) => bodies[key].replaceChildren(errorBox(`Could not load ${tab.label}`, e)));
        }
      };
      list.forEach((t) => {
        nav.append(el("a", { href: "#", role: "tab", dataset: { tab: t.key }, onclick: (e) => { e.preventDefault(); open(t.key); } }, t.label));
        bodies[t.key] = el("section", { class: "gp-body", role: "tabpanel", dataset: { tab: t.key }, hidden: true });
      });
      return { nav, bodies: Object.values(bodies), open, active: () => active,
               rerender: (key) => { rendered.delete(key); if (active === key) open(key); } };
    }

    // ---------------------------------------------------------------- notes
    function noteEditor(current, canEdit, save) {
      const shown = el("p", { class: "gp-note-text" }, current || "");
      const empty = el("p", { class: "muted" }, "No note.");
      const sync = (text) => { shown.textContent = text || ""; shown.hidden = !text; empty.hidden = !!text; };
      sync(current);
      const box = el("div", { class: "gp-note" }, shown, empty);
      if (!canEdit) return box;
      const area = el("textarea", { rows: 4, "aria-label": "Note", maxlength: 1000 });
      area.value = current || "";
      const status = el("span", { class: "muted", role: "status" });
      const error = el("p", { class: "error-text", hidden: true });
      const button = el("button", { type: "button", class: "primary", onclick: async () => {
        button.disabled = true;
        error.hidden = true;
        try {
          const saved = await save(area.value);
          sync(saved);
          status.textContent = "Saved.";
        } catch (e) {
          error.textContent = `The note was not saved: ${e.message}`;
          error.hidden = false;
        } finally { button.disabled = false; }
      } }, "Save note");
      box.append(area, el("div", { class: "toolbar" }, button, status), error);
      return box;
    }

    // ------------------------------------------------------------------ run
    async function showRun(runId, { counts } = {}) {
      const my = reset();
      node.hidden = false;
      const body = el("div", { class: "gp-content" }, el("p", { class: "muted" }, "Loading the run…"));
      node.replaceChildren(frame(runId, "Run", `/dags/${enc(dag.dag_id)}/runs/${enc(runId)}`), body);
      node.dataset.kind = "run";
      let answer;
      try {
        answer = (await api(`/ui/data/dags/${enc(dag.dag_id)}/runs/${enc(runId)}/panel`)).data;
      } catch (e) {
        if (my === token) body.replaceChildren(errorBox("Could not load the run", e));
        return;
      }
      if (my !== token) return;
      const run = answer.run;
      const duration = run.start_date ? ((run.end_date ? Date.parse(run.end_date) : Date.now()) - Date.parse(run.start_date)) / 1000 : null;
      const countNode = counts && Object.keys(counts).length
        ? el("span", { class: "counts" }, Object.entries(counts).map(([s, k]) => el("span", { class: `pill s-${s}`, title: s }, `${k} ${s}`)))
        : null;
      const conf = run.conf && Object.keys(run.conf).length ? el("pre", { class: "json gp-conf" }, JSON.stringify(run.conf, null, 2)) : null;
      const actions = tw.runActionButtons ? tw.runActionButtons(dag, run, { onDone: (what) => {
        if (onChanged) onChanged(what);
        if (what === "deleted") { close(); if (onClose) onClose(); } else showRun(runId, { counts });
      } }) : [];
      body.replaceChildren(
        el("div", { class: "toolbar gp-actions", "aria-label": "Run actions" }, actions),
        el("dl", { class: "details" },
          dd("State", stateBadge(run.state, { text: true })),
          dd("Run type", run.run_type),
          dd("Run after", run.run_after && timeEl(run.run_after)),
          dd("Logical date", run.logical_date && timeEl(run.logical_date)),
          dd("Data interval", run.data_interval_start &&
            el("span", {}, timeEl(run.data_interval_start), " – ", timeEl(run.data_interval_end))),
          dd("Queued at", run.queued_at && timeEl(run.queued_at)),
          dd("Started", run.start_date && timeEl(run.start_date)),
          dd("Ended", run.end_date && timeEl(run.end_date)),
          dd("Duration", duration === null ? null : fmtDuration(duration)),
          dd("DAG version", answer.run.dag_version_number ? `v${answer.run.dag_version_number}` : null),
          dd("Triggered by", run.triggered_by),
          dd("Tasks", countNode),
          dd("Conf", conf || el("span", { class: "muted" }, "{}"))),
        el("h3", {}, "Note"),
        noteEditor(run.note, dag.can_edit_runs, async (text) => {
          const { data } = await api(`${runPath(runId)}/setNote`, { method: "PATCH", body: { note: text } });
          if (onChanged) onChanged("note");
          return data.note;
        }));
      tw.refreshTimes(body);
    }

    // -------------------------------------------------------- task instance
    async function showInstance(runId, taskId, mapIndex) {
      const my = reset();
      node.hidden = false;
      node.dataset.kind = "ti";
      const dataPath = `/ui/data/dags/${enc(dag.dag_id)}/runs/${enc(runId)}/tasks/${enc(taskId)}`;
      const restTi = `${runPath(runId)}/taskInstances/${enc(taskId)}`;
      const tiRest = mapIndex >= 0 ? `${restTi}/${mapIndex}` : restTi;
      const pageHref = `/dags/${enc(dag.dag_id)}/runs/${enc(runId)}/tasks/${enc(taskId)}?map_index=${mapIndex}`;
      const title = el("span", {}, taskId, mapIndex >= 0 ? el("span", { class: "muted" }, ` [${mapIndex}]`) : "");
      const summary = el("div", { class: "gp-summary" });
      const actionBar = el("div", { class: "toolbar gp-actions", "aria-label": "Task instance actions" });
      const content = el("div", { class: "gp-content" }, el("p", { class: "muted" }, "Loading the task instance…"));
      node.replaceChildren(frame(title, el("span", { class: "mono" }, runId), pageHref), summary, actionBar, content);

      let data;
      const load = async () => (await api(dataPath, { params: { map_index: mapIndex } })).data;
      try { data = await load(); } catch (e) {
        if (my === token) content.replaceChildren(errorBox("Could not load the task instance", e));
        return;
      }
      if (my !== token) return;

      const renderSummary = () => {
        const ti = data.task_instance;
        const item = (label, value) => el("span", { class: "gp-fact" }, el("span", { class: "muted" }, `${label} `), value);
        summary.replaceChildren(...(ti ? [
          item("State", stateBadge(ti.state, { text: true })),
          item("Try", `${ti.try_number} of ${ti.max_tries}`),
          item("Started", ti.start_date ? timeEl(ti.start_date) : "—"),
          item("Duration", ti.duration !== null && ti.duration !== undefined ? fmtDuration(ti.duration) : "—"),
          item("Operator", dash(ti.operator || (data.task && data.task.operator))),
        ] : [item("Mapped", `${(data.mapped || []).length} instances`)]));
      };
      const renderActions = () => {
        actionBar.replaceChildren();
        const ti = data.task_instance;
        if (!dag.can_edit_tis || !ti) return;
        actionBar.append(el("button", { type: "button", dataset: { action: "clear" }, onclick: () => clearDialog() }, "Clear…"));
        for (const state of ["success", "failed"]) {
          if (ti.state === state) continue;
          actionBar.append(el("button", { type: "button", class: state === "failed" ? "danger" : "", dataset: { action: `mark-${state}` },
                                          onclick: () => markDialog(state) }, `Mark ${state}…`));
        }
      };

      const after = async (what) => {
        if (onChanged) onChanged(what);
        try { data = await load(); } catch (e) { flash(e.message, true); return; }
        if (my !== token) return;
        renderSummary(); renderActions();
        t.rerender("details");
        if (what !== "note" && viewer) t.rerender("log");
        startPolling();
      };

      function actionDialog({ title: dialogTitle, options, preview, run, confirmLabel, danger }) {
        const boxes = {};
        const list = el("div", { class: "preview" }, el("p", { class: "muted" }, "Loading the preview…"));
        const values = () => Object.fromEntries(Object.entries(boxes).map(([k, b]) => [k, b.checked]));
        let count = 0;
        const refreshPreview = async () => {
          try {
            const body = await preview(values());
            count = body.total_entries;
            list.replaceChildren(count
              ? el("div", {}, el("p", {}, `${count} task instance${count === 1 ? "" : "s"} will be affected:`),
                el("ul", { class: "gp-preview" }, body.task_instances.map((x) => el("li", {},
                  stateBadge(x.state), " ", x.task_id + (x.map_index >= 0 ? ` [${x.map_index}]` : "")))))
              : el("p", { class: "muted" }, "No task instance matches these options."));
          } catch (e) { list.replaceChildren(el("p", { class: "error-text" }, e.message)); }
        };
        const optionRow = el("div", { class: "options" }, options.map((o) => {
          boxes[o.name] = el("input", { type: "checkbox", checked: o.checked, onchange: refreshPreview });
          return el("label", {}, boxes[o.name], o.label);
        }));
        tw.dialog(dialogTitle, el("div", {}, optionRow, list), [{
          label: confirmLabel, danger, primary: !danger, onclick: async () => {
            if (!count) { flash("Nothing to do with these options.", true); return false; }
            try {
              const body = await run(values());
              flash(`${dialogTitle.replace(/…$/, "")}: ${body.total_entries ?? (body.task_instances || []).length} task instance(s).`);
            } catch (e) { flash(e.message, true); return false; }
            after(confirmLabel);
            return true;
          },
        }]);
        refreshPreview();
      }
      function clearDialog() {
        const path = `dags/${enc(dag.dag_id)}/clearTaskInstances`;
        const bodyOf = (o, dryRun) => ({ dry_run: dryRun, task_ids: [taskId], dag_run_id: runId,
          include_upstream: o.upstream, include_downstream: o.downstream, only_failed: o.only_failed });
        actionDialog({ title: "Clear task instance…", confirmLabel: "Clear", danger: false,
          options: [{ name: "downstream", label: "Downstream", checked: true }, { name: "upstream", label: "Upstream", checked: false },
                    { name: "only_failed", label: "Only failed", checked: false }],
          preview: async (o) => (await api(path, { method: "POST", body: bodyOf(o, true) })).data,
          run: async (o) => (await api(path, { method: "POST", body: bodyOf(o, false) })).data });
      }
      function markDialog(state) {
        const bodyOf = (o, dryRun) => ({ new_state: state, dry_run: dryRun, include_upstream: o.upstream, include_downstream: o.downstream });
        actionDialog({ title: `Mark ${state}…`, confirmLabel: `Mark ${state}`, danger: state === "failed",
          options: [{ name: "downstream", label: "Downstream", checked: false }, { name: "upstream", label: "Upstream", checked: false }],
          preview: async (o) => (await api(tiRest, { method: "PATCH", body: bodyOf(o, true) })).data,
          run: async (o) => (await api(tiRest, { method: "PATCH", body: bodyOf(o, false) })).data });
      }

      // ---- tabs
      const lastTry = () => (data.tries.length ? data.tries[data.tries.length - 1] : null);
      const list = [];
      if (data.mapped) list.push({ key: "mapped", label: `Mapped (${data.mapped.length})`, render: renderMapped });
      if (data.task_instance) {
        if (dag.can_read_log) list.push({ key: "log", label: "Log", render: renderLog });
        list.push({ key: "xcom", label: "XCom", render: renderXcom },
                  { key: "rendered", label: "Rendered", render: renderRendered });
      }
      list.push({ key: "details", label: "Details", render: renderDetails });
      if (data.task_instance) list.push({ key: "note", label: "Note", render: renderNote });
      const t = tabs(list);
      content.replaceChildren(t.nav, ...t.bodies);

      function renderMapped(panel) {
        if (!data.mapped.length) { panel.replaceChildren(el("p", { class: "muted" }, "Not expanded yet: its input is not ready.")); return; }
        panel.replaceChildren(el("table", { class: "data" },
          el("thead", {}, el("tr", {}, ["Index", "State", "Duration"].map((h) => el("th", {}, h)))),
          el("tbody", {}, data.mapped.map((m) => el("tr", {},
            el("td", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); if (onOpenInstance) onOpenInstance(runId, taskId, m.map_index); } },
              m.rendered_map_index ? `${m.map_index} (${m.rendered_map_index})` : String(m.map_index))),
            el("td", {}, stateBadge(m.state, { text: true })),
            el("td", {}, m.duration !== null ? fmtDuration(m.duration) : "—"))))));
      }

      function renderLog(panel) {
        if (viewer) { try { viewer.destroy(); } catch (e) { /* gone */ } viewer = null; }
        const tries = data.tries;
        if (!tries.length) { panel.replaceChildren(el("p", { class: "muted" }, "No try has started yet: the log appears when the first try runs.")); return; }
        if (typeof tw.logViewer === "function") {  // static/log_viewer.js: its own try picker and download
          const holder = el("div", { class: "gp-log" });
          panel.replaceChildren(holder);
          viewer = tw.logViewer(holder, { dagId: dag.dag_id, runId, taskId, mapIndex, tryNumber: lastTry().try_number });
          return;
        }
        const select = el("select", { "aria-label": "Try" }, tries.map((x) => el("option", { value: x.try_number }, `${x.try_number} (${x.state || "none"})`)));
        select.value = String(lastTry().try_number);
        const holder = el("div", { class: "gp-log" });
        const download = el("a", { class: "button", download: true, href: "#" }, "Download");
        panel.replaceChildren(el("div", { class: "toolbar" }, el("label", {}, "Try ", select), download), holder);
        const openTry = (n) => {
          if (viewer) { try { viewer.destroy(); } catch (e) { /* gone */ } }
          download.href = `${dataPath}/logs/${n}/download?map_index=${mapIndex}`;
          holder.replaceChildren();
          viewer = plainLog(holder, `${restTi}/logs/${n}`, mapIndex);
        };
        select.addEventListener("change", () => openTry(Number(select.value)));
        openTry(Number(select.value));
      }

      async function renderXcom(panel) {
        if (!dag.can_read_xcom) { panel.replaceChildren(el("p", { class: "muted" }, "Your role may not read XComs.")); return; }
        panel.replaceChildren(el("p", { class: "muted" }, "Loading XCom…"));
        const { data: body } = await api(`${dataPath}/xcom`, { params: { map_index: mapIndex } });
        if (!body.xcom_entries.length) { panel.replaceChildren(el("p", { class: "muted" }, "No XCom entries.")); return; }
        panel.replaceChildren(...body.xcom_entries.map((x) => {
          const href = `${dataPath}/xcom/value?key=${enc(x.key)}&map_index=${mapIndex}`;
          return el("div", { class: "gp-xcom" },
            el("h3", { class: "mono" }, x.key, " ", el("span", { class: "muted" }, tw.fmtTime(x.timestamp))),
            el("pre", { class: "value" }, x.value),
            x.truncated ? el("p", { class: "muted gp-truncated" },
              `Showing the first ${x.value.length.toLocaleString()} of ${x.size.toLocaleString()} characters. `,
              el("a", { href, download: true }, "Download the whole value")) : "");
        }));
      }

      function renderRendered(panel) {
        const attempt = lastTry();
        const fields = (attempt && attempt.rendered_fields) || {};
        const names = Array.from(new Set([...((data.task && data.task.template_fields) || []), ...Object.keys(fields)]));
        panel.replaceChildren(el("p", { class: "muted" }, attempt ? `Rendered for try ${attempt.try_number}.` : "Not rendered yet: no try has started."));
        if (!names.length) { panel.append(el("p", { class: "muted" }, "This task has no templated fields.")); return; }
        names.forEach((name) => panel.append(el("div", { class: "rendered-field" }, el("h3", { class: "mono" }, name),
          el("pre", { class: "value" }, name in fields ? (typeof fields[name] === "string" ? fields[name] : JSON.stringify(fields[name], null, 2)) : "(not rendered)"))));
      }

      function renderDetails(panel) {
        const ti = data.task_instance, task = data.task;
        const parts = [];
        if (data.dependencies) {
          parts.push(el("h3", {}, "Why is this task instance not running?"), data.dependencies.length
            ? el("ul", { class: "deps" }, data.dependencies.map((d) => el("li", {}, d.reason)))
            : el("p", {}, "All dependencies are met: it starts when the scheduler next picks it up."));
        }
        if (ti) {
          parts.push(el("dl", { class: "details" },
            dd("State", stateBadge(ti.state, { text: true })), dd("Task", ti.task_id),
            dd("Map index", ti.map_index >= 0 ? `${ti.map_index}${ti.rendered_map_index ? ` (${ti.rendered_map_index})` : ""}` : null),
            dd("Try", `${ti.try_number} of ${ti.max_tries}`), dd("Operator", ti.operator),
            dd("Queued at", ti.queued_when && timeEl(ti.queued_when)),
            dd("Started", ti.start_date && timeEl(ti.start_date)), dd("Ended", ti.end_date && timeEl(ti.end_date)),
            dd("Duration", ti.duration !== null && ti.duration !== undefined ? fmtDuration(ti.duration) : null),
            dd("Pool", ti.pool), dd("Queue", ti.queue), dd("Hostname", ti.hostname),
            dd("Trigger rule", task && task.trigger_rule), dd("Upstream", task && task.upstream.join(", ")),
            dd("Downstream", task && task.downstream.join(", "))));
        }
        if (ti && data.tries.length) {
          parts.push(el("h3", {}, "Tries"), el("table", { class: "data" },
            el("thead", {}, el("tr", {}, ["Try", "State", "Started", "Duration", "Error"].map((h) => el("th", {}, h)))),
            el("tbody", {}, data.tries.map((x) => el("tr", {},
              el("td", {}, String(x.try_number)), el("td", {}, stateBadge(x.state, { text: true })),
              el("td", {}, x.start_date ? timeEl(x.start_date) : "—"),
              el("td", {}, x.duration !== null && x.duration !== undefined ? fmtDuration(x.duration) : "—"),
              el("td", {}, x.error ? el("span", { class: "error-text" }, x.error) : "—"))))));
        }
        if (task && task.doc_md) parts.push(el("h3", {}, "Documentation"), el("pre", { class: "value" }, task.doc_md));
        panel.replaceChildren(...parts);
      }

      function renderNote(panel) {
        const ti = data.task_instance;
        panel.replaceChildren(noteEditor(ti.note, dag.can_edit_tis, async (text) => {
          const { data: saved } = await api(`${tiRest}/setNote`, { method: "PATCH", body: { note: text } });
          ti.note = saved.note;
          if (onChanged) onChanged("note");
          return saved.note;
        }));
      }

      function startPolling() {
        if (stopPoll) stopPoll();
        stopPoll = null;
        if (data.finished) return;
        let timer = null, stopped = false;
        const tick = async () => {
          if (stopped) return;
          try {
            const next = await load();
            if (stopped || my !== token) return;
            const triesChanged = next.tries.length !== data.tries.length;
            data = next;
            renderSummary(); renderActions();
            if (t.active() === "details") t.rerender("details");
            if (triesChanged && t.active() === "log") t.rerender("log");
            if (data.finished) { stopped = true; if (t.active() === "xcom") t.rerender("xcom"); return; }
          } catch (e) { /* shown by the next successful poll or the tabs' own errors */ }
          timer = setTimeout(tick, POLL_MS);
        };
        timer = setTimeout(tick, POLL_MS);
        stopPoll = () => { stopped = true; clearTimeout(timer); };
      }

      renderSummary();
      renderActions();
      t.open(list[0].key);
      startPolling();
      tw.refreshTimes(node);
    }

    return { showRun, showInstance, close };
  }

  /** The plain log (when static/log_viewer.js is not there): one try's text, followed through the
   *  REST log endpoint's continuation token until its end. Returns {destroy()}. */
  function plainLog(holder, path, mapIndex) {
    const pre = tw.el("pre", { class: "log ti-log wrap gp-plain-log", tabindex: 0 });
    holder.append(pre);
    let stopped = false, tokenValue = null, timer = null;
    const step = async () => {
      if (stopped) return;
      try {
        for (;;) {
          const { data: body } = await tw.api(path, { params: { map_index: mapIndex, token: tokenValue } });
          if (stopped) return;
          if (body.content) pre.append(document.createTextNode(body.content));
          tokenValue = body.continuation_token;
          if (body.end_of_log) { if (!pre.textContent) pre.append("(this try wrote no log)"); return; }
          if (!body.content) break;
        }
      } catch (e) {
        holder.append(tw.el("p", { class: "banner-error", role: "alert" }, `Could not load the log: ${e.message}`));
        return;
      }
      timer = setTimeout(step, 1000);
    };
    step();
    return { destroy() { stopped = true; clearTimeout(timer); holder.replaceChildren(); } };
  }

  window.tw.gridPanel = gridPanel;
})();
