"""The run page (/dags/{dag_id}/runs/{run_id}) in a real browser: details and task instances of a
run that ran, the note saved and shown after a reload (as text), actions that change something,
and a readable 404 for an unknown run."""

from __future__ import annotations

import re

from log_viewer_support import log_run
from playwright.sync_api import expect


def test_run_details_task_instances_and_note(page, server, screenshot):
    run_id = log_run(server)
    page.goto(f"/dags/ui_logview/runs/{run_id}")
    expect(page.locator('.tabs a[aria-current="page"]')).to_have_text("Runs")
    expect(page.locator("#run-state .pill")).to_have_class(re.compile(r"\bs-success\b"))
    details = page.locator("#run-details")
    expect(details).to_contain_text("manual")
    expect(details).to_contain_text("DAG version")
    expect(page.locator("#run-conf")).to_have_text("{}")
    noisy = page.locator('#run-tis tr[data-task-id="noisy"]')
    expect(noisy.locator("td").nth(2)).to_have_text("2")
    expect(noisy.locator("a.run-ti-grid")).to_have_attribute(
        "href", f"/dags/ui_logview/grid?run_id={run_id}&task_id=noisy")
    expect(noisy.locator("a.run-ti-page")).to_have_attribute(
        "href", f"/dags/ui_logview/runs/{run_id}/tasks/noisy?map_index=-1")
    # A successful run offers "Mark failed" but not "Mark success" (it would change nothing).
    expect(page.locator('#run-actions button[data-action="Mark failed"]')).to_be_visible()
    expect(page.locator('#run-actions button[data-action="Mark success"]')).to_have_count(0)

    note = "Checked by <b>ops</b>\nsecond line"
    page.locator("#run-note-button").click()
    page.locator("#run-note-input").fill(note)
    page.locator("#run-note-save").click()
    expect(page.locator("#run-note-view")).to_have_text(note)
    page.reload()
    expect(page.locator("#run-note-view")).to_have_text(note)
    expect(page.locator("#run-note-view b")).to_have_count(0)
    assert server.ok("GET", f"dags/ui_logview/dagRuns/{run_id}")["note"] == note
    screenshot(page, "run-page")
    assert page.console_errors == []


def test_unknown_run_is_a_readable_404(page, server):
    log_run(server)
    response = page.goto("/dags/ui_logview/runs/no_such_run")
    assert response.status == 404
    expect(page.locator("#run-missing")).to_contain_text("has no run with id no_such_run")
    assert page.console_errors == []
