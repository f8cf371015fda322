"""HITLTrigger: what a human-in-the-loop task waits on while a person decides.

The trigger carries the whole request (subject, body, options, defaults, form params, the
users allowed to answer, the response deadline), so the request is stored in the same
transaction as the deferral, and the schedule layer records it (``hitl_detail``) from there.

A **response** does not go through this trigger: the API/CLI action
(:func:`tradewind.schedule.hitl.respond`) records it and resumes the waiting task at once,
with the same event payload this trigger would send. The trigger only keeps the **deadline**:
at ``timeout_datetime`` it fires with the defaults (``timedout: True``, nobody responded), or,
without defaults, with a timeout error that fails the task (``HITLTimeoutError``), as
Airflow's does. Whichever comes first wins; the other finds the task no longer waiting.

Where a process runs triggers *inline* (``dags test``), nothing cancels the trigger when an
answer resumes its task, so that process installs an answer reader
(:func:`set_response_reader`, see :mod:`tradewind.execute.hitl_answers`): the trigger then also
checks every ``poke_interval`` seconds whether its request was answered, and ends with that
answer (Airflow's trigger polls the same way). The trigger itself never touches the database.

The event payloads are Airflow's: ``chosen_options``, ``params_input``, ``responded_at``,
``responded_by_user`` (``{"id", "name"}`` or None) and ``timedout``; failures are
``{"error", "error_type"}``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, TypedDict

from tradewind.definition import timezone as tz
from tradewind.definition.triggers.base import BaseTrigger, TriggerEvent, classpath_of

__all__ = [
    "HITLTrigger",
    "HITLTriggerEventFailurePayload",
    "HITLTriggerEventSuccessPayload",
    "set_response_reader",
    "success_payload",
    "timeout_payload",
]

#: ``reader(task_instance) -> answer payload or None`` for triggers run inline; None elsewhere.
_response_reader: Callable[[Any], dict[str, Any] | None] | None = None


def set_response_reader(reader: Callable[[Any], dict[str, Any] | None] | None) -> None:
    """How this process's HITL triggers look up an answer already given to their task instance
    (``trigger.task_instance``: dag_id, run_id, task_id, map_index); None: they do not look."""
    global _response_reader
    _response_reader = reader


#: The error of a deadline that passed with no defaults to fall back on (Airflow's text).
TIMEOUT_ERROR = "The timeout has passed, and the response has not yet been received."


class HITLTriggerEventSuccessPayload(TypedDict, total=False):
    """The keys of an answered request's event (Airflow's type of the same name)."""

    chosen_options: list[str]
    params_input: dict[str, Any]
    responded_by_user: dict[str, str] | None
    responded_at: datetime
    timedout: bool


class HITLTriggerEventFailurePayload(TypedDict):
    """The keys of a failed wait's event: ``error_type`` is "timeout", "unknown" or "validation"."""

    error: str
    error_type: str


def success_payload(chosen_options: list[str], params_input: dict[str, Any], responded_at: datetime,
                    responded_by_user: dict[str, str] | None) -> dict[str, Any]:
    """The event of an answered request (``timedout`` when nobody answered: the defaults)."""
    return {
        "chosen_options": list(chosen_options),
        "params_input": dict(params_input),
        "responded_at": responded_at,
        "responded_by_user": responded_by_user,
        "timedout": responded_by_user is None,
    }


def timeout_payload(defaults: list[str] | None, params: dict[str, dict[str, Any]],
                    now: datetime) -> dict[str, Any]:
    """What the deadline yields: the defaults with the params' default values, or the timeout error."""
    if defaults is None:
        return {"error": TIMEOUT_ERROR, "error_type": "timeout"}
    return success_payload(defaults, default_params_input(params), now, None)


def default_params_input(params: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{name: default value}`` of serialized params (``{"value", "description", "schema"}``)."""
    return {name: (spec.get("value") if isinstance(spec, dict) and "schema" in spec else spec)
            for name, spec in (params or {}).items()}


class HITLTrigger(BaseTrigger):
    """Waits for a person's answer to a human-in-the-loop request (see the module docstring).

    Accepts Airflow's arguments (``ti_id`` and ``poke_interval`` are accepted and kept, but the
    answer arrives through the schedule layer, not by polling).
    """

    #: Longest single sleep, in seconds (so a moved clock is noticed).
    max_sleep = 1.0

    def __init__(self, *, options: list[str], params: dict[str, dict[str, Any]] | None = None,
                 defaults: list[str] | None = None, multiple: bool = False,
                 timeout_datetime: datetime | None = None, subject: str = "", body: str | None = None,
                 assigned_users: list[dict[str, str]] | None = None, ti_id: Any = None,
                 poke_interval: float = 5.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not options or not all(isinstance(o, str) for o in options):
            raise ValueError(f"HITLTrigger needs a non-empty list of option strings, got {options!r}")
        if timeout_datetime is not None:
            if not isinstance(timeout_datetime, datetime) or timeout_datetime.tzinfo is None:
                raise ValueError(f"HITLTrigger timeout_datetime must be a timezone-aware datetime, "
                                 f"got {timeout_datetime!r}")
            timeout_datetime = tz.to_utc(timeout_datetime)
        self.options = list(options)
        self.params = dict(params or {})
        self.defaults = list(defaults) if defaults is not None else None
        self.multiple = bool(multiple)
        self.timeout_datetime = timeout_datetime
        self.subject = subject
        self.body = body
        self.assigned_users = list(assigned_users or [])
        self.ti_id = None if ti_id is None else str(ti_id)
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return classpath_of(HITLTrigger), {
            "options": self.options, "params": self.params, "defaults": self.defaults,
            "multiple": self.multiple, "timeout_datetime": self.timeout_datetime, "subject": self.subject,
            "body": self.body, "assigned_users": self.assigned_users, "ti_id": self.ti_id,
            "poke_interval": self.poke_interval,
        }

    async def _answer(self) -> dict[str, Any] | None:
        reader = _response_reader
        if reader is None or self.task_instance is None:
            return None
        try:
            return await asyncio.to_thread(reader, self.task_instance)
        except Exception:  # noqa: BLE001 - a failed look-up is not a failed wait: look again later
            self.log.warning("[HITL] could not look up an answer for %s", self.task_instance, exc_info=True)
            return None

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = self.timeout_datetime
        next_look = 0.0
        while True:
            if _response_reader is not None and time.monotonic() >= next_look:
                answer = await self._answer()
                if answer is not None:
                    yield TriggerEvent(answer)
                    return
                next_look = time.monotonic() + self.poke_interval
            if deadline is None:
                # Without a reader only a response (which resumes the task directly) ends the wait.
                await asyncio.sleep(self.poke_interval if _response_reader is not None else 3600)
                continue
            remaining = (deadline - tz.utcnow()).total_seconds()
            if remaining <= 0:
                break
            await asyncio.sleep(min(remaining, self.max_sleep))
        answer = await self._answer()  # answered just before the deadline: that answer stands
        if answer is not None:
            yield TriggerEvent(answer)
            return
        if self.defaults is not None:
            self.log.info("[HITL] timeout reached before receiving response, fallback to default %s",
                          self.defaults)
        yield TriggerEvent(timeout_payload(self.defaults, self.params, tz.utcnow()))
