"""Sensors: tasks that wait for a condition (a file, a time, a function, another DAG's tasks)."""

from tradewind.definition.sensors.base import BaseSensorOperator, PokeReturnValue
from tradewind.definition.sensors.bash import BashSensor
from tradewind.definition.sensors.external_task import (
    ExternalDagNotFoundError,
    ExternalTaskFailedError,
    ExternalTaskMarker,
    ExternalTaskSensor,
)
from tradewind.definition.sensors.filesystem import FileSensor
from tradewind.definition.sensors.python import PythonSensor
from tradewind.definition.sensors.time import (
    DateTimeSensor,
    DateTimeSensorAsync,
    TimeDeltaSensor,
    TimeDeltaSensorAsync,
    TimeSensor,
    TimeSensorAsync,
)
from tradewind.definition.sensors.weekday import DayOfWeekSensor

__all__ = [
    "BaseSensorOperator",
    "BashSensor",
    "DateTimeSensor",
    "DateTimeSensorAsync",
    "DayOfWeekSensor",
    "ExternalDagNotFoundError",
    "ExternalTaskFailedError",
    "ExternalTaskMarker",
    "ExternalTaskSensor",
    "FileSensor",
    "PokeReturnValue",
    "PythonSensor",
    "TimeDeltaSensor",
    "TimeDeltaSensorAsync",
    "TimeSensor",
    "TimeSensorAsync",
]
