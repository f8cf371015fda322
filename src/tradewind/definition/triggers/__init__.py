"""Triggers for deferrable tasks (see :mod:`tradewind.definition.triggers.base`)."""

from tradewind.definition.triggers.base import BaseTrigger, TriggerEvent
from tradewind.definition.triggers.file import FileTrigger
from tradewind.definition.triggers.temporal import DateTimeTrigger, TimeDeltaTrigger

__all__ = ["BaseTrigger", "DateTimeTrigger", "FileTrigger", "TimeDeltaTrigger", "TriggerEvent"]
