"""apache-airflow-providers-docker from PyPI: DAG files using it parse (there is no Docker engine in CI).

Each test runs in both venvs: ``pip install apache-airflow-providers-docker`` (Airflow pulled in) and
``tradewind providers install docker`` (no Airflow core). The provider is mixed: its
``operators.docker`` module (DockerOperator) and ``@task.docker`` are Tradewind's own (native), the rest
(``hooks.docker``, ``operators.docker_swarm``...) loads from the installed distribution (bridged).

Checked: our DAG file ``dags/provider_docker_dag.py`` (DockerOperator with the arguments its docs show,
``docker.types.Mount``, ``@task.docker``) parses, and a run fails each task with an error naming the
unreachable engine (never a vanished DAG or a silent success); the provider's own example DAGs
(``tests/system/docker`` of its sdist, downloaded from PyPI at test time into a cache outside the
repository) parse with the task ids they define (all four, with @task.docker and
@task.virtualenv(serializer="dill")), once the lines importing Airflow's own test
harness (``tests_common``) are dropped.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
import urllib.request
from pathlib import Path

import pytest
from e2e_support import dags_test, home_with_dag, import_errors, task_log, venv_or_skip
from service_support import in_ci
from venv_support import cache_root

pytestmark = pytest.mark.timeout(1800)  # a first run builds the venv (Apache Airflow from PyPI)

SDIST_VERSION = "4.6.1"
NO_ENGINE = "unix:///tmp/tradewind-e2e-no-such-docker.sock"
#: The example DAGs of the sdist: file -> (dag id, task ids).
EXAMPLES = {
    "example_docker.py": ("docker_test", ["docker_op_tester", "print_date", "print_hello", "sleep"]),
    "example_docker_copy_data.py": ("docker_sample_copy_data",
                                    ["check_if_data_available", "move_data", "print", "view_file"]),
    "example_docker_swarm.py": ("docker_swarm_dag", ["sleep_with_swarm"]),
    "example_taskflow_api_docker_virtualenv.py": ("docker_taskflow", ["extract", "load", "transform"]),
}


@pytest.fixture(scope="module", params=["airflow", "tradewind"])
def venv(request: pytest.FixtureRequest):
    """pip install apache-airflow-providers-... (Airflow pulled in), or tradewind providers install (no core)."""
    return venv_or_skip(request.param, ["docker"])


def _sdist_examples() -> Path:
    """The sdist's tests/system/docker directory, downloaded once (sha256 checked against PyPI's index)."""
    target = cache_root().parent / "sdists" / f"apache_airflow_providers_docker-{SDIST_VERSION}"
    examples = target / f"apache_airflow_providers_docker-{SDIST_VERSION}" / "tests" / "system" / "docker"
    if examples.is_dir():
        return examples
    index = "https://pypi.org/simple/apache-airflow-providers-docker/"
    try:
        page = urllib.request.urlopen(index, timeout=60).read().decode()
    except OSError as exc:
        if in_ci():
            raise
        pytest.skip(f"PyPI not reachable for the docker provider's sdist: {exc}")
    found = re.search(r'href="([^"#]+-%s\.tar\.gz)#sha256=([0-9a-f]{64})"' % re.escape(SDIST_VERSION), page)
    assert found, f"no sdist of version {SDIST_VERSION} on {index}"
    data = urllib.request.urlopen(found.group(1), timeout=120).read()
    assert hashlib.sha256(data).hexdigest() == found.group(2), "sdist checksum mismatch"
    target.mkdir(parents=True, exist_ok=True)
    archive = target / "sdist.tar.gz"
    archive.write_bytes(data)
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if "/tests/system/docker/" in m.name and m.isfile()]
        tar.extractall(target, members=members, filter="data")
    return examples


def _without_test_harness(source: str) -> str:
    """Drop Airflow's system-test harness lines (``tests_common`` and its ``get_test_run``)."""
    return "\n".join(line for line in source.splitlines()
                     if "tests_common" not in line and "get_test_run" not in line) + "\n"


def test_our_docker_dag_parses_and_each_task_names_the_missing_engine(venv, tmp_path):
    home = home_with_dag(venv, tmp_path / "home", "provider_docker_dag.py")
    assert import_errors(home) == {}
    assert home.ok("tasks", "list", "provider_docker").stdout.split() == ["in_container", "in_task_docker"]
    run = dags_test(home, "provider_docker")
    assert run.states == {"in_container": "failed", "in_task_docker": "failed"}, run.output
    for task_id in ("in_container", "in_task_docker"):
        assert f"the Docker engine at {NO_ENGINE} is not reachable" in task_log(home, "provider_docker", task_id)


def test_the_providers_example_dags_parse(venv, tmp_path):
    examples = _sdist_examples()
    home = home_with_dag(venv, tmp_path / "home")
    for name in EXAMPLES:
        (home.path / "dags" / name).write_text(_without_test_harness((examples / name).read_text()))
    assert import_errors(home) == {}
    for dag_id, task_ids in EXAMPLES.values():
        listed = sorted(home.ok("tasks", "list", dag_id).stdout.split())
        assert listed == task_ids, (dag_id, listed)




def test_providers_get_reports_docker_as_native_and_bridged(venv, tmp_path):
    home = home_with_dag(venv, tmp_path / "home")
    info = home.json("providers", "get", "docker")
    assert (info["mode"], info["installed_version"]) == ("native+bridged", info["version"]), info
    assert info["installed_version"]
