"""Human-in-the-loop end to end: a HITL task waits deferred, an answer through the REST API
(or the CLI) resumes it, and the downstream tasks run with the chosen option; past its
deadline the defaults apply (the real scheduler, the in-process executor, the real triggerer
steps, the real app; and once with real processes under ``tradewind standalone``)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from datetime import datetime, timezone

import pytest
from api_support import Api, assert_problem, make_api, store_dag_file
from cli_support import Home, free_port, wait_for
from sqlalchemy import select

from tradewind.persist.db import Database
from tradewind.persist.models import HITLDetail, TaskInstance, XCom

HITL_DAGS = """
from airflow.providers.standard.operators.hitl import (
    ApprovalOperator, HITLBranchOperator, HITLEntryOperator, HITLOperator)
from airflow.sdk import Param as SdkParam

def record(ti):
    answer = ti.xcom_pull(task_ids="approve")
    return {"chosen": answer["chosen_options"], "by": answer["responded_by_user"]}

with DAG("approval", start_date=datetime(2024, 1, 1), schedule=None):
    approve = ApprovalOperator(task_id="approve", subject="Ship {{ dag_run.run_id }}?",
                               body="Rows: {{ params.rows }}", params={"note": SdkParam("", type="string")})
    after = PythonOperator(task_id="after", python_callable=record)
    approve >> after >> EmptyOperator(task_id="last")

with DAG("branching", start_date=datetime(2024, 1, 1), schedule=None):
    pick = HITLBranchOperator(task_id="pick", subject="Which way?", options=["Left", "Right"],
                              options_mapping={"Left": "go_left"})
    pick >> [EmptyOperator(task_id="go_left"), EmptyOperator(task_id="Right")]

with DAG("deadline", start_date=datetime(2024, 1, 1), schedule=None):
    choose = HITLOperator(task_id="choose", subject="Pick", options=["a", "b", "c"], defaults=["b"],
                          response_timeout=timedelta(seconds=0.5), params={"size": 3})
    entry = HITLEntryOperator(task_id="entry", subject="Say something", params={"text": "hi"},
                              response_timeout=timedelta(seconds=0.5))
    strict = HITLOperator(task_id="strict", subject="No default", options=["x"],
                          execution_timeout=timedelta(seconds=0.5))
    choose >> PythonOperator(task_id="use", python_callable=lambda ti: ti.xcom_pull(task_ids="choose"))

def gather(ti):
    return [a["chosen_options"] for a in ti.xcom_pull(task_ids="ask")]

with DAG("mapped_ask", start_date=datetime(2024, 1, 1), schedule=None):
    asked = HITLOperator.partial(task_id="ask", options=["a", "b"]).expand(subject=["one?", "two?"])
    asked >> PythonOperator(task_id="gather", python_callable=gather)
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request, db) -> Database:
    """The test's database on each backend (PostgreSQL: the session's real server)."""
    return db if request.param == "sqlite" else request.getfixturevalue("pg_db")


@pytest.fixture
def api(config, any_db) -> Api:
    store_dag_file(config, any_db, "hitl_dags", HITL_DAGS)
    return make_api(config, any_db)


class Driver:
    """The real scheduler with the in-process executor, and a real triggerer stepped beside it."""

    def __init__(self, config, db, dag_id: str, run_id: str) -> None:
        from tradewind.execute.executors.inprocess import InProcessExecutor
        from tradewind.execute.triggerer import TriggererRunner
        from tradewind.schedule.scheduler import Scheduler

        self.db, self.dag_id, self.run_id = db, dag_id, run_id
        self.executor = InProcessExecutor(1, config=config, db=db)
        self.scheduler = Scheduler(config, db, executor=self.executor, only_run=(dag_id, run_id))
        self.triggerer = TriggererRunner(config, db)
        self.executor.start()
        self.triggerer.start()

    def states(self) -> dict[str, str]:
        with self.db.read_scope() as s:
            rows = s.execute(select(TaskInstance.task_id, TaskInstance.state).where(
                TaskInstance.dag_id == self.dag_id, TaskInstance.run_id == self.run_id)).all()
        return dict(rows)

    def step_until(self, done: Callable[[dict[str, str]], bool], *, seconds: float = 30.0) -> dict[str, str]:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            states = self.states()
            if done(states):
                return states
            busy = self.scheduler.run_once()
            busy = self.triggerer.run_once() or busy
            if not busy:
                time.sleep(0.05)
        raise AssertionError(f"not reached in {seconds}s: {self.states()}")

    def close(self) -> None:
        self.triggerer.close()
        self.executor.end()
        close = getattr(self.scheduler, "close", None)
        if close is not None:
            close()


def _trigger(api: Api, dag_id: str, run_id: str) -> None:
    response = api.post(f"dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "conf": {"rows": 7}})
    assert response.status_code in (200, 201), response.text


def _xcom(db: Database, dag_id: str, task_id: str) -> object:
    with db.read_scope() as s:
        text = s.scalar(select(XCom.value).where(XCom.dag_id == dag_id, XCom.task_id == task_id,
                                                 XCom.key == "return_value"))
    return None if text is None else json.loads(text)


def test_approval_waits_deferred_and_an_api_answer_resumes_it(api: Api, config, any_db) -> None:
    db = any_db
    _trigger(api, "approval", "r1")
    driver = Driver(config, db, "approval", "r1")
    try:
        driver.step_until(lambda s: s.get("approve") == "deferred")
        pending = api.get("/api/v2/hitlDetails/", params={"response_received": False}, as_="viewer").json()
        assert pending["total_entries"] == 1
        detail = pending["hitl_details"][0]
        assert detail["subject"] == "Ship r1?" and detail["body"] == "Rows: 7"  # rendered templates
        assert detail["options"] == ["Approve", "Reject"] and detail["multiple"] is False
        assert detail["pending"] is True and detail["response_received"] is False
        assert detail["params"]["note"]["schema"] == {"type": "string"}
        assert detail["task_instance"]["task_id"] == "approve" and detail["task_instance"]["state"] == "deferred"
        # viewers may read, not answer; a wrong option is refused and changes nothing
        assert_problem(api.patch("/api/v2/hitlDetails/approval/r1/approve", json={"chosen_options": ["Approve"]},
                                 as_="viewer"), 403)
        assert_problem(api.patch("/api/v2/hitlDetails/approval/r1/approve", json={"chosen_options": ["Maybe"]},
                                 as_="user"), 400, contains="Maybe")
        assert_problem(api.patch("/api/v2/hitlDetails/approval/r1/approve",
                                 json={"chosen_options": ["Approve", "Reject"]}, as_="user"), 400)
        answer = api.patch("/api/v2/dags/approval/dagRuns/r1/taskInstances/approve/-1/hitlDetails",
                           json={"chosen_options": ["Approve"], "params_input": {"note": "lgtm"}}, as_="user")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["chosen_options"] == ["Approve"] and body["params_input"] == {"note": "lgtm"}
        assert body["responded_by"] == {"id": "user_user", "name": "user_user"} and body["responded_at"]
        assert driver.states()["approve"] == "scheduled"  # resumed at once, no polling
        assert_problem(api.patch("/api/v2/hitlDetails/approval/r1/approve", json={"chosen_options": ["Reject"]}),
                       409, contains="already")
        states = driver.step_until(lambda s: s.get("last") == "success")
    finally:
        driver.close()
    assert states == {"approve": "success", "after": "success", "last": "success"}
    assert _xcom(db, "approval", "after") == {"chosen": ["Approve"], "by": {"id": "user_user", "name": "user_user"}}
    one = api.get("/api/v1/hitlDetails/approval/r1/approve").json()
    assert one["response_received"] is True and one["pending"] is False
    assert one["responded_by_user"] == {"id": "user_user", "name": "user_user"}
    assert one["chosen_options"] == ["Approve"] and one["params_input"] == {"note": "lgtm"}
    assert api.get("/api/v2/dags/~/dagRuns/~/hitlDetails", params={"response_received": True}).json()[
        "total_entries"] == 1


def test_reject_skips_the_downstream_tasks(api: Api, config, any_db) -> None:
    db = any_db
    _trigger(api, "approval", "r2")
    driver = Driver(config, db, "approval", "r2")
    try:
        driver.step_until(lambda s: s.get("approve") == "deferred")
        response = api.patch("/api/v2/hitlDetails/approval/r2/approve", json={"chosen_options": ["Reject"]})
        assert response.status_code == 200, response.text
        states = driver.step_until(lambda s: s.get("last") in ("skipped", "success", "failed"))
    finally:
        driver.close()
    # the ApprovalOperator itself succeeds; a rejection is an answer, not a failure (Airflow)
    assert states == {"approve": "success", "after": "skipped", "last": "skipped"}


def test_the_branch_chosen_runs_and_the_other_is_skipped(api: Api, config, any_db) -> None:
    db = any_db
    _trigger(api, "branching", "r1")
    driver = Driver(config, db, "branching", "r1")
    try:
        driver.step_until(lambda s: s.get("pick") == "deferred")
        response = api.patch("/api/v2/hitlDetails/branching/r1/pick", json={"chosen_options": ["Left"]})
        assert response.status_code == 200, response.text
        states = driver.step_until(lambda s: {s.get("go_left"), s.get("Right")} <= {"success", "skipped"})
    finally:
        driver.close()
    assert states == {"pick": "success", "go_left": "success", "Right": "skipped"}
    assert _xcom(db, "branching", "pick") == ["go_left"]


def test_a_deadline_applies_the_defaults_and_without_defaults_fails(api: Api, config, any_db) -> None:
    db = any_db
    _trigger(api, "deadline", "r1")
    driver = Driver(config, db, "deadline", "r1")
    try:
        states = driver.step_until(
            lambda s: all(s.get(t) in ("success", "failed") for t in ("use", "entry", "strict")))
    finally:
        driver.close()
    assert states == {"choose": "success", "use": "success", "entry": "success", "strict": "failed"}
    used = _xcom(db, "deadline", "use")
    assert used["chosen_options"] == ["b"] and used["params_input"] == {"size": 3}
    assert used["responded_by_user"] is None
    assert _xcom(db, "deadline", "entry")["chosen_options"] == ["OK"]
    with db.read_scope() as s:
        rows = {r.task_id: r for r in s.scalars(select(HITLDetail).where(HITLDetail.dag_id == "deadline"))}
        assert rows["choose"].chosen_options == ["b"] and rows["choose"].responded_by_user_id is None
        assert rows["choose"].responded_at is not None
        assert rows["strict"].responded_at is None  # no default: never answered, the task failed
    late = api.patch("/api/v2/hitlDetails/deadline/r1/strict", json={"chosen_options": ["x"]})
    assert_problem(late, 409, contains="no longer waiting")


def test_unknown_requests_are_404(api: Api, config, any_db) -> None:
    db = any_db
    _trigger(api, "approval", "r3")
    assert_problem(api.get("/api/v2/hitlDetails/approval/r3/approve"), 404, contains="Task instance")
    driver = Driver(config, db, "approval", "r3")
    try:
        driver.step_until(lambda s: s.get("approve") == "deferred")
    finally:
        driver.close()
    # "after" is an instance that asks nobody anything
    assert_problem(api.get("/api/v2/hitlDetails/approval/r3/after"), 404, contains="Human-in-the-loop")
    assert_problem(api.patch("/api/v2/hitlDetails/approval/r3/after", json={"chosen_options": ["Approve"]}), 404)
    assert_problem(api.get("/api/v2/hitlDetails/approval/nope/approve"), 404)
    empty = api.patch("/api/v2/hitlDetails/approval/r3/approve", json={"chosen_options": []})
    assert empty.status_code == 422, empty.text  # Airflow 3's validation body: the errors in detail
    assert empty.json()["field"] == "chosen_options" and empty.json()["detail"][0]["loc"][-1] == "chosen_options"
    assert_problem(api.get("/api/v2/hitlDetails/", params={"order_by": "nope"}), 400, field="order_by")


def test_the_task_instance_page_answers_through_the_same_api(api: Api, config, any_db) -> None:
    """The UI's "Required action" panel (static/hitl.js) PATCHes with the session and its CSRF token."""
    from ui_support import browser

    db = any_db
    _trigger(api, "approval", "ui")
    driver = Driver(config, db, "approval", "ui")
    try:
        driver.step_until(lambda s: s.get("approve") == "deferred")
        viewer, user = browser(api, "viewer"), browser(api, "user")
        page = user.get("/dags/approval/runs/ui/tasks/approve")
        assert page.status_code == 200 and 'id="ti-hitl"' in page.text and "/static/hitl.js" in page.text
        assert 'data-can-edit="true"' in page.text
        assert 'data-can-edit="false"' in viewer.get("/dags/approval/runs/ui/tasks/approve").text
        script = user.get("/static/hitl.js")
        assert script.status_code == 200 and "hitlDetails" in script.text
        path = "dags/approval/dagRuns/ui/taskInstances/approve/-1/hitlDetails"
        assert user.get(f"/api/v1/{path}").json()["pending"] is True
        assert user.write("PATCH", path, json={"chosen_options": ["Approve"]}, headers={"X-CSRF-Token": "x"}
                          ).status_code == 403  # a bad CSRF token
        answered_now = user.write("PATCH", path, json={"chosen_options": ["Approve"], "params_input": {"note": ""}})
        assert answered_now.status_code == 200, answered_now.text
        assert driver.step_until(lambda s: s.get("last") == "success")["after"] == "success"
    finally:
        driver.close()


def test_clearing_asks_again_and_deleting_the_run_drops_its_requests(api: Api, config, any_db) -> None:
    db = any_db
    _trigger(api, "approval", "again")
    body = {"dry_run": False, "task_ids": ["approve"], "dag_run_id": "again", "only_failed": False}
    pending = {"dag_run_id": "again", "pending": True}
    driver = Driver(config, db, "approval", "again")
    try:
        driver.step_until(lambda s: s.get("approve") == "deferred")
        # cleared while waiting: the same try (a deferral does not end it) asks again
        assert api.post("dags/approval/clearTaskInstances", json=body).status_code == 200
        assert api.get("/api/v2/hitlDetails/", params=pending).json()["total_entries"] == 0
        driver.step_until(lambda s: s.get("approve") == "deferred")
        again = api.get("/api/v2/hitlDetails/", params=pending).json()["hitl_details"]
        assert [d["try_number"] for d in again] == [1]
        assert api.patch("/api/v2/hitlDetails/approval/again/approve",
                         json={"chosen_options": ["Approve"]}).status_code == 200
        driver.step_until(lambda s: s.get("last") == "success")
        # cleared once answered and done: a new try, a new request; the answered one stays readable
        assert api.post("dags/approval/clearTaskInstances", json=body).status_code == 200
        driver.step_until(lambda s: s.get("approve") == "deferred")
        assert [d["try_number"] for d in api.get("/api/v2/hitlDetails/", params=pending).json()["hitl_details"]] == [2]
        first = api.get("/api/v2/dags/approval/dagRuns/again/taskInstances/approve/-1/hitlDetails/tries/1").json()
        assert first["pending"] is False and first["chosen_options"] == ["Approve"]
    finally:
        driver.close()
    assert api.delete("dags/approval/dagRuns/again").status_code == 204
    with db.read_scope() as s:
        assert s.scalars(select(HITLDetail).where(HITLDetail.run_id == "again")).all() == []


def test_mapped_requests_are_answered_per_map_index(api: Api, config, any_db) -> None:
    db = any_db
    _trigger(api, "mapped_ask", "m1")
    driver = Driver(config, db, "mapped_ask", "m1")

    def both_waiting(_: dict) -> bool:
        with db.read_scope() as s:
            states = s.scalars(select(TaskInstance.state).where(
                TaskInstance.dag_id == "mapped_ask", TaskInstance.task_id == "ask")).all()
        return sorted(states) == ["deferred", "deferred"]

    try:
        driver.step_until(both_waiting)
        listed = api.get("/api/v2/dags/mapped_ask/dagRuns/m1/hitlDetails", params={"order_by": "map_index"}).json()
        assert [(d["task_instance"]["map_index"], d["subject"]) for d in listed["hitl_details"]] == [
            (0, "one?"), (1, "two?")]
        assert api.patch("/api/v2/hitlDetails/mapped_ask/m1/ask/1", json={"chosen_options": ["b"]}).status_code == 200
        assert_problem(api.patch("/api/v2/hitlDetails/mapped_ask/m1/ask", json={"chosen_options": ["a"]}), 404)
        assert api.patch("/api/v2/dags/mapped_ask/dagRuns/m1/taskInstances/ask/0/hitlDetails",
                         json={"chosen_options": ["a"]}).status_code == 200
        driver.step_until(lambda s: s.get("gather") == "success")
    finally:
        driver.close()
    assert _xcom(db, "mapped_ask", "gather") == [["a"], ["b"]]


# ------------------------------------------------------------------ real processes
STANDALONE_DAG = '''
from datetime import datetime
from airflow.sdk import DAG, task
from airflow.providers.standard.operators.hitl import HITLOperator

with DAG("ask", schedule=None, start_date=datetime(2024, 1, 1)):
    question = HITLOperator(task_id="question", subject="Colour?", options=["red", "blue"], multiple=True,
                            assigned_users=[{"id": "ops", "name": "ops"}])

    @task
    def paint(answer):
        return sorted(answer["chosen_options"])

    paint(question.output)
'''


@pytest.mark.slow
def test_standalone_a_cli_answer_resumes_the_waiting_task(home: Home) -> None:
    home.add_dag("ask.py", STANDALONE_DAG)
    home.env["TRADEWIND__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "False"
    proc = home.popen("standalone", "--port", str(free_port()))

    def states() -> dict[str, str]:
        runs = home.json("dags", "list-runs", "ask")
        if not runs:
            return {}
        return {r["task_id"]: r["state"] for r in home.json("tasks", "states-for-dag-run", "ask", runs[0]["run_id"])}

    try:
        wait_for(lambda: "ask" in {d["dag_id"] for d in home.json("dags", "list")}, deadline=90, interval=0.5,
                 what="the DAG parsed")
        home.ok("dags", "trigger", "ask")
        wait_for(lambda: states().get("question") == "deferred", deadline=90, interval=0.3, what="deferred")
        run_id = home.json("dags", "list-runs", "ask")[0]["run_id"]
        listed = home.json("tasks", "required-actions", "--pending")
        assert [(r["dag_id"], r["task_id"], r["subject"]) for r in listed] == [("ask", "question", "Colour?")]
        refused = home.run("tasks", "respond", "ask", run_id, "question", "--option", "red", "--user", "someone")
        assert refused.returncode != 0 and "not a respondent" in refused.stderr
        home.ok("tasks", "respond", "ask", run_id, "question", "--option", "red", "--option", "blue", "--user", "ops")
        wait_for(lambda: states().get("paint") == "success", deadline=90, interval=0.3, what="paint ran")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    db = Database.from_url(f"sqlite:///{home.path}/tradewind.db")
    try:
        with db.read_scope() as s:
            value = s.scalar(select(XCom.value).where(XCom.dag_id == "ask", XCom.task_id == "paint"))
            detail = s.scalars(select(HITLDetail)).one()
        assert json.loads(value) == ["blue", "red"]
        assert detail.responded_by_user_name == "ops" and detail.responded_at <= datetime.now(timezone.utc)
    finally:
        db.engine.dispose()


NO_DEADLINE_DAG = '''
from datetime import datetime
from airflow.sdk import DAG
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("gate", schedule=None, start_date=datetime(2024, 1, 1)):
    ApprovalOperator(task_id="gate", subject="Go?") >> EmptyOperator(task_id="went")
'''


@pytest.mark.slow
def test_dags_test_waits_for_an_answer_given_from_another_shell(home: Home) -> None:
    home.add_dag("gate.py", NO_DEADLINE_DAG)
    proc = home.popen("dags", "test", "gate")
    try:
        def waiting() -> list[dict]:
            return [r for r in home.json("tasks", "required-actions", "--pending") if r["dag_id"] == "gate"]

        wait_for(lambda: bool(waiting()), deadline=90, interval=0.5, what="the gate waits for an answer")
        home.ok("tasks", "respond", "gate", waiting()[0]["run_id"], "gate", "--option", "Approve")
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert "went" in out and "success" in out


# ------------------------------------------------------------------ Airflow's own example DAG
STANDARD_PROVIDER = "apache-airflow-providers-standard==1.21.0"
EXAMPLE = "airflow/providers/standard/example_dags/example_hitl_operator.py"


def _example_dag_source() -> str:
    """Airflow's example_hitl_operator.py, read from the provider wheel downloaded from PyPI at test time."""
    import os
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    cache = Path(os.environ.get("TRADEWIND_TEST_CACHE") or Path.home() / ".cache" / "tradewind-tests") / "wheels"
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("apache_airflow_providers_standard-1.21.0-*.whl"))
    if not wheels:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(cache),
                               STANDARD_PROVIDER], capture_output=True, text=True, timeout=300)
        wheels = sorted(cache.glob("apache_airflow_providers_standard-1.21.0-*.whl"))
        if not wheels:
            if os.environ.get("CI") == "true":
                raise AssertionError(f"cannot download {STANDARD_PROVIDER}: {done.stderr}")
            pytest.skip(f"cannot download {STANDARD_PROVIDER} from PyPI: {done.stderr.strip()[-200:]}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        return wheel.read(EXAMPLE).decode()


def test_airflows_example_hitl_dag_runs_with_answers_from_the_api(config, db) -> None:
    from pathlib import Path

    from tradewind.parse.dagbag import FileParseResult, load_dags_from_file
    from tradewind.parse.snapshot import serialize_dag
    from tradewind.persist.queries import dags as dag_queries
    from tradewind.persist.queries import users

    path = Path(config.dags_folder) / "example_hitl_operator.py"
    path.write_text(_example_dag_source())
    dags = load_dags_from_file(path, sys_path=[str(config.dags_folder)])
    with db.session_scope() as session:
        dag_queries.store_file_results(session, [FileParseResult(
            str(path), dags=[serialize_dag(d) for d in dags.values()], errors=[])], datetime.now(timezone.utc))
        # the example's approval names its respondents: users "airflow" (id 1) and "admin"
        users.create_user(session, username="admin", password="correct horse battery", role="user",
                          now=datetime.now(timezone.utc))
    api = make_api(config, db)
    token = api.client.post("/api/v1/auth/token", json={"username": "admin", "password": "correct horse battery"})
    api.tokens["named_admin"] = token.json()["access_token"]
    _trigger(api, "example_hitl_operator", "r1")
    base = "/api/v2/hitlDetails/example_hitl_operator/r1"
    driver = Driver(config, db, "example_hitl_operator", "r1")
    try:
        waiting = {"wait_for_input", "wait_for_option", "wait_for_multiple_options"}
        driver.step_until(lambda s: all(s.get(t) == "deferred" for t in waiting))
        answers = {"wait_for_input": {"chosen_options": ["OK"], "params_input": {"information": "forty-two"}},
                   "wait_for_option": {"chosen_options": ["option 2"]},
                   "wait_for_multiple_options": {"chosen_options": ["option 4", "option 6"]}}
        for task_id, body in answers.items():
            response = api.patch(f"{base}/{task_id}", json=body, as_="user")
            assert response.status_code == 200, response.text
        # wait_for_default_option times out after 1 s: its default "option 7" applies
        driver.step_until(lambda s: s.get("valid_input_and_options") == "deferred")
        approval = api.get(f"{base}/valid_input_and_options").json()
        assert "Input: forty-two" in approval["body"] and "['option 4', 'option 6']" in approval["body"]
        assert "Timeout Option: ['option 7']" in approval["body"]
        assert_problem(api.patch(f"{base}/valid_input_and_options", json={"chosen_options": ["Approve"]},
                                 as_="user"), 403, contains="not a respondent")
        response = api.patch(f"{base}/valid_input_and_options", json={"chosen_options": ["Approve"]},
                             as_="named_admin")
        assert response.status_code == 200, response.text
        driver.step_until(lambda s: s.get("choose_a_branch_to_run") == "deferred")
        response = api.patch(f"{base}/choose_a_branch_to_run", json={"chosen_options": ["task_2"]}, as_="user")
        assert response.status_code == 200, response.text
        states = driver.step_until(lambda s: all(s.get(t) in ("success", "skipped") for t in ("task_1", "task_2",
                                                                                                "task_3")))
    finally:
        driver.close()
    assert states["task_2"] == "success" and states["task_1"] == states["task_3"] == "skipped"
    assert {states[t] for t in (*waiting, "wait_for_default_option", "valid_input_and_options")} == {"success"}
