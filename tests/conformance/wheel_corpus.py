"""Shared helpers for measuring Tradewind against other people's Airflow DAG files.

Used by ``bench/corpus.py`` (the whole corpus: books, courses, tutorials, wheels) and by
``tests/conformance/test_wheel_examples.py`` (the example DAGs inside pinned PyPI wheels). Nothing
here holds a DAG file: files are read from wheels downloaded at run time or from local git mirrors.

Every DAGs folder gets a fresh ``TRADEWIND_HOME``; the real CLI parses it (``dags reserialize``,
``dags list-import-errors -o json``, ``dags list -o json``) and runs DAGs with ``dags test``.
"""

from __future__ import annotations

import ast
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
#: What counts as "Airflow core": the standard provider and common.compat (the shim the standard
#: provider's own examples import; Airflow installs both with its core).
CORE_PROVIDERS = frozenset({"standard", "common.compat"})
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


def _call_name(node: ast.AST) -> str:
    func = node.func if isinstance(node, ast.Call) else node
    if isinstance(func, ast.Call):
        return _call_name(func)
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _module_level_calls(tree: ast.Module) -> set[str]:
    """Names called by code that runs at import (not inside a def or class body)."""
    names: set[str] = set()
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # decorators run at import, but @dag(...) only wraps: the DAG is built when it is called
            todo += [a for d in node.decorator_list for a in (
                ast.iter_child_nodes(d) if isinstance(d, ast.Call) and _call_name(d) == "dag" else [d])]
            continue
        if isinstance(node, (ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Call):
            names.add(_call_name(node))
        todo += list(ast.iter_child_nodes(node))
    return names


def defines_no_dag_at_import(text: str) -> bool:
    """True when importing the file cannot build a DAG: no ``DAG(...)`` runs at import, and no
    module-level call reaches a ``@dag`` function or a local function that builds one. Airflow finds
    no DAG in such a file either (book listings that show only a decorated function, DAG-factory
    helper modules)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    builders = {"DAG"}
    for _ in range(3):  # local factories that call other local factories
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name not in builders:
                decorated = any(_call_name(d) == "dag" for d in node.decorator_list)
                inner = {_call_name(c) for c in ast.walk(node) if isinstance(c, ast.Call)}
                if decorated or inner & builders:
                    builders.add(node.name)
    local = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                for a in n.names} - {"DAG", "dag"}
    calls = _module_level_calls(tree)
    # a call of an imported helper might build DAGs (dag-factory libraries): assume it does
    return not (calls & builders) and not any(c in imported and c not in local and "dag" in c.lower()
                                               for c in calls)


@dataclass
class FileInfo:
    style: str  # "2" or "3"
    providers: list[str]  # non-core provider packages the file imports

    @property
    def core_only(self) -> bool:
        return all(p in CORE_PROVIDERS for p in self.providers)

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
    (r"\bgit\s|\bcurl\b|\bwget\b|\bdocker\b|\bdocker-compose\b|\bkubectl\b|\bssh\b|\bgcloud\b|\baws\s|\bspark-submit\b",
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


def code_only(text: str) -> str:
    """The file's code without comments and docstrings (licence headers carry URLs, docs mention
    sensors), so the offline rule looks at what runs."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return re.sub(r"#.*", "", text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            body[0] = ast.Pass()
    for node in ast.walk(tree):  # doc_md="..." strings are documentation too
        if isinstance(node, ast.keyword) and node.arg in {"doc_md", "doc", "description"}:
            node.value = ast.Constant(value="")
    return ast.unparse(tree)


def offline_blockers(text: str, info: FileInfo, folder_dag_ids: set[str] | None = None) -> list[str]:
    """Why a DAG file cannot run offline (empty: it can). ``folder_dag_ids``, once the folder is
    parsed, lets a TriggerDagRunOperator whose target is in the same folder run."""
    reasons = [f"provider {p}" for p in info.providers if p not in CORE_PROVIDERS]
    targets = set(re.findall(r"trigger_dag_id\s*=\s*[\"']([\w.-]+)[\"']", text))
    if "TriggerDagRunOperator" in text and (folder_dag_ids is None or not targets or targets - folder_dag_ids):
        reasons.append("triggers a DAG that is not in its DAGs folder")
    code = code_only(text)
    for pattern, reason in OFFLINE_BLOCKERS:
        if re.search(pattern, code):
            reasons.append(reason)
    return reasons


# ----------------------------------------------------------------------------- error causes
_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Timeout|Interrupt|Warning)\w*)(:.*)?$")


def first_error_line(text: str) -> str:
    """The first ``SomeError: message`` line (the end of the first traceback), else the first line."""
    # task-log lines carry a "[time] {file.py:1} LEVEL - " prefix
    lines = [re.sub(r"^\[[^\]]*\] \{[^}]*\} \w+ - ", "", line.strip()) for line in text.splitlines() if line.strip()]
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
        provider = providers_used(module)
        if module.startswith("airflow.providers.") and provider and provider[0] not in SUPPORTED_PROVIDERS:
            return "provider we do not support", provider[0]
        cause = "missing module" if module.split(".")[0] in {"airflow", "tradewind"} else "third-party or local module"
        return cause, module
    if m := re.search(r"cannot import name '([^']+)' from '([^']+)'", line):
        return "missing name", f"{m.group(2)}.{m.group(1)}"
    if m := re.search(r"'task' has no decorator '(\w+)'", line):
        return "missing name", f"@task.{m.group(1)}"
    if m := re.search(r"'([\w.]+)' object has no attribute '(\w+)'", line):
        return "missing attribute", f"{m.group(1).rsplit('.', 1)[-1]}.{m.group(2)}"
    if m := re.search(r"unexpected keyword argument '([^']+)'|[Ii]nvalid arguments? .*?'([^']+)'|"
                      r"argument '([^']+)'.*(not supported|refused|unsupported)", line):
        return "refused argument", next(g for g in m.groups() if g)
    if re.search(r"\b(task_id|dag_id|group_id|key)\b.*(must|invalid|only)", line, re.I):
        return "id refused", line.split(":", 1)[-1].strip()[:120]
    if "is already defined in" in line:
        return "DAG id defined twice in one folder (Airflow refuses it too)", line.split("'")[1]
    if line.startswith("SyntaxError: f-string"):
        return "needs Python 3.12 f-strings (PEP 701); we run on 3.11", "SyntaxError: f-string"
    if m := re.match(r"KeyError: '(Variable \S+ does not exist|[A-Z][A-Z0-9_]+)'", line):
        return "needs configuration (Variable or environment variable)", m.group(1)
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
        # -P: like the installed script, do not put the working directory on sys.path
        return [str(REPO / ".venv" / "bin" / "python"), "-P", "-m", "tradewind.observe.cli.main"]
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

    def __init__(self, path: Path, dags: Path, extra_env: dict[str, str] | None = None,
                 home_files: list[Path] | None = None, pythonpath: list[Path] | None = None) -> None:
        """``home_files`` are copied beside ``dags/`` (files a DAG reads relative to its project);
        ``pythonpath`` holds the packages a source's DAGs expect to be installed."""
        self.path = path
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        shutil.copytree(dags, path / "dags", ignore=shutil.ignore_patterns("__pycache__"))
        for extra in home_files or []:
            if extra.is_dir():
                shutil.copytree(extra, path / extra.name, dirs_exist_ok=True)
            elif extra.exists():
                shutil.copy2(extra, path / extra.name)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWIND", "AIRFLOW_"))}
        self.env.update(TRADEWIND_HOME=str(path), TRADEWIND__CORE__LOAD_EXAMPLES="False", **(extra_env or {}))
        paths = [os.environ["TRADEWIND_CORPUS_SRC"]] if os.environ.get("TRADEWIND_CORPUS_SRC") else []
        paths += [str(p) for p in pythonpath or []]
        if paths:
            self.env["PYTHONPATH"] = os.pathsep.join(paths)

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
            return RunResult(dag_id, date, "timeout", self.task_states(dag_id, date),
                             f"timed out after {timeout:.0f} s; {first_error_line(out)}", timeout)
        seconds = (datetime.now(timezone.utc) - started).total_seconds()
        run_id = self._test_run_id(dag_id, date)
        rows = self.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
        state = rows[0][0] if rows else "error"
        tasks = self.task_states(dag_id, date)
        error = "" if state == "success" else self._run_error(dag_id, run_id, tasks, output)
        return RunResult(dag_id, date, state or "error", tasks, error, seconds)

    def _test_run_id(self, dag_id: str, date: str | None) -> str:
        """The run ``dags test`` made (other runs of the DAG may exist: a TriggerDagRunOperator's)."""
        if date:
            return f"manual__{date}T00:00:00+00:00"
        rows = self.query("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", dag_id)
        return rows[0][0] if rows else ""

    def task_states(self, dag_id: str, date: str | None = None) -> dict[str, str]:
        states = self.query("SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
                            dag_id, self._test_run_id(dag_id, date))
        return {(t if i < 0 else f"{t}[{i}]"): (s or "none") for t, i, s in states}

    def _run_error(self, dag_id: str, run_id: str, tasks: dict[str, str], output: str) -> str:
        """``task: first error line`` of the first failed task's log, else of the ``dags test`` output."""
        run_logs = self.path / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        for task, state in sorted(tasks.items()):
            if state != "failed":
                continue
            for log in sorted((run_logs / f"task_id={task.split('[')[0]}").rglob("*.log")):
                text = log.read_text(errors="replace")
                if "Traceback" in text:
                    return f"{task}: {first_error_line(text[text.find('Traceback'):])}"
            return f"{task}: failed (no traceback in its log)"
        return first_error_line(output[output.find("Traceback"):] if "Traceback" in output else output)
