"""The task-instance page in a real browser: the header and the log of a try that ran, read
through the page's own script (REST log endpoint with its continuation token)."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_open_a_task_log_from_its_page(page, server, screenshot):
    server.run_to_success("ui_log", "log_run")
    page.goto("/dags/ui_log/runs/log_run/tasks/extract")
    expect(page.locator("#ti-title")).to_have_text("extract")
    expect(page.locator("#ti-summary .pill")).to_have_class(re.compile(r"\bs-success\b"))
    expect(page.locator("#ti-summary")).not_to_contain_text("null")
    expect(page.locator("#ti-tabs a.active")).to_have_text("Log")
    expect(page.locator("#log-text")).to_contain_text("log-line-from-ui_log")
    expect(page.locator("#log-download")).to_have_attribute(
        "href", "/ui/data/dags/ui_log/runs/log_run/tasks/extract/logs/1/download?map_index=-1")
    page.locator('#ti-tabs a[data-tab="details"]').click()
    expect(page.locator("#tab-details")).to_contain_text("Tries")
    screenshot(page, "task-instance-details")
    assert page.console_errors == []


def test_a_task_instance_note_is_saved_and_shown_after_reload(page, server):
    if server.api("GET", "dags/ui_log/dagRuns/log_run").status_code == 404:
        server.run_to_success("ui_log", "log_run")
    page.goto("/dags/ui_log/runs/log_run/tasks/extract#note")
    page.get_by_label("Note").fill("<i>rerun</i> after the fix")
    page.get_by_role("button", name="Save note").click()
    expect(page.locator("#ti-note-status")).to_have_text("Saved.")
    page.reload()
    expect(page.locator("#ti-note-text")).to_have_text("<i>rerun</i> after the fix")  # text, not markup
    expect(page.locator("#ti-note-text i")).to_have_count(0)
    note = server.ok("GET", "dags/ui_log/dagRuns/log_run/taskInstances/extract")["note"]
    assert note == "<i>rerun</i> after the fix"
    assert page.console_errors == []
