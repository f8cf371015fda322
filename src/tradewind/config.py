"""Settings: defaults, then ``$TRADEWIND_HOME/tradewind.cfg``, then environment.

One :class:`Config` is built once at process start (``Config.load()``) and passed
down; core code never reads a global. Every key can be overridden by the
environment variable ``TRADEWIND__<SECTION>__<KEY>`` (upper case, double
underscores), e.g. ``TRADEWIND__CORE__DAGS_FOLDER``.

``tradewind config list`` prints :meth:`Config.effective` — each value with the
place it came from (``default``, ``file``, ``env``).
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "TRADEWIND__"
CONFIG_FILE_NAME = "tradewind.cfg"

#: Every known setting with its default. ``{home}`` is replaced by TRADEWIND_HOME.
DEFAULTS: dict[str, dict[str, str]] = {
    "core": {
        "dags_folder": "{home}/dags",
        "load_examples": "True",
        # Executor(s): "local", "inprocess", "celery", or a comma-separated list whose first entry is
        # the default and whose others a task picks with executor="..." (Airflow's multiple executors).
        "executor": "local",
        # Where a worker (celery) reaches the API server's execution endpoints; set on each worker host.
        "execution_api_server_url": "http://localhost:8080/execution/",
        "parallelism": "32",
        "dagbag_import_timeout": "30",
        "default_pool_slots": "128",
        # New DAGs start unpaused so a dropped-in file runs (Airflow's default is True).
        "dags_are_paused_at_creation": "False",
        "data_folder": "{home}/data",
        "hostname": "",
        # Most instances one mapped task may expand to (dynamic task mapping; Airflow's default).
        "max_map_length": "1024",
        # Most tasks one DAG may have; a DAG file building more gets an import error naming this key
        # (the parser stops at the limit, before the snapshot is built). 0: no limit.
        "max_tasks_per_dag": "20000",
        # Largest run conf accepted (bytes of its JSON); a bigger one is refused naming this key.
        "max_conf_size": "65536",
        # Pause a DAG once its last N runs all failed (0: never); a DAG's max_consecutive_failed_dag_runs wins.
        "max_consecutive_failed_dag_runs_per_dag": "0",
        # Extra comma-separated key-name fragments whose Variable values are masked (Airflow's name);
        # password, secret, token, api_key, ... are always masked.
        "sensitive_var_conn_names": "",
        "hide_sensitive_var_conn_fields": "True",
        # Fernet key(s) encrypting stored connection passwords and extras; comma-separated = rotation
        # (first encrypts, all decrypt). Empty: a key generated once into $TRADEWIND_HOME/fernet_key.
        "fernet_key": "",
    },
    "database": {
        "url": "sqlite:///{home}/tradewind.db",
        "sqlite_busy_timeout": "30",
        "pool_size": "5",
        "echo": "False",
    },
    "logging": {
        "base_log_folder": "{home}/logs",
        "logging_level": "INFO",
    },
    "scheduler": {
        # Seconds without a heartbeat after which a running task is a zombie.
        "task_instance_heartbeat_timeout": "30",
        # Seconds between two heartbeats of a running task.
        "task_heartbeat_interval": "2",
        # Upper bound of one wait when nothing wakes the scheduler.
        "max_idle_wait": "1.0",
        # Seconds between two scans of the DAGs folder for new/changed files.
        "dag_dir_list_interval": "5",
        # Most task instances queued in one scheduler loop.
        "max_tis_per_query": "512",
        # DAG files imported at once (each in its own child process).
        "parsing_processes": "2",
        # Seconds after which an unchanged file is re-imported anyway (helper modules may change).
        "min_file_process_interval": "30",
        # Seconds without a scheduler heartbeat before /health reports it unhealthy.
        "scheduler_health_check_threshold": "30",
        # Seconds between two checks for deferred tasks whose trigger timed out.
        "trigger_timeout_check_interval": "15",
        # Seconds a task instance may stay queued (handed to an executor/broker, not yet started by a
        # worker) before the scheduler queues it again, e.g. after a broker lost the message.
        "task_queued_timeout": "600",
        # A helper process (fork server, DAG processor, triggerer) that dies this many times within
        # the window is crash-looping: restarts back off and health reports it (docs/supervision.md).
        "helper_crash_loop_restarts": "3",
        "helper_crash_loop_window": "60",
    },
    # The DAG processor (see tradewind.schedule.dag_processor); [scheduler] holds its Airflow 2 keys.
    "dag_processor": {
        # MB of memory one DAG file's import may add (RLIMIT_AS of its parse child); 0: no limit.
        "parse_memory_limit": "2048",
        # Seconds after which a file still importing is reniced and leaves its parsing slot.
        "slow_parse_threshold": "0.1",
        # Most such slow imports running at once, besides [scheduler] parsing_processes.
        "slow_parse_processes": "32",
        # Seconds between two heartbeats of the DAG processor's job row.
        "job_heartbeat_sec": "5",
    },
    # The triggerer runs the triggers of deferred tasks (Airflow's keys).
    "triggerer": {
        # Most triggers one triggerer runs at once.
        "capacity": "1000",
        # Seconds between two heartbeats of the triggerer job.
        "job_heartbeat_sec": "5",
        # Seconds without a heartbeat after which a triggerer's triggers are taken over by another.
        "triggerer_health_check_threshold": "30",
    },
    "api": {
        "host": "0.0.0.0",
        "port": "8080",
        # REST API lists: items per page when no limit is given, and the most a client may ask for.
        "fallback_page_limit": "100",
        "maximum_page_limit": "100",
        # Signs tokens and session cookies. Empty: a random key generated once into
        # $TRADEWIND_HOME/api_secret_key (shared by every process of this home).
        "secret_key": "",
        # Seconds a token from POST /api/v1/auth/token stays valid.
        "access_token_expiration": "3600",
        # Minutes a UI login (session cookie) stays valid (Airflow's session_lifetime_minutes).
        "session_lifetime_minutes": "43200",
        # Failed logins allowed per username and per client IP within the window (seconds); then 429.
        "login_rate_limit_failures": "5",
        "login_rate_limit_window": "60",
        # How API calls may authenticate, comma-separated: "session" (bearer tokens and the UI's
        # login cookie) and "basic_auth" (username:password on every call, Airflow 2's backend).
        "auth_backends": "session,basic_auth",
        # Largest request body in bytes; a bigger one is answered 413 before it is read whole.
        "max_body_size": "1048576",
        # Peers (IPs or CIDR networks, comma-separated) whose X-Forwarded-For header is believed;
        # from any other peer the header is ignored and the peer's own address counts.
        "trusted_proxies": "",
        # Whether GET /api/v2/config shows the configuration (secrets always hidden); False answers
        # 403, as Airflow 3 does by default. "non-sensitive-only" (Airflow's value) counts as True.
        "expose_config": "False",
    },
    # The endpoints a try running on a worker uses instead of the database (/execution/v1).
    "execution_api": {
        # Seconds a running try's token is valid; every heartbeat returns a fresh one.
        "jwt_expiration_time": "600",
        # Seconds the token handed out with a queued workload is valid (it can only claim that try).
        "workload_token_expiration": "86400",
        # Which connections a worker's try may read: "named" (those its task names: *conn_id
        # arguments and string literals in its Python callable) or "all".
        "connection_access": "named",
    },
    # CeleryExecutor (pip install 'tradewind[celery]'); Airflow's keys where they exist.
    "celery": {
        "broker_url": "redis://localhost:6379/0",
        # Queue of tasks without queue=...
        "default_queue": "default",
        # Tries one `tradewind celery worker` runs at once (--concurrency).
        "worker_concurrency": "16",
        # Seconds to wait for the broker when sending a task or checking it at start.
        "operation_timeout": "5",
        # Seconds between two heartbeats of a worker (kept in the broker; `celery status`, `jobs check`).
        "worker_heartbeat_interval": "5",
        # Seconds between two shipments of a running try's new log lines to the API server.
        "log_ship_interval": "1",
    },
    # Task and asset state stores (Airflow 3.3); docs/state-store.md.
    "state_store": {
        # Days a task state store key written without retention= is kept (0: never expires);
        # asset state store keys never expire.
        "default_retention_days": "30",
        # True: a task instance's keys are deleted when it succeeds (Airflow's default: kept).
        "clear_on_success": "False",
    },
    # Email notifications (email_on_failure / email_on_retry, send_email); Airflow's keys.
    "smtp": {
        "smtp_host": "localhost",
        "smtp_port": "25",
        "smtp_starttls": "False",
        "smtp_ssl": "False",
        "smtp_user": "",
        "smtp_password": "",
        "smtp_mail_from": "tradewind@example.com",
        # Seconds to wait for the SMTP server (connect and each command).
        "smtp_timeout": "30",
        # Connection attempts when the server drops the connection before giving up.
        "smtp_retry_limit": "5",
    },
    "email": {
        # Dotted path of the function that sends mail: f(to, subject, html_content, **kwargs).
        "email_backend": "tradewind.execute.email.send_email_smtp",
        # Sender used instead of [smtp] smtp_mail_from when set.
        "from_email": "",
        # Jinja template files for failure/retry emails (empty: the built-in ones).
        "subject_template": "",
        "html_content_template": "",
    },
}

_TRUE = {"1", "true", "yes", "on", "t", "y"}
_FALSE = {"0", "false", "no", "off", "f", "n", ""}


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names it."""


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    raw = env.get("TRADEWIND_HOME") or "~/tradewind"
    return Path(os.path.expanduser(raw)).resolve()


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    value: str
    source: str  # "default" | "file" | "env"


@dataclass
class Config:
    """Effective settings. Build with :meth:`load`; tests build with ``Config.load(home=tmp)``."""

    home: Path
    _values: dict[tuple[str, str], Setting] = field(default_factory=dict)

    # ----------------------------------------------------------------- building
    @classmethod
    def load(
        cls,
        home: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> "Config":
        env = os.environ if environ is None else environ
        home_path = Path(home).resolve() if home is not None else default_home(env)
        values: dict[tuple[str, str], Setting] = {}
        for section, keys in DEFAULTS.items():
            for key, value in keys.items():
                values[(section, key)] = Setting(section, key, value, "default")
        cfg_file = home_path / CONFIG_FILE_NAME
        if cfg_file.is_file():
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read(cfg_file, encoding="utf-8")
            except configparser.Error as exc:
                raise ConfigError(f"cannot read {cfg_file}: {exc}") from exc
            for section in parser.sections():
                for key, value in parser.items(section):
                    values[(section.lower(), key.lower())] = Setting(section.lower(), key.lower(), value, "file")
        for name, value in env.items():
            if not name.startswith(ENV_PREFIX):
                continue
            rest = name[len(ENV_PREFIX):]
            if "__" not in rest:
                continue
            section, key = rest.split("__", 1)
            section, key = section.lower(), key.lower()
            values[(section, key)] = Setting(section, key, value, "env")
        for section, keys in (overrides or {}).items():
            for key, value in keys.items():
                values[(section, key)] = Setting(section, key, str(value), "override")
        cfg = cls(home=home_path, _values=values)
        return cfg

    # ------------------------------------------------------------------ reading
    def get(self, section: str, key: str, fallback: str | None = None) -> str:
        setting = self._values.get((section.lower(), key.lower()))
        if setting is None:
            if fallback is not None:
                return fallback
            raise ConfigError(f"unknown setting [{section}] {key}")
        return setting.value.replace("{home}", str(self.home))

    def getint(self, section: str, key: str) -> int:
        raw = self.get(section, key)
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(self._bad(section, key, raw, "an integer")) from None

    def getfloat(self, section: str, key: str) -> float:
        raw = self.get(section, key)
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(self._bad(section, key, raw, "a number")) from None

    def getbool(self, section: str, key: str) -> bool:
        raw = self.get(section, key).strip().lower()
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise ConfigError(self._bad(section, key, raw, "true or false"))

    def source(self, section: str, key: str) -> str:
        setting = self._values.get((section.lower(), key.lower()))
        return setting.source if setting else "unknown"

    def effective(self) -> list[Setting]:
        """Every setting, resolved, sorted by section and key, with its source."""
        out = []
        for (section, key), setting in sorted(self._values.items()):
            out.append(Setting(section, key, self.get(section, key), setting.source))
        return out

    def _bad(self, section: str, key: str, raw: str, wanted: str) -> str:
        origin = self.source(section, key)
        env_name = f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
        return f"setting [{section}] {key} = {raw!r} (from {origin}; env {env_name}) is not {wanted}"

    # ------------------------------------------------------ common, typed values
    @property
    def dags_folder(self) -> Path:
        return Path(os.path.expanduser(self.get("core", "dags_folder")))

    @property
    def load_examples(self) -> bool:
        return self.getbool("core", "load_examples")

    @property
    def examples_folder(self) -> Path:
        return Path(__file__).parent / "examples" / "dags"

    @property
    def data_folder(self) -> Path:
        return Path(os.path.expanduser(self.get("core", "data_folder")))

    @property
    def database_url(self) -> str:
        return self.get("database", "url")

    @property
    def logs_folder(self) -> Path:
        return Path(os.path.expanduser(self.get("logging", "base_log_folder")))

    @property
    def parallelism(self) -> int:
        return self.getint("core", "parallelism")

    @property
    def dagbag_import_timeout(self) -> float:
        return self.getfloat("core", "dagbag_import_timeout")

    @property
    def heartbeat_timeout(self) -> timedelta:
        return timedelta(seconds=self.getfloat("scheduler", "task_instance_heartbeat_timeout"))

    @property
    def heartbeat_interval(self) -> float:
        return self.getfloat("scheduler", "task_heartbeat_interval")

    def dag_folders(self) -> list[Path]:
        """Folders the parser reads: the user's DAGs, then the examples if enabled."""
        folders = [self.dags_folder]
        if self.load_examples:
            folders.append(self.examples_folder)
        return folders

    def ensure_home(self) -> None:
        """Create TRADEWIND_HOME with ``dags/``, ``logs/`` and a commented config file."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        self.logs_folder.mkdir(parents=True, exist_ok=True)
        cfg_file = self.home / CONFIG_FILE_NAME
        if not cfg_file.exists():
            lines = [
                "# Tradewind settings. Each can also be set by the environment variable",
                "# TRADEWIND__<SECTION>__<KEY>, which wins over this file.",
                "# Uncomment a line to change it; the value shown is the default.",
                "",
            ]
            for section, keys in DEFAULTS.items():
                lines.append(f"[{section}]")
                lines.extend(f"# {key} = {value}" for key, value in keys.items())
                lines.append("")
            cfg_file.write_text("\n".join(lines), encoding="utf-8")

    def as_environ(self) -> dict[str, str]:
        """Settings that differ from defaults, as env vars, to hand to child processes."""
        out = {"TRADEWIND_HOME": str(self.home)}
        for (section, key), setting in self._values.items():
            if setting.source in ("env", "override"):
                out[f"{ENV_PREFIX}{section.upper()}__{key.upper()}"] = setting.value
        return out
