"""What a running task sees of assets: ``outlet_events`` (with ``AssetAlias.add``), the
``Metadata`` a task yields, and the events in ``triggering_asset_events`` / ``inlet_events``.

Pure Python, like :mod:`tradewind.definition.assets` (which re-exports every name here, the
place DAG files and the ``airflow`` shims import them from).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


__all__ = [
    "AssetAliasEvent",
    "AssetEvent",
    "InletEventAccessors",
    "Metadata",
    "OutletEventAccessor",
    "OutletEventAccessors",
    "TriggeringAssetEvents",
    "collect_metadata",
]


# --------------------------------------------------------------------------- outlet_events
@dataclass(frozen=True)
class AssetAliasEvent:
    """An asset added to an outlet alias while the task ran (one per ``add`` call)."""

    source_alias_name: str
    asset: Asset
    extra: dict[str, Any]

    @property
    def dest_asset_key(self) -> AssetKey:
        return self.asset.key


class OutletEventAccessor:
    """``outlet_events[asset]``: what the task's asset event for ``asset`` will carry;
    ``outlet_events[alias]``: the assets the task adds through that alias (:meth:`add`)."""

    def __init__(self, key: AssetKey | AssetAliasKey, extra: dict[str, Any] | None = None,
                 *, declared: bool = True) -> None:
        self.key = key
        self.extra: dict[str, Any] = dict(extra or {})
        self.asset_alias_events: list[AssetAliasEvent] = []
        #: False for an alias not in the task's ``outlets``: what is added to it is not recorded.
        self._declared = declared

    def add(self, asset: Any, extra: Mapping[str, Any] | None = None) -> None:
        """Record an event for ``asset`` through this alias when the task succeeds (the asset is
        created if unknown). Only an alias's accessor has assets added to it."""
        if not isinstance(self.key, AssetAliasKey):
            # Airflow ignores add() on an asset's accessor; say so instead of doing it silently.
            warnings.warn(f"outlet_events[{self.key.name!r}].add({asset!r}) ignored: only an AssetAlias "
                          "outlet's events can have assets added", UserWarning, stacklevel=2)
            return
        if isinstance(asset, str):
            asset = Asset(asset)
        if not isinstance(asset, Asset):
            raise InvalidAssetError(f"outlet_events[AssetAlias({self.key.name!r})].add() takes an Asset, "
                                    f"got {asset!r} ({type(asset).__name__})")
        if extra is not None and not isinstance(extra, Mapping):
            raise InvalidAssetError(f"outlet_events[AssetAlias({self.key.name!r})].add(): extra must be a dict, "
                                    f"got {type(extra).__name__}")
        if not self._declared:
            warnings.warn(f"AssetAlias({self.key.name!r}) is not in the task's outlets: the event for {asset!r} "
                          "added through it will not be recorded", UserWarning, stacklevel=2)
        self.asset_alias_events.append(AssetAliasEvent(self.key.name, asset, dict(extra or {})))

    def __repr__(self) -> str:
        return f"OutletEventAccessor(key={tuple(self.key)!r}, extra={self.extra!r})"


class _ForAssetMixin:
    """Airflow 3's ``for_asset(name=, uri=)`` and ``for_asset_alias(name=)`` lookups (also usable
    in templates: ``{{ inlet_events.for_asset(uri='s3://...')[-1].extra }}``)."""

    def for_asset(self, *, name: str | None = None, uri: str | None = None) -> Any:
        if name and uri:
            return self[Asset(name=name, uri=uri)]  # type: ignore[index]
        if name or uri:
            return self[name or uri]  # type: ignore[index]
        raise ValueError("for_asset() needs a name or a uri")

    def for_asset_alias(self, *, name: str) -> Any:
        return self[AssetAlias(name)]  # type: ignore[index]


class OutletEventAccessors(_ForAssetMixin, Mapping[Any, OutletEventAccessor]):
    """``context["outlet_events"]``: one accessor per outlet asset or alias, looked up by the asset
    (or its name/uri) or by the alias (or its name).

    The runner reads :meth:`extras` after a successful try to fill each asset event's ``extra``
    (the asset's own ``extra`` first, then what the task set), and :meth:`alias_events` for the
    events emitted through the task's outlet aliases.
    """

    def __init__(self, outlets: Iterable[Any] = ()) -> None:
        outlets = list(outlets or ())
        self._assets: dict[AssetKey, Asset] = {a.key: a for a in outlet_assets(outlets)}
        self._aliases: dict[str, AssetAlias] = {a.name: a for a in outlet_aliases(outlets)}
        self._accessors: dict[AssetKey | AssetAliasKey, OutletEventAccessor] = {}

    def _key(self, item: Any) -> AssetKey | AssetAliasKey:
        if isinstance(item, Asset):
            return item.key
        if isinstance(item, AssetAlias):
            return item.key
        if isinstance(item, str):
            for key in self._assets:
                if _names(item, key.name, key.uri):
                    return key
            if item in self._aliases:  # Airflow 2.10 looked aliases up by name
                return AssetAliasKey(item)
            return AssetKey(item, normalize_uri(item))
        raise KeyError(f"outlet_events keys are assets or asset aliases (or their names/uris), got {item!r}")

    def __getitem__(self, item: Any) -> OutletEventAccessor:
        key = self._key(item)
        accessor = self._accessors.get(key)
        if accessor is None:
            declared = not isinstance(key, AssetAliasKey) or key.name in self._aliases
            accessor = self._accessors[key] = OutletEventAccessor(key, declared=declared)
        return accessor

    def __iter__(self) -> Iterator[AssetKey | AssetAliasKey]:
        return iter(self._accessors)

    def __len__(self) -> int:
        return len(self._accessors)

    def extras(self) -> dict[AssetKey, dict[str, Any]]:
        """The extra set for each asset the task touched through this mapping."""
        return {key: dict(acc.extra) for key, acc in self._accessors.items() if isinstance(key, AssetKey)}

    def alias_events(self) -> list[dict[str, Any]]:
        """The events to record through the task's outlet aliases (aliases not in ``outlets`` are
        left out, as in Airflow): ``{"alias": alias dict, "asset": asset dict, "extra": {...}}``."""
        return [
            {"alias": self._aliases[key.name].to_dict(), "asset": event.asset.to_dict(), "extra": dict(event.extra)}
            for key, acc in self._accessors.items() if isinstance(key, AssetAliasKey) and key.name in self._aliases
            for event in acc.asset_alias_events
        ]


class Metadata:
    """``yield Metadata(asset, extra, alias=None)`` from a task: attach ``extra`` to ``asset``'s
    event (Airflow 2.10+). With ``alias``, the event is emitted through that alias, as
    ``outlet_events[alias].add(asset, extra=extra)`` would. ``asset`` may also be given as
    ``target=`` (Airflow 2.10's name) or as a uri string."""

    def __init__(self, asset: Any = None, extra: Mapping[str, Any] | None = None,
                 alias: AssetAlias | str | None = None, *, target: Any = None) -> None:
        if asset is None:
            asset = target
        if isinstance(asset, str):
            asset = Asset(asset)
        if not isinstance(asset, Asset):
            raise InvalidAssetError(f"Metadata() needs an Asset (or a uri string), got {asset!r}")
        if extra is None or not isinstance(extra, Mapping):
            raise InvalidAssetError(f"Metadata({asset!r}): extra must be a dict, got {extra!r}")
        if isinstance(alias, str):
            alias = AssetAlias(alias)
        if alias is not None and not isinstance(alias, AssetAlias):
            raise InvalidAssetError(f"Metadata({asset!r}): alias must be an AssetAlias or its name, got {alias!r}")
        self.asset: Asset = asset
        self.extra: dict[str, Any] = dict(extra)
        self.alias: AssetAlias | None = alias

    @property
    def uri(self) -> str:
        return self.asset.uri

    @property
    def alias_name(self) -> str | None:
        return self.alias.name if self.alias is not None else None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Metadata):
            return NotImplemented
        return (self.asset, self.extra, self.alias) == (other.asset, other.extra, other.alias)

    def __repr__(self) -> str:
        alias = f", alias={self.alias!r}" if self.alias is not None else ""
        return f"Metadata({self.asset!r}, {self.extra!r}{alias})"


def collect_metadata(result: Any, outlet_events: Any, log: Any = None) -> Any:
    """Run a generator a task callable returned, applying each yielded :class:`Metadata` to
    ``outlet_events``; returns the generator's ``return`` value (the task's XCom), as Airflow
    does. Anything else yielded is ignored with a warning. A non-generator passes through."""
    if not inspect.isgenerator(result):
        return result
    while True:
        try:
            item = next(result)
        except StopIteration as stop:
            return stop.value
        if not isinstance(item, Metadata):
            if log is not None:
                log.warning("Ignoring unknown data of %r received from task", type(item))
            continue
        if not isinstance(outlet_events, OutletEventAccessors):
            continue  # no runtime context (a bare call): nothing to attach to
        outlet_events[item.asset].extra.update(item.extra)
        if item.alias is not None:
            outlet_events[item.alias].add(item.asset, extra=item.extra)


# --------------------------------------------------------------------------- events in the context
@dataclass(frozen=True)
class AssetEvent:
    """One update of an asset, as tasks see it (``triggering_asset_events``, ``inlet_events``)."""

    id: int
    asset: Asset
    extra: dict[str, Any]
    timestamp: datetime
    source_dag_id: str | None = None
    source_task_id: str | None = None
    source_run_id: str | None = None
    source_map_index: int | None = None
    #: The aliases the event was emitted through (empty for a plain outlet's event).
    source_aliases: tuple[AssetAlias, ...] = ()

    @property
    def uri(self) -> str:
        return self.asset.uri

    @property
    def name(self) -> str:
        return self.asset.name

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the try store's ``AssetEventInfo`` shape, timestamp as ISO text)."""
        return {
            "id": self.id, **self.asset.to_dict(), "extra": dict(self.extra),
            "timestamp": self.timestamp.isoformat() if isinstance(self.timestamp, datetime) else self.timestamp,
            "source_dag_id": self.source_dag_id, "source_task_id": self.source_task_id,
            "source_run_id": self.source_run_id, "source_map_index": self.source_map_index,
            "source_aliases": [a.to_dict() for a in self.source_aliases],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AssetEvent":
        """Inverse of :meth:`to_dict`; also reads the older form with the asset under ``asset``."""
        asset = data["asset"] if isinstance(data.get("asset"), Mapping) else data
        stamp = data.get("timestamp")
        return cls(
            id=data["id"], asset=Asset(name=asset["name"], uri=asset["uri"], group=asset.get("group")),
            extra=dict(data.get("extra") or {}),
            timestamp=datetime.fromisoformat(stamp) if isinstance(stamp, str) else stamp,
            source_dag_id=data.get("source_dag_id"), source_task_id=data.get("source_task_id"),
            source_run_id=data.get("source_run_id"), source_map_index=data.get("source_map_index"),
            source_aliases=tuple(AssetAlias.from_dict(a) for a in data.get("source_aliases") or ()),
        )


class _EventsByAsset(_ForAssetMixin, Mapping[Any, Any]):
    """A mapping keyed by :class:`Asset` or :class:`AssetAlias`; a name or uri (a string) finds
    an asset, else an alias of that name."""

    def _find(self, item: Any, keys: Iterable[Asset | AssetAlias]) -> Asset | AssetAlias | None:
        keys = list(keys)
        for key in keys:
            if item == key or (isinstance(item, str) and isinstance(key, Asset) and _names(item, key.name, key.uri)):
                return key
        if isinstance(item, str):
            return next((k for k in keys if isinstance(k, AssetAlias) and k.name == item), None)
        return None


class TriggeringAssetEvents(_EventsByAsset):
    """``context["triggering_asset_events"]``: asset -> the events (oldest first) that made this
    asset-triggered run; empty for every other run. As in Airflow 3, an event emitted through
    an alias is also listed under that alias (so the keys may include :class:`AssetAlias`)."""

    def __init__(self, events: Iterable[AssetEvent] = ()) -> None:
        self._events: dict[Asset | AssetAlias, list[AssetEvent]] = {}
        for event in events:
            self._events.setdefault(event.asset, []).append(event)
            for alias in event.source_aliases:
                self._events.setdefault(alias, []).append(event)

    def __getitem__(self, item: Any) -> list[AssetEvent]:
        key = self._find(item, self._events)
        if key is None:
            raise KeyError(item)
        return self._events[key]

    def __iter__(self) -> Iterator[Asset | AssetAlias]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def __repr__(self) -> str:
        return f"TriggeringAssetEvents({self._events!r})"


class InletEventAccessors(_EventsByAsset):
    """``context["inlet_events"]``: for each of the task's ``inlets`` assets or aliases, its events
    (oldest first, ``[-1]`` is the latest; an alias's are those emitted through it), read when
    first asked for through ``load(asset_or_alias)``."""

    def __init__(self, inlets: Iterable[Any], load: Callable[[Any], list[AssetEvent]]) -> None:
        self._inlets = [a for a in inlets if isinstance(a, (Asset, AssetAlias))]
        self._load = load
        self._loaded: dict[Asset | AssetAlias, list[AssetEvent]] = {}

    def __getitem__(self, item: Any) -> list[AssetEvent]:
        key = self._find(item, self._inlets)
        if key is None:
            raise KeyError(f"{item!r} is not one of the task's inlets {self._inlets!r}")
        if key not in self._loaded:
            self._loaded[key] = list(self._load(key))
        return self._loaded[key]

    def __iter__(self) -> Iterator[Asset | AssetAlias]:
        return iter(self._inlets)

    def __len__(self) -> int:
        return len(self._inlets)


# Imported last: assets.py re-exports this module's names from its own last lines, so either
# module may be imported first (every name below is used only inside functions or annotations).
from tradewind.definition.assets import (  # noqa: E402
    Asset,
    AssetAlias,
    AssetAliasKey,
    AssetKey,
    InvalidAssetError,
    _names,
    normalize_uri,
    outlet_aliases,
    outlet_assets,
)
