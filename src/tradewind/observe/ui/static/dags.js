/* The DAG list: filled from GET /api/v1/dags. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", async () => {
    const root = document.getElementById("dag-list");
    const { data } = await tw.api("dags", { params: { limit: 100 } });
    root.append(tw.el("table", { class: "data" },
      tw.el("thead", {}, tw.el("tr", {}, tw.el("th", {}, "DAG"), tw.el("th", {}, "Schedule"), tw.el("th", {}, "Paused"))),
      tw.el("tbody", {}, data.dags.map((d) => tw.el("tr", {},
        tw.el("td", {}, tw.el("a", { href: `/dags/${encodeURIComponent(d.dag_id)}/grid` }, d.dag_display_name || d.dag_id)),
        tw.el("td", {}, d.timetable_summary || ""), tw.el("td", {}, d.is_paused ? "yes" : "no"))))));
  });
})();
