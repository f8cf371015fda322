"""The execution API end to end: a real ``tradewind api-server`` process (SQLite and PostgreSQL),
tries run by :func:`run_remote_try` in child processes that have no database settings at all,
and the security cases over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import free_port
from execution_api_server import start_api_server
from runner_support import add_dag, queue
from service_support import stop_process
from sqlalchemy import select

from tradewind.config import Config
from tradewind.execute.tokens import issue_try_token, issue_workload_token
from tradewind.persist.db import Database
from tradewind.persist.models import TaskInstance, TaskInstanceTry, Variable, XCom
from tradewind.persist.queries.variables import variable_value
from tradewind.workloads import TaskKey, Workload


@dataclass
class ApiServer:
    """A running API server on one database, and the test's view of the same home."""

    config: Config
    db: Database
    url: str
    proc: subprocess.Popen[str]
    tmp: Path

    @property
    def execution_url(self) -> str:
        return f"{self.url}/execution/"

    def workload(self, key: TaskKey, fileloc: str, **changes: Any) -> Workload:
        version_hash = self._version_hash(key.dag_id)
        wl = Workload(key=key, fileloc=fileloc, snapshot_hash=version_hash, token=issue_workload_token(self.config, key))
        return replace(wl, **changes)

    def _version_hash(self, dag_id: str) -> str:
        from tradewind.persist.models import DagVersion

        with self.db.read_scope() as s:
            return s.scalar(select(DagVersion.snapshot_hash).where(DagVersion.dag_id == dag_id))

    def run_remote(self, wl: Workload, *, worker: str = "w1") -> tuple[int, str]:
        """``run_remote_try`` in a child process whose environment holds no database settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWIND", "AIRFLOW"))}
        env.update({
            "TRADEWIND_HOME": str(self.tmp / f"worker-{worker}-home-not-created"),  # bogus: nothing there
            "TRADEWIND__CORE__EXECUTION_API_SERVER_URL": self.execution_url,
            "TRADEWIND__CELERY__LOG_SHIP_INTERVAL": "0.2",
            "TRADEWIND__CORE__LOAD_EXAMPLES": "False",
        })
        proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(wl.to_dict())], env=env,
                              capture_output=True, text=True, timeout=120)
        return proc.returncode, proc.stdout + proc.stderr

    def post(self, path: str, token: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.url}/execution/v1{path}", json=body,
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def get(self, path: str, token: str) -> httpx.Response:
        return httpx.get(f"{self.url}/execution/v1{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)


_CHILD = """
import json, os, sys
assert "TRADEWIND__DATABASE__URL" not in os.environ, "the worker must not know the database"
from tradewind.config import Config
from tradewind.execute.remote import run_remote_try
from tradewind.workloads import Workload
config = Config.load()
assert config.home.name.endswith("-not-created")
sys.exit(run_remote_try(Workload.from_dict(json.loads(sys.argv[1])), config=config))
"""


def _start(tmp: Path, url: str) -> ApiServer:
    server = start_api_server(tmp / "server-home", url)
    return ApiServer(config=server.config, db=server.db, url=server.url, proc=server.proc, tmp=tmp)


def _stop(server: ApiServer) -> None:
    stop_process(server.proc, timeout=30)
    server.db.engine.dispose()


@pytest.fixture(scope="module")
def sqlite_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    tmp = tmp_path_factory.mktemp("exec_api_sqlite")
    server = _start(tmp, f"sqlite:///{tmp / 'tradewind.db'}")
    yield server
    _stop(server)


@pytest.fixture(scope="module")
def pg_api(tmp_path_factory: pytest.TempPathFactory, pg_server: Any) -> Iterator[ApiServer]:
    name = pg_server.new_database_name("execapi")
    pg_server.execute_autocommit(f'CREATE DATABASE "{name}"')
    server = _start(tmp_path_factory.mktemp("exec_api_pg"), pg_server.url(name))
    yield server
    _stop(server)
    pg_server.execute_autocommit(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest) -> ApiServer:
    return request.getfixturevalue("sqlite_api" if request.param == "sqlite" else "pg_api")


_counter = iter(range(1, 10_000))


def _dag_id(prefix: str) -> str:
    return f"{prefix}_{next(_counter)}_{os.getpid()}"


PIPELINE = """
from tradewind.definition.connection import Connection
from tradewind.definition.variable import Variable

def produce(ti):
    print("producing on the worker")
    ti.xcom_push(key="extra", value={"rows": 3})
    return [1, 2, 3]

def consume(ti):
    values = ti.xcom_pull(task_ids="produce")
    extra = ti.xcom_pull(task_ids="produce", key="extra")
    conn = Connection.get("warehouse_db")
    threshold = Variable.get("threshold")
    Variable.set("seen_by_worker", f"{sum(values)}:{extra['rows']}:{conn.host}:{threshold}")
    print("consumed", values, conn.host)
    return sum(values)

def flaky():
    raise RuntimeError("flaky on purpose")

with DAG("{dag_id}", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    p = PythonOperator(task_id="produce", python_callable=produce)
    c = PythonOperator(task_id="consume", python_callable=consume)
    f = PythonOperator(task_id="flaky", python_callable=flaky, retries=1, retry_delay=timedelta(seconds=0))
    p >> c
"""


def _state(db: Database, key: TaskKey) -> tuple[str, int]:
    with db.read_scope() as s:
        ti = s.scalars(select(TaskInstance).where(
            TaskInstance.dag_id == key.dag_id, TaskInstance.run_id == key.run_id,
            TaskInstance.task_id == key.task_id, TaskInstance.map_index == key.map_index)).one()
        return ti.state, ti.try_number


def _add_connection(db: Database, config: Config, conn_id: str, host: str) -> None:
    from tradewind.definition.connection import Connection
    from tradewind.persist.fernet import fernet_from_config
    from tradewind.persist.queries import connections

    with db.session_scope() as s:
        connections.add_connection(s, Connection(conn_id=conn_id, conn_type="postgres", host=host,
                                                 password="pw-secret"), fernet_from_config(config))


def test_remote_tries_run_through_the_api_with_no_database_settings(api: ApiServer) -> None:
    dag_id = _dag_id("remote")
    fileloc = add_dag(api.config, api.db, dag_id, PIPELINE.replace("{dag_id}", dag_id))
    _add_connection(api.db, api.config, "warehouse_db", "wh.example")
    with api.db.session_scope() as s:
        s.add(Variable(key="threshold", val="7"))

    produce = queue(api.db, dag_id, "produce")
    code, output = api.run_remote(api.workload(produce, fileloc))
    assert code == 0, output
    assert _state(api.db, produce) == ("success", 1)

    consume = queue(api.db, dag_id, "consume")
    code, output = api.run_remote(api.workload(consume, fileloc), worker="w2")
    assert code == 0, output
    assert _state(api.db, consume) == ("success", 1)
    with api.db.read_scope() as s:
        xcoms = {(x.task_id, x.key): json.loads(x.value)
                 for x in s.scalars(select(XCom).where(XCom.dag_id == dag_id))}
        seen = variable_value(s, s.get(Variable, "seen_by_worker"))
        tries = s.scalars(select(TaskInstanceTry).where(TaskInstanceTry.dag_id == dag_id)).all()
    assert xcoms[("produce", "return_value")] == [1, 2, 3] and xcoms[("produce", "extra")] == {"rows": 3}
    assert xcoms[("consume", "return_value")] == 6
    assert seen == "6:3:wh.example:7"
    assert {(t.task_id, t.try_number, t.state) for t in tries} == {("produce", 1, "success"),
                                                                   ("consume", 1, "success")}
    # The logs were shipped to the API server's log folder (the worker's home is elsewhere).
    from tradewind.execute.logs import log_path

    server_log = log_path(api.config.logs_folder, consume).read_text()
    assert "consumed [1, 2, 3] wh.example" in server_log and "pw-secret" not in server_log
    assert "producing on the worker" in log_path(api.config.logs_folder, produce).read_text()

    # A failing try goes through the retry policy on the server: up_for_retry, then failed.
    flaky = queue(api.db, dag_id, "flaky", max_tries=2)
    code, output = api.run_remote(api.workload(flaky, fileloc))
    assert code == 0, output
    assert _state(api.db, flaky) == ("up_for_retry", 1)
    flaky2 = queue(api.db, dag_id, "flaky", try_number=2, max_tries=2)
    code, output = api.run_remote(api.workload(flaky2, fileloc))
    assert code == 0, output
    assert _state(api.db, flaky2) == ("failed", 2)
    assert "flaky on purpose" in log_path(api.config.logs_folder, flaky2).read_text()


def test_a_changed_dag_file_on_the_worker_fails_the_try_naming_both_hashes(api: ApiServer) -> None:
    dag_id = _dag_id("drift")
    fileloc = add_dag(api.config, api.db, dag_id, PIPELINE.replace("{dag_id}", dag_id))
    key = queue(api.db, dag_id, "produce")
    queued_hash = "ab" * 32
    code, output = api.run_remote(api.workload(key, fileloc, snapshot_hash=queued_hash))
    assert code == 0, output
    with api.db.read_scope() as s:
        row = s.scalars(select(TaskInstanceTry).where(TaskInstanceTry.dag_id == dag_id)).one()
    assert row.state == "failed" and _state(api.db, key) == ("failed", 1)
    from tradewind.execute.logs import log_path

    text = log_path(api.config.logs_folder, key).read_text()
    assert "differs from the version the scheduler queued" in text and queued_hash[:12] in text
    assert fileloc in text and "producing on the worker" not in text


# --------------------------------------------------------------------------- security (SQLite server)
SIMPLE = """
def work():
    return 1

with DAG("{dag_id}", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    PythonOperator(task_id="work", python_callable=work)
    PythonOperator(task_id="other", python_callable=work)
"""


def _claimed(api: ApiServer, dag_id: str, task_id: str = "work", run_id: str = "run1") -> tuple[TaskKey, str]:
    """Queue and claim a try through the API; returns its key and try token."""
    key = queue(api.db, dag_id, task_id, run_id=run_id)
    answer = api.post("/try/claim", issue_workload_token(api.config, key),
                      {"key": asdict(key), "hostname": "test", "pid": 1})
    assert answer.status_code == 200, answer.text
    assert answer.json()["claimed"]["key"] == asdict(key)
    return key, answer.json()["token"]


def test_xcom_of_another_try_and_unnamed_connections_are_refused(sqlite_api: ApiServer) -> None:
    api = sqlite_api
    dag_id = _dag_id("scope")
    add_dag(api.config, api.db, dag_id, SIMPLE.replace("{dag_id}", dag_id))
    _add_connection(api.db, api.config, "not_for_you", "secret.example")
    key, token = _claimed(api, dag_id)
    own = {"key": asdict(key), "dag_id": dag_id, "run_id": "run1", "task_ids": ["other"], "xcom_key": "return_value"}
    assert api.post("/xcom/values", token, own).status_code == 200
    # Reading other runs' (and other DAGs') XComs is allowed, as in Airflow 3
    # (tests/integration/test_execution_api_cross_dag_xcom.py); the body must name the token's try.
    other = api.post("/xcom/values", token, {**own, "key": {**asdict(key), "task_id": "other"}})
    assert other.status_code == 403 and "other" in other.json()["detail"]
    refused = api.get("/connections/not_for_you", token)
    assert refused.status_code == 403
    assert "not_for_you" in refused.json()["detail"] and "connection_access" in refused.json()["detail"]


def test_a_task_reads_the_connections_it_names(sqlite_api: ApiServer) -> None:
    api = sqlite_api
    dag_id = _dag_id("named")
    body = """
def work():
    from tradewind.definition.connection import Connection
    return Connection.get("granted_db").host

with DAG("{dag_id}", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    PythonOperator(task_id="work", python_callable=work)
"""
    add_dag(api.config, api.db, dag_id, body.replace("{dag_id}", dag_id))
    _add_connection(api.db, api.config, "granted_db", "granted.example")
    _key, token = _claimed(api, dag_id)
    answer = api.get("/connections/granted_db", token)
    assert answer.status_code == 200 and answer.json()["connection"]["host"] == "granted.example"


def test_forged_expired_and_other_try_tokens_are_refused(sqlite_api: ApiServer) -> None:
    api = sqlite_api
    dag_id = _dag_id("tokens")
    add_dag(api.config, api.db, dag_id, SIMPLE.replace("{dag_id}", dag_id))
    key, token = _claimed(api, dag_id)
    beat = {"key": asdict(key)}
    assert api.post("/try/heartbeat", token, beat).status_code == 204
    forger = Config.load(home=api.tmp / "elsewhere", environ={}, overrides={"api": {"secret_key": "f" * 48}})
    assert api.post("/try/heartbeat", issue_try_token(forger, key), beat).status_code == 401
    expired = issue_try_token(api.config, key, now=time.time() - 3600)
    answer = api.post("/try/heartbeat", expired, beat)
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]
    # a genuine token of another try of the same run may not address this one
    other_key, other_token = _claimed(api, dag_id, "other")
    answer = api.post("/try/heartbeat", other_token, beat)
    assert answer.status_code == 403 and "not" in answer.json()["detail"]
    # the workload token only claims (or reports lost)
    assert api.post("/try/heartbeat", issue_workload_token(api.config, key), beat).status_code == 403
    # no token, a user-style header, and an execution token on the user API
    assert httpx.post(f"{api.url}/execution/v1/try/heartbeat", json=beat).status_code == 401
    assert httpx.get(f"{api.url}/api/v1/dags", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert other_key != key


def test_heartbeat_and_finish_of_a_try_that_is_not_running_answer_409(sqlite_api: ApiServer) -> None:
    api = sqlite_api
    dag_id = _dag_id("stale")
    add_dag(api.config, api.db, dag_id, SIMPLE.replace("{dag_id}", dag_id))
    key, token = _claimed(api, dag_id)
    heartbeat = api.post("/try/heartbeat", token, {"key": asdict(key)})
    assert heartbeat.status_code == 204 and heartbeat.headers.get("Refreshed-API-Token")
    # the instance is cleared and queued again for try 2 meanwhile
    queue(api.db, dag_id, "work", try_number=2)
    assert api.post("/try/heartbeat", token, {"key": asdict(key)}).status_code == 409
    finish = api.post("/try/finish", token, {"key": asdict(key), "request": {"outcome": "success"}})
    assert finish.status_code == 409 and "not running" in finish.json()["detail"]
    assert _state(api.db, key) == ("queued", 2)
    # (how ApiTryStore maps these answers onto the protocol: tests/contracts/test_try_store_contract.py)


def test_lost_try_is_failed_through_its_retry_policy(sqlite_api: ApiServer) -> None:
    api = sqlite_api
    dag_id = _dag_id("lost")
    fileloc = add_dag(api.config, api.db, dag_id, SIMPLE.replace("{dag_id}", dag_id))
    key = queue(api.db, dag_id, "work")
    from tradewind.execute.remote import report_lost

    config = Config.load(home=api.tmp / "worker", environ={}, overrides={
        "core": {"execution_api_server_url": api.execution_url}})
    wl = api.workload(key, fileloc)
    assert report_lost(wl, config=config, reason="child killed by signal 9") is True
    assert _state(api.db, key) == ("failed", 1)
    with api.db.read_scope() as s:
        row = s.scalars(select(TaskInstanceTry).where(TaskInstanceTry.dag_id == dag_id)).one()
    assert "child killed by signal 9" in (row.error or "")
    assert report_lost(wl, config=config, reason="again") is False  # already decided: nothing changes


def test_log_pieces_are_appended_once_by_offset(sqlite_api: ApiServer) -> None:
    api = sqlite_api
    dag_id = _dag_id("logs")
    add_dag(api.config, api.db, dag_id, SIMPLE.replace("{dag_id}", dag_id))
    key, token = _claimed(api, dag_id)
    first = {"key": asdict(key), "offset": 0, "data": "line one\n"}
    assert api.post("/try/logs", token, first).json() == {"size": 9}
    assert api.post("/try/logs", token, first).json() == {"size": 9}  # resent: stored once
    overlap = api.post("/try/logs", token, {"key": asdict(key), "offset": 5, "data": "one\nline two\n"})
    assert overlap.json() == {"size": 18}
    gap = api.post("/try/logs", token, {"key": asdict(key), "offset": 100, "data": "x\n"})
    assert gap.status_code == 409 and "resend from 18" in gap.json()["detail"]
    from tradewind.execute.logs import log_path

    assert log_path(api.config.logs_folder, key).read_text() == "line one\nline two\n"


def test_the_shipper_sends_complete_lines_while_running_and_the_rest_at_the_end(sqlite_api: ApiServer) -> None:
    api = sqlite_api
    dag_id = _dag_id("shipper")
    add_dag(api.config, api.db, dag_id, SIMPLE.replace("{dag_id}", dag_id))
    key, token = _claimed(api, dag_id)
    from tradewind.execute.api_client import ApiTryStore
    from tradewind.execute.log_shipping import LogShipper
    from tradewind.execute.logs import log_path

    local = api.tmp / "worker-log" / f"{dag_id}.log"
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes("first line é\nunfinished ".encode())
    store = ApiTryStore(api.execution_url, token)
    shipper = LogShipper(store, key, local, interval=60)
    server_copy = log_path(api.config.logs_folder, key)
    shipper.ship(final=False)
    assert server_copy.read_text() == "first line é\n"
    with open(local, "ab") as handle:
        handle.write("line ünd more".encode())
    shipper.ship(final=False)  # still no newline: nothing new is sent
    assert server_copy.read_text() == "first line é\n"
    shipper.stop()  # the try ended: the rest goes too
    assert server_copy.read_text() == "first line é\nunfinished line ünd more"
    store.close()


def test_an_unreachable_api_is_retried_then_named_in_the_error() -> None:
    from tradewind.execute.api_client import ApiTryStore, ExecutionApiError

    port = free_port()  # nothing listens there
    store = ApiTryStore(f"http://127.0.0.1:{port}/execution/", "token", retry_for=0.5)
    with pytest.raises(ExecutionApiError) as err:
        store.heartbeat(TaskKey("d", "r", "t"))
    assert f"127.0.0.1:{port}" in str(err.value) and "execution_api_server_url" in str(err.value)
    store.close()
