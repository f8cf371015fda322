"""Variables: the key/value store behind ``Variable.get`` / ``tradewind variables``.

Values are stored as text. JSON values are stored as JSON text
(``serialize_json=True``) and read back with ``deserialize_json=True``, as in Airflow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.persist.db import Database
from tradewind.persist.models import ID_LEN, Variable

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


def get_variable_row(session: Session, key: str) -> Variable | None:
    return session.get(Variable, key)


def get_variable(session: Session, key: str, *, deserialize_json: bool = False) -> Any:
    """The value of ``key`` (decoded from JSON if asked), or None when there is no such variable."""
    row = session.get(Variable, key)
    if row is None:
        return None
    if not deserialize_json:
        return row.val
    try:
        return json.loads(row.val)
    except ValueError as exc:
        raise VariableError(f"variable {key!r} does not hold valid JSON: {exc}") from None


def set_variable(
    session: Session, key: str, value: Any, description: str | None = None, *, serialize_json: bool = False
) -> Variable:
    """Create or replace a variable (value and description both replaced, as in Airflow)."""
    _check_key(key)
    text = _to_text(key, value, serialize_json)
    row = session.get(Variable, key)
    if row is None:
        row = Variable(key=key, val=text, description=description)
        session.add(row)
    else:
        row.val = text
        row.description = description
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


def import_variables(
    session: Session, data: Mapping[str, Any], *, on_existing: OnExisting = "overwrite"
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
    created = updated = skipped = 0
    for key, text in prepared.items():
        if key in existing:
            if on_existing == "skip":
                skipped += 1
                continue
            row = session.get(Variable, key)
            assert row is not None
            row.val = text
            updated += 1
        else:
            session.add(Variable(key=key, val=text))
            created += 1
    session.flush()
    return ImportCounts(created=created, updated=updated, skipped=skipped)


def export_variables(session: Session) -> dict[str, Any]:
    """Every variable as ``{key: value}``; values holding JSON are decoded, others stay strings."""
    out: dict[str, Any] = {}
    for row in list_variables(session):
        try:
            out[row.key] = json.loads(row.val)
        except ValueError:
            out[row.key] = row.val
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
