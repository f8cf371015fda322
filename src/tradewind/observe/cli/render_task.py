"""``tasks render``: a task's template fields rendered for a logical date, without running it.

The DAG file is imported in this process (as the task runner does); the context
is the one a try would get, for the run at that logical date when it exists,
else for a manual run at that date (data interval from the timetable).
XComArg fields are shown unresolved: nothing ran, so there is nothing to pull.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from tradewind.observe.cli.common import CliContext, CliError
from tradewind.observe.cli.dagrefs import check_task_id, get_dag_ref, sync_dags


def _run_info(session: Any, ref: Any, logical_date: datetime, now: datetime) -> Any:
    from sqlalchemy import select

    from tradewind.execute.prepare import RunInfo
    from tradewind.persist.models import DagRun
    from tradewind.schedule.runs import timetable_of

    run = session.scalars(
        select(DagRun).where(DagRun.dag_id == ref.dag.dag_id, DagRun.logical_date == logical_date)
        .order_by(DagRun.id.desc())
    ).first()
    if run is not None:
        return RunInfo.of(run)
    interval = timetable_of(ref.snapshot).infer_manual_data_interval(run_after=logical_date)
    return RunInfo(
        dag_id=ref.dag.dag_id, run_id=f"manual__{logical_date.isoformat()}", run_type="manual",
        logical_date=logical_date, data_interval_start=interval.start, data_interval_end=interval.end,
        run_after=logical_date, start_date=now, conf={}, external_trigger=True, dag_version_id=ref.version_id,
    )


def render_task_fields(
    cli: CliContext, dag_id: str, task_id: str, logical_date: datetime | None
) -> Iterator[tuple[str, Any]]:
    """Yield ``(field name, rendered value)`` for each template field of the task."""
    from tradewind.definition.templating import make_jinja_env, render_value
    from tradewind.execute.prepare import build_run_context
    from tradewind.observe.runtime import install_variable_backend
    from tradewind.parse.dagbag import DagFileError, load_dags_from_file, output_to_stderr
    from tradewind.persist.db import utcnow

    db = sync_dags(cli, local=True)  # it imports the file anyway: parse it fresh
    install_variable_backend(db)
    now = utcnow()
    when = logical_date or now
    with db.session_scope() as session:
        ref = get_dag_ref(session, dag_id)
        check_task_id(ref.snapshot, task_id)
        run = _run_info(session, ref, when, now)
    try:
        with output_to_stderr():  # what the file prints stays off the rendered fields
            dags = load_dags_from_file(ref.dag.fileloc, sys_path=[str(p) for p in cli.config.dag_folders()])
    except DagFileError as exc:
        raise CliError(str(exc)) from None
    dag = dags.get(dag_id)
    if dag is None or task_id not in dag.task_dict:
        raise CliError(f"DAG {dag_id!r} in {ref.dag.fileloc} has no task {task_id!r}")
    task = dag.task_dict[task_id]
    context = build_run_context(dag, task, None, run, None)
    env = make_jinja_env(dag)
    for name in getattr(task, "template_fields", ()) or ():
        value = getattr(task, name, None)
        yield name, render_value(value, context, env, template_ext=getattr(task, "template_ext", ()) or ())
