/* DAG dependencies: every DAG and the assets, triggers and sensors linking them
 * (/ui/data/dag-dependencies), laid out in the browser (graph_view.js). A DAG opens its graph. */
(function () {
  "use strict";
  const enc = encodeURIComponent;
  const root = document.getElementById("dependencies-view");
  const toolbar = tw.el("div", { class: "graph-page-toolbar" });
  const canvas = tw.el("div", { class: "tw-graph-canvas", tabindex: "0", "aria-label": "DAG dependencies graph" });
  root.append(toolbar, canvas);
  const KIND = { asset: "through an asset", trigger: "triggers", sensor: "waited for by a sensor", marker: "cleared by a marker" };

  async function load() {
    twg.loading(canvas, "Loading…");
    const { data } = await tw.api("/ui/data/dag-dependencies");
    if (!data.nodes.length) { canvas.replaceChildren(tw.el("p", { class: "muted graph-empty" }, "No DAGs yet.")); return; }
    const nodes = data.nodes.map((n) => n.kind === "asset"
      ? { id: n.id, kind: "asset", title: n.label, fullTitle: n.label, subtitle: "asset",
          onOpen: () => window.location.assign(`/assets/graph?asset=${enc(n.label)}`), tip: () => [n.label, n.uri, "asset"] }
      : { id: n.id, kind: "dag", title: n.label, fullTitle: n.label,
          subtitle: n.missing ? "DAG (not found)" : n.is_paused ? "DAG · paused" : "DAG",
          onOpen: () => window.location.assign(`/dags/${enc(n.dag_id)}/graph`), tip: () => [n.dag_id, "click to open its graph"] });
    const edges = data.edges.map((e) => ({ source: e.source, target: e.target, cls: `link link-${e.kind}`,
                                           label: e.kind === "asset" ? null : e.kind }));
    const drawn = await twg.draw(canvas, { label: "DAG dependencies", nodes, clusters: [], edges });
    toolbar.replaceChildren(
      tw.el("span", { class: "muted" }, `${data.nodes.filter((n) => n.kind === "dag").length} DAGs · ${data.edges.length} links`),
      tw.el("button", { type: "button", onclick: () => { drawn.panZoom.resize(); drawn.panZoom.fit(); drawn.panZoom.center(); } }, "Fit"),
      tw.el("span", { class: "muted" }, Object.entries(KIND).map(([k, v]) => `${k}: ${v}`).join(" · ")));
  }

  load().catch((e) => canvas.replaceChildren(tw.el("p", { class: "banner-error", role: "alert" }, `The dependencies could not be shown: ${e.message}`)));
})();
