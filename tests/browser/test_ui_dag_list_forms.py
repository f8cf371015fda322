"""The DAG list's trigger form built from params, its tabs, and an Admin page's dialog, in a real browser."""

from __future__ import annotations

import re

from browser_support import RUN_TIMEOUT_MS
from playwright.sync_api import expect


def test_trigger_form_from_params_shows_the_servers_reason_then_triggers(page, server, screenshot):
    page.goto("/dags?search=ui_params")
    row = page.locator('#dag-rows tr[data-dag-id="ui_params"]')
    expect(row).to_be_visible()
    row.get_by_role("switch", name="Unpause ui_params").click()
    expect(page.locator("#flash")).to_contain_text("ui_params unpaused")
    page.get_by_role("button", name="Trigger ui_params").click()
    dialog = page.get_by_role("dialog")
    rows = dialog.get_by_label("rows")
    expect(rows).to_have_value("5")
    expect(dialog).to_contain_text("How many rows to load")
    expect(dialog.get_by_label("mode")).to_have_value("0")  # index of "fast" in the enum
    # minimum=1 is checked by the server; its 422 reason lands next to the field and the dialog stays open.
    rows.fill("0")
    dialog.get_by_role("button", name="Trigger", exact=True).click()
    field = dialog.locator('.form-row[data-field="conf.rows"]')
    expect(field).to_have_class(re.compile(r"invalid"))
    expect(field.locator(".field-error")).not_to_be_empty()
    screenshot(page, "trigger-form-422")
    rows.fill("3")
    dialog.get_by_label("mode").select_option(label="slow")
    dialog.get_by_role("button", name="Trigger", exact=True).click()
    expect(page.locator("#flash")).to_contain_text("Triggered ui_params")
    expect(page.get_by_role("dialog")).to_have_count(0)
    runs = server.ok("GET", "dags/ui_params/dagRuns")["dag_runs"]
    assert len(runs) == 1 and runs[0]["conf"] == {"rows": 3, "mode": "slow", "dry": False}
    # The run's square turns green in the list without a reload.
    expect(row.locator(".run-marks .s-success")).to_have_count(1, timeout=RUN_TIMEOUT_MS)
    assert page.console_errors == []


def test_paused_tab_and_variable_dialog(page, screenshot):
    page.goto("/dags")
    page.locator('#status-tabs a[data-status="paused"]').click()
    expect(page).to_have_url(re.compile(r"status=paused"))
    # The tab turns active only once the filtered list is rendered (the URL changes before that).
    expect(page.locator('#status-tabs a[data-status="paused"]')).to_have_class(re.compile(r"\bactive\b"))
    expect(page.locator("#dag-rows tr[data-dag-id]").first).to_be_visible()
    expect(page.locator("#dag-rows tr[data-dag-id]:not(.paused)")).to_have_count(0)
    expect(page.locator("#dag-rows input.pause-toggle:checked")).to_have_count(0)
    page.goto("/variables")
    page.get_by_role("button", name="+ Variable").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Key").fill("browser_api_key")
    dialog.get_by_label("Value").fill("s3cret")
    dialog.get_by_role("button", name="Create").click()
    row = page.locator("tr", has_text="browser_api_key")
    expect(row).to_contain_text("***")
    expect(row).not_to_contain_text("s3cret")
    screenshot(page, "variables")
    assert page.console_errors == []
