/* The search palette (Ctrl+K / ⌘K, or "/", or the header's Search button): one field over DAGs, tasks,
 * runs (GET /ui/data/search) and the header's pages. ↑/↓ move, Enter opens, Esc closes. */
(function () {
  "use strict";
  const el = (...a) => tw.el(...a);
  let current = null;  // the open palette's close function

  /** The header's links, for "Pages" (what this role may open). */
  function pages() {
    return [...document.querySelectorAll(".mainnav a[href]")].map((a) => ({ title: a.textContent.trim(), url: a.getAttribute("href") }));
  }

  function open() {
    if (current) return;
    const input = el("input", { type: "search", class: "palette-input", placeholder: "Search DAGs, tasks and runs…",
                                autocomplete: "off", spellcheck: "false", role: "combobox", "aria-expanded": "true",
                                "aria-controls": "palette-results", "aria-autocomplete": "list", "aria-label": "Search" });
    const list = el("div", { class: "palette-results", id: "palette-results", role: "listbox", "aria-label": "Results" });
    const status = el("div", { class: "palette-status muted small", role: "status", "aria-live": "polite" });
    const panel = el("div", { class: "panel palette" }, input, status, list,
      el("div", { class: "palette-foot muted small" }, el("kbd", {}, "↑"), el("kbd", {}, "↓"), " move · ",
         el("kbd", {}, "Enter"), " open · ", el("kbd", {}, "Esc"), " close"));
    const dlg = tw.modal(panel, { label: "Search", className: "palette-dialog", onClose: () => { current = null; } });
    current = dlg.close;
    input.focus();

    let options = [];  // [{node, url}]
    let active = -1;
    let seq = 0;
    let timer = null;
    let inflight = null;  // the search whose results are on their way

    function setActive(i) {
      if (!options.length) { active = -1; input.removeAttribute("aria-activedescendant"); return; }
      active = (i + options.length) % options.length;
      options.forEach((o, j) => o.node.setAttribute("aria-selected", String(j === active)));
      const node = options[active].node;
      input.setAttribute("aria-activedescendant", node.id);
      node.scrollIntoView({ block: "nearest" });
    }
    function go(url) { dlg.close(); window.location.assign(url); }

    function render(groups, query) {
      options = [];
      const blocks = [];
      for (const group of groups) {
        if (!group.items.length) continue;
        const rows = group.items.map((item) => {
          const id = `palette-opt-${options.length}`;
          const node = el("div", { class: "palette-option", role: "option", id, "aria-selected": "false",
                                   dataset: { kind: group.kind, url: item.url } },
            group.kind === "runs" && item.state ? tw.stateBadge(item.state) : null,
            el("span", { class: "palette-title mono" }, item.title),
            item.detail ? el("span", { class: "palette-detail muted" }, item.detail) : null);
          const index = options.length;
          node.addEventListener("mousemove", () => { if (active !== index) setActive(index); });
          node.addEventListener("click", () => go(item.url));
          options.push({ node, url: item.url });
          return node;
        });
        blocks.push(el("div", { class: "palette-group", role: "group", "aria-label": group.label },
          el("div", { class: "palette-group-label" }, group.label), rows));
      }
      list.replaceChildren(...blocks);
      status.textContent = options.length ? "" : query ? `Nothing matches “${query}”.` : "";
      setActive(0);
    }

    function pageGroup(query) {
      const q = query.toLowerCase();
      const items = pages().filter((p) => !q || p.title.toLowerCase().includes(q));
      return { kind: "pages", label: "Pages", items };
    }

    async function search() {
      const query = input.value.trim();
      const mine = ++seq;
      if (!query) { render([pageGroup("")], ""); return; }
      status.textContent = "Searching…";
      try {
        const { data } = await tw.api("/ui/data/search", { params: { q: query, limit: 8 } });
        if (mine !== seq || !current) return;
        render([...data.groups, pageGroup(query)], query);
      } catch (e) {
        if (mine !== seq || !current) return;
        list.replaceChildren();
        options = [];
        status.textContent = `Search failed: ${e.message}`;
        status.classList.add("field-error");
      }
    }

    input.addEventListener("input", () => {
      status.classList.remove("field-error");
      clearTimeout(timer);
      timer = setTimeout(() => { timer = null; inflight = search(); }, 120);
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown") { e.preventDefault(); setActive(active + 1); }
      else if (e.key === "ArrowUp") { e.preventDefault(); setActive(active - 1); }
      else if (e.key === "Enter") {
        e.preventDefault();
        // Results of the text typed so far may still be on their way: wait for them, then open.
        if (timer !== null) { clearTimeout(timer); timer = null; inflight = search(); }
        const wanted = input.value;
        Promise.resolve(inflight).then(() => { if (current && input.value === wanted && options[active]) go(options[active].url); });
      }
    });
    render([pageGroup("")], "");
    return dlg;
  }

  tw.palette = { open };
  tw.shortcuts.add("mod+k", "Search DAGs, tasks and runs", () => { open(); });
  tw.shortcuts.add("/", "Search DAGs, tasks and runs", () => { open(); });
  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("search-open");
    if (button) {
      button.addEventListener("click", open);
      if (tw.shortcuts.isMac) button.querySelector("kbd").textContent = "⌘K";
    }
  });
})();
