"""``[core] max_tasks_per_dag``: a DAG file building too many tasks is an import error naming the
setting, stopped while it imports; the other DAG files (and DAGs within the limit) still load."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tradewind.config import DEFAULTS, Config
from tradewind.definition.dag import DAG
from tradewind.parse.dagbag import DEFAULT_MAX_TASKS_PER_DAG, collect_file, parse_files

MANY = """
from datetime import datetime
from airflow import DAG
from airflow.operators.empty import EmptyOperator

with DAG("{dag_id}", start_date=datetime(2024, 1, 1), schedule=None):
    for i in range({count}):
        EmptyOperator(task_id=f"t{{i}}")
"""

#: Sets the import-time limit aside, so only the check after the import can catch it.
SNEAKY = """
from datetime import datetime
from airflow import DAG
from airflow.operators.empty import EmptyOperator
from tradewind.definition.dag import DAG as TwDag

TwDag.task_limit = None
with DAG("sneaky", start_date=datetime(2024, 1, 1), schedule=None):
    for i in range(60):
        EmptyOperator(task_id=f"t{i}")
with DAG("fine_in_same_file", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="only")
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path.resolve()


def test_a_dag_over_the_limit_is_an_import_error_naming_the_setting_and_others_parse(tmp_path: Path) -> None:
    big = _write(tmp_path, "big_dag.py", MANY.format(dag_id="big", count=500))
    at_limit = _write(tmp_path, "at_limit_dag.py", MANY.format(dag_id="at_limit", count=50))
    by_file = {r.fileloc: r for r in parse_files([big, at_limit], timeout=60, max_tasks=50)}

    assert by_file[str(big)].dags == []
    [error] = by_file[str(big)].errors
    assert "[core] max_tasks_per_dag allows 50" in error.message
    assert "'big' has more than 50 tasks" in error.message
    assert "'t50'" in error.message  # the task it stopped at: nothing past the limit was built
    assert error.lineno == 8  # the line in the DAG file that created the task one too many
    assert by_file[str(at_limit)].errors == []
    assert by_file[str(at_limit)].dag_ids == ["at_limit"]
    assert len(by_file[str(at_limit)].dags[0]["tasks"]) == 50


def test_a_dag_that_dodges_the_import_time_check_is_refused_before_its_snapshot(tmp_path: Path) -> None:
    sneaky = _write(tmp_path, "sneaky_dag.py", SNEAKY)
    [result] = parse_files([sneaky], timeout=60, max_tasks=50)
    assert result.dag_ids == ["fine_in_same_file"]
    [error] = result.errors
    assert error.message.startswith("DAG 'sneaky' has 60 tasks; [core] max_tasks_per_dag allows 50")


def test_in_process_collect_applies_the_limit_and_puts_it_back(tmp_path: Path) -> None:
    big = _write(tmp_path, "big_dag.py", MANY.format(dag_id="big_inproc", count=30))
    before = DAG.task_limit
    dags, errors = collect_file(str(big), [], max_tasks=10)
    assert dags == []
    assert "[core] max_tasks_per_dag allows 10" in errors[0].message
    assert DAG.task_limit == before
    dags, errors = collect_file(str(big), [], max_tasks=0)  # 0: no limit
    assert errors == [] and len(dags[0]["tasks"]) == 30


def test_the_default_admits_ten_thousand_tasks(tw_home: Path) -> None:
    assert int(DEFAULTS["core"]["max_tasks_per_dag"]) == DEFAULT_MAX_TASKS_PER_DAG >= 10_000
    config = Config.load(home=tw_home, environ={"TRADEWIND__CORE__MAX_TASKS_PER_DAG": "7"})
    assert config.getint("core", "max_tasks_per_dag") == 7


def test_the_dag_processor_stores_the_error_from_the_configured_limit(tw_home: Path) -> None:
    from tradewind.persist.db import Database
    from tradewind.persist.migrate import upgrade
    from tradewind.persist.queries.dags import get_dag
    from tradewind.persist.queries.import_errors import list_import_errors
    from tradewind.schedule.dag_processor import DagProcessor

    config = Config.load(home=tw_home, environ={}, overrides={
        "core": {"load_examples": "False", "max_tasks_per_dag": "20"}})
    config.ensure_home()
    db = Database.from_config(config)
    upgrade(db)
    try:
        _write(config.dags_folder, "big_dag.py", MANY.format(dag_id="big_stored", count=100))
        _write(config.dags_folder, "small_dag.py", MANY.format(dag_id="small_stored", count=20))
        DagProcessor(config, db).sync_once(force=True)
        with db.session_scope() as session:
            [error] = list_import_errors(session)
            assert error.filename.endswith("big_dag.py")
            assert "[core] max_tasks_per_dag allows 20" in error.message
            assert get_dag(session, "big_stored") is None
            assert get_dag(session, "small_stored") is not None
    finally:
        db.engine.dispose()
