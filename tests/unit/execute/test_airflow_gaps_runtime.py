"""Run-time gaps, end to end: Korean ids under the real ``tradewind dags test``, read back through
the log files, the database, the REST API and the UI; async callables, mapped params, Bash
``output_processor`` and the Airflow 2 schedule methods in real runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import select

from tradewind.definition.xcom_serde import decode_xcom
from tradewind.persist.db import utcnow
from tradewind.persist.models import DagRun, TaskInstance, XCom
from tradewind.persist.queries.dags import latest_snapshot, set_paused
from tradewind.schedule.dag_processor import DagProcessor
from tradewind.schedule.runs import create_manual_run

DATE = "2024-03-05"
RUN_ID = f"manual__{DATE}T00:00:00+00:00"

KOREAN_DAG = """
from datetime import datetime
from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator
from airflow.utils.task_group import TaskGroup


def 추출(**context):
    print("추출 시작")
    return ("행", 3)


def 적재(ti, **context):
    label, rows = ti.xcom_pull(task_ids="데이터추출")
    print("받음", label, rows)
    return {"적재된_행": rows * 2}


with DAG("한국어_파이프라인", start_date=datetime(2024, 1, 1), schedule=None, tags=["강의"]) as dag:
    추출_작업 = PythonOperator(task_id="데이터추출", python_callable=추출)
    with TaskGroup("변환그룹") as 그룹:
        BashOperator(task_id="배시", bash_command="echo 안녕 {{ ti.task_id }}")
    적재_작업 = PythonOperator(task_id="데이터적재", python_callable=적재)
    추출_작업 >> 그룹 >> 적재_작업
"""


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "tradewind"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tradewind.observe.cli.main"]


def test_a_korean_id_dag_runs_under_dags_test_and_reads_back_everywhere(config, db) -> None:
    (config.dags_folder / "korean_dag.py").write_text(textwrap.dedent(KOREAN_DAG), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWIND", "AIRFLOW_"))}
    env.update(TRADEWIND_HOME=str(config.home), TRADEWIND__CORE__LOAD_EXAMPLES="False")
    proc = subprocess.run([*_cli(), "dags", "test", "한국어_파이프라인", DATE], env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "변환그룹.배시: success" in proc.stdout + proc.stderr

    with db.read_scope() as s:
        states = dict(s.execute(select(TaskInstance.task_id, TaskInstance.state).where(
            TaskInstance.dag_id == "한국어_파이프라인", TaskInstance.run_id == RUN_ID)).all())
        xcoms = dict(s.execute(select(XCom.task_id, XCom.value).where(
            XCom.dag_id == "한국어_파이프라인", XCom.key == "return_value")).all())
    assert states == {"데이터추출": "success", "변환그룹.배시": "success", "데이터적재": "success"}
    assert decode_xcom(json.loads(xcoms["데이터추출"])) == ("행", 3)
    assert json.loads(xcoms["데이터적재"]) == {"적재된_행": 6}
    assert json.loads(xcoms["변환그룹.배시"]) == "안녕 변환그룹.배시"

    # Airflow's log layout, with the ids as they are in the path.
    folder = config.logs_folder / "dag_id=한국어_파이프라인" / f"run_id={RUN_ID}"
    assert "추출 시작" in (folder / "task_id=데이터추출" / "attempt=1.log").read_text(encoding="utf-8")
    assert "받음 행 3" in (folder / "task_id=데이터적재" / "attempt=1.log").read_text(encoding="utf-8")

    # The REST API and the UI, with the ids percent-encoded in the URLs.
    from fastapi.testclient import TestClient

    from tradewind.observe.api.app import create_app
    from tradewind.persist.queries import users

    with db.session_scope() as session:
        users.create_user(session, username="viewer", password="correct horse battery", role="viewer",
                          now=datetime.now(timezone.utc))
    client = TestClient(create_app(config, db))
    token = client.post("/api/v1/auth/token", json={"username": "viewer", "password": "correct horse battery"})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    base = f"/api/v1/dags/{quote('한국어_파이프라인', safe='')}/dagRuns/{quote(RUN_ID, safe='')}/taskInstances"
    entry = client.get(f"{base}/{quote('데이터적재', safe='')}/xcomEntries/return_value", headers=headers)
    assert entry.status_code == 200, entry.text
    assert entry.json()["value"] in ({"적재된_행": 6}, json.dumps({"적재된_행": 6}, ensure_ascii=False))
    typed = client.get(f"{base}/{quote('데이터추출', safe='')}/xcomEntries/return_value", headers=headers)
    assert typed.status_code == 200 and "tuple" in typed.text  # the envelope is shown as readable JSON
    log = client.get(f"{base}/{quote('변환그룹.배시', safe='')}/logs/1", headers=headers)
    assert log.status_code == 200 and "안녕 변환그룹.배시" in log.text
    dags = client.get("/api/v1/dags", headers=headers)
    assert "한국어_파이프라인" in dags.text
    grid = client.get(f"/dags/{quote('한국어_파이프라인', safe='')}/grid", headers=headers)
    assert grid.status_code == 200 and "한국어_파이프라인" in grid.text
    assert f"/dags/{quote('한국어_파이프라인', safe='')}/graph" in grid.text  # the UI's links are quoted


def _run(config: Any, db: Any, dag_id: str, source: str) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """Parse, trigger and drive a run with the real scheduler (tries in this process)."""
    from tradewind.execute.executors.inprocess import InProcessExecutor
    from tradewind.schedule.scheduler import Scheduler

    (config.dags_folder / f"{dag_id}.py").write_text(textwrap.dedent(source))
    DagProcessor(config, db).sync_once(force=True)
    with db.session_scope() as s:
        version, snapshot = latest_snapshot(s, dag_id)
        set_paused(s, dag_id, False)
        run_id = create_manual_run(s, snapshot, version.id, now=utcnow(), conf={"from_conf": "c"}).run_id
    scheduler = Scheduler(config, db, InProcessExecutor(config=config, db=db), only_run=(dag_id, run_id))
    for _ in range(200):
        scheduler.run_once()
        with db.read_scope() as s:
            if s.scalar(select(DagRun.state).where(DagRun.run_id == run_id)) in ("success", "failed"):
                break
    with db.read_scope() as s:
        tis = s.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id)).all()
        states = {f"{t.task_id}[{t.map_index}]" if t.map_index >= 0 else t.task_id: t.state for t in tis}
        xcoms = {f"{x.task_id}[{x.map_index}]" if x.map_index >= 0 else x.task_id: decode_xcom(json.loads(x.value))
                 for x in s.scalars(select(XCom).where(XCom.dag_id == dag_id, XCom.key == "return_value"))}
    logs = {p.parent.name.split("=", 1)[1] + ("" if "map_index" not in str(p) else f"[{p.parts[-2]}]"):
            p.read_text() for p in config.logs_folder.rglob(f"dag_id={dag_id}/**/attempt=*.log")}
    return states, xcoms, logs


RUNTIME_DAG = """
import asyncio
from datetime import datetime
from airflow import DAG
from airflow.decorators import task
from airflow.models.baseoperator import BaseOperator
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator


async def fetch(base, **context):
    await asyncio.sleep(0.01)
    return base + context["params"]["bump"]


def show(params, **_):
    return dict(params)


class Prepared(BaseOperator):
    # A custom operator of the kind that sets itself up in pre_execute (Airflow calls it first).

    def pre_execute(self, context):
        self.prepared = "prepared"

    def execute(self, context):
        return self.prepared


with DAG("runtime_gaps", start_date=datetime(2024, 1, 1), schedule="@daily", catchup=False,
         params={"bump": 1, "from_dag": "d"}) as dag:
    @task
    async def async_task():
        await asyncio.sleep(0.01)
        return "awaited"

    @task
    def schedule_math(**context):
        d = context["dag"]
        start, end = d.timetable.infer_manual_data_interval(run_after=datetime(2024, 3, 5, 12))
        return [d.following_schedule(datetime(2024, 3, 5)).isoformat(),
                d.previous_schedule(datetime(2024, 3, 5)).isoformat(), start.isoformat(), end.isoformat()]

    async_task()
    schedule_math()
    PythonOperator(task_id="async_operator", python_callable=fetch, op_args=[41])
    BashOperator(task_id="bash_processed", bash_command="echo header; echo 7,8,9",
                 output_processor=lambda out: [int(x) for x in out.split(",")])
    PythonOperator.partial(task_id="mapped_params", python_callable=show, params={"n": 0, "p": "partial"}).expand(
        params=[{"n": 1}, {"n": 2, "p": "mapped"}])
    Prepared(task_id="custom_pre_execute")

    @task
    def param_sets():
        return [{"n": 10}, {"n": 20}]

    PythonOperator.partial(task_id="mapped_params_xcom", python_callable=show).expand(params=param_sets())

    @task.skip_if(lambda context: context["params"]["bump"] == 1, skip_message="bump is 1: nothing to do")
    @task
    def skipped_by_condition():
        return "never"

    @task.run_if(lambda context: context["params"]["from_dag"] == "d")
    @task.bash
    def run_by_condition():
        return "echo ran-by-condition"

    skipped_by_condition()
    run_by_condition()

    @task
    def airflow2_ti(ti=None):
        ti.xcom_push(key="dated", value=1, execution_date=ti.execution_date)
        return [ti.get_dagrun().run_id == ti.run_id, ti.execution_date == ti.logical_date, ti.pool, ti.queue,
                ti.get_template_context()["ti"] is ti]

    airflow2_ti()
"""


def test_async_callables_output_processor_mapped_params_and_schedule_methods_in_a_run(config, db) -> None:
    states, xcoms, logs = _run(config, db, "runtime_gaps", RUNTIME_DAG)
    assert states.pop("skipped_by_condition") == "skipped"
    assert "bump is 1: nothing to do" in logs["skipped_by_condition"]
    assert set(states.values()) == {"success"}, (states, logs)
    assert xcoms["run_by_condition"] == "ran-by-condition"
    assert xcoms["async_task"] == "awaited"
    assert xcoms["async_operator"] == 42
    assert xcoms["bash_processed"] == [7, 8, 9]
    assert xcoms["custom_pre_execute"] == "prepared"
    assert [xcoms[f"mapped_params_xcom[{i}]"]["n"] for i in (0, 1)] == [10, 20]
    assert xcoms["airflow2_ti"] == [True, True, "default_pool", "default", True]
    assert xcoms["schedule_math"] == ["2024-03-06T00:00:00+00:00", "2024-03-04T00:00:00+00:00",
                                      "2024-03-04T00:00:00+00:00", "2024-03-05T00:00:00+00:00"]
    # Airflow's merge: DAG params, then the partial's, then the instance's; the run's conf over all.
    assert xcoms["mapped_params[0]"] == {"bump": 1, "from_dag": "d", "n": 1, "p": "partial", "from_conf": "c"}
    assert xcoms["mapped_params[1]"] == {"bump": 1, "from_dag": "d", "n": 2, "p": "mapped", "from_conf": "c"}
    math_log = next(text for name, text in logs.items() if name.startswith("schedule_math"))
    assert "DAG.following_schedule() is deprecated (Airflow 2)" in math_log
    assert "DAG.previous_schedule() is deprecated (Airflow 2)" in math_log


def test_korean_ids_run_through_the_fork_server_of_the_local_executor(config, db) -> None:
    """The local executor hands tries to its fork server as workloads (JSON over a socket)."""
    import threading
    import time

    from tradewind.execute.executors.local import LocalExecutor
    from tradewind.schedule.scheduler import Scheduler

    (config.dags_folder / "korean_dag.py").write_text(textwrap.dedent(KOREAN_DAG), encoding="utf-8")
    DagProcessor(config, db).sync_once(force=True)
    with db.session_scope() as s:
        version, snapshot = latest_snapshot(s, "한국어_파이프라인")
        set_paused(s, "한국어_파이프라인", False)
        run_id = create_manual_run(s, snapshot, version.id, run_id="수동_실행", now=utcnow()).run_id
    executor = LocalExecutor(2, config=config)
    scheduler = Scheduler(config, db, executor)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 90
        state = None
        while time.monotonic() < deadline:
            with db.read_scope() as s:
                state = s.scalar(select(DagRun.state).where(DagRun.run_id == run_id))
            if state in ("success", "failed"):
                break
            time.sleep(0.1)
    finally:
        stop.set()
        executor.waker.wake()
        thread.join(30)
    assert state == "success"
    log = config.logs_folder / "dag_id=한국어_파이프라인" / "run_id=수동_실행" / "task_id=데이터적재" / "attempt=1.log"
    assert "받음 행 3" in log.read_text(encoding="utf-8")


def test_korean_ids_and_typed_xcoms_are_stored_on_each_backend(config, any_db) -> None:
    """The same run on SQLite and PostgreSQL: ids as keys, log paths and XCom rows."""
    states, xcoms, logs = _run(config, any_db, "한국어_파이프라인", KOREAN_DAG)
    assert states == {"데이터추출": "success", "변환그룹.배시": "success", "데이터적재": "success"}
    assert xcoms["데이터추출"] == ("행", 3) and xcoms["데이터적재"] == {"적재된_행": 6}
    assert "받음 행 3" in logs["데이터적재"]
