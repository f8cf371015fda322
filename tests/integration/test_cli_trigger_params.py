"""End to end: `tradewind dags trigger` checks --conf against the DAG's Param schemas."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

PARAMS_DAG = '''
from datetime import datetime
from tradewind import DAG, BashOperator, Param

with DAG("report", schedule=None, start_date=datetime(2024, 1, 1), params={
    "rows": Param(10, type="integer", minimum=1, maximum=100),
    "region": Param("eu", enum=["eu", "us"]),
    "day": Param(type="string", format="date"),
}) as dag:
    BashOperator(task_id="show", bash_command="echo {{ params.rows }} {{ params.region }} {{ params.day }}")
'''

BAD_DEFAULT_DAG = '''
from datetime import datetime
from tradewind import DAG, BashOperator, Param

with DAG("bad_default", schedule=None, start_date=datetime(2024, 1, 1),
         params={"limit": Param(-1, type="integer", minimum=0)}) as dag:
    BashOperator(task_id="t", bash_command="true")
'''


def test_invalid_conf_is_refused_with_the_reason_and_no_run(home):
    home.add_dag("report.py", PARAMS_DAG)
    bad = home.run("dags", "trigger", "report", "--conf", json.dumps({"day": "2024-02-01", "rows": 0}))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "param 'rows'" in bad.stderr and "0 is less than the minimum of 1" in bad.stderr
    assert "Created run" not in bad.stdout

    missing = home.run("dags", "trigger", "report", "--conf", json.dumps({"region": "asia"}))
    assert missing.returncode == 1
    assert "param 'day': required" in missing.stderr
    assert "'asia' is not one of ['eu', 'us']" in missing.stderr
    assert home.json("dags", "list-runs", "report") == []

    good = home.run("dags", "trigger", "report", "--conf", json.dumps({"day": "2024-02-01", "extra": 1}))
    assert good.returncode == 0, good.stdout + good.stderr
    runs = home.json("dags", "list-runs", "report")
    assert len(runs) == 1 and runs[0]["state"] == "queued"


def test_bad_default_is_an_import_error_naming_dag_and_param(home):
    path = home.add_dag("bad_default.py", BAD_DEFAULT_DAG)
    assert home.json("dags", "list") == []
    errors = home.json("dags", "list-import-errors")
    assert len(errors) == 1 and errors[0]["filename"] == str(path)
    assert "'bad_default'" in errors[0]["message"] and "'limit'" in errors[0]["message"]
    assert "less than the minimum of 0" in errors[0]["message"]
