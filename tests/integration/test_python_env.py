"""PythonVirtualenvOperator / @task.virtualenv and ExternalPythonOperator / @task.external_python:
real child interpreters and real virtualenvs (python -m venv, pip installing a local wheel)."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest
from dagrun_support import run_dag

from tradewind.definition.exceptions import TradewindException
from tradewind.definition.operators.python_env import ExternalPythonOperator, callable_source


def _keep(*args, **kwargs):
    return lambda fn: fn


def test_callable_source_drops_decorators_and_dedents() -> None:
    def outer():
        @_keep(
            reason="two lines")
        def inner(x):
            return x + 1
        return inner

    source, name = callable_source(outer(), "t")
    assert name == "inner" and source.startswith("def inner(x):") and "@" not in source


def test_lambda_is_refused_when_the_dag_is_defined() -> None:
    with pytest.raises(TradewindException, match="must be a function defined with def"):
        ExternalPythonOperator(task_id="t", python=sys.executable, python_callable=lambda: 1)
    with pytest.raises(TradewindException, match="serializer 'yaml' is not one of"):
        ExternalPythonOperator(task_id="t", python=sys.executable, python_callable=_keep, serializer="yaml")


DAG_SOURCE = """
    import sys
    from datetime import datetime
    from tradewind import DAG, task, ExternalPythonOperator, PythonVirtualenvOperator

    def where(prefix, ds):
        import sys
        print("stdout line from", sys.prefix)
        print("stderr line", file=sys.stderr)
        return {"prefix": prefix, "ds": ds, "base": sys.prefix != sys.base_prefix}

    def boom():
        return 1 / 0

    def skip_me():
        import sys
        sys.exit(99)

    def bad_result():
        return {1, 2}

    def wants_ti(ti):
        return 1

    with DAG("pyenv_dag", start_date=datetime(2024, 1, 1), schedule=None):
        @task
        def seed():
            return [1, 2, 3]

        @task.virtualenv(system_site_packages=True)
        def total(numbers, run_id=None):
            import json
            print("in the venv:", json.dumps(numbers))
            return {"sum": sum(numbers), "run_id": run_id}

        @task.external_python(python=sys.executable)
        def double(result):
            return result["sum"] * 2

        double(total(seed()))
        ExternalPythonOperator(task_id="external", python=sys.executable, python_callable=where,
                               op_args=["p"], op_kwargs={"ds": "{{ ds }}"})
        ExternalPythonOperator(task_id="boom", python=sys.executable, python_callable=boom)
        ExternalPythonOperator(task_id="skip", python=sys.executable, python_callable=skip_me, skip_on_exit_code=99)
        ExternalPythonOperator(task_id="bad_result", python=sys.executable, python_callable=bad_result)
        ExternalPythonOperator(task_id="wants_ti", python=sys.executable, python_callable=wants_ti)
        ExternalPythonOperator(task_id="no_python", python="/nonexistent/python", python_callable=boom)
"""


def test_dag_with_virtualenv_and_external_python_tasks(config, db) -> None:
    result = run_dag(config, db, "pyenv_dag", DAG_SOURCE)
    s, x, logs = result.states, result.xcoms, result.logs
    assert s["seed"] == s["total"] == s["double"] == s["external"] == "success"
    assert x["total"]["sum"] == 6 and x["total"]["run_id"].startswith("manual__") and x["double"] == 12
    assert "in the venv: [1, 2, 3]" in logs["total"] and "Creating a virtualenv" in logs["total"]
    assert x["external"]["prefix"] == "p" and len(x["external"]["ds"]) == 10
    assert "stdout line from" in logs["external"] and "stderr line" in logs["external"]
    assert s["boom"] == "failed" and "ZeroDivisionError: division by zero" in logs["boom"]
    assert "boom() failed in" in logs["boom"]
    assert s["skip"] == "skipped"
    assert s["bad_result"] == "failed" and "is not JSON-serializable" in logs["bad_result"]
    assert s["wants_ti"] == "failed" and "ti cannot be passed to the other interpreter as JSON" in logs["wants_ti"]
    assert s["no_python"] == "failed" and "'/nonexistent/python' is not an executable file" in logs["no_python"]


def _tiny_wheel(folder: Path) -> Path:
    """A one-module wheel (``twtiny``), built by hand so pip installs it without a build backend."""
    wheel = folder / "twtiny-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("twtiny.py", "ANSWER = 42\n")
        zf.writestr("twtiny-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: twtiny\nVersion: 1.0\n")
        zf.writestr("twtiny-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
                                                  "Tag: py3-none-any\n")
        zf.writestr("twtiny-1.0.dist-info/RECORD", "")
    return wheel


def test_requirements_are_installed_and_the_venv_is_cached(config, db, tmp_path) -> None:
    wheel = _tiny_wheel(tmp_path)
    cache = tmp_path / "venvs"
    source = f"""
        from datetime import datetime
        from tradewind import DAG, PythonVirtualenvOperator

        def answer():
            import twtiny
            return twtiny.ANSWER

        with DAG("venv_req_dag", start_date=datetime(2024, 1, 1), schedule=None):
            for name in ("first", "second"):
                PythonVirtualenvOperator(task_id=name, python_callable=answer, requirements=["{wheel}"],
                                         system_site_packages=False, venv_cache_path="{cache}",
                                         pip_install_options=["--no-index"], max_active_tis_per_dag=1)
    """
    result = run_dag(config, db, "venv_req_dag", source)
    assert result.states == {"first": "success", "second": "success"}, result.logs
    assert result.xcoms == {"first": 42, "second": 42}
    assert sum("Reusing the cached virtualenv" in log for log in result.logs.values()) == 1
    assert len(list(cache.glob("venv-*/.tradewind-complete"))) == 1


def test_failed_pip_install_names_the_step(config, db, tmp_path) -> None:
    source = """
        from datetime import datetime
        from tradewind import DAG, PythonVirtualenvOperator

        def nothing():
            return None

        with DAG("venv_bad_req", start_date=datetime(2024, 1, 1), schedule=None):
            PythonVirtualenvOperator(task_id="t", python_callable=nothing, requirements=["no-such-dist-tw==0"],
                                     pip_install_options=["--no-index"])
    """
    result = run_dag(config, db, "venv_bad_req", source)
    assert result.states["t"] == "failed"
    assert "installing the requirements failed" in result.logs["t"]
