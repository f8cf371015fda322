"""The per-DAG charts in a real browser (the Graph view has its own tests): the Chart.js Gantt and duration/tries charts (their series and
bars, tooltips, clicks into the Grid) and the calendar, in the light and the dark theme; the
Versions, Events and Code tabs."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

DAG = "ui_charts"

CHART = "(sel) => { const c = document.querySelector(sel); const ch = c && window.Chart.getChart(c); return ch ? {" \
        "labels: ch.data.labels, sizes: ch.data.datasets.map((d) => d.data.length)," \
        "visible: ch.data.datasets.map((d, i) => ch.isDatasetVisible(i))} : null; }"


def _finished_runs(server) -> list[dict]:
    """The DAG's runs, all finished (the first test to come here runs ``charts_1``; the server is shared)."""
    if "charts_1" not in {r["dag_run_id"] for r in server.ok("GET", f"dags/{DAG}/dagRuns")["dag_runs"]}:
        server.run_to_success(DAG, "charts_1")
    # unpaused, the DAG also gets its latest scheduled run: let every run finish first
    runs = server.ok("GET", f"dags/{DAG}/dagRuns")["dag_runs"]
    for run in runs:
        assert server.wait_for_run(DAG, run["dag_run_id"]) == "success"
    return runs


def _css(page, name: str) -> str:
    return page.evaluate(f"() => getComputedStyle(document.documentElement).getPropertyValue('{name}').trim()")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_gantt_duration_tries_and_calendar_charts(page, server, screenshot, theme):
    runs = _finished_runs(server)
    days = {run["logical_date"][:10] for run in runs}
    page.emulate_media(color_scheme=theme)

    page.goto(f"/dags/{DAG}/gantt?run_id=charts_1")
    expect(page.locator("html")).to_have_attribute("data-theme", theme)
    canvas = page.locator("#gantt-view canvas")
    expect(canvas).to_have_count(1)
    expect(page.locator("#gantt-view .chart-box")).to_have_attribute("data-tries", "4")
    gantt = page.evaluate(CHART, "#gantt-view canvas")
    assert gantt["labels"] == ["start", "stage.first", "stage.second", "end"]
    assert gantt["sizes"][1] == 4  # one try bar per task (the queued parts are the other series)
    # bars take the theme's state colour (the dark theme has its own --st-success)
    colour = page.evaluate("() => { const ch = Chart.getChart(document.querySelector('#gantt-view canvas'));"
                           " return ch.getDatasetMeta(1).data[0].options.backgroundColor; }")
    assert colour.lower() == _css(page, "--st-success").lower() == ("#2ea043" if theme == "dark" else "#1f9d3a")
    # hovering a bar shows its task and try; clicking it opens the Grid on that run and task
    point = page.evaluate("() => { const ch = Chart.getChart(document.querySelector('#gantt-view canvas'));"
                          " const bar = ch.getDatasetMeta(1).data[0]; const r = ch.canvas.getBoundingClientRect();"
                          " return {x: r.left + (bar.base + bar.x) / 2, y: r.top + bar.y}; }")
    page.mouse.move(point["x"], point["y"])
    page.wait_for_function("() => { const t = Chart.getChart(document.querySelector('#gantt-view canvas')).tooltip;"
                           " return t.opacity > 0 && (t.title || []).join(' ').includes('start · try 1'); }")
    screenshot(page, f"gantt-{theme}")
    page.mouse.click(point["x"], point["y"])
    expect(page).to_have_url(re.compile(rf"/dags/{DAG}/grid\?run_id=charts_1&task_id=start$"))

    page.goto(f"/dags/{DAG}/duration")
    expect(page.locator("#chart-view canvas")).to_have_count(1)
    expect(page.locator("#chart-view .chart-box")).to_have_attribute("data-series", "4")
    duration = page.evaluate(CHART, "#chart-view canvas")
    assert duration["sizes"] == [len(runs)] * 4 and len(duration["labels"]) == len(runs)
    page.get_by_role("button", name="stage.first").click()  # the legend hides a task's line
    expect(page.locator("#chart-view .chart-box")).to_have_attribute("data-series", "3")
    assert page.evaluate(CHART, "#chart-view canvas")["visible"].count(True) == 3
    screenshot(page, f"task-duration-{theme}")

    page.goto(f"/dags/{DAG}/tries")
    expect(page.locator("#chart-view .chart-box")).to_have_attribute("data-series", "4")
    assert page.evaluate(CHART, "#chart-view canvas")["sizes"] == [len(runs)] * 4

    page.goto(f"/dags/{DAG}/calendar")
    expect(page.locator(".calendar-svg").first).to_be_visible()
    if all(day.startswith(str(datetime.now(timezone.utc).year)) for day in days):
        expect(page.locator(".calendar-svg .day-success")).to_have_count(len(days) + 1)  # + the legend's square
        fill = page.locator(".calendar-svg .day-success").first.evaluate("(n) => getComputedStyle(n).fill")
        expected = _css(page, "--st-success").lstrip("#")
        assert fill == "rgb({}, {}, {})".format(*(int(expected[i:i + 2], 16) for i in (0, 2, 4)))
    screenshot(page, f"calendar-{theme}")
    assert page.console_errors == []


def test_charts_switch_theme_live_and_show_api_errors(page, server):
    _finished_runs(server)
    page.emulate_media(color_scheme="light")
    page.goto(f"/dags/{DAG}/gantt?run_id=charts_1")
    expect(page.locator("#gantt-view .chart-box")).to_have_attribute("data-tries", "4")
    page.emulate_media(color_scheme="dark")  # theme.js follows the system: the chart redraws in dark colours
    page.wait_for_function("() => Chart.getChart(document.querySelector('#gantt-view canvas'))"
                           ".getDatasetMeta(1).data[0].options.backgroundColor.toLowerCase() === '#2ea043'")
    page.goto(f"/dags/{DAG}/gantt?run_id=no_such_run")
    expect(page.locator("#gantt-view .banner-error")).to_contain_text("no_such_run")


def test_versions_events_and_code_tabs(page, server):
    _finished_runs(server)
    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto(f"/dags/{DAG}/versions")
    expect(page.locator("nav.tabs a", has_text="Events")).to_be_visible()
    rows = page.locator("table.dag-versions tbody tr")
    expect(rows.first).to_contain_text("latest")
    expect(rows.first).to_contain_text("dags-folder")
    page.goto(f"/dags/{DAG}/events")
    expect(page.locator("table.dag-events tbody tr").first).to_be_visible()  # the trigger and the unpause
    no_overflow = "() => document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(no_overflow)
    page.goto(f"/dags/{DAG}/code")
    expect(page.locator(".code-view .highlight")).to_contain_text("ui_charts")
    expect(page.get_by_label("DAG version")).to_be_visible()
    assert page.console_errors == []
