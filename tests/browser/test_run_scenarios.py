"""Steering DAGs from the browser: unpause, trigger, watch the grid turn green, mark a run failed.

Each test works on its own DAG of the session's folder (see ``browser_support.DAG_FILES``), so
the order they run in does not matter. Waiting is done with Playwright's ``expect`` (it retries
until the page shows the condition or the timeout passes), never with sleeps.
"""

from __future__ import annotations

import re

from browser_support import RUN_TIMEOUT_MS
from playwright.sync_api import expect

TASKS = ("extract", "load")


def _grid_bars(page):
    return page.locator("#grid .grid-runbars .gc b")


def _newest_cells(page):
    return page.locator("#grid .grid-row.task .gc i:last-child")


def test_unpause_and_trigger_from_the_list_then_the_grid_turns_green_without_a_reload(page, server, screenshot):
    page.goto("/dags")
    switch = page.get_by_role("switch", name="Unpause ui_trigger")
    expect(switch).not_to_be_checked()
    switch.check()
    expect(page.get_by_role("switch", name="Pause ui_trigger")).to_be_checked()
    assert server.ok("GET", "dags/ui_trigger")["is_paused"] is False

    page.get_by_role("button", name="Trigger ui_trigger").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Trigger", exact=True).click()
    expect(page.locator("#flash")).to_contain_text("Triggered ui_trigger")
    runs = server.ok("GET", "dags/ui_trigger/dagRuns")["dag_runs"]
    assert len(runs) == 1 and runs[0]["run_type"] == "manual"

    page.locator('#dag-rows tr[data-dag-id="ui_trigger"] a.dag-name').click()
    expect(page).to_have_url(re.compile(r"/dags/ui_trigger/grid"))
    expect(_grid_bars(page)).to_have_count(1)
    expect(page.locator("#grid .grid-row.task")).to_have_count(len(TASKS))
    # From here on the page must update itself: a reload would drop this marker.
    page.evaluate("window.__noReload = true")

    page.locator("#dag-trigger").click()
    page.get_by_role("dialog").get_by_role("button", name="Trigger", exact=True).click()
    expect(_grid_bars(page)).to_have_count(2)
    expect(_grid_bars(page).last).to_have_class(re.compile(r"\bs-success\b"), timeout=RUN_TIMEOUT_MS)
    cells = _newest_cells(page)
    expect(cells).to_have_count(len(TASKS))
    for i in range(len(TASKS)):
        expect(cells.nth(i)).to_have_class(re.compile(r"\bs-success\b"))
    assert page.evaluate("window.__noReload") is True
    screenshot(page, "grid-green")
    assert page.console_errors == []


def test_mark_a_run_failed_from_the_grid(page, server, screenshot):
    server.run_to_success("ui_mark", "mark_run")
    page.goto("/dags/ui_mark/grid")
    bars = _grid_bars(page)
    expect(bars).to_have_count(1)
    expect(bars.first).to_have_class(re.compile(r"\bs-success\b"))
    bars.first.click()
    side = page.locator("#grid-side")
    expect(side).to_be_visible()
    expect(side).to_contain_text("mark_run")
    side.get_by_role("button", name="Mark failed").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Mark run mark_run as failed?")
    dialog.get_by_role("button", name="Mark failed").click()
    expect(bars.first).to_have_class(re.compile(r"\bs-failed\b"))
    assert server.run_state("ui_mark", "mark_run") == "failed"
    screenshot(page, "run-marked-failed")
    assert page.console_errors == []
