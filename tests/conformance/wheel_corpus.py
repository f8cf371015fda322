"""Shared helpers for measuring Tradewind against other people's Airflow DAG files.

Used by ``bench/corpus.py`` (the whole corpus: books, courses, tutorials, wheels) and by
``tests/conformance/test_wheel_examples.py`` (the example DAGs inside pinned PyPI wheels). Nothing
here holds a DAG file: files are read from wheels downloaded at run time or from local git mirrors.

Every DAGs folder gets a fresh ``TRADEWIND_HOME``; the real CLI parses it (``dags reserialize``,
``dags list-import-errors -o json``, ``dags list -o json``) and runs DAGs with ``dags test``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

#: Providers Tradewind serves (natively or by bridging the installed distribution), per issue 12.
SUPPORTED_PROVIDERS = frozenset({
    "standard", "common.sql", "common.compat", "sqlite", "postgres", "mysql", "http", "ssh", "amazon",
    "slack", "redis", "smtp", "docker",
})
#: Provider packages whose name has two parts (airflow.providers.<a>.<b>).
_TWO_PART = ("common", "apache", "microsoft", "cncf", "dbt", "atlassian")

#: Airflow 2 module paths that moved into providers (airflow.operators.postgres_operator...).
_LEGACY_PROVIDER_MODULES = {
    "docker_operator": "docker", "postgres_operator": "postgres", "postgres_hook": "postgres",
    "mysql_operator": "mysql", "mysql_hook": "mysql", "sqlite_operator": "sqlite", "sqlite_hook": "sqlite",
    "http_operator": "http", "http_hook": "http", "http_sensor": "http", "S3_hook": "amazon",
    "s3_key_sensor": "amazon", "slack_operator": "slack", "slack_hook": "slack", "hive_operator": "apache.hive",
    "jdbc_hook": "jdbc", "mssql_operator": "microsoft.mssql", "presto_hook": "presto",
}
_TASK_DECORATOR_PROVIDERS = {"docker": "docker", "kubernetes": "cncf.kubernetes", "pyspark": "apache.spark",
                             "snowpark": "snowflake"}

_A3_MARKERS = re.compile(r"^\s*(from|import)\s+airflow\.sdk\b|airflow\.providers\.standard\b|\bAsset\(|"
                         r"\bAssetAlias\b|@asset\b", re.M)
_A2_MARKERS = re.compile(r"\bschedule_interval\s*=|\bdays_ago\b|airflow\.utils\.dates\b|\bDummyOperator\b|"
                         r"\bexecution_date\b|\bprovide_context\b|airflow\.datasets\b|\bDataset\(|"
                         r"\bSubDagOperator\b|airflow\.operators\.(python|bash)_operator\b|airflow\.contrib\b|"
                         r"\b(next|prev|yesterday|tomorrow)_ds\b|\bconcurrency\s*=|\bsla\s*=|apply_defaults")
_DAG_MARKERS = re.compile(r"\bDAG\s*\(|@dag\b|\bdag\s*\(|\bDAG\b.*\bas\s+\w+:", re.M)


def is_dag_file(text: str) -> bool:
    """A file that defines a DAG (helper modules and custom operators are not counted)."""
    return "airflow" in text and bool(_DAG_MARKERS.search(text))


@dataclass
class FileInfo:
    style: str  # "2" or "3"
    providers: list[str]  # non-core provider packages the file imports

    @property
    def core_only(self) -> bool:
        return all(p == "standard" for p in self.providers)

    @property
    def supported(self) -> bool:
        return all(p in SUPPORTED_PROVIDERS for p in self.providers)


def providers_used(text: str) -> list[str]:
    found: set[str] = set()
    for match in re.finditer(r"airflow\.providers\.([a-z0-9_]+)(?:\.([a-z0-9_]+))?", text):
        first, second = match.group(1), match.group(2)
        found.add(f"{first}.{second}" if first in _TWO_PART and second else first)
    for match in re.finditer(r"airflow\.(?:operators|hooks|sensors)\.(\w+)", text):
        if match.group(1) in _LEGACY_PROVIDER_MODULES:
            found.add(_LEGACY_PROVIDER_MODULES[match.group(1)])
    for match in re.finditer(r"@task\.(\w+)", text):
        if match.group(1) in _TASK_DECORATOR_PROVIDERS:
            found.add(_TASK_DECORATOR_PROVIDERS[match.group(1)])
    if re.search(r"airflow\.contrib\b", text):
        found.add("contrib (Airflow 1)")
    return sorted(found)


def classify_file(text: str, default_style: str) -> FileInfo:
    """Airflow 3 if the file uses airflow.sdk / the standard provider / assets; Airflow 2 if it uses
    anything Airflow 3 removed; otherwise the source's own version."""
    if _A3_MARKERS.search(text):
        style = "3"
    elif _A2_MARKERS.search(text):
        style = "2"
    else:
        style = default_style
    return FileInfo(style=style, providers=providers_used(text))


# ----------------------------------------------------------------------------- the offline rule
#: (pattern, reason): a DAG file matching any of these is not run offline. Conservative on purpose:
#: each one reaches something outside this machine, waits on something, or needs configuration.
OFFLINE_BLOCKERS: tuple[tuple[str, str], ...] = (
    (r"Sensor\b|@task\.sensor\b", "sensor (waits on something external)"),
    (r"https?://", "URL (network)"),
    (r"\brequests\b|\burllib\b|\bhttpx\b|\bboto3\b|\bsmtplib\b|\bsocket\b|\bftplib\b|\bparamiko\b",
     "network library"),
    (r"\bcurl\b|\bwget\b|\bdocker\b|\bdocker-compose\b|\bkubectl\b|\bssh\b|\bgcloud\b|\baws\s|\bspark-submit\b",
     "external command"),
    (r"conn_id|get_connection|\bConnection\(|\{\{\s*conn\.", "Airflow connection"),
    (r"Variable\.(get|set)|\{\{\s*var\.", "Airflow Variable (needs configuration)"),
    (r"[Vv]irtualenv|ExternalPython|external_python|@task\.venv|ObjectStoragePath", "virtualenv or object storage"),
    (r"wait_for_completion\s*=\s*True|ExternalTask", "waits on other DAGs' runs"),
    (r"EmailOperator|send_email\(", "sends email"),
    (r"deferrable\s*=\s*True|\.defer\(|Trigger\b", "deferral"),
    (r"HITL|ApprovalOperator|HITLOperator", "human in the loop"),
    (r"[\"'](/(?!tmp\b)(data|opt|usr|home|mnt|var|srv|app|etc)/)", "absolute path outside /tmp"),
    (r"\bpsycopg2?\b|\bpymysql\b|create_engine|\bsqlite3\b|\bduckdb\b|\bpostgres\b", "database"),
    (r"\bopenai\b|\bweaviate\b|\bsnowflake\b|\bdbt\b|\bspark\b|\bkafka\b|\bmlflow\b|\bminio\b", "external service"),
)


def offline_blockers(text: str, info: FileInfo) -> list[str]:
    reasons = [f"provider {p}" for p in info.providers if p != "standard"]
    for pattern, reason in OFFLINE_BLOCKERS:
        if re.search(pattern, text):
            reasons.append(reason)
    return reasons


# ----------------------------------------------------------------------------- error causes
_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Timeout|Interrupt|Warning)\w*)(:.*)?$")


def first_error_line(text: str) -> str:
    """The first ``SomeError: message`` line (the end of the first traceback), else the first line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if _ERROR_LINE.match(line):
            return line[:400]
    for line in lines:
        if "error" in line.lower() or "failed" in line.lower():
            return line[:400]
    return (lines[0] if lines else "")[:400]


def classify_error(message: str) -> tuple[str, str]:
    """(cause, key) for a parse or run error; the key names the module, name or argument at fault."""
    line = first_error_line(message)
    if m := re.search(r"No module named '([^']+)'", line):
        module = m.group(1)
        if module.startswith("airflow.example_dags"):
            return "imports Airflow's own example package", module
        cause = "missing module" if module.split(".")[0] in {"airflow", "tradewind"} else "third-party or local module"
        return cause, module
    if m := re.search(r"cannot import name '([^']+)' from '([^']+)'", line):
        return "missing name", f"{m.group(2)}.{m.group(1)}"
    if m := re.search(r"unexpected keyword argument '([^']+)'|[Ii]nvalid arguments? .*?'([^']+)'|"
                      r"argument '([^']+)'.*(not supported|refused|unsupported)", line):
        return "refused argument", next(g for g in m.groups() if g)
    if re.search(r"\b(task_id|dag_id|group_id|key)\b.*(must|invalid|only)", line, re.I):
        return "id refused", line.split(":", 1)[-1].strip()[:120]
    if "timed out" in line or line.startswith("TimeoutExpired"):
        return "timeout", line[:120]
    kind = line.split(":", 1)[0] if ":" in line else line[:60]
    return "other error", kind


# ----------------------------------------------------------------------------- wheels
def wheel_cache() -> Path:
    return Path(os.environ.get("TRADEWIND_WHEEL_CACHE", Path.home() / ".cache" / "tradewind-tests" / "wheels"))


def download_wheel(dist: str, version: str, cache: Path | None = None) -> Path:
    """``pip download --no-deps`` a pinned wheel into the cache (once) and return its path."""
    cache = cache or wheel_cache()
    cache.mkdir(parents=True, exist_ok=True)
    stem = dist.replace("-", "_")
    found = sorted(cache.glob(f"{stem}-{version}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                        "-d", str(cache), f"{dist}=={version}"], check=True, capture_output=True, timeout=600)
        found = sorted(cache.glob(f"{stem}-{version}-*.whl"))
    if not found:
        raise FileNotFoundError(f"pip download of {dist}=={version} left no wheel in {cache}")
    return found[0]


def extract_prefix(wheel: Path, prefix: str, dest: Path) -> list[Path]:
    """Extract every member under ``prefix`` (keeping the tree below it) into ``dest``."""
    written = []
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if not name.startswith(prefix) or name.endswith("/"):
                continue
            target = dest / name[len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(name))
            written.append(target)
    return written


# ----------------------------------------------------------------------------- a home and the CLI
def cli() -> list[str]:
    if os.environ.get("TRADEWIND_CORPUS_SRC"):  # a source snapshot: run its CLI module with the venv's Python
        return [str(REPO / ".venv" / "bin" / "python"), "-m", "tradewind.observe.cli.main"]
    script = REPO / ".venv" / "bin" / "tradewind"
    if script.exists():
        return [str(script)]
    script = Path(sys.executable).parent / "tradewind"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tradewind.observe.cli.main"]


@dataclass
class RunResult:
    dag_id: str
    date: str
    state: str  # success, failed, timeout, error
    tasks: dict[str, str] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0


class CorpusHome:
    """A fresh TRADEWIND_HOME whose DAGs folder is a copy of one corpus folder."""

    def __init__(self, path: Path, dags: Path, extra_env: dict[str, str] | None = None) -> None:
        self.path = path
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        shutil.copytree(dags, path / "dags", ignore=shutil.ignore_patterns("__pycache__"))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWIND", "AIRFLOW_"))}
        self.env.update(TRADEWIND_HOME=str(path), TRADEWIND__CORE__LOAD_EXAMPLES="False", **(extra_env or {}))
        if os.environ.get("TRADEWIND_CORPUS_SRC"):
            self.env["PYTHONPATH"] = os.environ["TRADEWIND_CORPUS_SRC"]

    @property
    def dags(self) -> Path:
        return self.path / "dags"

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cli() + list(args), env=self.env, capture_output=True, text=True, timeout=timeout,
                              cwd=self.path, start_new_session=True)

    def ok(self, *args: str, timeout: float = 300) -> str:
        proc = self.run(*args, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"tradewind {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def parse(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        """({file: import error message}, {file: [dag ids]}), file paths relative to the DAGs folder."""
        self.ok("db", "migrate")
        self.ok("dags", "reserialize", timeout=600)
        errors = json.loads(self.ok("dags", "list-import-errors", "-o", "json", timeout=600))
        dags = json.loads(self.ok("dags", "list", "-o", "json"))
        by_error = {self._rel(e.get("filename", "")): e.get("message", "") for e in errors}
        by_file: dict[str, list[str]] = {}
        for dag in dags:
            by_file.setdefault(self._rel(dag.get("fileloc", "")), []).append(dag["dag_id"])
        return by_error, by_file

    def _rel(self, filename: str) -> str:
        try:
            return str(Path(filename).resolve().relative_to(self.dags.resolve()))
        except ValueError:
            return filename

    def query(self, sql: str, *params: Any) -> list[tuple]:
        conn = sqlite3.connect(self.path / "tradewind.db", timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def dag_dates(self, dag_id: str) -> tuple[str | None, str | None]:
        rows = self.query("SELECT snapshot FROM dag_version WHERE dag_id = ? ORDER BY version_number DESC LIMIT 1",
                          dag_id)
        if not rows:
            return None, None
        snap = json.loads(rows[0][0])
        return snap.get("start_date"), snap.get("end_date")

    def test_date(self, dag_id: str) -> str:
        """Today, as Airflow's ``dags test`` defaults to, unless the DAG ended before or starts after."""
        today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        start, end = self.dag_dates(dag_id)
        if end and end[:10] < today:
            return end[:10]
        if start and start[:10] > today:
            return start[:10]
        return today

    def dags_test(self, dag_id: str, timeout: float = 60) -> RunResult:
        date = self.test_date(dag_id)
        started = datetime.now(timezone.utc)
        try:
            proc = self.run("dags", "test", dag_id, date, timeout=timeout)
            output = proc.stdout + "\n" + proc.stderr
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return RunResult(dag_id, date, "timeout", self.task_states(dag_id),
                             f"timed out after {timeout:.0f} s; {first_error_line(out)}", timeout)
        seconds = (datetime.now(timezone.utc) - started).total_seconds()
        rows = self.query("SELECT state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", dag_id)
        state = rows[0][0] if rows else "error"
        error = "" if state == "success" else self._run_error(dag_id, output)
        return RunResult(dag_id, date, state or "error", self.task_states(dag_id), error, seconds)

    def task_states(self, dag_id: str) -> dict[str, str]:
        rows = self.query("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", dag_id)
        if not rows:
            return {}
        states = self.query("SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
                            dag_id, rows[0][0])
        return {(t if i < 0 else f"{t}[{i}]"): (s or "none") for t, i, s in states}

    def _run_error(self, dag_id: str, output: str) -> str:
        """The first error of the first failed task's log, else of the ``dags test`` output."""
        for log in sorted((self.path / "logs" / f"dag_id={dag_id}").rglob("*.log")):
            text = log.read_text(errors="replace")
            if "Traceback" in text or "ERROR" in text:
                tail = text[text.find("Traceback"):] if "Traceback" in text else text
                return first_error_line(tail)
        return first_error_line(output[output.find("Traceback"):] if "Traceback" in output else output)
