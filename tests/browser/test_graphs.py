"""The graph views in a real browser: the DAG graph laid out in the page (dagre) with every label
inside its box (long task ids, task groups, a mapped task; light and dark), groups expanding and
collapsing, a task opening the grid panel, assets drawn; the DAG dependencies and asset graph pages,
and an asset event created from the asset graph's dialog."""

from __future__ import annotations

import re
import textwrap

from cli_support import wait_for
from playwright.sync_api import expect

DAG = "ui_graphs_long"
LONG = "extract_the_customer_orders_from_the_warehouse_and_normalise_every_currency_to_euros_daily"
SOURCE = textwrap.dedent(f'''
    from datetime import datetime
    from tradewind import DAG, Asset, TaskGroup, task
    from tradewind.definition.operators.empty import EmptyOperator

    report = Asset(name="ui_graphs_report", uri="s3://ui-graphs/report.csv")
    with DAG({DAG!r}, schedule=None, start_date=datetime(2024, 1, 1), is_paused_upon_creation=True):
        first = EmptyOperator(task_id={LONG!r})
        with TaskGroup("a_task_group_with_a_rather_long_name_too") as group:
            inner = EmptyOperator(task_id="inner_step_with_a_long_identifier_for_the_layout")
            inner >> EmptyOperator(task_id="w")

        @task
        def double(x):
            return 2 * x

        first >> group >> double.expand(x=[1, 2, 3]) >> EmptyOperator(task_id="publish", outlets=[report])

    with DAG("ui_graphs_consumer", schedule=[report], start_date=datetime(2024, 1, 1), is_paused_upon_creation=True):
        EmptyOperator(task_id="read")
''')

#: Every node's label, subtitle and count inside its box; open groups' titles inside theirs.
OVERFLOWS = """() => {
  const bad = [];
  const inside = (t, r) => { const a = t.getBoundingClientRect(), b = r.getBoundingClientRect();
    return a.width > 0 && a.left >= b.left - 0.5 && a.right <= b.right + 0.5 && a.top >= b.top - 0.5 && a.bottom <= b.bottom + 0.5; };
  document.querySelectorAll("svg.tw-graph .node").forEach((g) => {
    const box = g.querySelector("rect.box");
    g.querySelectorAll("text").forEach((t) => { if (t.textContent && !inside(t, box)) bad.push(g.dataset.id + ": " + t.textContent); });
    const label = g.querySelector(".node-label"), count = g.querySelector(".node-count");
    if (count.textContent) {  // the mapped count does not overlap the operator name
      const sub = g.querySelector(".node-sub").getBoundingClientRect(), c = count.getBoundingClientRect();
      if (sub.right > c.left) bad.push(g.dataset.id + ": count overlaps " + label.textContent);
    }
  });
  document.querySelectorAll("svg.tw-graph .cluster").forEach((g) => {
    const t = g.querySelector("text"); if (!inside(t, g.querySelector("rect"))) bad.push("cluster " + g.dataset.id);
  });
  return bad;
}"""


def _ensure_dag(server) -> None:
    path = server.home.path / "dags" / "ui_graphs_long.py"
    if not path.exists():
        path.write_text(SOURCE)

    def parsed() -> bool:
        return server.api("GET", f"dags/{DAG}").status_code == 200 and server.api("GET", "dags/ui_graphs_consumer").status_code == 200

    wait_for(parsed, deadline=90, interval=0.5, what="the DAG processor to parse the graph DAGs")


def test_dag_graph_labels_fit_groups_toggle_and_a_task_opens_the_grid(page, server, screenshot):
    _ensure_dag(server)
    server.run_to_success(DAG, "graphs_1")
    page.goto(f"/dags/{DAG}/graph")
    svg = page.locator("svg.tw-graph[data-ready='1']")
    expect(svg).to_have_count(1)
    nodes = page.locator("svg.tw-graph .node")
    # first, the collapsed group, double, publish and the asset it produces
    expect(nodes).to_have_count(5)
    expect(page.locator(".graph-toolbar")).not_to_contain_text("null")
    long_node = page.locator(f"svg.tw-graph .node[data-id='{LONG}']")
    expect(long_node).to_have_attribute("aria-label", LONG)  # the full id, the label is ellipsised
    expect(long_node.locator(".node-label")).to_have_text(re.compile(r"…$"))
    expect(page.locator("svg.tw-graph .node[data-id='double'] .node-count")).to_have_text("[3]")
    expect(long_node).to_have_attribute("data-state", "success")
    expect(page.locator("svg.tw-graph .node.kind-asset")).to_have_attribute("aria-label", "ui_graphs_report")
    page.get_by_role("button", name="Expand all groups").click()
    expect(page.locator("svg.tw-graph .cluster")).to_have_count(1)
    expect(nodes).to_have_count(6)
    expect(page).to_have_url(re.compile(r"expanded=a_task_group"))
    expect(svg).to_have_count(1)
    for theme in ("light", "dark"):
        page.evaluate(f"document.documentElement.dataset.theme = {theme!r}")
        assert page.evaluate(OVERFLOWS) == [], theme
        screenshot(page, f"graph-{theme}")
    page.locator("svg.tw-graph .cluster-title").click()  # collapse again from the open group's title
    expect(page.locator("svg.tw-graph .cluster")).to_have_count(0)
    expect(nodes).to_have_count(5)
    page.locator("svg.tw-graph .node[data-id='double']").click()
    expect(page).to_have_url(re.compile(rf"/dags/{DAG}/grid\?run_id=graphs_1&task_id=double$"))
    assert page.console_errors == []


def test_dependencies_and_asset_graph_pages(page, server, screenshot):
    _ensure_dag(server)
    page.goto("/dag-dependencies")
    expect(page.locator("svg.tw-graph[data-ready='1']")).to_have_count(1)
    expect(page.locator("svg.tw-graph .node[data-id='dag:ui_graphs_consumer']")).to_have_count(1)
    expect(page.locator("svg.tw-graph .edge[data-target='dag:ui_graphs_consumer']")).to_have_count(1)
    assert page.evaluate(OVERFLOWS) == []
    screenshot(page, "dag-dependencies")

    page.goto("/assets/graph?asset=ui_graphs_report")
    expect(page.locator("svg.tw-graph[data-ready='1']")).to_have_count(1)
    expect(page.locator("svg.tw-graph .node.selected")).to_have_attribute("aria-label", "ui_graphs_report")
    page.get_by_role("button", name="Create asset event").click()
    dialog = page.get_by_role("dialog", name="Create asset event")
    dialog.locator("textarea").fill("not json")
    dialog.get_by_role("button", name="Create event").click()
    expect(dialog.locator(".form-error")).to_contain_text("not valid JSON")
    dialog.locator("textarea").fill('{"rows": 3}')
    dialog.get_by_role("button", name="Create event").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("#flash")).to_contain_text("created for ui_graphs_report")
    events = server.ok("GET", "datasets/events", params={"limit": 100}).get("dataset_events") or []
    assert any(e.get("extra") == {"rows": 3} for e in events), events
    screenshot(page, "asset-graph")
    assert page.console_errors == []
