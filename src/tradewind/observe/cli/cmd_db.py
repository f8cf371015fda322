"""``tradewind db``: migrate, check and reset the metadata database."""

from __future__ import annotations

import click

from tradewind.observe.cli.common import CliContext, CliError, confirm_or_abort, console, pass_cli


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
    """Migrate, check or reset the metadata database."""


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
