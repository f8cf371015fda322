/* Asset graph: assets with the DAGs producing them and the DAGs scheduled on them
 * (/ui/data/assets/graph), laid out in the browser (graph_view.js). Clicking an asset selects it;
 * a user allowed to create asset events records one for it in a dialog (POST /api/v2/assets/events,
 * optional JSON "extra"). ?asset=<name> selects an asset on load. */
(function () {
  "use strict";
  const enc = encodeURIComponent;
  const pd = tw.pageData() || {};
  const root = document.getElementById("asset-graph-view");
  const toolbar = tw.el("div", { class: "graph-page-toolbar" });
  const detail = tw.el("div", { class: "asset-detail", "aria-live": "polite" });
  const canvas = tw.el("div", { class: "tw-graph-canvas", tabindex: "0", "aria-label": "Asset graph" });
  root.append(toolbar, detail, canvas);
  let drawn = null;

  function select(asset) {
    if (drawn) drawn.shapes.forEach((s, id) => s.g.classList.toggle("selected", id === asset.id));
    const parts = [tw.el("strong", {}, asset.label), " ", tw.el("span", { class: "muted" }, asset.uri)];
    if (pd.can_create_event) {
      parts.push(" ", tw.el("button", { type: "button", class: "primary", onclick: () => createEvent(asset) }, "Create asset event"));
    }
    detail.replaceChildren(...parts);
  }

  function createEvent(asset) {
    const extra = tw.el("textarea", { id: "asset-event-extra", rows: "5", cols: "48", spellcheck: "false" }, "{}");
    const error = tw.el("p", { class: "form-error", role: "alert" });
    const body = tw.el("div", {},
      tw.el("p", {}, "Record an event for ", tw.el("strong", {}, asset.label),
            ": DAGs scheduled on this asset get it queued."),
      tw.el("label", { for: "asset-event-extra" }, "Extra (JSON object)"), extra, error);
    tw.dialog("Create asset event", body, [{ label: "Create event", primary: true, onclick: async () => {
      let parsed;
      try { parsed = JSON.parse(extra.value || "{}"); } catch (e) { error.textContent = `Extra is not valid JSON: ${e.message}`; return false; }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) { error.textContent = "Extra must be a JSON object."; return false; }
      try {
        const { data } = await tw.api("/api/v2/assets/events", { method: "POST", body: { asset_id: asset.asset_id, extra: parsed } });
        tw.flash(`Asset event ${data.id} created for ${asset.label}.`);
        return true;
      } catch (e) { error.textContent = e.message; return false; }
    } }]);
  }

  async function load() {
    twg.loading(canvas, "Loading…");
    const { data } = await tw.api("/ui/data/assets/graph");
    if (!data.nodes.length) { canvas.replaceChildren(tw.el("p", { class: "muted graph-empty" }, "No assets yet.")); return; }
    const nodes = data.nodes.map((n) => n.kind === "asset"
      ? { id: n.id, kind: "asset", title: n.label, fullTitle: n.label, subtitle: n.group && n.group !== "asset" ? `asset · ${n.group}` : "asset",
          onOpen: () => select(n), tip: () => [n.label, n.uri, "click to select"] }
      : { id: n.id, kind: "dag", title: n.label, fullTitle: n.label, subtitle: n.is_paused ? "DAG · paused" : "DAG",
          onOpen: () => window.location.assign(`/dags/${enc(n.dag_id)}/graph`), tip: () => [n.dag_id, "click to open its graph"] });
    const edges = data.edges.map((e) => ({ source: e.source, target: e.target, cls: `link link-${e.kind}`,
      label: e.tasks.length ? e.tasks.join(", ") : null }));
    drawn = await twg.draw(canvas, { label: "Asset graph", nodes, clusters: [], edges });
    toolbar.replaceChildren(
      tw.el("span", { class: "muted" }, `${data.nodes.filter((n) => n.kind === "asset").length} assets`),
      tw.el("button", { type: "button", onclick: () => { drawn.panZoom.resize(); drawn.panZoom.fit(); drawn.panZoom.center(); } }, "Fit"));
    const wanted = pd.asset && data.nodes.find((n) => n.kind === "asset" && n.label === pd.asset);
    if (wanted) select(wanted);
    else detail.replaceChildren(tw.el("span", { class: "muted" }, "Click an asset to select it."));
  }

  load().catch((e) => canvas.replaceChildren(tw.el("p", { class: "banner-error", role: "alert" }, `The asset graph could not be shown: ${e.message}`)));
})();
