"""Sensors in the definition layer: argument checks, the poke loop, timeouts, reschedule requests,
backoff, error semantics, and each built-in sensor's poke (driven by a simulated clock)."""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta, timezone

import pytest

from deftestkit import FakeTI, context_for
from tradewind import (
    DAG,
    BashSensor,
    DateTimeSensor,
    ExternalTaskMarker,
    ExternalTaskSensor,
    FileSensor,
    PokeReturnValue,
    PythonSensor,
    TimeDeltaSensor,
    TimeSensor,
    task,
)
from tradewind.definition import timezone as tz
from tradewind.definition.exceptions import (
    InvalidTaskArgumentError,
    RescheduleTry,
    SensorTimeout,
    TaskFailNoRetry,
    TaskSkipped,
)
from tradewind.parse.snapshot import serialize_dag

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, **kw):
        self.now += timedelta(**kw)


@pytest.fixture
def clock():
    c = Clock()
    previous = tz.set_clock(c)
    yield c
    tz.set_clock(previous)


def make_dag(**kw):
    return DAG("sensing", start_date=datetime(2024, 1, 1), schedule=None, **kw)


class Counter:
    """A poke callable done on its ``done_at``-th call; advances the clock ``step`` seconds per call."""

    def __init__(self, done_at=None, clock=None, step=0.0, value=None):
        self.calls, self.done_at, self.clock, self.step, self.value = 0, done_at, clock, step, value

    def __call__(self):
        self.calls += 1
        if self.clock is not None:
            self.clock.advance(seconds=self.step)
        if self.done_at is not None and self.calls >= self.done_at:
            return PokeReturnValue(True, self.value) if self.value is not None else True
        return False


# ------------------------------------------------------------------------------ arguments
@pytest.mark.parametrize("bad, message", [
    ({"mode": "sleep"}, "mode of sensor 'w' in DAG 'sensing' must be one of 'poke', 'reschedule', got 'sleep'"),
    ({"poke_interval": -1}, "poke_interval of sensor 'w' in DAG 'sensing' must not be negative"),
    ({"timeout": timedelta(seconds=-5)}, "timeout of sensor 'w' in DAG 'sensing' must not be negative"),
    ({"max_wait": -3}, "max_wait of sensor 'w' in DAG 'sensing' must not be negative"),
    ({"poke_interval": "soon"}, "poke_interval of sensor 'w' in DAG 'sensing' must be a number of seconds"),
    ({"soft_fail": True, "never_fail": True}, "soft_fail and never_fail are mutually exclusive"),
])
def test_bad_sensor_arguments_name_the_task(bad, message):
    with make_dag(), pytest.raises(InvalidTaskArgumentError) as err:
        PythonSensor(task_id="w", python_callable=bool, **bad)
    assert message in str(err.value)


def test_sensor_arguments_accept_timedeltas_and_default_args():
    with make_dag(default_args={"poke_interval": timedelta(minutes=2), "mode": "reschedule"}):
        s = PythonSensor(task_id="w", python_callable=bool, timeout=timedelta(hours=1), max_wait=30)
    assert (s.poke_interval, s.timeout, s.max_wait, s.mode, s.reschedule) == (
        120.0, 3600.0, timedelta(seconds=30), "reschedule", True)


# ------------------------------------------------------------------------------ poke mode
def test_poke_mode_pokes_until_done_and_pushes_the_poke_return_value(clock):
    poke = Counter(done_at=3, value={"rows": 7})
    with make_dag():
        s = PythonSensor(task_id="w", python_callable=poke, poke_interval=0)
    assert s.execute(context_for(s)) == {"rows": 7}
    assert poke.calls == 3


def test_poke_mode_times_out_without_retry_or_skips_with_soft_fail(clock):
    with make_dag():
        hard = PythonSensor(task_id="hard", python_callable=Counter(clock=clock, step=10), poke_interval=0,
                            timeout=25)
        soft = PythonSensor(task_id="soft", python_callable=Counter(clock=clock, step=10), poke_interval=0,
                            timeout=25, soft_fail=True)
    with pytest.raises(SensorTimeout) as err:
        hard.execute(context_for(hard))
    assert isinstance(err.value, TaskFailNoRetry)  # the runner fails it without retries
    assert "Sensor 'hard' has timed out" in str(err.value) and "timeout of 25s" in str(err.value)
    assert hard.python_callable.calls == 3
    with pytest.raises(TaskSkipped, match="soft_fail"):
        soft.execute(context_for(soft))


def test_a_poke_error_fails_the_try_unless_silent_fail_or_never_fail(clock):
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ValueError("service unavailable")
        return True

    with make_dag():
        plain = PythonSensor(task_id="plain", python_callable=flaky, poke_interval=0)
        soft = PythonSensor(task_id="soft", python_callable=flaky, poke_interval=0, soft_fail=True)
        silent = PythonSensor(task_id="silent", python_callable=flaky, poke_interval=0, silent_fail=True)
        never = PythonSensor(task_id="never", python_callable=flaky, poke_interval=0, never_fail=True)
    with pytest.raises(ValueError, match="service unavailable"):
        plain.execute(context_for(plain))
    with pytest.raises(ValueError):  # soft_fail covers timeouts, not errors (Airflow)
        soft.execute(context_for(soft))
    calls.clear()
    with pytest.raises(TaskSkipped, match="never_fail"):
        never.execute(context_for(never))
    calls.clear()
    assert silent.execute(context_for(silent)) is None
    assert len(calls) == 3


def test_soft_fail_turns_a_fail_now_error_from_poke_into_a_skip(clock):
    def give_up():
        raise TaskFailNoRetry("no such bucket")

    with make_dag():
        s = PythonSensor(task_id="w", python_callable=give_up, soft_fail=True)
    with pytest.raises(TaskSkipped, match="no such bucket"):
        s.execute(context_for(s))


# ------------------------------------------------------------------------ reschedule mode
class ReschedulingTI(FakeTI):
    def __init__(self, first=None, count=0):
        super().__init__()
        self.first, self.count = first, count

    def get_first_reschedule_date(self, context=None):
        return self.first

    def get_reschedule_count(self):
        return self.count


def test_reschedule_mode_asks_to_come_back_after_the_interval(clock):
    with make_dag():
        s = PythonSensor(task_id="w", python_callable=Counter(), poke_interval=90, mode="reschedule")
    with pytest.raises(RescheduleTry) as err:
        s.execute(context_for(s, ReschedulingTI()))
    assert err.value.reschedule_date == T0 + timedelta(seconds=90)
    assert s.python_callable.calls == 1  # one poke per try run


def test_reschedule_timeout_counts_from_the_first_reschedule_of_the_try(clock):
    with make_dag():
        s = PythonSensor(task_id="w", python_callable=Counter(), poke_interval=60, timeout=600,
                         mode="reschedule")
    with pytest.raises(RescheduleTry):
        s.execute(context_for(s, ReschedulingTI(first=T0 - timedelta(seconds=599), count=9)))
    with pytest.raises(SensorTimeout, match="waited 601s"):
        s.execute(context_for(s, ReschedulingTI(first=T0 - timedelta(seconds=601), count=10)))


# ------------------------------------------------------------------------ exponential backoff
def test_exponential_backoff_follows_airflows_formula_and_max_wait():
    with make_dag():
        s = PythonSensor(task_id="w", python_callable=bool, poke_interval=10, exponential_backoff=True)
        capped = PythonSensor(task_id="c", python_callable=bool, poke_interval=10, exponential_backoff=True,
                              max_wait=timedelta(seconds=50))
    for n in range(1, 8):
        floor = max(int(10 * 2 ** (n - 2)), 1)
        interval = s.next_poke_interval(T0, 0, n)
        assert floor <= interval < 2 * floor
        assert interval == s.next_poke_interval(T0, 0, n)  # deterministic (restarts agree)
        limited = capped.next_poke_interval(T0, 0, n)
        assert limited == 50 if floor >= 50 else floor <= limited < 2 * floor and limited <= 50
    # Never past the timeout.
    assert s.next_poke_interval(T0, s.timeout - 3, 20) == 3


def test_without_backoff_the_interval_is_constant():
    with make_dag():
        s = PythonSensor(task_id="w", python_callable=bool, poke_interval=7)
    assert {s.next_poke_interval(T0, 0, n) for n in range(1, 6)} == {7}


# ------------------------------------------------------------------------------ @task.sensor
def test_task_sensor_decorator_pokes_the_function_and_takes_sensor_arguments(clock):
    with make_dag() as dag:
        @task.sensor(poke_interval=0, timeout=100, mode="poke")
        def wait_for(threshold, ti=None):
            wait_for.calls = getattr(wait_for, "calls", 0) + 1
            return PokeReturnValue(wait_for.calls >= threshold, xcom_value=ti.task_id)

        wait_for(2)
    s = dag.task_dict["wait_for"]
    assert s.operator_name == "@task.sensor" and s.timeout == 100
    assert s.execute(context_for(s)) == "wait_for"

    with make_dag() as dag2:
        @task.sensor(mode="bogus")
        def broken():
            return True

        with pytest.raises(InvalidTaskArgumentError, match="mode of sensor 'broken'"):
            broken()
    assert "broken" not in dag2.task_dict


# ------------------------------------------------------------------------------ FileSensor
def test_file_sensor_matches_files_globs_and_non_empty_folders(tmp_path):
    with make_dag():
        exact = FileSensor(task_id="exact", filepath=str(tmp_path / "in" / "a.csv"))
        pattern = FileSensor(task_id="pattern", filepath=str(tmp_path / "in" / "*.csv"))
        deep = FileSensor(task_id="deep", filepath=str(tmp_path / "**" / "*.parquet"), recursive=True)
        folder = FileSensor(task_id="folder", filepath=str(tmp_path / "drop"))
    (tmp_path / "drop").mkdir()
    for s in (exact, pattern, deep, folder):
        assert s.poke(context_for(s)) is False
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("x")
    (tmp_path / "x" / "y").mkdir(parents=True)
    (tmp_path / "x" / "y" / "p.parquet").write_text("x")
    (tmp_path / "drop" / "file").write_text("x")
    for s in (exact, pattern, deep, folder):
        assert s.poke(context_for(s)) is True


def test_file_sensor_reads_a_relative_path_under_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEWIND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRADEWIND__CORE__DATA_FOLDER", str(tmp_path / "data"))
    with make_dag():
        s = FileSensor(task_id="f", filepath="incoming/{{ ds }}.json", fs_conn_id="my_fs")
    s.filepath = "incoming/2024-05-01.json"  # as rendered
    assert s.resolved_path() == os.path.join(str(tmp_path / "data"), "incoming/2024-05-01.json")
    assert s.poke(context_for(s)) is False
    (tmp_path / "data" / "incoming").mkdir(parents=True)
    (tmp_path / "data" / "incoming" / "2024-05-01.json").write_text("{}")
    assert s.poke(context_for(s)) is True


# ------------------------------------------------------------------------------ BashSensor
def test_bash_sensor_exit_codes(tmp_path):
    flag = tmp_path / "flag"
    with make_dag():
        s = BashSensor(task_id="b", bash_command=f"test -e {flag}")
        strict = BashSensor(task_id="strict", bash_command="exit $CODE", env={"CODE": "3"}, retry_exit_code=3)
        broken = BashSensor(task_id="broken", bash_command="exit 2", retry_exit_code=3)
    assert s.poke(context_for(s)) is False
    flag.write_text("")
    assert s.poke(context_for(s)) is True
    assert strict.poke(context_for(strict)) is False  # the retry code: poke again
    with pytest.raises(TaskFailNoRetry, match="return code 2"):
        broken.poke(context_for(broken))


# ------------------------------------------------------------------------------ time sensors
def test_time_delta_sensor_waits_for_the_interval_end_plus_delta(clock):
    with make_dag():
        s = TimeDeltaSensor(task_id="td", delta=timedelta(hours=1))
    ctx = context_for(s, data_interval_end=T0, logical_date=T0 - timedelta(days=1))
    clock.now = T0 + timedelta(minutes=59)
    assert s.poke(ctx) is False
    clock.now = T0 + timedelta(minutes=61)
    assert s.poke(ctx) is True
    # No data interval: the logical date is the base.
    assert s.target(context_for(s, data_interval_end=None, logical_date=T0)) == T0 + timedelta(hours=1)


def test_date_time_sensor_takes_a_templated_string_or_datetime_in_the_dag_zone(clock):
    with make_dag(timezone="Asia/Seoul"):
        s = DateTimeSensor(task_id="dt", target_time="2024-05-01T22:00:00")  # 13:00 UTC
        aware = DateTimeSensor(task_id="aware", target_time=T0 + timedelta(minutes=5))
    assert s.target(context_for(s)) == T0 + timedelta(hours=1)
    assert s.poke(context_for(s)) is False
    clock.advance(hours=1, seconds=1)
    assert s.poke(context_for(s)) is True
    assert aware.poke(context_for(aware)) is True
    with make_dag(), pytest.raises(InvalidTaskArgumentError, match="target_time of sensor 'bad'"):
        DateTimeSensor(task_id="bad", target_time=42)


def test_time_sensor_waits_for_the_time_of_day_in_the_dag_zone(clock):
    with make_dag(timezone="Europe/Paris"):  # UTC+2 in May
        s = TimeSensor(task_id="t", target_time=time(14, 30))
    clock.now = datetime(2024, 5, 1, 12, 29, tzinfo=timezone.utc)
    assert s.poke(context_for(s)) is False
    clock.now = datetime(2024, 5, 1, 12, 31, tzinfo=timezone.utc)
    assert s.poke(context_for(s)) is True


# ------------------------------------------------------------------- external task arguments
@pytest.mark.parametrize("bad, message", [
    ({"external_task_id": "a", "external_task_ids": ["b"]}, "only one of external_task_id and external_task_ids"),
    ({"external_task_id": "a", "external_task_group_id": "g"}, "either external_task_group_id or"),
    ({"execution_delta": timedelta(1), "execution_date_fn": lambda d: d}, "only one of execution_delta"),
    ({"external_task_id": "a", "allowed_states": ["done"]}, "allowed_states of sensor 'e' contains 'done'"),
    ({"allowed_states": ["up_for_retry"]}, "not a valid DagRunState"),
    ({"external_task_id": "a", "failed_states": ["success"]}, "more than one of allowed_states"),
    ({"external_task_ids": []}, "non-empty list"),
])
def test_external_task_sensor_argument_errors(bad, message):
    with make_dag(), pytest.raises(InvalidTaskArgumentError, match=message):
        ExternalTaskSensor(task_id="e", external_dag_id="other", **bad)


def test_external_task_marker_is_serialized_for_the_clear_logic():
    with make_dag() as dag:
        ExternalTaskMarker(task_id="m", external_dag_id="child", external_task_id="start", recursion_depth=3)
    snap = serialize_dag(dag)
    tasks = snap["tasks"] if isinstance(snap["tasks"], list) else list(snap["tasks"].values())
    extra = next(t for t in tasks if t["task_id"] == "m")["extra"]
    assert {k: extra[k] for k in ("external_dag_id", "external_task_id", "recursion_depth", "logical_date")} == {
        "external_dag_id": "child", "external_task_id": "start", "recursion_depth": 3,
        "logical_date": "{{ logical_date.isoformat() }}"}
    with make_dag(), pytest.raises(InvalidTaskArgumentError, match="recursion_depth of task 'bad'"):
        ExternalTaskMarker(task_id="bad", external_dag_id="c", external_task_id="s", recursion_depth=0)
