"""Gaps found by the conformance corpus in the other-interpreter Python tasks: the branch variants
(``BranchPythonVirtualenvOperator``, ``BranchExternalPythonOperator``, ``@task.branch_virtualenv``,
``@task.branch_external_python``) and Airflow's pickle serializers (``pickle``, ``dill``,
``cloudpickle``) with real child interpreters, real venvs and the real dill from PyPI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagrun_support import run_dag

from tradewind.definition.exceptions import TradewindException
from tradewind.definition.operators.python_env import ExternalPythonOperator, PythonVirtualenvOperator

DILL = ("dill", "0.4.1")


def _answer():
    return 1


def test_serializer_choices_and_the_library_added_to_an_isolated_venv() -> None:
    with pytest.raises(TradewindException, match="serializer 'yaml' is not one of"):
        ExternalPythonOperator(task_id="t", python=sys.executable, python_callable=_answer, serializer="yaml")
    assert ExternalPythonOperator(task_id="t", python=sys.executable, python_callable=_answer,
                                  use_dill=True).serializer == "dill"
    isolated = PythonVirtualenvOperator(task_id="t", python_callable=_answer, serializer="cloudpickle",
                                        system_site_packages=False, requirements=["funcsigs"])
    assert isolated.requirements_list() == ["funcsigs", "cloudpickle"]
    pinned = PythonVirtualenvOperator(task_id="t", python_callable=_answer, serializer="dill",
                                      system_site_packages=False, requirements=["dill==0.3.8"])
    assert pinned.requirements_list() == ["dill==0.3.8"]
    shared = PythonVirtualenvOperator(task_id="t", python_callable=_answer, serializer="dill")
    assert shared.requirements_list() == []  # system site packages: the host's copy, as in Airflow


BRANCH_DAG = """
    import sys
    from datetime import datetime
    from airflow.decorators import task
    from airflow.models.dag import DAG
    from airflow.operators.empty import EmptyOperator
    from airflow.operators.python import BranchExternalPythonOperator, BranchPythonVirtualenvOperator

    def pick_b():
        return "b"

    def pick_c_and_d(ds):
        return ["c", "d"] if len(ds) == 10 else "a"

    with DAG("venv_branches", start_date=datetime(2024, 1, 1), schedule=None):
        ext = BranchExternalPythonOperator(task_id="ext", python=sys.executable, python_callable=pick_b)
        venv = BranchPythonVirtualenvOperator(task_id="venv", python_callable=pick_c_and_d,
                                              op_kwargs={"ds": "{{ ds }}"})
        a, b, c, d = (EmptyOperator(task_id=name) for name in "abcd")
        ext >> [a, b]
        venv >> [c, d]

        @task.branch_external_python(python=sys.executable)
        def deco_ext():
            return "e"

        @task.branch_virtualenv(system_site_packages=False)
        def deco_venv(n):
            return "g" if n > 1 else "f"

        deco_ext() >> [EmptyOperator(task_id="e"), EmptyOperator(task_id="x")]
        deco_venv(2) >> [EmptyOperator(task_id="f"), EmptyOperator(task_id="g")]
"""


def test_branch_operators_and_decorators_in_other_interpreters(config, db) -> None:
    result = run_dag(config, db, "venv_branches", BRANCH_DAG)
    s = result.states
    assert s["ext"] == s["venv"] == s["deco_ext"] == s["deco_venv"] == "success", result.logs
    assert (s["a"], s["b"]) == ("skipped", "success")
    assert (s["c"], s["d"]) == ("success", "success")
    assert (s["e"], s["x"]) == ("success", "skipped")
    assert (s["f"], s["g"]) == ("skipped", "success")
    assert result.xcoms["ext"] == "b" and result.xcoms["venv"] == ["c", "d"]


PICKLE_DAG = """
    import sys
    from datetime import datetime
    from airflow.models.dag import DAG
    from airflow.operators.python import ExternalPythonOperator

    def shift(when, pair):
        import datetime
        return {"next": (when + datetime.timedelta(days=1)).isoformat(), "pair": list(pair)}

    def tuple_back():
        return (1, 2)

    def takes(lock):
        return 1

    with DAG("pickle_dag", start_date=datetime(2024, 1, 1), schedule=None):
        ExternalPythonOperator(task_id="pickled", python=sys.executable, python_callable=shift,
                               serializer="pickle", op_args=[datetime(2024, 5, 1), (1, "x")])
        ExternalPythonOperator(task_id="no_dill", python=sys.executable, python_callable=tuple_back,
                               serializer="dill")
        ExternalPythonOperator(task_id="not_picklable", python=sys.executable, python_callable=takes,
                               serializer="pickle", op_kwargs={"lock": __import__("threading").Lock()})
"""


def test_pickle_serializer_and_a_missing_dill_named(config, db) -> None:
    has_dill = subprocess.run([sys.executable, "-c", "import dill"], capture_output=True).returncode == 0
    result = run_dag(config, db, "pickle_dag", PICKLE_DAG)
    s, logs = result.states, result.logs
    assert s["pickled"] == "success", logs["pickled"]
    # A datetime and a tuple crossed to the child, which JSON cannot carry.
    assert result.xcoms["pickled"] == {"next": "2024-05-02T00:00:00", "pair": [1, "x"]}
    assert "through pickle" in logs["pickled"]
    if not has_dill:
        assert s["no_dill"] == "failed"
        assert "serializer='dill' needs the dill package in the environment that runs tuple_back()" in logs["no_dill"]
    assert s["not_picklable"] == "failed"
    assert "lock cannot be passed to the other interpreter with pickle (serializer='pickle')" \
        in logs["not_picklable"]


def _dill_wheels() -> Path:
    """The real dill wheel from PyPI, downloaded once into a cache outside the repository."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tradewind-tests" / "wheels"
    cache.mkdir(parents=True, exist_ok=True)
    name, version = DILL
    if not list(cache.glob(f"{name}-{version}-*.whl")):
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                               "-d", str(cache), f"{name}=={version}"], capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            if os.environ.get("CI") == "true":
                pytest.fail(f"cannot download {name}=={version} from PyPI: {proc.stderr[-500:]}")
            pytest.skip(f"PyPI unreachable: cannot download {name}=={version}")
    return cache


def test_dill_serializer_in_an_isolated_venv_gets_dill_installed(config, db) -> None:
    """Airflow's tutorial_taskflow_api_virtualenv pattern: serializer='dill', no system site packages."""
    wheels = _dill_wheels()
    source = f"""
        from datetime import datetime
        from airflow.decorators import dag, task

        @dag(start_date=datetime(2024, 1, 1), schedule=None)
        def dill_dag():
            @task.virtualenv(serializer="dill", system_site_packages=False,
                             pip_install_options=["--no-index", "--find-links", "{wheels}"])
            def extract():
                import dill, sys
                print("dill", dill.__version__, "in", sys.prefix)
                return {{"1001": 301.27, "1002": 433.21}}

            @task.virtualenv(serializer="dill", system_site_packages=False,
                             pip_install_options=["--no-index", "--find-links", "{wheels}"])
            def total(orders):
                return round(sum(orders.values()), 2)

            total(extract())

        dill_dag()
    """
    result = run_dag(config, db, "dill_dag", source)
    assert result.states == {"extract": "success", "total": "success"}, result.logs
    assert f"dill {DILL[1]} in" in result.logs["extract"]
    assert result.xcoms == {"extract": {"1001": 301.27, "1002": 433.21}, "total": 734.48}
