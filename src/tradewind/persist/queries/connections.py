"""Stored connections: the ``connection`` table, with passwords and extras Fernet-encrypted at rest.

Every read and write of the encrypted columns goes through this module: callers hand in and get
back :class:`tradewind.definition.connection.Connection` objects in clear, and a MultiFernet
(:func:`tradewind.persist.fernet.fernet_from_config`). Rows written here always have
``is_encrypted``/``is_extra_encrypted`` set when the value is present; rows another tool wrote in
clear (flags false) are read as they are and encrypted by :func:`rotate_fernet_key`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.definition.connection import Connection
from tradewind.persist.db import Database
from tradewind.persist.models import ID_LEN
from tradewind.persist.models import Connection as ConnectionRow

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.fernet import MultiFernet

OnExisting = Literal["overwrite", "skip", "fail"]


class ConnectionStorageError(ValueError):
    """A connection operation with bad input or an undecryptable row; the message names the conn_id."""


@dataclass(frozen=True)
class ImportCounts:
    created: int = 0
    updated: int = 0
    skipped: int = 0


def check_conn_id(conn_id: Any) -> str:
    """``conn_id`` if usable as a key: a non-empty string without spaces, at most 250 characters."""
    if not isinstance(conn_id, str) or not conn_id.strip():
        raise ConnectionStorageError(f"conn_id must be a non-empty string, got {conn_id!r}")
    if conn_id != conn_id.strip() or any(ch.isspace() for ch in conn_id):
        raise ConnectionStorageError(f"conn_id {conn_id!r} must not contain whitespace")
    if len(conn_id) > ID_LEN:
        raise ConnectionStorageError(f"conn_id {conn_id[:40]!r}... is longer than {ID_LEN} characters")
    return conn_id


def _encrypt(fernet: "MultiFernet", value: str | None) -> tuple[str | None, bool]:
    if value is None or value == "":
        return None, False
    return fernet.encrypt(value.encode("utf-8")).decode("ascii"), True


def _decrypt(fernet: "MultiFernet", value: str | None, encrypted: bool, conn_id: str, column: str) -> str | None:
    from cryptography.fernet import InvalidToken

    if value is None or not encrypted:
        return value
    try:
        return fernet.decrypt(value.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise ConnectionStorageError(
            f"connection {conn_id!r}: the stored {column} cannot be decrypted with [core] fernet_key — was the "
            "key changed? Put the new key first and the old one after it (comma-separated), then run "
            "`tradewind rotate-fernet-key`"
        ) from None


def _fill(row: ConnectionRow, conn: Connection, fernet: "MultiFernet") -> None:
    if not conn.conn_type:
        raise ConnectionStorageError(f"connection {conn.conn_id!r}: conn_type is required")
    row.conn_type = conn.conn_type
    row.description = conn.description
    row.host = conn.host
    row.schema = conn.schema
    row.login = conn.login
    row.port = conn.port
    row.password, row.is_encrypted = _encrypt(fernet, conn.password)
    row.extra, row.is_extra_encrypted = _encrypt(fernet, conn.extra)


def to_connection(row: ConnectionRow, fernet: "MultiFernet") -> Connection:
    """The row in clear (password and extra decrypted)."""
    return Connection(
        conn_id=row.conn_id,
        conn_type=row.conn_type,
        description=row.description,
        host=row.host,
        schema=row.schema,
        login=row.login,
        password=_decrypt(fernet, row.password, row.is_encrypted, row.conn_id, "password"),
        port=row.port,
        extra=_decrypt(fernet, row.extra, row.is_extra_encrypted, row.conn_id, "extra"),
    )


def _row(session: Session, conn_id: str) -> ConnectionRow | None:
    return session.scalars(select(ConnectionRow).where(ConnectionRow.conn_id == conn_id)).first()


def get_connection(session: Session, conn_id: str, fernet: "MultiFernet") -> Connection | None:
    """The stored connection ``conn_id`` in clear, or None."""
    row = _row(session, conn_id)
    return None if row is None else to_connection(row, fernet)


def connection_exists(session: Session, conn_id: str) -> bool:
    return _row(session, conn_id) is not None


def add_connection(session: Session, conn: Connection, fernet: "MultiFernet") -> None:
    """Store a new connection; an existing ``conn_id`` is an error (Airflow's ``connections add``)."""
    conn_id = check_conn_id(conn.conn_id)
    if _row(session, conn_id) is not None:
        raise ConnectionStorageError(f"connection {conn_id!r} already exists")
    row = ConnectionRow(conn_id=conn_id)
    _fill(row, conn, fernet)
    session.add(row)
    session.flush()


def save_connection(session: Session, conn: Connection, fernet: "MultiFernet") -> bool:
    """Create or replace every field of ``conn.conn_id``; True when it was created."""
    conn_id = check_conn_id(conn.conn_id)
    row = _row(session, conn_id)
    created = row is None
    if row is None:
        row = ConnectionRow(conn_id=conn_id)
        session.add(row)
    _fill(row, conn, fernet)
    session.flush()
    return created


def delete_connection(session: Session, conn_id: str) -> bool:
    """Delete a connection; False if there was none."""
    row = _row(session, conn_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def list_connections(
    session: Session, fernet: "MultiFernet", *, limit: int | None = None, offset: int = 0
) -> list[Connection]:
    """Stored connections ordered by conn_id, in clear (callers mask before showing)."""
    query = select(ConnectionRow).order_by(ConnectionRow.conn_id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [to_connection(row, fernet) for row in session.scalars(query)]


def count_connections(session: Session) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count()).select_from(ConnectionRow)) or 0


def import_connections(
    session: Session, conns: Iterable[Connection], fernet: "MultiFernet", *, on_existing: OnExisting = "fail"
) -> ImportCounts:
    """Store many connections; all are checked before any is written, so a bad one changes nothing."""
    if on_existing not in ("overwrite", "skip", "fail"):
        raise ConnectionStorageError(f"on_existing must be overwrite, skip or fail, got {on_existing!r}")
    prepared = list(conns)
    seen: set[str] = set()
    for conn in prepared:
        conn_id = check_conn_id(conn.conn_id)
        if conn_id in seen:
            raise ConnectionStorageError(f"connection {conn_id!r} appears twice")
        if not conn.conn_type:
            raise ConnectionStorageError(f"connection {conn_id!r}: conn_type is required")
        seen.add(conn_id)
    existing = set(session.scalars(select(ConnectionRow.conn_id).where(ConnectionRow.conn_id.in_(seen)))) if seen else set()
    if on_existing == "fail" and existing:
        raise ConnectionStorageError(f"connections already exist: {', '.join(sorted(existing))}")
    created = updated = skipped = 0
    for conn in prepared:
        if conn.conn_id in existing:
            if on_existing == "skip":
                skipped += 1
                continue
            updated += 1
        else:
            created += 1
        save_connection(session, conn, fernet)
    return ImportCounts(created=created, updated=updated, skipped=skipped)


def rotate_fernet_key(session: Session, fernet: "MultiFernet") -> int:
    """Re-encrypt every stored password and extra with the first key; returns how many rows changed.

    Values any key decrypts are re-encrypted with the first; values stored in clear (flag false)
    are encrypted. A value no key decrypts stops the rotation with an error naming the connection,
    before anything is written.
    """
    from cryptography.fernet import InvalidToken

    rows = list(session.scalars(select(ConnectionRow).order_by(ConnectionRow.conn_id)))
    changes: list[tuple[ConnectionRow, str, str]] = []
    for row in rows:
        for column, flag in (("password", "is_encrypted"), ("extra", "is_extra_encrypted")):
            value = getattr(row, column)
            if value is None or value == "":
                continue
            if getattr(row, flag):
                try:
                    changes.append((row, column, fernet.rotate(value.encode("ascii")).decode("ascii")))
                except (InvalidToken, UnicodeError):
                    raise ConnectionStorageError(
                        f"connection {row.conn_id!r}: the stored {column} cannot be decrypted with any key in "
                        "[core] fernet_key; keep the old key in the list (after the new one) and rotate again"
                    ) from None
            else:
                changes.append((row, column, _encrypt(fernet, value)[0] or ""))
    for row, column, token in changes:
        setattr(row, column, token)
        setattr(row, "is_encrypted" if column == "password" else "is_extra_encrypted", True)
    session.flush()
    return len({row.conn_id for row, _, _ in changes})


class DbConnectionBackend:
    """The definition layer's connection backend over the metadata database.

    Installed with ``set_connection_backend(DbConnectionBackend(db, config))`` by the task runner and
    ``dags test``. The Fernet key is loaded on the first lookup, so a task that reads no connection
    pays nothing; each lookup is its own short transaction.
    """

    def __init__(self, db: Database, config: Any) -> None:
        self.db = db
        self.config = config
        self._fernet: MultiFernet | None = None

    def get(self, conn_id: str) -> Connection | None:
        if self._fernet is None:
            from tradewind.persist.fernet import fernet_from_config

            self._fernet = fernet_from_config(self.config)
        with self.db.session_scope() as session:
            return get_connection(session, conn_id, self._fernet)
