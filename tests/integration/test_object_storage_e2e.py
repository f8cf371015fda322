"""Object storage DAG files, written as for Airflow, under the real ``tradewind dags test``: a path made
through ObjectStoragePath in one task crosses XCom (with its connection) into the next; the S3 side is
the local S3-compatible server (tests/s3server.py) through our ``aws_default`` connection."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("s3fs")  # the s3 fixture fails instead under CI=true when the server is missing

AIRFLOW3_S3_DAG = '''
import pendulum
from airflow.sdk import ObjectStoragePath, dag, task
from airflow.providers.common.io.operators.file_transfer import FileTransferOperator

OUT = "OUT_DIR"
base = ObjectStoragePath("s3://aws_default@osp-data/")  # made at parse time: no S3 call


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def osp_s3():
    @task
    def write(**context) -> ObjectStoragePath:
        base.mkdir(exist_ok=True)
        path = base / "reports" / f"report_{context['ds_nodash']}.csv"
        with path.open("w") as handle:
            handle.write("city,aqi\\nhelsinki,12\\n")
        return path

    @task
    def read(path: ObjectStoragePath) -> int:
        text = path.read_text()
        with open(OUT + "/read.txt", "w") as out:
            out.write(f"{type(path).__name__}|{path}|{path.conn_id}|{path.key}|{text}")
        return len(text)

    path = write()
    copy = FileTransferOperator(
        task_id="to_local",
        src="s3://osp-data/reports/report_{{ ds_nodash }}.csv",
        source_conn_id="aws_default",
        dst=OUT + "/copied.csv",
    )
    as_paths = FileTransferOperator(  # ObjectStoragePath objects as the (templated) fields
        task_id="to_local_as_paths",
        src=ObjectStoragePath("s3://aws_default@osp-data/reports/report_20240302.csv"),
        dst=ObjectStoragePath("file://" + OUT + "/copied2.csv"),
    )
    read(path) >> copy >> as_paths


osp_s3()
'''

AIRFLOW2_LOCAL_DAG = '''
from datetime import datetime
from airflow.decorators import dag, task
from airflow.datasets import Dataset
from airflow.io.path import ObjectStoragePath

OUT = "OUT_DIR"
MY_DATASET = Dataset("file://OUT_DIR/dataset.txt")
base = ObjectStoragePath("file://OUT_DIR/files/")


@dag(schedule=None, start_date=datetime(2024, 1, 1), catchup=False)
def osp_local():
    @task(outlets=[MY_DATASET])
    def write_dataset() -> None:
        ObjectStoragePath(MY_DATASET, conn_id=None).write_text("dataset text")

    @task
    def make_files() -> list[ObjectStoragePath]:
        base.mkdir(parents=True, exist_ok=True)
        for name in ("a", "b", "c"):
            (base / f"{name}.txt").write_text(name * 3)
        return [f for f in base.iterdir() if f.is_file()]

    @task
    def size(file: ObjectStoragePath) -> int:
        return file.size()

    @task
    def total(sizes) -> None:
        with open(OUT + "/total.txt", "w") as out:
            out.write(str(sum(sizes)))

    write_dataset() >> total(size.expand(file=make_files()))


osp_local()
'''


def _home_with_s3(home, s3):
    home.env["TRADEWIND_CONN_AWS_DEFAULT"] = s3.connection_json()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        home.env.pop(name, None)
    return home


def test_path_written_in_one_task_is_read_in_the_next_and_copied_to_local(home, s3, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _home_with_s3(home, s3)
    home.add_dag("osp_s3_dag.py", AIRFLOW3_S3_DAG.replace("OUT_DIR", str(out)))
    result = home.ok("dags", "test", "osp_s3", "2024-03-02")
    assert "of DAG osp_s3: success" in result.stdout, result.stdout

    body = b"city,aqi\nhelsinki,12\n"
    assert s3.client().get_object(Bucket="osp-data", Key="reports/report_20240302.csv")["Body"].read() == body
    assert (out / "read.txt").read_text() == (
        "ObjectStoragePath|s3://aws_default@osp-data/reports/report_20240302.csv|aws_default|"
        "reports/report_20240302.csv|" + body.decode())
    assert (out / "copied.csv").read_bytes() == body
    assert (out / "copied2.csv").read_bytes() == body


def test_airflow2_local_paths_dataset_and_mapping_over_listed_files(home, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    home.add_dag("osp_local_dag.py", AIRFLOW2_LOCAL_DAG.replace("OUT_DIR", str(out)))
    result = home.ok("dags", "test", "osp_local", "2024-03-02")
    assert "of DAG osp_local: success" in result.stdout, result.stdout
    assert (out / "dataset.txt").read_text() == "dataset text"
    assert (out / "total.txt").read_text() == "9"


def test_a_missing_bucket_fails_the_task_with_s3s_error_in_the_log(home, s3, tmp_path):
    _home_with_s3(home, s3)
    home.add_dag("osp_missing_dag.py", '''
import pendulum
from airflow.sdk import ObjectStoragePath, dag, task

@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"))
def osp_missing():
    @task
    def read():
        s3 = ObjectStoragePath("s3://aws_default@osp-none/nothing.txt")
        return s3.read_text()
    read()

osp_missing()
''')
    result = home.run("dags", "test", "osp_missing", "2024-03-02")
    assert result.returncode != 0
    assert "of DAG osp_missing: failed" in result.stdout + result.stderr, result.stdout
    (log,) = (home.path / "logs" / "dag_id=osp_missing").glob("run_id=*/task_id=read/attempt=1.log")
    text = log.read_text()
    assert "FileNotFoundError" in text and "The specified bucket does not exist" in text


LOCAL_EXECUTOR_DAG = '''
from datetime import datetime
from airflow.decorators import dag, task
from airflow.io.path import ObjectStoragePath

base = ObjectStoragePath("s3://aws_default@osp-local/")


@dag(schedule=None, start_date=datetime(2024, 1, 1), catchup=False)
def osp_forked():
    @task
    def write() -> ObjectStoragePath:
        base.mkdir(exist_ok=True)
        path = base / "from-a-forked-worker.txt"
        path.write_text("written in one process")
        return path

    @task
    def read(path: ObjectStoragePath) -> str:
        return path.read_text() + ", read in another"

    read(write())


osp_forked()
'''


def test_tasks_in_forked_worker_processes_pass_the_path(config, db, s3):
    """The LocalExecutor (a process per try, started from the fork server) and the real scheduler:
    s3fs's event loop and our stores start fresh in each task process."""
    from sqlalchemy import select
    from tradewind.execute.executors.local import LocalExecutor
    from tradewind.persist.db import utcnow
    from tradewind.persist.models import DagRun, XCom
    from tradewind.persist.queries.dags import latest_snapshot, set_paused
    from tradewind.schedule.dag_processor import DagProcessor
    from tradewind.schedule.executor_interface import Waker
    from tradewind.schedule.runs import create_manual_run
    from tradewind.schedule.scheduler import Scheduler

    (config.dags_folder / "osp_forked.py").write_text(LOCAL_EXECUTOR_DAG)
    DagProcessor(config, db).sync_once(force=True)
    with db.session_scope() as s:
        set_paused(s, "osp_forked", False)
        version, snapshot = latest_snapshot(s, "osp_forked")
        run_id = create_manual_run(s, snapshot, version.id, now=utcnow()).run_id
    executor = LocalExecutor(2, Waker(), config=config)
    scheduler = Scheduler(config, db, executor, only_run=("osp_forked", run_id))
    executor.start()
    try:
        state, deadline = None, time.monotonic() + 90
        while state not in ("success", "failed") and time.monotonic() < deadline:
            scheduler.run_once()
            executor.waker.wait(0.2)
            with db.read_scope() as s:
                state = s.scalar(select(DagRun.state).where(DagRun.run_id == run_id))
    finally:
        executor.end(wait=False)
    assert state == "success"
    with db.read_scope() as s:
        values = {x.task_id: x.value for x in s.scalars(select(XCom).where(XCom.run_id == run_id))}
    assert "osp-local/from-a-forked-worker.txt" in str(values["write"])
    assert "written in one process, read in another" in str(values["read"])
