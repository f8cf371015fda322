"""Event-driven scheduling end to end with real processes: an Airflow 3 DAG file scheduled on an
asset watched by ``AssetWatcher(FileDeleteTrigger)``. A file appearing makes the triggerer record
an asset event (Airflow's extra: from_trigger + the payload), deleting the file; the scheduler
runs the consumer, whose task sees the event. The watcher then waits again: a second file makes
a second run. With every consumer paused the watcher is idle; unpausing starts it again. The watcher's row stays while the DAG is scheduled on the asset; a DAG file whose
watcher uses a task trigger (not an event trigger) is an import error naming it."""

from __future__ import annotations

import signal
import sqlite3
import time

import pytest
from cli_support import Home, free_port, wait_for

pytestmark = pytest.mark.slow

DEADLINE = 120.0

WATCHED = '''
from datetime import datetime
from airflow.sdk import Asset, AssetWatcher, dag, task
from airflow.providers.standard.triggers.file import FileDeleteTrigger

trigger = FileDeleteTrigger(filepath="FLAG", poke_interval=0.2)
landing = Asset("landing_file", watchers=[AssetWatcher(name="landing_watcher", trigger=trigger)])


@dag(schedule=[landing], start_date=datetime(2024, 1, 1), catchup=False)
def on_landing():
    @task
    def read(triggering_asset_events=None):
        return [[e.asset.name, e.extra, e.source_dag_id] for events in triggering_asset_events.values() for e in events]

    read()


on_landing()
'''

WRONG_TRIGGER = '''
from datetime import datetime
from airflow.sdk import Asset, AssetWatcher, dag
from airflow.providers.standard.triggers.file import FileTrigger

bad = Asset("bad_watch", watchers=[AssetWatcher(name="w", trigger=FileTrigger(filepath="/tmp/x"))])


@dag(schedule=[bad], start_date=datetime(2024, 1, 1))
def bad_watched():
    pass


bad_watched()
'''


def _runs(home: Home, dag_id: str) -> list[dict]:
    return [r for r in home.json("dags", "list-runs", dag_id) if r["state"] == "success"]


def _return_values(db_path, dag_id: str) -> list:
    import json

    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT value FROM xcom WHERE dag_id = ? AND key = 'return_value' ORDER BY run_id",
                            (dag_id,)).fetchall()
    return [json.loads(v) if isinstance(v, str) else v for (v,) in rows]


def test_a_file_appearing_creates_an_asset_event_and_runs_the_consumer_each_time(home: Home) -> None:
    flag = home.path / "landing.flag"
    home.add_dag("watched.py", WATCHED.replace('"FLAG"', repr(str(flag))))
    home.add_dag("wrong_trigger.py", WRONG_TRIGGER)
    home.env["TRADEWIND__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "False"
    proc = home.popen("standalone", "--port", str(free_port()))
    db_path = home.path / "tradewind.db"
    try:
        wait_for(lambda: "on_landing" in {d["dag_id"] for d in home.json("dags", "list")},
                 deadline=DEADLINE, interval=0.5, what="the consumer parsed")
        errors = str(home.json("dags", "list-import-errors"))
        assert "must inherit BaseEventTrigger" in errors and "FileTrigger" in errors

        def watcher_rows() -> list:
            with sqlite3.connect(db_path) as conn:
                return conn.execute("SELECT id, triggerer_id FROM trigger WHERE classpath = 'tradewind:asset-watcher'"
                                    ).fetchall()
        wait_for(lambda: any(t is not None for _, t in watcher_rows()), deadline=DEADLINE, interval=0.3,
                 what="the watcher taken by the triggerer")
        assert home.json("dags", "list-runs", "on_landing") == []  # nothing before the file

        flag.write_text("first")
        wait_for(lambda: len(_runs(home, "on_landing")) == 1, deadline=DEADLINE, interval=0.3,
                 what="the consumer's first run")
        assert not flag.exists()  # FileDeleteTrigger consumed it
        flag.write_text("second")  # the watcher restarted after its event: a second file, a second run
        wait_for(lambda: len(_runs(home, "on_landing")) == 2, deadline=DEADLINE, interval=0.3,
                 what="the consumer's second run")
        assert len(watcher_rows()) == 1
        # Every consumer paused: the watcher is left idle (Airflow's rule), the file stays...
        home.ok("dags", "pause", "on_landing")
        time.sleep(3)
        flag.write_text("third")
        time.sleep(2)
        assert flag.exists()
        # ...and unpausing starts it again: the waiting file is one more event and run.
        home.ok("dags", "unpause", "on_landing")
        wait_for(lambda: len(_runs(home, "on_landing")) == 3, deadline=DEADLINE, interval=0.3,
                 what="the consumer's run after unpausing")
        assert not flag.exists()
        events = home.json("assets", "events", "--asset", "landing_file")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert len(events) == 3
    assert all(e["extra"] == {"from_trigger": True, "payload": True} for e in events)
    assert all(e["source_dag_id"] is None for e in events)
    values = _return_values(db_path, "on_landing")
    assert values == [[["landing_file", {"from_trigger": True, "payload": True}, None]]] * 3
