"""Running asset watchers in the triggerer (``Asset(..., watchers=[AssetWatcher(name, trigger)])``).

A watcher's row (see :mod:`tradewind.persist.queries.asset_watchers`) is taken by a triggerer
like any trigger; instead of waiting for one event, :func:`watch` runs the trigger for as long
as the row is assigned here: every :class:`TriggerEvent` becomes a :class:`WatcherEvent`,
which the triggerer's main thread records as an event of the asset (:func:`record_watcher_events`,
``extra={"from_trigger": True, "payload": <payload>}`` as Airflow 3 stores it), queued for the
DAGs scheduled on the asset. When the trigger's ``run()`` ends (an event trigger usually ends
after its event) it is built again from its stored kwargs and started over, as Airflow's
triggerer does; a trigger that raises is logged and restarted after ``retry_delay`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tradewind.definition.assets import AssetKey
from tradewind.definition.triggers.base import TriggerEvent, encode_value, load_trigger

log = logging.getLogger(__name__)

__all__ = ["WatcherEvent", "record_watcher_events", "watch"]


@dataclass(frozen=True)
class WatcherEvent:
    """One event of a watcher's trigger: the watched asset (its dict) and the payload (stored form)."""

    trigger_id: int
    asset: Mapping[str, Any]
    watcher: str
    payload: Any


def _describe(kwargs: Mapping[str, Any]) -> str:
    asset = kwargs.get("asset") or {}
    return f"watcher {kwargs.get('watcher')!r} of asset {asset.get('name')!r}"


async def _run_once(trigger_id: int, kwargs: Mapping[str, Any], report: Callable[[WatcherEvent], None]) -> int:
    """Run the watcher's trigger until its ``run()`` ends; returns how many events it reported."""
    trigger = load_trigger(kwargs["classpath"], kwargs.get("kwargs"))
    trigger.trigger_id = trigger_id
    fired = 0
    gen = trigger.run()
    try:
        async for event in gen:
            if not isinstance(event, TriggerEvent):
                log.warning("%s yielded %s, not a TriggerEvent: ignored", _describe(kwargs), type(event).__name__)
                continue
            try:
                payload = encode_value(event.payload, "the event's payload")
            except TypeError as exc:
                log.error("%s: its event cannot be stored (%s): ignored", _describe(kwargs), exc)
                continue
            report(WatcherEvent(trigger_id, kwargs["asset"], kwargs.get("watcher", ""), payload))
            fired += 1
    finally:
        try:
            await gen.aclose()
        except Exception:  # noqa: BLE001
            log.warning("closing %s failed", _describe(kwargs), exc_info=True)
        try:
            await trigger.cleanup()
        except Exception:  # noqa: BLE001 - a cleanup error must not stop the watcher
            log.warning("cleanup of %s failed", _describe(kwargs), exc_info=True)
    return fired


async def watch(trigger_id: int, kwargs: Mapping[str, Any], report: Callable[[WatcherEvent], None], *,
                retry_delay: float = 5.0, idle_restart_delay: float = 1.0) -> None:
    """Run the watcher until cancelled (its row is no longer this triggerer's, or it stops)."""
    log.info("Starting %s (%s)", _describe(kwargs), kwargs.get("classpath"))
    while True:
        try:
            fired = await _run_once(trigger_id, kwargs, report)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - trigger code may raise anything; the watcher keeps watching
            log.exception("%s failed; restarting it in %.0f s", _describe(kwargs), retry_delay)
            await asyncio.sleep(retry_delay)
            continue
        # A run() that ended without an event is restarted too, but not in a tight loop.
        await asyncio.sleep(0 if fired else idle_restart_delay)


def record_watcher_events(db: Any, events: Iterable[WatcherEvent], now: datetime) -> int:
    """Record the events as asset events (queued for the assets' consumers), in one transaction,
    and wake the scheduler. Returns how many were recorded."""
    from tradewind.persist.queries.assets import record_asset_events
    from tradewind.schedule.wakeup import notify_scheduler

    events = list(events)
    if not events:
        return 0
    with db.session_scope() as session:
        for event in events:
            asset = dict(event.asset)
            key = AssetKey(asset["name"], asset["uri"])
            record_asset_events(session, [asset], extras={key: {"from_trigger": True, "payload": event.payload}},
                                now=now)
    for event in events:
        log.info("Asset %r updated by %s", event.asset.get("name"), f"watcher {event.watcher!r}")
    notify_scheduler(db)
    return len(events)
