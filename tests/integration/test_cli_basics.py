"""End-to-end: the installed ``tradewind`` executable, real processes, a tmp home."""

from __future__ import annotations

import json

import pytest

from cli_support import Home

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path) -> Home:
    return Home(tmp_path / "home")


def test_db_migrate_is_idempotent_and_check_passes(home):
    assert home.run("db", "check").returncode == 1
    first = home.ok("db", "migrate")
    assert "migrated" in first.stdout
    second = home.ok("db", "migrate")
    assert "already up to date" in second.stdout
    assert home.ok("db", "check").returncode == 0


def test_config_list_shows_env_source(home):
    home.env["TRADEWIND__SCHEDULER__MAX_IDLE_WAIT"] = "0.5"
    rows = home.json("config", "list", "--section", "scheduler")
    by_key = {r["key"]: r for r in rows}
    assert by_key["max_idle_wait"]["value"] == "0.5"
    assert by_key["max_idle_wait"]["source"] == "env"
    assert by_key["max_tis_per_query"]["source"] == "default"
    assert home.ok("config", "get-value", "scheduler", "max_idle_wait").stdout.strip() == "0.5"


def test_variables_round_trip_with_import_export(home, tmp_path):
    home.ok("db", "migrate")
    home.ok("variables", "set", "color", "blue")
    home.ok("variables", "set", "limits", '{"rows": 5}', "--json")
    assert home.ok("variables", "get", "color").stdout == "blue\n"
    exported = tmp_path / "vars.json"
    home.ok("variables", "export", str(exported))
    assert json.loads(exported.read_text()) == {"color": "blue", "limits": {"rows": 5}}
    home.ok("variables", "delete", "color")
    assert home.run("variables", "get", "color").returncode == 1
    home.ok("variables", "import", str(exported))
    assert home.ok("variables", "get", "color").stdout == "blue\n"
    assert json.loads(home.ok("variables", "get", "limits", "--json").stdout) == {"rows": 5}
    keys = [r["key"] for r in home.json("variables", "list")]
    assert keys == ["color", "limits"]


def test_pools(home):
    home.ok("db", "migrate")
    home.ok("pools", "set", "gpu", "2", "Two GPUs")
    pools = {p["pool"]: p for p in home.json("pools", "list")}
    assert pools["gpu"]["slots"] == 2 and pools["gpu"]["open_slots"] == 2
    assert pools["default_pool"]["slots"] == 128
    home.ok("pools", "delete", "gpu")
    assert "gpu" not in {p["pool"] for p in home.json("pools", "list")}


def test_wrong_arguments_exit_2_with_usage(home):
    result = home.run("dags", "list-runs")
    assert result.returncode == 2
    assert "Usage:" in result.stderr
    bad_date = home.run("dags", "trigger", "x", "--logical-date", "yesterday")
    assert bad_date.returncode == 2
    assert "YYYY-MM-DD" in bad_date.stderr
    bad_conf = home.run("dags", "trigger", "x", "--conf", "{not json")
    assert bad_conf.returncode == 2
    assert "invalid JSON" in bad_conf.stderr


def test_unknown_dag_is_one_line_error_exit_1(home):
    home.ok("db", "migrate")
    result = home.run("dags", "details", "no_such_dag")
    assert result.returncode == 1
    assert "DAG 'no_such_dag' not found" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unmigrated_database_says_what_to_do(home):
    result = home.run("variables", "list")
    assert result.returncode == 1
    assert "tradewind db migrate" in result.stderr
    assert "Traceback" not in result.stderr
