"""The task-instance page's "Required action" panel in a real browser: a waiting approval is
answered with the page's own form (static/hitl.js), and the run goes on."""

from __future__ import annotations

from cli_support import wait_for
from playwright.sync_api import expect


def test_answer_a_waiting_approval_from_its_page(page, server, screenshot):
    wait_for(lambda: server.api("GET", "dags/ui_hitl").status_code == 200, deadline=60, interval=0.3,
             what="the DAG processor to parse ui_hitl")
    server.unpause("ui_hitl")
    server.trigger("ui_hitl", "hitl_run")

    def waiting() -> bool:
        body = server.ok("GET", "dags/ui_hitl/dagRuns/hitl_run/taskInstances/approve")
        return body["state"] == "deferred"

    wait_for(waiting, deadline=60, interval=0.3, what="the approval to wait")
    page.goto("/dags/ui_hitl/runs/hitl_run/tasks/approve")
    panel = page.locator("#ti-hitl")
    expect(panel).to_be_visible()
    expect(panel.locator("h2")).to_have_text("Required action: Ship the <b>release</b>?")  # text, never HTML
    expect(panel).to_contain_text("Check the notes.")
    panel.get_by_label("Approve").check()
    panel.locator('input[name="note"]').fill("all good")
    screenshot(page, "hitl-required-action")
    panel.get_by_role("button", name="Respond").click()
    expect(panel).to_contain_text('Answered ["Approve"] by admin', timeout=15000)
    assert server.wait_for_run("ui_hitl", "hitl_run") == "success"
    detail = server.ok("GET", "dags/ui_hitl/dagRuns/hitl_run/taskInstances/approve/-1/hitlDetails")
    assert detail["params_input"] == {"note": "all good"} and detail["chosen_options"] == ["Approve"]
    # The Log tab of a deferred instance asks for a try number the instance has stepped back from
    # (a known issue of the log view, not of this panel): only that message is tolerated here.
    assert [e for e in page.console_errors if "has no try number" not in e] == []
