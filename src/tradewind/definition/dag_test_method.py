"""``DAG.test()``: run a DAG file's DAG once, as ``tradewind dags test`` does.

Tutorials end DAG files with ``if __name__ == "__main__": dag.test()`` so that ``python my_dag.py``
runs the DAG. The definition layer must not import the layers that run DAGs (DESIGN.md's one-way
layers: definition -> parse -> persist -> schedule -> execute -> observe), so ``test()`` starts the
CLI's ``dags test`` in a child interpreter, naming it by module string only. The child parses this
file afresh (there ``__name__`` is not ``"__main__"``, so it does not recurse), records the run in
the configured metadata database and prints each task's state; its output goes straight to ours.

A file inside the configured DAGs folder is run as ``tradewind dags test`` runs it (the folder is
parsed). For a file elsewhere the child's DAGs folder is that one file (``[core] dags_folder`` may be
a single ``.py`` file); as the DAG processor then sees only it, DAGs of other files in the same metadata
database are marked inactive until the DAG processor parses their folder again (a note says so). Connections and variables from
``conn_file_path`` / ``variable_file_path`` (JSON, YAML or ``.env``, as Airflow's local-file secrets
backend reads them) reach the child as ``AIRFLOW_CONN_<ID>`` / ``AIRFLOW_VAR_<KEY>`` variables, which
come first in Tradewind's lookup order, as the file does in Airflow's ``dag.test``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

#: The CLI, by module name: importing it here would pull the whole runtime into the definition layer.
CLI_MODULE = "tradewind.observe.cli.main"


@dataclass
class DagTestResult:
    """What ``DAG.test()`` returns: the run's end ``state`` (``"success"`` / ``"failed"``), the
    state each task ended in (``task_states``, as printed) and the child's exit code."""

    dag_id: str
    state: str
    returncode: int
    task_states: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None


def run_dag_test(dag: Any, *, logical_date: Any, run_conf: Any, conn_file_path: Any,
                 variable_file_path: Any) -> DagTestResult:
    fileloc = getattr(dag, "fileloc", "")
    if not fileloc or not os.path.isfile(fileloc):
        raise RuntimeError(f"DAG {dag.dag_id!r}: test() runs the DAG's file, and its file {fileloc!r} "
                           "is not a file on disk (define the DAG in a .py file)")
    if run_conf is not None and not isinstance(run_conf, dict):
        raise TypeError(f"DAG {dag.dag_id!r}: test(run_conf=...) takes a dict, got {type(run_conf).__name__}")
    env = dict(os.environ)
    _choose_dags_folder(env, os.path.abspath(fileloc))
    if conn_file_path is not None:
        for conn_id, value in _read_connections(Path(conn_file_path)).items():
            env["AIRFLOW_CONN_" + conn_id.upper()] = value
    if variable_file_path is not None:
        for key, value in _read_variables(Path(variable_file_path)).items():
            env["AIRFLOW_VAR_" + key.upper()] = value
    cmd = [sys.executable, "-m", CLI_MODULE, "dags", "test", dag.dag_id]
    when = _as_date_argument(logical_date, dag.dag_id)
    if when is not None:
        cmd.append(when)
    if run_conf is not None:
        cmd += ["--conf", json.dumps(run_conf, default=str)]
    sys.stdout.flush()
    sys.stderr.flush()
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True, bufsize=1)
    result = DagTestResult(dag_id=dag.dag_id, state="failed", returncode=1)
    assert process.stdout is not None
    for line in process.stdout:  # relayed as it comes: the user watches the run progress
        sys.stdout.write(line)
        sys.stdout.flush()
        _note_line(line.rstrip("\n"), result)
    result.returncode = process.wait()
    if result.returncode != 0 and result.run_id is None:
        # No run at all (no migrated database, the DAG did not parse...): the child said why on stderr.
        raise RuntimeError(f"DAG {dag.dag_id!r}: test() could not start a run ('{CLI_MODULE} dags test' "
                           f"exited with {result.returncode}); its error is printed above")
    if result.returncode == 0:
        result.state = "success"
    return result


def _choose_dags_folder(env: dict[str, str], fileloc: str) -> None:
    """Parse the configured DAGs folder when the file is in it (as ``tradewind dags test`` would); else
    only this file. The folder's setting is read by the CLI (``config get-value``): settings are not
    the definition layer's to import."""
    asked = subprocess.run([sys.executable, "-m", CLI_MODULE, "config", "get-value", "core", "dags_folder"],
                           env=env, capture_output=True, text=True)
    folder = os.path.realpath(os.path.expanduser(asked.stdout.strip())) if asked.returncode == 0 else ""
    if folder and os.path.realpath(fileloc).startswith(folder.rstrip(os.sep) + os.sep):
        return
    env["TRADEWIND__CORE__DAGS_FOLDER"] = fileloc
    env["TRADEWIND__CORE__LOAD_EXAMPLES"] = "False"
    print(f"[dag.test] {fileloc} is outside the DAGs folder {folder or '(unknown)'}: this run parses only this "
          "file, so the metadata database marks the DAGs of other files inactive until the DAG processor "
          "parses the DAGs folder again", file=sys.stderr, flush=True)


def _note_line(line: str, result: DagTestResult) -> None:
    """Read ``[dags test] <task>: <state>`` and ``created run <run_id>`` lines into ``result``."""
    prefix = "[dags test] "
    if not line.startswith(prefix):
        return
    body = line[len(prefix):]
    if body.startswith("created run "):
        result.run_id = body.split()[2]
    elif body.startswith("run "):
        result.state = body.rsplit(": ", 1)[-1].strip()
    elif ": " in body:
        label, state = body.rsplit(": ", 1)
        result.task_states[label] = state.split(" ")[0]


def _as_date_argument(value: Any, dag_id: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"DAG {dag_id!r}: test() takes a datetime (or ISO string) as the logical date, got {value!r}")


def _load_file(path: Path, what: str) -> Any:
    """A JSON, YAML or ``.env`` file's content (Airflow's local-file secrets backend's formats)."""
    if not path.is_file():
        raise FileNotFoundError(f"test({what}=...): no such file {str(path)!r}")
    text = path.read_text()
    suffix = path.suffix.lower()
    if suffix == ".json":
        return json.loads(text) if text.strip() else {}
    if suffix in (".yaml", ".yml"):
        import yaml  # PyYAML, only when a YAML file is given

        return yaml.safe_load(text) or {}
    if suffix == ".env":
        pairs: dict[str, Any] = {}
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise ValueError(f"test({what}=...): {path}:{number}: expected KEY=VALUE, got {raw!r}")
            pairs[key.strip()] = value.strip()
        return pairs
    raise ValueError(f"test({what}=...): {str(path)!r} is not a .json, .yaml, .yml or .env file")


def _read_connections(path: Path) -> dict[str, str]:
    """``conn_id -> URI or JSON`` (forms ``AIRFLOW_CONN_<ID>`` takes) from a connections file."""
    content = _load_file(path, "conn_file_path")
    if not isinstance(content, dict):
        raise ValueError(f"test(conn_file_path=...): {path} must map connection ids to connections")
    out: dict[str, str] = {}
    for conn_id, value in content.items():
        if isinstance(value, list):  # Airflow's .env form allows a one-item list per id
            if len(value) != 1:
                raise ValueError(f"test(conn_file_path=...): connection {conn_id!r} is defined {len(value)} times")
            value = value[0]
        if isinstance(value, str):
            out[str(conn_id)] = value
        elif isinstance(value, dict):
            fields = dict(value)
            if "conn_type" not in fields and "conn_uri" not in fields:
                raise ValueError(f"test(conn_file_path=...): connection {conn_id!r} has no conn_type")
            out[str(conn_id)] = fields["conn_uri"] if "conn_uri" in fields else json.dumps(fields, default=str)
        else:
            raise ValueError(f"test(conn_file_path=...): connection {conn_id!r} must be a URI or a mapping, "
                             f"got {type(value).__name__}")
    return out


def _read_variables(path: Path) -> dict[str, str]:
    """``key -> value`` from a variables file; non-string values travel as JSON (``deserialize_json``)."""
    content = _load_file(path, "variable_file_path")
    if not isinstance(content, dict):
        raise ValueError(f"test(variable_file_path=...): {path} must map variable keys to values")
    return {str(key): value if isinstance(value, str) else json.dumps(value, default=str)
            for key, value in content.items()}
