"""Timezone helpers for the definition layer.

Everything Tradewind stores or compares is an *aware* datetime in UTC; DAG
authors, however, write naive datetimes, pendulum ``DateTime`` objects, plain
``date`` objects or ISO strings, and name timezones by string. These helpers
turn all of that into one shape:

- :func:`parse_timezone` -> :class:`zoneinfo.ZoneInfo` (clear error for unknown names)
- :func:`coerce_datetime` -> aware ``datetime`` (naive values are read in a given zone)
- :func:`to_utc` -> aware ``datetime`` in UTC (:data:`utc`)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The UTC tzinfo used for every datetime Tradewind hands out (same as persist's models).
utc = timezone.utc

#: ``ZoneInfo("UTC")``: the zone object used where a *named* zone is needed.
UTC_ZONE = ZoneInfo("UTC")


class TimezoneError(ValueError):
    """A timezone or datetime value cannot be understood; the message says which and why."""


def parse_timezone(value: str | tzinfo | None, *, default: str | tzinfo = "UTC") -> ZoneInfo:
    """Return a :class:`ZoneInfo` for a zone name, a tzinfo object or ``None`` (-> ``default``).

    Accepts IANA names ("Europe/Seoul"), "utc"/"UTC"/"Z", ``ZoneInfo``, pendulum
    timezones, ``datetime.timezone.utc`` and whole-hour fixed offsets (mapped to
    ``Etc/GMT±N``). Raises :class:`TimezoneError` naming the bad value otherwise.
    """
    if value is None:
        value = default
    if isinstance(value, ZoneInfo):
        return value
    if isinstance(value, str):
        return _zone_from_name(value)
    if isinstance(value, tzinfo):
        return _zone_from_tzinfo(value)
    raise TimezoneError(f"timezone must be a name or a tzinfo object, got {type(value).__name__}: {value!r}")


def _zone_from_name(name: str) -> ZoneInfo:
    cleaned = name.strip()
    if cleaned.upper() in ("UTC", "Z", "GMT", "ETC/UTC"):
        return UTC_ZONE
    try:
        return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimezoneError(
            f"unknown timezone {name!r}: use an IANA zone name such as 'UTC', 'Europe/London' or 'Asia/Seoul'"
        ) from None


def _zone_from_tzinfo(tz: tzinfo) -> ZoneInfo:
    # pendulum 2 timezones and pytz zones carry their IANA name in `.name` / `.zone`.
    for attr in ("key", "name", "zone"):
        name = getattr(tz, attr, None)
        if isinstance(name, str) and name and not name.startswith(("+", "-")):
            try:
                return _zone_from_name(name)
            except TimezoneError:
                pass
    offset = tz.utcoffset(None)
    if offset is None:
        raise TimezoneError(f"cannot tell the UTC offset of timezone {tz!r}")
    if offset == timedelta(0):
        return UTC_ZONE
    hours, rest = divmod(offset, timedelta(hours=1))
    if rest:
        raise TimezoneError(
            f"fixed offset timezone {tz!r} is not a whole number of hours; use an IANA zone name instead"
        )
    # POSIX sign convention: Etc/GMT-2 is UTC+2.
    return ZoneInfo(f"Etc/GMT{-hours:+d}")


def timezone_name(tz: tzinfo) -> str:
    """The name under which ``tz`` is stored in snapshots and serialized timetables."""
    zone = parse_timezone(tz)
    return "UTC" if zone.key in ("UTC", "Etc/UTC") else zone.key


def coerce_datetime(value: Any, tz: str | tzinfo | None = None) -> datetime:
    """Return ``value`` as an aware ``datetime``.

    - aware ``datetime`` (incl. pendulum ``DateTime``): kept as the same instant;
    - naive ``datetime``: interpreted as wall time in ``tz`` (default UTC);
    - ``date``: midnight of that day in ``tz``;
    - ``str``: ISO 8601 (``"2024-01-01"``, ``"2024-01-01T08:00:00+09:00"``, trailing ``Z``).
    """
    zone = parse_timezone(tz)
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        dt = _parse_iso(value)
    else:
        raise TimezoneError(f"expected a datetime, date or ISO 8601 string, got {type(value).__name__}: {value!r}")
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        return dt.replace(tzinfo=zone)
    if type(dt) is not datetime:
        # pendulum.DateTime and other subclasses: normalise to a plain datetime.
        dt = datetime(dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.microsecond,
                      tzinfo=dt.tzinfo, fold=dt.fold)
    return dt


def _parse_iso(text: str) -> datetime:
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise TimezoneError(f"cannot parse {text!r} as an ISO 8601 date or datetime") from None


def to_utc(value: Any, tz: str | tzinfo | None = None) -> datetime:
    """:func:`coerce_datetime` then convert to UTC (``tzinfo`` is :data:`utc`)."""
    return coerce_datetime(value, tz).astimezone(utc)


def _system_clock() -> datetime:
    return datetime.now(utc)


_clock: Callable[[], datetime] = _system_clock


def utcnow() -> datetime:
    """The current time, aware, in UTC, as task code should read it.

    Time-based operators and sensors read the time here, so a simulated clock
    (:func:`set_clock`, used by the pytest plugin) drives them as it drives the scheduler.
    """
    return _clock()


def set_clock(clock: Callable[[], datetime] | None) -> Callable[[], datetime]:
    """Make :func:`utcnow` return ``clock()`` (None: the system clock again); returns the previous clock."""
    global _clock
    previous = _clock
    _clock = clock or _system_clock
    return previous
