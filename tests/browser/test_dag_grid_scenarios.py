"""The per-DAG Grid, Details and Code pages in a real browser: groups collapse, a mapped task is one
cell with its instance count, a cell opens its task instance in the panel, the run panel shows the run."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_grid_groups_mapped_tasks_and_cells_open_task_instances(page, server, screenshot):
    server.run_to_success("ui_grid", "grid_run_1")
    page.goto("/dags/ui_grid/grid")
    rows = page.locator("#grid .grid-row[data-row]:not([data-row=runs]):not([data-row=labels])")
    expect(rows).to_have_count(6)  # start, work (group), work.a, work.b, double, end
    expect(page.locator("#grid .grid-runbars .gc b")).to_have_count(1)
    cells = page.locator("#grid .grid-row.task .gc i")
    expect(cells).to_have_count(5)
    for i in range(5):
        expect(cells.nth(i)).to_have_class(re.compile(r"\bs-success\b"))
    group = page.locator("#grid .grid-row.group")
    expect(group.locator(".gc i")).to_have_class(re.compile(r"\bs-success\b"))  # summary of its children
    mapped = page.locator("#grid .grid-row.task", has_text="double")
    expect(mapped.locator(".gl")).to_contain_text("[3]")
    expect(mapped.locator(".gc i")).to_have_class(re.compile(r"\bm\b"))
    mapped.locator(".gc i").hover()
    expect(page.locator("#grid-tip")).to_contain_text("3/3 success")
    screenshot(page, "grid-groups")

    # Collapsing the group hides its tasks; expanding shows them again.
    children = page.locator("#grid .grid-row.task", has_text=re.compile(r"^\s*[ab]\s*$"))
    expect(children).to_have_count(2)
    group.locator(".gl").click()
    expect(children.first).to_be_hidden()
    group.locator(".gl").click()
    expect(children.first).to_be_visible()

    # The run bar opens the run panel; a task cell opens its task instance in the same panel,
    # whose "Open full page" link leads to the task instance page.
    page.locator("#grid .grid-runbars .gc b").click()
    side = page.locator("#grid-side")
    expect(side).to_contain_text("grid_run_1")
    expect(side).to_contain_text("success")
    expect(page.locator("#grid .grid-runlabels span")).to_have_count(1)  # the run's date above its column
    page.locator("#grid .grid-row.task", has_text="end").locator(".gc i").click()
    expect(page).to_have_url(re.compile(r"/dags/ui_grid/grid\?run_id=grid_run_1&task_id=end&map_index=-1$"))
    expect(side.locator(".gp-title")).to_contain_text("end")
    side.get_by_role("link", name="Open full page").click()
    expect(page).to_have_url(re.compile(r"/dags/ui_grid/runs/grid_run_1/tasks/end\?map_index=-1$"))
    assert page.console_errors == []


def test_details_code_and_runs_tabs(page, server, screenshot):
    page.goto("/dags/ui_grid/details")
    expect(page.locator(".doc-md h1")).to_have_text("Grid DAG")
    expect(page.locator(".doc-md strong")).to_have_text("group")
    tabs = page.get_by_role("navigation", name="DAG views")
    tabs.get_by_role("link", name="Code", exact=True).click()
    expect(page).to_have_url(re.compile(r"/dags/ui_grid/code$"))
    expect(page.locator(".code-view .highlight")).to_contain_text('TaskGroup("work")')
    screenshot(page, "dag-code")
    tabs.get_by_role("link", name="Runs", exact=True).click()
    expect(page.locator("#runs-table table")).to_be_visible()
    assert page.console_errors == []
