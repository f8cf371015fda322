"""Deferrable sensors: TimeDeltaSensorAsync, DateTimeSensorAsync, TimeSensorAsync, ``deferrable=True``
on the time sensors and FileSensor; the sensor semantics of a resumed (deferred) sensor."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest

from deftestkit import context_for
from tradewind import (
    DAG,
    DateTimeSensor,
    DateTimeSensorAsync,
    DateTimeTrigger,
    FileSensor,
    FileTrigger,
    TimeDeltaSensor,
    TimeDeltaSensorAsync,
    TimeSensor,
    TimeSensorAsync,
)
from tradewind.definition import timezone as tz
from tradewind.definition.exceptions import (
    RescheduleTry,
    SensorTimeout,
    TaskDeferralError,
    TaskDeferralTimeout,
    TaskDeferred,
    TaskSkipped,
)
from tradewind.definition.triggers.base import FAIL_METHOD, TRIGGER_FAILURE, TRIGGER_TIMEOUT

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock():
    state = {"now": T0}
    previous = tz.set_clock(lambda: state["now"])
    yield state
    tz.set_clock(previous)


def make_dag(**kw):
    return DAG("deferrable_sensing", start_date=datetime(2024, 1, 1), schedule=None, **kw)


def deferral(sensor, ctx) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as info:
        sensor.execute(ctx)
    return info.value


# ------------------------------------------------------------------------------ time sensors
@pytest.mark.parametrize("make", [
    lambda: TimeDeltaSensorAsync(task_id="s", delta=timedelta(hours=1), timeout=600),
    lambda: TimeDeltaSensor(task_id="s", delta=timedelta(hours=1), timeout=600, deferrable=True),
])
def test_time_delta_sensor_defers_to_a_datetime_trigger_with_the_sensor_timeout(clock, make):
    with make_dag():
        sensor = make()
    deferred = deferral(sensor, context_for(sensor, data_interval_end=T0))
    assert isinstance(deferred.trigger, DateTimeTrigger)
    assert deferred.trigger.moment == T0 + timedelta(hours=1)
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout == timedelta(seconds=600)
    # Resumed with the trigger's event, the sensor is done (nothing pushed).
    assert sensor.resume_execution("execute_complete", {"event": deferred.trigger.moment}, context_for(sensor)) is None


def test_a_target_already_past_returns_at_once_without_deferring(clock):
    with make_dag():
        delta = TimeDeltaSensorAsync(task_id="delta", delta=timedelta(minutes=5))
        moment = DateTimeSensorAsync(task_id="moment", target_time=T0 - timedelta(seconds=1))
        of_day = TimeSensorAsync(task_id="of_day", target_time=time(11, 0))
    clock["now"] = T0 + timedelta(minutes=6)
    assert delta.execute(context_for(delta, data_interval_end=T0)) is None
    assert moment.execute(context_for(moment)) is None
    assert of_day.execute(context_for(of_day)) is None


def test_date_time_sensor_async_defers_to_its_rendered_target_in_the_dag_zone(clock):
    with make_dag(timezone="Asia/Seoul"):
        sensor = DateTimeSensorAsync(task_id="dt", target_time="2024-05-01T22:00:00", timeout=timedelta(hours=2))
        plain = DateTimeSensor(task_id="plain", target_time="2024-05-01T22:00:00", deferrable=True)
    deferred = deferral(sensor, context_for(sensor))
    assert deferred.trigger.moment == T0 + timedelta(hours=1)  # 22:00 in Seoul is 13:00 UTC
    assert deferred.timeout == timedelta(hours=2)
    assert deferral(plain, context_for(plain)).timeout == timedelta(days=7)  # the default sensor timeout


def test_time_sensor_defers_until_the_time_of_day_today(clock):
    with make_dag(timezone="Europe/Paris"):  # UTC+2 in May
        sensor = TimeSensor(task_id="t", target_time=time(14, 30), deferrable=True, timeout=3600)
        via_async = TimeSensorAsync(task_id="a", target_time=time(14, 30))
    for s in (sensor, via_async):
        assert deferral(s, context_for(s)).trigger.moment == datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)
    assert via_async.deferrable is True


def test_non_deferrable_time_sensors_still_poke(clock):
    with make_dag():
        sensor = TimeDeltaSensor(task_id="s", delta=timedelta(minutes=1), mode="reschedule")
    with pytest.raises(RescheduleTry):  # poked, not satisfied: comes back later instead of deferring
        sensor.execute(context_for(sensor, data_interval_end=T0))


# ------------------------------------------------------------------------ resumed sensor semantics
def test_a_deferral_timeout_is_a_sensor_timeout_or_a_skip_with_soft_fail(clock):
    with make_dag():
        strict = TimeDeltaSensorAsync(task_id="strict", delta=timedelta(hours=1), timeout=60)
        soft = TimeDeltaSensorAsync(task_id="soft", delta=timedelta(hours=1), timeout=60, soft_fail=True)
    timed_out = {"error": TRIGGER_TIMEOUT}
    with pytest.raises(SensorTimeout, match="'strict' has timed out"):
        strict.resume_execution(FAIL_METHOD, timed_out, context_for(strict))
    with pytest.raises(TaskSkipped, match="soft_fail"):
        soft.resume_execution(FAIL_METHOD, timed_out, context_for(soft))


def test_a_trigger_failure_fails_the_try_or_skips_with_soft_fail(clock):
    with make_dag():
        strict = DateTimeSensorAsync(task_id="strict", target_time=T0 + timedelta(hours=1))
        soft = DateTimeSensorAsync(task_id="soft", target_time=T0 + timedelta(hours=1), soft_fail=True)
    failed = {"error": TRIGGER_FAILURE, "traceback": ["Traceback ...\n", "OSError: boom\n"]}
    with pytest.raises(TaskDeferralError) as info:
        strict.resume_execution(FAIL_METHOD, failed, context_for(strict))
    assert not isinstance(info.value, TaskDeferralTimeout)
    with pytest.raises(TaskSkipped, match="TaskDeferralError"):
        soft.resume_execution(FAIL_METHOD, failed, context_for(soft))


# ------------------------------------------------------------------------------- file sensor
def test_deferrable_file_sensor_returns_at_once_when_the_file_is_there(tmp_path, clock):
    (tmp_path / "ready.csv").write_text("1")
    with make_dag():
        sensor = FileSensor(task_id="f", filepath=str(tmp_path / "*.csv"), deferrable=True)
    assert sensor.execute(context_for(sensor)) is None


def test_deferrable_file_sensor_defers_to_a_file_trigger_with_its_interval_and_timeout(tmp_path, clock):
    with make_dag():
        sensor = FileSensor(task_id="f", filepath=str(tmp_path / "**" / "*.csv"), recursive=True, deferrable=True,
                            poke_interval=7, timeout=300)
    deferred = deferral(sensor, context_for(sensor))
    assert isinstance(deferred.trigger, FileTrigger)
    assert (deferred.trigger.filepath, deferred.trigger.recursive, deferred.trigger.poke_interval) == (
        str(tmp_path / "**" / "*.csv"), True, 7.0)
    assert deferred.timeout == timedelta(seconds=300)
    assert deferred.kwargs == {"started": T0}
    # The file arrived; the resumed sensor confirms it and is done.
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "data.csv").write_text("1")
    assert sensor.resume_execution("execute_complete", {"event": True, "started": T0}, context_for(sensor)) is None


def test_deferrable_file_sensor_waits_again_when_the_trigger_saw_only_an_empty_folder(tmp_path, clock):
    (tmp_path / "incoming").mkdir()  # the trigger fires on the folder; the sensor wants files in it
    with make_dag():
        sensor = FileSensor(task_id="f", filepath=str(tmp_path / "incoming"), deferrable=True, timeout=100)
        soft = FileSensor(task_id="soft", filepath=str(tmp_path / "incoming"), deferrable=True, timeout=100,
                          soft_fail=True)
    clock["now"] = T0 + timedelta(seconds=40)
    with pytest.raises(TaskDeferred) as info:
        sensor.resume_execution("execute_complete", {"event": True, "started": T0}, context_for(sensor))
    assert info.value.timeout == timedelta(seconds=60)  # the rest of the timeout
    assert info.value.kwargs == {"started": T0}
    clock["now"] = T0 + timedelta(seconds=101)
    with pytest.raises(SensorTimeout, match="only empty folders"):
        sensor.resume_execution("execute_complete", {"event": True, "started": T0}, context_for(sensor))
    with pytest.raises(TaskSkipped, match="soft_fail"):
        soft.resume_execution("execute_complete", {"event": True, "started": T0}, context_for(soft))
