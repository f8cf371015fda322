"""``tradewind dags backfill``: Airflow 2's backfill command line, mapped onto ``backfill create``.

Airflow 2 users type ``airflow dags backfill DAG -s START -e END [--reset-dagruns]
[--rerun-failed-tasks] [-B] [--dry-run] [-c CONF]``. The flags with a Tradewind meaning are
translated to :func:`tradewind.observe.cli.cmd_backfill.backfill_create`'s options; the ones
without one (Airflow 2's local backfill job knobs) are refused by name with the Tradewind way to
get the same result, never silently ignored.
"""

from __future__ import annotations

from datetime import datetime

import click

from tradewind.observe.cli.common import DATETIME, JSON_OBJECT, CliContext, CliError, confirm_or_abort, pass_cli

#: Airflow 2 ``dags backfill`` flags Tradewind refuses: (flag names, takes a value, why / what to do instead).
UNSUPPORTED_FLAGS: list[tuple[tuple[str, ...], bool, str]] = [
    (("-t", "--task-regex"), True,
     "a backfill runs whole DAG runs; backfill, then `tradewind tasks clear DAG -t REGEX -s START -e END`"),
    (("-m", "--mark-success"), False,
     "use `tradewind tasks set-state` or `tradewind dags set-run-state` to mark runs without running them"),
    (("-l", "--local"), False, "the scheduler's executor runs backfill tasks (there is no separate local job)"),
    (("-x", "--donot-pickle"), False, "Tradewind never pickles DAGs; drop the flag"),
    (("-i", "--ignore-dependencies"), False, "backfill runs keep their task dependencies"),
    (("-I", "--ignore-first-depends-on-past"), False, "depends_on_past is honoured in backfill runs"),
    (("--pool",), True, "tasks use the pool their DAG file gives them"),
    (("--delay-on-limit",), True, "the scheduler waits for free run slots itself"),
    (("--continue-on-failures",), False, "a backfill always continues past a failed run"),
    (("--disable-retry",), False, "tasks keep their retries; set retries=0 in the DAG file instead"),
    (("--treat-dag-as-regex", "--treat-dag-id-as-regex"), False, "give one exact DAG id"),
]


def _refuse_unsupported(command: click.Command) -> click.Command:
    """Declare each unsupported flag so that giving it fails with its reason instead of 'no such option'."""
    for names, takes_value, why in UNSUPPORTED_FLAGS:
        def refuse(ctx: click.Context, param: click.Parameter, value: object, why: str = why) -> None:
            if value not in (None, False):
                raise click.UsageError(
                    f"`dags backfill {param.opts[-1]}` (Airflow 2) is not supported by Tradewind: {why}.", ctx=ctx)

        command.params.append(click.Option(
            list(names), is_flag=not takes_value, default=None if takes_value else False, expose_value=False,
            callback=refuse, hidden=True))
    return command


@_refuse_unsupported
@click.command("backfill")
@click.argument("dag_id")
@click.option("-s", "--start-date", type=DATETIME, default=None,
              help="First logical date (default: --end-date).")
@click.option("-e", "--end-date", type=DATETIME, default=None,
              help="Last logical date, inclusive (default: --start-date).")
@click.option("--reset-dagruns", is_flag=True,
              help="Run again dates whose run already finished (backfill create --reprocess-behavior completed).")
@click.option("--rerun-failed-tasks", is_flag=True,
              help="Run again dates whose run failed (backfill create --reprocess-behavior failed).")
@click.option("-B", "--run-backwards", is_flag=True, help="Newest logical date first.")
@click.option("--dry-run", "-n", is_flag=True, help="Print the logical dates and what would happen; write nothing.")
@click.option("-c", "--conf", type=JSON_OBJECT, default=None, help="JSON object given to every run as dag_run.conf.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before --reset-dagruns runs finished dates again.")
@click.option("--wait", is_flag=True, help="Follow the backfill until it completes (1 if a run failed).")
@click.pass_context
@pass_cli
def dags_backfill(cli: CliContext, ctx: click.Context, dag_id: str, start_date: datetime | None,
                  end_date: datetime | None, reset_dagruns: bool, rerun_failed_tasks: bool, run_backwards: bool,
                  dry_run: bool, conf: dict | None, yes: bool, wait: bool) -> None:
    """Airflow 2's `dags backfill`: the same request as `tradewind backfill create`.

    Unlike Airflow 2 the command does not run the tasks itself: it records the backfill
    and the scheduler runs it (add --wait to follow it). Airflow 2 flags without a
    Tradewind meaning (--task-regex, --mark-success, --local, ...) are refused by name.

    \b
    Examples:
      tradewind dags backfill my_dag -s 2024-01-01 -e 2024-01-07
      tradewind dags backfill my_dag -s 2024-01-01 -e 2024-01-07 --rerun-failed-tasks -B
      tradewind dags backfill my_dag -s 2024-01-01 --dry-run
    """
    from tradewind.observe.cli.cmd_backfill import backfill_create

    if start_date is None and end_date is None:
        raise CliError("dags backfill needs -s/--start-date and/or -e/--end-date")
    start_date = start_date or end_date
    end_date = end_date or start_date
    if reset_dagruns:
        behavior = "completed"
    elif rerun_failed_tasks:
        behavior = "failed"
    else:
        behavior = "none"
    if reset_dagruns and not dry_run:
        confirm_or_abort(f"--reset-dagruns runs every date of {dag_id} from {start_date.isoformat()} to "
                         f"{end_date.isoformat()} again, including finished ones. Continue?", yes)
    ctx.invoke(backfill_create, dag_id=dag_id, from_date=start_date, to_date=end_date, reprocess_behavior=behavior,
               run_backwards=run_backwards, dry_run=dry_run, conf=conf, wait=wait)
