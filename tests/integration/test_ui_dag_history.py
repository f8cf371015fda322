"""UI: the DAG page's Calendar on a busy schedule, and its Versions, Events and Code-per-version
tabs (``/dags/{dag_id}/calendar|versions|events|code``) with their data endpoints."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from api_support import Api, make_api, store_dag_file
from sqlalchemy import event, insert

FIVE = """
with DAG("every5", start_date=datetime(2024, 1, 1), schedule="*/5 * * * *", catchup=False):
    EmptyOperator(task_id="tick")
"""


def _get(api: Api, path: str, **params) -> dict:
    response = api.get(path, params=params, as_="viewer")
    assert response.status_code == 200, response.text
    return response.json()


class _Statements:
    """Counts the SQL statements the engine runs while active."""

    def __init__(self, engine) -> None:
        self.engine, self.count = engine, 0

    def _on(self, *_args) -> None:
        self.count += 1

    def __enter__(self) -> _Statements:
        event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on)


@pytest.fixture
def busy(config, db) -> Api:
    """``every5`` (unpaused, ``*/5``) with a run every five minutes through March and April 2024:
    17,568 runs, the 15th's 03:00-03:59 runs failed."""
    from tradewind.persist.models import DagModel, DagRun

    store_dag_file(config, db, "every5", FIVE)
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    rows = []
    for n in range(61 * 288):
        when = start + timedelta(minutes=5 * n)
        state = "failed" if when.day == 15 and when.hour == 3 else "success"
        rows.append({"dag_id": "every5", "run_id": f"scheduled__{when.isoformat()}", "run_type": "scheduled",
                     "state": state, "logical_date": when, "run_after": when + timedelta(minutes=5),
                     "data_interval_start": when, "data_interval_end": when + timedelta(minutes=5)})
    with db.session_scope() as session:
        session.execute(insert(DagRun), rows)
        session.get(DagModel, "every5").is_paused = False
    return make_api(config, db)


def test_calendar_of_a_five_minute_dag_counts_runs_per_day_in_a_few_queries(busy, db) -> None:
    with _Statements(db.engine) as statements:
        body = _get(busy, "/ui/data/dags/every5/calendar", year=2024)
    assert len(body["days"]) == 61 and body["planned"] == {}  # the past plans nothing
    assert body["days"]["2024-03-01"] == {"success": 288} and body["days"]["2024-04-30"] == {"success": 288}
    assert body["days"]["2024-03-15"] == {"success": 276, "failed": 12}
    assert body["days"]["2024-04-15"] == {"success": 276, "failed": 12}
    assert sum(sum(d.values()) for d in body["days"].values()) == 61 * 288
    assert statements.count <= 8  # grouped by the database: no row per run reaches Python


def test_calendar_plans_a_year_of_five_minute_runs_without_stepping_each(busy, db, monkeypatch) -> None:
    from tradewind.definition import timetables

    steps = []
    original = timetables.CronDataIntervalTimetable.next_dagrun_info
    monkeypatch.setattr(timetables.CronDataIntervalTimetable, "next_dagrun_info",
                        lambda self, **kw: steps.append(1) or original(self, **kw))
    ahead = datetime.now(timezone.utc).year + 1
    with _Statements(db.engine) as statements:
        body = _get(busy, "/ui/data/dags/every5/calendar", year=ahead)
    days = 366 if ahead % 4 == 0 else 365
    assert len(body["planned"]) == days and set(body["planned"].values()) == {288}
    assert body["planned_truncated"] is False and body["days"] == {}
    assert statements.count <= 10 and steps == []


def test_planned_days_follow_the_cron_fields_and_the_time_zone() -> None:
    from zoneinfo import ZoneInfo

    from tradewind.observe.ui.calendar_plan import cron_day_counts, delta_day_counts

    utc = timezone.utc
    march = (datetime(2025, 3, 1, tzinfo=utc), datetime(2025, 4, 1, tzinfo=utc))
    weekdays = cron_day_counts("0 9 * * 1-5", utc, *march)
    assert len(weekdays) == 21 and "2025-03-01" not in weekdays and weekdays["2025-03-03"] == 1  # 1 March: Saturday
    # 23:30 in Paris is 22:30 UTC (winter) and 21:30 UTC (summer, from 30 March): always that UTC day
    paris = cron_day_counts("30 23 * * *", ZoneInfo("Europe/Paris"), *march)
    assert set(paris) == {f"2025-03-{d:02d}" for d in range(1, 32)} and set(paris.values()) == {1}
    # hourly in Tokyo (UTC+9): every UTC day still gets 24, the first one only from midnight UTC
    tokyo = cron_day_counts("0 * * * *", ZoneInfo("Asia/Tokyo"), *march)
    assert set(tokyo.values()) == {24} and len(tokyo) == 31
    # half-open range: a run exactly at the upper bound is not counted, one at the lower bound is
    assert cron_day_counts("0 0 * * *", utc, march[0], march[0] + timedelta(days=2)) == {
        "2025-03-01": 1, "2025-03-02": 1}
    anchor, every, brute = datetime(2025, 1, 1, 1, tzinfo=utc), timedelta(hours=7), Counter()
    at = anchor
    while at < march[1]:
        brute.update([at.date().isoformat()] if at >= march[0] else [])
        at += every
    assert delta_day_counts(anchor, every, *march) == dict(brute) and sum(brute.values()) == 106


TWO = """
with DAG("versioned", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="a")
"""


@pytest.fixture
def versioned(config, db) -> Api:
    """``versioned`` parsed twice (v1 with one task, v2 with two), one run on each version, and
    audit entries about it (one with markup and quotes in its extra)."""
    from tradewind.persist.models import AuditLog

    store_dag_file(config, db, "versioned", TWO)
    api = make_api(config, db)
    assert api.post("dags/versioned/dagRuns", json={"dag_run_id": "on_v1"}).status_code == 200
    store_dag_file(config, db, "versioned", TWO.replace('EmptyOperator(task_id="a")',
                                                       'EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")'))
    assert api.post("dags/versioned/dagRuns", json={"dag_run_id": "on_v2"}).status_code == 200
    assert api.post("dags/versioned/dagRuns", json={"dag_run_id": "on_v2_too"}).status_code == 200
    with db.session_scope() as session:
        session.add(AuditLog(dttm=datetime(2024, 5, 1, tzinfo=timezone.utc), event="cli_note", owner="<i>bob</i>",
                             dag_id="versioned", extra='{"note": "<b>bold</b> & \\"quoted\\"", "n": 2}'))
        session.add(AuditLog(dttm=datetime(2024, 5, 2, tzinfo=timezone.utc), event="other_dag", owner="eve",
                             dag_id="someone_else", extra="{}"))
    return api


def _page(api: Api, path: str, role: str = "viewer") -> str:
    from ui_support import browser

    response = browser(api, role).get(path)
    assert response.status_code == 200, response.text
    return response.text


def test_versions_tab_lists_each_version_with_its_runs(versioned) -> None:
    html = _page(versioned, "/dags/versioned/versions")
    assert '>Versions</a>' in html and '>Events</a>' in html  # the tabs
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert len(rows) == 2
    assert "v2" in rows[0] and "latest" in rows[0] and "dags-folder" in rows[0]
    assert ">2</a>" in rows[0] and '<td class="num">2</td>' in rows[0]  # two runs, two tasks
    assert "v1" in rows[1] and "latest" not in rows[1] and ">1</a>" in rows[1]
    assert "/dags/versioned/code?version=1" in rows[1]


def test_code_tab_shows_each_versions_own_code(versioned, db) -> None:
    latest = _page(versioned, "/dags/versioned/code")
    assert 'name="version"' in latest and '<option value="2" selected>' in latest
    assert "highlight" in latest and "task_id" in latest  # the file, highlighted by Pygments
    assert _page(versioned, "/dags/versioned/code?version=2").count('class="highlight"') == 1
    # Version 1's code is the file as it was parsed then (one task), though the file changed since.
    old = _page(versioned, "/dags/versioned/code?version=1")
    assert '<option value="1" selected>' in old and old.count('class="highlight"') == 1
    assert "&gt;&gt;" not in old.split('class="highlight"')[1] and "&gt;&gt;" in latest.split('class="highlight"')[1]
    assert "This DAG has no version 9." in _page(versioned, "/dags/versioned/code?version=9")
    # A version stored before code was kept says so instead.
    from sqlalchemy import update

    from tradewind.persist.models import DagVersion

    with db.session_scope() as session:
        session.execute(update(DagVersion).where(DagVersion.version_number == 1).values(source_hash=None))
    unkept = _page(versioned, "/dags/versioned/code?version=1")
    assert "the code of version 1 of DAG 'versioned' is not kept" in unkept.replace("&#39;", "'")
    assert 'role="alert"' in unkept and 'class="highlight"' not in unkept


def test_events_tab_shows_this_dags_audit_log_with_extra_as_json_text(versioned) -> None:
    html = _page(versioned, "/dags/versioned/events")
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    assert "cli_note" in body and "other_dag" not in body
    assert "&lt;i&gt;bob&lt;/i&gt;" in body and "&amp;lt;" not in body  # escaped once, never twice
    assert '&#34;note&#34;: &#34;&lt;b&gt;bold&lt;/b&gt; &amp; \\&#34;quoted\\&#34;&#34;' in body  # indented JSON text
    assert '&#34;n&#34;: 2,' in body and "<b>" not in body
    filtered = _page(versioned, "/dags/versioned/events?event=cli_note")
    assert "1 event<" in filtered
    assert "No events named" in _page(versioned, "/dags/versioned/events?event=nothing")


def test_history_scripts_build_text_only() -> None:
    from tradewind.observe.ui.pages import STATIC_DIR

    for name in ("dag_history.js", "dag_charts.js", "dag_chart.js", "dag_gantt.js", "dag_calendar.js"):
        text = (STATIC_DIR / name).read_text()
        assert ".innerHTML" not in text and "insertAdjacentHTML" not in text and "eval(" not in text, name
