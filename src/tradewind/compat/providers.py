"""Which Airflow providers are usable in this environment, and how: native, bridged or both.

- **native**: Tradewind implements the provider's modules itself; they are the
  ``airflow.providers.<id>...`` entries of the shim tables (:data:`tradewind.compat.finder.MODULES`).
- **bridged**: the provider's distribution (``apache-airflow-providers-<id>``) is installed and
  Tradewind loads its own files; their imports of Airflow's core resolve to Tradewind
  (:mod:`tradewind.compat.provider_core`).
- **native+bridged**: both. A module Tradewind implements comes from Tradewind; any other module of
  that provider comes from the installed distribution (the rule in docs/providers.md).

Installed distributions are found with ``importlib.metadata`` (every distribution named
``apache-airflow-providers-*``; its ``apache_airflow_provider`` entry point gives the provider id).
What is known not to work is data, :data:`KNOWN_LIMITATIONS`, shown by ``tradewind providers list``.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import re
from dataclasses import dataclass, field
from typing import Any

DIST_PREFIX = "apache-airflow-providers-"
ENTRY_POINT_GROUP = "apache_airflow_provider"
#: Apache Airflow's own distributions: `tradewind providers install` never installs them.
AIRFLOW_CORE_DISTRIBUTIONS = frozenset({"apache-airflow", "apache-airflow-core", "apache-airflow-task-sdk"})

#: What Tradewind implements of each native provider, in words (the module list comes from the tables).
NATIVE_SUMMARY: dict[str, str] = {
    "standard": "operators, sensors and triggers (bash, python, empty, branching, latest-only, "
                "trigger-dagrun, time and external-task sensors, human-in-the-loop)",
    "common.sql": "DbApiHook, SQLExecuteQueryOperator and the check operators, SqlSensor",
    "common.compat": "the re-export modules sdk, assets, notifier, standard.operators/triggers "
                     "(its other modules come from the installed distribution)",
    "postgres": "PostgresHook (psycopg 3), PostgresOperator",
    "mysql": "MySqlHook (PyMySQL), MySqlOperator",
    "sqlite": "SqliteHook, SqliteOperator",
    "http": "HttpHook, HttpOperator / SimpleHttpOperator, HttpSensor",
    "smtp": "SmtpHook, EmailOperator",
    "docker": "DockerOperator",
    "amazon": "S3 only: S3Hook, the S3 bucket/object operators, S3KeySensor, SqlToS3Operator",
    "common.io": "FileTransferOperator on Tradewind's ObjectStoragePath (docs/object-storage.md, the io extra)",
}

#: Known not to work, per provider id: shown by `tradewind providers list` / `get`. Found by
#: importing every module of the provider in Tradewind and by the end-to-end tests (tests/providers).
KNOWN_LIMITATIONS: dict[str, list[str]] = {
    "http": [
        "HttpAsyncHook sends through httpx: the aiohttp session the provider's triggers pass to run() is "
        "not used, and the connection extra srv_lookup (DNS SRV resolution) is not supported",
    ],
    "common.sql": [
        "@task.analytics and DataFusion analytics: untested (need the datafusion package); @task.sql works",
    ],
    "common.compat": [
        "openlineage helpers need apache-airflow-providers-openlineage (not supported)",
        "assets helpers for auth managers need airflow.api_fastapi (Airflow's API server)",
    ],
    "mysql": ["MySqlHook(client='mysqlclient' / 'mysql-connector-python') bridged modules: Tradewind's MySqlHook "
              "uses PyMySQL"],
    "redis": ["RedisMessageQueueProvider (airflow.providers.redis.queues) needs "
              "apache-airflow-providers-common-messaging and Airflow's event-driven scheduling",
              "RedisTaskHandler (task logs to Redis): Tradewind keeps its own task logs"],
    "slack": ["SqlToSlackApiFileOperator (query results uploaded as a file through the Web API): untested; "
              "SqlToSlackWebhookOperator is tested (tests/providers/test_provider_slack_sql.py)"],
    "sftp": ["@task.sftp_sensor (the distribution's decorator, found through its task-decorators): untested",
             "SFTPSensor / SFTPOperator with deferrable=True: untested"],
    "amazon": ["only S3 is native; other AWS modules load from the installed distribution, untested, and "
               "get Tradewind's S3Hook where they import it; AWS executors, auth manager and log handlers "
               "are Airflow-server parts and do not apply"],
    "ssh": ["SSHRemoteJobOperator and the deferrable SSH triggers: untested (the triggerer loads provider "
            "triggers with Tradewind's core since it installs the shims)"],
    "docker": ["airflow.providers.docker.decorators.docker (the distribution's own @task.docker) needs "
               "write_python_script from apache-airflow-providers-standard's utils.python_virtualenv; "
               "@task.docker itself is Tradewind's",
               "DockerSwarmOperator and the docker hooks load from the distribution, untested (no engine in CI)"],
    "standard": [
        "the distribution's decorator modules load (Tradewind's decorator base); @task.bash, @task.virtualenv, "
        "... are Tradewind's own; @task.stub comes from the distribution (parses; run here it fails "
        "as in Airflow without a remote worker)",
        "airflow.providers.standard.triggers.external_task and utils.sensor_helper need airflow.models.DagRun",
    ],
    "common.io": ["XComObjectStorageBackend (XCom values stored in object storage) is not used: Tradewind keeps "
                  "XComs in its database; the distribution's other modules load from it, untested"],
    "smtp": [
        "SmtpHook(auth_type='oauth2') (XOAUTH2) is refused naming it: Tradewind's native SmtpHook "
        "logs in with the connection's login and password only",
    ],
}

#: Provider ids Airflow publishes (for "did you mean" on a mistyped name; not a registry look-up).
KNOWN_PROVIDER_IDS: tuple[str, ...] = (
    "airbyte", "alibaba", "amazon", "apache.beam", "apache.cassandra", "apache.drill", "apache.druid",
    "apache.flink", "apache.hdfs", "apache.hive", "apache.iceberg", "apache.impala", "apache.kafka",
    "apache.kylin", "apache.livy", "apache.pig", "apache.pinot", "apache.spark", "apprise", "arangodb",
    "asana", "atlassian.jira", "celery", "cloudant", "cncf.kubernetes", "cohere", "common.compat",
    "common.io", "common.messaging", "common.sql", "databricks", "datadog", "dbt.cloud", "dingding",
    "discord", "docker", "edge3", "elasticsearch", "exasol", "fab", "facebook", "ftp", "git", "github",
    "google", "grpc", "hashicorp", "http", "imap", "influxdb", "jdbc", "jenkins", "microsoft.azure",
    "microsoft.mssql", "microsoft.psrp", "microsoft.winrm", "mongo", "mysql", "neo4j", "odbc", "openai",
    "openfaas", "openlineage", "opensearch", "opsgenie", "oracle", "pagerduty", "papermill", "pgvector",
    "pinecone", "postgres", "presto", "qdrant", "redis", "salesforce", "samba", "segment", "sendgrid",
    "sftp", "singularity", "slack", "smtp", "snowflake", "sqlite", "ssh", "standard", "tableau",
    "telegram", "teradata", "trino", "vertica", "weaviate", "yandex", "ydb", "zendesk",
)


class UnknownProviderError(ValueError):
    """A provider name that is not an Airflow provider; the message suggests close names."""


# ------------------------------------------------------------------------------ names
def normalize_id(name: str) -> str:
    """``common-sql``, ``common_sql``, ``apache-airflow-providers-common-sql`` -> ``common.sql``."""
    text = name.strip().lower()
    if text.startswith(DIST_PREFIX):
        text = text[len(DIST_PREFIX):]
    return re.sub(r"[-_.]+", ".", text)


def distribution_name(provider_id: str) -> str:
    """``common.sql`` -> ``apache-airflow-providers-common-sql``."""
    return DIST_PREFIX + normalize_id(provider_id).replace(".", "-")


def suggest(name: str) -> list[str]:
    """Known provider ids close to ``name`` (for an error's "did you mean")."""
    wanted = normalize_id(name)
    candidates = {normalize_id(p): p for p in KNOWN_PROVIDER_IDS}
    close = difflib.get_close_matches(wanted, list(candidates), n=3, cutoff=0.6)
    close += [p for p in candidates if wanted and (p.startswith(wanted) or p.endswith("." + wanted))]
    return list(dict.fromkeys(candidates[c] for c in close))


def check_known(name: str) -> str:
    """The provider id of ``name`` when Airflow publishes it; else :class:`UnknownProviderError`."""
    provider_id = normalize_id(name)
    if provider_id in KNOWN_PROVIDER_IDS or provider_id in native_modules():
        return provider_id
    hints = suggest(name)
    hint = f"; did you mean {', '.join(hints)}?" if hints else ""
    raise UnknownProviderError(f"unknown provider {name!r} (no distribution {distribution_name(name)}){hint}")


# ------------------------------------------------------------------------------ discovery
def native_modules() -> dict[str, list[str]]:
    """Provider id -> the ``airflow.providers`` modules Tradewind implements for it."""
    from tradewind.compat.finder import MODULES, provider_of

    found: dict[str, list[str]] = {}
    for module in sorted(MODULES):
        provider_id = provider_of(module)
        if provider_id is not None:
            found.setdefault(provider_id, []).append(module)
    return found


@dataclass(frozen=True)
class InstalledProvider:
    provider_id: str
    distribution: str
    version: str
    requires: tuple[str, ...] = ()


def installed_providers() -> dict[str, InstalledProvider]:
    """Provider id -> the installed ``apache-airflow-providers-*`` distribution (first on ``sys.path``)."""
    found: dict[str, InstalledProvider] = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if not name.startswith(DIST_PREFIX):
            continue
        provider_id = _id_from_entry_point(dist) or normalize_id(name)
        if provider_id not in found:
            found[provider_id] = InstalledProvider(provider_id, name, dist.version, tuple(dist.requires or ()))
    return found


def _id_from_entry_point(dist: importlib.metadata.Distribution) -> str | None:
    # "airflow.providers.common.sql.get_provider_info:get_provider_info" -> "common.sql"
    for entry in dist.entry_points:
        if entry.group == ENTRY_POINT_GROUP:
            module = entry.value.partition(":")[0]
            if module.startswith("airflow.providers.") and module.endswith(".get_provider_info"):
                return module[len("airflow.providers."):-len(".get_provider_info")]
    return None


@dataclass
class ProviderInfo:
    """One usable provider, as ``tradewind providers list`` shows it."""

    name: str
    package: str
    mode: str  # native | bridged | native+bridged
    version: str  # of the code that answers: the installed distribution's, else Tradewind's
    installed_version: str | None
    native: str | None  # what Tradewind implements, in words
    native_modules: list[str] = field(default_factory=list)
    known_limitations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "package": self.package, "mode": self.mode, "version": self.version,
                "installed_version": self.installed_version, "native": self.native,
                "native_modules": self.native_modules, "known_limitations": self.known_limitations}


def tradewind_version() -> str:
    try:
        return importlib.metadata.version("tradewind")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0+unknown"


def list_providers() -> list[ProviderInfo]:
    """Every provider usable here, sorted by name."""
    native = native_modules()
    installed = installed_providers()
    rows = []
    for provider_id in sorted(set(native) | set(installed)):
        dist = installed.get(provider_id)
        modes = [m for m, present in (("native", provider_id in native), ("bridged", dist is not None)) if present]
        rows.append(ProviderInfo(
            name=provider_id,
            package=distribution_name(provider_id),
            mode="+".join(modes),
            version=dist.version if dist else f"tradewind {tradewind_version()}",
            installed_version=dist.version if dist else None,
            native=NATIVE_SUMMARY.get(provider_id) if provider_id in native else None,
            native_modules=native.get(provider_id, []),
            known_limitations=list(KNOWN_LIMITATIONS.get(provider_id, [])),
        ))
    return rows


def get_provider(name: str) -> ProviderInfo:
    """One provider's row; :class:`UnknownProviderError` (with suggestions) when not usable here."""
    wanted = normalize_id(name)
    for row in list_providers():
        if row.name == wanted:
            return row
    if wanted in KNOWN_PROVIDER_IDS:
        raise UnknownProviderError(
            f"provider {wanted!r} is neither implemented by Tradewind nor installed: "
            f"`tradewind providers install {wanted.replace('.', '-')}`")
    check_known(name)  # raises with "did you mean"
    raise UnknownProviderError(f"provider {wanted!r} is not usable here")
