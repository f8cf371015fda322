"""``tradewind jobs check``: is a scheduler / triggerer / DAG processor / Celery worker alive?

Airflow's verb and flags, for container health checks: exit 0 when a live job matches, exit 1
with "No alive jobs found." otherwise. Schedulers, triggerers and DAG processors are ``job`` rows
whose heartbeat is within their health-check threshold; Celery workers are the live entries of
the worker registry in the broker (they have no database access).

A live job is not enough: if a matched job reports problems with its heartbeat (a helper it
supervises, such as the scheduler's DAG processor child or its fork server, is down or
crash-looping), the check fails too, with one line naming them.
"""

from __future__ import annotations

import socket
from typing import Any

import click

from tradewind.observe.cli.common import CliContext, CliError, pass_cli

#: Accepted ``--job-type`` spellings (ours and Airflow's class names) -> job type.
JOB_TYPES = {
    "scheduler": "scheduler",
    "schedulerjob": "scheduler",
    "triggerer": "triggerer",
    "triggererjob": "triggerer",
    "dag_processor": "dag_processor",
    "dagprocessor": "dag_processor",
    "dagprocessorjob": "dag_processor",
    "dag-processor": "dag_processor",
    "worker": "worker",
}

#: Job types kept in the database, checked when no --job-type is given.
_DB_JOB_TYPES = ("scheduler", "triggerer", "dag_processor")


class _JobType(click.Choice):
    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        found = JOB_TYPES.get(str(value).strip().lower())
        if found is None:
            self.fail(f"{value!r} is not one of {', '.join(self.choices)}", param, ctx)
        return found


@click.group("jobs")
def jobs_group() -> None:
    """Check the liveness of schedulers, triggerers, DAG processors and Celery workers."""


@jobs_group.command("check")
@click.option("--job-type", type=_JobType(["scheduler", "triggerer", "dag_processor", "worker"]), default=None,
              help="Only this kind of job (Airflow's SchedulerJob/TriggererJob/DagProcessorJob also accepted).")
@click.option("--hostname", default=None, help="Only jobs running on this host (worker: this worker name).")
@click.option("--limit", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many live jobs to look at.")
@click.option("--allow-multiple", is_flag=True, help="More than one live job is fine (needs --limit > 1).")
@click.option("--local", is_flag=True, help="Only jobs running on this host.")
@pass_cli
def check_command(cli: CliContext, job_type: str | None, hostname: str | None, limit: int,
                  allow_multiple: bool, local: bool) -> None:
    """Exit 0 if a live job matches, 1 with "No alive jobs found." if none does.

    Without --allow-multiple, more than one live match is an error too (exit 1). A matched job
    that reports problems (a helper it supervises is down or crash-looping) fails the check
    with a line naming them (exit 1).

    \b
    Examples:
      tradewind jobs check --job-type scheduler
      tradewind jobs check --job-type dag_processor
      tradewind jobs check --job-type worker --hostname worker-1
      tradewind jobs check --job-type scheduler --local --limit 10 --allow-multiple
    """
    if allow_multiple and limit <= 1:
        raise CliError("--allow-multiple needs --limit greater than 1")
    if local and hostname:
        raise CliError("--hostname and --local cannot be used together")
    if local:
        hostname = cli.config.get("core", "hostname", "") or socket.gethostname()
    found: list[tuple[str, list[str]]] = []
    if job_type in (None, "worker") and (job_type == "worker" or _celery_configured(cli)):
        from tradewind.observe.cli.cmd_celery import worker_rows

        found += [(f"worker {w['hostname']}", []) for w in worker_rows(cli)
                  if hostname is None or w.get("hostname") == hostname]
    if job_type != "worker":
        found += _db_jobs(cli, job_type, hostname, limit)
    found = found[:limit]
    if not found:
        raise CliError("No alive jobs found.")
    if len(found) > 1 and not allow_multiple:
        raise CliError(f"Found {len(found)} alive jobs ({', '.join(name for name, _ in found)}). Expected only one.")
    troubled = [f"{name} reports: {'; '.join(problems)}" for name, problems in found if problems]
    if troubled:
        raise CliError(f"Alive but unhealthy: {' | '.join(troubled)}")
    click.echo("Found one alive job." if len(found) == 1 else f"Found {len(found)} alive jobs.")


def _celery_configured(cli: CliContext) -> bool:
    return "celery" in cli.config.get("core", "executor").lower()


def _db_jobs(cli: CliContext, job_type: str | None, hostname: str | None,
             limit: int) -> list[tuple[str, list[str]]]:
    """Running job rows that heartbeated within their type's health-check threshold, each with
    the problems it reported."""
    from tradewind.persist.db import utcnow
    from tradewind.persist.queries import jobs as job_queries

    now = utcnow()
    db = cli.migrated_db()
    out: list[tuple[str, list[str]]] = []
    with db.session_scope() as session:
        for kind in [job_type] if job_type else _DB_JOB_TYPES:
            grace = job_queries.health_check_threshold(cli.config, kind)
            out += [(f"{job.job_type} {job.hostname} pid {job.pid}", job_queries.job_problems(job))
                    for job in job_queries.alive_jobs(session, [kind], now, grace, hostname=hostname, limit=limit)]
    return out
