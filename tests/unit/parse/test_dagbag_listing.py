"""list_dag_files: which files the parser even looks at."""

from __future__ import annotations

from pathlib import Path

from tradewind.parse.dagbag import list_dag_files, module_name_for


def _write(path: Path, text: str = "from tradewind import DAG\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _names(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root.resolve()).as_posix() for p in paths]


def test_lists_py_files_recursively_sorted_and_absolute(tmp_path: Path) -> None:
    _write(tmp_path / "b_dag.py")
    _write(tmp_path / "a_dag.py")
    _write(tmp_path / "sub" / "deeper" / "c_dag.py")
    _write(tmp_path / "notes.txt")
    found = list_dag_files([tmp_path])
    assert _names(found, tmp_path) == ["a_dag.py", "b_dag.py", "sub/deeper/c_dag.py"]
    assert all(p.is_absolute() for p in found)


def test_skips_pycache_hidden_dirs_and_hidden_files(tmp_path: Path) -> None:
    _write(tmp_path / "__pycache__" / "x_dag.py")
    _write(tmp_path / ".git" / "y_dag.py")
    _write(tmp_path / ".hidden_dag.py")
    _write(tmp_path / "real_dag.py")
    assert _names(list_dag_files([tmp_path]), tmp_path) == ["real_dag.py"]


def test_safe_mode_needs_the_word_dag_in_the_bytes(tmp_path: Path) -> None:
    _write(tmp_path / "helper.py", "def add(a, b):\n    return a + b\n")
    _write(tmp_path / "pipeline.py", "# builds a Dag for Airflow\nx = 1\n")
    assert _names(list_dag_files([tmp_path]), tmp_path) == ["pipeline.py"]
    assert _names(list_dag_files([tmp_path], safe_mode=False), tmp_path) == ["helper.py", "pipeline.py"]


def test_ignore_files_are_regexps_relative_to_their_folder(tmp_path: Path) -> None:
    _write(tmp_path / "keep_dag.py")
    _write(tmp_path / "scratch_dag.py")
    _write(tmp_path / "vendor" / "lib_dag.py")
    _write(tmp_path / "team" / "ok_dag.py")
    _write(tmp_path / "team" / "wip_dag.py")
    _write(tmp_path / "team" / "nested" / "wip2_dag.py")
    _write(tmp_path / ".airflowignore", "# comment line\nscratch\n^vendor  # trailing comment\n\n")
    # A sub-folder's own ignore file applies to that folder and below, relative to it.
    _write(tmp_path / "team" / ".tradewindignore", "wip")
    found = _names(list_dag_files([tmp_path]), tmp_path)
    assert found == ["keep_dag.py", "team/ok_dag.py"]


def test_parent_ignore_patterns_apply_in_subfolders(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "b" / "old_dag.py")
    _write(tmp_path / "a" / "b" / "new_dag.py")
    _write(tmp_path / ".tradewindignore", "old_")
    assert _names(list_dag_files([tmp_path]), tmp_path) == ["a/b/new_dag.py"]


def test_invalid_ignore_pattern_is_skipped_not_fatal(tmp_path: Path) -> None:
    _write(tmp_path / "one_dag.py")
    _write(tmp_path / "two_dag.py")
    _write(tmp_path / ".airflowignore", "([unclosed\ntwo")
    assert _names(list_dag_files([tmp_path]), tmp_path) == ["one_dag.py"]


def test_missing_folder_is_empty_and_single_file_folder_works(tmp_path: Path) -> None:
    f = _write(tmp_path / "only_dag.py")
    assert list_dag_files([tmp_path / "nope"]) == []
    assert list_dag_files([f]) == [f.resolve()]


def test_several_folders_are_merged(tmp_path: Path) -> None:
    _write(tmp_path / "one" / "x_dag.py")
    _write(tmp_path / "two" / "y_dag.py")
    found = list_dag_files([tmp_path / "one", tmp_path / "two"])
    assert [p.name for p in found] == ["x_dag.py", "y_dag.py"]


def test_module_names_differ_for_same_basename(tmp_path: Path) -> None:
    a = module_name_for(tmp_path / "a" / "dag.py")
    b = module_name_for(tmp_path / "b" / "dag.py")
    assert a != b and a.endswith("_dag") and a.isidentifier()
