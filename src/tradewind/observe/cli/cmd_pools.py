"""``tradewind pools``: list, create/update, delete, import and export pools (Airflow's files)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tradewind.observe.cli.airflow_files import airflow_pools, pools_from_file, write_output
from tradewind.observe.cli.common import CliContext, CliError, audit, output_option, pass_cli, render

POOL_COLUMNS = ["pool", "slots", "running", "queued", "open_slots", "description"]


@click.group("pools")
def pools_group() -> None:
    """Manage pools (named slot budgets limiting concurrent task instances)."""


@pools_group.command("list")
@output_option
@pass_cli
def pools_list(cli: CliContext, output: str) -> None:
    """List pools with their running, queued and open slots.

    \b
    Example:
      tradewind pools list -o json
    """
    from tradewind.persist.queries.pools import list_pools_with_usage

    with cli.migrated_db().session_scope() as session:
        usages = list_pools_with_usage(session)
    rows = [
        {
            "pool": u.pool,
            "slots": u.slots,
            "running": u.running,
            "queued": u.queued,
            "open_slots": u.open_slots,
            "description": u.description,
        }
        for u in usages
    ]
    render(rows, POOL_COLUMNS, output)


@pools_group.command("set")
@click.argument("name")
@click.argument("slots", type=click.IntRange(min=0))
@click.argument("description")
@pass_cli
def pools_set(cli: CliContext, name: str, slots: int, description: str) -> None:
    """Create or update pool NAME with SLOTS slots and a DESCRIPTION.

    \b
    Example:
      tradewind pools set gpu 2 "The two GPUs"
    """
    from tradewind.persist.queries.pools import PoolError, set_pool

    try:
        with cli.migrated_db().session_scope() as session:
            set_pool(session, name, slots, description)
            audit(session, "pool.set", extra={"pool": name, "slots": slots})
    except PoolError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"Pool {name} set: {slots} slots.")


@pools_group.command("delete")
@click.argument("name")
@pass_cli
def pools_delete(cli: CliContext, name: str) -> None:
    """Delete pool NAME (default_pool cannot be deleted).

    \b
    Example:
      tradewind pools delete gpu
    """
    from tradewind.persist.queries.pools import PoolError, delete_pool

    try:
        with cli.migrated_db().session_scope() as session:
            deleted = delete_pool(session, name)
            if deleted:
                audit(session, "pool.delete", extra={"pool": name})
    except PoolError as exc:
        raise CliError(str(exc)) from None
    if not deleted:
        raise CliError(f"pool {name!r} does not exist (see `tradewind pools list`)")
    click.echo(f"Pool {name} deleted.")


@pools_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_cli
def pools_import(cli: CliContext, file: Path) -> None:
    """Create or update the pools of FILE, as `airflow pools export` writes it (Airflow 2 or 3).

    JSON {"name": {"slots": N, "description": "...", "include_deferred": false}, ...}; existing
    pools are updated, as in Airflow. The whole file is checked first: a bad entry is an error naming
    the file, the pool and the field, and nothing is imported.

    \b
    Example:
      tradewind pools import pools.json
    """
    from tradewind.persist.queries.pools import PoolError, set_pool

    pools = pools_from_file(file)
    try:
        with cli.migrated_db().session_scope() as session:
            for name, (slots, description) in pools.items():
                set_pool(session, name, slots, description)
            audit(session, "pool.import", extra={"file": str(file), "count": len(pools)})
    except PoolError as exc:
        raise CliError(f"{file}: {exc}; nothing imported") from None
    click.echo(f"Uploaded {len(pools)} pool(s) from {file}.")


@pools_group.command("export")
@click.argument("file")
@pass_cli
def pools_export(cli: CliContext, file: str) -> None:
    """Export every pool to a JSON FILE ('-' for standard output) that `airflow pools import` reads.

    \b
    Example:
      tradewind pools export pools.json
    """
    from tradewind.persist.queries.pools import list_pools

    with cli.migrated_db().session_scope() as session:
        data = airflow_pools(list_pools(session))
    write_output(file, json.dumps(data, indent=4, sort_keys=True) + "\n")
    if file != "-":
        click.echo(f"Exported {len(data)} pools to {file}.")
