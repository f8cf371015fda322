"""Alembic environment for Tradewind's one migration tree.

Run programmatically by :mod:`tradewind.persist.migrate` (no ``alembic.ini``):
the caller puts an open SQLAlchemy ``Connection`` in
``config.attributes["connection"]`` and, optionally, a ``progress`` callable in
``config.attributes["progress"]`` that receives one description per applied step.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import text

from tradewind.persist.models import Base

#: Any constant fits; it only has to be the same in every process that migrates.
PG_MIGRATION_LOCK_ID = 7_340_112


def _on_version_apply(progress: Any):
    def hook(*, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
        verb = "upgrade" if step.is_upgrade else "downgrade"
        progress(f"{verb} {step.up_revision_id}: {step.up_revision.doc if step.up_revision else ''}".strip())

    return hook


def run_migrations_online() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("tradewind migrations run through tradewind.persist.migrate, which passes a connection")
    progress = config.attributes.get("progress")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        on_version_apply=_on_version_apply(progress) if progress else None,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Two processes upgrading at once: the second waits, then finds nothing to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": PG_MIGRATION_LOCK_ID})
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
