"""Create and upgrade the metadata database schema with Alembic, programmatically.

There is one migration tree, shipped in ``persist/migrations/``; no ``alembic.ini``
is needed. Typical use::

    upgrade(db)                 # idempotent: a no-op when already at head
    problem = check(db)         # None when the schema is current and matches the models
    reset(db)                   # drop every table (alembic_version too), then upgrade

After an upgrade the ``default_pool`` row always exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, MetaData, text
from sqlalchemy.exc import DBAPIError

from tradewind.persist.db import Database
from tradewind.persist.models import Base

if TYPE_CHECKING:  # pragma: no cover
    from alembic.config import Config as AlembicConfig

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

#: The newest revision in ``migrations/versions`` — update it with every new migration (a unit
#: test checks it equals Alembic's head). Every CLI command checks the schema revision before
#: it runs; knowing the head without importing Alembic (~0.1 s) keeps that check one query.
HEAD_REVISION = "0010"

ProgressCallback = Callable[[str], None]


def _alembic_config(connection: Connection | None = None, progress: ProgressCallback | None = None) -> "AlembicConfig":
    # Alembic is imported only to migrate or to explain a revision mismatch.
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    cfg.attributes["progress"] = progress
    return cfg


@lru_cache(maxsize=1)
def alembic_head_revision() -> str:
    """The newest revision of the migration tree, as Alembic reads it from the scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def head_revision() -> str:
    """The newest revision of the migration tree shipped with this version."""
    return HEAD_REVISION


def current_revision(db: Database) -> str | None:
    """The revision the database is at, or None for a database never migrated.

    Reads ``alembic_version`` directly (what Alembic itself does), without importing Alembic.
    """
    with db.engine.connect() as conn:
        if not db.engine.dialect.has_table(conn, "alembic_version"):
            return None
        try:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        except DBAPIError:  # pragma: no cover - the table vanished between the two queries
            return None
    if len(rows) > 1:  # several heads: not something this single-branch tree produces
        raise RuntimeError(f"the database has several schema revisions ({', '.join(sorted(rows))})")
    return rows[0] if rows else None


@contextmanager
def _sqlite_migration_lock(db: Database) -> Iterator[None]:
    """On a SQLite file, one migrating process at a time (``<db>-migrate.lock``).

    SQLite DDL is not transactional in Alembic's sense: each revision commits on its own, so a
    second process could start between two revisions. PostgreSQL serialises in ``env.py``
    with an advisory lock inside the one migration transaction.
    """
    database = db.engine.url.database if db.is_sqlite else None
    if not database or database == ":memory:":
        yield
        return
    import fcntl

    with open(str(Path(database).resolve()) + "-migrate.lock", "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def upgrade(db: Database, *, progress: ProgressCallback | None = None, default_pool_slots: int = 128) -> None:
    """Bring the schema to head (a no-op when it already is) and make sure ``default_pool`` exists.

    ``progress`` receives a short description of each migration step applied
    (the CLI shows them as a progress bar); it is not called when nothing is to do.
    """
    if current_revision(db) != head_revision():
        from alembic import command

        with _sqlite_migration_lock(db):
            # Re-read under the lock: another process may have migrated while we waited.
            if current_revision(db) != head_revision():
                with db.engine.connect() as conn:
                    command.upgrade(_alembic_config(conn, progress), "head")
                    conn.commit()
    # Imported here: queries import models only, but keep migrate importable on its own.
    from tradewind.persist.queries.pools import ensure_default_pool

    with db.session_scope() as session:
        ensure_default_pool(session, slots=default_pool_slots)


def _schema_differences(conn: Connection) -> list[Any]:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return compare_metadata(ctx, Base.metadata)


def revision_problem(db: Database) -> str | None:
    """None when the database is at the head revision; else what is wrong. Cheap: one query."""
    head = head_revision()
    current = current_revision(db)
    if current is None:
        return f"the database has no schema yet (expected revision {head}); run `tradewind db migrate`"
    if current != head:
        from alembic.script import ScriptDirectory

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
