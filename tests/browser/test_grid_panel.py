"""The Grid's details panel in a real browser: a cell opens its task instance beside the grid (URL
kept, Back closes it), arrow keys move the selection and Escape closes the panel, notes are saved
and shown after a reload, a run is offered only the marks that change it, a task cell's tooltip
gives that instance's own duration, a huge XCom is cut with a download, and an API error is a
readable message in the panel.

The DAGs are written into the session's DAG folder by this module (``_ensure_dags``), so these
tests share nothing with the other browser tests.
"""

from __future__ import annotations

import re
import textwrap

from browser_support import RUN_TIMEOUT_MS
from cli_support import wait_for
from playwright.sync_api import expect

OK_DAG = "ui_grid_panel"
FAILING_DAG = "ui_grid_panel_fail"

_FILES = {
    "ui_grid_panel.py": textwrap.dedent('''
        from datetime import datetime
        from tradewind import DAG, BashOperator, task

        with DAG("ui_grid_panel", schedule=None, start_date=datetime(2024, 1, 1), is_paused_upon_creation=True):
            first = BashOperator(task_id="first", bash_command="echo panel-log-line")

            @task
            def second():
                return "x" * 60000

            @task
            def third():
                import time
                time.sleep(2)

            first >> second() >> third()
    '''),
    "ui_grid_panel_fail.py": textwrap.dedent('''
        from datetime import datetime
        from tradewind import DAG, BashOperator

        with DAG("ui_grid_panel_fail", schedule=None, start_date=datetime(2024, 1, 1), is_paused_upon_creation=True):
            BashOperator(task_id="breaks", bash_command="exit 3", retries=0)
    '''),
}


def _ensure_dags(server) -> None:
    folder = server.home.path / "dags"
    for name, source in _FILES.items():
        if not (folder / name).exists():
            (folder / name).write_text(source)

    def parsed() -> bool:
        listed = {d["dag_id"] for d in server.ok("GET", "dags", params={"limit": 100})["dags"]}
        return {OK_DAG, FAILING_DAG} <= listed

    wait_for(parsed, deadline=60, interval=0.2, what="the DAG processor to parse the panel DAGs")


def _run(server, dag_id: str, run_id: str, expected: str) -> None:
    """Trigger ``run_id`` once per session and wait until it ended ``expected``."""
    _ensure_dags(server)
    if server.api("GET", f"dags/{dag_id}/dagRuns/{run_id}").status_code == 404:
        server.unpause(dag_id)
        server.trigger(dag_id, run_id)
    assert server.wait_for_run(dag_id, run_id) == expected


def _cell(page, task_id: str, column: int = 0):
    return page.locator("#grid .grid-row.task", has=page.locator(".gl", has_text=re.compile(rf"^{task_id}$"))).locator(
        ".gc i").nth(column)


def test_a_cell_opens_its_task_instance_beside_the_grid(page, server, screenshot):
    _run(server, OK_DAG, "panel_run", "success")
    page.goto(f"/dags/{OK_DAG}/grid")
    _cell(page, "first").click()
    side = page.locator("#grid-side")
    expect(side).to_be_visible()
    expect(page).to_have_url(re.compile(r"/dags/ui_grid_panel/grid\?run_id=panel_run&task_id=first&map_index=-1$"))
    expect(side.locator(".gp-title")).to_contain_text("first")
    expect(side.locator(".gp-tabs a.active")).to_have_text("Log")
    expect(side).to_contain_text("panel-log-line")
    expect(_cell(page, "first")).to_have_class(re.compile(r"\bsel\b"))
    # The run's own tabs: rendered fields and details, without leaving the grid.
    side.get_by_role("tab", name="Rendered").click()
    expect(side.locator(".gp-body:not([hidden])")).to_contain_text("bash_command")
    side.get_by_role("tab", name="Details").click()
    expect(side.locator(".gp-body:not([hidden])")).to_contain_text("Tries")
    screenshot(page, "grid-panel-task-instance")

    # A huge XCom value is cut, with the whole value behind a download.
    _cell(page, "second").click()
    expect(side.locator(".gp-title")).to_contain_text("second")
    side.get_by_role("tab", name="XCom").click()
    expect(side.locator(".gp-truncated")).to_contain_text("of 60,000 characters")
    download = side.get_by_role("link", name="Download the whole value")
    href = download.get_attribute("href")
    assert href.startswith("/ui/data/dags/ui_grid_panel/runs/panel_run/tasks/second/xcom/value?key=return_value")
    shown = side.locator(".gp-xcom pre").text_content()
    assert len(shown) < 60000

    # Reload keeps the selection; Back goes to the previous one, then closes the panel.
    page.reload()
    expect(side.locator(".gp-title")).to_contain_text("second")
    page.go_back()
    expect(side.locator(".gp-title")).to_contain_text("first")
    page.go_back()
    expect(side).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/dags/ui_grid_panel/grid$"))
    assert page.console_errors == []


def test_arrow_keys_move_the_selection_and_escape_closes_the_panel(page, server):
    _run(server, OK_DAG, "panel_run", "success")
    page.goto(f"/dags/{OK_DAG}/grid?run_id=panel_run&task_id=first&map_index=-1")
    side = page.locator("#grid-side")
    expect(side.locator(".gp-title")).to_contain_text("first")
    page.keyboard.press("ArrowDown")
    expect(page).to_have_url(re.compile(r"task_id=second"))
    expect(side.locator(".gp-title")).to_contain_text("second")
    expect(_cell(page, "second")).to_have_class(re.compile(r"\bsel\b"))
    expect(_cell(page, "first")).not_to_have_class(re.compile(r"\bsel\b"))
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")  # above the first task: the run itself
    expect(page).to_have_url(re.compile(r"\?run_id=panel_run$"))
    expect(side.locator(".gp-title")).to_have_text("panel_run")
    expect(side).to_contain_text("Run type")
    page.keyboard.press("Escape")
    expect(side).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/dags/ui_grid_panel/grid$"))
    assert page.console_errors == []


def test_notes_of_a_run_and_a_task_instance_are_saved_and_shown_after_reload(page, server):
    _run(server, OK_DAG, "panel_run", "success")
    page.goto(f"/dags/{OK_DAG}/grid")
    page.locator("#grid .grid-runbars .gc b").first.click()
    side = page.locator("#grid-side")
    note = "<b>checked</b> by the on-call"
    side.get_by_label("Note").fill(note)
    side.get_by_role("button", name="Save note").click()
    expect(side.get_by_role("status")).to_have_text("Saved.")
    assert server.ok("GET", f"dags/{OK_DAG}/dagRuns/panel_run")["note"] == note

    _cell(page, "third").click()
    side.get_by_role("tab", name="Note").click()
    side.get_by_label("Note").fill("slow on purpose")
    side.get_by_role("button", name="Save note").click()
    expect(side.get_by_role("status")).to_have_text("Saved.")

    page.reload()
    side.get_by_role("tab", name="Note").click()
    expect(side.locator(".gp-note-text")).to_have_text("slow on purpose")
    page.locator("#grid .grid-runbars .gc b").first.click()
    expect(side.locator(".gp-note-text")).to_have_text(note)  # as text: no <b> element
    expect(side.locator(".gp-note-text b")).to_have_count(0)
    assert page.console_errors == []


def test_a_run_is_offered_only_the_marks_that_change_it(page, server, screenshot):
    _run(server, OK_DAG, "panel_run", "success")
    _run(server, FAILING_DAG, "panel_fail", "failed")
    side = page.locator("#grid-side")
    page.goto(f"/dags/{OK_DAG}/grid?run_id=panel_run")
    actions = side.get_by_label("Run actions")
    expect(actions.get_by_role("button", name="Mark failed")).to_be_visible()
    expect(actions.get_by_role("button", name="Clear")).to_be_visible()
    expect(actions.get_by_role("button", name="Mark success")).to_have_count(0)

    page.goto(f"/dags/{FAILING_DAG}/grid?run_id=panel_fail")
    actions = side.get_by_label("Run actions")
    expect(actions.get_by_role("button", name="Mark success")).to_be_visible()
    expect(actions.get_by_role("button", name="Mark failed")).to_have_count(0)
    screenshot(page, "grid-panel-failed-run")
    # The failed task instance: "Mark success" is offered, "Mark failed" is not.
    _cell(page, "breaks").click()
    ti_actions = side.get_by_label("Task instance actions")
    expect(ti_actions.get_by_role("button", name="Mark success…")).to_be_visible()
    expect(ti_actions.get_by_role("button", name="Mark failed…")).to_have_count(0)
    assert page.console_errors == []


def test_a_task_cell_tooltip_gives_that_instance_duration(page, server):
    _run(server, OK_DAG, "panel_run", "success")
    tis = server.ok("GET", f"dags/{OK_DAG}/dagRuns/panel_run/taskInstances")["task_instances"]
    third = next(t for t in tis if t["task_id"] == "third")
    run = server.ok("GET", f"dags/{OK_DAG}/dagRuns/panel_run")
    assert third["duration"] >= 2
    page.goto(f"/dags/{OK_DAG}/grid")
    _cell(page, "first").hover()  # another run column warms nothing: the tooltip loads its run's times
    _cell(page, "third").hover()
    tip = page.locator("#grid-tip")
    expected = f"Duration: {third['duration']:.1f}s"
    expect(tip).to_contain_text(expected, timeout=RUN_TIMEOUT_MS)
    expect(tip).to_contain_text("Run duration:")
    # The instance's duration, not the run's (the run also spans first and second).
    text = tip.text_content()
    task_line = next(line for line in text.splitlines() if line.startswith("Duration:"))
    assert task_line == expected, (task_line, run["start_date"], run["end_date"])
    assert page.console_errors == []


def test_an_api_error_in_the_panel_is_a_readable_message(page, server):
    _run(server, OK_DAG, "panel_run", "success")
    page.route(re.compile(r".*/ui/data/dags/ui_grid_panel/runs/panel_run/tasks/first\?.*"),
               lambda route: route.fulfill(status=500, json={"detail": "the database is on fire"}))
    page.goto(f"/dags/{OK_DAG}/grid")
    _cell(page, "first").click()
    alert = page.locator("#grid-side").get_by_role("alert")
    expect(alert).to_have_text("Could not load the task instance: the database is on fire")
    page.route(re.compile(r".*/ui/data/dags/ui_grid_panel/runs/panel_run/panel$"),
               lambda route: route.fulfill(status=403, json={"detail": "not for you"}))
    page.locator("#grid .grid-runbars .gc b").first.click()
    expect(page.locator("#grid-side").get_by_role("alert")).to_have_text("Could not load the run: not for you")


def test_at_1024_px_the_panel_goes_under_the_grid_without_side_scrolling(page, server, screenshot):
    _run(server, OK_DAG, "panel_run", "success")
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"/dags/{OK_DAG}/grid?run_id=panel_run&task_id=first&map_index=-1")
    side = page.locator("#grid-side")
    expect(side.locator(".gp-title")).to_contain_text("first")
    grid_box, side_box = page.locator("#grid").bounding_box(), side.bounding_box()
    assert side_box["y"] >= grid_box["y"] + grid_box["height"]  # below the grid, not squeezed beside it
    assert side_box["x"] + side_box["width"] <= 1024
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot(page, "grid-panel-1024")
    assert page.console_errors == []
