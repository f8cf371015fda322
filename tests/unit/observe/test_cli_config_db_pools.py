from __future__ import annotations

import json


def test_version_prints_a_version(invoke):
    result = invoke("version")
    assert result.exit_code == 0
    assert result.output.strip()[0].isdigit()


def test_help_lists_commands(invoke):
    result = invoke("--help")
    assert result.exit_code == 0
    for name in ("dags", "tasks", "variables", "pools", "db", "config", "standalone", "scheduler"):
        assert name in result.output


def test_config_list_shows_sources(invoke):
    result = invoke("config", "list", "-o", "json", extra_env={"TRADEWIND__CORE__PARALLELISM": "7"})
    assert result.exit_code == 0, result.output
    rows = {(r["section"], r["key"]): r for r in json.loads(result.output)}
    assert rows[("core", "parallelism")] == {"section": "core", "key": "parallelism", "value": "7", "source": "env"}
    assert rows[("database", "echo")]["source"] == "default"


def test_config_list_section_filter_and_unknown_section(invoke):
    result = invoke("config", "list", "--section", "api", "-o", "json")
    assert {r["section"] for r in json.loads(result.output)} == {"api"}
    bad = invoke("config", "list", "--section", "nope")
    assert bad.exit_code == 1
    assert "no section 'nope'" in bad.output


def test_config_get_value(invoke, home):
    assert invoke("config", "get-value", "core", "dags_folder").output.strip() == str(home / "dags")
    bad = invoke("config", "get-value", "core", "missing_key")
    assert bad.exit_code == 1
    assert "unknown setting [core] missing_key" in bad.output


def test_db_check_fails_before_migrate_then_passes(invoke):
    before = invoke("db", "check")
    assert before.exit_code == 1
    assert "no schema" in before.output
    assert invoke("db", "migrate").exit_code == 0
    again = invoke("db", "migrate")
    assert again.exit_code == 0
    assert "already up to date" in again.output
    assert invoke("db", "check").exit_code == 0


def test_db_reset_asks_and_keeps_data_on_no(invoke):
    invoke("db", "migrate")
    invoke("pools", "set", "keep", "3", "kept")
    answer_no = invoke("db", "reset", input="n\n")
    assert answer_no.exit_code == 1
    assert "keep" in invoke("pools", "list", "-o", "json").output
    assert invoke("db", "reset", "--yes").exit_code == 0
    pools = [p["pool"] for p in json.loads(invoke("pools", "list", "-o", "json").output)]
    assert pools == ["default_pool"]


def test_pools_round_trip(invoke, db):
    assert invoke("pools", "set", "gpu", "2", "The GPUs").exit_code == 0
    rows = {p["pool"]: p for p in json.loads(invoke("pools", "list", "-o", "json").output)}
    assert rows["gpu"] == {
        "pool": "gpu", "slots": 2, "running": 0, "queued": 0, "open_slots": 2, "description": "The GPUs",
    }
    assert invoke("pools", "delete", "gpu").exit_code == 0
    missing = invoke("pools", "delete", "gpu")
    assert missing.exit_code == 1 and "does not exist" in missing.output
    default = invoke("pools", "delete", "default_pool")
    assert default.exit_code == 1 and "cannot be deleted" in default.output


def test_pools_set_rejects_bad_slots_with_usage_error(invoke, db):
    result = invoke("pools", "set", "p", "many", "d")
    assert result.exit_code == 2
    assert "Usage:" in result.output


def test_commands_needing_schema_say_migrate(invoke):
    result = invoke("pools", "list")
    assert result.exit_code == 1
    assert "tradewind db migrate" in result.output
