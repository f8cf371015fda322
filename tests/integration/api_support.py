"""Helpers for the REST API tests: the real app on a real database, users of each role with
bearer tokens, DAG files stored as the parser stores them, and runs driven to their end by the
real scheduler with the in-process executor (no subprocesses)."""

from __future__ import annotations

import functools
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tradewind.observe.api.app import create_app
from tradewind.parse.dagbag import FileParseResult, load_dags_from_file
from tradewind.parse.snapshot import serialize_dag
from tradewind.persist.queries import dags as dag_queries
from tradewind.persist.models import User
from tradewind.persist.queries import users

ROLES = ("viewer", "user", "op", "admin")
PASSWORD = "correct horse battery"

HEADER = """
from datetime import datetime, timedelta, timezone
from tradewind import DAG, Param
from tradewind.definition.operators.empty import EmptyOperator
from tradewind.definition.operators.python import PythonOperator
"""


def store_dag_file(config: Any, db: Any, name: str, body: str) -> str:
    """Write ``<dags>/<name>.py`` and store its DAGs as the DAG processor would (in-process import)."""
    path = Path(config.dags_folder) / f"{name}.py"
    path.write_text(HEADER + textwrap.dedent(body))
    dags = load_dags_from_file(path, sys_path=[str(config.dags_folder)])
    result = FileParseResult(str(path), dags=[serialize_dag(d) for d in dags.values()], errors=[])
    with db.session_scope() as session:
        dag_queries.store_file_results(session, [result], datetime.now(timezone.utc))
    return str(path)


def run_to_end(config: Any, db: Any, dag_id: str, run_id: str, *, max_steps: int = 200) -> str:
    """Drive one run with the real scheduler and the in-process executor; its final state."""
    from tradewind.execute.executors.inprocess import InProcessExecutor
    from tradewind.persist.queries.runs import get_run
    from tradewind.schedule.scheduler import Scheduler

    executor = InProcessExecutor(1, config=config, db=db)
    scheduler = Scheduler(config, db, executor, only_run=(dag_id, run_id))
    executor.start()
    try:
        for _ in range(max_steps):
            scheduler.run_once()
            with db.read_scope() as session:
                state = get_run(session, dag_id, run_id).state
            if state in ("success", "failed"):
                return state
    finally:
        executor.end()
        close = getattr(scheduler, "close", None)
        if close is not None:
            close()
    raise AssertionError(f"run {run_id} of {dag_id} did not finish in {max_steps} scheduler steps (state {state})")


class Api:
    """A TestClient on the real app with one bearer token per role; ``api.get(..., as_="viewer")``."""

    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def _headers(self, as_: str | None, headers: dict[str, str] | None) -> dict[str, str]:
        out = dict(headers or {})
        if as_ is not None:
            out["Authorization"] = f"Bearer {self.tokens[as_]}"
        return out

    def request(self, method: str, path: str, *, as_: str | None = "admin", headers: dict[str, str] | None = None,
                **kwargs: Any) -> Any:
        url = path if path.startswith("/") else f"/api/v1/{path}"
        return self.client.request(method, url, headers=self._headers(as_, headers), **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


@functools.cache
def password_hash() -> str:
    """The argon2 hash of :data:`PASSWORD`, made once per test process (each hash costs ~0.3 s)."""
    return users.hash_password(PASSWORD)


def make_api(config: Any, db: Any) -> Api:
    """The app with a ``<role>_user`` per role (password :data:`PASSWORD`) and a bearer token each.

    Users are stored with one precomputed hash and tokens issued by the app's own auth service, so a
    test pays no argon2 hashing; logging in over HTTP is what tests/integration/test_api_auth.py tests.
    """
    now = datetime.now(timezone.utc)
    with db.session_scope() as session:
        for role in ROLES:
            session.add(User(username=f"{role}_user", email=None, first_name="", last_name="",
                             role=users.normalise_role(role), password_hash=password_hash(), active=True,
                             created_at=now, login_count=0, fail_login_count=0))
    client = TestClient(create_app(config, db))
    auth = client.app.state.auth
    tokens = {}
    for role in ROLES:
        username = f"{role}_user"
        tokens[role] = auth.issue_access_token(username, auth.user_state(username))
    return Api(client, tokens)


def assert_problem(response: Any, status: int, *, field: str | None = None, contains: str | None = None) -> dict:
    """The response is Airflow's problem document with ``status`` (and the field at fault)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"], body
    if field is not None:
        assert body.get("field") == field, body
    if contains is not None:
        assert contains in str(body["detail"]), body
    return body
