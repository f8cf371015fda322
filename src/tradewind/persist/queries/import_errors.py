"""Import errors: DAG files that failed to parse, one set of rows per file.

``errors`` are anything with ``lineno``, ``message`` and ``stacktrace``
attributes (``parse.dagbag.ImportErrorInfo``) or mappings with those keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tradewind.persist.models import ImportError_


def _field(error: Any, name: str) -> Any:
    if isinstance(error, Mapping):
        return error.get(name)
    return getattr(error, name, None)


def clear_import_errors_for_file(session: Session, filename: str) -> int:
    """Remove a file's import errors (it parsed cleanly, or is gone); returns how many."""
    result = session.execute(
        delete(ImportError_).where(ImportError_.filename == filename).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def replace_import_errors_for_file(
    session: Session, filename: str, errors: Iterable[Any], now: datetime
) -> list[ImportError_]:
    """Make ``errors`` the file's only import errors (an empty list clears them)."""
    clear_import_errors_for_file(session, filename)
    rows = []
    for error in errors:
        message = _field(error, "message")
        if not message:
            raise ValueError(f"import error for {filename} has no message: {error!r}")
        rows.append(
            ImportError_(
                filename=filename,
                lineno=_field(error, "lineno"),
                message=str(message),
                stacktrace=_field(error, "stacktrace"),
                timestamp=now,
            )
        )
    session.add_all(rows)
    session.flush()
    return rows


def list_import_errors(session: Session, *, filename: str | None = None) -> list[ImportError_]:
    """Import errors ordered by file name, then line."""
    query = select(ImportError_)
    if filename is not None:
        query = query.where(ImportError_.filename == filename)
    return list(session.scalars(query.order_by(ImportError_.filename, ImportError_.lineno, ImportError_.id)))
