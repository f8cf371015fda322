"""Acceptance criterion 5: scheduled runs with catchup under the real ``tradewind scheduler``.

``@daily`` with ``start_date`` three days ago: ``catchup=True`` creates exactly the three
missed runs (``scheduled__<logical date>``, one day's data interval each, ``{{ ds }}``
rendered per run); ``catchup=False`` creates only the latest one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from resilience_support import Cluster

DAG_FILE = '''
from datetime import datetime, timezone
from tradewind import DAG, BashOperator

with DAG("DAG_ID", schedule="@daily", start_date=datetime.fromisoformat("START"), catchup=CATCHUP) as dag:
    BashOperator(
        task_id="record",
        bash_command="echo '{{ run_id }} {{ ds }} {{ data_interval_start.isoformat() }} {{ data_interval_end.isoformat() }}' >> OUT",
    )
'''


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path / "home")
    c.ok("db", "migrate")
    yield c
    c.close()


def _dag(cluster: Cluster, dag_id: str, start: datetime, catchup: bool):
    out = cluster.path / f"{dag_id}.txt"
    source = (DAG_FILE.replace("DAG_ID", dag_id).replace("START", start.isoformat())
              .replace("CATCHUP", str(catchup)).replace("OUT", str(out)))
    cluster.add_dag(f"{dag_id}.py", source)
    return out


def _runs(cluster: Cluster, dag_id: str) -> list[dict]:
    return cluster.rows(
        "SELECT run_id, run_type, state, logical_date, data_interval_start, data_interval_end FROM dag_run "
        "WHERE dag_id = :d ORDER BY logical_date", d=dag_id,
    )


def test_daily_catchup_creates_every_missed_run_and_no_catchup_only_the_latest(cluster):
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if datetime.now(UTC) > today + timedelta(hours=23, minutes=59):
        pytest.skip("too close to midnight UTC: the expected intervals would change during the test")
    start = today - timedelta(days=3)
    out_catchup = _dag(cluster, "daily_catchup", start, True)
    out_latest = _dag(cluster, "daily_latest", start, False)
    cluster.start()
    cluster.wait(
        lambda: [r["state"] for r in _runs(cluster, "daily_catchup")] == ["success"] * 3
        and [r["state"] for r in _runs(cluster, "daily_latest")] == ["success"],
        what="three catch-up runs and one latest run to succeed",
    )
    days = [start + timedelta(days=n) for n in range(3)]

    listed = cluster.json("dags", "list-runs", "daily_catchup")
    assert sorted(r["run_id"] for r in listed) == [f"scheduled__{d.isoformat()}" for d in days]
    assert sorted(r["logical_date"] for r in listed) == [d.isoformat() for d in days]
    runs = _runs(cluster, "daily_catchup")
    assert [r["run_type"] for r in runs] == ["scheduled"] * 3
    intervals = [(_aware(r["data_interval_start"]), _aware(r["data_interval_end"])) for r in runs]
    assert intervals == [(d, d + timedelta(days=1)) for d in days]
    # Each run rendered its own {{ ds }} and data interval.
    lines = sorted(out_catchup.read_text().splitlines())
    assert lines == [
        f"scheduled__{d.isoformat()} {d.date().isoformat()} {d.isoformat()} {(d + timedelta(days=1)).isoformat()}"
        for d in days
    ]

    latest = _runs(cluster, "daily_latest")
    assert [r["run_id"] for r in latest] == [f"scheduled__{days[-1].isoformat()}"]
    assert (_aware(latest[0]["data_interval_start"]), _aware(latest[0]["data_interval_end"])) == (days[-1], today)
    assert out_latest.read_text().split()[1] == days[-1].date().isoformat()
    assert cluster.stop() == 0, cluster.output()


def _aware(value) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
