"""Human-in-the-loop operators and HITLTrigger (pure: no database; the answers are events)."""

from __future__ import annotations

import asyncio
import warnings
from datetime import datetime, timedelta, timezone

import pytest
from deftestkit import FakeTI, context_for

from tradewind import DAG, EmptyOperator, Param, TaskDeferred
from tradewind.definition import timezone as tz
from tradewind.definition.exceptions import InvalidTaskArgumentError
from tradewind.definition.notifications import BaseNotifier
from tradewind.definition.operators.hitl import (
    ApprovalOperator,
    HITLBranchOperator,
    HITLEntryOperator,
    HITLOperator,
    HITLRejectException,
    HITLTimeoutError,
    HITLTriggerEventError,
    validate_response,
)
from tradewind.definition.triggers.base import decode_value, encode_value, load_trigger
from tradewind.definition.triggers.hitl import TIMEOUT_ERROR, HITLTrigger, success_payload, timeout_payload

UTC = timezone.utc
START = datetime(2024, 1, 1, tzinfo=UTC)
WHEN = datetime(2025, 3, 1, 12, tzinfo=UTC)
ALICE = {"id": "alice", "name": "Alice"}


def answered(*options: str, params_input: dict | None = None, who: dict | None = ALICE) -> dict:
    return success_payload(list(options), params_input or {}, WHEN, who)


def first_event(trigger: HITLTrigger, timeout: float = 5.0):
    async def main():
        async for event in trigger.run():
            return event
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(asyncio.wait_for(main(), timeout))


# ------------------------------------------------------------------ parse-time checks
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"options": []}, '"options" of HITLOperator'),
    ({"options": ["a"], "defaults": "b"}, "should be a subset of options"),
    ({"options": ["a", "b"], "defaults": ["a", "b"]}, 'More than one defaults given when "multiple"'),
    ({"options": ["a"], "params": {"_options": 1}}, '"_options" is not allowed'),
    ({"options": ["a"], "assigned_users": [{"id": 1}]}, "assigned_users of HITLOperator"),
    ({"options": ["a"], "response_timeout": "soon"}, "response_timeout of HITLOperator"),
])
def test_bad_requests_fail_at_parse_naming_the_argument(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidTaskArgumentError, match=message) as info:
        HITLOperator(task_id="ask", subject="?", **kwargs)
    assert isinstance(info.value, ValueError)  # Airflow raises ValueError; ours is one too


def test_operators_fixed_arguments_and_defaults() -> None:
    approval = ApprovalOperator(task_id="ok", subject="Ship?", defaults="Reject")
    assert approval.options == ["Approve", "Reject"] and approval.multiple is False
    assert approval.defaults == ["Reject"]
    with pytest.raises(InvalidTaskArgumentError, match="Passing options to ApprovalOperator"):
        ApprovalOperator(task_id="no", subject="?", options=["x"])
    entry = HITLEntryOperator(task_id="form", subject="Fill in", params={"name": Param("", type="string")})
    assert entry.options == ["OK"] and entry.defaults == ["OK"]
    assert HITLEntryOperator(task_id="own", subject="?", options=["Go"]).defaults is None
    with pytest.raises(InvalidTaskArgumentError, match="contains keys that are not in `options`"):
        HITLBranchOperator(task_id="b", subject="?", options=["a"], options_mapping={"z": "t"})
    with pytest.raises(InvalidTaskArgumentError, match="values .* must be strings"):
        HITLBranchOperator(task_id="b", subject="?", options=["a"], options_mapping={"a": 1})


def test_execution_timeout_is_taken_as_the_response_timeout_with_a_note() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        task = HITLOperator(task_id="ask", subject="?", options=["a"], execution_timeout=timedelta(minutes=5))
    assert task.response_timeout == timedelta(minutes=5) and task.execution_timeout is None
    assert any("response_timeout" in note for note in task.deprecation_notes)
    both = HITLOperator(task_id="b", subject="?", options=["a"], execution_timeout=60, response_timeout=30)
    assert both.response_timeout == timedelta(seconds=30) and both.execution_timeout == timedelta(seconds=60)


# ------------------------------------------------------------------ execute: the request
class Recorder(BaseNotifier):
    template_fields = ("message",)
    seen: list[str] = []

    def __init__(self, message: str) -> None:
        self.message = message

    def notify(self, context: dict) -> None:
        Recorder.seen.append(self.message)


def test_execute_notifies_and_defers_with_the_whole_request() -> None:
    Recorder.seen = []
    with DAG("d", start_date=START, schedule=None):
        task = HITLOperator(
            task_id="ask", subject="Pick one", body="**why**", options=["a", "b"], defaults=["a"],
            params={"n": Param(3, type="integer", minimum=0)}, notifiers=Recorder("asked {{ task.subject }}"),
            assigned_users={"id": "alice", "name": "Alice"}, response_timeout=timedelta(hours=1))
    before = tz.utcnow()
    with pytest.raises(TaskDeferred) as info:
        task.execute(context_for(task))
    assert Recorder.seen == ["asked Pick one"]
    deferred = info.value
    assert deferred.method_name == "execute_complete"
    trigger = deferred.trigger
    classpath, kwargs = trigger.serialize()
    assert classpath == "tradewind.definition.triggers.hitl.HITLTrigger"
    assert kwargs["subject"] == "Pick one" and kwargs["body"] == "**why**" and kwargs["options"] == ["a", "b"]
    assert kwargs["defaults"] == ["a"] and kwargs["assigned_users"] == [ALICE]
    assert kwargs["params"] == {"n": {"value": 3, "description": None, "schema": {"type": "integer", "minimum": 0}}}
    assert before + timedelta(hours=1) <= kwargs["timeout_datetime"] <= tz.utcnow() + timedelta(hours=1)
    # the stored form rebuilds the same trigger (what the triggerer does)
    rebuilt = load_trigger(classpath, encode_value(kwargs))
    assert rebuilt.serialize() == (classpath, kwargs)


# ------------------------------------------------------------------ execute_complete: the answer
def _resume(task, event: dict, ti: FakeTI | None = None):
    ti = ti or FakeTI(dag_id=task.dag_id, task_id=task.task_id)
    return task.resume_execution("execute_complete", {"event": decode_value(encode_value(event))},
                                 context_for(task, ti)), ti


def test_the_answer_is_the_xcom_in_airflows_shape() -> None:
    with DAG("d", start_date=START, schedule=None):
        task = HITLOperator(task_id="ask", subject="?", options=["a", "b", "c"], multiple=True,
                            params={"note": Param("", type="string")})
    result, _ = _resume(task, answered("a", "c", params_input={"note": "fine"}))
    assert result == {"chosen_options": ["a", "c"], "params_input": {"note": "fine"}, "responded_at": WHEN,
                      "responded_by_user": ALICE}
    with pytest.raises(ValueError, match="not in"):
        _resume(task, answered("z"))
    with pytest.raises(ValueError, match="param 'note'"):
        _resume(task, answered("a", params_input={"note": 5}))


def test_a_deadline_without_defaults_fails_and_with_defaults_answers() -> None:
    with DAG("d", start_date=START, schedule=None):
        strict = HITLOperator(task_id="strict", subject="?", options=["a"])
        lenient = HITLOperator(task_id="lenient", subject="?", options=["a", "b"], defaults="b",
                               params={"size": Param(None, type=["null", "integer"])})
    with pytest.raises(HITLTimeoutError):
        _resume(strict, timeout_payload(None, {}, WHEN))
    with pytest.raises(HITLTriggerEventError):
        _resume(strict, {"error": "boom", "error_type": "unknown"})
    result, _ = _resume(lenient, timeout_payload(["b"], lenient.serialized_params, WHEN))
    assert result["chosen_options"] == ["b"] and result["responded_by_user"] is None
    assert result["params_input"] == {"size": None}


def _approval_dag(**kwargs):
    with DAG("d", start_date=START, schedule=None) as dag:
        approve = ApprovalOperator(task_id="approve", subject="Ship?", **kwargs)
        direct = EmptyOperator(task_id="direct")
        later = EmptyOperator(task_id="later")
        cleanup = EmptyOperator(task_id="cleanup")
        cleanup.is_teardown = True
        approve >> direct >> later
        approve >> cleanup
    return dag, approve


def test_approve_lets_downstream_run_and_reject_skips_it() -> None:
    _, approve = _approval_dag()
    result, ti = _resume(approve, answered("Approve"))
    assert result["chosen_options"] == ["Approve"] and ti.skipped == []
    result, ti = _resume(approve, answered("Reject"))
    assert result["chosen_options"] == ["Reject"]
    assert ti.skipped == ["direct"]  # direct downstream only; teardowns never
    _, everything = _approval_dag(ignore_downstream_trigger_rules=True)
    _, ti = _resume(everything, answered("Reject"))
    assert ti.skipped == ["direct", "later"]
    _, failing = _approval_dag(fail_on_reject=True)
    with pytest.raises(HITLRejectException, match="Reject"):
        _resume(failing, answered("Reject"))


def test_branch_runs_the_chosen_tasks_through_the_mapping() -> None:
    with DAG("d", start_date=START, schedule=None):
        pick = HITLBranchOperator(task_id="pick", subject="?", options=["Left", "right", "up"], multiple=True,
                                  options_mapping={"Left": "go_left"})
        pick >> [EmptyOperator(task_id="go_left"), EmptyOperator(task_id="right"), EmptyOperator(task_id="up")]
    result, ti = _resume(pick, answered("Left", "right"))
    assert result == ["go_left", "right"] and ti.skipped == ["up"]


def test_generate_link_to_ui() -> None:
    with DAG("d", start_date=START, schedule=None):
        task = HITLOperator(task_id="ask", subject="?", options=["a", "b"], params={"n": 1})
    ti = FakeTI(dag_id="d", task_id="ask", run_id="manual__1")
    link = task.generate_link_to_ui(task_instance=ti, base_url="http://host:8080/", options="a", params_input={"n": 2})
    assert link == "http://host:8080/dags/d/runs/manual__1/tasks/ask/required_actions?_options=a&n=2&map_index=-1"
    with pytest.raises(ValueError, match="not valid options"):
        task.generate_link_to_ui(task_instance=ti, base_url="http://h", options=["z"])


# ------------------------------------------------------------------ validate_response (the API's check)
def test_validate_response_fills_defaults_and_names_what_is_wrong() -> None:
    params = {"n": {"value": 3, "description": None, "schema": {"type": "integer"}},
              "note": {"value": None, "description": None, "schema": {"type": ["null", "string"]}}}
    assert validate_response(["a"], False, params, ["a"], {"n": 5}) == {"n": 5, "note": None}
    for chosen, given, message in [([], {}, "at least one"), (["z"], {}, "not in"), (["a", "b"], {}, "only one"),
                                   (["a"], {"x": 1}, "not params"), (["a"], {"n": "five"}, "param 'n'")]:
        with pytest.raises(ValueError, match=message):
            validate_response(["a", "b"], False, params, chosen, given)


# ------------------------------------------------------------------ HITLTrigger
def test_trigger_yields_the_defaults_at_its_deadline() -> None:
    trigger = HITLTrigger(options=["a", "b"], defaults=["b"], params={"n": {"value": 1, "schema": {}}},
                          timeout_datetime=tz.utcnow() + timedelta(seconds=0.2))
    event = first_event(trigger)
    assert event.payload["chosen_options"] == ["b"] and event.payload["params_input"] == {"n": 1}
    assert event.payload["timedout"] is True and event.payload["responded_by_user"] is None


def test_trigger_without_defaults_yields_the_timeout_error() -> None:
    event = first_event(HITLTrigger(options=["a"], timeout_datetime=datetime(2020, 1, 1, tzinfo=UTC)))
    assert event.payload == {"error": TIMEOUT_ERROR, "error_type": "timeout"}


def test_trigger_without_a_deadline_waits_for_an_answer() -> None:
    with pytest.raises(TimeoutError):
        first_event(HITLTrigger(options=["a"]), timeout=0.3)


def test_trigger_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="non-empty list of option strings"):
        HITLTrigger(options=[])
    with pytest.raises(ValueError, match="timezone-aware"):
        HITLTrigger(options=["a"], timeout_datetime=datetime(2030, 1, 1))


# ------------------------------------------------------------------ Airflow import paths
def test_airflow_import_paths_resolve_to_these_classes() -> None:
    from tradewind import compat

    compat.install()
    from airflow.providers.standard.exceptions import HITLRejectException as Rejected
    from airflow.providers.standard.operators.hitl import ApprovalOperator as AirflowApproval
    from airflow.providers.standard.operators.hitl import HITLOperator as AirflowHITL
    from airflow.providers.standard.triggers.hitl import HITLTrigger as AirflowTrigger
    from airflow.providers.standard.triggers.hitl import HITLTriggerEventSuccessPayload

    assert AirflowHITL is HITLOperator and AirflowApproval is ApprovalOperator and AirflowTrigger is HITLTrigger
    assert Rejected is HITLRejectException and "chosen_options" in HITLTriggerEventSuccessPayload.__annotations__


def test_trigger_run_inline_ends_with_an_answer_given_elsewhere() -> None:
    """``dags test`` installs a reader: the trigger ends with the recorded answer (even at its deadline)."""
    from types import SimpleNamespace

    from tradewind.definition.triggers import hitl as hitl_trigger

    answers: list[dict | None] = [None, answered("a")]
    looked: list[str] = []

    def reader(ti):
        looked.append(ti.task_id)
        return answers.pop(0) if answers else None

    hitl_trigger.set_response_reader(reader)
    try:
        trigger = HITLTrigger(options=["a"], poke_interval=0.05)
        trigger.task_instance = SimpleNamespace(dag_id="d", run_id="r", task_id="ask", map_index=-1)
        event = first_event(trigger)
        assert event.payload["chosen_options"] == ["a"] and event.payload["responded_by_user"] == ALICE
        assert looked == ["ask", "ask"]

        def broken(ti):
            raise RuntimeError("database gone")

        hitl_trigger.set_response_reader(broken)  # a failed look-up is not a failed wait
        late = HITLTrigger(options=["a"], defaults=["a"], timeout_datetime=tz.utcnow() + timedelta(seconds=0.1))
        late.task_instance = trigger.task_instance
        assert first_event(late).payload["timedout"] is True
    finally:
        hitl_trigger.set_response_reader(None)
