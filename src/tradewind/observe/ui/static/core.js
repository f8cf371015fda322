/* Tradewind UI core: API calls, DOM building, time display, live polling. Loaded by every page.
 *
 * Everything a DAG author, a user or a log line wrote reaches the page as text: build elements
 * with tw.el(...) (which sets textContent), never with innerHTML.
 */
(function () {
  "use strict";
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";
  const TZ_KEY = "tradewind.tz";

  /** An error from the REST API, with the problem document's detail and status. */
  class ApiError extends Error {
    constructor(status, body) {
      super((body && (body.detail || body.title)) || `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  /** fetch() against the same origin with the session cookie; JSON in and out.
   *  State-changing calls carry the CSRF token. Rejects with ApiError on a non-2xx answer. */
  async function api(path, { method = "GET", body, params, accept = "application/json" } = {}) {
    const url = new URL(path.startsWith("/") ? path : `/api/v1/${path}`, window.location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (v === undefined || v === null || v === "") continue;
      (Array.isArray(v) ? v : [v]).forEach((item) => url.searchParams.append(k, item));
    }
    const headers = { Accept: accept };
    if (method !== "GET" && method !== "HEAD") headers[meta("csrf-header") || "X-CSRF-Token"] = meta("csrf-token");
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(url, { method, headers, credentials: "same-origin",
                                    body: body === undefined ? undefined : JSON.stringify(body) });
    if (resp.status === 401) { window.location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`); }
    const type = resp.headers.get("content-type") || "";
    const data = resp.status === 204 ? null : type.includes("json") ? await resp.json() : await resp.text();
    if (!resp.ok) throw new ApiError(resp.status, typeof data === "object" ? data : { detail: data });
    return { data, headers: resp.headers, status: resp.status };
  }

  /** Build an element: el("a", {href: "/x", class: "pill"}, "text", child, ...). Strings become text nodes. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** Same element, built with an SVG namespace (charts, the graph). */
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, String(v));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** The JSON the server put in <script id="page-data"> for this page. */
  function pageData() {
    const node = document.getElementById("page-data");
    return node ? JSON.parse(node.textContent || "null") : null;
  }

  // ----------------------------------------------------------------- time zones
  /** The zone times are shown in: "UTC", "local" (this browser's) or an IANA name such as
   *  "Asia/Kolkata" — chosen in the header, remembered in localStorage. */
  function tz() {
    let stored = null;
    try { stored = localStorage.getItem(TZ_KEY); } catch (e) { /* storage blocked: UTC */ }
    if (!stored || stored === "UTC") return "UTC";
    if (stored === "local") return "local";
    return zoneFormatter(stored) ? stored : "UTC";
  }
  /** The IANA name of this browser's zone ("UTC" when the browser does not say). */
  const localZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  /** The IANA name of the chosen zone. */
  const tzName = () => (tz() === "local" ? localZone() : tz());
  const formatters = new Map();
  /** A formatter giving the numeric parts of a date in `zone` (null for a zone the browser does not know). */
  function zoneFormatter(zone) {
    if (!formatters.has(zone)) {
      let f = null;
      try {
        f = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit",
                                               day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
      } catch (e) { f = null; }
      formatters.set(zone, f);
    }
    return formatters.get(zone);
  }
  /** [year, month, day, hour, minute, second] of a Date on the wall clock of `zone`. */
  function wallClock(d, zone) {
    if (zone === "UTC") return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()];
    const parts = {};
    for (const p of zoneFormatter(zone).formatToParts(d)) parts[p.type] = Number(p.value);
    return [parts.year, parts.month, parts.day, parts.hour % 24, parts.minute, parts.second];
  }
  /** Format an ISO timestamp in the chosen zone: "2024-03-05 06:00:00" (" UTC" added when the zone is UTC). */
  function fmtTime(iso, { seconds = true } = {}) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const zone = tzName();
    const parts = wallClock(d, zone);
    const p = (n) => String(n).padStart(2, "0");
    const text = `${parts[0]}-${p(parts[1])}-${p(parts[2])} ${p(parts[3])}:${p(parts[4])}${seconds ? ":" + p(parts[5]) : ""}`;
    return zone === "UTC" ? `${text} UTC` : text;
  }
  /** "2024-03-01T10:00[:ss]" (a datetime-local value) read on the chosen zone's wall clock -> ISO UTC,
   *  "" when empty, null when unreadable. */
  function zonedToIso(value) {
    if (!value) return "";
    const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?/.exec(String(value).trim());
    if (!m) return null;
    const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x || 0));
    const wanted = Date.UTC(y, mo - 1, d, h, mi, s);
    if (Number.isNaN(wanted)) return null;
    const zone = tzName();
    const offsetAt = (t) => { const w = wallClock(new Date(t), zone); return Date.UTC(w[0], w[1] - 1, w[2], w[3], w[4], w[5]) - t; };
    let t = wanted - offsetAt(wanted);
    t = wanted - offsetAt(t);  // once more across a DST change
    return new Date(t).toISOString();
  }
  /** An ISO timestamp as a datetime-local value ("2024-03-01T10:00:00") on the chosen zone's wall clock. */
  function isoToZonedInput(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    const w = wallClock(d, tzName());
    const p = (n) => String(n).padStart(2, "0");
    return `${w[0]}-${p(w[1])}-${p(w[2])}T${p(w[3])}:${p(w[4])}:${p(w[5])}`;
  }
  /** Seconds as "1h 02m", "3m 04s", "0.4s". */
  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const s = Number(seconds);
    if (s < 10) return `${s.toFixed(1)}s`;
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = Math.floor(s % 60);
    if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
    if (m) return `${m}m ${String(r).padStart(2, "0")}s`;
    return `${r}s`;
  }
  /** Re-render every <time data-iso> (and let pages re-render theirs) when the zone changes. */
  const tzListeners = [];
  function onTimezoneChange(fn) { tzListeners.push(fn); }
  function refreshTimes(root = document) {
    root.querySelectorAll("time[data-iso]").forEach((t) => { t.textContent = fmtTime(t.dataset.iso); });
  }
  function timeEl(iso) { return el("time", { datetime: iso || "", dataset: { iso: iso || "" } }, fmtTime(iso)); }

  // --------------------------------------------------------------------- states
  /** A coloured square (or pill with text) for a task/run state. */
  function stateBadge(state, { text = false, title } = {}) {
    const s = state || "none";
    return el("span", { class: `${text ? "pill" : "state"} s-${s}`, title: title || s }, text ? s : "");
  }

  // -------------------------------------------------------------------- polling
  /** Call fn now and then every `ms` while the page is visible; returns a stop function.
   *  Errors are shown once in the flash area and polling continues. */
  function poll(fn, ms) {
    let timer = null, stopped = false;
    const tick = async () => {
      if (stopped) return;
      if (document.visibilityState === "visible") {
        try { await fn(); } catch (e) { flash(e.message, true); }
      }
      timer = setTimeout(tick, ms);
    };
    tick();
    return () => { stopped = true; clearTimeout(timer); };
  }

  function flash(message, isError = false) {
    const node = document.getElementById("flash");
    if (!node) return;
    node.textContent = message;
    node.className = isError ? "flash error" : "flash";
    node.hidden = false;
    clearTimeout(flash._t);
    flash._t = setTimeout(() => { node.hidden = true; }, 6000);
  }

  // -------------------------------------------------------------------- dialogs
  /* Every open modal, newest last. Escape closes the newest; Tab and Shift+Tab stay inside it;
   * closing gives the focus back to what had it before. */
  const modals = [];
  const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), '
    + 'textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';
  const focusables = (root) => [...root.querySelectorAll(FOCUSABLE)].filter((n) => n.offsetParent !== null || n === document.activeElement);

  /** Show `content` (a node) as a modal over the page: {label, className, onClose}. Returns {close, node}.
   *  Escape, a click on the backdrop and close() all close it (once). */
  function modal(content, { label = "", className = "", onClose } = {}) {
    const previous = document.activeElement;
    const overlay = el("div", { class: `dialog ${className}`.trim(), role: "dialog", "aria-modal": "true", "aria-label": label || null }, content);
    let open = true;
    const entry = { node: overlay, close: () => {
      if (!open) return;
      open = false;
      overlay.remove();
      const i = modals.indexOf(entry);
      if (i >= 0) modals.splice(i, 1);
      if (previous && typeof previous.focus === "function" && previous.isConnected) previous.focus();
      if (onClose) onClose();
    } };
    overlay.addEventListener("mousedown", (e) => { if (e.target === overlay) entry.close(); });
    modals.push(entry);
    document.body.append(overlay);
    const first = focusables(overlay)[0];
    if (first) first.focus(); else { overlay.tabIndex = -1; overlay.focus(); }
    return entry;
  }
  /** Whether a modal is open (page shortcuts stay quiet meanwhile). */
  const modalOpen = () => modals.length > 0;

  window.addEventListener("keydown", (e) => {
    const top = modals[modals.length - 1];
    if (!top) return;
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      top.close();
    } else if (e.key === "Tab") {
      const items = focusables(top.node);
      if (!items.length) { e.preventDefault(); return; }
      const first = items[0], last = items[items.length - 1];
      const inside = top.node.contains(document.activeElement);
      if (e.shiftKey && (document.activeElement === first || !inside)) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && (document.activeElement === last || !inside)) { e.preventDefault(); first.focus(); }
    }
  }, true);

  /** A modal dialog with a title, body nodes and buttons [{label, primary, danger, onclick}].
   *  The body scrolls inside the dialog, which is never taller than the window; the title and buttons stay. */
  function dialog(title, body, buttons) {
    const panel = el("div", { class: "panel" }, el("h2", {}, title), el("div", { class: "dialog-body" }, body),
      el("div", { class: "toolbar dialog-buttons" },
        el("button", { type: "button", onclick: () => entry.close() }, "Cancel"),
        ...buttons.map((b) => el("button", {
          type: "button", class: b.danger ? "danger" : b.primary ? "primary" : "",
          onclick: async () => { if ((await b.onclick()) !== false) entry.close(); },
        }, b.label))));
    const entry = modal(panel, { label: title });
    // Focus the first field of the body, or else the dialog's first button.
    const field = panel.querySelector(".dialog-body").querySelector(
      'input:not([type="hidden"]):not([disabled]):not([readonly]), select:not([disabled]), textarea:not([disabled])');
    if (field) field.focus();
    return { close: entry.close, node: entry.node };
  }

  // ------------------------------------------------------------------ top bar
  /** The Browse / Admin menus: a button with aria-expanded opens its list; Escape, a click outside or
   *  Tab away closes it; arrow keys move between its links. */
  function initMenus() {
    const menus = [...document.querySelectorAll(".navmenu")];
    const closeAll = (except) => menus.forEach((m) => { if (m !== except) setOpen(m, false); });
    function setOpen(menu, open) {
      menu.querySelector(".navmenu-button").setAttribute("aria-expanded", String(open));
      menu.querySelector(".navmenu-list").hidden = !open;
    }
    for (const menu of menus) {
      const button = menu.querySelector(".navmenu-button");
      const links = () => [...menu.querySelectorAll(".navmenu-list a")];
      button.addEventListener("click", () => {
        const open = button.getAttribute("aria-expanded") !== "true";
        closeAll(menu);
        setOpen(menu, open);
      });
      button.addEventListener("keydown", (e) => {
        if (e.key === "ArrowDown") { e.preventDefault(); closeAll(menu); setOpen(menu, true); links()[0]?.focus(); }
      });
      menu.addEventListener("keydown", (e) => {
        const items = links();
        const i = items.indexOf(e.target);
        if (e.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
          e.preventDefault(); e.stopPropagation(); setOpen(menu, false); button.focus();
        } else if (i >= 0 && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
          e.preventDefault();
          items[(i + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length].focus();
        }
      });
      menu.addEventListener("focusout", (e) => { if (!menu.contains(e.relatedTarget) && e.relatedTarget) setOpen(menu, false); });
    }
    document.addEventListener("click", (e) => { if (!e.target.closest(".navmenu")) closeAll(null); });
  }

  /** The zone chooser: UTC, the browser's zone, then every zone the browser knows. */
  function initTimezoneChooser() {
    const select = document.getElementById("tz-select");
    if (!select) return;
    const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
    const current = tz();
    const options = [el("option", { value: "UTC" }, "UTC"), el("option", { value: "local" }, `Local (${localZone()})`)];
    const group = el("optgroup", { label: "All time zones" },
      zones.filter((z) => z !== "UTC").map((z) => el("option", { value: z }, z)));
    if (current !== "UTC" && current !== "local" && !zones.includes(current)) group.prepend(el("option", { value: current }, current));
    select.replaceChildren(...options, group);
    select.value = current;
    select.title = `Times are shown in ${tzName()}`;
    select.addEventListener("change", () => {
      try { localStorage.setItem(TZ_KEY, select.value); } catch (e) { /* not remembered */ }
      select.title = `Times are shown in ${tzName()}`;
      refreshTimes();
      tzListeners.forEach((fn) => fn());
    });
  }

  /** Light / dark / system: theme.js (loaded in <head>) applies it before the first paint. */
  function initThemeChooser() {
    const select = document.getElementById("theme-select");
    if (!select || !window.twTheme) return;
    select.value = window.twTheme.mode();
    select.addEventListener("change", () => window.twTheme.set(select.value));
  }

  window.tw = { api, ApiError, el, svg, pageData, fmtTime, fmtDuration, timeEl, refreshTimes, onTimezoneChange,
                stateBadge, poll, flash, dialog, modal, modalOpen, tz, tzName, zonedToIso, isoToZonedInput };
  document.addEventListener("DOMContentLoaded", () => {
    initMenus(); initTimezoneChooser(); initThemeChooser(); refreshTimes();
  });
})();
