"""``tradewind db``: migrate, check and reset the metadata database; clean old history (and its archives)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from tradewind.observe.cli.common import (
    DATETIME,
    CliContext,
    CliError,
    audit,
    confirm_or_abort,
    console,
    echo_err,
    output_option,
    pass_cli,
    render,
)


def _pending_steps(db: object) -> int:
    """How many migration steps an upgrade would apply (for the progress bar's total)."""
    from alembic.script import ScriptDirectory

    from tradewind.persist import migrate

    current = migrate.current_revision(db)  # type: ignore[arg-type]
    head = migrate.head_revision()
    if current == head:
        return 0
    script = ScriptDirectory(str(migrate.MIGRATIONS_DIR))
    try:
        return sum(1 for _ in script.iterate_revisions(head, current or "base"))
    except Exception:  # an unknown revision: let upgrade report it
        return 0


def run_migrations(cli: CliContext, *, reset: bool = False, quiet: bool = False) -> None:
    """Upgrade (or reset) the database, showing each applied step on a Rich progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from tradewind.persist import migrate

    db = cli.db
    total = None if reset else _pending_steps(db)
    slots = cli.config.getint("core", "default_pool_slots")
    if total == 0:
        migrate.upgrade(db, default_pool_slots=slots)  # still makes sure default_pool exists
        if not quiet:
            click.echo(f"Database is already up to date ({cli.config.database_url}).")
        return
    columns = (TextColumn("[bold]Migrating[/bold] {task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console(stderr=True), transient=quiet) as progress:
        task = progress.add_task("", total=total)

        def on_step(description: str) -> None:
            progress.update(task, advance=1, description=description)

        if reset:
            migrate.reset(db, progress=on_step, default_pool_slots=slots)
        else:
            migrate.upgrade(db, progress=on_step, default_pool_slots=slots)
        progress.update(task, total=progress.tasks[0].completed or 1, completed=progress.tasks[0].completed or 1)
    if not quiet:
        click.echo(f"Database migrated to revision {migrate.head_revision()} ({cli.config.database_url}).")


@click.group("db")
def db_group() -> None:
    """Migrate, check or reset the metadata database; purge old history (`db clean`)."""


@db_group.command("migrate")
@pass_cli
def db_migrate(cli: CliContext) -> None:
    """Create or upgrade the schema to the newest revision (safe to run again).

    \b
    Example:
      tradewind db migrate
    """
    run_migrations(cli)


def _airflow_alias(name: str, what: str) -> None:
    """Register ``tradewind db <name>``: Airflow 2's verb, which runs ``tradewind db migrate``."""

    @db_group.command(name, help=f"Airflow 2's name for {what} the schema: the same as `tradewind db migrate`."
                                 f"\n\n\b\nExample:\n  tradewind db {name}")
    @pass_cli
    def alias(cli: CliContext) -> None:
        click.echo(f"Note: `db {name}` is Airflow 2's name; it runs `tradewind db migrate`.", err=True)
        run_migrations(cli)


_airflow_alias("init", "creating")
_airflow_alias("upgrade", "upgrading")


@db_group.command("check")
@pass_cli
def db_check(cli: CliContext) -> None:
    """Exit 0 when the schema is current, else exit 1 saying what is wrong.

    \b
    Example:
      tradewind db check && echo ready
    """
    from tradewind.persist import migrate

    problem = migrate.check(cli.db)
    if problem:
        raise CliError(problem)
    click.echo(f"Database is up to date at revision {migrate.head_revision()} ({cli.config.database_url}).")


@db_group.command("reset")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_cli
def db_reset(cli: CliContext, yes: bool) -> None:
    """Drop ALL data and tables, then migrate to a fresh, empty schema.

    \b
    Example:
      tradewind db reset --yes
    """
    confirm_or_abort(f"This deletes all data in {cli.config.database_url}. Continue?", yes)
    run_migrations(cli, reset=True)


# ------------------------------------------------------------------- clean and its archives
def _table_names(value: str | None, param: str) -> list[str]:
    """``--tables a,b`` checked against the cleanable tables (a usage error lists the valid ones)."""
    from tradewind.persist import cleanup

    try:
        return cleanup.resolve_tables(value.split(",") if value else None)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=param) from None


@db_group.command("clean")
@click.option("--clean-before-timestamp", "before", required=True, type=DATETIME, metavar="TIMESTAMP",
              help="Remove rows older than this (UTC when no offset is given), e.g. 2024-01-01 or "
                   "'2024-01-01 00:00:00+01:00'.")
@click.option("--tables", "-t", default=None, metavar="T1,T2",
              help="Comma-separated tables to clean (default: all cleanable tables).")
@click.option("--dry-run", is_flag=True, help="Only count the rows that would be removed; change nothing.")
@click.option("--skip-archive", is_flag=True, help="Do not copy removed rows to _tradewind_deleted__* tables.")
@click.option("--verbose", "-v", "verbose", is_flag=True, help="Print each batch as it is committed.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=1000, show_default=True,
              help="Rows removed per transaction (with what goes with them).")
@output_option
@pass_cli
def db_clean(cli: CliContext, before: datetime, tables: str | None, dry_run: bool, skip_archive: bool,
             verbose: bool, yes: bool, batch_size: int, output: str) -> None:
    """Purge history older than a timestamp, as Airflow's `db clean` does.

    Rows are first copied to archive tables `_tradewind_deleted__<table>__<YYYYMMDDHHMMSS>`
    (unless --skip-archive); see `db export-archived` and `db drop-archived`. The latest
    non-manual run of each DAG, unfinished runs and everything of them are always kept.

    \b
    Cleanable tables (with the column their age is read from):
      dag_run (start_date), task_instance (start_date), task_instance_try (start_date),
      xcom (timestamp), task_reschedule (start_date), task_state_store (expires_at),
      asset_event (timestamp), backfill (completed_at), trigger (created_date),
      job (latest_heartbeat), log (dttm), import_error (timestamp),
      dag_version (created_at), dag_code (created_at)

    \b
    Examples:
      tradewind db clean --clean-before-timestamp 2024-01-01 --dry-run
      tradewind db clean --clean-before-timestamp 2024-01-01 -t xcom,log --yes
    """
    from tradewind.persist import cleanup
    from tradewind.persist.db import utcnow

    now = utcnow()
    if before > now:
        raise click.BadParameter(f"{before.isoformat()} is in the future (now is {now.isoformat()}); "
                                 f"give a time in the past", param_hint="--clean-before-timestamp")
    names = _table_names(tables, "--tables")
    db = cli.migrated_db()
    counts = cleanup.count_rows(db.engine, names, before)
    if dry_run:
        echo_err(f"Dry run: nothing was changed. Rows older than {before.isoformat()} that would be removed "
                 f"(not counting the rows that go with them):")
        render([{"table": n, "rows": c} for n, c in counts.items()], ["table", "rows"], output)
        return
    if not any(counts.values()):
        echo_err(f"Nothing older than {before.isoformat()} to clean in {', '.join(names)}.")
        return
    where = "deleted without an archive" if skip_archive else "moved to _tradewind_deleted__* archive tables"
    confirm_or_abort(f"{sum(counts.values())} rows older than {before.isoformat()} in {', '.join(names)} "
                     f"(and the rows that go with them) will be {where}. Continue?", yes)
    result = _clean_with_progress(db, names, counts, before, now, batch_size=batch_size,
                                  archive=not skip_archive, verbose=verbose)
    with db.session_scope() as session:
        audit(session, "db.clean", extra={"before": before, "tables": names, "deleted": result.deleted,
                                          "archived": not skip_archive})
    archives = {name.split("__")[-2]: name for name in result.archives}
    # The tables asked for, and the others only where rows went with theirs.
    shown = list(names) + sorted(t for t, n in result.deleted.items() if n and t not in names)
    rows = [{"table": t, "deleted": result.deleted.get(t, 0), "archive": archives.get(t)} for t in shown]
    render(rows, ["table", "deleted", "archive"], output)


def _clean_with_progress(db: object, names: list[str], counts: dict[str, int], before: datetime, now: datetime,
                         *, batch_size: int, archive: bool, verbose: bool) -> object:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from tradewind.persist import cleanup

    columns = (TextColumn("[bold]Cleaning[/bold] {task.description:<18}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console(stderr=True)) as progress:
        bars = {n: progress.add_task(n, total=counts[n]) for n in names if counts[n]}

        def on_batch(table: str, rows: int) -> None:
            if table not in bars:  # a table emptied only by an earlier one (dag_version after runs)
                bars[table] = progress.add_task(table, total=None)
            progress.advance(bars[table], rows)
            if verbose:
                progress.console.log(f"{table}: removed a batch of {rows} rows")

        result = cleanup.clean(db.engine, names, before, now=now, batch_size=batch_size,  # type: ignore[attr-defined]
                               archive=archive, on_batch=on_batch)
        for task in progress.tasks:
            progress.update(task.id, total=task.completed)
    return result


def _find_archives(cli: CliContext, tables: str | None) -> list:
    from tradewind.persist import cleanup

    db = cli.migrated_db()
    try:
        return cleanup.list_archives(db.engine, tables.split(",") if tables else None)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--tables") from None


@db_group.command("export-archived")
@click.option("--output-path", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write one file per archive table to (created if missing).")
@click.option("--export-format", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--tables", "-t", default=None, metavar="T1,T2", help="Only the archives of these source tables.")
@click.option("--drop-archives", is_flag=True, help="Drop each archive table once it is written.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before dropping (with --drop-archives).")
@pass_cli
def db_export_archived(cli: CliContext, output_path: Path, export_format: str, tables: str | None,
                       drop_archives: bool, yes: bool) -> None:
    """Write the archive tables `db clean` made to files (one per table).

    \b
    Example:
      tradewind db export-archived --output-path /backups/tw --export-format json --drop-archives -y
    """
    from tradewind.persist import cleanup

    found = _find_archives(cli, tables)
    if not found:
        echo_err("No archive tables to export.")
        return
    if drop_archives:
        confirm_or_abort(f"Drop {len(found)} archive table(s) once exported?", yes)
    try:
        output_path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create --output-path {output_path}: {exc.strerror}") from None
    db = cli.db
    for item in found:
        path = cleanup.export_archive(db.engine, item, output_path, export_format)
        click.echo(f"Exported {item.name} to {path}")
        if drop_archives:
            cleanup.drop_archives(db.engine, [item])
            click.echo(f"Dropped {item.name}")


@db_group.command("drop-archived")
@click.option("--tables", "-t", default=None, metavar="T1,T2", help="Only the archives of these source tables.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_cli
def db_drop_archived(cli: CliContext, tables: str | None, yes: bool) -> None:
    """Drop the archive tables `db clean` made (export them first with `db export-archived`).

    \b
    Example:
      tradewind db drop-archived -t xcom --yes
    """
    from tradewind.persist import cleanup

    found = _find_archives(cli, tables)
    if not found:
        echo_err("No archive tables to drop.")
        return
    confirm_or_abort(f"Drop {len(found)} archive table(s): {', '.join(a.name for a in found)}?", yes)
    for name in cleanup.drop_archives(cli.db.engine, found):
        click.echo(f"Dropped {name}")
