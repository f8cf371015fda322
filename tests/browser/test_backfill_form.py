"""The Backfill form of a DAG page in a real browser: the dry-run preview lists the runs of a date range,
Create makes the backfill, the API's refusals (a reversed range, a DAG without a schedule) show in the form."""

from __future__ import annotations

import textwrap

import httpx
from browser_support import PAGE_TIMEOUT_MS
from cli_support import wait_for
from playwright.sync_api import expect

DAG = "ui_backfill"


def _v2(server, method: str, path: str, **kwargs):
    return httpx.request(method, f"{server.url}/api/v2/{path}", timeout=30,
                         headers={"Authorization": f"Bearer {server.token}"}, **kwargs)


def _add_scheduled_dag(server) -> None:
    if not (server.home.path / "dags" / f"{DAG}.py").exists():
        server.home.add_dag(f"{DAG}.py", textwrap.dedent(f'''
            from datetime import datetime
            from tradewind import DAG, BashOperator

            # Each run takes a while, so the backfill is still running when the test pauses and cancels it.
            with DAG({DAG!r}, schedule="@daily", start_date=datetime(2024, 1, 1), catchup=False,
                     is_paused_upon_creation=True):
                BashOperator(task_id="slow", bash_command="sleep 20")
        '''))
    wait_for(lambda: server.api("GET", f"dags/{DAG}").status_code == 200, deadline=PAGE_TIMEOUT_MS / 1000 * 4,
             interval=0.2, what=f"the DAG processor to parse {DAG}")


def test_preview_lists_the_runs_then_create_makes_the_backfill(page, server, screenshot):
    _add_scheduled_dag(server)
    page.goto(f"/dags/{DAG}/grid")
    button = page.locator("#dag-backfill")
    expect(button).to_be_enabled()
    button.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Reprocess behaviour")
    # A reversed range: the API's reason shows in the form, no preview.
    dialog.get_by_label("From (UTC)").fill("2024-02-05T00:00:00")
    dialog.get_by_label("To (UTC)").fill("2024-02-01T00:00:00")
    expect(dialog.locator('[data-field="from_date"] .field-error')).to_contain_text("after")
    expect(dialog.locator("#backfill-preview li")).to_have_count(0)
    # Three days: the preview lists their logical dates.
    dialog.get_by_label("To (UTC)").fill("2024-02-07T00:00:00")
    preview = dialog.locator("#backfill-preview")
    expect(preview).to_contain_text("3 runs will be created.")
    expect(preview.locator("li")).to_have_count(3)
    expect(preview.locator("li").first).to_contain_text("2024-02-05")
    expect(dialog.locator(".field-error:not(:empty)")).to_have_count(0)
    dialog.get_by_label("All runs").check()
    dialog.get_by_label("Max active runs").fill("2")
    dialog.get_by_text("Run conf", exact=True).click()  # the conf is folded away by default
    dialog.get_by_label("Run conf (JSON object)").fill('{"source": "browser"}')
    screenshot(page, "backfill-form")
    dialog.get_by_role("button", name="Create backfill").click()
    expect(page.locator("#flash")).to_contain_text(f"of {DAG} created")
    expect(page.get_by_role("dialog")).to_have_count(0)
    listed = _v2(server, "GET", "backfills", params={"dag_id": DAG}).json()["backfills"]
    assert len(listed) == 1
    made = listed[0]
    assert (made["from_date"][:10], made["to_date"][:10]) == ("2024-02-05", "2024-02-07")
    assert (made["reprocess_behavior"], made["max_active_runs"], made["dag_run_conf"]) == ("completed", 2,
                                                                                            {"source": "browser"})
    # Reopened, the form lists it with its actions: pause, unpause, cancel.
    page.locator("#dag-backfill").click()
    dialog = page.get_by_role("dialog")
    entry = dialog.locator(f'tr[data-backfill-id="{made["id"]}"]')
    expect(entry).to_contain_text("running")
    entry.get_by_role("button", name="Pause", exact=True).click()
    expect(entry).to_contain_text("paused")
    assert _v2(server, "GET", f"backfills/{made['id']}").json()["is_paused"] is True
    entry.get_by_role("button", name="Unpause").click()
    expect(entry).to_contain_text("running")
    entry.get_by_role("button", name="Cancel backfill").click()
    expect(page.locator("#flash")).to_contain_text(f"Backfill {made['id']}: cancelled")
    expect(entry).to_contain_text("completed")
    assert _v2(server, "GET", f"backfills/{made['id']}").json()["completed_at"] is not None
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert page.console_errors == []


def test_dag_without_schedule_shows_the_reason(page, server):
    page.goto("/dags/ui_trigger/grid")
    page.locator("#dag-backfill").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("From (UTC)").fill("2024-02-01T00:00:00")
    dialog.get_by_label("To (UTC)").fill("2024-02-03T00:00:00")
    errors = dialog.locator(".field-error:not(:empty)")
    expect(errors.first).to_be_visible()
    expect(errors.first).to_contain_text("ui_trigger")
    expect(dialog.locator("#backfill-preview li")).to_have_count(0)
    dialog.get_by_role("button", name="Create backfill").click()
    expect(errors.first).to_contain_text("ui_trigger")
    expect(page.get_by_role("dialog")).to_have_count(1)
    assert _v2(server, "GET", "backfills", params={"dag_id": "ui_trigger"}).json()["total_entries"] == 0
    assert page.console_errors == []
