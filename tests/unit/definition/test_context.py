"""Template context: Airflow key names and exact formats, params/conf, var, current context."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from tradewind.definition import macros
from tradewind.definition.context import build_context, get_current_context, set_current_context
from tradewind.definition.exceptions import TradewindException
from tradewind.definition.params import Param
from tradewind.definition.templating import make_jinja_env, render_value
from tradewind.definition.timetables import timetable_from_schedule

UTC = timezone.utc


def U(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def make_dag(schedule="@daily", params=None):
    return SimpleNamespace(dag_id="etl", params=params or {}, timetable=timetable_from_schedule(schedule))


def make_task(params=None, **attrs):
    return SimpleNamespace(task_id="load", params=params or {}, **attrs)


def ctx(**overrides):
    kwargs = dict(
        dag=make_dag(),
        task=make_task(),
        ti=SimpleNamespace(task_id="load"),
        run_id="scheduled__2024-01-02T00:00:00+00:00",
        run_type="scheduled",
        logical_date=U(2024, 1, 2),
        data_interval_start=U(2024, 1, 2),
        data_interval_end=U(2024, 1, 3),
        run_after=U(2024, 1, 3),
        conf={},
        dag_run=SimpleNamespace(run_id="r"),
        try_number=1,
        map_index=-1,
    )
    kwargs.update(overrides)
    return build_context(**kwargs)


def test_date_formats_for_known_date():
    c = ctx(logical_date=U(2024, 1, 2, 3, 4, 5))
    assert c["ds"] == "2024-01-02"
    assert c["ds_nodash"] == "20240102"
    assert c["ts"] == "2024-01-02T03:04:05+00:00"
    assert c["ts_nodash"] == "20240102T030405"
    assert c["ts_nodash_with_tz"] == "20240102T030405+0000"
    assert c["task_instance_key_str"] == "etl__load__20240102"


def test_dates_are_formatted_in_utc_even_for_other_zones():
    # 08:00 in Seoul on Jan 2 is 23:00 UTC on Jan 1: ds follows UTC, as in Airflow.
    c = ctx(logical_date=datetime(2024, 1, 2, 8, tzinfo=ZoneInfo("Asia/Seoul")))
    assert c["ds"] == "2024-01-01"
    assert c["ts"] == "2024-01-01T23:00:00+00:00"
    assert c["logical_date"] == U(2024, 1, 1, 23)
    assert c["logical_date"].utcoffset() == timedelta(0)


def test_datetime_keys_are_aware_utc_and_keep_their_instants():
    c = ctx(prev_data_interval_start_success=U(2024, 1, 1), prev_data_interval_end_success=U(2024, 1, 2),
            prev_start_date_success=U(2024, 1, 2, 0, 5), prev_end_date_success=U(2024, 1, 2, 0, 6))
    assert c["data_interval_start"] == U(2024, 1, 2) and c["data_interval_end"] == U(2024, 1, 3)
    assert c["prev_data_interval_start_success"] == U(2024, 1, 1)
    assert c["prev_data_interval_end_success"] == U(2024, 1, 2)
    assert c["prev_start_date_success"] == U(2024, 1, 2, 0, 5)
    assert c["prev_end_date_success"] == U(2024, 1, 2, 0, 6)
    assert ctx()["prev_data_interval_start_success"] is None


def test_naive_datetimes_are_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        ctx(logical_date=datetime(2024, 1, 2))


def test_identity_keys():
    ti = SimpleNamespace(task_id="load")
    task = make_task()
    c = ctx(ti=ti, task=task, try_number=2, map_index=3)
    assert c["ti"] is ti and c["task_instance"] is ti and c["task"] is task
    assert c["run_id"] == "scheduled__2024-01-02T00:00:00+00:00"
    assert c["try_number"] == 2 and c["map_index"] == 3
    assert c["macros"] is macros
    assert c["inlets"] == [] and c["outlets"] == []
    assert c["test_mode"] is False and c["templates_dict"] is None
    assert c["triggering_asset_events"] == {}


def test_deprecated_airflow2_keys_for_scheduled_daily_run():
    c = ctx()
    assert c["execution_date"] == U(2024, 1, 2)
    assert c["next_execution_date"] == U(2024, 1, 3)
    assert c["next_ds"] == "2024-01-03" and c["next_ds_nodash"] == "20240103"
    assert c["prev_execution_date"] == U(2024, 1, 1)
    assert c["prev_ds"] == "2024-01-01" and c["prev_ds_nodash"] == "20240101"
    assert c["yesterday_ds"] == "2024-01-01" and c["yesterday_ds_nodash"] == "20240101"
    assert c["tomorrow_ds"] == "2024-01-03" and c["tomorrow_ds_nodash"] == "20240103"


def test_deprecated_keys_follow_the_schedule():
    c = ctx(dag=make_dag("@monthly"), logical_date=U(2024, 2, 1),
            data_interval_start=U(2024, 2, 1), data_interval_end=U(2024, 3, 1))
    assert c["next_ds"] == "2024-03-01" and c["prev_ds"] == "2024-01-01"
    assert c["yesterday_ds"] == "2024-01-31"
    d = ctx(dag=make_dag(timedelta(hours=6)), logical_date=U(2024, 1, 2, 6),
            data_interval_start=U(2024, 1, 2, 6), data_interval_end=U(2024, 1, 2, 12))
    assert d["prev_execution_date"] == U(2024, 1, 2) and d["next_execution_date"] == U(2024, 1, 2, 12)


def test_deprecated_prev_and_next_equal_logical_date_for_manual_runs():
    c = ctx(run_type="manual", logical_date=U(2024, 1, 2, 10, 30))
    assert c["prev_execution_date"] == c["next_execution_date"] == U(2024, 1, 2, 10, 30)
    assert c["prev_ds"] == c["next_ds"] == "2024-01-02"


def test_missing_logical_date_falls_back_to_run_after_for_date_keys():
    c = ctx(run_type="manual", logical_date=None, run_after=U(2024, 5, 6, 7, 8, 9))
    assert c["logical_date"] is None
    assert c["ds"] == "2024-05-06" and c["ts"] == "2024-05-06T07:08:09+00:00"
    assert c["task_instance_key_str"] == "etl__load__20240506"
    assert c["execution_date"] is None and c["next_ds"] is None


def test_params_merge_dag_then_task_then_conf():
    dag = make_dag(params={"a": 1, "b": Param(2, type="integer"), "c": "dag"})
    task = make_task(params={"c": "task"})
    c = ctx(dag=dag, task=task, conf={"a": 10, "extra": "x"})
    assert dict(c["params"].items()) == {"a": 10, "b": 2, "c": "task", "extra": "x"}
    assert ctx(dag=dag, task=task, conf=None)["params"]["a"] == 1
    # The DAG's own params are not changed by a run's conf.
    assert dag.params["a"] == 1


def test_params_in_templates():
    c = ctx(dag=make_dag(params={"table": "events"}), conf={"table": "clicks"})
    assert render_value("{{ params.table }}/{{ params['table'] }}", c, make_jinja_env(None)) == "clicks/clicks"


def test_var_accessor_reads_variables_from_environment(monkeypatch):
    monkeypatch.setenv("TRADEWIND_VAR_BUCKET", "s3://data")
    monkeypatch.setenv("TRADEWIND_VAR_SETTINGS", '{"depth": 3}')
    c = ctx()
    env = make_jinja_env(None)
    assert render_value("{{ var.value.bucket }}", c, env) == "s3://data"
    assert render_value("{{ var.json.settings.depth }}", c, env) == "3"
    assert render_value("{{ var.value.get('missing_key', 'fallback') }}", c, env) == "fallback"
    with pytest.raises(KeyError, match="missing_key"):
        render_value("{{ var.value.missing_key }}", c, env)


def test_custom_var_and_conn_accessors():
    store = {"k": "v"}

    def getter(key, default_var=None, deserialize_json=False):
        return store.get(key, default_var)

    c = ctx(var_accessor=getter, conn_accessor=lambda cid: SimpleNamespace(host=f"{cid}.example"))
    env = make_jinja_env(None)
    assert render_value("{{ var.value.k }} {{ conn.warehouse.host }}", c, env) == "v warehouse.example"
    with pytest.raises(KeyError, match="conn_id `x` isn't defined"):
        render_value("{{ conn.x.host }}", ctx(), env)


def test_conn_defaults_to_the_connection_lookup(monkeypatch):
    """Without a custom accessor, templates see what BaseHook.get_connection sees (AIRFLOW_CONN_* too)."""
    monkeypatch.setenv("AIRFLOW_CONN_TPL_DB", "postgres://u:p@db.internal:5433/sales")
    env = make_jinja_env(None)
    assert render_value("{{ conn.tpl_db.host }}:{{ conn.tpl_db.port }}", ctx(), env) == "db.internal:5433"
    assert render_value("{{ conn.get('absent', 'none') }}", ctx(), env) == "none"


def test_extra_entries_win():
    c = ctx(extra={"test_mode": True, "exception": "boom"})
    assert c["test_mode"] is True and c["exception"] == "boom"


def test_every_documented_key_is_present():
    expected = {
        "dag", "task", "ti", "task_instance", "dag_run", "run_id", "logical_date", "data_interval_start",
        "data_interval_end", "ds", "ds_nodash", "ts", "ts_nodash", "ts_nodash_with_tz",
        "prev_data_interval_start_success", "prev_data_interval_end_success", "prev_start_date_success",
        "prev_end_date_success", "params", "var", "conn", "macros", "task_instance_key_str", "try_number",
        "map_index", "inlets", "outlets", "test_mode", "templates_dict", "execution_date", "next_ds",
        "next_ds_nodash", "prev_ds", "prev_ds_nodash", "yesterday_ds", "yesterday_ds_nodash", "tomorrow_ds",
        "tomorrow_ds_nodash", "next_execution_date", "prev_execution_date", "prev_execution_date_success",
        "triggering_asset_events",
    }
    assert expected <= set(ctx())


def test_get_current_context_outside_a_task_raises():
    with pytest.raises(TradewindException, match="no task is running"):
        get_current_context()


def test_set_current_context_nests_and_restores():
    outer, inner = {"name": "outer"}, {"name": "inner"}
    with set_current_context(outer):
        assert get_current_context() is outer
        with set_current_context(inner):
            assert get_current_context() is inner
        assert get_current_context() is outer
    with pytest.raises(TradewindException):
        get_current_context()


def test_current_context_visible_from_helper_thread():
    seen = []
    c = {"name": "only"}
    with set_current_context(c):
        t = threading.Thread(target=lambda: seen.append(get_current_context()))
        t.start()
        t.join()
    assert seen == [c]


def test_threads_with_their_own_contexts_do_not_mix():
    results: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def run(name):
        mine = {"name": name}
        with set_current_context(mine):
            barrier.wait()
            results[name] = get_current_context()["name"]
            barrier.wait()

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"a": "a", "b": "b"}
