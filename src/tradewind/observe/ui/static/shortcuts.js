/* Keyboard shortcuts: one registry for every page, and the help dialog that lists them ("?").
 *
 *   const remove = tw.shortcuts.add("j", "Next task", (event) => { ... }, "Grid");
 *
 * Keys: a character ("?", "/", "j"), a named key ("ArrowDown", "Enter"), with modifiers joined by "+"
 * ("mod+k" is Ctrl+K, or ⌘K on a Mac; "shift+ArrowDown", "alt+r"), or a sequence of two separated by
 * a space ("g d": g, then d). Scope is the heading the help dialog lists it under ("Global" by default).
 * A later registration of the same key wins (a page's own beats the global one); a handler that
 * returns false passes the key on to the earlier one.
 *
 * Shortcuts stay off while typing in a field (unless they use mod/alt) and while a dialog is open
 * (Escape closes dialogs: core.js). */
(function () {
  "use strict";
  const IS_MAC = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent || "");
  const entries = [];
  let pending = null;  // first key of a sequence, while waiting for the second
  let pendingTimer = null;

  /** "Shift+ArrowDown" -> "shift+arrowdown"; "mod+K" -> "mod+k"; "shift+/" -> "?". */
  function normalize(combo) {
    const parts = String(combo).split("+").map((p) => p.trim()).filter(Boolean);
    let key = parts.pop() || "+";
    const mods = new Set(parts.map((p) => p.toLowerCase()).map((p) => (p === "ctrl" || p === "cmd" || p === "meta" ? "mod" : p)));
    if (mods.has("shift") && key === "/") { mods.delete("shift"); key = "?"; }
    if (key.length === 1 && !/[a-z]/i.test(key)) mods.delete("shift");  // "?" already means shift
    return ["mod", "alt", "shift"].filter((m) => mods.has(m)).concat(key.toLowerCase()).join("+");
  }
  /** The same spelling for a keydown event. */
  function fromEvent(e) {
    const key = e.key || "";
    const mods = [];
    if (e.ctrlKey || e.metaKey) mods.push("mod");
    if (e.altKey) mods.push("alt");
    if (e.shiftKey && (key.length > 1 || /[a-z]/i.test(key))) mods.push("shift");
    return mods.concat(key.toLowerCase()).join("+");
  }
  const normalizeKeys = (keys) => String(keys).trim().split(/\s+/).map(normalize).join(" ");

  /** Register a shortcut; returns a function that removes it. */
  function add(keys, description, handler, scope = "Global") {
    const entry = { keys: normalizeKeys(keys), label: String(keys), description, handler, scope };
    entries.push(entry);
    return () => { const i = entries.indexOf(entry); if (i >= 0) entries.splice(i, 1); };
  }

  function typing(target) {
    if (!target || !(target instanceof Element)) return false;
    if (target.isContentEditable) return true;
    const tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag !== "INPUT") return false;
    return !["checkbox", "radio", "button", "submit", "reset", "range", "color", "file"].includes(target.type);
  }

  function run(keys, event) {
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i];
      if (entry.keys !== keys) continue;
      if (entry.handler(event) !== false) { event.preventDefault(); return true; }
    }
    return false;
  }
  const startsSequence = (key) => entries.some((e) => e.keys.startsWith(`${key} `));

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.isComposing) return;
    if (["Shift", "Control", "Alt", "Meta"].includes(event.key)) return;
    if (window.tw && tw.modalOpen && tw.modalOpen()) return;
    const key = fromEvent(event);
    const withModifier = event.ctrlKey || event.metaKey || event.altKey;
    if (typing(event.target) && !withModifier) return;
    if (pending !== null) {
      const first = pending;
      pending = null;
      clearTimeout(pendingTimer);
      if (run(`${first} ${key}`, event)) return;
    }
    if (run(key, event)) return;
    if (startsSequence(key)) {
      pending = key;
      pendingTimer = setTimeout(() => { pending = null; }, 1500);
    }
  });

  /** How a key spelling reads in the help: "mod+k" -> ["Ctrl", "K"] (["⌘", "K"] on a Mac). */
  function keyCaps(keys) {
    const names = { mod: IS_MAC ? "⌘" : "Ctrl", alt: IS_MAC ? "⌥" : "Alt", shift: "Shift", arrowdown: "↓", arrowup: "↑",
                    arrowleft: "←", arrowright: "→", escape: "Esc", enter: "Enter", " ": "Space" };
    return keys.split(" ").map((combo) => {
      const parts = combo.split("+");
      const withModifier = parts.length > 1;  // "Ctrl+K" reads better than "Ctrl+k"; a lone "g" stays "g"
      return parts.map((k) => names[k] || (withModifier && k.length === 1 ? k.toUpperCase() : k));
    });
  }
  function renderKeys(keys) {
    const el = tw.el;
    const steps = keyCaps(keys);
    const out = [];
    steps.forEach((caps, i) => {
      if (i) out.push(el("span", { class: "muted" }, " then "));
      caps.forEach((cap, j) => { if (j) out.push("+"); out.push(el("kbd", {}, cap)); });
    });
    return out;
  }

  /** The help dialog: every registered shortcut, grouped by scope (Global first). */
  function showHelp() {
    const el = tw.el;
    const scopes = [];
    const seen = new Set();
    for (const entry of entries) {
      const id = `${entry.scope}\u0000${entry.keys}`;
      if (seen.has(id)) continue;
      seen.add(id);
      let scope = scopes.find((s) => s.name === entry.scope);
      if (!scope) { scope = { name: entry.scope, rows: [] }; scopes.push(scope); }
      scope.rows.push(entry);
    }
    scopes.sort((a, b) => (a.name === "Global" ? -1 : b.name === "Global" ? 1 : 0));
    const body = el("div", { class: "shortcuts-help" }, scopes.map((scope) => el("section", {},
      el("h3", {}, scope.name),
      el("table", { class: "data shortcuts-table" }, el("tbody", {}, scope.rows.map((r) =>
        el("tr", {}, el("td", { class: "keys" }, renderKeys(r.keys)), el("td", {}, r.description))))))));
    const panel = el("div", { class: "panel" },
      el("div", { class: "dialog-head" }, el("h2", { id: "shortcuts-title" }, "Keyboard shortcuts"),
        el("button", { type: "button", class: "dialog-x", "aria-label": "Close", onclick: () => dlg.close() }, "×")),
      el("div", { class: "dialog-body" }, body),
      el("p", { class: "muted small" }, "Shortcuts are off while you type in a field. Esc closes a dialog."));
    const dlg = tw.modal(panel, { label: "Keyboard shortcuts", className: "shortcuts-dialog" });
    return dlg;
  }

  window.tw.shortcuts = { add, showHelp, list: () => entries.slice(), isMac: IS_MAC, keyCaps };

  // ------------------------------------------------------------------ global ones
  add("?", "Show keyboard shortcuts", () => { showHelp(); });
  const nav = (path) => document.querySelector(`.topbar a[href="${path}"]`);
  for (const [keys, path, label] of [["g h", "/", "Home"], ["g d", "/dags", "DAGs"], ["g r", "/runs", "Runs"],
                                     ["g t", "/task-instances", "Task instances"], ["g a", "/assets", "Assets"]]) {
    if (path !== "/" && !nav(path)) continue;  // a page this role cannot open
    add(keys, `Go to ${label}`, () => { window.location.assign(path); });
  }
  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("shortcuts-open");
    if (button) button.addEventListener("click", showHelp);
  });
})();
