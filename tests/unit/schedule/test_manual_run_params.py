"""create_manual_run checks the run's params against the schemas stored in the DAG's snapshot."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import select

from schedhelp import T0, FakeClock, runs, store_dag
from tradewind import DAG, EmptyOperator, Param
from tradewind.parse.snapshot import DagSnapshot, serialize_dag
from tradewind.persist.models import DagRun
from tradewind.schedule.runs import InvalidRunParamsError, RunCreationError, create_manual_run


def _snapshot() -> DagSnapshot:
    """Built from a real DAG and sent through JSON, as the parser stores it (no DAG object left)."""
    with DAG("reports", schedule=None, start_date=datetime(2024, 1, 1), params={
        "rows": Param(10, type="integer", minimum=1, maximum=100, description="rows to load"),
        "region": Param("eu", enum=["eu", "us"]),
        "day": Param(type="string", format="date"),  # required: no default, not nullable
        "note": Param(type=["null", "string"], maxLength=5),
    }) as dag:
        EmptyOperator(task_id="t")
    return DagSnapshot.from_dict(json.loads(json.dumps(serialize_dag(dag))))


@pytest.fixture
def stored(db):
    snap = _snapshot()
    with db.session_scope() as s:
        version_id = store_dag(s, snap)
    return snap, version_id


def _trigger(db, stored, conf, run_id=None):
    snap, version_id = stored
    with db.session_scope() as s:
        run = create_manual_run(s, snap, version_id, conf=conf, run_id=run_id, now=FakeClock()())
        return run.run_id, dict(run.conf)


def test_valid_conf_creates_the_run_and_keeps_conf_as_given(db, stored) -> None:
    run_id, conf = _trigger(db, stored, {"day": "2024-03-01", "rows": 100, "extra_key": [1, 2]})
    assert conf == {"day": "2024-03-01", "rows": 100, "extra_key": [1, 2]}
    assert [r.run_id for r in runs(db, "reports")] == [run_id]


@pytest.mark.parametrize(("conf", "param", "reason"), [
    ({"day": "2024-03-01", "rows": 0}, "rows", "0 is less than the minimum of 1"),
    ({"day": "2024-03-01", "rows": "ten"}, "rows", "'ten' is not of type 'integer'"),
    ({"day": "2024-03-01", "region": "asia"}, "region", "'asia' is not one of ['eu', 'us']"),
    ({"day": "March 1st"}, "day", "'March 1st' is not a 'date'"),
    ({"day": "2024-03-01", "note": "too long"}, "note", "is too long"),
    ({"rows": 5}, "day", "required (it has no default) but not given in conf"),
    (None, "day", "required"),
])
def test_invalid_or_missing_param_refuses_the_run(db, stored, conf, param, reason) -> None:
    with pytest.raises(InvalidRunParamsError) as info:
        _trigger(db, stored, conf)
    assert isinstance(info.value, RunCreationError)
    assert f"param {param!r}: " in str(info.value) and reason in str(info.value)
    assert "'reports'" in str(info.value)
    assert reason in info.value.errors[param]
    assert runs(db, "reports") == []


def test_every_bad_param_is_listed(db, stored) -> None:
    with pytest.raises(InvalidRunParamsError) as info:
        _trigger(db, stored, {"rows": 1000, "region": "x"})
    assert set(info.value.errors) == {"rows", "region", "day"}


def test_nullable_param_may_be_null_or_omitted(db, stored) -> None:
    _trigger(db, stored, {"day": "2024-03-01"}, run_id="omitted")
    _trigger(db, stored, {"day": "2024-03-01", "note": None}, run_id="null")
    with db.session_scope() as s:
        assert sorted(s.scalars(select(DagRun.run_id).where(DagRun.dag_id == "reports"))) == ["null", "omitted"]


def test_a_dag_without_params_takes_any_conf(db) -> None:
    with DAG("plain", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        EmptyOperator(task_id="t")
    snap = DagSnapshot.from_dict(json.loads(json.dumps(serialize_dag(dag))))
    with db.session_scope() as s:
        version_id = store_dag(s, snap)
        run = create_manual_run(s, snap, version_id, conf={"anything": {"x": 1}}, now=T0)
        assert run.conf == {"anything": {"x": 1}}
