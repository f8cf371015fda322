"""DAG construction (context manager, dag= argument, @dag), attributes, validation errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tradewind import DAG, BashOperator, EmptyOperator, Param, dag, task
from tradewind.definition.exceptions import (
    DagCycleError,
    DuplicateTaskIdError,
    InvalidIdError,
    InvalidScheduleError,
    InvalidTaskArgumentError,
    TaskNotFound,
    TradewindException,
)
from tradewind.definition.helpers import DagContext
from tradewind.definition.timetables import CronDataIntervalTimetable, NullTimetable
from tradewind.states import TriggerRule

UTC = timezone.utc


def test_context_manager_collects_tasks_and_attributes() -> None:
    with DAG(
        "etl",
        description="desc",
        schedule="@daily",
        start_date=datetime(2024, 1, 1),
        tags=["a", "b"],
        max_active_runs=2,
        max_active_tasks=3,
        dagrun_timeout=600,
        doc_md="# doc",
    ) as d:
        first = EmptyOperator(task_id="first")
        second = EmptyOperator(task_id="second")
    assert d.task_dict == {"first": first, "second": second}
    assert d.tasks == [first, second]
    assert first.dag is d and first.dag_id == "etl"
    assert d.description == "desc" and d.tags == ["a", "b"] and d.doc_md == "# doc"
    assert d.max_active_runs == 2 and d.max_active_tasks == 3
    assert d.dagrun_timeout == timedelta(seconds=600)
    assert d.catchup is False
    assert isinstance(d.timetable, CronDataIntervalTimetable)
    assert d.fileloc == __file__
    assert d.get_task("second") is second
    assert DagContext.get_current_dag() is None
    assert d in DagContext.autoregistered_dags


def test_dag_argument_without_context_manager() -> None:
    d = DAG("plain", start_date=datetime(2024, 1, 1))
    t = EmptyOperator(task_id="t", dag=d)
    assert d.task_dict == {"t": t}
    assert t.task_group is d.task_group


def test_default_schedule_is_none_and_schedule_interval_is_accepted() -> None:
    assert isinstance(DAG("no_schedule").timetable, NullTimetable)
    d = DAG("old_style", schedule_interval="0 3 * * *", start_date=datetime(2024, 1, 1))
    assert isinstance(d.timetable, CronDataIntervalTimetable)
    assert d.schedule_interval == "0 3 * * *"
    with pytest.raises(InvalidScheduleError, match="only one of"):
        DAG("both", schedule="@daily", schedule_interval="@daily")


def test_bad_cron_names_the_dag() -> None:
    with pytest.raises(InvalidScheduleError, match="bad_cron"):
        DAG("bad_cron", schedule="not a cron")


def test_naive_start_date_is_read_in_dag_timezone_and_stored_utc() -> None:
    d = DAG("tz", start_date=datetime(2024, 1, 1, 9, 0), timezone="Asia/Seoul")
    assert d.timezone == ZoneInfo("Asia/Seoul")
    assert d.start_date == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    assert d.start_date.utcoffset() == timedelta(0)


def test_timezone_defaults_to_start_date_zone_then_utc() -> None:
    d = DAG("z1", start_date=datetime(2024, 6, 1, tzinfo=ZoneInfo("Europe/Paris")))
    assert d.timezone == ZoneInfo("Europe/Paris")
    assert DAG("z2", start_date=datetime(2024, 6, 1)).timezone == ZoneInfo("UTC")


def test_pendulum_start_date_becomes_plain_aware_datetime() -> None:
    pendulum = pytest.importorskip("pendulum")
    d = DAG("pend", start_date=pendulum.datetime(2024, 1, 1, tz="America/New_York"))
    assert type(d.start_date) is datetime
    assert d.start_date == datetime(2024, 1, 1, 5, 0, tzinfo=UTC)
    assert d.timezone.key == "America/New_York"


def test_start_date_from_default_args_and_task_dates_bounded_by_dag() -> None:
    with DAG("dates", default_args={"start_date": datetime(2024, 1, 1)}) as d:
        inherits = EmptyOperator(task_id="inherits")
        later = EmptyOperator(task_id="later", start_date=datetime(2024, 2, 1))
        earlier = EmptyOperator(task_id="earlier", start_date=datetime(2023, 2, 1))
    assert d.start_date == datetime(2024, 1, 1, tzinfo=UTC)
    assert inherits.start_date == d.start_date
    assert later.start_date == datetime(2024, 2, 1, tzinfo=UTC)
    assert earlier.start_date == d.start_date


def test_end_date_before_start_date_is_rejected() -> None:
    with pytest.raises(InvalidTaskArgumentError, match="end_date"):
        DAG("backwards", start_date=datetime(2024, 2, 1), end_date=datetime(2024, 1, 1))


def test_unknown_timezone_is_a_clear_error() -> None:
    with pytest.raises(InvalidTaskArgumentError, match="Mars/Olympus"):
        DAG("mars", timezone="Mars/Olympus")


def test_default_args_apply_to_every_operator_argument_not_given() -> None:
    args = {"owner": "data", "retries": 3, "retry_delay": 30, "pool": "p", "queue": "q",
            "bash_command": "echo default", "env": {"A": "1"}, "unknown_key": "ignored"}
    with DAG("defaults", default_args=args) as d:
        bash = BashOperator(task_id="bash")
        explicit = BashOperator(task_id="explicit", bash_command="echo mine", retries=0, owner="me")
        empty = EmptyOperator(task_id="empty")
    assert bash.bash_command == "echo default" and bash.env == {"A": "1"}
    assert (bash.owner, bash.retries, bash.pool, bash.queue) == ("data", 3, "p", "q")
    assert bash.retry_delay == timedelta(seconds=30)
    assert (explicit.bash_command, explicit.retries, explicit.owner) == ("echo mine", 0, "me")
    assert empty.retries == 3
    assert d.owner == "data, me"


def test_operator_default_args_override_dag_default_args() -> None:
    with DAG("layers", default_args={"retries": 1, "owner": "dag"}):
        t = EmptyOperator(task_id="t", default_args={"retries": 5})
    assert (t.retries, t.owner) == (5, "dag")


def test_custom_operator_subclass_gets_defaults_for_its_own_arguments() -> None:
    class Greet(EmptyOperator):
        def __init__(self, *, greeting: str = "hello", **kwargs):
            super().__init__(**kwargs)
            self.greeting = greeting

    with DAG("custom", default_args={"greeting": "hi", "retries": 2}):
        g = Greet(task_id="g")
    assert g.greeting == "hi" and g.retries == 2


def test_params_merge_dag_then_task() -> None:
    with DAG("params", params={"a": 1, "b": Param(2, description="bee", type="integer")}) as d:
        t = EmptyOperator(task_id="t", params={"b": 20, "c": 3})
    assert dict(d.params) == {"a": 1, "b": 2}
    assert dict(t.params) == {"a": 1, "b": 20, "c": 3}
    assert d.params.get_param("b").schema == {"type": "integer"}
    assert t.params.get_param("b").description == "bee"


@pytest.mark.parametrize("bad", ["has space", "semi;colon", "x" * 251, "", "tab\there", "emoji🙂"])
def test_invalid_dag_id(bad: str) -> None:
    with pytest.raises(InvalidIdError, match="dag_id"):
        DAG(bad)


@pytest.mark.parametrize("bad", ["has space", "a/b", "x" * 251])
def test_invalid_task_id_names_the_dag(bad: str) -> None:
    with DAG("ids"):
        with pytest.raises(InvalidIdError, match="task_id .*DAG 'ids'"):
            EmptyOperator(task_id=bad)


def test_valid_ids_with_dots_and_dashes() -> None:
    with DAG("my-dag.v2_1") as d:
        EmptyOperator(task_id="a.b-c_d")
    assert d.has_task("a.b-c_d")


def test_duplicate_task_id() -> None:
    with DAG("dups"):
        EmptyOperator(task_id="same")
        with pytest.raises(DuplicateTaskIdError, match="'same'.*'dups'"):
            EmptyOperator(task_id="same")


def test_bad_trigger_rule_names_task_and_dag() -> None:
    with DAG("rules"):
        with pytest.raises(InvalidTaskArgumentError, match="task 'x' in DAG 'rules'.*invalid trigger_rule 'sometimes'"):
            EmptyOperator(task_id="x", trigger_rule="sometimes")
        ok = EmptyOperator(task_id="ok", trigger_rule="none_failed_or_skipped")
    assert ok.trigger_rule is TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS


def test_bad_weight_rule_and_bad_retries() -> None:
    with DAG("wr"):
        with pytest.raises(InvalidTaskArgumentError, match="weight_rule"):
            EmptyOperator(task_id="a", weight_rule="sideways")
        with pytest.raises(InvalidTaskArgumentError, match="retries"):
            EmptyOperator(task_id="b", retries=-1)
        with pytest.raises(InvalidTaskArgumentError, match="retry_delay"):
            EmptyOperator(task_id="c", retry_delay="soon")


def test_unknown_operator_argument_is_rejected() -> None:
    with DAG("unknown"):
        with pytest.raises(InvalidTaskArgumentError, match="Invalid arguments were passed to EmptyOperator"):
            EmptyOperator(task_id="a", colour="red")


def test_positional_arguments_are_rejected() -> None:
    with DAG("positional"):
        with pytest.raises(TradewindException, match="keyword arguments"):
            EmptyOperator("a")


def test_cycle_is_detected_with_its_path() -> None:
    with DAG("cyclic") as d:
        a, b, c, x = (EmptyOperator(task_id=i) for i in "abcx")
        x >> a >> b >> c >> a
    with pytest.raises(DagCycleError, match=r"Cycle detected in DAG 'cyclic': a -> b -> c -> a"):
        d.validate()
    with pytest.raises(DagCycleError):
        d.topological_sort()


def test_self_dependency_is_a_cycle() -> None:
    with DAG("selfloop"):
        a = EmptyOperator(task_id="a")
        with pytest.raises(DagCycleError, match="a -> a"):
            a >> a


def test_acyclic_dag_validates_and_sorts_topologically() -> None:
    with DAG("diamond") as d:
        a, b, c, e = (EmptyOperator(task_id=i) for i in "abce")
        a >> [c, b] >> e
    d.validate()
    order = [t.task_id for t in d.topological_sort()]
    assert order == ["a", "b", "c", "e"]
    assert [t.task_id for t in d.roots] == ["a"] and [t.task_id for t in d.leaves] == ["e"]


def test_get_task_missing() -> None:
    with pytest.raises(TaskNotFound, match="nope"):
        DAG("empty").get_task("nope")


def test_dag_decorator_builds_dag_with_params_from_signature() -> None:
    @dag(schedule=None, start_date=datetime(2024, 1, 1), tags=["deco"])
    def my_pipeline(limit: int = 10, name: str = "x"):
        """Pipeline docs."""

        @task
        def use(value):
            return value

        use(limit)

    d = my_pipeline(name="override")
    assert d.dag_id == "my_pipeline"
    assert dict(d.params) == {"limit": 10, "name": "override"}
    assert d.doc_md == "Pipeline docs."
    assert d.tags == ["deco"]
    assert d.fileloc == __file__
    op = d.get_task("use")
    # The function's argument is a reference resolved from the run's params.
    from tradewind.definition.xcom_arg import resolve_xcom_args

    assert resolve_xcom_args(op.op_args, {"params": {"limit": 7}}) == [7]


def test_dag_decorator_with_explicit_id() -> None:
    @dag("explicit_id")
    def builder():
        EmptyOperator(task_id="only")

    assert builder().task_ids == ["only"]
