/* Loaded in <head>, before the first paint: puts data-theme="light"|"dark" on <html> from the choice
 * remembered in localStorage ("light", "dark" or "system", the default, which follows the system's
 * prefers-color-scheme and its changes). A file, not inline script: the Content-Security-Policy is 'self'. */
(function () {
  "use strict";
  var KEY = "tradewind.theme";
  var query = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  function mode() {
    var stored = null;
    try { stored = window.localStorage.getItem(KEY); } catch (e) { stored = null; }
    return stored === "light" || stored === "dark" ? stored : "system";
  }
  function apply() {
    var m = mode();
    var dark = m === "dark" || (m === "system" && query !== null && query.matches);
    document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
    document.documentElement.setAttribute("data-theme-mode", m);
  }
  function set(m) {
    try {
      if (m === "light" || m === "dark") window.localStorage.setItem(KEY, m);
      else window.localStorage.removeItem(KEY);
    } catch (e) { /* not remembered; still applied below for this page */ }
    apply();
    if (m !== mode()) document.documentElement.setAttribute("data-theme", m === "dark" ? "dark" : "light");
  }
  apply();
  if (query !== null) {
    if (query.addEventListener) query.addEventListener("change", apply); else if (query.addListener) query.addListener(apply);
  }
  // Another tab changed the choice.
  window.addEventListener("storage", function (e) { if (e.key === KEY) apply(); });
  window.twTheme = { mode: mode, set: set, apply: apply };
})();
