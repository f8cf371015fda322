"""Signing in and the DAG list, in a real browser against a real standalone."""

from __future__ import annotations

import re

from browser_support import ADMIN, ADMIN_PASSWORD, DAG_IDS, login
from playwright.sync_api import expect


def test_anonymous_visit_goes_to_login_and_a_wrong_password_is_refused(anonymous_page, screenshot):
    page = anonymous_page
    page.goto("/dags")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    screenshot(page, "login")
    page.get_by_label("Username").fill(ADMIN)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login"))


def test_log_in_through_the_form_and_sign_out(anonymous_page):
    page = anonymous_page
    login(page, ADMIN, ADMIN_PASSWORD)
    expect(page.locator(".whoami")).to_contain_text(ADMIN)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    page.goto("/dags")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_dag_list_shows_every_dag_with_text_only_descriptions_and_the_import_error_banner(page, screenshot):
    """Every DAG listed, a <script> description shown as text, and the banner leading to the error."""
    page.goto("/dags")
    # Other modules of the session add DAGs of their own: every one of ours is listed.
    for dag_id in DAG_IDS:
        expect(page.locator(f'#dag-rows tr[data-dag-id="{dag_id}"]')).to_be_visible()
    # A <script> in a description is shown as text and never runs.
    listed = page.locator('#dag-rows tr[data-dag-id="ui_listed"]')
    expect(listed).to_contain_text("<script>window.__pwned = 1</script> only text")
    assert page.evaluate("window.__pwned") is None
    banner = page.locator("#import-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("1 DAG file failed to import")
    screenshot(page, "dag-list")
    assert page.console_errors == []
    banner.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/import-errors"))
    main = page.locator("main")
    expect(main).to_contain_text("ui_broken.py")
    expect(main).to_contain_text("broken on purpose for the banner")
    screenshot(page, "import-errors")
    assert page.console_errors == []


def test_dag_list_search_filters_rows(page):
    page.goto("/dags")
    expect(page.locator('#dag-rows tr[data-dag-id="ui_trigger"]')).to_be_visible()
    assert page.locator("#dag-rows tr[data-dag-id]").count() >= len(DAG_IDS)
    page.get_by_label("Search DAGs").fill("ui_mark")
    expect(page.locator("#dag-rows tr[data-dag-id]")).to_have_count(1)
    expect(page.locator('#dag-rows tr[data-dag-id="ui_mark"]')).to_be_visible()
    expect(page).to_have_url(re.compile(r"search=ui_mark"))
