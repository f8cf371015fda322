"""The connection dialog in a real browser: the type picker shows the chosen type's fields (relabelled,
hidden, its own extra fields), extra fields are saved into ``extra``, Test shows its answer in the dialog,
the dialog fits a 900 px tall window and Escape closes it; the audit log shows extra as JSON text."""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect


def _open_new(page):
    page.goto("/connections")
    page.get_by_role("button", name="+ Connection").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Connection type", exact=True)).to_be_visible()
    return dialog


def test_type_picker_shows_type_fields_and_saves_extra_fields_into_extra(page, server, screenshot):
    dialog = _open_new(page)
    dialog.get_by_label("Connection id").fill("browser_pg")
    dialog.get_by_label("Connection type", exact=True).select_option("postgres")
    expect(dialog.locator("#conn-type-info")).to_contain_text("Postgres")
    expect(dialog.locator('label[for="conn-schema"]')).to_have_text("Database")
    expect(dialog.get_by_label("Host", exact=True)).to_have_attribute("placeholder", "db.example.com")
    dialog.get_by_label("SSL mode").select_option("require")
    dialog.get_by_label("Connect timeout (s)").fill("7")
    extra = dialog.get_by_label("Extra (JSON object)")
    expect(extra).to_have_value(re.compile(r'"sslmode": "require"'))
    # Typing into the JSON box fills the matching field too.
    extra.fill('{"sslmode": "verify-full", "connect_timeout": 7, "keepalives": 1}')
    expect(dialog.get_by_label("SSL mode")).to_have_value("verify-full")
    dialog.get_by_label("Host", exact=True).fill("db.internal")
    dialog.get_by_label("Database", exact=True).fill("sales")
    # The dialog fits a 900 px tall window: its buttons are on screen without scrolling the page.
    box = dialog.locator(".panel").bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 900
    expect(dialog.get_by_role("button", name="Create", exact=True)).to_be_in_viewport()
    screenshot(page, "connection-dialog-postgres")
    # Another type: its own labels and fields replace postgres's; back to postgres keeps the values.
    dialog.get_by_label("Connection type", exact=True).select_option("aws")
    expect(dialog.get_by_label("AWS Access Key ID")).to_be_visible()
    expect(dialog.get_by_label("Region")).to_be_visible()
    expect(dialog.locator('[data-field="host"]')).to_be_hidden()
    expect(dialog.get_by_label("SSL mode")).to_have_count(0)
    dialog.get_by_label("Connection type", exact=True).select_option("postgres")
    expect(dialog.get_by_label("SSL mode")).to_have_value("verify-full")
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("#flash")).to_contain_text("Connection browser_pg created")
    stored = server.ok("GET", "connections/browser_pg")
    assert stored["conn_type"] == "postgres" and (stored["host"], stored["schema"]) == ("db.internal", "sales")
    assert json.loads(stored["extra"]) == {"sslmode": "verify-full", "connect_timeout": 7, "keepalives": 1}
    # Edit: the dialog opens with the type's fields filled from extra.
    page.locator("tr", has_text="browser_pg").get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("SSL mode")).to_have_value("verify-full")
    expect(dialog.get_by_label("Connect timeout (s)")).to_have_value("7")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert page.console_errors == []


def test_test_button_shows_the_result_in_the_dialog(page, server):
    dialog = _open_new(page)
    dialog.get_by_label("Connection id").fill("browser_lite")
    dialog.get_by_label("Connection type", exact=True).select_option("sqlite")
    expect(dialog.get_by_label("Database file")).to_be_visible()
    expect(dialog.locator('[data-field="login"]')).to_be_hidden()
    dialog.get_by_label("Database file").fill(":memory:")
    dialog.get_by_role("button", name="Test", exact=True).click()
    result = dialog.locator("#conn-test-result")
    expect(result).to_contain_text("Test succeeded")
    # A type no registered hook can test: the reason shows, the dialog stays open.
    dialog.get_by_label("Connection type", exact=True).select_option("smtp")
    dialog.get_by_role("button", name="Test", exact=True).click()
    expect(result).to_contain_text("Test failed")
    expect(result).to_contain_text("smtp")
    expect(page.get_by_role("dialog")).to_have_count(1)
    assert server.api("GET", "connections/browser_lite").status_code == 404  # testing saves nothing
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert page.console_errors == []


def test_audit_log_shows_extra_as_json_text(page, server):
    server.ok("POST", "connections", json={"connection_id": "audited_conn", "conn_type": "generic"})
    page.goto("/audit-log?event=connection.create")
    row = page.locator("tr", has_text="audited_conn")
    expect(row).to_have_count(1)
    details = row.locator(".audit-extra")
    expect(details).to_have_text('{"conn_id": "audited_conn"}')
    assert "\\" not in details.inner_text()
    assert page.console_errors == []
