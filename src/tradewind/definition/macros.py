"""The ``macros`` object of the template context (``{{ macros.ds_add(ds, 7) }}``).

Mirrors Airflow's ``airflow.macros``: date helpers plus a few standard modules that templates
commonly reach for. Only the standard library and python-dateutil (a croniter dependency,
exposed when importable) are used.
"""

from __future__ import annotations

import datetime as _datetime_module
import json  # noqa: F401  (exposed to templates)
import random  # noqa: F401  (exposed to templates)
import time  # noqa: F401  (exposed to templates)
import uuid  # noqa: F401  (exposed to templates)
from datetime import date, datetime, timedelta  # noqa: F401  (exposed to templates)

try:  # exposed as macros.dateutil like Airflow; skipped when not installed
    import dateutil  # noqa: F401
    import dateutil.relativedelta  # noqa: F401
    import dateutil.parser  # noqa: F401
except ImportError:  # pragma: no cover - dateutil ships with croniter
    pass

__all__ = [
    "ds_add",
    "ds_format",
    "datetime_diff_for_humans",
    "datetime",
    "date",
    "timedelta",
    "json",
    "random",
    "time",
    "uuid",
]

_DS_FORMAT = "%Y-%m-%d"


def _parse_ds(ds: str, fmt: str = _DS_FORMAT) -> datetime:
    try:
        return datetime.strptime(ds, fmt)
    except (TypeError, ValueError):
        raise ValueError(f"cannot read {ds!r} as a date in format {fmt!r}") from None


def ds_add(ds: str, days: int) -> str:
    """Add (or subtract, when negative) ``days`` to a ``YYYY-MM-DD`` string.

    ``ds_add("2015-01-01", 5)`` -> ``"2015-01-06"``.
    """
    if not days:
        return ds
    return (_parse_ds(ds) + timedelta(days=days)).strftime(_DS_FORMAT)


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """Re-format a date string: ``ds_format("2015-01-01", "%Y-%m-%d", "%m-%d-%y")`` -> ``"01-01-15"``."""
    return _parse_ds(ds, input_format).strftime(output_format)


def datetime_diff_for_humans(dt: datetime, since: datetime | None = None) -> str:
    """Human-readable distance between ``dt`` and ``since`` (default now): "3 hours ago", "in 2 days"."""
    if since is None:
        since = datetime.now(dt.tzinfo) if dt.tzinfo else datetime.now()
    seconds = (dt - since).total_seconds()
    future = seconds > 0
    seconds = abs(seconds)
    units = (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400), ("day", 86400),
             ("hour", 3600), ("minute", 60), ("second", 1))
    for name, size in units:
        if seconds >= size:
            count = int(seconds // size)
            break
    else:
        return "just now"
    text = f"{count} {name}{'s' if count != 1 else ''}"
    return f"in {text}" if future else f"{text} ago"


# Airflow exposes the datetime *class* as macros.datetime; keep the module reachable as well.
datetime_module = _datetime_module
