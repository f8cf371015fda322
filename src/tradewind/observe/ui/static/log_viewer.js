/* The log viewer of one task instance's tries, shared by the grid's details panel, the
 * task-instance page and the run page:
 *
 *   const viewer = tw.logViewer(container, {dagId, runId, taskId, mapIndex, tryNumber});
 *   viewer.destroy();
 *
 * It reads windows of whole lines from GET /ui/data/dags/{d}/runs/{r}/tasks/{t}/logs/{try}/lines
 * (observe/ui/log_data.py): the tail first, then "Load earlier" / "Load later" by byte offset.
 * At most KEEP lines are in the page at once (the far end is dropped when more are loaded), so a
 * log of millions of lines is never held or drawn whole. While the try runs the viewer follows
 * it (polls for what was written since, scrolls to the end) and stops when the try ends.
 *
 * On the lines in the page: levels are coloured and can be hidden (count per level),
 * "::group::Title" ... "::endgroup::" fold into collapsed sections, runs of traceback frames from
 * Tradewind's own code fold into one "N Tradewind frames" toggle, and a search highlights its
 * matches (Enter / Shift+Enter: next / previous). Every line is text (textContent only).
 */
(function () {
  "use strict";

  const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
  /** [timestamp] {origin} LEVEL - message, as tradewind.execute.logs.TryLogFormatter writes it. */
  const PREFIX = /^\[(\d{4}-\d\d-\d\dT[^\]]+)\] \{([^}]*)\} ([A-Z]+) - (.*)$/;
  const GROUP_START = /^::group::(.*)$/;
  const GROUP_END = /^::endgroup::\s*$/;
  const FRAME = /^\s*File "([^"]+)", line \d+/;
  const OWN_CODE = /[\\/]tradewind[\\/]/;
  /** Most lines kept in the page; loading more drops lines from the other end. */
  const KEEP = 6000;
  const PAGE = 2000;
  const POLL_MS = 2000;
  const RUNNING = new Set(["running", "queued", "scheduled", "none", "up_for_reschedule", "deferred", "restarting"]);

  const enc = encodeURIComponent;

  function fmtBytes(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }

  /** {offset, text, level, msg, cont}: cont lines (a traceback's) take the level of the line before. */
  function parseLines(raw, previousLevel) {
    let level = previousLevel || null;
    return raw.map(([offset, text]) => {
      const m = PREFIX.exec(text);
      if (m) {
        level = LEVELS.includes(m[3]) ? m[3] : (m[3] === "WARN" ? "WARNING" : m[3] === "FATAL" ? "CRITICAL" : "INFO");
        return { offset, text, level, msg: m[4], cont: false };
      }
      return { offset, text, level, msg: text, cont: true };
    });
  }

  function isOwnFrame(line) {
    const m = FRAME.exec(line.msg);
    return !!m && OWN_CODE.test(m[1]);
  }
  /** The code and caret lines printed under a frame ("    x = f()", "    ^^^^"). */
  function isFrameDetail(line) {
    return line.cont && /^ {4}/.test(line.msg) && !FRAME.test(line.msg);
  }

  function logViewer(container, opts) {
    const { dagId, runId, taskId } = opts;
    const mapIndex = opts.mapIndex === undefined || opts.mapIndex === null ? -1 : Number(opts.mapIndex);
    let tryNumber = opts.tryNumber ? Number(opts.tryNumber) : null;
    let tries = tryNumber || 0;
    let lines = [];
    let start = 0, end = 0, size = 0, stillWriting = false, state = null;
    let generation = 0, timer = null, destroyed = false, busy = false;
    const hidden = new Set();
    const openGroups = new Set();
    let matches = [], current = -1;

    const el = tw.el;
    const root = el("div", { class: "log-viewer" });
    const trySelect = el("select", { class: "lv-try", "aria-label": "Try" });
    const levelBoxes = {};
    const levelCounts = {};
    const levelFilter = el("span", { class: "lv-levels", role: "group", "aria-label": "Levels" },
      LEVELS.map((level) => {
        const box = el("input", { type: "checkbox", checked: true, dataset: { level } });
        const count = el("span", { class: "lv-count" }, "0");
        levelBoxes[level] = box;
        levelCounts[level] = count;
        box.addEventListener("change", () => {
          if (box.checked) hidden.delete(level); else hidden.add(level);
          root.classList.toggle(`lv-hide-${level.toLowerCase()}`, !box.checked);
          runSearch(false);
        });
        return el("label", { class: `lv-level-toggle lv-${level.toLowerCase()}` }, box, ` ${level} `, count);
      }));
    const search = el("input", { type: "search", class: "lv-search", placeholder: "Search log", "aria-label": "Search log" });
    const searchCount = el("span", { class: "lv-search-count muted", role: "status" });
    const prevButton = el("button", { type: "button", class: "lv-prev", title: "Previous match (Shift+Enter)" }, "↑");
    const nextButton = el("button", { type: "button", class: "lv-next", title: "Next match (Enter)" }, "↓");
    const follow = el("input", { type: "checkbox", class: "lv-follow" });
    const followLabel = el("label", { class: "lv-follow-label", hidden: true }, follow, " Follow");
    const wrap = el("input", { type: "checkbox", class: "lv-wrap-toggle", checked: true });
    const download = el("a", { class: "button lv-download", href: "#", download: "" }, "Download");
    const toolbar = el("div", { class: "toolbar lv-toolbar" },
      el("label", { class: "lv-try-label", hidden: true }, "Try ", trySelect), levelFilter,
      el("span", { class: "lv-search-box" }, search, prevButton, nextButton, searchCount),
      followLabel, el("label", {}, wrap, " Wrap"), download);
    const error = el("div", { class: "banner-error lv-problem", role: "alert", hidden: true });
    const status = el("div", { class: "lv-status muted", role: "status" });
    const earlier = el("button", { type: "button", class: "lv-earlier", hidden: true }, "Load earlier lines");
    const later = el("button", { type: "button", class: "lv-later", hidden: true }, "Load later lines");
    const toStart = el("button", { type: "button", class: "lv-to-start", hidden: true }, "Go to start");
    const toEnd = el("button", { type: "button", class: "lv-to-end", hidden: true }, "Go to end");
    const body = el("div", { class: "lv-body lv-wrap", role: "log", tabindex: "0", "aria-label": "Log lines" });
    root.append(toolbar, error, el("div", { class: "lv-nav" }, toStart, earlier, status), body,
      el("div", { class: "lv-nav" }, later, toEnd));
    container.replaceChildren(root);

    wrap.addEventListener("change", () => body.classList.toggle("lv-wrap", wrap.checked));
    trySelect.addEventListener("change", () => { tryNumber = Number(trySelect.value); openGroups.clear(); loadTail(); });
    earlier.addEventListener("click", () => loadBefore());
    later.addEventListener("click", () => loadAfter(false));
    toStart.addEventListener("click", () => loadFrom(0));
    toEnd.addEventListener("click", () => loadTail());
    follow.addEventListener("change", () => {
      if (!follow.checked) return;
      if (end < size) loadTail(); else { scrollToEnd(); schedulePoll(); }
    });
    let searchTimer = null;
    search.addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => runSearch(true), 150); });
    search.addEventListener("keydown", (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault();
      clearTimeout(searchTimer);
      if (search.value !== runSearch.query) runSearch(false);
      step(e.shiftKey ? -1 : 1);
    });
    prevButton.addEventListener("click", () => step(-1));
    nextButton.addEventListener("click", () => step(1));

    // ---------------------------------------------------------------- data
    const linesUrl = (n) => `/ui/data/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(taskId)}/logs/${n}/lines`;

    function showError(message) {
      error.textContent = message;
      error.hidden = !message;
    }

    async function fetchWindow(params) {
      const gen = generation;
      busy = true;
      try {
        const { data } = await tw.api(linesUrl(tryNumber), { params: { map_index: mapIndex, limit: PAGE, ...params } });
        if (destroyed || gen !== generation) return null;
        showError("");
        tries = Math.max(tries, data.try_number || 0);
        size = data.size;
        state = data.state;
        stillWriting = !!data.still_writing && tryNumber === data.try_number;
        return data;
      } catch (e) {
        if (!destroyed && gen === generation) showError(`Could not load the log: ${e.message}`);
        return null;
      } finally {
        busy = false;
      }
    }

    function lastLevel(list) { return list.length ? list[list.length - 1].level : null; }

    async function loadTail() {
      generation += 1;
      stopPoll();
      if (!tryNumber) {
        renderTries();
        lines = [];
        render();
        status.textContent = "No log yet: this task instance has not run.";
        return;
      }
      const data = await fetchWindow({});
      if (!data) {
        lines = []; start = end = size = 0; stillWriting = false;
        renderTries(); render();
        status.textContent = "";
        return;
      }
      lines = parseLines(data.lines);
      start = data.start; end = data.end;
      afterChange({ toEnd: true });
      if (stillWriting) { follow.checked = true; schedulePoll(); }
    }

    async function loadFrom(offset) {
      generation += 1;
      stopPoll();
      follow.checked = false;
      const data = await fetchWindow({ after: offset });
      if (!data) return;
      lines = parseLines(data.lines);
      start = data.start; end = data.end;
      afterChange({ toTop: true });
    }

    async function loadBefore() {
      if (busy || start <= 0) return;
      const data = await fetchWindow({ before: start });
      if (!data || !data.lines.length) return;
      const added = parseLines(data.lines);
      const keepHeight = body.scrollHeight - body.scrollTop;
      lines = added.concat(parseLines(lines.map((l) => [l.offset, l.text]), lastLevel(added)));
      start = data.start;
      if (lines.length > KEEP) {
        end = lines[KEEP].offset;
        lines = lines.slice(0, KEEP);
        follow.checked = false;
      }
      afterChange({});
      body.scrollTop = body.scrollHeight - keepHeight;
    }

    async function loadAfter(polling) {
      if (busy) return;
      const data = await fetchWindow({ after: end });
      if (!data) return;
      if (data.lines.length) {
        lines = lines.concat(parseLines(data.lines, lastLevel(lines)));
        end = data.end;
        if (lines.length > KEEP) {
          lines = lines.slice(lines.length - KEEP);
          start = lines[0].offset;
        }
        afterChange({ toEnd: polling && follow.checked });
      } else {
        renderStatus();
      }
    }

    // ------------------------------------------------------------- polling
    function stopPoll() { clearTimeout(timer); timer = null; }
    function schedulePoll() {
      stopPoll();
      if (destroyed || !stillWriting) return;
      timer = setTimeout(async () => {
        timer = null;
        if (document.visibilityState === "visible") await loadAfter(true);
        if (!stillWriting) { follow.checked = false; renderStatus(); return; }
        schedulePoll();
      }, POLL_MS);
    }

    // ----------------------------------------------------------- rendering
    function afterChange({ toEnd: goEnd, toTop }) {
      renderTries();
      render();
      runSearch(false);
      if (goEnd) scrollToEnd();
      if (toTop) body.scrollTop = 0;
    }

    function scrollToEnd() { body.scrollTop = body.scrollHeight; }

    function renderTries() {
      const count = Math.max(tries, tryNumber || 0);
      trySelect.parentElement.hidden = count < 2;
      if (trySelect.options.length !== count) {
        trySelect.replaceChildren(...Array.from({ length: count }, (_, i) =>
          el("option", { value: String(i + 1) }, `${i + 1}`)));
      }
      if (tryNumber) trySelect.value = String(tryNumber);
      download.hidden = !tryNumber;
      download.href = tryNumber
        ? `/ui/data/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(taskId)}/logs/${tryNumber}/download?map_index=${mapIndex}`
        : "#";
    }

    function renderStatus() {
      earlier.hidden = start <= 0;
      toStart.hidden = start <= 0;
      later.hidden = end >= size || stillWriting;
      toEnd.hidden = end >= size || stillWriting;
      followLabel.hidden = !stillWriting;
      const shown = lines.length.toLocaleString();
      const where = start > 0 || end < size ? ` (bytes ${fmtBytes(start)}–${fmtBytes(end)} of ${fmtBytes(size)})` : "";
      const live = stillWriting ? ` · try ${tryNumber} is ${state}, following` : "";
      status.textContent = lines.length ? `${shown} lines${where}${live}` : `The log is empty${live}.`;
    }

    function row(line) {
      const node = el("div", { class: `lv-line lv-${(line.level || "none").toLowerCase()}${line.cont ? " lv-cont" : ""}` }, line.text);
      node.lvText = line.text;
      node.lvLevel = line.level;
      return node;
    }

    function render() {
      const counts = Object.fromEntries(LEVELS.map((l) => [l, 0]));
      const frag = document.createDocumentFragment();
      const stack = [frag];
      const parent = () => stack[stack.length - 1];
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        if (!line.cont && counts[line.level] !== undefined) counts[line.level] += 1;
        const group = GROUP_START.exec(line.msg);
        if (group) {
          const details = el("details", { class: "lv-group", dataset: { offset: line.offset } },
            el("summary", { class: `lv-group-title lv-${(line.level || "none").toLowerCase()}` }, group[1].trim() || "Group"));
          details.open = openGroups.has(line.offset);
          details.addEventListener("toggle", () => {
            if (details.open) openGroups.add(line.offset); else openGroups.delete(line.offset);
          });
          parent().append(details);
          stack.push(details);
          continue;
        }
        if (GROUP_END.test(line.msg)) {
          if (stack.length > 1) stack.pop();
          continue;
        }
        if (isOwnFrame(line)) {
          const frames = [];
          let j = i;
          while (j < lines.length && isOwnFrame(lines[j])) {
            frames.push(lines[j]);
            j += 1;
            while (j < lines.length && isFrameDetail(lines[j])) { frames.push(lines[j]); j += 1; }
          }
          const count = frames.filter(isOwnFrame).length;
          const details = el("details", { class: "lv-frames" },
            el("summary", { class: `lv-frames-title lv-${(line.level || "none").toLowerCase()}` },
              `${count} Tradewind frame${count === 1 ? "" : "s"}`),
            frames.map(row));
          parent().append(details);
          i = j - 1;
          continue;
        }
        parent().append(row(line));
      }
      body.replaceChildren(frag);
      for (const level of LEVELS) levelCounts[level].textContent = counts[level].toLocaleString();
      renderStatus();
    }

    // -------------------------------------------------------------- search
    function clearMarks() {
      for (const node of body.querySelectorAll(".lv-line.lv-hit")) {
        node.textContent = node.lvText;
        node.classList.remove("lv-hit");
      }
    }

    function runSearch(jump) {
      const query = search.value;
      runSearch.query = query;
      clearMarks();
      matches = [];
      current = -1;
      if (!query) { searchCount.textContent = ""; return; }
      const needle = query.toLowerCase();
      for (const node of body.querySelectorAll(".lv-line")) {
        if (node.lvLevel && hidden.has(node.lvLevel)) continue;
        const text = node.lvText;
        const lower = text.toLowerCase();
        let at = lower.indexOf(needle);
        if (at < 0) continue;
        const parts = [];
        let from = 0;
        while (at >= 0) {
          if (at > from) parts.push(document.createTextNode(text.slice(from, at)));
          const mark = el("mark", { class: "lv-match" }, text.slice(at, at + needle.length));
          parts.push(mark);
          matches.push(mark);
          from = at + needle.length;
          at = lower.indexOf(needle, from);
        }
        if (from < text.length) parts.push(document.createTextNode(text.slice(from)));
        node.replaceChildren(...parts);
        node.classList.add("lv-hit");
      }
      renderCount();
      if (jump && matches.length) step(1);
    }
    runSearch.query = "";

    function renderCount() {
      if (!search.value) { searchCount.textContent = ""; return; }
      searchCount.textContent = matches.length
        ? `${current >= 0 ? current + 1 : 0} of ${matches.length}`
        : "No matches in the loaded lines";
    }

    function step(delta) {
      if (!matches.length) { renderCount(); return; }
      if (current >= 0) matches[current].classList.remove("lv-current");
      current = current < 0 ? (delta > 0 ? 0 : matches.length - 1) : (current + delta + matches.length) % matches.length;
      const mark = matches[current];
      mark.classList.add("lv-current");
      for (let node = mark.parentElement; node && node !== body; node = node.parentElement) {
        if (node.tagName === "DETAILS") node.open = true;
      }
      mark.scrollIntoView({ block: "center" });
      renderCount();
    }

    // --------------------------------------------------------------- start
    (async () => {
      if (!tryNumber) {
        try {
          const path = `dags/${enc(dagId)}/dagRuns/${enc(runId)}/taskInstances/${enc(taskId)}${mapIndex >= 0 ? `/${mapIndex}` : ""}`;
          const { data } = await tw.api(path);
          tries = data.try_number || 0;
          tryNumber = tries || null;
          state = data.state;
        } catch (e) {
          showError(`Could not load the task instance: ${e.message}`);
          return;
        }
      }
      if (!destroyed) await loadTail();
    })();

    return {
      destroy() {
        destroyed = true;
        generation += 1;
        stopPoll();
        clearTimeout(searchTimer);
        root.remove();
      },
    };
  }

  window.tw = window.tw || {};
  window.tw.logViewer = logViewer;
})();
