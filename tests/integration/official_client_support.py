"""Airflow 3's own clients against a real Tradewind API server.

- :func:`client_venv` / :func:`ctl_venv`: venvs holding ``apache-airflow-client`` (pinned to
  :data:`CLIENT_VERSION`, the version whose ``v2.yaml`` the API follows) and ``apache-airflow-ctl``
  (latest that installs on this Python). They are built by ``tests/providers/venv_support.py``
  (once, cached under ``~/.cache/tradewind-tests``, a lock for parallel workers). When PyPI cannot
  be reached the tests are skipped with the pip output, except under ``CI=true``, where a failed
  install fails the test.
- :func:`start_live_server`: a real ``tradewind api-server`` process on a free port, with its own
  ``TRADEWIND_HOME`` and SQLite file, seeded with the DAG file :data:`DAG_SOURCE`, one finished run
  of it (:data:`RUN_ID`, run by the real scheduler and the in-process executor), one import error
  and an admin user, whose bearer token comes from ``POST /auth/token`` as Airflow's clients get
  theirs. :class:`LiveServer` names what was seeded.
- :func:`run_client_operations`: runs :data:`CLIENT_RUNNER` in the client venv: each operation is
  one Python expression calling the official client; the answer is, per operation, either the
  returned model as a dict (the client validated it against Airflow's schema) or the error.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

TESTS = Path(__file__).resolve().parents[1]
for _folder in (TESTS, TESTS / "providers"):  # execution_api_server, service_support; venv_support
    if str(_folder) not in sys.path:
        sys.path.append(str(_folder))

from execution_api_server import RunningApiServer, start_api_server, stop_api_server  # noqa: E402
from service_support import in_ci  # noqa: E402
from venv_support import ProviderVenv, VenvBuildError, provider_venv  # noqa: E402

CLIENT_VERSION = "3.3.2"
CLIENT_REQUIREMENT = f"apache-airflow-client=={CLIENT_VERSION}"
CTL_REQUIREMENT = "apache-airflow-ctl"

ADMIN = "admin"
ADMIN_PASSWORD = "client test password"
DAG_ID = "client_dag"
RUN_ID = "seeded_run"
ASSET_NAME = "client_out"
ALIAS_NAME = "client_alias"
HITL_DAG_ID = "hitl_dag"
HITL_RUN_ID = "waiting_run"

#: The seeded DAGs: one with params, a tag, an XCom-returning task, a mapped task, a task group and
#: an asset and an asset alias it produces; one scheduled on that asset (queued asset events); one whose approval task waits for a human;
#: one the test deletes.
DAG_SOURCE = f"""
from airflow.providers.standard.operators.hitl import ApprovalOperator
from tradewind import Asset, AssetAlias, TaskGroup

with DAG("{DAG_ID}", start_date=datetime(2024, 1, 1), schedule="@daily", catchup=False, tags=["client"],
         params={{"rows": Param(3, type="integer", minimum=1)}}, doc_md="Seeded for Airflow's client."):
    extract = PythonOperator(task_id="extract", python_callable=lambda: {{"rows": 3}})
    square = PythonOperator.partial(task_id="square", python_callable=lambda x: x * x).expand(op_args=[[1], [2]])
    with TaskGroup("grp"):
        inner = EmptyOperator(task_id="inner")
    load = EmptyOperator(task_id="load", outlets=[Asset(name="{ASSET_NAME}", uri="file:///tmp/{ASSET_NAME}"),
                                                 AssetAlias("{ALIAS_NAME}")])
    extract >> square >> inner >> load

with DAG("consumer_dag", start_date=datetime(2024, 1, 1),
         schedule=[Asset(name="{ASSET_NAME}", uri="file:///tmp/{ASSET_NAME}")]):
    EmptyOperator(task_id="consume")

with DAG("{HITL_DAG_ID}", start_date=datetime(2024, 1, 1), schedule=None):
    ApprovalOperator(task_id="approve", subject="Ship it?")

with DAG("doomed_dag", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="only")
"""


def _venv(requirement: str) -> ProviderVenv:
    if os.environ.get("TRADEWIND_SKIP_PROVIDER_VENVS") and not in_ci():
        pytest.skip("TRADEWIND_SKIP_PROVIDER_VENVS is set")
    try:
        return provider_venv("tradewind", [], [requirement])
    except VenvBuildError as exc:
        if in_ci():
            raise
        pytest.skip(f"could not install {requirement} (PyPI unreachable?): {str(exc)[-800:]}")


def client_venv() -> ProviderVenv:
    """A venv with Airflow's official Python client (``airflow_client.client``)."""
    return _venv(CLIENT_REQUIREMENT)


def ctl_venv() -> ProviderVenv:
    """A venv with ``airflowctl``; skipped with pip's words when it does not install here
    (failed under CI=true)."""
    return _venv(CTL_REQUIREMENT)


@dataclass
class LiveServer:
    """A running ``tradewind api-server`` and what was seeded in it."""

    server: RunningApiServer
    home: Path
    asset_id: int
    import_error_id: int
    token: str = ""

    @property
    def url(self) -> str:
        return self.server.url


def bearer_token(url: str, username: str = ADMIN, password: str = ADMIN_PASSWORD) -> str:
    """An access token from Airflow 3's ``POST /auth/token`` (what Airflow's clients are given)."""
    response = httpx.post(f"{url}/auth/token", json={"username": username, "password": password}, timeout=30)
    assert response.status_code in (200, 201), f"POST /auth/token: {response.status_code} {response.text}"
    return response.json()["access_token"]


def start_live_server(home: Path) -> LiveServer:
    """Start and seed the server (see the module's docstring); stop it with :func:`stop_live_server`."""
    from api_support import run_to_end, store_dag_file

    from tradewind.config import CONFIG_FILE_NAME
    from tradewind.parse.dagbag import FileParseResult, ImportErrorInfo
    from tradewind.persist.models import AssetModel, ImportError_
    from tradewind.persist.queries import dags as dag_queries
    from tradewind.persist.queries import users

    # [api] expose_config defaults to False (GET /api/v2/config answers 403, as Airflow 3's): this server's
    # config file turns it on, so the client's get_config is exercised (the server ignores TRADEWIND__ env).
    home.mkdir(parents=True, exist_ok=True)
    (home / CONFIG_FILE_NAME).write_text("[api]\nexpose_config = True\n", encoding="utf-8")
    server = start_api_server(home, f"sqlite:///{home / 'tradewind.db'}")
    try:
        config, db = server.config, server.db
        now = datetime.now(timezone.utc)
        with db.session_scope() as session:
            users.create_user(session, username=ADMIN, password=ADMIN_PASSWORD, role="admin", now=now)
        store_dag_file(config, db, "client_dags", DAG_SOURCE)
        broken = str(Path(config.dags_folder) / "broken_dag.py")
        error = ImportErrorInfo(broken, 1, "SyntaxError: invalid syntax", "Traceback: SyntaxError: invalid syntax")
        with db.session_scope() as session:
            dag_queries.store_file_results(session, [FileParseResult(broken, errors=[error])], now)
        token = bearer_token(server.url)
        made = httpx.post(f"{server.url}/api/v1/dags/{DAG_ID}/dagRuns", timeout=30,
                          headers={"Authorization": f"Bearer {token}"},
                          json={"dag_run_id": RUN_ID, "logical_date": "2024-01-01T00:00:00Z"})
        assert made.status_code == 200, made.text
        assert run_to_end(config, db, DAG_ID, RUN_ID) == "success"
        made = httpx.post(f"{server.url}/api/v1/dags/{HITL_DAG_ID}/dagRuns", timeout=30,
                          headers={"Authorization": f"Bearer {token}"}, json={"dag_run_id": HITL_RUN_ID})
        assert made.status_code == 200, made.text
        run_until_deferred(config, db, HITL_DAG_ID, HITL_RUN_ID)
        with db.read_scope() as session:
            asset_id = session.query(AssetModel.id).filter(AssetModel.name == ASSET_NAME).scalar()
            import_error_id = session.query(ImportError_.id).filter(ImportError_.filename == broken).scalar()
        return LiveServer(server=server, home=home, asset_id=asset_id, import_error_id=import_error_id,
                          token=token)
    except BaseException:
        stop_api_server(server)
        raise


def run_until_deferred(config: Any, db: Any, dag_id: str, run_id: str, *, max_steps: int = 200) -> None:
    """Step the real scheduler (in-process executor) until a task of the run is deferred: the
    approval task waits for its answer, its HITL request recorded."""
    from sqlalchemy import select

    from tradewind.execute.executors.inprocess import InProcessExecutor
    from tradewind.persist.models import TaskInstance
    from tradewind.schedule.scheduler import Scheduler

    executor = InProcessExecutor(1, config=config, db=db)
    scheduler = Scheduler(config, db, executor, only_run=(dag_id, run_id))
    executor.start()
    try:
        for _ in range(max_steps):
            scheduler.run_once()
            with db.read_scope() as session:
                states = set(session.scalars(select(TaskInstance.state).where(
                    TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)))
            if "deferred" in states:
                return
    finally:
        executor.end()
        close = getattr(scheduler, "close", None)
        if close is not None:
            close()
    raise AssertionError(f"no task of {dag_id}/{run_id} deferred in {max_steps} scheduler steps: {states}")


def stop_live_server(live: LiveServer) -> None:
    stop_api_server(live.server)


#: The end of every client runner: evaluates each operation with ``namespace`` and ``plain`` (the
#: returned model as plain JSON data) and prints one JSON object: name -> {"ok", "value"|"error"}.
RUNNER_LOOP = textwrap.dedent('''
    out = {}
    for name, expression in spec["operations"]:
        try:
            value = plain(eval(expression, namespace))
            namespace["R"][name] = value
            out[name] = {"ok": True, "value": value}
        except Exception as exc:  # the test reports it, with the server's answer
            body = getattr(exc, "body", None)
            out[name] = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:1500]}",
                         "status": getattr(exc, "status", None), "body": body if isinstance(body, str) else None}
    print(json.dumps(out, default=str))
''')

#: Runs in the client venv. Reads {"url", "token", "ctx", "operations": [[name, expression], ...]}
#: as JSON from stdin; evaluates each expression in turn with every API class instantiated
#: (``dag_api``, ``dag_run_api``, ...), ``models`` (the client's models), ``ctx`` and ``R`` (the
#: earlier operations' results by name); prints one JSON object: name -> {"ok", "value"|"error"}.
CLIENT_RUNNER = textwrap.dedent('''
    import json, re, sys
    import airflow_client.client as ac
    from airflow_client.client import models

    spec = json.load(sys.stdin)
    configuration = ac.Configuration(host=spec["url"], access_token=spec["token"])
    client = ac.ApiClient(configuration)
    namespace = {"models": models, "ctx": spec["ctx"], "R": {}, "ac": ac}
    for name in dir(ac):
        if name.endswith("Api") and name != "ApiClient":
            snake = re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", name).lower().replace("d_a_g", "dag")
            namespace[snake] = getattr(ac, name)(client)

    def plain(value):
        """The model as a dict: ``to_dict()`` (it unwraps oneOf/anyOf), plus the top-level fields it
        leaves out (read-only ones such as ``file_token``, and those that are None)."""
        if hasattr(value, "to_dict"):
            out = value.to_dict()
            inner = getattr(value, "actual_instance", value)
            if isinstance(out, dict) and hasattr(inner, "model_dump"):
                for key, item in inner.model_dump(mode="json", by_alias=True).items():
                    out.setdefault(key, item)
            return out
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

''') + RUNNER_LOOP


def run_client_operations(venv: ProviderVenv, live: LiveServer, operations: list[tuple[str, str]],
                          ctx: dict[str, Any], *, timeout: float = 600) -> dict[str, dict[str, Any]]:
    """Each operation's outcome, by name (see :data:`CLIENT_RUNNER`)."""
    spec = {"url": live.url, "token": live.token, "ctx": ctx, "operations": operations}
    return run_runner(venv, CLIENT_RUNNER, spec, timeout=timeout)


def run_runner(venv: ProviderVenv, runner: str, spec: dict[str, Any], *, timeout: float) -> dict[str, dict[str, Any]]:
    """Runs a client runner script in ``venv`` with ``spec`` as JSON on stdin; its last line of
    output, parsed (each operation's outcome by name)."""
    result = subprocess.run([str(venv.executable), "-c", runner], input=json.dumps(spec), capture_output=True,
                            text=True, timeout=timeout, env=_client_env())
    assert result.returncode == 0, f"client runner failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


@contextmanager
def live_server(home: Path) -> Iterator[LiveServer]:
    """A seeded live server (:func:`start_live_server`) for the ``with`` block, stopped after it."""
    server = start_live_server(home)
    try:
        yield server
    finally:
        stop_live_server(server)


def seeded_ctx(live: LiveServer) -> dict[str, Any]:
    """The ``ctx`` the client expressions read: what :func:`start_live_server` seeded."""
    return {"dag_id": DAG_ID, "run_id": RUN_ID, "asset_id": live.asset_id,
            "import_error_id": live.import_error_id, "sqlite_path": str(live.home / "probe.db")}


@dataclass(frozen=True)
class Op:
    """One client call: ``expression`` (evaluated in the client process) and ``check`` on its
    result as a dict (None for methods that return nothing)."""

    name: str
    expression: str
    check: Callable[[Any], bool]


def ids(items: list[dict[str, Any]], key: str) -> set[Any]:
    """The values of ``key`` across a list of returned objects."""
    return {item[key] for item in items}


def op_params(operations: list[Op], known_failing: dict[str, str] | None = None) -> list[Any]:
    """One pytest param per operation, named after it; those in ``known_failing`` strictly xfail."""
    known_failing = known_failing or {}
    return [pytest.param(op, id=op.name, marks=[pytest.mark.xfail(strict=True, reason=known_failing[op.name])]
                         if op.name in known_failing else []) for op in operations]


def check_outcome(op: Op, outcomes: dict[str, dict[str, Any]]) -> None:
    """The call succeeded (the client accepted the answer) and its result passes ``op.check``."""
    outcome = outcomes[op.name]
    assert outcome["ok"], f"{op.name} failed: {outcome['error']}\nbody: {outcome.get('body')}"
    assert op.check(outcome["value"]), f"{op.name} returned unexpected values: {outcome['value']}"


def client_methods(venv: ProviderVenv) -> set[str]:
    """Every public method of the client's API classes in ``venv``, as ``<module>.<method>``
    (the generated ``*_with_http_info`` / ``*_without_preload_content`` variants left out)."""
    found = venv.python("-c", "import airflow_client.client, os; print(os.path.dirname(airflow_client.client.__file__))")
    methods = set()
    for path in (Path(found.stdout.strip()) / "api").glob("*_api.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_") \
                    and not node.name.endswith(("_with_http_info", "_without_preload_content")):
                methods.add(f"{path.stem}.{node.name}")
    return methods


def check_coverage(methods: set[str], operations: list[Op], left_out: dict[str, str],
                   known_failing: dict[str, str] | None = None) -> None:
    """Every client method is either called or left out with a reason, and no name is both or
    neither a method."""
    called = {op.name for op in operations}
    assert not called & set(left_out), "a method is both called and left out"
    assert set(known_failing or {}) <= called, "a known failure that is not called"
    assert methods - called - set(left_out) == set(), "client methods neither called nor left out"
    assert (called | set(left_out)) - methods == set(), "names that are not client methods"


def _client_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND") and k != "PYTHONPATH"}
