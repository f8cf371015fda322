"""The ``tradewind_sim`` fixture (pytest plugin): DAGs run in-process under a simulated clock."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone

import pytest

from tradewind import DAG, BashOperator, PythonOperator, task
from tradewind.definition.timezone import utcnow
from tradewind.testing import SimulationError

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=timezone.utc)
pytestmark = pytest.mark.tradewind_sim(start="2024-03-01T08:00")


def _pipeline(dag_id: str = "pipeline", **dag_kwargs) -> DAG:
    with DAG(dag_id, schedule=None, start_date=datetime(2024, 1, 1), **dag_kwargs) as dag:
        @task
        def extract() -> list[int]:
            print("extracting three rows")
            return [1, 2, 3]

        @task
        def total(rows: list[int]) -> int:
            return sum(rows)

        skip = BashOperator(task_id="skip_me", bash_command="exit 99")
        total(extract()) >> skip
    return dag


def test_run_records_states_xcoms_and_logs(tradewind_sim):
    result = tradewind_sim.run(_pipeline(), logical_date="2024-02-29")
    assert result.run_state == "success" and result.succeeded
    assert result.states() == {"extract": "success", "total": "success", "skip_me": "skipped"}
    assert result.xcom("extract") == [1, 2, 3] and result.xcom("total") == 6
    assert "extracting three rows" in result.log("extract")
    assert result.logical_date == datetime(2024, 2, 29, tzinfo=timezone.utc)
    assert result.created_at == T0  # on the simulated clock


def test_the_simulated_clock_drives_task_side_time_and_jumps_over_retry_delays(tradewind_sim):
    calls = []

    def flaky() -> str:
        calls.append(utcnow())
        if len(calls) == 1:
            raise RuntimeError("first try fails")
        return utcnow().isoformat()

    with DAG("flaky", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        PythonOperator(task_id="flaky", python_callable=flaky, retries=1, retry_delay=timedelta(minutes=10))
    result = tradewind_sim.run(dag)
    assert result.state("flaky") == "success" and result.try_number("flaky") == 2
    assert calls[0] == T0 and calls[1] >= T0 + timedelta(minutes=10)
    assert result.xcom("flaky") == calls[1].isoformat()
    assert "first try fails" in result.log("flaky", try_number=1)
    assert tradewind_sim.now >= T0 + timedelta(minutes=10)  # no real waiting happened


def test_failure_is_reported_not_raised(tradewind_sim):
    with DAG("broken", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        BashOperator(task_id="boom", bash_command="echo going down; exit 3") >> BashOperator(task_id="after", bash_command="true")
    result = tradewind_sim.run(dag)
    assert result.run_state == "failed"
    assert result.states() == {"boom": "failed", "after": "upstream_failed"}
    assert "going down" in result.log("boom")


def test_mapped_task_states_per_map_index(tradewind_sim):
    with DAG("mapped", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        @task
        def double(x: int) -> int:
            return 2 * x

        double.expand(x=[1, 2, 3])
    result = tradewind_sim.run(dag)
    assert result.map_states("double") == {0: "success", 1: "success", 2: "success"}
    assert [result.xcom("double", map_index=i) for i in range(3)] == [2, 4, 6]
    assert result.state("double", map_index=1) == "success"


def test_run_schedule_creates_runs_on_the_simulated_schedule(tradewind_sim):
    with DAG("hourly", schedule="@hourly", start_date=datetime(2024, 3, 1), missed_runs="latest",
             is_paused_upon_creation=True) as dag:
        PythonOperator(task_id="stamp", python_callable=lambda data_interval_end=None: str(data_interval_end))
    created = tradewind_sim.run_schedule(dag, until=T0 + timedelta(hours=3))
    # 'latest': of the missed hours since midnight only 07:00-08:00 runs, then each hour on time.
    assert [r.logical_date for r in created] == [T0 + timedelta(hours=h) for h in (-1, 0, 1, 2)]
    assert [r.created_at for r in created] == [T0 + timedelta(hours=h) for h in (0, 1, 2, 3)]
    assert all(r.succeeded for r in created)
    assert created[0].xcom("stamp") == str(T0)
    assert tradewind_sim.now == T0 + timedelta(hours=3)

    later = tradewind_sim.advance(hours=2)  # time goes on; the DAG stays scheduled
    assert [r.logical_date for r in later] == [T0 + timedelta(hours=3), T0 + timedelta(hours=4)]
    assert len(tradewind_sim.runs("hourly")) == 6


def test_a_dag_file_path(tradewind_sim, tmp_path):
    path = tmp_path / "file_dag.py"
    path.write_text(textwrap.dedent('''
        from datetime import datetime
        from tradewind import DAG, task

        with DAG("from_file", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            @task
            def hello() -> str:
                return "hello from a file"

            hello()
    '''))
    assert tradewind_sim.run(path).xcom("hello") == "hello from a file"
    with pytest.raises(SimulationError, match=r"defines DAGs \['from_file'\]; pass dag_id="):
        tradewind_sim.run(path, dag_id="other")


def test_bad_requests_are_clear_errors(tradewind_sim):
    with pytest.raises(SimulationError, match="only moves forward"):
        tradewind_sim.advance_to(T0 - timedelta(hours=1))
    with pytest.raises(SimulationError, match="expected a tradewind DAG or a DAG file path"):
        tradewind_sim.run(42)
    result = tradewind_sim.run(_pipeline("lookup"))
    with pytest.raises(SimulationError, match=r"has no task 'nope' \(tasks: \['extract', 'skip_me', 'total'\]\)"):
        result.state("nope")


def test_the_real_clock_is_back_after_the_test():
    assert abs(utcnow() - datetime.now(timezone.utc)) < timedelta(minutes=1)
