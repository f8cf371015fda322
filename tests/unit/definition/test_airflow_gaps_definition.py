"""Author-API gaps that made other people's Airflow DAG files fail here (definition layer only)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tradewind.definition.dag import DAG
from tradewind.definition.exceptions import InvalidIdError, TradewindException
from tradewind.definition.mapped import MappingDefinitionError
from tradewind.definition.operators.bash import BashOperator
from tradewind.definition.operators.empty import EmptyOperator
from tradewind.definition.operators.python import PythonOperator
from tradewind.definition.taskgroup import TaskGroup
from tradewind.definition.timetables import DataInterval

UTC = timezone.utc


# ------------------------------------------------------------------------------------ ids
@pytest.mark.parametrize("good", ["데이터추출", "données_2024", "Ünïcode-id.v2", "x" * 250, "売上.集計"])
def test_unicode_word_ids_are_valid_as_in_airflow(good: str) -> None:
    with DAG(good, schedule=None) as dag:
        EmptyOperator(task_id=good)
    assert dag.dag_id == good and good in dag.task_dict


@pytest.mark.parametrize("bad", ["has space", "semi;colon", "slash/id", "x" * 251, "", "new\nline", "trailing\n"])
def test_ids_outside_airflows_rule_are_refused_naming_the_id(bad: str) -> None:
    with pytest.raises(InvalidIdError, match="dag_id"):
        DAG(bad)


def test_korean_group_ids_join_task_ids_and_dots_stay_refused_in_group_ids() -> None:
    with DAG("한국어", schedule=None) as dag:
        with TaskGroup("변환그룹"):
            EmptyOperator(task_id="배시")
    assert "변환그룹.배시" in dag.task_dict
    with DAG("한국어2", schedule=None), pytest.raises(InvalidIdError, match="group_id"):
        TaskGroup("그룹.점")


# ------------------------------------------------------------------------- DataInterval
def test_data_interval_unpacks_and_indexes_like_airflows_namedtuple() -> None:
    interval = DataInterval(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC))
    start, end = interval
    assert (start, end) == (interval.start, interval.end)
    assert interval[0] == interval.start and interval[-1] == interval.end and len(interval) == 2
    assert tuple(interval) == (interval.start, interval.end)


# ------------------------------------------------------- Airflow 2 schedule arithmetic
@pytest.mark.parametrize("schedule, at, following, previous", [
    ("@daily", datetime(2024, 3, 5, tzinfo=UTC), datetime(2024, 3, 6, tzinfo=UTC), datetime(2024, 3, 4, tzinfo=UTC)),
    ("0 6 * * *", datetime(2024, 3, 5, 12, tzinfo=UTC), datetime(2024, 3, 6, 6, tzinfo=UTC),
     datetime(2024, 3, 5, 6, tzinfo=UTC)),
    (timedelta(hours=4), datetime(2024, 3, 5, 1, tzinfo=UTC), datetime(2024, 3, 5, 5, tzinfo=UTC),
     datetime(2024, 3, 4, 21, tzinfo=UTC)),
])
def test_following_and_previous_schedule(schedule, at, following, previous) -> None:
    dag = DAG("sched", schedule=schedule, start_date=datetime(2024, 1, 1, tzinfo=UTC))
    assert dag.following_schedule(at) == following
    assert dag.previous_schedule(at) == previous


def test_schedule_arithmetic_without_intervals_and_naive_input() -> None:
    manual = DAG("manual", schedule=None)
    assert manual.following_schedule(datetime(2024, 1, 1, tzinfo=UTC)) is None
    assert manual.previous_schedule(datetime(2024, 1, 1, tzinfo=UTC)) is None
    # Naive datetimes are wall time in the DAG's zone, as everywhere else.
    tz_dag = DAG("berlin", schedule="@daily", start_date=datetime(2024, 1, 1), timezone="Europe/Berlin")
    assert tz_dag.following_schedule(datetime(2024, 3, 5, 12)) == datetime(2024, 3, 5, 23, tzinfo=UTC)
    with pytest.raises(TypeError, match="following_schedule"):
        tz_dag.following_schedule("2024-03-05")


# --------------------------------------------------------------------- DAG arguments
def test_doc_md_naming_a_markdown_file_beside_the_dag_file_is_read(tmp_path) -> None:
    (tmp_path / "README_dag.md").write_text("# Docs from a file\n")
    dag_file = tmp_path / "doc_dag.py"
    dag_file.write_text(
        "from tradewind.definition.dag import DAG\n"
        "dag = DAG('docs', schedule=None, doc_md='README_dag.md')\n"
        "missing = DAG('docs2', schedule=None, doc_md='not_there.md')\n")
    namespace: dict = {}
    exec(compile(dag_file.read_text(), str(dag_file), "exec"), namespace)
    assert namespace["dag"].doc_md == "# Docs from a file\n"
    assert namespace["missing"].doc_md == "not_there.md"  # as Airflow: a name not found stays text


def test_airflow3_dag_arguments_are_accepted() -> None:
    dag = DAG("a3", schedule=None, fail_fast=True, disable_bundle_versioning=True, deadline=object(),
              sla_miss_callback=print)
    assert dag.fail_stop is True and dag.fail_fast is True
    assert any("deadline" in note for note in dag.deprecation_notes)  # logged in every try
    assert any("sla_miss_callback" in note for note in dag.deprecation_notes)


# ----------------------------------------------------------------- BashOperator arguments
def test_bash_output_processor_must_be_callable_and_skip_exit_code_is_the_old_name() -> None:
    with DAG("bash_args", schedule=None):
        with pytest.raises(TradewindException, match="output_processor of task 'p'"):
            BashOperator(task_id="p", bash_command="echo", output_processor="json.loads")
        old = BashOperator(task_id="old", bash_command="exit 42", skip_exit_code=42)
    assert old.skip_on_exit_code == (42,)
    assert any("skip_exit_code is deprecated" in n for n in old.deprecation_notes)


def test_bash_output_processor_turns_the_last_line_into_the_value() -> None:
    with DAG("bash_proc", schedule=None):
        op = BashOperator(task_id="p", bash_command='echo starting; echo \'{"rows": 3}\'',
                          output_processor=lambda out: json.loads(out)["rows"] * 2)
    assert op.execute({}) == 6


# --------------------------------------------------------------------- mapping params
def test_params_can_be_mapped_and_partial_params_merge() -> None:
    with DAG("mapped_params", schedule=None, params={"keep": "dag"}) as dag:
        PythonOperator.partial(task_id="m", python_callable=print, params={"base": 1, "n": 0}).expand(
            params=[{"n": 1}, {"n": 2}])
    task = dag.task_dict["m"]

    class _TI:
        map_index = 1

    operator = task.unmap({"ti": _TI()})
    assert dict(operator.params) == {"base": 1, "n": 2}  # the DAG's params join in the context
    assert operator.params_mapped is True


def test_other_task_level_arguments_stay_unmappable() -> None:
    with DAG("mapped_bad", schedule=None), pytest.raises(MappingDefinitionError, match="retries"):
        PythonOperator.partial(task_id="m", python_callable=print).expand(retries=[1, 2])


# ---------------------------------------------------------------------- DockerOperator
def test_docker_operator_takes_the_providers_arguments_and_the_sdk_accepts_the_options() -> None:
    pytest.importorskip("docker", reason="the docker extra (Docker SDK) is part of the dev extra")
    from docker.models.containers import _create_container_args
    from docker.types import Ulimit

    from tradewind.integrations.docker import DockerOperator

    with DAG("docker_args", schedule=None):
        op = DockerOperator(
            task_id="d", image="alpine:3", command='["echo", "hi"]', tty=True, mount_tmp_dir=True,
            tmp_dir="/scratch", cpus=0.5, shm_size=1 << 20, hostname="box", privileged=True, cap_add=["NET_ADMIN"],
            dns=["1.1.1.1"], dns_search=["example.com"], extra_hosts={"db": "10.0.0.2"}, ipc_mode="shareable",
            port_bindings={8080: 18080}, ulimits=[Ulimit(name="nofile", soft=64, hard=64)], labels={"team": "data"},
            log_opts_max_size="10m", log_opts_max_file="3", env_file="# comment\nA=1\nexport B='two'\nC=3 # note\n",
            environment={"C": "env wins"}, timeout=30, docker_conn_id=None, retrieve_output=False)
    options = op.create_options(op.command, [], tmp_mounted=True)
    assert options["command"] == ["echo", "hi"]  # a JSON list string becomes the list, as in Airflow
    assert options["environment"] == {"A": "1", "B": "two", "C": "env wins", "AIRFLOW_TMP_DIR": "/scratch"}
    assert options["cpu_shares"] == 512 and options["tty"] is True
    assert options["log_config"] == {"type": "json-file", "config": {"max-size": "10m", "max-file": "3"}}
    # The Docker SDK's own builder accepts every option name (no engine needed for that).
    built = _create_container_args({**options, "image": "alpine:3", "version": "1.45"})
    host = built["host_config"]
    assert built["tty"] is True and built["labels"] == {"team": "data"}
    assert {"CapAdd", "CpuShares", "Dns", "DnsSearch", "ExtraHosts", "IpcMode", "LogConfig", "PortBindings",
            "Privileged", "ShmSize", "Ulimits"} <= set(host)


def test_docker_operator_refuses_what_the_provider_refuses() -> None:
    from tradewind.integrations.docker import DockerOperator

    with DAG("docker_bad", schedule=None):
        with pytest.raises(TradewindException, match="port_bindings"):
            DockerOperator(task_id="d", image="alpine", network_mode="host", port_bindings={80: 80})
        with pytest.raises(TradewindException, match="retrieve_output_path"):
            DockerOperator(task_id="e", image="alpine", retrieve_output=True)


# ----------------------------------------------------------- BaseOperator arguments
def test_airflow2_hook_arguments_run_around_execute_and_ignored_ones_are_noted() -> None:
    seen: list[object] = []
    default_args = {"sla": timedelta(hours=1), "wait_for_past_depends_before_skipping": True,
                    "ignore_first_depends_on_past": False, "pre_execute": lambda ctx: seen.append("pre")}
    with DAG("hooks", schedule=None, default_args=default_args):
        op = PythonOperator(task_id="p", python_callable=lambda: 5,
                            post_execute=lambda ctx, result=None: seen.append(("post", result)))
    op.pre_execute({})
    op.post_execute({}, 5)
    assert seen == ["pre", ("post", 5)]
    notes = " | ".join(op.deprecation_notes)
    assert "sla is accepted" in notes and "wait_for_past_depends_before_skipping" in notes
    assert "ignore_first_depends_on_past" in notes
    with DAG("hooks_bad", schedule=None), pytest.raises(TradewindException, match="pre_execute of task 'q'"):
        PythonOperator(task_id="q", python_callable=print, pre_execute="not callable")


def test_next_dagrun_info_and_automated_intervals_the_deprecation_notes_point_to() -> None:
    dag = DAG("next_info", schedule="@daily", start_date=datetime(2024, 1, 1, tzinfo=UTC), catchup=True)
    first = dag.next_dagrun_info(None)
    assert first.data_interval == DataInterval(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC))
    interval = dag.infer_automated_data_interval(datetime(2024, 3, 4, tzinfo=UTC))
    assert tuple(interval) == (datetime(2024, 3, 4, tzinfo=UTC), datetime(2024, 3, 5, tzinfo=UTC))
    following = dag.next_dagrun_info(interval)
    assert following.logical_date == datetime(2024, 3, 5, tzinfo=UTC)
    assert dag.next_dagrun_info(datetime(2024, 3, 4, tzinfo=UTC)).logical_date == following.logical_date
    assert DAG("none", schedule=None).next_dagrun_info(None) is None
    assert dag.get_template_env().from_string("{{ 40 + 2 }}").render() == "42"
    assert dag.is_subdag is False and dag.parent_dag is None


def test_docker_operator_takes_the_pre_3_0_provider_volumes_and_skip_exit_code() -> None:
    pytest.importorskip("docker", reason="the docker extra (Docker SDK) is part of the dev extra")
    from tradewind.integrations.docker import DockerOperator

    with DAG("docker_old", schedule=None):
        op = DockerOperator(task_id="d", image="alpine", volumes=["/tmp/data:/data", "/etc/app:/conf:ro"],
                            skip_exit_code=3)
        with pytest.raises(TradewindException, match="volume 'nocolon'"):
            DockerOperator(task_id="bad", image="alpine", volumes=["nocolon"])
    assert [(m["Source"], m["Target"], m["ReadOnly"]) for m in op._mounts()] == [
        ("/tmp/data", "/data", False), ("/etc/app", "/conf", True)]
    assert op.skip_on_exit_code == (3,)
    assert sum("deprecated" in n for n in op.deprecation_notes) == 2


def test_airflow2_names_of_use_task_logical_date_are_accepted_and_noted() -> None:
    from datetime import time

    from tradewind.definition.operators.datetime_branch import BranchDateTimeOperator, BranchDayOfWeekOperator

    with DAG("branch_names", schedule=None):
        day = BranchDayOfWeekOperator(task_id="d", follow_task_ids_if_true="a", follow_task_ids_if_false="b",
                                      week_day="Monday", use_task_execution_day=True)
        when = BranchDateTimeOperator(task_id="t", follow_task_ids_if_true="a", follow_task_ids_if_false="b",
                                      target_lower=time(1), target_upper=time(2), use_task_execution_date=True)
    assert day.use_task_logical_date is True and when.use_task_logical_date is True
    assert "use_task_execution_day is deprecated" in day.deprecation_notes[0]
    assert "use_task_execution_date is deprecated" in when.deprecation_notes[0]


def test_schedule_arithmetic_across_the_autumn_dst_change() -> None:
    import pendulum

    amsterdam = pendulum.timezone("Europe/Amsterdam")
    start = pendulum.datetime(2018, 10, 28, 2, 55, tz=amsterdam, fold=0)  # 02:55+02:00, before the clocks go back
    dag = DAG("tz_dag", start_date=start, schedule="*/5 * * * *")
    at = start.in_timezone("UTC")
    assert dag.following_schedule(at).isoformat() == "2018-10-28T01:00:00+00:00"  # 02:00+01:00 local
    assert dag.previous_schedule(at).isoformat() == "2018-10-28T00:50:00+00:00"  # 02:50+02:00 local
