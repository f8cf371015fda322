"""The per-DAG charts in a real browser: the graph (groups expand and collapse, states coloured,
a node opens its task instance), the Gantt bars, the duration/tries lines and the calendar day."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from playwright.sync_api import expect

DAG = "ui_charts"


def test_graph_gantt_duration_tries_and_calendar_of_a_finished_run(page, server, screenshot):
    server.run_to_success(DAG, "charts_1")
    # unpaused, the DAG also gets its latest scheduled run: let every run finish first
    runs = server.ok("GET", f"dags/{DAG}/dagRuns")["dag_runs"]
    for run in runs:
        assert server.wait_for_run(DAG, run["dag_run_id"]) == "success"
    days = {run["logical_date"][:10] for run in runs}

    page.goto(f"/dags/{DAG}/graph")
    nodes = page.locator(".graph-svg .node")
    expect(nodes).to_have_count(3)  # start, the collapsed group 'stage', end
    expect(page.locator(".graph-svg .group-node")).to_contain_text("stage")
    for i in range(3):  # every node is coloured by the run's state: success
        expect(nodes.nth(i).locator("rect.state-mark")).to_have_attribute("fill", re.compile(r"#1f9d3a", re.I))
    page.locator(".graph-svg .group-node").click()
    expect(page).to_have_url(re.compile(r"expanded=stage"))
    expect(nodes).to_have_count(4)
    expect(page.locator(".graph-svg .group-box")).to_have_count(1)
    expect(page.locator(".graph-svg .edge-label")).to_have_text("when ready")
    screenshot(page, "graph-expanded")
    page.locator(".graph-svg .group-title").click()  # collapse again from the open box's title
    expect(nodes).to_have_count(3)
    page.locator(".graph-svg .task-node", has_text="start").click()
    expect(page).to_have_url(re.compile(rf"/dags/{DAG}/runs/charts_1/tasks/start"))

    page.goto(f"/dags/{DAG}/gantt")
    expect(page.locator(".gantt-svg .gantt-bar")).to_have_count(4)
    expect(page.locator(".gantt-svg .row-label")).to_have_text(["start", "stage.first", "stage.second", "end"])
    page.locator(".gantt-svg .gantt-bar").first.hover()
    expect(page.locator(".chart-tip")).to_contain_text("try 1")
    screenshot(page, "gantt")

    page.goto(f"/dags/{DAG}/duration")
    expect(page.locator(".line-chart .point")).to_have_count(4 * len(runs))
    page.get_by_role("button", name="stage.first").click()  # the legend hides a task's line
    expect(page.locator(".line-chart .point")).to_have_count(3 * len(runs))
    screenshot(page, "task-duration")

    page.goto(f"/dags/{DAG}/tries")
    expect(page.locator(".line-chart .series")).to_have_count(4)

    page.goto(f"/dags/{DAG}/calendar")
    if all(day.startswith(str(datetime.now(timezone.utc).year)) for day in days):
        expect(page.locator(".calendar-svg .day-success")).to_have_count(len(days) + 1)  # + the legend's square
    screenshot(page, "calendar")
    assert page.console_errors == []
