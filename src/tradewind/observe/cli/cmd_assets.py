"""``tradewind assets``: list assets, show one, list asset events."""

from __future__ import annotations

import click

from tradewind.observe.cli.common import CliContext, CliError, output_option, pass_cli, render, render_mapping

ASSET_COLUMNS = ["name", "uri", "group", "producing_tasks", "consuming_dags", "last_event", "queued_for"]
EVENT_COLUMNS = ["id", "name", "uri", "timestamp", "source_dag_id", "source_task_id", "source_run_id",
                 "source_map_index", "extra", "source_aliases"]
ALIAS_COLUMNS = ["name", "group", "resolves_to", "consuming_dags"]


@click.group("assets")
def assets_group() -> None:
    """Inspect assets (Airflow's datasets) and their events."""


@assets_group.command("list")
@click.option("--asset", "asset", default=None, metavar="NAME_OR_URI", help="Only this asset (name or uri).")
@output_option
@pass_cli
def assets_list(cli: CliContext, asset: str | None, output: str) -> None:
    """List assets with the tasks that produce them, the DAGs scheduled on them and their last event.

    \b
    Example:
      tradewind assets list -o json
    """
    from tradewind.persist.queries.assets import list_assets

    with cli.migrated_db().read_scope() as session:
        infos = list_assets(session, asset=asset)
    render([i.as_dict() for i in infos], ASSET_COLUMNS, output)


@assets_group.command("details")
@click.argument("asset")
@output_option
@pass_cli
def assets_details(cli: CliContext, asset: str, output: str) -> None:
    """Show one asset (by NAME or URI): its fields, producers, consumers and queued DAGs.

    \b
    Example:
      tradewind assets details s3://bucket/orders.parquet
    """
    from tradewind.persist.queries.assets import list_assets

    with cli.migrated_db().read_scope() as session:
        infos = list_assets(session, asset=asset)
    if not infos:
        raise CliError(f"asset {asset!r} not found (give its name or uri; see `tradewind assets list`)")
    if len(infos) > 1:
        names = ", ".join(f"{i.name} ({i.uri})" for i in infos)
        raise CliError(f"{asset!r} matches several assets: {names}; give the other of name/uri to choose")
    render_mapping(infos[0].as_dict(), output)


@assets_group.command("events")
@click.option("--asset", "asset", default=None, metavar="NAME_OR_URI", help="Only events of this asset.")
@click.option("--dag-id", "dag_id", default=None, help="Only events produced by this DAG.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Newest N events.")
@output_option
@pass_cli
def assets_events(cli: CliContext, asset: str | None, dag_id: str | None, limit: int, output: str) -> None:
    """List asset events, newest first.

    \b
    Example:
      tradewind assets events --asset s3://bucket/orders.parquet --limit 5 -o json
    """
    from tradewind.persist.queries.assets import list_assets, list_events

    with cli.migrated_db().read_scope() as session:
        if asset is not None and not list_assets(session, asset=asset):
            raise CliError(f"asset {asset!r} not found (give its name or uri; see `tradewind assets list`)")
        events = list_events(session, asset=asset, dag_id=dag_id, limit=limit)
    render([e.as_dict() for e in events], EVENT_COLUMNS, output)


@assets_group.command("aliases")
@click.option("--alias", "alias", default=None, metavar="NAME", help="Only this alias.")
@output_option
@pass_cli
def assets_aliases(cli: CliContext, alias: str | None, output: str) -> None:
    """List asset aliases with the assets each resolves to and the DAGs scheduled on it.

    \b
    Example:
      tradewind assets aliases -o json
    """
    from tradewind.persist.queries.assets import list_aliases

    with cli.migrated_db().read_scope() as session:
        infos = list_aliases(session, alias=alias)
    render([i.as_dict() for i in infos], ALIAS_COLUMNS, output)
