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
  const tz = () => (localStorage.getItem(TZ_KEY) === "local" ? "local" : "UTC");
  /** Format an ISO timestamp in the chosen zone (UTC or the browser's): "2024-03-05 06:00:00". */
  function fmtTime(iso, { seconds = true } = {}) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const utc = tz() === "UTC";
    const p = (n) => String(n).padStart(2, "0");
    const parts = utc
      ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
      : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
    const text = `${parts[0]}-${p(parts[1])}-${p(parts[2])} ${p(parts[3])}:${p(parts[4])}${seconds ? ":" + p(parts[5]) : ""}`;
    return utc ? `${text} UTC` : text;
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

  /** A modal dialog with a title, body nodes and buttons [{label, primary, danger, onclick}]. */
  function dialog(title, body, buttons) {
    const close = () => overlay.remove();
    const overlay = el("div", { class: "dialog", role: "dialog", "aria-modal": "true", "aria-label": title },
      el("div", { class: "panel" }, el("h2", {}, title), body,
        el("div", { class: "toolbar dialog-buttons" },
          el("button", { type: "button", onclick: close }, "Cancel"),
          ...buttons.map((b) => el("button", {
            type: "button", class: b.danger ? "danger" : b.primary ? "primary" : "",
            onclick: async () => { if ((await b.onclick()) !== false) close(); },
          }, b.label)))));
    overlay.addEventListener("click", (e) => { if (e.target === overlay) close(); });
    document.body.append(overlay);
    return { close, node: overlay };
  }

  function initTimezoneToggle() {
    const button = document.getElementById("tz-toggle");
    if (!button) return;
    const label = () => { button.textContent = tz() === "UTC" ? "UTC" : "Local"; };
    label();
    button.addEventListener("click", () => {
      localStorage.setItem(TZ_KEY, tz() === "UTC" ? "local" : "UTC");
      label();
      refreshTimes();
      tzListeners.forEach((fn) => fn());
    });
  }

  window.tw = { api, ApiError, el, svg, pageData, fmtTime, fmtDuration, timeEl, refreshTimes, onTimezoneChange,
                stateBadge, poll, flash, dialog, tz };
  document.addEventListener("DOMContentLoaded", () => { initTimezoneToggle(); refreshTimes(); });
})();
