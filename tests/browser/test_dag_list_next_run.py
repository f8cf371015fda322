"""The DAG list's "Next run" column and its layout at 1024 px, in a real browser.

The list's real answer is taken from the server and one DAG is given an interval schedule's next
run (logical date = start of the interval, run after = its end), so the test does not depend on
when the scheduler last computed it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

LOGICAL = "2031-05-01T00:00:00+00:00"
RUN_AFTER = "2031-05-02T00:00:00+00:00"
LONG_RUN_ID = "scheduled__2031-04-30T00:00:00+00:00_with_a_long_suffix_that_must_not_wrap"


def _with_next_run(route):
    response = route.fetch()
    body = response.json()
    for dag in body["dags"]:
        if dag["dag_id"] == "ui_listed":
            dag.update(next_dagrun=LOGICAL, next_dagrun_logical_date=LOGICAL, next_dagrun_data_interval_start=LOGICAL,
                       next_dagrun_data_interval_end=RUN_AFTER, next_dagrun_create_after=RUN_AFTER,
                       timetable_summary="0 8 * * 1-5")
            dag["recent_runs"] = [{"dag_run_id": LONG_RUN_ID, "state": "success", "run_type": "scheduled",
                                   "logical_date": "2031-04-30T00:00:00+00:00", "run_after": LOGICAL,
                                   "start_date": LOGICAL, "end_date": LOGICAL}]
    route.fulfill(response=response, json=body)


def test_next_run_shows_when_it_starts_with_the_logical_date_below_at_1024px(page, screenshot):
    page.set_viewport_size({"width": 1024, "height": 768})
    page.route(re.compile(r"/ui/data/dags\?"), _with_next_run)
    page.goto("/dags")
    row = page.locator('#dag-rows tr[data-dag-id="ui_listed"]')
    expect(row).to_be_visible()
    cell = row.locator(".next-run")
    expect(cell.locator(".next-run-at time")).to_have_attribute("datetime", RUN_AFTER)
    expect(cell.locator(".next-run-at")).to_contain_text("2031-05-02 00:00")
    expect(cell.locator(".next-run-logical")).to_contain_text("logical 2031-05-01 00:00")
    # Tokens stay on one line: the cron string, the dates, the last run's date.
    schedule = row.locator("td.schedule")
    expect(schedule).to_have_text("0 8 * * 1-5")
    for locator in (schedule.locator("span"), cell.locator(".next-run-at"), cell.locator(".next-run-logical")):
        box = locator.bounding_box()
        line = float(locator.evaluate("n => parseFloat(getComputedStyle(n).lineHeight) || 18"))
        assert box is not None and box["height"] < 1.8 * line, locator
    # The table fits the window: no sideways scrolling at 1024 px.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "dag-list-1024")
    assert page.console_errors == []
