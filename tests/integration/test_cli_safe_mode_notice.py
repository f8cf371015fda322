"""``tradewind dags list`` says how many files safe mode skipped and how to turn it off, instead of
a bare "No data found" (Airflow's ``[core] dag_discovery_safe_mode``)."""

from __future__ import annotations

import json

# Builds its DAG through a helper module, so the file itself never names the orchestrator: safe
# mode skips it (the same as Airflow's).
FACTORY_USER = '''
from common.factory import make_pipeline

pipeline = make_pipeline("made_by_factory")
'''

FACTORY = '''
from datetime import datetime
from tradewind import DAG, EmptyOperator

def make_pipeline(dag_id):
    with DAG(dag_id, schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        EmptyOperator(task_id="only")
    return dag
'''


def _folder(home) -> None:
    home.add_dag("factory_user.py", FACTORY_USER)
    home.add_dag("helpers.py", "def double(x):\n    return 2 * x\n")
    (home.path / "dags" / "common").mkdir()
    home.add_dag("common/__init__.py", "")
    home.add_dag("common/factory.py", FACTORY)
    home.add_dag(".airflowignore", "common/\n")  # ignored files are not safe mode's doing


def test_no_data_found_comes_with_the_safe_mode_count_and_the_switch(home) -> None:
    _folder(home)
    result = home.ok("dags", "list")
    assert "No data found" in result.stdout
    note = result.stderr
    assert "2 .py file(s)" in note and "safe mode" in note
    assert "[core] dag_discovery_safe_mode = False" in note

    # -o json keeps its shape (a list of DAGs) and says nothing more.
    as_json = home.run("dags", "list", "-o", "json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []
    assert "safe mode" not in as_json.stderr


def test_with_safe_mode_off_the_dag_is_listed_and_no_note(home) -> None:
    _folder(home)
    home.env["TRADEWIND__CORE__DAG_DISCOVERY_SAFE_MODE"] = "False"
    result = home.ok("dags", "list", "--local")
    assert "safe mode" not in result.stderr
    # The table wraps long ids at the terminal's width: the id itself is read from the JSON listing.
    listed = home.ok("dags", "list", "--local", "-o", "json")
    assert "made_by_factory" in {row["dag_id"] for row in json.loads(listed.stdout)}


def test_a_folder_whose_files_all_qualify_gets_no_note(home) -> None:
    home.add_dag("plain.py", FACTORY.replace("def make_pipeline(dag_id):", "if True:\n    dag_id = 'plain'")
                 .replace("    return dag\n", ""))
    result = home.ok("dags", "list")
    assert "plain" in result.stdout and "safe mode" not in result.stderr
