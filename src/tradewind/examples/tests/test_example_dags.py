"""Testing DAGs with Tradewind's pytest plugin, on the example DAGs that ship with Tradewind.

Run them with ``pytest --pyargs tradewind.examples.tests`` (or point pytest at this file). The
``tradewind_sim`` fixture comes with Tradewind (no conftest needed): it runs DAGs in this
process with the real scheduler and task runner, on a simulated clock that starts where
``@pytest.mark.tradewind_sim(start=...)`` says. Copy these tests as a starting point for your
own DAGs: pass a DAG object, or the path of a DAG file.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import tradewind.examples

DAGS = Path(tradewind.examples.__file__).parent / "dags"
NOON = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.tradewind_sim(start="2024-03-05T10:00")
def test_hello_greets_with_what_the_python_task_returned(tradewind_sim):
    result = tradewind_sim.run(DAGS / "example_hello.py")  # one manual run, like `tradewind dags test`
    assert result.succeeded
    assert result.states() == {"print_date": "success", "python_operator": "success", "greet": "success"}
    assert result.xcom("python_operator") == "Hello Tradewind"
    assert result.xcom("greet") == "HELLO TRADEWIND"
    assert "python_operator said: Hello Tradewind" in result.log("greet")


@pytest.mark.tradewind_sim(start="2024-03-01T12:30")
def test_missed_runs_catches_up_six_hours_then_runs_every_hour(tradewind_sim):
    # The DAG starts on 2024-01-01, so at 12:30 on March 1st two months of hours were "missed":
    # only the runs due in the last six hours (07:00 to 12:00) are created at once.
    runs = tradewind_sim.run_schedule(DAGS / "example_missed_runs.py", until=NOON + timedelta(hours=3))
    starts = [r.data_interval[0] for r in runs]
    assert starts == [NOON + timedelta(hours=h) for h in range(-6, 3)]
    assert [r.created_at for r in runs[:6]] == [NOON + timedelta(minutes=30)] * 6  # the catch-up burst
    assert [r.created_at for r in runs[6:]] == [NOON + timedelta(hours=h) for h in (1, 2, 3)]  # then on time
    assert all(r.succeeded for r in runs)
    assert runs[-1].xcom("snapshot") == "2024-03-01 14:00 to 15:00"
