"""Create and upgrade the metadata database schema with Alembic, programmatically.

There is one migration tree, shipped in ``persist/migrations/``; no ``alembic.ini``
is needed. Typical use::

    upgrade(db)                 # idempotent: a no-op when already at head
    problem = check(db)         # None when the schema is current and matches the models
    reset(db)                   # drop every table (alembic_version too), then upgrade

After an upgrade the ``default_pool`` row always exists.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData

from tradewind.persist.db import Database
from tradewind.persist.models import Base

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

ProgressCallback = Callable[[str], None]


def _alembic_config(connection: Connection | None = None, progress: ProgressCallback | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    cfg.attributes["progress"] = progress
    return cfg


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision of the migration tree shipped with this version (read once)."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(db: Database) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, *, progress: ProgressCallback | None = None, default_pool_slots: int = 128) -> None:
    """Bring the schema to head (a no-op when it already is) and make sure ``default_pool`` exists.

    ``progress`` receives a short description of each migration step applied
    (the CLI shows them as a progress bar); it is not called when nothing is to do.
    """
    if current_revision(db) != head_revision():
        with db.engine.connect() as conn:
            command.upgrade(_alembic_config(conn, progress), "head")
            conn.commit()
    # Imported here: queries import models only, but keep migrate importable on its own.
    from tradewind.persist.queries.pools import ensure_default_pool

    with db.session_scope() as session:
        ensure_default_pool(session, slots=default_pool_slots)


def _schema_differences(conn: Connection) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return compare_metadata(ctx, Base.metadata)


def revision_problem(db: Database) -> str | None:
    """None when the database is at the head revision; else what is wrong. Cheap: one query."""
    head = head_revision()
    current = current_revision(db)
    if current is None:
        return f"the database has no schema yet (expected revision {head}); run `tradewind db migrate`"
    if current != head:
        script = ScriptDirectory.from_config(_alembic_config())
        try:
            script.get_revision(current)
        except Exception:
            return (
                f"the database is at revision {current}, which this Tradewind version does not know "
                f"(newest known: {head}); it was migrated by a newer version"
            )
        return f"the database is at revision {current}, but {head} is needed; run `tradewind db migrate`"
    return None


def check(db: Database) -> str | None:
    """None when the database is at head and its live schema matches the models.

    Otherwise a human message saying what is wrong (not migrated, behind, ahead,
    or the tables differ from the models — the first few differences are listed).
    """
    problem = revision_problem(db)
    if problem:
        return problem
    head = head_revision()
    with db.engine.connect() as conn:
        diffs = _schema_differences(conn)
    if not diffs:
        return None
    shown = "; ".join(_describe_diff(d) for d in diffs[:5])
    more = f" (and {len(diffs) - 5} more)" if len(diffs) > 5 else ""
    return f"the database schema differs from the models at revision {head}: {shown}{more}"


def _describe_diff(diff: Any) -> str:
    # compare_metadata yields tuples ("add_table", Table) or lists of
    # ("modify_type", schema, table, column, ...) tuples for column changes.
    if isinstance(diff, list):
        return ", ".join(_describe_diff(d) for d in diff)
    kind = diff[0]
    rest = []
    for item in diff[1:]:
        name = getattr(item, "name", None)
        if name is not None:
            rest.append(str(name))
        elif isinstance(item, str | int) and item:
            rest.append(str(item))
    return f"{kind} {' '.join(rest)}".strip()


def reset(db: Database, *, progress: ProgressCallback | None = None, default_pool_slots: int = 128) -> None:
    """Drop every table (including ``alembic_version``), then upgrade to head. Destroys all data."""
    with db.engine.begin() as conn:
        live = MetaData()
        live.reflect(bind=conn)
        live.drop_all(bind=conn)
    upgrade(db, progress=progress, default_pool_slots=default_pool_slots)
