"""``tradewind audit``: read the audit log of manual actions (who did what, when)."""

from __future__ import annotations

import click

from tradewind.observe.cli.common import CliContext, output_option, pass_cli, render

AUDIT_COLUMNS = ["dttm", "event", "owner", "dag_id", "run_id", "task_id", "extra"]


@click.group("audit")
def audit_group() -> None:
    """Read the audit log of manual actions."""


@audit_group.command("list")
@click.option("--dag-id", default=None, help="Only entries about this DAG.")
@click.option("--event", default=None, help="Only this event (trigger, clear, set_state, backfill.create, ...).")
@click.option("--owner", default=None, help="Only actions by this user.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="At most this many entries.")
@output_option
@pass_cli
def audit_list(cli: CliContext, dag_id: str | None, event: str | None, owner: str | None, limit: int,
               output: str) -> None:
    """List audit log entries, newest first.

    \b
    Examples:
      tradewind audit list --dag-id my_dag
      tradewind audit list --event clear -o json
    """
    from tradewind.persist.queries.audit import list_audit

    db = cli.migrated_db()
    with db.read_scope() as session:
        rows = [{c: getattr(entry, c) for c in AUDIT_COLUMNS}
                for entry in list_audit(session, dag_id=dag_id, event=event, owner=owner, limit=limit)]
    render(rows, AUDIT_COLUMNS, output, title="audit log")
