"""One :class:`~tradewind.execute.try_store.TryStore` contract, every store: the same tests run on

* ``db-sqlite`` / ``db-postgres`` — :class:`~tradewind.execute.db_store.DbTryStore` on the database
  (what local tries, ``dags test`` and the API server itself use);
* ``api-sqlite`` / ``api-postgres`` — :class:`~tradewind.execute.api_client.ApiTryStore` over HTTP to a
  real ``tradewind api-server`` process on that database, with the tokens a remote worker holds
  (the workload token claims; the try token the claim answers with does the rest).

The runner has one code path whatever its store, so whatever one store does, the other must too:
the claim happens once, a heartbeat notices a cleared try, the finish applies the stored retry
policy and commits XComs, rendered fields, the map-index label and outlet events with the
outcome, a finish after the instance was cleared is refused, and so on. Only what is specific to
one implementation stays beside it (``tests/unit/execute/test_db_store.py``: the remembered
claims; ``tests/integration/test_execution_api.py``: tokens, scopes, HTTP statuses, log shipping).

The API servers live for the module (one per database); each test makes its own DAG ids,
Variable names, connection ids and assets, so tests on one server never meet.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "schedule"))
from schedhelp import make_snapshot, store_dag, task_dict  # noqa: E402

from execution_api_server import RunningApiServer, start_api_server, stop_api_server  # noqa: E402
from tradewind.definition.connection import Connection  # noqa: E402
from tradewind.definition.exceptions import DagRunAlreadyExists, TaskSkipped, TradewindException  # noqa: E402
from tradewind.execute.api_client import ApiTryStore  # noqa: E402
from tradewind.execute.db_store import DbTryStore  # noqa: E402
from tradewind.execute.tokens import issue_workload_token  # noqa: E402
from tradewind.execute.try_store import (  # noqa: E402
    DeferRequest,
    FinishRequest,
    TriggerRunRequest,
    TryStore,
    TryStoreRefused,
    outlet_extra_key,
)
from tradewind.persist.models import AssetEvent, DagRun, TaskInstance, TaskInstanceTry, Trigger, XCom  # noqa: E402
from tradewind.persist.queries.xcom import xcom_set  # noqa: E402
from tradewind.workloads import TaskKey  # noqa: E402

DAY1 = datetime(2024, 3, 1, tzinfo=timezone.utc)
DAY2 = datetime(2024, 3, 2, tzinfo=timezone.utc)
STORES = [
    "db-sqlite",
    pytest.param("db-postgres", marks=pytest.mark.postgres),
    "api-sqlite",
    pytest.param("api-postgres", marks=pytest.mark.postgres),
]
_names = itertools.count(1)


# --------------------------------------------------------------------------- the stores
@pytest.fixture(scope="module")
def api_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApiServer]:
    tmp = tmp_path_factory.mktemp("try_store_api_sqlite")
    server = start_api_server(tmp / "home", f"sqlite:///{tmp / 'tradewind.db'}")
    yield server
    stop_api_server(server)


@pytest.fixture(scope="module")
def api_postgres(tmp_path_factory: pytest.TempPathFactory, pg_server: Any) -> Iterator[RunningApiServer]:
    name = pg_server.new_database_name("trystore")
    pg_server.execute_autocommit(f'CREATE DATABASE "{name}"')
    server = start_api_server(tmp_path_factory.mktemp("try_store_api_pg") / "home", pg_server.url(name))
    yield server
    stop_api_server(server)
    pg_server.execute_autocommit(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class World:
    """DAG ``dag_id`` (work -> other, later; work retries twice, 120 s apart, and names connections
    ``conn`` and ``missing_conn``) with runs r1 (day 1) and r2 (day 2), DAG ``target_id`` to trigger,
    on the database behind the store; :meth:`store` gives the store a worker running a try holds."""

    kind: str
    db: Any
    config: Any
    api_url: str | None
    dag_id: str
    target_id: str
    conn: str
    missing_conn: str
    opened: list[Any] = field(default_factory=list)

    def store(self, key: TaskKey) -> TryStore:
        """A fresh store for try ``key``: a DbTryStore, or an ApiTryStore holding the try's workload token."""
        if self.api_url is None:
            return DbTryStore(self.db, self.config)
        store = ApiTryStore(self.api_url, issue_workload_token(self.config, key), retry_for=5)
        self.opened.append(store)
        return store

    def key(self, task_id: str = "work", run_id: str = "r2", try_number: int = 1) -> TaskKey:
        return TaskKey(self.dag_id, run_id, task_id, -1, try_number)

    def queue(self, task_id: str = "work", run_id: str = "r2", try_number: int = 1) -> TaskKey:
        """Queue the instance for ``try_number`` (as the scheduler would)."""
        self.set_state(task_id, run_id, state="queued", try_number=try_number)
        return self.key(task_id, run_id, try_number)

    def set_state(self, task_id: str, run_id: str = "r2", **values: Any) -> None:
        with self.db.session_scope() as s:
            s.execute(update(TaskInstance).where(TaskInstance.dag_id == self.dag_id, TaskInstance.run_id == run_id,
                                                 TaskInstance.task_id == task_id).values(**values))

    def claimed(self, task_id: str = "work", run_id: str = "r2", try_number: int = 1) -> tuple[TryStore, TaskKey]:
        """Queue and claim a try; its store (now holding the try token, for the API) and key."""
        key = self.queue(task_id, run_id, try_number)
        store = self.store(key)
        assert store.claim(key, hostname="h", pid=1) is not None
        return store, key

    def ti(self, key: TaskKey) -> TaskInstance:
        with self.db.session_scope() as s:
            row = s.scalars(select(TaskInstance).where(
                TaskInstance.dag_id == key.dag_id, TaskInstance.run_id == key.run_id,
                TaskInstance.task_id == key.task_id)).one()
            s.expunge(row)
            return row

    def close(self) -> None:
        for store in self.opened:
            store.close()


@pytest.fixture(params=STORES)
def world(request: pytest.FixtureRequest, config: Any) -> Iterator[World]:
    kind, backend = request.param.split("-")
    if kind == "db":
        db, cfg, api_url = request.getfixturevalue("db" if backend == "sqlite" else "pg_db"), config, None
    else:
        server: RunningApiServer = request.getfixturevalue(f"api_{backend}")
        db, cfg, api_url = server.db, server.config, server.execution_url
    n = f"{next(_names)}_{os.getpid()}"
    w = World(kind=kind, db=db, config=cfg, api_url=api_url, dag_id=f"d{n}", target_id=f"target{n}",
              conn=f"pg{n}", missing_conn=f"nope{n}")
    tasks = [
        task_dict("work", retries=2, retry_delay=120.0, conn_ids=[w.conn, w.missing_conn]),
        task_dict("other", ("work",)),
        task_dict("later", ("work",)),
    ]
    with db.session_scope() as s:
        version = store_dag(s, make_snapshot(w.dag_id, tasks))
        store_dag(s, make_snapshot(w.target_id, [task_dict("t")]))
        for run_id, day in (("r1", DAY1), ("r2", DAY2)):
            s.add(DagRun(dag_id=w.dag_id, run_id=run_id, run_type="scheduled", state="running", logical_date=day,
                         data_interval_start=day, data_interval_end=day, run_after=day, start_date=day,
                         conf={"x": 1}, dag_version_id=version))
        s.flush()
        for run_id in ("r1", "r2"):
            for task_id in ("work", "other", "later"):
                s.add(TaskInstance(dag_id=w.dag_id, run_id=run_id, task_id=task_id, map_index=-1, state="none",
                                   try_number=0, max_tries=3 if task_id == "work" else 1))
    yield w
    w.close()


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


# --------------------------------------------------------------------------- the claim
def test_claim_succeeds_once_and_clears_the_instances_old_xcoms(world: World) -> None:
    key = world.queue()
    with world.db.session_scope() as s:
        xcom_set(s, world.dag_id, "r2", "work", -1, "stale", 1, DAY2)
    claimed = world.store(key).claim(key, hostname="h1", pid=42)
    assert claimed is not None and claimed.key == key
    assert claimed.run.run_id == "r2" and claimed.run.conf == {"x": 1} and claimed.max_tries == 3
    assert _utc(claimed.run.logical_date) == DAY2
    assert claimed.prev_success is None  # r1 is running, not successful
    row = world.ti(key)
    assert (row.state, row.hostname, row.pid) == ("running", "h1", 42)
    with world.db.session_scope() as s:
        assert s.scalars(select(XCom).where(XCom.dag_id == world.dag_id, XCom.run_id == "r2")).all() == []
    # A second worker handed the same try (a redelivered message) claims nothing.
    assert world.store(key).claim(key, hostname="h2", pid=43) is None
    assert world.ti(key).hostname == "h1"


def test_claim_names_the_previous_successful_run(world: World) -> None:
    with world.db.session_scope() as s:
        s.execute(update(DagRun).where(DagRun.dag_id == world.dag_id, DagRun.run_id == "r1").values(state="success"))
    key = world.queue()
    claimed = world.store(key).claim(key, hostname="h", pid=1)
    assert claimed is not None and claimed.prev_success is not None
    assert claimed.prev_success.run_id == "r1" and _utc(claimed.prev_success.logical_date) == DAY1


def test_claim_of_another_try_number_runs_nothing(world: World) -> None:
    queued = world.queue(try_number=2)
    first = world.key(try_number=1)
    assert world.store(first).claim(first, hostname="h", pid=1) is None
    assert world.ti(queued).state == "queued"


# --------------------------------------------------------------------------- heartbeat
def test_heartbeat_is_false_once_the_instance_was_cleared(world: World) -> None:
    store, key = world.claimed()
    assert store.heartbeat(key) is True
    assert world.ti(key).last_heartbeat_at is not None
    world.set_state("work", state="none")
    assert store.heartbeat(key) is False


# --------------------------------------------------------------------------- finish
def test_finish_applies_the_stored_retry_policy_then_fails(world: World) -> None:
    store, key = world.claimed()
    before = datetime.now(timezone.utc)
    assert store.finish(key, FinishRequest(outcome="failed", error="ValueError: boom")) == "up_for_retry"
    row = world.ti(key)
    assert row.note == "ValueError: boom"
    # retry_delay=120 s from the stored snapshot (the default would be 300 s)
    assert before + timedelta(seconds=119) <= _utc(row.next_retry_at) <= datetime.now(timezone.utc) + timedelta(seconds=121)
    store2, second = world.claimed(try_number=2)
    assert store2.finish(second, FinishRequest(outcome="failed", error="again")) == "up_for_retry"
    store3, third = world.claimed(try_number=3)
    assert store3.finish(third, FinishRequest(outcome="failed", error="last")) == "failed"
    with world.db.session_scope() as s:
        tries = s.scalars(select(TaskInstanceTry).where(TaskInstanceTry.dag_id == world.dag_id)).all()
        assert sorted((t.try_number, t.state, t.error) for t in tries) == [
            (1, "failed", "ValueError: boom"), (2, "failed", "again"), (3, "failed", "last")]


def test_finish_without_retry_fails_at_once(world: World) -> None:
    store, key = world.claimed()
    assert store.finish(key, FinishRequest(outcome="failed", error="no", allow_retry=False)) == "failed"
    assert world.ti(key).state == "failed"


def test_finish_success_commits_xcoms_rendered_fields_label_and_outlet_events(world: World) -> None:
    store, key = world.claimed()
    name = f"sales_{world.dag_id}"
    asset = {"name": name, "uri": f"s3://b/{name}", "group": "asset", "extra": {}}
    state = store.finish(key, FinishRequest(
        outcome="success", xcoms={"return_value": {"n": 1}, "k": [1, 2]}, rendered_fields={"cmd": "echo 2"},
        map_index_label="Label", outlets=[asset],
        outlet_extras={outlet_extra_key(name, f"s3://b/{name}"): {"rows": 3}},
    ))
    assert state == "success" and world.ti(key).state == "success"
    assert store.xcom_values(key, world.dag_id, "r2", ["work"], "k") == {"work": {-1: [1, 2]}}
    assert store.xcom_values(key, world.dag_id, "r2", ["work"], "return_value") == {"work": {-1: {"n": 1}}}
    with world.db.session_scope() as s:
        attempt = s.scalars(select(TaskInstanceTry).where(TaskInstanceTry.dag_id == world.dag_id)).one()
        assert attempt.rendered_fields == {"cmd": "echo 2"} and attempt.state == "success"
        event = s.scalars(select(AssetEvent).where(AssetEvent.source_dag_id == world.dag_id)).one()
        assert event.extra == {"rows": 3} and event.source_task_id == "work"
    assert world.ti(key).rendered_map_index == "Label"
    events = store.asset_events(asset)
    assert [(e["name"], e["extra"], e["source_run_id"]) for e in events] == [(name, {"rows": 3}, "r2")]
    # JSON types, as AssetEventInfo.as_dict gives them (prepare's inlet_events parses the ISO timestamp)
    assert isinstance(datetime.fromisoformat(events[0]["timestamp"]), datetime)


def test_finish_success_records_events_through_outlet_aliases(world: World) -> None:
    store, key = world.claimed()
    alias = {"alias": f"alias_{world.dag_id}", "group": "asset"}
    asset = {"name": f"s3://b/via_{world.dag_id}", "uri": f"s3://b/via_{world.dag_id}", "group": "asset", "extra": {}}
    added = {"alias": alias, "asset": asset, "extra": {"rows": 4}}
    assert store.finish(key, FinishRequest(outcome="success", outlet_alias_events=[added, added])) == "success"
    (event,) = store.asset_events(alias)  # an alias inlet: the events emitted through it
    assert (event["uri"], event["extra"], event["source_aliases"]) == (asset["uri"], {"rows": 4}, [alias])
    assert [e["id"] for e in store.asset_events(asset)] == [event["id"]]


def test_a_failed_try_records_no_outlet_events(world: World) -> None:
    store, key = world.claimed()
    asset = {"name": f"lost_{world.dag_id}", "uri": f"lost_{world.dag_id}", "group": "asset", "extra": {}}
    store.finish(key, FinishRequest(outcome="failed", error="x", outlets=[asset]))
    assert store.asset_events(asset) == []


def test_finish_skipped(world: World) -> None:
    store, key = world.claimed()
    assert store.finish(key, FinishRequest(outcome="skipped")) == "skipped"
    assert world.ti(key).state == "skipped"


def test_finish_refuses_an_unknown_outcome_and_a_reschedule_without_date(world: World) -> None:
    store, key = world.claimed()
    with pytest.raises(TryStoreRefused, match="'exploded'"):
        store.finish(key, FinishRequest(outcome="exploded"))
    with pytest.raises(TryStoreRefused, match="reschedule_date"):
        store.finish(key, FinishRequest(outcome="up_for_reschedule"))
    assert world.ti(key).state == "running"


def test_a_finish_after_the_instance_was_cleared_is_refused(world: World) -> None:
    store, key = world.claimed()
    world.queue(try_number=2)  # cleared and queued again meanwhile
    with pytest.raises(TryStoreRefused):
        store.finish(key, FinishRequest(outcome="success", xcoms={"late": 1}))
    row = world.ti(key)
    assert (row.state, row.try_number) == ("queued", 2)
    assert store.xcom_values(key, world.dag_id, "r2", ["work"], "late") == {}


# --------------------------------------------------------------------------- reschedule, defer, skip
def test_reschedule_and_its_summary(world: World) -> None:
    store, key = world.claimed()
    claimed_start = world.ti(key).start_date
    when = datetime.now(timezone.utc) + timedelta(minutes=5)
    assert store.finish(key, FinishRequest(outcome="up_for_reschedule", reschedule_date=when)) == "up_for_reschedule"
    first, count = store.reschedule_summary(key)
    assert count == 1 and first is not None
    assert abs(_utc(first) - _utc(claimed_start)) < timedelta(seconds=1)


def test_defer_stores_the_trigger_and_the_pushed_xcoms(world: World) -> None:
    store, key = world.claimed()
    state = store.defer(key, DeferRequest(
        classpath="tradewind.definition.triggers.DateTimeTrigger", trigger_kwargs={"moment": "2030-01-01T00:00:00"},
        next_method="execute_complete", next_kwargs={"n": 1}, timeout_at=DAY2 + timedelta(days=1000),
        xcoms={"before": 1}, rendered_fields={"f": "v"},
    ))
    assert state == "deferred"
    row = world.ti(key)
    assert (row.state, row.next_method, row.next_kwargs) == ("deferred", "execute_complete", {"n": 1})
    with world.db.session_scope() as s:
        trigger = s.get(Trigger, row.trigger_id)
        assert trigger.classpath == "tradewind.definition.triggers.DateTimeTrigger"
        assert trigger.kwargs == {"moment": "2030-01-01T00:00:00"}
    assert store.xcom_values(key, world.dag_id, "r2", ["work"], "before") == {"work": {-1: 1}}


def test_a_resumed_try_keeps_what_it_pushed_before_deferring(world: World) -> None:
    store, key = world.claimed()
    store.defer(key, DeferRequest(classpath="tradewind.definition.triggers.DateTimeTrigger",
                                  trigger_kwargs={"moment": "2030-01-01T00:00:00"}, next_method="execute_complete",
                                  next_kwargs=None, timeout_at=None, xcoms={"before": 1}))
    world.queue()  # the trigger fired: the scheduler queues the same try again
    resumed = world.store(key).claim(key, hostname="h", pid=2)
    assert resumed is not None and resumed.next_method == "execute_complete"
    with world.db.session_scope() as s:
        assert s.scalars(select(XCom.key).where(XCom.dag_id == world.dag_id)).all() == ["before"]


def test_skip_tasks_skips_only_instances_not_started(world: World) -> None:
    store, key = world.claimed()
    world.queue(task_id="later")
    assert store.skip_tasks(key, ["other", "later", "work"]) == ["other"]
    assert world.ti(world.key("other")).state == "skipped"
    assert world.ti(world.key("later")).state == "queued"
    assert world.ti(world.key("other", run_id="r1")).state == "none"  # another run is untouched


# --------------------------------------------------------------------------- XCom
def test_xcom_values_with_and_without_prior_dates(world: World) -> None:
    d = world.dag_id
    with world.db.session_scope() as s:
        xcom_set(s, d, "r1", "work", -1, "return_value", "old", DAY1)
        xcom_set(s, d, "r1", "other", 0, "return_value", "m0", DAY1)
        xcom_set(s, d, "r1", "other", 1, "return_value", "m1", DAY1)
        xcom_set(s, d, "r2", "work", -1, "return_value", "new", DAY2)
    store, key = world.claimed("later")
    assert store.xcom_values(key, d, "r2", ["work", "other"], "return_value") == {"work": {-1: "new"}}
    assert store.xcom_values(key, d, "r2", ["work", "other"], "return_value", include_prior_dates=True) == {
        "work": {-1: "new"}, "other": {0: "m0", 1: "m1"}}
    assert store.xcom_values(key, d, "r2", ["work"], "missing_key", include_prior_dates=True) == {}
    # prior dates never look at later runs
    earlier, key1 = world.claimed("later", run_id="r1")
    assert earlier.xcom_values(key1, d, "r1", ["work"], "return_value", include_prior_dates=True) == {
        "work": {-1: "old"}}


# --------------------------------------------------------------------------- other runs (sensors)
def test_cross_run_reads(world: World) -> None:
    d = world.dag_id
    with world.db.session_scope() as s:
        s.execute(update(TaskInstance).where(TaskInstance.dag_id == d, TaskInstance.run_id == "r1")
                  .values(state="success"))
        s.execute(update(DagRun).where(DagRun.dag_id == d, DagRun.run_id == "r1").values(state="success"))
    store, _key = world.claimed("later")
    assert store.ti_count(d, states=["success"]) == 3
    assert store.ti_count(d, task_ids=["work"], logical_dates=[DAY1, DAY2]) == 2
    assert store.task_states(d, task_ids=["work"], run_ids=["r1"]) == {"r1": {"work": "success"}}
    assert store.dr_count(d, states=["success"]) == 1
    assert store.dagrun_state(d, "r1") == "success" and store.dagrun_state(d, "nope") is None
    assert store.dag_task_ids(d) == {"work", "other", "later"} and store.dag_task_ids(f"ghost{d}") is None


def test_trigger_dag_run_creates_refuses_skips_and_resets(world: World) -> None:
    store, key = world.claimed()
    target = world.target_id
    made = store.trigger_dag_run(key, TriggerRunRequest(trigger_dag_id=target, dag_run_id="t1",
                                                        logical_date=DAY1, conf={"a": 1}))
    assert (made.run_id, made.reset, made.paused) == ("t1", False, False)
    assert _utc(made.logical_date) == DAY1
    with world.db.session_scope() as s:
        run = s.scalars(select(DagRun).where(DagRun.dag_id == target, DagRun.run_id == "t1")).one()
        assert run.conf == {"a": 1} and run.triggered_by == "operator"
        run.state = "success"
        s.add(TaskInstance(dag_id=target, run_id="t1", task_id="t", map_index=-1, state="success", try_number=1))
    with pytest.raises(DagRunAlreadyExists, match="'t1'"):
        store.trigger_dag_run(key, TriggerRunRequest(trigger_dag_id=target, dag_run_id="t1"))
    with pytest.raises(TaskSkipped, match="skip_when_already_exists"):
        store.trigger_dag_run(key, TriggerRunRequest(trigger_dag_id=target, dag_run_id="t1",
                                                     skip_when_already_exists=True))
    again = store.trigger_dag_run(key, TriggerRunRequest(trigger_dag_id=target, dag_run_id="t1", reset_dag_run=True))
    assert again.reset is True
    assert store.dagrun_state(target, "t1") == "queued"
    with world.db.session_scope() as s:
        assert s.scalar(select(TaskInstance.state).where(TaskInstance.dag_id == target)) == "none"
    with pytest.raises(TradewindException, match=f"'ghost{world.dag_id}': no such DAG"):
        store.trigger_dag_run(key, TriggerRunRequest(trigger_dag_id=f"ghost{world.dag_id}"))


# --------------------------------------------------------------------------- Variables, Connections
def test_variables_round_trip(world: World) -> None:
    store, key = world.claimed()
    name = f"color_{world.dag_id}"
    assert store.variable_get(key, name) is None
    store.variable_set(key, name, "blue", "why")
    assert store.variable_get(key, name) == "blue"
    store.variable_set(key, name, "red", None)
    assert store.variable_get(key, name) == "red"
    assert store.variable_delete(key, name) is True
    assert store.variable_delete(key, name) is False
    assert store.variable_get(key, name) is None


def test_connections_are_decrypted_and_missing_ones_are_none(world: World) -> None:
    from tradewind.persist.fernet import fernet_from_config
    from tradewind.persist.queries.connections import add_connection

    with world.db.session_scope() as s:
        add_connection(s, Connection(conn_id=world.conn, conn_type="postgres", host="db.local", login="u",
                                     password="s3cret", port=5432, extra={"sslmode": "require"}),
                       fernet_from_config(world.config))
    store, key = world.claimed()
    conn = store.connection_get(key, world.conn)
    assert (conn.conn_id, conn.conn_type, conn.host, conn.login, conn.password, conn.port) == (
        world.conn, "postgres", "db.local", "u", "s3cret", 5432)
    assert conn.extra_dejson == {"sslmode": "require"}
    assert store.connection_get(key, world.missing_conn) is None
