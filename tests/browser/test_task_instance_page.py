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
