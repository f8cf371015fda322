"""The mapping of Airflow import paths to Tradewind objects: data only, one line per name.

``MODULES[airflow_module][name]`` is where ``from airflow_module import name`` finds its object:
``"tradewind.some.module"`` (same attribute name) or ``"tradewind.some.module:other_name"``.
A module path that only appears as a prefix of others (``airflow.providers``) is a package
without names of its own. Anything not listed fails at import time with an ``ImportError`` naming
it (see :mod:`tradewind.compat.finder`).

Integrations add their provider paths here with one small edit each, e.g.::

    "airflow.providers.postgres.hooks.postgres": {"PostgresHook": _INT + ".postgres.hooks"},

Targets are imported only when the name is first used, so listing a name costs nothing.
"""

from __future__ import annotations

_DEF = "tradewind.definition"
_OPS = f"{_DEF}.operators"
_SENS = f"{_DEF}.sensors"
_TRIG = f"{_DEF}.triggers"
_TT = f"{_DEF}.timetables"
_EXC = f"{_DEF}.exceptions"
_NAMES = "tradewind.compat.airflow_names"
_INT = "tradewind.integrations"
_STATES = "tradewind.states"


def _same(module: str, *names: str) -> dict[str, str]:
    """``{name: module}`` for names that keep their name in Tradewind."""
    return dict.fromkeys(names, module)


# ------------------------------------------------------------------ shared groups
_DAG = _same(f"{_DEF}.dag", "DAG", "dag")
_BASEOP = {"BaseOperator": f"{_DEF}.baseoperator", **_same(f"{_DEF}.helpers", "chain", "cross_downstream", "chain_linear")}
_PYTHON_OPS = {
    **_same(f"{_OPS}.python", "PythonOperator", "BranchPythonOperator", "ShortCircuitOperator"),
    **_same(f"{_OPS}.python_env", "PythonVirtualenvOperator", "ExternalPythonOperator",
            "BranchPythonVirtualenvOperator", "BranchExternalPythonOperator"),
    "get_current_context": f"{_DEF}.context",
    "is_venv_installed": _NAMES,
}
_BASH_OP = _same(f"{_OPS}.bash", "BashOperator")
_EMPTY = _same(f"{_OPS}.empty", "EmptyOperator")
# DummyOperator was a deprecated alias of EmptyOperator in Airflow 2.
_DUMMY = {"DummyOperator": f"{_OPS}.empty:EmptyOperator", **_EMPTY}
_LATEST_ONLY = _same(f"{_OPS}.latest_only", "LatestOnlyOperator")
_TRIGGER_DAGRUN = _same(f"{_OPS}.trigger_dagrun", "TriggerDagRunOperator")
_DATETIME_BRANCH = _same(f"{_OPS}.datetime_branch", "BranchDateTimeOperator")
_WEEKDAY_BRANCH = _same(f"{_OPS}.datetime_branch", "BranchDayOfWeekOperator", "WeekDay")
_BRANCH = _same(f"{_OPS}.datetime_branch", "BaseBranchOperator")
_SENSOR_BASE = _same(_SENS, "BaseSensorOperator", "PokeReturnValue")
_TIME_DELTA_SENSORS = _same(_SENS, "TimeDeltaSensor", "TimeDeltaSensorAsync")
_DATE_TIME_SENSORS = _same(_SENS, "DateTimeSensor", "DateTimeSensorAsync")
_TIME_SENSORS = _same(_SENS, "TimeSensor", "TimeSensorAsync")
_EXTERNAL_TASK = _same(_SENS, "ExternalTaskSensor", "ExternalTaskMarker")
_TEMPORAL_TRIGGERS = _same(_TRIG, "DateTimeTrigger", "TimeDeltaTrigger")
_TASK_GROUP = _same(f"{_DEF}.taskgroup", "TaskGroup", "task_group")
_LABEL = _same(f"{_DEF}.edges", "Label", "EdgeModifier")
_PARAM = _same(f"{_DEF}.params", "Param", "ParamsDict")
_VARIABLE = _same(f"{_DEF}.variable", "Variable")
_CONNECTION = _same(f"{_DEF}.connection", "Connection")
_HOOK = _same(f"{_DEF}.hooks", "BaseHook")
_ASSETS = _same(f"{_DEF}.assets", "Asset", "AssetAll", "AssetAny")
_SETUP_TEARDOWN = _same(f"{_DEF}.setup_teardown", "setup", "teardown")
_XCOM_ARG = _same(f"{_DEF}.xcom_arg", "XComArg")
_NOTIFIER = _same(f"{_DEF}.notifications", "BaseNotifier")
_SQL_OPS = _same(
    f"{_INT}.sql.operators", "BaseSQLOperator", "SQLExecuteQueryOperator", "SQLCheckOperator",
    "SQLValueCheckOperator", "SQLColumnCheckOperator", "SQLTableCheckOperator",
)
_SQL_SENSOR = _same(f"{_INT}.sql.sensors", "SqlSensor")
_EMAIL_OP = _same(f"{_INT}.smtp.operators", "EmailOperator")
# ------------------------------------------------------------------ groups of the paths other people's DAG files use
_CONFIG = "tradewind.compat.airflow_config"
_LEGACY_SQL = f"{_INT}.sql.legacy_operators"
_ASSET_EXTRAS = _same(f"{_DEF}.assets", "AssetAlias", "Metadata")
_CONTEXT_TYPE = _same(f"{_DEF}.context", "Context")
_STATE_ENUMS = _same(_STATES, "TaskInstanceState", "DagRunState", "TriggerRule", "WeightRule")
_ALL_TIMETABLES = _same(
    _TT, "CronDataIntervalTimetable", "CronTriggerTimetable", "DeltaDataIntervalTimetable", "DeltaTriggerTimetable",
    "EventsTimetable", "MultipleCronTriggerTimetable",
)
_CONF_NAMES = {**_same(_CONFIG, "conf", "AirflowConfigException")}
_MORE_EXCEPTIONS = {
    **_same(_EXC, "AirflowTaskTimeout", "ParamValidationError"),
    "AirflowNotFoundException": f"{_DEF}.connection:ConnectionNotFound",
    "AirflowConfigException": _CONFIG,
    "AirflowOptionalProviderFeatureException": _NAMES,
}
# The Task SDK names Tradewind has beyond the Airflow 2 ones (airflow.sdk.__all__ of apache-airflow-task-sdk;
# the names it lacks on purpose are listed in docs/airflow-compat.md).
_SDK_MORE = {
    **_ASSET_EXTRAS,
    "AssetOrTimeSchedule": f"{_DEF}.assets",
    **_CONTEXT_TYPE,
    **_STATE_ENUMS,
    **_ALL_TIMETABLES,
    "BaseBranchOperator": f"{_OPS}.datetime_branch",
    "TaskInstance": _NAMES,
    "conf": _CONFIG,
    "literal": f"{_DEF}.templating",
    "get_parsing_context": _NAMES,
    "macros": "airflow:macros",  # the airflow.macros shim module, as airflow.sdk.macros is Airflow's module
    "asset": f"{_DEF}.asset_decorator",
    "AssetWatcher": f"{_DEF}.assets",
    "ObjectStoragePath": f"{_INT}.io.path",  # object storage (docs/object-storage.md)
}
# airflow.providers.common.compat.sdk: the re-export module newer providers and their example DAGs import.
_COMMON_COMPAT_SDK = {
    **_DAG,
    "task": f"{_DEF}.decorators",
    **_TASK_GROUP,
    **_SETUP_TEARDOWN,
    **_BASEOP,
    **_ASSETS,
    **_ASSET_EXTRAS,
    **_VARIABLE,
    **_CONNECTION,
    "Param": f"{_DEF}.params",
    **_LABEL,
    **_HOOK,
    **_SENSOR_BASE,
    **_XCOM_ARG,
    **_NOTIFIER,
    **_CONTEXT_TYPE,
    **_STATE_ENUMS,
    "BaseBranchOperator": f"{_OPS}.datetime_branch",
    "MappedOperator": f"{_DEF}.mapped",
    "get_current_context": f"{_DEF}.context",
    "get_parsing_context": _NAMES,
    "literal": f"{_DEF}.templating",
    "XCOM_RETURN_KEY": f"{_DEF}.xcom_arg:RETURN_KEY",
    **_same(f"{_DEF}.masking", "redact", "mask_secret"),
    **_same(_EXC, "AirflowException", "AirflowSkipException", "AirflowFailException", "AirflowSensorTimeout",
            "TaskDeferred"),
    **_MORE_EXCEPTIONS,
    "conf": _CONFIG,
    "timezone": "airflow.sdk:timezone",  # the airflow.sdk.timezone shim module
}

MODULES: dict[str, dict[str, str]] = {
    # ============================================================== Airflow 2
    "airflow": {**_DAG, "Dataset": f"{_DEF}.assets", "XComArg": f"{_DEF}.xcom_arg"},
    "airflow.models": {
        "DAG": f"{_DEF}.dag",  # not ``dag``: that is the submodule airflow.models.dag
        **_BASEOP,
        **_VARIABLE,
        **_CONNECTION,
        "Param": f"{_DEF}.params",
        "XComArg": f"{_DEF}.xcom_arg",
        "MappedOperator": f"{_DEF}.mapped",
        **_same(_NAMES, "TaskInstance", "DagRun"),  # annotation-only (docs/airflow-compat.md)
    },
    "airflow.models.dag": _DAG,
    "airflow.models.baseoperator": _BASEOP,
    "airflow.models.param": _PARAM,
    "airflow.models.variable": _VARIABLE,
    "airflow.models.connection": _CONNECTION,
    "airflow.models.xcom_arg": {**_XCOM_ARG, "PlainXComArg": f"{_DEF}.xcom_arg:XComArg"},
    "airflow.models.mappedoperator": _same(f"{_DEF}.mapped", "MappedOperator"),
    "airflow.operators.bash": _BASH_OP,
    "airflow.operators.bash_operator": _BASH_OP,
    "airflow.operators.python": _PYTHON_OPS,
    "airflow.operators.python_operator": _PYTHON_OPS,
    "airflow.operators.empty": _EMPTY,
    "airflow.operators.dummy": _DUMMY,
    "airflow.operators.dummy_operator": _DUMMY,
    "airflow.operators.latest_only": _LATEST_ONLY,
    "airflow.operators.latest_only_operator": _LATEST_ONLY,
    "airflow.operators.trigger_dagrun": _TRIGGER_DAGRUN,
    "airflow.operators.datetime": _DATETIME_BRANCH,
    "airflow.operators.weekday": _WEEKDAY_BRANCH,
    "airflow.operators.branch": _BRANCH,
    "airflow.decorators": {
        **_DAG,
        "task": f"{_DEF}.decorators",
        "task_group": f"{_DEF}.taskgroup",
        **_SETUP_TEARDOWN,
    },
    "airflow.utils.dates": _same(_NAMES, "days_ago"),
    "airflow.utils.trigger_rule": _same(_STATES, "TriggerRule"),
    "airflow.utils.weight_rule": _same(_STATES, "WeightRule"),
    "airflow.utils.state": {"State": _NAMES, **_same(_STATES, "TaskInstanceState", "DagRunState")},
    "airflow.utils.types": _same(_STATES, "DagRunType"),
    "airflow.utils.task_group": _TASK_GROUP,
    "airflow.utils.edgemodifier": _LABEL,
    "airflow.utils.helpers": _same(f"{_DEF}.helpers", "chain", "cross_downstream"),
    "airflow.utils.weekday": _same(f"{_OPS}.datetime_branch", "WeekDay"),
    "airflow.utils.context": {**_same(f"{_DEF}.context", "get_current_context"), **_CONTEXT_TYPE},
    "airflow.utils.timezone": _same(
        _NAMES, "utc", "utcnow", "datetime", "parse", "convert_to_utc", "make_aware", "make_naive",
        "is_localized", "is_naive",
    ),
    "airflow.exceptions": {
        **_same(
            _EXC, "AirflowException", "AirflowSkipException", "AirflowFailException", "AirflowTaskTimeout",
            "AirflowSensorTimeout", "AirflowRescheduleException", "TaskDeferred", "TaskDeferralError",
            "ParamValidationError", "DagRunAlreadyExists",
        ),
        "AirflowNotFoundException": f"{_DEF}.connection:ConnectionNotFound",
        "AirflowDagCycleException": f"{_EXC}:DagCycleError",
        "DuplicateTaskIdFound": f"{_EXC}:DuplicateTaskIdError",
    },
    "airflow.sensors.base": _SENSOR_BASE,
    "airflow.sensors.base_sensor_operator": _SENSOR_BASE,
    "airflow.sensors.bash": _same(_SENS, "BashSensor"),
    "airflow.sensors.python": _same(_SENS, "PythonSensor"),
    "airflow.sensors.filesystem": _same(_SENS, "FileSensor"),
    "airflow.sensors.time_delta": _TIME_DELTA_SENSORS,
    "airflow.sensors.date_time": _DATE_TIME_SENSORS,
    "airflow.sensors.time_sensor": _TIME_SENSORS,
    "airflow.sensors.external_task": _EXTERNAL_TASK,
    "airflow.sensors.external_task_sensor": _EXTERNAL_TASK,
    "airflow.sensors.weekday": _same(_SENS, "DayOfWeekSensor"),
    "airflow.triggers.base": {**_same(_TRIG, "BaseTrigger", "TriggerEvent"), "BaseEventTrigger": f"{_TRIG}.event"},
    "airflow.triggers.temporal": _TEMPORAL_TRIGGERS,
    "airflow.triggers.file": _same(_TRIG, "FileTrigger"),
    "airflow.hooks.base": _HOOK,
    "airflow.datasets": _same(f"{_DEF}.assets", "Dataset", "DatasetAll", "DatasetAny", "DatasetAlias"),
    "airflow.timetables.base": _same(_TT, "DagRunInfo", "DataInterval", "TimeRestriction", "Timetable"),
    "airflow.timetables.interval": _same(_TT, "CronDataIntervalTimetable", "DeltaDataIntervalTimetable"),
    "airflow.timetables.trigger": _same(_TT, "CronTriggerTimetable", "DeltaTriggerTimetable",
                                        "MultipleCronTriggerTimetable"),
    "airflow.timetables.simple": {
        **_same(_TT, "NullTimetable", "OnceTimetable"),
        "AssetTriggeredTimetable": f"{_DEF}.assets",
        "DatasetTriggeredTimetable": f"{_DEF}.assets:AssetTriggeredTimetable",
    },
    "airflow.timetables.assets": _same(f"{_DEF}.assets", "AssetOrTimeSchedule"),
    "airflow.timetables.datasets": _same(_NAMES, "DatasetOrTimeSchedule"),  # Airflow 2's datasets= argument
    "airflow.macros": _same(
        f"{_DEF}.macros", "ds_add", "ds_format", "datetime_diff_for_humans", "datetime", "date", "timedelta",
        "json", "random", "time", "uuid",
    ),
    "airflow.notifications.basenotifier": _NOTIFIER,
    # ============================================================== Airflow 3 Task SDK
    "airflow.sdk": {
        **_DAG,
        "task": f"{_DEF}.decorators",
        **_TASK_GROUP,
        **_SETUP_TEARDOWN,
        **_BASEOP,
        **_ASSETS,
        **_VARIABLE,
        **_CONNECTION,
        **_PARAM,
        **_LABEL,
        **_HOOK,
        **_SENSOR_BASE,
        **_XCOM_ARG,
        **_NOTIFIER,
        "get_current_context": f"{_DEF}.context",
        "TriggerRule": _STATES,
        "WeightRule": _STATES,
        **_SDK_MORE,
    },
    "airflow.sdk.timezone": _same(
        _NAMES, "utc", "utcnow", "datetime", "parse", "convert_to_utc", "make_aware", "make_naive",
        "is_localized", "is_naive",
    ),
    "airflow.sdk.definitions.dag": _DAG,
    "airflow.sdk.definitions.taskgroup": _TASK_GROUP,
    "airflow.sdk.definitions.asset": {
        **_ASSETS, **_same(f"{_DEF}.assets", "AssetAlias", "AssetWatcher", "AssetRef", "AssetNameRef", "AssetUriRef",
                           "BaseAsset", "Dataset")},
    "airflow.sdk.definitions.asset.decorators": _same(
        f"{_DEF}.asset_decorator", "asset", "AssetDefinition", "MultiAssetDefinition"),
    "airflow.sdk.definitions.param": _PARAM,
    "airflow.sdk.definitions.edges": _LABEL,
    "airflow.sdk.definitions.variable": _VARIABLE,
    "airflow.sdk.definitions.connection": _CONNECTION,
    "airflow.sdk.definitions.context": _same(f"{_DEF}.context", "get_current_context"),
    "airflow.sdk.definitions.xcom_arg": _XCOM_ARG,
    "airflow.sdk.definitions.decorators": {"task": f"{_DEF}.decorators", **_SETUP_TEARDOWN},
    "airflow.sdk.bases.operator": _BASEOP,
    "airflow.sdk.bases.sensor": _SENSOR_BASE,
    "airflow.sdk.bases.hook": _HOOK,
    "airflow.sdk.bases.notifier": _NOTIFIER,
    "airflow.sdk.exceptions": _same(
        _EXC, "AirflowException", "AirflowSkipException", "AirflowFailException", "AirflowSensorTimeout",
        "AirflowRescheduleException", "TaskDeferred",
    ),
    "airflow.providers.standard.operators.bash": _BASH_OP,
    "airflow.providers.standard.operators.python": _PYTHON_OPS,
    "airflow.providers.standard.operators.empty": _EMPTY,
    "airflow.providers.standard.operators.latest_only": _LATEST_ONLY,
    "airflow.providers.standard.operators.trigger_dagrun": _TRIGGER_DAGRUN,
    "airflow.providers.standard.operators.datetime": _DATETIME_BRANCH,
    "airflow.providers.standard.operators.weekday": _WEEKDAY_BRANCH,
    "airflow.providers.standard.operators.branch": _BRANCH,
    "airflow.providers.standard.sensors.bash": _same(_SENS, "BashSensor"),
    "airflow.providers.standard.sensors.python": _same(_SENS, "PythonSensor"),
    "airflow.providers.standard.sensors.filesystem": _same(_SENS, "FileSensor"),
    "airflow.providers.standard.sensors.time_delta": _TIME_DELTA_SENSORS,
    "airflow.providers.standard.sensors.date_time": _DATE_TIME_SENSORS,
    "airflow.providers.standard.sensors.time": _TIME_SENSORS,
    "airflow.providers.standard.sensors.external_task": _EXTERNAL_TASK,
    "airflow.providers.standard.sensors.weekday": _same(_SENS, "DayOfWeekSensor"),
    "airflow.providers.standard.triggers.temporal": _TEMPORAL_TRIGGERS,
    "airflow.providers.standard.triggers.file": {
        **_same(_TRIG, "FileTrigger"), **_same(f"{_TRIG}.event", "FileDeleteTrigger", "DirectoryFileDeleteTrigger")},
    # Human-in-the-loop (Airflow 3.1): docs/human-in-the-loop.md
    "airflow.providers.standard.operators.hitl": _same(
        f"{_OPS}.hitl", "HITLOperator", "ApprovalOperator", "HITLBranchOperator", "HITLEntryOperator"),
    "airflow.providers.standard.triggers.hitl": _same(
        f"{_TRIG}.hitl", "HITLTrigger", "HITLTriggerEventSuccessPayload", "HITLTriggerEventFailurePayload"),
    "airflow.providers.standard.exceptions": _same(
        f"{_OPS}.hitl", "HITLTriggerEventError", "HITLTimeoutError", "HITLRejectException"),
    "airflow.sdk.execution_time.hitl": _same(f"{_OPS}.hitl", "HITLUser"),
    "airflow.providers.standard.utils.weekday": _same(f"{_OPS}.datetime_branch", "WeekDay"),
    # ============================================================== providers of the integrations
    "airflow.providers.http.hooks.http": _same(f"{_INT}.http.hooks", "HttpHook", "HttpAsyncHook"),
    "airflow.providers.http.operators.http": _same(f"{_INT}.http.operators", "HttpOperator", "SimpleHttpOperator"),
    "airflow.providers.http.sensors.http": _same(f"{_INT}.http.sensors", "HttpSensor"),
    "airflow.providers.common.sql.hooks.sql": _same(f"{_INT}.sql.hooks", "DbApiHook"),
    "airflow.providers.common.sql.operators.sql": _SQL_OPS,
    "airflow.providers.common.sql.sensors.sql": _SQL_SENSOR,
    "airflow.sensors.sql": _SQL_SENSOR,
    "airflow.providers.postgres.hooks.postgres": _same(f"{_INT}.sql.postgres", "PostgresHook"),
    "airflow.providers.mysql.hooks.mysql": _same(f"{_INT}.sql.mysql", "MySqlHook"),
    "airflow.providers.sqlite.hooks.sqlite": _same(f"{_INT}.sql.sqlite", "SqliteHook"),
    "airflow.providers.amazon.aws.hooks.s3": _same(f"{_INT}.s3.hooks", "S3Hook"),
    "airflow.providers.amazon.aws.operators.s3": _same(
        f"{_INT}.s3.operators", "S3CreateBucketOperator", "S3DeleteBucketOperator", "S3CreateObjectOperator",
        "S3CopyObjectOperator", "S3DeleteObjectsOperator", "S3ListOperator", "S3ListPrefixesOperator"),
    "airflow.providers.amazon.aws.sensors.s3": _same(f"{_INT}.s3.sensors", "S3KeySensor"),
    # The amazon provider's module names before 4.0 (one module per operator), still in books' code.
    "airflow.providers.amazon.aws.operators.s3_copy_object": _same(f"{_INT}.s3.operators", "S3CopyObjectOperator"),
    "airflow.providers.amazon.aws.operators.s3_delete_objects": _same(
        f"{_INT}.s3.operators", "S3DeleteObjectsOperator"),
    "airflow.providers.amazon.aws.operators.s3_bucket": _same(
        f"{_INT}.s3.operators", "S3CreateBucketOperator", "S3DeleteBucketOperator"),
    "airflow.providers.amazon.aws.operators.s3_list": _same(f"{_INT}.s3.operators", "S3ListOperator"),
    "airflow.providers.amazon.aws.operators.s3_list_prefixes": _same(
        f"{_INT}.s3.operators", "S3ListPrefixesOperator"),
    "airflow.providers.amazon.aws.sensors.s3_key": _same(f"{_INT}.s3.sensors", "S3KeySensor"),
    "airflow.providers.amazon.aws.transfers.sql_to_s3": _same(f"{_INT}.s3.transfers", "SqlToS3Operator"),
    "airflow.providers.smtp.hooks.smtp": _same(f"{_INT}.smtp.hooks", "SmtpHook"),
    "airflow.providers.smtp.operators.smtp": _EMAIL_OP,
    "airflow.operators.email": _EMAIL_OP,
    "airflow.operators.email_operator": _EMAIL_OP,
    "airflow.providers.docker.operators.docker": _same(f"{_INT}.docker.operators", "DockerOperator"),
    # ============================================================== paths other people's DAG files use
    "airflow.providers.common.compat.sdk": _COMMON_COMPAT_SDK,
    "airflow.providers.common.compat.assets": {**_ASSETS, **_ASSET_EXTRAS},
    "airflow.providers.common.compat.notifier": _NOTIFIER,
    "airflow.providers.common.compat.standard.operators": {
        **_same(f"{_OPS}.python", "PythonOperator", "ShortCircuitOperator"),
        "BaseOperator": f"{_DEF}.baseoperator",
        "BaseBranchOperator": f"{_OPS}.datetime_branch",
        "get_current_context": f"{_DEF}.context",
        "is_async_callable": _NAMES,
    },
    "airflow.providers.common.compat.standard.triggers": _same(_TRIG, "TimeDeltaTrigger"),
    "airflow.utils.decorators": _same(_NAMES, "apply_defaults"),
    "airflow.utils": _same(_NAMES, "apply_defaults"),  # Airflow 1.10's `from airflow.utils import apply_defaults`
    "airflow.sdk.execution_time.task_runner": {"RuntimeTaskInstance": f"{_NAMES}:TaskInstance"},  # annotation-only
    "airflow.utils.email": _same(f"{_DEF}.notifications", "send_email"),  # via [email] email_backend, as Airflow
    "airflow.models.dataset": _same(f"{_DEF}.assets", "Dataset"),  # Airflow 2 re-exported Dataset there
    "airflow.datasets.metadata": _same(f"{_DEF}.assets", "Metadata"),
    "airflow.hooks.base_hook": _HOOK,
    "airflow.configuration": {**_CONF_NAMES, **_same(_CONFIG, "get_airflow_home", "AIRFLOW_HOME")},
    "airflow.sdk.configuration": _same(_CONFIG, "conf"),
    "airflow.timetables.events": _same(_TT, "EventsTimetable"),
    "airflow.models.taskinstance": _same(_NAMES, "TaskInstance"),
    "airflow.models.dagrun": _same(_NAMES, "DagRun"),
    "airflow.utils.dag_parsing_context": _same(_NAMES, "get_parsing_context"),
    "airflow.sdk.execution_time.context": {
        **_same(f"{_DEF}.context", "get_current_context"),
        # The context's accessor classes, which Airflow 3 DAG files use in annotations.
        "TriggeringAssetEventsAccessor": f"{_DEF}.assets:TriggeringAssetEvents",
        "InletEventsAccessors": f"{_DEF}.assets:InletEventAccessors",
        **_same(f"{_DEF}.assets", "OutletEventAccessors", "OutletEventAccessor"),
        # Airflow 3.3's state stores (docs/state-store.md).
        **_same(f"{_DEF}.state_store", "NEVER_EXPIRE", "TaskStateStoreAccessor", "AssetStateStoreAccessor",
                "AssetStateStoreAccessors"),
    },
    # The element type of triggering_asset_events[asset] (Airflow 3 annotates with it).
    "airflow.sdk.execution_time.comms": {"AssetEventDagRunReferenceResult": f"{_DEF}.assets:AssetEvent"},
    "airflow.utils.template": _same(f"{_DEF}.templating", "literal"),
    # The per-database SQL operators Airflow deprecated for SQLExecuteQueryOperator (docs/airflow-compat.md).
    "airflow.providers.postgres.operators.postgres": _same(_LEGACY_SQL, "PostgresOperator"),
    "airflow.providers.mysql.operators.mysql": _same(_LEGACY_SQL, "MySqlOperator"),
    "airflow.providers.sqlite.operators.sqlite": _same(_LEGACY_SQL, "SqliteOperator"),
    "airflow.operators.postgres_operator": _same(_LEGACY_SQL, "PostgresOperator"),
    "airflow.operators.mysql_operator": _same(_LEGACY_SQL, "MySqlOperator"),
    "airflow.operators.sqlite_operator": _same(_LEGACY_SQL, "SqliteOperator"),
    # Airflow 1.10 module names Airflow 2 still answered (with a deprecation warning).
    "airflow.operators.sql": _SQL_OPS,
    "airflow.operators.branch_operator": _BRANCH,
    "airflow.operators.dagrun_operator": _TRIGGER_DAGRUN,
    "airflow.operators.http_operator": _same(f"{_INT}.http.operators", "SimpleHttpOperator"),
    "airflow.operators.docker_operator": _same(f"{_INT}.docker.operators", "DockerOperator"),
    "airflow.sensors.sql_sensor": _SQL_SENSOR,
    "airflow.sensors.http_sensor": _same(f"{_INT}.http.sensors", "HttpSensor"),
    "airflow.sensors.date_time_sensor": _same(_SENS, "DateTimeSensor"),
    "airflow.sensors.time_delta_sensor": _same(_SENS, "TimeDeltaSensor"),
    "airflow.hooks.dbapi": _same(f"{_INT}.sql.hooks", "DbApiHook"),
    "airflow.hooks.dbapi_hook": _same(f"{_INT}.sql.hooks", "DbApiHook"),
    "airflow.hooks.postgres_hook": _same(f"{_INT}.sql.postgres", "PostgresHook"),
    "airflow.hooks.mysql_hook": _same(f"{_INT}.sql.mysql", "MySqlHook"),
    "airflow.hooks.sqlite_hook": _same(f"{_INT}.sql.sqlite", "SqliteHook"),
    "airflow.hooks.http_hook": _same(f"{_INT}.http.hooks", "HttpHook"),
    "airflow.hooks.S3_hook": _same(f"{_INT}.s3.hooks", "S3Hook"),
    # Object storage, AIP-58 (docs/object-storage.md): fsspec + universal_pathlib, the io extra.
    "airflow.io": {**_same(f"{_INT}.io.store", "attach", "get_fs", "has_fs"), **_same(f"{_INT}.io.path", "ObjectStoragePath")},
    "airflow.io.path": _same(f"{_INT}.io.path", "ObjectStoragePath"),
    "airflow.io.store": _same(f"{_INT}.io.store", "attach", "ObjectStore"),
    "airflow.sdk.io": {**_same(f"{_INT}.io.store", "attach"), **_same(f"{_INT}.io.path", "ObjectStoragePath")},
    "airflow.sdk.io.path": _same(f"{_INT}.io.path", "ObjectStoragePath"),
    "airflow.sdk.io.store": _same(f"{_INT}.io.store", "attach", "ObjectStore"),
    "airflow.providers.common.io.operators.file_transfer": _same(f"{_INT}.io.operators", "FileTransferOperator"),
}

#: Airflow packages removed on purpose, with what to use instead; the finder may add the hint to the
#: "No module named ..." error of any module under them.
REMOVED_PACKAGES: dict[str, str] = {
    "airflow.contrib": (
        "airflow.contrib was removed in Airflow 2.0: its operators, hooks and sensors moved to provider "
        "packages (airflow.providers.*) and core modules; import them from there "
        "(e.g. airflow.contrib.operators.ssh_operator -> airflow.providers.ssh.operators.ssh)"
    ),
}
