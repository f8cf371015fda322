"""The log viewer (static/log_viewer.js) in a real browser, on the logs of real tries: levels
filtered, a ::group:: folded, search counted and stepped, Tradewind's traceback frames folded,
markup kept as text, and a 200,000-line log opened a page at a time."""

from __future__ import annotations

import re

from log_viewer_support import log_run
from playwright.sync_api import expect


def _open_log(page, server, task_id: str):
    run_id = log_run(server)
    page.goto(f"/dags/ui_logview/runs/{run_id}")
    page.locator(f'#run-tis tr[data-task-id="{task_id}"] button.run-ti-log').click()
    viewer = page.locator("#run-log-viewer .log-viewer")
    expect(viewer.locator(".lv-status")).to_contain_text("lines")
    return viewer


def test_levels_groups_search_and_text(page, server, screenshot):
    viewer = _open_log(page, server, "noisy")
    body = viewer.locator(".lv-body")
    expect(viewer.locator(".lv-try")).to_have_value("2")
    warning = body.locator(".lv-line", has_text="a warning line")
    expect(warning).to_be_visible()
    expect(warning).to_have_class(re.compile(r"\blv-warning\b"))
    expect(viewer.locator(".lv-level-toggle.lv-warning .lv-count")).to_have_text("1")

    # A level unticked hides its lines; ticked again shows them.
    viewer.locator('input[data-level="WARNING"]').uncheck()
    expect(warning).to_be_hidden()
    expect(body.locator(".lv-line", has_text="an error line")).to_be_visible()
    viewer.locator('input[data-level="WARNING"]').check()
    expect(warning).to_be_visible()

    # The group is folded until its title is clicked.
    group = body.locator("details.lv-group")
    expect(group.locator("summary")).to_have_text("Setup phase")
    inside = group.locator(".lv-line", has_text="inside group 3")
    expect(inside).to_be_hidden()
    group.locator("summary").click()
    expect(inside).to_be_visible()
    group.locator("summary").click()
    expect(inside).to_be_hidden()

    # Search: three matches (one inside the folded group), stepped with Enter / Shift+Enter.
    search = viewer.locator(".lv-search")
    search.fill("needle")
    count = viewer.locator(".lv-search-count")
    expect(count).to_have_text("1 of 3")
    expect(body.locator("mark.lv-match")).to_have_count(3)
    expect(group).to_have_attribute("open", "")  # the first match is inside the group
    search.press("Enter")
    expect(count).to_have_text("2 of 3")
    search.press("Shift+Enter")
    expect(count).to_have_text("1 of 3")
    search.press("Shift+Enter")
    expect(count).to_have_text("3 of 3")
    expect(body.locator("mark.lv-current")).to_have_text("needle")
    search.fill("no such text anywhere")
    expect(count).to_have_text(re.compile("No matches"))

    # A line holding markup is text.
    expect(body.locator(".lv-line", has_text="<b>bold</b> stays text")).to_be_visible()
    expect(body.locator("b")).to_have_count(0)
    download = viewer.locator("a.lv-download")
    expect(download).to_have_attribute("href", re.compile(r"/tasks/noisy/logs/2/download\?map_index=-1$"))
    screenshot(page, "log-viewer-levels-groups")
    assert page.console_errors == []


def test_failed_try_folds_tradewind_frames(page, server, screenshot):
    viewer = _open_log(page, server, "noisy")
    viewer.locator(".lv-try").select_option("1")
    body = viewer.locator(".lv-body")
    expect(body).to_contain_text("first try fails on purpose")
    frames = body.locator("details.lv-frames")
    expect(frames.first.locator("summary")).to_have_text(re.compile(r"^\d+ Tradewind frames?$"))
    own = frames.first.locator(".lv-line").first
    expect(own).to_contain_text("/tradewind/")
    expect(own).to_be_hidden()
    # The user's own frames stay in view.
    user_frame = body.locator(".lv-line", has_text='ui_logview.py", line').first
    expect(user_frame).to_be_visible()
    expect(body.locator(".lv-line", has_text="in user_helper")).to_be_visible()
    frames.first.locator("summary").click()
    expect(own).to_be_visible()
    screenshot(page, "log-viewer-frames")
    assert page.console_errors == []


def test_a_200k_line_log_opens_a_page_at_a_time(page, server, screenshot):
    viewer = _open_log(page, server, "huge")
    body = viewer.locator(".lv-body")
    expect(body.locator(".lv-line", has_text="row 199999 of the huge log")).to_be_visible()
    shown = body.locator(".lv-line").count()
    assert 0 < shown <= 2100, shown
    expect(viewer.locator(".lv-status")).to_contain_text("MB")
    earlier = viewer.locator("button.lv-earlier")
    expect(earlier).to_be_visible()
    first_before = body.locator(".lv-line").first.inner_text()
    earlier.click()
    expect(body.locator(".lv-line").first).not_to_have_text(first_before)
    expect(body.locator(".lv-line", has_text=re.compile(r"row \d+ of the huge log")).first).to_be_attached()
    assert body.locator(".lv-line").count() <= 6000
    # The first page of the log, by offset, without loading what lies between.
    viewer.locator("button.lv-to-start").click()
    expect(body.locator(".lv-line", has_text="row 000000 of the huge log")).to_be_visible()
    assert body.locator(".lv-line").count() <= 2100
    expect(viewer.locator("button.lv-later")).to_be_visible()
    screenshot(page, "log-viewer-huge")
    assert page.console_errors == []
