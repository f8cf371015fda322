/* The Code tab's version picker: choosing a version shows it at once (the form's button stays
 * for keyboards and for pages without scripts). */
(function () {
  "use strict";
  const form = document.querySelector("form.version-picker");
  if (!form) return;
  const select = form.querySelector("select");
  select.addEventListener("change", () => form.submit());
})();
