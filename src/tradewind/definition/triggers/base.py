"""The trigger contract: what a deferred task waits on, run by the triggerer.

A trigger is a small object whose ``async def run()`` waits (sleeping, polling a file, an
API...) and yields a :class:`TriggerEvent` when the condition is met. It must be cheap to
keep thousands of in one asyncio event loop: never block the loop (no ``time.sleep``, no
blocking I/O without ``asyncio.to_thread``).

A trigger travels through the database as ``serialize() -> (classpath, kwargs)``; the
triggerer rebuilds it with ``import(classpath)(**kwargs)``, so the kwargs must be what
``__init__`` takes. Kwargs, the operator's ``next_kwargs`` and event payloads are stored as
JSON; :func:`encode_value` / :func:`decode_value` also carry ``datetime`` and
``timedelta`` through (tagged objects), and anything else that JSON cannot hold is refused
with an error naming it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "BaseTrigger",
    "FAIL_METHOD",
    "TRIGGER_FAILURE",
    "TRIGGER_TIMEOUT",
    "TriggerEvent",
    "TriggerSerializationError",
    "decode_value",
    "encode_value",
    "load_trigger",
]

#: ``next_method`` meaning "the wait failed": the resumed task raises instead of continuing.
FAIL_METHOD = "__fail__"
#: ``next_kwargs["error"]`` when the deferral's timeout passed (-> ``TaskDeferralTimeout``).
TRIGGER_TIMEOUT = "Trigger timeout"
#: ``next_kwargs["error"]`` when the trigger raised or could not be loaded (-> ``TaskDeferralError``).
TRIGGER_FAILURE = "Trigger failure"

_TAG = "__tw_type"


class TriggerSerializationError(TypeError):
    """A value cannot be stored with a trigger, its event or the resume kwargs; the message says which."""


class TriggerEvent:
    """What a trigger yields when its condition is met; ``payload`` reaches the resumed
    method as its ``event`` argument (JSON values, datetimes and timedeltas)."""

    __slots__ = ("payload",)

    def __init__(self, payload: Any) -> None:
        self.payload = payload

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TriggerEvent) and other.payload == self.payload

    def __hash__(self) -> int:
        return hash(repr(self.payload))

    def __repr__(self) -> str:
        return f"TriggerEvent<{self.payload!r}>"


class BaseTrigger:
    """Base class of triggers. Subclasses implement :meth:`serialize` and :meth:`run`.

    ``task_instance`` is set by the triggerer to a light description of the deferred
    instance (dag_id, task_id, run_id, map_index), for logging.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.task_instance: Any = None
        self.trigger_id: int | None = None

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"tradewind.triggers.{type(self).__name__}")

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """``(classpath, kwargs)`` such that ``import(classpath)(**kwargs)`` rebuilds this trigger."""
        raise NotImplementedError(f"{type(self).__name__} must implement serialize()")

    def run(self) -> AsyncIterator[TriggerEvent]:
        """An async generator: wait for the condition, then ``yield TriggerEvent(payload)``.

        Only the first event counts (the deferred task resumes once); an exception fails the
        task with ``TaskDeferralError`` (retries apply).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement async def run()")

    async def cleanup(self) -> None:
        """Called once the trigger is done (fired, failed or cancelled): release resources."""

    def __repr__(self) -> str:
        try:
            classpath, kwargs = self.serialize()
        except Exception:  # noqa: BLE001 - repr must not raise
            return f"<{type(self).__name__}>"
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        return f"<{classpath.rsplit('.', 1)[-1]} {args}>"


def classpath_of(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


# ---------------------------------------------------------------------------- storage form
def encode_value(value: Any, where: str = "value") -> Any:
    """``value`` as JSON-storable data (datetimes and timedeltas tagged); raise
    :class:`TriggerSerializationError` naming ``where`` for anything else."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TriggerSerializationError(f"{where} is a naive datetime ({value!r}); make it timezone-aware")
        return {_TAG: "datetime", "value": value.isoformat()}
    if isinstance(value, timedelta):
        return {_TAG: "timedelta", "value": value.total_seconds()}
    if isinstance(value, (list, tuple)):
        return [encode_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TriggerSerializationError(f"{where} has a non-string key {key!r}; keys must be strings")
            out[key] = encode_value(item, f"{where}[{key!r}]")
        return out
    raise TriggerSerializationError(
        f"{where} is a {type(value).__name__} ({value!r:.80}); only JSON values, datetime and timedelta "
        "can be stored")


def decode_value(value: Any) -> Any:
    """The inverse of :func:`encode_value`."""
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if isinstance(value, dict):
        tag = value.get(_TAG)
        if tag == "datetime":
            return datetime.fromisoformat(value["value"])
        if tag == "timedelta":
            return timedelta(seconds=value["value"])
        return {k: decode_value(v) for k, v in value.items()}
    return value


def load_trigger(classpath: str, kwargs: dict[str, Any] | None) -> BaseTrigger:
    """Rebuild a stored trigger; raise ``ImportError``/``TypeError`` naming the classpath."""
    module_name, _, name = classpath.rpartition(".")
    if not module_name:
        raise ImportError(f"trigger classpath {classpath!r} is not 'module.Class'")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise ImportError(f"cannot import trigger class {classpath!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseTrigger)):
        raise TypeError(f"{classpath!r} is not a BaseTrigger subclass")
    try:
        return cls(**decode_value(kwargs or {}))
    except TypeError as exc:
        raise TypeError(f"cannot rebuild trigger {classpath} from its stored kwargs: {exc}") from exc
