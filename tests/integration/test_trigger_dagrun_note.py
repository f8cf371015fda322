"""``TriggerDagRunOperator(note=...)``: the rendered note becomes the triggered run's note (new
runs and runs reset with ``reset_dag_run=True``), read back through the REST API. The
controller DAGs run with the real scheduler and the in-process executor (only the controller's
run is driven: the triggered run stays queued, its note is what is checked)."""

from __future__ import annotations

import textwrap

from api_support import make_api
from dagrun_support import run_dag

from tradewind.definition.operators.trigger_dagrun import TriggerDagRunOperator

TARGET = """
from datetime import datetime
from tradewind import DAG
from tradewind.definition.operators.empty import EmptyOperator

with DAG("note_target", schedule=None, start_date=datetime(2024, 1, 1)):
    EmptyOperator(task_id="work")
"""

CONTROLLER = """
from datetime import datetime
from tradewind import DAG
from tradewind.definition.operators.trigger_dagrun import TriggerDagRunOperator

with DAG("{dag_id}", schedule=None, start_date=datetime(2024, 1, 1)):
    TriggerDagRunOperator(task_id="trigger", trigger_dag_id="note_target", trigger_run_id="noted",
                          {args})
"""


def _controller(config, db, dag_id: str, args: str):
    return run_dag(config, db, dag_id, textwrap.dedent(CONTROLLER).format(dag_id=dag_id, args=args))


def test_rendered_note_reaches_the_new_run_and_a_reset_run(config, db) -> None:
    (config.dags_folder / "note_target.py").write_text(textwrap.dedent(TARGET))
    api = make_api(config, db)

    first = _controller(config, db, "note_ctl", 'note="made by {{ dag.dag_id }} in {{ run_id }}"')
    assert first.state == "success", first.logs
    run = api.get("dags/note_target/dagRuns/noted")
    assert run.status_code == 200, run.text
    assert run.json()["note"] == f"made by note_ctl in {first.run_id}"
    assert run.json()["dag_id"] == "note_target"

    again = _controller(config, db, "note_ctl_reset", 'reset_dag_run=True, note="reset once"')
    assert again.state == "success", again.logs
    assert api.get("dags/note_target/dagRuns/noted").json()["note"] == "reset once"
    assert api.get("/api/v2/dags/note_target/dagRuns/noted").json()["note"] == "reset once"

    kept = _controller(config, db, "note_ctl_plain", "reset_dag_run=True")
    assert kept.state == "success", kept.logs
    assert api.get("dags/note_target/dagRuns/noted").json()["note"] == "reset once"  # no note: left alone


def test_note_is_templated_and_no_longer_reported_as_ignored() -> None:
    op = TriggerDagRunOperator(task_id="t", trigger_dag_id="x", note="n")
    assert "note" in op.template_fields
    assert not any("note" in n for n in op.deprecation_notes)


def test_too_long_note_on_a_reset_fails_the_task_naming_the_note(config, db) -> None:
    (config.dags_folder / "note_target.py").write_text(textwrap.dedent(TARGET))
    assert _controller(config, db, "long_a", "").state == "success"
    result = _controller(config, db, "long_b", 'reset_dag_run=True, note="x" * 1001')
    assert result.state == "failed"
    assert "note" in result.logs["trigger"] and "1000" in result.logs["trigger"]
