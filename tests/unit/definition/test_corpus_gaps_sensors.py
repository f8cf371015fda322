"""Sensors the conformance corpus asked for: ``DayOfWeekSensor`` (both import paths) with the
clock's day or the run's logical date, read in UTC as in Airflow."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from deftestkit import context_for

from tradewind import DAG
from tradewind.compat import install
from tradewind.definition import timezone as tz
from tradewind.definition.exceptions import InvalidTaskArgumentError
from tradewind.definition.operators.datetime_branch import WeekDay
from tradewind.definition.sensors import DayOfWeekSensor

WEDNESDAY = datetime(2024, 5, 1, 23, 30, tzinfo=timezone.utc)  # 2024-05-01 is a Wednesday


@pytest.fixture
def wednesday():
    previous = tz.set_clock(lambda: WEDNESDAY)
    yield
    tz.set_clock(previous)


def _sensor(**kwargs):
    with DAG("weekdays", start_date=datetime(2024, 1, 1), schedule=None, timezone="Asia/Seoul"):
        return DayOfWeekSensor(task_id=f"s{len(kwargs)}", **kwargs)


def test_clock_day_in_utc(wednesday) -> None:
    # 23:30 UTC is already Thursday in Seoul; Airflow's sensor reads the UTC day.
    assert _sensor(week_day="Wednesday").poke(context_for(_sensor(week_day="Wednesday"))) is True
    thursday = _sensor(week_day={WeekDay.THURSDAY, "friday"})
    assert thursday.poke(context_for(thursday)) is False
    both = _sensor(week_day=["monday", WeekDay.WEDNESDAY])
    assert both.poke(context_for(both)) is True


def test_logical_date_instead_of_the_clock(wednesday) -> None:
    sensor = _sensor(week_day=WeekDay.SATURDAY, use_task_logical_date=True)
    saturday = WEDNESDAY + timedelta(days=3)
    assert sensor.poke(context_for(sensor, logical_date=saturday)) is True
    assert sensor.poke(context_for(sensor, logical_date=WEDNESDAY)) is False
    old = _sensor(week_day="Saturday", use_task_execution_day=True, mode="reschedule")
    assert old.use_task_logical_date and any("use_task_execution_day" in n for n in old.deprecation_notes)


def test_bad_week_day_is_named() -> None:
    with pytest.raises(InvalidTaskArgumentError, match="week_day of DayOfWeekSensor 's1'.*Funday"):
        _sensor(week_day="Funday")
    with pytest.raises(InvalidTaskArgumentError, match="week_day of DayOfWeekSensor"):
        _sensor(week_day=3)


def test_airflow_import_paths() -> None:
    install()
    namespace: dict = {}
    exec("from airflow.sensors.weekday import DayOfWeekSensor as A\n"
         "from airflow.providers.standard.sensors.weekday import DayOfWeekSensor as B\n"
         "from airflow.providers.standard.utils.weekday import WeekDay", namespace)
    assert namespace["A"] is namespace["B"] is DayOfWeekSensor
