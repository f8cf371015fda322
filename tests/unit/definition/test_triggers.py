"""Triggers (pure asyncio, no database) and the operator side of deferral."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tradewind import (
    BaseOperator,
    BaseTrigger,
    DateTimeTrigger,
    FileTrigger,
    TaskDeferralError,
    TaskDeferralTimeout,
    TaskDeferred,
    TimeDeltaTrigger,
    TriggerEvent,
)
from tradewind.definition import timezone as tz
from tradewind.definition.triggers.base import (
    FAIL_METHOD,
    TRIGGER_TIMEOUT,
    TriggerSerializationError,
    decode_value,
    encode_value,
    load_trigger,
)


def first_event(trigger: BaseTrigger, timeout: float = 10.0) -> TriggerEvent:
    async def main() -> TriggerEvent:
        async for event in trigger.run():
            return event
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(asyncio.wait_for(main(), timeout))


# ------------------------------------------------------------------------------- time
def test_datetime_trigger_in_the_past_fires_at_once_with_its_moment() -> None:
    moment = datetime(2020, 5, 1, 12, tzinfo=timezone.utc)
    assert first_event(DateTimeTrigger(moment), timeout=1.0) == TriggerEvent(moment)


def test_datetime_trigger_waits_for_its_moment() -> None:
    moment = tz.utcnow() + timedelta(seconds=0.3)
    event = first_event(DateTimeTrigger(moment))
    assert event.payload == moment
    assert tz.utcnow() >= moment


def test_datetime_trigger_follows_the_overridable_clock() -> None:
    """A simulated clock that jumps past the moment makes the trigger fire (no real wait)."""
    moment = datetime(2030, 1, 1, tzinfo=timezone.utc)
    previous = tz.set_clock(lambda: datetime(2031, 1, 1, tzinfo=timezone.utc))
    try:
        assert first_event(DateTimeTrigger(moment), timeout=2.0).payload == moment
    finally:
        tz.set_clock(previous)


def test_datetime_trigger_refuses_a_naive_or_non_datetime_moment() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DateTimeTrigger(datetime(2024, 1, 1))
    with pytest.raises(TypeError, match="expects a datetime"):
        DateTimeTrigger("2024-01-01")  # type: ignore[arg-type]


def test_timedelta_trigger_is_stored_as_the_datetime_trigger_of_its_moment() -> None:
    before = tz.utcnow()
    trigger = TimeDeltaTrigger(timedelta(hours=1))
    classpath, kwargs = trigger.serialize()
    assert classpath == "tradewind.definition.triggers.temporal.DateTimeTrigger"
    assert before + timedelta(hours=1) <= kwargs["moment"] <= tz.utcnow() + timedelta(hours=1)
    rebuilt = load_trigger(classpath, encode_value(kwargs))
    assert isinstance(rebuilt, DateTimeTrigger) and rebuilt.moment == trigger.moment
    with pytest.raises(TypeError, match="expects a timedelta"):
        TimeDeltaTrigger(5)  # type: ignore[arg-type]


def test_thousands_of_time_triggers_share_one_event_loop() -> None:
    moment = tz.utcnow() + timedelta(seconds=0.5)
    threads = threading.active_count()

    async def main() -> list[TriggerEvent]:
        async def one(trigger: DateTimeTrigger) -> TriggerEvent:
            async for event in trigger.run():
                return event
            raise AssertionError("no event")

        return await asyncio.gather(*(one(DateTimeTrigger(moment)) for _ in range(3000)))

    events = asyncio.run(asyncio.wait_for(main(), 20))
    assert len(events) == 3000 and all(e.payload == moment for e in events)
    assert threading.active_count() == threads


# ------------------------------------------------------------------------------- file
def test_file_trigger_fires_when_the_file_appears(tmp_path: Path) -> None:
    target = tmp_path / "ready.flag"
    threading.Timer(0.2, target.write_text, args=("x",)).start()
    assert first_event(FileTrigger(str(target), poke_interval=0.05)) == TriggerEvent(True)


def test_file_trigger_matches_a_recursive_glob(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "data.csv").write_text("1")
    trigger = FileTrigger(str(tmp_path / "**" / "*.csv"), recursive=True, poke_interval=0.05)
    assert first_event(trigger, timeout=2.0).payload is True
    classpath, kwargs = trigger.serialize()
    assert load_trigger(classpath, encode_value(kwargs)).filepath == trigger.filepath


def test_file_trigger_keeps_waiting_while_nothing_matches(tmp_path: Path) -> None:
    with pytest.raises(TimeoutError):
        first_event(FileTrigger(str(tmp_path / "never*"), poke_interval=0.05), timeout=0.3)


def test_file_trigger_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="filepath"):
        FileTrigger("")
    with pytest.raises(ValueError, match="poke_interval"):
        FileTrigger("/tmp/x", poke_interval=0)


# ----------------------------------------------------------------------- storage form
def test_values_round_trip_through_the_storage_form() -> None:
    value = {"when": datetime(2024, 3, 1, 8, tzinfo=timezone.utc), "wait": timedelta(minutes=5),
             "items": (1, "two", [3.0, None, True])}
    stored = encode_value(value)
    assert decode_value(stored) == {**value, "items": [1, "two", [3.0, None, True]]}


def test_an_unstorable_value_is_refused_naming_where_it_is() -> None:
    with pytest.raises(TriggerSerializationError, match=r"kwargs\['conn'\] is a object"):
        encode_value({"conn": object()}, "kwargs")
    with pytest.raises(TriggerSerializationError, match="naive datetime"):
        encode_value({"at": datetime(2024, 1, 1)}, "kwargs")


def test_load_trigger_names_a_bad_classpath() -> None:
    with pytest.raises(ImportError, match="no.such.module.Trigger"):
        load_trigger("no.such.module.Trigger", {})
    with pytest.raises(TypeError, match="not a BaseTrigger"):
        load_trigger("datetime.datetime", {})
    with pytest.raises(TypeError, match="DateTimeTrigger from its stored kwargs"):
        load_trigger("tradewind.definition.triggers.temporal.DateTimeTrigger", {"when": 1})


# ------------------------------------------------------------------ the operator side
class Waiter(BaseOperator):
    def execute(self, context):
        self.defer(trigger=TimeDeltaTrigger(timedelta(seconds=5)), method_name="done", kwargs={"n": 1},
                   timeout=30)

    def done(self, context, event=None, n=0):
        return {"event": event, "n": n}


def test_defer_raises_task_deferred_with_what_to_resume() -> None:
    task = Waiter(task_id="wait")
    with pytest.raises(TaskDeferred) as info:
        task.execute({})
    deferred = info.value
    assert isinstance(deferred.trigger, DateTimeTrigger)
    assert deferred.method_name == "done" and deferred.kwargs == {"n": 1}
    assert deferred.timeout == timedelta(seconds=30)
    assert not isinstance(deferred, Exception), "a task's `except Exception` must not swallow a deferral"


def test_defer_refuses_a_method_the_operator_does_not_have() -> None:
    task = Waiter(task_id="wait")
    with pytest.raises(ValueError, match=r"defer\(method_name='missing'\) does not name a method of Waiter"):
        task.defer(trigger=TimeDeltaTrigger(timedelta(seconds=1)), method_name="missing")


def test_resume_execution_calls_the_method_with_the_event() -> None:
    task = Waiter(task_id="wait")
    assert task.resume_execution("done", {"event": "fired", "n": 2}, {}) == {"event": "fired", "n": 2}


def test_resume_execution_of_a_failed_wait_raises() -> None:
    task = Waiter(task_id="wait")
    with pytest.raises(TaskDeferralTimeout, match=TRIGGER_TIMEOUT):
        task.resume_execution(FAIL_METHOD, {"error": TRIGGER_TIMEOUT}, {})
    with pytest.raises(TaskDeferralError, match="boom"):
        task.resume_execution(FAIL_METHOD, {"error": "Trigger failure: boom", "traceback": ["line\n"]}, {})
