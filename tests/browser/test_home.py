"""The home page (/) in a real browser against a real standalone: where signing in lands, the
health of the running components, a failed run of the last day with its link, and a readable
message when its data cannot be loaded."""

from __future__ import annotations

import json
import re
import uuid

from browser_support import ADMIN, ADMIN_PASSWORD, login
from playwright.sync_api import expect


def test_signing_in_lands_on_home_with_the_components_health(anonymous_page, screenshot):
    page = anonymous_page
    login(page, ADMIN, ADMIN_PASSWORD)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Home", level=1)).to_be_visible()
    # The standalone runs a scheduler: it heartbeats, so it is healthy, with a heartbeat time shown.
    scheduler = page.locator('#home-health [data-component="scheduler"]')
    expect(scheduler).to_contain_text("Healthy")
    expect(scheduler).to_contain_text("Latest heartbeat")
    expect(scheduler.locator("time").first).to_have_attribute("datetime", re.compile(r"\d{4}-\d\d-\d\dT"))
    expect(page.locator('#home-health [data-component="metadatabase"]')).to_contain_text("Healthy")
    expect(page.locator('#home-health [data-component="workers"]')).to_be_visible()
    expect(page.locator("#health-banner")).to_be_hidden()
    # The session's broken DAG file is counted and leads to the import errors.
    errors = page.locator('#home-stats [data-stat="import_errors"]')
    expect(errors).to_contain_text("1")
    screenshot(page, "home")
    assert page.console_errors == []


def test_a_failed_run_shows_with_a_link_to_its_grid(page, server, screenshot):
    run_id = f"home_failed_{uuid.uuid4().hex[:8]}"
    server.trigger("ui_listed", run_id)  # paused DAG: the run stays queued until marked
    server.ok("PATCH", f"dags/ui_listed/dagRuns/{run_id}", json={"state": "failed"})
    page.goto("/")
    row = page.locator(f'#home-failed-runs tr[data-run-id="{run_id}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("ui_listed")
    expect(page.locator('#home-stats [data-stat="failed_runs"] .stat-value')).not_to_have_text("0")
    expect(page.locator('#home-history [data-state="failed"]')).not_to_contain_text("failed 0")
    screenshot(page, "home-failed-run")
    row.get_by_role("link", name=run_id).click()
    expect(page).to_have_url(re.compile(rf"/dags/ui_listed/grid\?run_id={run_id}$"))
    assert page.console_errors == []


def test_an_api_error_is_shown_as_a_readable_message(page):
    def fail(route):
        route.fulfill(status=503, content_type="application/problem+json",
                      body=json.dumps({"title": "Service Unavailable", "status": 503,
                                       "detail": "the metadata database is not reachable"}))

    page.route("**/ui/data/home", fail)
    page.goto("/")
    error = page.locator("#home-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Cannot load the home page data: the metadata database is not reachable (HTTP 503)")
    # No panel is left blank or stuck on "Loading…": each says the data is not available.
    expect(page.locator("#home-failed-runs")).to_contain_text("Not available")
    expect(page.locator("#home-health")).to_contain_text("Not available")
    # When the API answers again, the page recovers on its next refresh.
    page.unroute("**/ui/data/home")
    expect(error).to_be_hidden(timeout=15_000)
    expect(page.locator('#home-health [data-component="scheduler"]')).to_be_visible()
