"""The task-instance page in the browser: clear a task and watch it run again (reading a log is
in test_task_instance_page.py).

Each test works on its own DAG of the session's folder (see ``browser_support.DAG_FILES``).
"""

from __future__ import annotations

from browser_support import RUN_TIMEOUT_MS
from playwright.sync_api import expect


def _ti_url(dag_id: str, run_id: str, task_id: str) -> str:
    return f"/dags/{dag_id}/runs/{run_id}/tasks/{task_id}"


def test_clear_a_task_and_see_it_run_again(page, server, screenshot):
    server.run_to_success("ui_clear", "clear_run")
    page.goto(_ti_url("ui_clear", "clear_run", "extract") + "#log")
    tries = page.locator("#log-try option")
    expect(tries).to_have_text(["1 (success)"])
    page.evaluate("window.__noReload = true")

    page.locator("#act-clear").click()
    dialog = page.get_by_role("dialog")
    # The preview lists what the clear will touch: the task and (downstream, checked) its child.
    expect(dialog).to_contain_text("2 task instances will be affected")
    dialog.get_by_role("button", name="Clear", exact=True).click()
    expect(dialog).to_be_hidden()
    # The page follows the new try by itself until it has succeeded too.
    expect(tries).to_have_text(["1 (success)", "2 (success)"], timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#log-text")).to_contain_text("log-line-from-ui_clear")
    assert page.evaluate("window.__noReload") is True
    tis = server.ok("GET", "dags/ui_clear/dagRuns/clear_run/taskInstances")["task_instances"]
    assert {ti["task_id"]: (ti["state"], ti["try_number"]) for ti in tis} == {
        "extract": ("success", 2), "load": ("success", 2)}
    screenshot(page, "task-cleared")
    assert page.console_errors == []

