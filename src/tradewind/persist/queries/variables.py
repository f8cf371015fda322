"""Variables: the key/value store behind ``Variable.get`` / ``tradewind variables``.

Values are stored as text. JSON values are stored as JSON text
(``serialize_json=True``) and read back with ``deserialize_json=True``, as in Airflow.

Values are Fernet-encrypted at rest, as connection passwords are: every write stores a token
and sets ``is_encrypted``; rows written in clear by older versions or other tools (flag false)
are read as they are, and :func:`rotate_variables` (``tradewind rotate-fernet-key``) encrypts
them. Every reader of ``Variable.val`` goes through this module (:func:`variable_value`), so no
caller ever sees a token. The key comes from the ``fernet`` argument when given, else from the
settings registered for the session's database (:func:`tradewind.persist.fernet.fernet_for_bind`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.persist.db import Database
from tradewind.persist.models import ID_LEN, Variable

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.fernet import MultiFernet

OnExisting = Literal["overwrite", "skip", "fail"]


class VariableError(ValueError):
    """A variable operation with bad input; the message names the key."""


@dataclass(frozen=True)
class ImportCounts:
    created: int = 0
    updated: int = 0
    skipped: int = 0


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key.strip():
        raise VariableError(f"variable key must be a non-empty string, got {key!r}")
    if len(key) > ID_LEN:
        raise VariableError(f"variable key {key[:40]!r}... is longer than {ID_LEN} characters")


def _to_text(key: str, value: Any, serialize_json: bool) -> str:
    if serialize_json:
        try:
            return json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise VariableError(f"variable {key!r}: value is not JSON-serialisable: {exc}") from None
    if not isinstance(value, str):
        raise VariableError(
            f"variable {key!r}: value must be a string (got {type(value).__name__}); pass serialize_json=True to store JSON"
        )
    return value


@dataclass(frozen=True)
class StoredVariable:
    """A variable in clear: what callers outside this module get instead of the row."""

    key: str
    value: str
    description: str | None


def _fernet(session: Session, fernet: "MultiFernet | None") -> "MultiFernet":
    if fernet is not None:
        return fernet
    from tradewind.persist.fernet import fernet_for_bind

    return fernet_for_bind(session.get_bind())


def _store_text(row: Variable, text: str, fernet: "MultiFernet") -> None:
    row.val = fernet.encrypt(text.encode("utf-8")).decode("ascii")
    row.is_encrypted = True


def variable_value(session: Session, row: Variable, *, fernet: "MultiFernet | None" = None) -> str:
    """The row's value in clear (decrypted when ``is_encrypted``; clear rows as they are)."""
    if not row.is_encrypted:
        return row.val
    from cryptography.fernet import InvalidToken

    try:
        return _fernet(session, fernet).decrypt(row.val.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise VariableError(
            f"variable {row.key!r}: the stored value cannot be decrypted with [core] fernet_key — was the key "
            "changed? Put the new key first and the old one after it (comma-separated), then run "
            "`tradewind rotate-fernet-key`"
        ) from None


def stored_variable(session: Session, row: Variable, *, fernet: "MultiFernet | None" = None) -> StoredVariable:
    return StoredVariable(key=row.key, value=variable_value(session, row, fernet=fernet), description=row.description)


def get_variable_row(session: Session, key: str) -> Variable | None:
    """The row itself (its ``val`` may be a token: read values with :func:`variable_value`)."""
    return session.get(Variable, key)


def get_variable(
    session: Session, key: str, *, deserialize_json: bool = False, fernet: "MultiFernet | None" = None
) -> Any:
    """The value of ``key`` (decoded from JSON if asked), or None when there is no such variable."""
    row = session.get(Variable, key)
    if row is None:
        return None
    text = variable_value(session, row, fernet=fernet)
    if not deserialize_json:
        return text
    try:
        return json.loads(text)
    except ValueError as exc:
        raise VariableError(f"variable {key!r} does not hold valid JSON: {exc}") from None


def set_variable(
    session: Session,
    key: str,
    value: Any,
    description: str | None = None,
    *,
    serialize_json: bool = False,
    fernet: "MultiFernet | None" = None,
) -> Variable:
    """Create or replace a variable (value and description both replaced, as in Airflow); stored encrypted."""
    _check_key(key)
    text = _to_text(key, value, serialize_json)
    key_fernet = _fernet(session, fernet)
    row = session.get(Variable, key)
    if row is None:
        row = Variable(key=key, description=description)
        session.add(row)
    else:
        row.description = description
    _store_text(row, text, key_fernet)
    session.flush()
    return row


def delete_variable(session: Session, key: str) -> bool:
    """Delete a variable; False if there was none."""
    row = session.get(Variable, key)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def list_variables(session: Session, *, prefix: str | None = None) -> list[Variable]:
    """All variables ordered by key, optionally only keys starting with ``prefix``."""
    query = select(Variable).order_by(Variable.key)
    if prefix:
        query = query.where(Variable.key.startswith(prefix, autoescape=True))
    return list(session.scalars(query))


def list_variable_values(
    session: Session, *, prefix: str | None = None, fernet: "MultiFernet | None" = None
) -> list[StoredVariable]:
    """:func:`list_variables` in clear."""
    key_fernet = _fernet(session, fernet)
    return [stored_variable(session, row, fernet=key_fernet) for row in list_variables(session, prefix=prefix)]


def rotate_variables(session: Session, fernet: "MultiFernet") -> int:
    """Re-encrypt every variable with the first key (clear rows get encrypted); how many rows changed.

    A value no key decrypts stops the rotation with an error naming the variable, before anything
    is written.
    """
    from cryptography.fernet import InvalidToken

    changes: list[tuple[Variable, str]] = []
    for row in list_variables(session):
        if not row.is_encrypted:
            changes.append((row, fernet.encrypt(row.val.encode("utf-8")).decode("ascii")))
            continue
        try:
            changes.append((row, fernet.rotate(row.val.encode("ascii")).decode("ascii")))
        except (InvalidToken, UnicodeError):
            raise VariableError(
                f"variable {row.key!r}: the stored value cannot be decrypted with any key in [core] fernet_key; "
                "keep the old key in the list (after the new one) and rotate again"
            ) from None
    for row, token in changes:
        row.val = token
        row.is_encrypted = True
    session.flush()
    return len(changes)


def import_variables(
    session: Session,
    data: Mapping[str, Any],
    *,
    on_existing: OnExisting = "overwrite",
    fernet: "MultiFernet | None" = None,
) -> ImportCounts:
    """Load ``{key: value}`` (the ``variables import`` file format).

    String values are stored as they are; any other JSON value is stored as JSON
    text. ``on_existing`` decides what happens to keys that already exist.
    Validation happens before any write, so a bad entry changes nothing.
    """
    if not isinstance(data, Mapping):
        raise VariableError(f"variables to import must be a JSON object of key: value, got {type(data).__name__}")
    if on_existing not in ("overwrite", "skip", "fail"):
        raise VariableError(f"on_existing must be overwrite, skip or fail, got {on_existing!r}")
    prepared: dict[str, str] = {}
    for key, value in data.items():
        _check_key(key)
        prepared[key] = value if isinstance(value, str) else _to_text(key, value, True)
    existing = set(session.scalars(select(Variable.key).where(Variable.key.in_(list(prepared))))) if prepared else set()
    if on_existing == "fail" and existing:
        raise VariableError(f"variables already exist: {', '.join(sorted(existing))}")
    key_fernet = _fernet(session, fernet)
    created = updated = skipped = 0
    for key, text in prepared.items():
        if key in existing:
            if on_existing == "skip":
                skipped += 1
                continue
            row = session.get(Variable, key)
            assert row is not None
            updated += 1
        else:
            row = Variable(key=key)
            session.add(row)
            created += 1
        _store_text(row, text, key_fernet)
    session.flush()
    return ImportCounts(created=created, updated=updated, skipped=skipped)


def export_variables(session: Session, *, fernet: "MultiFernet | None" = None) -> dict[str, Any]:
    """Every variable as ``{key: value}``; values holding JSON are decoded, others stay strings."""
    out: dict[str, Any] = {}
    for item in list_variable_values(session, fernet=fernet):
        try:
            out[item.key] = json.loads(item.value)
        except ValueError:
            out[item.key] = item.value
    return out


class DbVariableBackend:
    """The definition layer's variable backend over the metadata database.

    Installed with ``tradewind.definition.variable.set_variable_backend(DbVariableBackend(db))``.
    Each call is its own short transaction, so task code never holds a lock.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str) -> str | None:
        with self.db.session_scope() as session:
            return get_variable(session, key)

    def set(self, key: str, value: str, description: str | None = None) -> None:
        with self.db.session_scope() as session:
            set_variable(session, key, value, description)

    def delete(self, key: str) -> bool:
        with self.db.session_scope() as session:
            return delete_variable(session, key)
