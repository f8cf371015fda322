"""The CLI habits Airflow users bring: dags/tasks state, dags report, info, cheat-sheet, list-runs
flags, dags show as Graphviz DOT, "did you mean" for unknown ids, and variables encrypted at rest
(list shows keys only, rotate-fernet-key re-encrypts them). Real ``tradewind`` processes on a real
SQLite home."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml
from cli_support import BROKEN_DAG, FAILING_DAG, SMALL_DAG, Home

# Each test runs several `tradewind` processes (seconds each on a busy machine).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A home where ``small`` succeeded on 2024-01-01 and ``failing`` failed on 2024-02-01."""
    home = Home(tmp_path_factory.mktemp("habits") / "home")
    home.ok("db", "migrate")
    home.add_dag("small_dag.py", SMALL_DAG)
    home.add_dag("failing_dag.py", FAILING_DAG)
    home.ok("dags", "test", "small", "2024-01-01")
    assert home.run("dags", "test", "failing", "2024-02-01").returncode == 1
    return home


def _one_error_line(result, expected: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [f"Error: {expected}"], result.stderr


# ---------------------------------------------------------------------------- state commands
def test_dags_state_prints_the_run_state_by_date_or_run_id(ran: Home) -> None:
    assert ran.ok("dags", "state", "small", "2024-01-01").stdout == "success\n"
    assert ran.ok("dags", "state", "failing", "2024-02-01").stdout == "failed\n"
    [run_id] = [r["run_id"] for r in ran.json("dags", "list-runs", "small") if r["logical_date"].startswith("2024-01-01")]
    assert ran.ok("dags", "state", "small", run_id).stdout == "success\n"
    missing = ran.run("dags", "state", "small", "2030-01-01")
    assert missing.returncode == 1 and "has no run with run_id or logical date '2030-01-01'" in missing.stderr


def test_tasks_state_prints_the_instance_state(ran: Home) -> None:
    assert ran.ok("tasks", "state", "small", "shout", "2024-01-01").stdout == "success\n"
    assert ran.ok("tasks", "state", "failing", "boom", "2024-02-01").stdout == "failed\n"
    assert ran.ok("tasks", "state", "failing", "after", "2024-02-01").stdout == "upstream_failed\n"
    # No instance with that map index: no state, printed as Airflow prints it.
    assert ran.ok("tasks", "state", "small", "shout", "2024-01-01", "--map-index", "3").stdout == "None\n"


# --------------------------------------------------------------------------- did you mean
def test_unknown_dag_ids_get_the_closest_one(ran: Home) -> None:
    hint = "DAG 'smal' not found. Did you mean 'small'?"
    # Reading commands, and commands that go through the action layer (schedule.actions).
    for args in (("dags", "state", "smal", "2024-01-01"), ("dags", "show", "smal"), ("dags", "list-runs", "-d", "smal"),
                 ("dags", "trigger", "smal"), ("tasks", "clear", "smal", "--yes"),
                 ("tasks", "state", "smal", "shout", "2024-01-01")):
        _one_error_line(ran.run(*args), hint)
    far = ran.run("dags", "state", "zzzzzz", "2024-01-01")
    assert far.returncode == 1 and "Did you mean" not in far.stderr and "tradewind dags list" in far.stderr


def test_unknown_task_ids_get_the_closest_one(ran: Home) -> None:
    hint = "Task 'shot' not found in DAG 'small'. Did you mean 'shout'?"
    _one_error_line(ran.run("tasks", "state", "small", "shot", "2024-01-01"), hint)
    _one_error_line(ran.run("tasks", "render", "small", "shot", "2024-01-01"), hint)
    _one_error_line(ran.run("tasks", "set-state", "small", "2024-01-01", "shot", "success"), hint)


# ------------------------------------------------------------------------------- list-runs
def test_list_runs_takes_airflow_2s_flag_and_filters(ran: Home) -> None:
    assert ran.json("dags", "list-runs", "-d", "failing", "--state", "success") == []
    twice = ran.run("dags", "list-runs", "small", "-d", "failing")
    assert twice.returncode == 2 and "give it once" in twice.stderr
    ran.ok("dags", "trigger", "small", "--logical-date", "2024-03-01")
    dates = lambda *flags: [r["logical_date"][:10] for r in ran.json("dags", "list-runs", "-d", "small", *flags)]  # noqa: E731
    assert dates("--start-date", "2024-02-01") == ["2024-03-01"]
    assert dates("-s", "2024-01-01", "-e", "2024-02-01") == ["2024-01-01"]
    _as_backfill_run(ran, "small", "2024-03-01")
    assert dates("--no-backfill") == ["2024-01-01"]
    as_yaml = yaml.safe_load(ran.ok("dags", "list-runs", "small", "-o", "yaml").stdout)
    assert [(r["logical_date"][:10], r["state"]) for r in as_yaml] == [("2024-03-01", "queued"),
                                                                       ("2024-01-01", "success")]


def _as_backfill_run(home: Home, dag_id: str, day: str) -> None:
    """Make the run of ``day`` one a backfill created (the columns the scheduler sets for its runs)."""
    with sqlite3.connect(home.path / "tradewind.db") as conn:
        changed = conn.execute("UPDATE dag_run SET backfill_id = 1, run_type = 'backfill' "
                               "WHERE dag_id = ? AND logical_date LIKE ?", (dag_id, f"{day}%")).rowcount
    assert changed == 1


# ------------------------------------------------------------------------------- dags show
def test_dags_show_prints_graphviz_dot(ran: Home, tmp_path: Path) -> None:
    dot = ran.ok("dags", "show", "failing").stdout
    lines = [line.strip() for line in dot.strip().splitlines()]
    assert lines[0] == 'digraph "failing" {' and lines[-1] == "}"
    assert any(line.startswith('"boom" [') and 'label="boom"' in line for line in lines)
    assert any(line.startswith('"after" [') for line in lines)
    assert [line for line in lines if "->" in line] == ['"boom" -> "after"']
    saved = tmp_path / "failing.dot"
    result = ran.ok("dags", "show", "failing", "--save", str(saved))
    assert result.stdout == f"File {saved} saved\n"
    assert saved.read_text() == dot


def test_dags_show_save_image_needs_graphviz(ran: Home, tmp_path: Path) -> None:
    target = tmp_path / "graph.svg"
    result = ran.run("dags", "show", "small", "--save", str(target))
    if shutil.which("dot", path=ran.env.get("PATH")) is None:
        assert result.returncode == 1
        assert "install graphviz" in result.stderr and "save as .dot" in result.stderr
        assert not target.exists()
    else:
        assert result.returncode == 0, result.stderr
        assert "<svg" in target.read_text()
    no_suffix = ran.run("dags", "show", "small", "--save", str(tmp_path / "graph"))
    assert no_suffix.returncode == 1 and "give a file extension" in no_suffix.stderr


# ------------------------------------------------------------------------------ dags report
def test_dags_report_per_file(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.add_dag("small_dag.py", SMALL_DAG)
    home.add_dag("failing_dag.py", FAILING_DAG)
    home.add_dag("broken_dag.py", BROKEN_DAG)
    result = home.ok("dags", "report", "-o", "json")
    rows = {row["file"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"small_dag.py", "failing_dag.py", "broken_dag.py"}
    assert (rows["small_dag.py"]["dag_num"], rows["small_dag.py"]["task_num"], rows["small_dag.py"]["dags"]) == \
        (1, 2, "small")
    assert (rows["failing_dag.py"]["dag_num"], rows["failing_dag.py"]["task_num"]) == (1, 2)
    assert rows["broken_dag.py"]["dag_num"] == 0
    assert all(isinstance(row["duration"], float) and row["duration"] >= 0 for row in rows.values())
    assert "1 file(s) had import errors" in result.stderr
    assert "broken on purpose" not in result.stdout


# ---------------------------------------------------------------------------- info, cheat-sheet
def test_info_shows_paths_and_masks_the_database_password(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.env["TRADEWIND__DATABASE__URL"] = "postgresql://bob:s3cret-pw@db.example:5432/tw"
    result = home.ok("info", "-o", "json")
    info = json.loads(result.stdout)
    assert "s3cret-pw" not in result.stdout
    assert info["Tradewind info"]["database"] == "postgresql://bob:***@db.example:5432/tw"
    assert info["Tradewind info"]["version"] == home.ok("version").stdout.strip()
    assert info["Tradewind info"]["executor"] == "local"
    assert info["Paths info"]["tradewind_home"] == str(home.path.resolve())
    assert Path(info["Paths info"]["dags_folder"]).resolve() == (home.path / "dags").resolve()
    assert info["System info"]["python_version"].count(".") == 2
    assert isinstance(info["Extras info"]["installed"], list)
    assert yaml.safe_load(home.ok("info", "-o", "yaml").stdout) == info
    assert "s3cret-pw" not in home.ok("info").stdout


def test_cheat_sheet_lists_every_command_with_its_help(tmp_path: Path) -> None:
    text = Home(tmp_path / "home").ok("cheat-sheet").stdout
    assert text.startswith("Miscellaneous commands\n")
    lines = [line.strip() for line in text.splitlines()]
    assert any(line.startswith("tradewind dags state ") and "state of a DAG run" in line for line in lines)
    assert any(line.startswith("tradewind tasks state ") for line in lines)
    assert any(line.startswith("tradewind info ") and "version, paths" in line for line in lines)
    assert any(line.startswith("tradewind variables list ") and "keys" in line for line in lines)
    for group in ("dags", "tasks", "variables", "connections", "pools", "backfill"):
        assert any(line.startswith(f"{group}: ") for line in lines), group


# ------------------------------------------------------------------------- variables at rest
def _raw_variables(home: Home) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(home.path / "tradewind.db") as conn:
        return {key: (val, flag) for key, val, flag in conn.execute("SELECT key, val, is_encrypted FROM variable")}


def test_variables_list_shows_keys_only(home: Home) -> None:
    home.ok("variables", "set", "api_token", "tok-VALUE-123", "--description", "desc-TEXT")
    home.ok("variables", "set", "colour", "blue")
    assert home.json("variables", "list") == [{"key": "api_token"}, {"key": "colour"}]
    assert yaml.safe_load(home.ok("variables", "list", "-o", "yaml").stdout) == [{"key": "api_token"},
                                                                                  {"key": "colour"}]
    for output in ("table", "plain"):
        shown = home.ok("variables", "list", "-o", output).stdout
        assert "api_token" in shown and "colour" in shown
        assert "tok-VALUE-123" not in shown and "blue" not in shown and "desc-TEXT" not in shown
    assert home.ok("variables", "get", "api_token").stdout == "tok-VALUE-123\n"


def test_variables_are_ciphertext_and_rotation_reencrypts_them(home: Home) -> None:
    from tradewind.persist.fernet import build_fernet, generate_key

    home.ok("variables", "set", "secret", "hunter2-value")
    stored, flag = _raw_variables(home)["secret"]
    assert flag == 1 and "hunter2" not in stored
    old_key = (home.path / "fernet_key").read_text().strip()
    assert build_fernet([old_key]).decrypt(stored.encode()).decode() == "hunter2-value"
    with sqlite3.connect(home.path / "tradewind.db") as conn:  # a row an older version wrote in clear
        conn.execute("INSERT INTO variable (key, val, is_encrypted) VALUES ('legacy', 'clear-text', 0)")
    assert home.ok("variables", "get", "legacy").stdout == "clear-text\n"

    new_key = generate_key()
    home.env["TRADEWIND__CORE__FERNET_KEY"] = f"{new_key},{old_key}"
    assert "and 2 variable(s)" in home.ok("rotate-fernet-key").stdout
    home.env["TRADEWIND__CORE__FERNET_KEY"] = new_key
    raw = _raw_variables(home)
    assert {key: flag for key, (_, flag) in raw.items()} == {"secret": 1, "legacy": 1}
    assert build_fernet([new_key]).decrypt(raw["legacy"][0].encode()).decode() == "clear-text"
    assert home.ok("variables", "get", "secret").stdout == "hunter2-value\n"
    assert home.ok("variables", "get", "legacy").stdout == "clear-text\n"

    home.env["TRADEWIND__CORE__FERNET_KEY"] = old_key  # the old key alone no longer reads them
    wrong = home.run("variables", "get", "secret")
    assert wrong.returncode == 1 and "cannot be decrypted" in wrong.stderr and "rotate-fernet-key" in wrong.stderr


# ------------------------------------------------------------------- actions through the CLI
DAILY_DAG = '''
from datetime import datetime
from tradewind import DAG, BashOperator

with DAG("daily", schedule="@daily", start_date=datetime(2024, 1, 1), is_paused_upon_creation=True) as dag:
    BashOperator(task_id="work", bash_command="echo work")
'''


def test_backfill_pause_and_unpause_go_through_the_action_layer(home: Home) -> None:
    home.add_dag("daily.py", DAILY_DAG)
    created = home.ok("backfill", "create", "daily", "--from-date", "2024-01-01", "--to-date", "2024-01-02").stdout
    assert created.startswith("Created backfill 1 of daily: 2 logical date(s)")
    assert home.ok("backfill", "pause", "1").stdout == "Backfill 1 is paused.\n"
    assert home.ok("backfill", "unpause", "1").stdout == "Backfill 1 is unpaused.\n"
    _one_error_line(home.run("backfill", "pause", "99"), "Backfill with id 99 not found")
    entries = [(e["event"], json.loads(e["extra"] or "{}")) for e in home.json("audit", "list", "--dag-id", "daily")]
    events = [(event, extra.get("source"), extra.get("backfill_id")) for event, extra in entries]
    for event in ("backfill.create", "backfill.pause", "backfill.unpause"):
        assert (event, "cli", 1) in events, events
