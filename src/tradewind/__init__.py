"""Tradewind: a fast, simple workflow orchestrator that runs Airflow-style DAGs.

This package namespace is the authoring API only::

    from tradewind import DAG, task, BashOperator

Names are imported on first use, so ``import tradewind`` stays fast and never pulls
in the database or web stack (SQLAlchemy, FastAPI).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_DEF = "tradewind.definition"
_EXPORTS: dict[str, str] = {
    "DAG": f"{_DEF}.dag",
    "dag": f"{_DEF}.dag",
    "task": f"{_DEF}.decorators",
    "setup": f"{_DEF}.setup_teardown",
    "teardown": f"{_DEF}.setup_teardown",
    "task_group": f"{_DEF}.taskgroup",
    "TaskGroup": f"{_DEF}.taskgroup",
    "BaseOperator": f"{_DEF}.baseoperator",
    "BashOperator": f"{_DEF}.operators.bash",
    "PythonOperator": f"{_DEF}.operators.python",
    "BranchPythonOperator": f"{_DEF}.operators.python",
    "ShortCircuitOperator": f"{_DEF}.operators.python",
    "PythonVirtualenvOperator": f"{_DEF}.operators.python_env",
    "ExternalPythonOperator": f"{_DEF}.operators.python_env",
    "EmptyOperator": f"{_DEF}.operators.empty",
    "LatestOnlyOperator": f"{_DEF}.operators.latest_only",
    "BaseBranchOperator": f"{_DEF}.operators.datetime_branch",
    "BranchDateTimeOperator": f"{_DEF}.operators.datetime_branch",
    "BranchDayOfWeekOperator": f"{_DEF}.operators.datetime_branch",
    "WeekDay": f"{_DEF}.operators.datetime_branch",
    "Label": f"{_DEF}.edges",
    "chain": f"{_DEF}.helpers",
    "cross_downstream": f"{_DEF}.helpers",
    "Variable": f"{_DEF}.variable",
    "Param": f"{_DEF}.params",
    "ParamsDict": f"{_DEF}.params",
    "XComArg": f"{_DEF}.xcom_arg",
    "get_current_context": f"{_DEF}.context",
    "TriggerRule": "tradewind.states",
    "TaskInstanceState": "tradewind.states",
    "DagRunState": "tradewind.states",
    "WeightRule": "tradewind.states",
    "DataInterval": f"{_DEF}.timetables",
    "Timetable": f"{_DEF}.timetables",
    "NullTimetable": f"{_DEF}.timetables",
    "OnceTimetable": f"{_DEF}.timetables",
    "CronDataIntervalTimetable": f"{_DEF}.timetables",
    "CronTriggerTimetable": f"{_DEF}.timetables",
    "DeltaDataIntervalTimetable": f"{_DEF}.timetables",
    "MissedRuns": f"{_DEF}.missed_runs",
}
for _name in (
    "BaseSensorOperator", "PokeReturnValue", "BashSensor", "DateTimeSensor", "ExternalTaskMarker",
    "ExternalTaskSensor", "FileSensor", "PythonSensor", "TimeDeltaSensor", "TimeSensor",
    "ExternalDagNotFoundError", "ExternalTaskFailedError", "DateTimeSensorAsync", "TimeDeltaSensorAsync",
    "TimeSensorAsync",
):
    _EXPORTS[_name] = f"{_DEF}.sensors"
for _name in (
    "TradewindException", "AirflowException", "DagDefinitionError", "DagCycleError", "DuplicateTaskIdError",
    "InvalidIdError", "InvalidScheduleError", "TaskSkipped", "AirflowSkipException", "TaskFailNoRetry",
    "AirflowFailException", "TaskTimeout", "AirflowTaskTimeout", "XComNotSerializable", "TaskNotFound",
    "ParamValidationError", "SensorTimeout", "AirflowSensorTimeout", "RescheduleTry", "AirflowRescheduleException",
):
    _EXPORTS[_name] = f"{_DEF}.exceptions"
for _name in ("TaskDeferred", "TaskDeferralError", "TaskDeferralTimeout"):
    _EXPORTS[_name] = f"{_DEF}.exceptions"
for _name in ("BaseTrigger", "TriggerEvent", "DateTimeTrigger", "TimeDeltaTrigger", "FileTrigger"):
    _EXPORTS[_name] = f"{_DEF}.triggers"
for _name in ("Asset", "AssetAlias", "AssetAll", "AssetAny", "AssetOrTimeSchedule", "AssetTriggeredTimetable",
              "Dataset", "DatasetAlias", "DatasetAll", "DatasetAny", "Metadata"):
    _EXPORTS[_name] = f"{_DEF}.assets"

for _name in ("DagRunAlreadyExists", "DagRunTriggerException"):
    _EXPORTS[_name] = f"{_DEF}.exceptions"
_EXPORTS["TriggerDagRunOperator"] = f"{_DEF}.operators.trigger_dagrun"
for _name in ("send_email", "BaseNotifier", "SmtpNotifier", "send_smtp_notification"):
    _EXPORTS[_name] = f"{_DEF}.notifications"

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'tradewind' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # for type checkers and IDEs; no runtime cost
    from tradewind.definition.assets import (
        Asset,
        AssetAlias,
        AssetAll,
        AssetAny,
        AssetOrTimeSchedule,
        AssetTriggeredTimetable,
        Dataset,
        DatasetAlias,
        DatasetAll,
        DatasetAny,
        Metadata,
    )
    from tradewind.definition.baseoperator import BaseOperator
    from tradewind.definition.context import get_current_context
    from tradewind.definition.dag import DAG, dag
    from tradewind.definition.decorators import task
    from tradewind.definition.edges import Label
    from tradewind.definition.exceptions import *  # noqa: F403
    from tradewind.definition.helpers import chain, cross_downstream
    from tradewind.definition.missed_runs import MissedRuns
    from tradewind.definition.operators.bash import BashOperator
    from tradewind.definition.operators.datetime_branch import (
        BaseBranchOperator,
        BranchDateTimeOperator,
        BranchDayOfWeekOperator,
        WeekDay,
    )
    from tradewind.definition.operators.empty import EmptyOperator
    from tradewind.definition.operators.latest_only import LatestOnlyOperator
    from tradewind.definition.operators.python import BranchPythonOperator, PythonOperator, ShortCircuitOperator
    from tradewind.definition.operators.python_env import ExternalPythonOperator, PythonVirtualenvOperator
    from tradewind.definition.notifications import BaseNotifier, SmtpNotifier, send_email, send_smtp_notification
    from tradewind.definition.operators.trigger_dagrun import TriggerDagRunOperator
    from tradewind.definition.params import Param, ParamsDict
    from tradewind.definition.setup_teardown import setup, teardown
    from tradewind.definition.sensors import (
        BaseSensorOperator,
        BashSensor,
        DateTimeSensor,
        DateTimeSensorAsync,
        ExternalDagNotFoundError,
        ExternalTaskFailedError,
        ExternalTaskMarker,
        ExternalTaskSensor,
        FileSensor,
        PokeReturnValue,
        PythonSensor,
        TimeDeltaSensor,
        TimeDeltaSensorAsync,
        TimeSensor,
        TimeSensorAsync,
    )
    from tradewind.definition.taskgroup import TaskGroup, task_group
    from tradewind.definition.triggers import BaseTrigger, DateTimeTrigger, FileTrigger, TimeDeltaTrigger, TriggerEvent
    from tradewind.definition.timetables import (
        CronDataIntervalTimetable,
        CronTriggerTimetable,
        DataInterval,
        DeltaDataIntervalTimetable,
        NullTimetable,
        OnceTimetable,
        Timetable,
    )
    from tradewind.definition.variable import Variable
    from tradewind.definition.xcom_arg import XComArg
    from tradewind.states import DagRunState, TaskInstanceState, TriggerRule, WeightRule
