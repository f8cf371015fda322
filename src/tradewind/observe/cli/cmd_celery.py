"""``tradewind celery worker`` and ``tradewind celery status`` (CeleryExecutor)."""

from __future__ import annotations

import logging
import socket
from typing import Any

import click

from tradewind.observe.cli.common import CliContext, CliError, output_option, pass_cli, render


@click.group("celery")
def celery_group() -> None:
    """Run and inspect Celery workers ([core] executor = celery)."""


@celery_group.command("worker")
@click.option("-q", "--queues", default=None,
              help="Comma-separated queues to take tries from (default: [celery] default_queue).")
@click.option("-c", "--concurrency", type=click.IntRange(min=1), default=None,
              help="Tries run at once (default: [celery] worker_concurrency).")
@click.option("-H", "--hostname", default=None,
              help="Name of this worker, shown as the task instances' hostname (default: this host's name).")
@pass_cli
def worker_command(cli: CliContext, queues: str | None, concurrency: int | None, hostname: str | None) -> None:
    """Take tries from the broker and run each in a forked child of a warm fork server.

    The worker needs no database: its tries talk to the API server's execution endpoints
    ([core] execution_api_server_url) with a token scoped to each try. The DAGs folder must be
    at the same path as on the scheduler. SIGTERM or Ctrl-C stops taking work and lets running
    tries finish.

    \b
    Example:
      tradewind celery worker --queues default,gpu --concurrency 8 --hostname worker-1
    """
    from tradewind.execute import celery_app
    from tradewind.execute.celery_worker import CeleryWorker

    config = cli.config
    names = [q.strip() for q in (queues or celery_app.default_queue(config)).split(",") if q.strip()]
    if not names:
        raise click.BadParameter("names no queue", param_hint="--queues")
    slots = concurrency if concurrency is not None else config.getint("celery", "worker_concurrency")
    name = hostname or config.get("core", "hostname", "") or socket.gethostname()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        worker = CeleryWorker(config, hostname=name, queues=names, concurrency=slots)
        worker.check()
    except (ValueError, celery_app.CeleryUnavailable) as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - Redis errors: one readable line
        raise CliError(
            f"cannot reach Redis at [celery] broker_url = {celery_app.redact_url(celery_app.broker_url(config))}: {exc}"
        ) from None
    click.echo(f"Tradewind celery worker {name}: queues {', '.join(names)}, concurrency {slots}, "
               f"broker {celery_app.redact_url(celery_app.broker_url(config))}")
    worker.run()
    if worker.failure:
        raise CliError(worker.failure)
    click.echo(f"Celery worker {name} stopped.")


def worker_rows(cli: CliContext) -> list[dict[str, Any]]:
    """Live workers from the Redis registry; CliError naming the broker when it cannot be read."""
    from tradewind.execute import celery_app

    config = cli.config
    try:
        return celery_app.live_workers(celery_app.redis_client(config))
    except celery_app.CeleryUnavailable as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - Redis errors: one readable line
        raise CliError(
            f"cannot read the worker registry at [celery] broker_url = "
            f"{celery_app.redact_url(celery_app.broker_url(config))}: {exc}"
        ) from None


def _running_text(entry: dict[str, Any]) -> str:
    mi = "" if entry.get("map_index", -1) < 0 else f"[{entry['map_index']}]"
    return f"{entry['dag_id']}.{entry['task_id']}{mi} {entry['run_id']} try {entry['try_number']}"


@celery_group.command("status")
@output_option
@pass_cli
def status_command(cli: CliContext, output: str) -> None:
    """List live Celery workers (by their heartbeat in the broker) and the tries each runs.

    \b
    Example:
      tradewind celery status --output json
    """
    workers = worker_rows(cli)
    if output.lower() == "json":
        import json

        click.echo(json.dumps(workers, indent=2))
        return
    rows = [
        {**w, "running": len(w.get("running", [])),
         "tries": [_running_text(r) for r in w.get("running", [])]}
        for w in workers
    ]
    if not rows:
        click.echo("No live Celery workers.")
        return
    render(rows, ["hostname", "queues", "concurrency", "running", "tries", "pid", "started", "heartbeat"], output)
