"""Assets (Airflow 3's ``Asset``, Airflow 2's ``Dataset``) and data-aware schedules.

An :class:`Asset` names a piece of data by ``name`` and ``uri`` (either defaults to the
other). A task lists assets it produces in ``outlets=[...]``; each successful try of that
task records an *asset event*. A DAG scheduled on assets (``schedule=[a, b]``,
``schedule=a | (b & c)``) gets an asset-triggered run once its condition holds over the
assets updated since its previous asset-triggered run.

An :class:`AssetAlias` is a name a task lists in ``outlets`` and resolves at run time
(``outlet_events[alias].add(Asset(...))`` or ``yield Metadata(asset, extra, alias=alias)``):
the event is recorded for the added asset with the alias as its source, and the alias from
then on *resolves to* that asset. A DAG scheduled on an alias runs when an asset event is
emitted through it (Airflow 3's rule: the alias is true when any asset it resolves to has a
queued event).

This module is pure Python: the condition is evaluated by :meth:`BaseAsset.evaluate` over
the set of :class:`AssetKey` s that have queued events and what each alias resolves to (the
scheduler asks the database both), and serialized to JSON for the DAG snapshot with :meth:`BaseAsset.as_expression`
(:func:`condition_from_expression` turns it back).

Rules (Airflow 3's, checked at construction, so a bad asset is an import error of its DAG
file): name and uri are ASCII strings of at most 1500 characters, not empty or blank; the
name may not be ``self`` or ``context``; the ``airflow`` URI scheme is reserved. A URI with a
scheme is normalised: scheme lower-cased, user/password dropped (with a warning), query
parameters sorted, trailing slashes and the fragment removed.
"""

from __future__ import annotations

import os
import urllib.parse
import warnings
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar, NamedTuple

from tradewind.definition.exceptions import DagDefinitionError, InvalidScheduleError
from tradewind.definition.helpers import DagContext
from tradewind.definition.timetables import DagRunInfo, DataInterval, Timetable, TimeRestriction

__all__ = [
    "Asset",
    "AssetAlias",
    "AssetAliasEvent",
    "AssetAliasKey",
    "AssetAll",
    "AssetAny",
    "AssetEvent",
    "AssetKey",
    "AssetNameRef",
    "AssetOrTimeSchedule",
    "AssetRef",
    "AssetTriggeredTimetable",
    "AssetUriRef",
    "AssetWatcher",
    "BaseAsset",
    "Dataset",
    "DatasetAlias",
    "DatasetAll",
    "DatasetAny",
    "InletEventAccessors",
    "InvalidAssetError",
    "Metadata",
    "OutletEventAccessor",
    "OutletEventAccessors",
    "TriggeringAssetEvents",
    "asset_condition",
    "collect_metadata",
    "condition_from_expression",
    "outlet_aliases",
]

#: Longest name/uri/group Airflow (and our ``asset`` table) accepts.
MAX_IDENTIFIER_LENGTH = 1500
_RESERVED_NAMES = ("self", "context")


class InvalidAssetError(DagDefinitionError, ValueError):
    """An asset's name, uri, group or extra is not allowed (the message names the value)."""


class AssetKey(NamedTuple):
    """What identifies an asset: two assets are the same when name and uri both match."""

    name: str
    uri: str


class AssetAliasKey(NamedTuple):
    """What identifies an asset alias: its name."""

    name: str


#: What each alias resolves to (alias name -> the keys of the assets added through it).
AliasResolution = Mapping[str, Iterable[AssetKey]]


# --------------------------------------------------------------------------- validation
def _where() -> str:
    dag = DagContext.get_current_dag()
    return f" (in DAG {dag.dag_id!r})" if dag is not None else ""


def _check_identifier(value: Any, what: str, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidAssetError(f"Asset {what} must be a string, got {type(value).__name__} {value!r}{_where()}")
    if not value and not empty_ok:
        raise InvalidAssetError(f"Asset {what} cannot be empty{_where()}")
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise InvalidAssetError(
            f"Asset {what} {value[:40]!r}... is {len(value)} characters long; "
            f"the maximum is {MAX_IDENTIFIER_LENGTH}{_where()}"
        )
    if value and value.isspace():
        raise InvalidAssetError(f"Asset {what} {value!r} cannot be just whitespace{_where()}")
    if not value.isascii():
        raise InvalidAssetError(f"Asset {what} {value!r} must only consist of ASCII characters{_where()}")
    return value


def normalize_uri(uri: str) -> str:
    """Airflow's URI sanitation: a plain string (no scheme, no host) is kept as it is.

    Raises :class:`InvalidAssetError` for the reserved ``airflow`` scheme.
    """
    parts = urllib.parse.urlsplit(uri)
    if not parts.scheme and not parts.netloc:
        return uri
    scheme = parts.scheme.lower()
    if not scheme or scheme.startswith("x-"):
        return uri
    if scheme == "airflow":
        raise InvalidAssetError(f"Asset uri {uri!r}: the 'airflow' scheme is reserved{_where()}")
    _, had_auth, netloc = parts.netloc.rpartition("@")
    if had_auth:
        warnings.warn(
            f"Asset uri {uri!r} contains user info (user name or password); it has been dropped",
            UserWarning,
            stacklevel=4,
        )
    query = urllib.parse.urlencode(sorted(urllib.parse.parse_qsl(parts.query))) if parts.query else ""
    path = parts.path.rstrip("/") or "/"
    return urllib.parse.urlunsplit((scheme, netloc, path, query, ""))


# --------------------------------------------------------------------------- expressions
class BaseAsset:
    """Anything that can be a DAG's ``schedule`` condition: an asset or ``&``/``|`` of them."""

    def __bool__(self) -> bool:
        return True

    def __and__(self, other: Any) -> "BaseAsset":
        return AssetAll(self, _operand(other, self, "&"))

    def __or__(self, other: Any) -> "BaseAsset":
        return AssetAny(self, _operand(other, self, "|"))

    def __rand__(self, other: Any) -> "BaseAsset":
        return AssetAll(_operand(other, self, "&"), self)

    def __ror__(self, other: Any) -> "BaseAsset":
        return AssetAny(_operand(other, self, "|"), self)

    def evaluate(self, ready: Iterable[AssetKey] | set[AssetKey], aliases: AliasResolution | None = None) -> bool:
        """True when the condition holds, given the assets updated since the last run and what
        each alias in the expression resolves to (an alias missing from ``aliases`` resolves to
        nothing, so it is false)."""
        raise NotImplementedError

    def iter_assets(self) -> Iterator["Asset"]:
        """Every asset the expression mentions, first occurrence first, no repeats."""
        raise NotImplementedError

    def iter_aliases(self) -> Iterator["AssetAlias"]:
        """Every alias the expression mentions, first occurrence first, no repeats."""
        return iter(())

    def iter_refs(self) -> Iterator["AssetRef"]:
        """Every ``Asset.ref(...)`` the expression mentions, first occurrence first, no repeats."""
        return iter(())

    def as_expression(self) -> dict[str, Any]:
        """JSON form for the snapshot; :func:`condition_from_expression` is the inverse."""
        raise NotImplementedError


def _operand(value: Any, left: BaseAsset, op: str) -> BaseAsset:
    if isinstance(value, BaseAsset):
        return value
    raise InvalidScheduleError(
        f"cannot combine {left!r} with {value!r} ({type(value).__name__}) using {op!r}: "
        "only Asset, AssetAlias, AssetAll and AssetAny (or Dataset) can be combined"
    )


class Asset(os.PathLike, BaseAsset):
    """A piece of data that tasks produce (``outlets``) and DAGs are scheduled on.

    ``Asset(name=None, uri=None, *, group="asset", extra=None)``: give a name, a uri or both;
    the missing one takes the other's value (as in Airflow 3). Equality and hashing use the
    name and the uri, so ``Asset("x") == Asset("x", extra={"a": 1})``.
    """

    asset_type: ClassVar[str] = "asset"

    def __init__(
        self,
        name: str | None = None,
        uri: str | None = None,
        *,
        group: str | None = None,
        extra: dict[str, Any] | None = None,
        watchers: Iterable["AssetWatcher"] | None = None,
    ) -> None:
        if type(uri).__name__ == "ObjectStoragePath" and callable(getattr(uri, "serialize", None)):
            # Airflow 3 takes an ObjectStoragePath as the uri (docs/object-storage.md): its URL without the
            # connection id, which user info in an asset uri would be dropped as anyway.
            uri = uri.serialize()["path"]
        if name is None and uri is None:
            raise InvalidAssetError(f"Asset() needs a name or a uri{_where()}")
        if name is None:
            name = uri
        elif uri is None:
            uri = name
        self.name = _check_identifier(name, "name")
        if self.name in _RESERVED_NAMES:
            raise InvalidAssetError(f"Asset name {self.name!r} is reserved; choose another name{_where()}")
        self.uri = normalize_uri(_check_identifier(uri, "uri"))
        self.group = _check_identifier(group, "group", empty_ok=True) if group else self.asset_type
        if extra is not None and not isinstance(extra, Mapping):
            raise InvalidAssetError(f"Asset {self.name!r}: extra must be a dict, got {type(extra).__name__}{_where()}")
        self.extra: dict[str, Any] = dict(extra or {})
        self.watchers: list[AssetWatcher] = _check_watchers(watchers, self.name)

    @staticmethod
    def ref(*, name: str = "", uri: str = "") -> "AssetRef":
        """A reference to an asset defined elsewhere, by name or by uri (not both), resolved
        when the schedule is evaluated: ``schedule=Asset.ref(name="orders")``."""
        if name and uri:
            raise InvalidAssetError("Asset.ref() takes a name or a uri, not both")
        if name:
            return AssetNameRef(name)
        if uri:
            return AssetUriRef(uri)
        raise InvalidAssetError("Asset.ref() needs name=... or uri=...")

    @property
    def key(self) -> AssetKey:
        return AssetKey(self.name, self.uri)

    def __fspath__(self) -> str:
        return self.uri

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Asset):
            return NotImplemented
        return self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        if self.name == self.uri:
            return f"Asset({self.name!r})"
        return f"Asset(name={self.name!r}, uri={self.uri!r})"

    def evaluate(self, ready: Iterable[AssetKey] | set[AssetKey], aliases: AliasResolution | None = None) -> bool:
        return self.key in ready

    def iter_assets(self) -> Iterator["Asset"]:
        yield self

    def as_expression(self) -> dict[str, Any]:
        return {"asset": self.to_dict()}

    def to_dict(self) -> dict[str, Any]:
        """The asset as stored in snapshots (task outlets, schedule conditions); ``watchers``
        only when it has some (so other assets' snapshots, and their hashes, stay as they were)."""
        data = {"name": self.name, "uri": self.uri, "group": self.group, "extra": self.extra}
        if self.watchers:
            data["watchers"] = [w.to_dict() for w in self.watchers]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Asset":
        watchers = [AssetWatcher.from_dict(w) for w in data.get("watchers") or ()]
        return cls(name=data["name"], uri=data["uri"], group=data.get("group"), extra=data.get("extra"),
                   watchers=watchers or None)


#: Airflow 2's name for an asset.
Dataset = Asset


class AssetWatcher:
    """``AssetWatcher(name, trigger)`` in ``Asset(..., watchers=[...])``: while a DAG is scheduled
    on the asset, the triggerer runs ``trigger`` and each event it yields is an event of the
    asset (``extra={"from_trigger": True, "payload": <the event's payload>}``, as in Airflow 3).
    The trigger must be an event trigger (``BaseEventTrigger``), as Airflow requires."""

    def __init__(self, name: str, trigger: Any) -> None:
        from tradewind.definition.triggers.base import BaseTrigger
        from tradewind.definition.triggers.event import BaseEventTrigger

        self.name = _check_identifier(name, "watcher name")
        if isinstance(trigger, Mapping):  # the stored form: {"classpath": ..., "kwargs": ...}
            if not isinstance(trigger.get("classpath"), str):
                raise InvalidAssetError(f"AssetWatcher {name!r}: a stored trigger needs a classpath, got {trigger!r}")
            self.trigger: Any = {"classpath": trigger["classpath"], "kwargs": dict(trigger.get("kwargs") or {})}
            return
        if not isinstance(trigger, BaseTrigger):
            raise InvalidAssetError(f"AssetWatcher {name!r}: trigger must be a trigger object, got {trigger!r} "
                                    f"({type(trigger).__name__}){_where()}")
        if not isinstance(trigger, BaseEventTrigger):
            raise InvalidAssetError(
                f"AssetWatcher {name!r}: the trigger used to watch an asset must inherit BaseEventTrigger; "
                f"{type(trigger).__name__} does not (a task trigger would fire again at once for a "
                f"condition that still holds){_where()}")
        self.trigger = trigger

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "trigger": {"classpath", "kwargs"}}``, kwargs in the trigger table's form."""
        if isinstance(self.trigger, dict):
            return {"name": self.name, "trigger": dict(self.trigger)}
        from tradewind.definition.triggers.base import encode_value

        classpath, kwargs = self.trigger.serialize()
        stored = encode_value(kwargs, f"the kwargs of AssetWatcher {self.name!r}'s trigger")
        return {"name": self.name, "trigger": {"classpath": classpath, "kwargs": stored}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AssetWatcher":
        return cls(data["name"], data["trigger"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AssetWatcher):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by content

    def __repr__(self) -> str:
        return f"AssetWatcher({self.name!r}, {self.trigger!r})"


def _check_watchers(watchers: Any, asset_name: str) -> list[AssetWatcher]:
    if watchers is None:
        return []
    if isinstance(watchers, (str, bytes, Mapping)) or not isinstance(watchers, Iterable):
        raise InvalidAssetError(f"Asset {asset_name!r}: watchers must be a list of AssetWatcher, got {watchers!r}")
    checked = list(watchers)
    for position, watcher in enumerate(checked):
        if not isinstance(watcher, AssetWatcher):
            raise InvalidAssetError(f"Asset {asset_name!r}: watchers item {position} is {watcher!r} "
                                    f"({type(watcher).__name__}), not an AssetWatcher{_where()}")
    names = [w.name for w in checked]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidAssetError(f"Asset {asset_name!r}: watcher names must be unique, repeated: {duplicates}")
    return checked


class AssetRef(BaseAsset):
    """``Asset.ref(name=...)`` / ``Asset.ref(uri=...)``: an asset named in a schedule or in inlets
    without its definition; it stands for whichever asset has that name (or uri) when the
    schedule is evaluated (an unknown one is simply never updated)."""

    field: ClassVar[str] = ""

    def __init__(self, value: str) -> None:
        self.value = _check_identifier(value, f"reference {self.field}")

    def matches(self, key: AssetKey) -> bool:
        raise NotImplementedError

    def evaluate(self, ready: Iterable[AssetKey] | set[AssetKey], aliases: AliasResolution | None = None) -> bool:
        return any(self.matches(key) for key in ready)

    def iter_assets(self) -> Iterator[Asset]:
        return iter(())

    def iter_refs(self) -> Iterator["AssetRef"]:
        yield self

    def as_expression(self) -> dict[str, Any]:
        return {"asset_ref": self.to_dict()}  # Airflow 3's form

    def to_dict(self) -> dict[str, Any]:
        return {self.field: self.value}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AssetRef):
            return NotImplemented
        return type(self) is type(other) and self.value == other.value

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.field}={self.value!r})"


class AssetNameRef(AssetRef):
    """``Asset.ref(name=...)``: the asset of that name."""

    field = "name"

    @property
    def name(self) -> str:
        return self.value

    def matches(self, key: AssetKey) -> bool:
        return key.name == self.value


class AssetUriRef(AssetRef):
    """``Asset.ref(uri=...)``: the asset of that uri (normalised as an Asset's uri is)."""

    field = "uri"

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = normalize_uri(self.value)

    @property
    def uri(self) -> str:
        return self.value

    def matches(self, key: AssetKey) -> bool:
        return key.uri == self.value


class AssetAlias(BaseAsset):
    """A name a task lists in ``outlets`` and resolves to concrete assets while it runs.

    ``AssetAlias(name, group="asset")``. In a task: ``outlet_events[alias].add(Asset(...),
    extra={...})`` or ``yield Metadata(asset, extra, alias=alias)`` records an event for that
    asset (created if unknown) with the alias as its source. In a schedule
    (``schedule=[AssetAlias("x")]``, combinable with ``&``/``|``) it is true when an asset
    the alias resolves to (one ever added through it) has an event queued for the DAG.
    Two aliases are the same alias when their names match (the name is unique).
    """

    def __init__(self, name: str, group: str = "asset") -> None:
        self.name = _check_identifier(name, "alias name")
        self.group = _check_identifier(group, "alias group", empty_ok=True) if group else "asset"

    @property
    def key(self) -> AssetAliasKey:
        return AssetAliasKey(self.name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AssetAlias):
            return NotImplemented
        return self.name == other.name

    def __hash__(self) -> int:
        return hash(("alias", self.name))

    def __repr__(self) -> str:
        return f"AssetAlias({self.name!r})" if self.group == "asset" else \
            f"AssetAlias({self.name!r}, group={self.group!r})"

    def evaluate(self, ready: Iterable[AssetKey] | set[AssetKey], aliases: AliasResolution | None = None) -> bool:
        resolved = (aliases or {}).get(self.name, ())
        ready_set = ready if isinstance(ready, (set, frozenset)) else set(ready)
        return any(key in ready_set for key in resolved)

    def iter_assets(self) -> Iterator[Asset]:
        return iter(())

    def iter_aliases(self) -> Iterator["AssetAlias"]:
        yield self

    def as_expression(self) -> dict[str, Any]:
        return {"alias": {"name": self.name, "group": self.group}}  # Airflow 3's form

    def to_dict(self) -> dict[str, Any]:
        """The alias as stored in snapshots and sent to the try store: ``{"alias": name, "group"}``
        (the ``alias`` key tells it from an asset's dict)."""
        return {"alias": self.name, "group": self.group}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AssetAlias":
        return cls(name=data["alias"], group=data.get("group") or "asset")


#: Airflow 2.10's name for an asset alias.
DatasetAlias = AssetAlias


class _AssetBooleanCondition(BaseAsset):
    """``AssetAll``/``AssetAny``: a combination of assets and nested conditions."""

    kind: ClassVar[str] = ""

    def __init__(self, *objects: BaseAsset) -> None:
        for position, obj in enumerate(objects):
            if not isinstance(obj, BaseAsset):
                raise InvalidScheduleError(
                    f"{type(self).__name__} item {position} is {obj!r} ({type(obj).__name__}), "
                    "not an Asset, AssetAlias, AssetAll or AssetAny"
                )
        if not objects:
            raise InvalidScheduleError(f"{type(self).__name__}() needs at least one asset")
        self.objects: list[BaseAsset] = list(objects)

    def _combine(self, values: Iterator[bool]) -> bool:
        raise NotImplementedError

    def evaluate(self, ready: Iterable[AssetKey] | set[AssetKey], aliases: AliasResolution | None = None) -> bool:
        ready_set = ready if isinstance(ready, (set, frozenset)) else set(ready)
        return self._combine(obj.evaluate(ready_set, aliases) for obj in self.objects)

    def iter_assets(self) -> Iterator[Asset]:
        seen: set[AssetKey] = set()
        for obj in self.objects:
            for asset in obj.iter_assets():
                if asset.key not in seen:
                    seen.add(asset.key)
                    yield asset

    def iter_aliases(self) -> Iterator["AssetAlias"]:
        seen: set[str] = set()
        for obj in self.objects:
            for alias in obj.iter_aliases():
                if alias.name not in seen:
                    seen.add(alias.name)
                    yield alias

    def iter_refs(self) -> Iterator["AssetRef"]:
        seen: set[AssetRef] = set()
        for obj in self.objects:
            for ref in obj.iter_refs():
                if ref not in seen:
                    seen.add(ref)
                    yield ref

    def as_expression(self) -> dict[str, Any]:
        return {self.kind: [obj.as_expression() for obj in self.objects]}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _AssetBooleanCondition):
            return NotImplemented
        return type(self) is type(other) and self.objects == other.objects

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(map(hash, self.objects))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.objects))})"


class AssetAll(_AssetBooleanCondition):
    """True when every member is: ``a & b``; also what ``schedule=[a, b]`` means."""

    kind = "all"

    def _combine(self, values: Iterator[bool]) -> bool:
        return all(values)

    def __and__(self, other: Any) -> BaseAsset:
        # (a & b) & c is a & b & c: keep the expression flat.
        return AssetAll(*self.objects, _operand(other, self, "&"))


class AssetAny(_AssetBooleanCondition):
    """True when at least one member is: ``a | b``."""

    kind = "any"

    def _combine(self, values: Iterator[bool]) -> bool:
        return any(values)

    def __or__(self, other: Any) -> BaseAsset:
        return AssetAny(*self.objects, _operand(other, self, "|"))


DatasetAll = AssetAll
DatasetAny = AssetAny


def condition_from_expression(data: Mapping[str, Any]) -> BaseAsset:
    """Inverse of :meth:`BaseAsset.as_expression`."""
    if "asset" in data:
        return Asset.from_dict(data["asset"])
    if "alias" in data:
        return AssetAlias(name=data["alias"]["name"], group=data["alias"].get("group") or "asset")
    if "asset_ref" in data:
        ref = data["asset_ref"]
        return AssetNameRef(ref["name"]) if "name" in ref else AssetUriRef(ref["uri"])
    if "all" in data:
        return AssetAll(*(condition_from_expression(d) for d in data["all"]))
    if "any" in data:
        return AssetAny(*(condition_from_expression(d) for d in data["any"]))
    raise InvalidScheduleError(f"unknown serialized asset expression {dict(data)!r}")


def asset_condition(schedule: Any) -> BaseAsset | None:
    """The asset condition a ``schedule`` value stands for, or None if it is not about assets.

    A list/tuple means "all of them" (AssetAll); every item must be an asset or a condition.
    Raises :class:`InvalidScheduleError` naming the offending item.
    """
    if isinstance(schedule, BaseAsset):
        return schedule
    if isinstance(schedule, (list, tuple)):
        if not schedule:
            raise InvalidScheduleError("schedule is an empty list; give assets, or None for manual runs only")
        for position, item in enumerate(schedule):
            if not isinstance(item, BaseAsset):
                raise InvalidScheduleError(
                    f"schedule list item {position} is {item!r} ({type(item).__name__}); a schedule list "
                    "may only hold assets (Asset, AssetAlias, Asset.ref(...), AssetAll, AssetAny)"
                )
        return schedule[0] if len(schedule) == 1 else AssetAll(*schedule)
    return None


# --------------------------------------------------------------------------- timetables
class AssetTriggeredTimetable(Timetable):
    """``schedule=<assets>``: runs are created when the asset condition holds, never by time."""

    type_name = "asset"

    def __init__(self, condition: BaseAsset) -> None:
        self.asset_condition = condition

    @property
    def summary(self) -> str:
        return "Asset"

    def next_dagrun_info(self, *, last_automated_data_interval, restriction, now=None):
        return None

    def serialize(self) -> dict[str, Any]:
        return {"__type": self.type_name, "condition": self.asset_condition.as_expression()}

    @staticmethod
    def data_interval_for_events(timestamps: Iterable[datetime], at: datetime) -> DataInterval:
        """The run covers the span of its triggering events (``[at, at]`` without events)."""
        stamps = sorted(timestamps)
        if not stamps:
            return DataInterval.exact(at)
        return DataInterval(stamps[0], stamps[-1])


class AssetOrTimeSchedule(AssetTriggeredTimetable):
    """Runs on the ``timetable``'s times *and* whenever the ``assets`` condition holds."""

    type_name = "asset_or_time"

    def __init__(self, *, timetable: Timetable, assets: Any) -> None:
        if not isinstance(timetable, Timetable):
            raise InvalidScheduleError(
                f"AssetOrTimeSchedule timetable must be a Timetable, got {timetable!r} ({type(timetable).__name__})"
            )
        condition = asset_condition(assets)
        if condition is None:
            raise InvalidScheduleError(
                f"AssetOrTimeSchedule assets must be an asset, a condition or a list of assets, got {assets!r}"
            )
        super().__init__(condition)
        self.timetable = timetable
        self.periodic = timetable.periodic

    @property
    def summary(self) -> str:
        return f"Asset or {self.timetable.summary}"

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        return self.timetable.next_dagrun_info(
            last_automated_data_interval=last_automated_data_interval, restriction=restriction, now=now
        )

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return self.timetable.infer_manual_data_interval(run_after=run_after)

    def serialize(self) -> dict[str, Any]:
        return {**super().serialize(), "timetable": self.timetable.serialize()}


def timetable_for_schedule(schedule: Any) -> AssetTriggeredTimetable | None:
    """The timetable of an asset ``schedule`` value (None when the value is not about assets)."""
    condition = asset_condition(schedule)
    return None if condition is None else AssetTriggeredTimetable(condition)


def timetable_from_asset_dict(data: Mapping[str, Any]) -> AssetTriggeredTimetable | None:
    """Inverse of the asset timetables' ``serialize`` (None for other timetable types)."""
    from tradewind.definition.timetables import timetable_from_dict

    kind = data.get("__type")
    if kind == AssetTriggeredTimetable.type_name:
        return AssetTriggeredTimetable(condition_from_expression(data["condition"]))
    if kind == AssetOrTimeSchedule.type_name:
        return AssetOrTimeSchedule(
            timetable=timetable_from_dict(data["timetable"]), assets=condition_from_expression(data["condition"])
        )
    return None


def outlet_assets(outlets: Iterable[Any]) -> list[Asset]:
    """The assets among a task's ``outlets`` (other lineage objects are not assets)."""
    return [o for o in outlets or () if isinstance(o, Asset)]


def outlet_aliases(outlets: Iterable[Any]) -> list[AssetAlias]:
    """The asset aliases among a task's ``outlets``, without repeats."""
    return list(dict.fromkeys(o for o in outlets or () if isinstance(o, AssetAlias)))


def _names(text: str, name: str, uri: str) -> bool:
    """Whether ``text`` is the asset's name or its uri (as written, or once normalised)."""
    if text in (name, uri):
        return True
    try:
        return normalize_uri(text) == uri
    except InvalidAssetError:
        return False


# --------------------------------------------------------------------------- runtime side
# Defined in asset_events.py (which needs the classes above), re-exported here: DAG files, the
# runner and the ``airflow`` shims import them from this module.
from tradewind.definition.asset_events import (  # noqa: E402
    AssetAliasEvent,
    AssetEvent,
    InletEventAccessors,
    Metadata,
    OutletEventAccessor,
    OutletEventAccessors,
    TriggeringAssetEvents,
    collect_metadata,
)
