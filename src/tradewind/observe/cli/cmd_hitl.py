"""``tradewind tasks required-actions`` and ``tradewind tasks respond``: human-in-the-loop from a shell.

Airflow 3.1 answers HITL requests in the UI ("Required Actions") and the REST API; Airflow's
CLIs have no command for it, so these names follow the UI's. Both go through the same layers
as the API: the list reads ``hitl_detail``; ``respond`` calls :func:`tradewind.schedule.hitl.respond`
(the answer resumes the task at once) and wakes the scheduler.
"""

from __future__ import annotations

from typing import Any

import click

from tradewind.observe.cli.common import CliContext, CliError, audit, cli_user, iso, output_option, pass_cli, render

COLUMNS = ["dag_id", "run_id", "task_id", "map_index", "try_number", "subject", "options", "defaults",
           "multiple", "pending", "timeout_at", "responded_by", "chosen_options"]


def _parse_params(items: tuple[str, ...], as_json: str | None) -> dict[str, Any]:
    import json

    values: dict[str, Any] = {}
    if as_json:
        try:
            loaded = json.loads(as_json)
        except json.JSONDecodeError as exc:
            raise CliError(f"--params-json is not JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise CliError("--params-json must be a JSON object of param name -> value")
        values.update(loaded)
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise CliError(f"--param takes NAME=VALUE, got {item!r}")
        try:
            values[name] = json.loads(raw)  # numbers, booleans, lists... as JSON; else the text itself
        except json.JSONDecodeError:
            values[name] = raw
    return values


@click.command("required-actions")
@click.option("--dag-id", "-d", default=None, help="Only requests of this DAG.")
@click.option("--run-id", "-r", default=None, help="Only requests of this run.")
@click.option("--pending/--all", default=False, help="Only requests still waiting for an answer (default: all).")
@output_option
@pass_cli
def tasks_required_actions(cli: CliContext, dag_id: str | None, run_id: str | None, pending: bool,
                           output: str) -> None:
    """List human-in-the-loop requests (the UI's "Required Actions"), newest last.

    \b
    Examples:
      tradewind tasks required-actions --pending
      tradewind tasks required-actions -d my_dag -o json
    """
    from tradewind.persist.queries import hitl as hitl_queries

    db = cli.migrated_db()
    f = hitl_queries.HITLFilter(dag_id=dag_id, run_id=run_id, pending=True if pending else None)
    with db.read_scope() as session:
        rows, _ = hitl_queries.list_requests(session, f, limit=10_000)
        out = [{
            "dag_id": r.detail.dag_id, "run_id": r.detail.run_id, "task_id": r.detail.task_id,
            "map_index": r.detail.map_index, "try_number": r.detail.try_number, "subject": r.detail.subject,
            "options": r.detail.options, "defaults": r.detail.defaults, "multiple": r.detail.multiple,
            "pending": r.pending, "timeout_at": iso(r.detail.timeout_at),
            "responded_by": r.detail.responded_by_user_name, "chosen_options": r.detail.chosen_options,
        } for r in rows]
    render(out, COLUMNS, output, title="human-in-the-loop requests")


@click.command("respond")
@click.argument("dag_id")
@click.argument("run_id")
@click.argument("task_id")
@click.option("--option", "options", multiple=True, required=True,
              help="An option to choose (repeat for several when the request allows multiple).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A form value (VALUE read as JSON when it is, else as text); repeatable.")
@click.option("--params-json", default=None, help="The form values as one JSON object.")
@click.option("--map-index", type=int, default=-1, show_default=True, help="The instance of a mapped task.")
@click.option("--user", default=None, help="Who answers (checked against the request's assigned users); "
                                            "default: your login name.")
@pass_cli
def tasks_respond(cli: CliContext, dag_id: str, run_id: str, task_id: str, options: tuple[str, ...],
                  params: tuple[str, ...], params_json: str | None, map_index: int, user: str | None) -> None:
    """Answer the human-in-the-loop request of a waiting task; the task resumes with the answer.

    \b
    Examples:
      tradewind tasks respond my_dag manual__2025-01-01T00:00:00+00:00 approve --option Approve
      tradewind tasks respond my_dag RUN_ID pick --option a --option b --param note="looks fine"
    """
    from tradewind.persist.db import utcnow
    from tradewind.schedule import hitl as hitl_action
    from tradewind.schedule.wakeup import notify_scheduler

    params_input = _parse_params(params, params_json)
    name = user or cli_user()
    db = cli.migrated_db()
    try:
        with db.session_scope() as session:
            detail = hitl_action.respond(session, dag_id, run_id, task_id, map_index, chosen_options=list(options),
                                         params_input=params_input, user={"id": name, "name": name}, now=utcnow())
            audit(session, "hitl_response", dag_id=dag_id, task_id=task_id, run_id=run_id,
                  extra={"chosen_options": detail.chosen_options, "map_index": map_index, "user": name})
            chosen = detail.chosen_options
    except hitl_action.HITLError as exc:
        raise CliError(str(exc)) from None
    notify_scheduler(db)  # the resumed task is scheduled: run it now
    click.echo(f"Responded {chosen} to {task_id!r} of run {run_id!r} of DAG {dag_id!r} as {name!r}; the task resumes.")
