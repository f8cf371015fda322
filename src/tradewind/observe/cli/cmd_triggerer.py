"""``tradewind triggerer``: run the triggers of deferred tasks until SIGINT/SIGTERM."""

from __future__ import annotations

import signal
import threading
from typing import Any

import click

from tradewind.observe.cli.common import CliContext, CliError, pass_cli


def run_triggerer(cli: CliContext, capacity: int | None) -> None:
    from tradewind.execute.supervision import run_restarting
    from tradewind.execute.triggerer import TriggererRunner
    from tradewind.observe import runtime
    from tradewind.persist.migrate import revision_problem

    db = runtime.build_database(cli.config)
    problem = revision_problem(db)
    if problem:
        raise CliError(problem)
    try:
        backoff = runtime.helper_backoff(cli.config, "triggerer")
        runner = TriggererRunner(cli.config, db, capacity=capacity, health_probes=[backoff.problem])
    except (ValueError, runtime.RuntimeSetupError) as exc:
        raise CliError(str(exc)) from None
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        click.echo(f"Received {signal.Signals(signum).name}; stopping the triggerer...")
        stop.set()
        runner.wake()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runner.start()
    click.echo(f"Tradewind triggerer (job {runner.job_id}, capacity {runner.capacity}) — press Ctrl-C to stop")
    try:
        # A failing loop (its event loop thread died, the database was unreachable at start) is
        # restarted with backoff, as a new job whose heartbeats say while it is crash-looping.
        run_restarting(runner.run_forever, stop, backoff)
    finally:
        # A signal that came between start() and the first step never ran run_forever, whose exit
        # ends the job: end it here, or the job stays "running" until its heartbeat goes stale.
        if runner.job_id is not None:
            runner.close()
        db.engine.dispose()
    click.echo("Triggerer stopped; its triggers were handed back.")


@click.command("triggerer")
@click.option("--capacity", type=click.IntRange(min=1), default=None,
              help="Most triggers run at once (default: [triggerer] capacity, 1000).")
@pass_cli
def triggerer_command(cli: CliContext, capacity: int | None) -> None:
    """Run the triggers of deferred tasks, all in one asyncio event loop.

    A task that defers (BaseOperator.defer, deferrable sensors) gives its worker slot
    back; this process waits on its trigger and schedules the task again when it fires.
    Run several for capacity or availability: a triggerer whose heartbeat stops has its
    triggers taken over by the others. `tradewind standalone` runs one itself.

    \b
    Example:
      tradewind triggerer --capacity 500
    """
    run_triggerer(cli, capacity)
