"""Which files of a DAGs folder are imported: Airflow's safe-mode heuristic and ``.airflowignore`` syntaxes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tradewind.config import Config
from tradewind.parse.dagbag import list_dag_files
from tradewind.parse.discovery import discovery_options

AIRFLOW_DAG = "from airflow import DAG\n"


def _write(path: Path, text: str = AIRFLOW_DAG) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _names(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root.resolve()).as_posix() for p in paths]


# ----------------------------------------------------------------------------- safe mode
def test_safe_mode_wants_a_platform_name_and_a_definition_word(tmp_path):
    _write(tmp_path / "airflow_dag.py", "from airflow.sdk import dag\n")
    _write(tmp_path / "tradewind_dag.py", "from tradewind import DAG\n")
    _write(tmp_path / "assets_only.py", "from airflow.sdk import asset\n\n@asset(schedule=None)\ndef a(): ...\n")
    _write(tmp_path / "shouting.py", "# AIRFLOW DAG\n")
    _write(tmp_path / "factory.py", "from mylib import make_dags\nmake_dags(globals())\n")  # 'dag' but no name
    _write(tmp_path / "airflow_helper.py", "# helpers shared by the airflow files\nX = 1\n")  # no 'dag'/'asset'
    assert _names(list_dag_files([tmp_path]), tmp_path) == [
        "airflow_dag.py", "assets_only.py", "shouting.py", "tradewind_dag.py"]
    assert len(list_dag_files([tmp_path], safe_mode=False)) == 6


def test_a_file_skipped_by_safe_mode_is_logged_once(tmp_path, caplog):
    skipped = _write(tmp_path / "factory.py", "from mylib import make_dags\n")
    with caplog.at_level(logging.INFO, logger="tradewind.parse.dagbag"):
        list_dag_files([tmp_path])
        list_dag_files([tmp_path])
    notes = [r.getMessage() for r in caplog.records if str(skipped) in r.getMessage()]
    assert len(notes) == 1 and "dag_discovery_safe_mode" in notes[0]


def test_settings_choose_safe_mode_and_syntax(tmp_path):
    home = tmp_path / "home"
    _write(tmp_path / "dags" / "factory.py", "from mylib import make_dags\n")
    config = Config.load(home=home, environ={}, overrides={"core": {"dag_discovery_safe_mode": "False",
                                                                     "dag_ignore_file_syntax": "glob"}})
    assert discovery_options(config) == {"safe_mode": False, "ignore_syntax": "glob"}
    assert _names(list_dag_files([tmp_path / "dags"], **discovery_options(config)), tmp_path / "dags") == [
        "factory.py"]
    assert discovery_options(Config.load(home=home, environ={})) == {"safe_mode": True, "ignore_syntax": "regexp"}
    with pytest.raises(ValueError, match="dag_ignore_file_syntax = 'fnmatch' is not supported"):
        list_dag_files([tmp_path], ignore_syntax="fnmatch")


# ----------------------------------------------------------------------------- .airflowignore, glob syntax
def _tree(root: Path) -> None:
    for rel in ("keep.py", "scratch.py", "notes_test.py", "test_x.py", "build/out.py", "lib/build/gen.py",
                "team/wip_a.py", "team/keep_b.py", "team/nested/wip_c.py", "vendor/pkg/mod.py",
                "docs/examples/ex.py", "docs/examples/important.py", "tmp/x.py"):
        _write(root / rel)


def test_glob_syntax_follows_gitignore_rules(tmp_path):
    _tree(tmp_path)
    _write(tmp_path / ".airflowignore", "\n".join([
        "scratch.py          # a plain name: matches at any depth",
        "test_?.py",
        "build/              # a folder (trailing slash), at any depth",
        "/vendor             # anchored to this folder",
        "docs/**",
        "!docs/**/important.py",
        "tmp",
    ]))
    _write(tmp_path / "team" / ".airflowignore", "wip_*\n")
    assert _names(list_dag_files([tmp_path], ignore_syntax="glob"), tmp_path) == [
        "keep.py", "notes_test.py", "team/keep_b.py"]


def test_glob_negation_reincludes_a_file_and_the_last_match_wins(tmp_path):
    _write(tmp_path / "a.py")
    _write(tmp_path / "b.py")
    _write(tmp_path / "c.py")
    _write(tmp_path / ".airflowignore", "*.py\n!b.py\n!c.py\nc.py\n")
    assert _names(list_dag_files([tmp_path], ignore_syntax="glob"), tmp_path) == ["b.py"]


def test_glob_anchored_pattern_is_relative_to_its_ignore_file(tmp_path):
    _write(tmp_path / "jobs" / "old" / "x.py")
    _write(tmp_path / "old" / "y.py")
    _write(tmp_path / "jobs" / ".airflowignore", "/old\n")
    assert _names(list_dag_files([tmp_path], ignore_syntax="glob"), tmp_path) == ["old/y.py"]


def test_glob_double_star_in_the_middle_and_a_dir_only_pattern_spares_files(tmp_path):
    _write(tmp_path / "a" / "b.py")
    _write(tmp_path / "a" / "x" / "y" / "b.py")
    _write(tmp_path / "a" / "c.py")
    _write(tmp_path / "cache.py")
    _write(tmp_path / ".airflowignore", "a/**/b.py\ncache.py/\n")
    assert _names(list_dag_files([tmp_path], ignore_syntax="glob"), tmp_path) == ["a/c.py", "cache.py"]


def test_regexp_stays_the_default_syntax(tmp_path):
    _tree(tmp_path)
    _write(tmp_path / ".airflowignore", "^team/wip\nbuild\n")
    listed = _names(list_dag_files([tmp_path]), tmp_path)
    assert "team/wip_a.py" not in listed and "team/keep_b.py" in listed and "team/nested/wip_c.py" in listed
    assert not any("build" in name for name in listed)
