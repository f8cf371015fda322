"""LatestOnlyOperator, BranchDateTimeOperator and BranchDayOfWeekOperator (clock substituted)."""

from __future__ import annotations

from datetime import datetime, time, timezone
from types import SimpleNamespace

import pytest
from deftestkit import FakeTI, context_for

import tradewind
from tradewind import (
    DAG,
    BranchDateTimeOperator,
    BranchDayOfWeekOperator,
    EmptyOperator,
    LatestOnlyOperator,
    WeekDay,
)
from tradewind.definition.exceptions import InvalidTaskArgumentError, TradewindException
from tradewind.definition.operators import datetime_branch

UTC = timezone.utc


@pytest.fixture
def clock(monkeypatch):
    """Set the operators' "now": ``clock(datetime(...))``."""
    def set_now(value: datetime) -> None:
        monkeypatch.setattr(datetime_branch, "current_time", lambda: value)
    return set_now


def _run(task, **extra):
    ti = FakeTI(dag_id=task.dag_id, task_id=task.task_id)
    result = task.execute(context_for(task, ti, **extra))
    return result, sorted(ti.skipped)


# --------------------------------------------------------------------------- LatestOnlyOperator
def _latest_dag(schedule="@daily"):
    with DAG("lo", schedule=schedule, start_date=datetime(2024, 1, 1)) as dag:
        latest = LatestOnlyOperator(task_id="latest")
        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        deeper = EmptyOperator(task_id="deeper")
        latest >> [a, b]
        a >> deeper
    return dag, latest


def _scheduled(start, end, run_type="scheduled"):
    return {"dag_run": SimpleNamespace(run_type=run_type), "data_interval_start": start, "data_interval_end": end}


def test_latest_only_follows_all_in_the_latest_interval(clock):
    _, latest = _latest_dag()
    clock(datetime(2024, 3, 2, 5, 0, tzinfo=UTC))
    result, skipped = _run(latest, **_scheduled(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)))
    assert result == ["a", "b"] and skipped == []


def test_latest_only_window_is_half_open(clock):
    _, latest = _latest_dag()
    run = _scheduled(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
    clock(datetime(2024, 3, 2, tzinfo=UTC))  # exactly the interval end: latest
    assert _run(latest, **run)[1] == []
    clock(datetime(2024, 3, 3, tzinfo=UTC))  # the next interval has closed: no longer latest
    assert _run(latest, **run)[1] == ["a", "b"]


def test_latest_only_skips_direct_downstream_of_an_old_interval(clock):
    _, latest = _latest_dag()
    clock(datetime(2024, 3, 10, 12, 0, tzinfo=UTC))
    result, skipped = _run(latest, **_scheduled(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)))
    assert result == [] and skipped == ["a", "b"]  # "deeper" is left to its trigger rule


def test_latest_only_uses_the_dag_timetable(clock):
    _, latest = _latest_dag(schedule="0 * * * *")  # hourly: the next window ends an hour later
    run = _scheduled(datetime(2024, 3, 1, 10, tzinfo=UTC), datetime(2024, 3, 1, 11, tzinfo=UTC))
    clock(datetime(2024, 3, 1, 11, 30, tzinfo=UTC))
    assert _run(latest, **run)[1] == []
    clock(datetime(2024, 3, 1, 12, 30, tzinfo=UTC))
    assert _run(latest, **run)[1] == ["a", "b"]


def test_latest_only_never_skips_manual_runs(clock):
    _, latest = _latest_dag()
    clock(datetime(2030, 1, 1, tzinfo=UTC))
    run = _scheduled(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC), run_type="manual")
    assert _run(latest, **run) == (["a", "b"], [])


def test_latest_only_without_next_interval_does_not_skip(clock):
    _, latest = _latest_dag(schedule=None)
    clock(datetime(2030, 1, 1, tzinfo=UTC))
    run = _scheduled(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
    assert _run(latest, **run) == (["a", "b"], [])


# --------------------------------------------------------------------------- BranchDateTimeOperator
def _dt_dag(lower, upper, timezone_name="UTC", **kwargs):
    with DAG("dt", schedule=None, start_date=datetime(2024, 1, 1), timezone=timezone_name):
        op = BranchDateTimeOperator(task_id="when", follow_task_ids_if_true="in_window",
                                    follow_task_ids_if_false=["out1", "out2"],
                                    target_lower=lower, target_upper=upper, **kwargs)
        op >> [EmptyOperator(task_id="in_window"), EmptyOperator(task_id="out1"), EmptyOperator(task_id="out2")]
    return op


@pytest.mark.parametrize(("now", "inside"), [
    (datetime(2024, 3, 1, 9, 59, tzinfo=UTC), False),
    (datetime(2024, 3, 1, 10, 0, tzinfo=UTC), True),
    (datetime(2024, 3, 1, 11, 59, tzinfo=UTC), True),
    (datetime(2024, 3, 1, 12, 0, tzinfo=UTC), False),
])
def test_datetime_branch_with_datetimes(clock, now, inside):
    op = _dt_dag(datetime(2024, 3, 1, 10, tzinfo=UTC), datetime(2024, 3, 1, 12, tzinfo=UTC))
    clock(now)
    result, skipped = _run(op)
    if inside:
        assert result == ["in_window"] and skipped == ["out1", "out2"]
    else:
        assert result == ["out1", "out2"] and skipped == ["in_window"]


def test_datetime_branch_times_mean_today_in_the_dag_timezone(clock):
    op = _dt_dag(time(9, 0), time(17, 0), timezone_name="Europe/Paris")
    clock(datetime(2024, 7, 1, 7, 30, tzinfo=UTC))  # 09:30 in Paris (summer time)
    assert _run(op)[0] == ["in_window"]
    clock(datetime(2024, 7, 1, 15, 30, tzinfo=UTC))  # 17:30 in Paris
    assert _run(op)[0] == ["out1", "out2"]


def test_datetime_branch_window_across_midnight(clock):
    op = _dt_dag(time(22, 0), time(2, 0))
    clock(datetime(2024, 3, 1, 23, 0, tzinfo=UTC))
    assert _run(op)[0] == ["in_window"]
    clock(datetime(2024, 3, 2, 1, 0, tzinfo=UTC))
    assert _run(op)[0] == ["in_window"]
    clock(datetime(2024, 3, 2, 12, 0, tzinfo=UTC))
    assert _run(op)[0] == ["out1", "out2"]


def test_datetime_branch_open_bounds(clock):
    only_lower = _dt_dag(datetime(2024, 3, 1, tzinfo=UTC), None)
    clock(datetime(2099, 1, 1, tzinfo=UTC))
    assert _run(only_lower)[0] == ["in_window"]
    only_upper = _dt_dag(None, datetime(2024, 3, 1))  # naive: wall time in the DAG's zone (UTC)
    assert _run(only_upper)[0] == ["out1", "out2"]


def test_datetime_branch_can_use_the_logical_date(clock):
    op = _dt_dag(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC), use_task_logical_date=True)
    clock(datetime(2099, 1, 1, tzinfo=UTC))  # ignored
    assert _run(op, logical_date=datetime(2024, 3, 1, 6, tzinfo=UTC))[0] == ["in_window"]
    assert _run(op, logical_date=datetime(2024, 3, 5, tzinfo=UTC))[0] == ["out1", "out2"]
    with pytest.raises(TradewindException, match="no logical date"):
        _run(op, logical_date=None)


def test_datetime_branch_rejects_bad_bounds():
    with pytest.raises(InvalidTaskArgumentError, match="at least one must be set"):
        _dt_dag(None, None)
    with pytest.raises(InvalidTaskArgumentError, match="target_lower of task 'when'"):
        _dt_dag("10:00", None)


# --------------------------------------------------------------------------- BranchDayOfWeekOperator
def _dow_dag(week_day, **kwargs):
    with DAG("dow", schedule=None, start_date=datetime(2024, 1, 1), **kwargs.pop("dag_kwargs", {})):
        op = BranchDayOfWeekOperator(task_id="day", follow_task_ids_if_true="weekday_work",
                                     follow_task_ids_if_false="weekend_rest", week_day=week_day, **kwargs)
        op >> [EmptyOperator(task_id="weekday_work"), EmptyOperator(task_id="weekend_rest")]
    return op


MONDAY = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)
SATURDAY = datetime(2024, 3, 9, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("week_day", ["Monday", "monday", WeekDay.MONDAY, {"Monday", "Tuesday"},
                                      [WeekDay.MONDAY, "Friday"]])
def test_day_of_week_accepts_names_members_and_collections(clock, week_day):
    op = _dow_dag(week_day)
    clock(MONDAY)
    assert _run(op) == (["weekday_work"], ["weekend_rest"])
    clock(SATURDAY)
    assert _run(op) == (["weekend_rest"], ["weekday_work"])


def test_day_of_week_uses_the_logical_date(clock):
    op = _dow_dag({WeekDay.SATURDAY, WeekDay.SUNDAY}, use_task_logical_date=True)
    clock(MONDAY)
    assert _run(op, logical_date=SATURDAY)[0] == ["weekday_work"]
    assert _run(op, logical_date=MONDAY)[0] == ["weekend_rest"]


def test_day_of_week_is_read_in_the_dag_timezone(clock):
    op = _dow_dag("Tuesday", dag_kwargs={"timezone": "Asia/Tokyo"})
    clock(datetime(2024, 3, 4, 20, 0, tzinfo=UTC))  # Monday in UTC, Tuesday 05:00 in Tokyo
    assert _run(op)[0] == ["weekday_work"]


@pytest.mark.parametrize("bad", ["Funday", ["Monday", "Mondy"], 3, []])
def test_day_of_week_rejects_unknown_days_at_definition(bad):
    with pytest.raises(InvalidTaskArgumentError, match="week_day of task 'day'"):
        _dow_dag(bad)


def test_weekday_numbers_follow_isoweekday():
    assert WeekDay.get_weekday_number("Sunday") == 7
    assert WeekDay.validate_week_day(["monday", WeekDay.FRIDAY]) == {1, 5}
    with pytest.raises(ValueError, match="valid days: Monday"):
        WeekDay.get_weekday_number("Someday")


def test_exported_from_top_level():
    for name in ("LatestOnlyOperator", "BranchDateTimeOperator", "BranchDayOfWeekOperator", "WeekDay", "Label",
                 "BaseBranchOperator"):
        assert name in tradewind.__all__ and getattr(tradewind, name).__name__ == name
