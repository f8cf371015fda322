"""The chaos invariants catch what they claim to: each one fires on a made-up end state that breaks
it, and none fires on a clean one (fast; no processes)."""

from __future__ import annotations

import pytest
from chaos_support import Observed, check_invariants, read_markers

RUN = ("d", "r1")


def observed(**changes) -> Observed:
    """A clean end state: d/r1/a succeeded at try 2 after the test killed try 1; d/r1/b at try 1."""
    base = dict(
        runs=[{"dag_id": "d", "run_id": "r1", "state": "success"}],
        tis=[
            {"dag_id": "d", "run_id": "r1", "task_id": "a", "state": "success", "try_number": 2, "note": None},
            {"dag_id": "d", "run_id": "r1", "task_id": "b", "state": "success", "try_number": 1, "note": None},
        ],
        tries=[
            {"dag_id": "d", "run_id": "r1", "task_id": "a", "try_number": 1, "state": "failed", "error": "SIGKILL"},
            {"dag_id": "d", "run_id": "r1", "task_id": "a", "try_number": 2, "state": "success", "error": None},
            {"dag_id": "d", "run_id": "r1", "task_id": "b", "try_number": 1, "state": "success", "error": None},
        ],
        markers={
            ("d", "r1", "a", 1): ([101], []),
            ("d", "r1", "a", 2): ([102], [102]),
            ("d", "r1", "b", 1): ([103], [103]),
        },
        killed_tries={("d", "r1", "a", 1)},
        retries={"d": 2},
    )
    base.update(changes)
    return Observed(**base)


def fired(seen: Observed) -> dict[str, list[str]]:
    return {name: items for name, items in check_invariants(seen).items() if items}


def test_a_clean_end_state_breaks_nothing():
    assert fired(observed()) == {}


def test_a_run_left_running_is_stuck():
    seen = observed(runs=[{"dag_id": "d", "run_id": "r1", "state": "running"}])
    assert list(fired(seen)) == ["run_stuck"]


@pytest.mark.parametrize("markers", [
    {("d", "r1", "b", 1): ([103, 104], [104])},  # the same try started by two processes
    {("d", "r1", "b", 1): ([103], [103, 103])},  # completed twice
    {("d", "r1", "b", 2): ([105], [105])},  # a try after the one that succeeded
])
def test_work_done_twice_or_after_success(markers):
    seen = observed()
    seen.markers.update(markers)
    assert list(fired(seen)) == ["try_twice"]


def test_success_without_its_done_marker():
    seen = observed()
    seen.markers[("d", "r1", "b", 1)] = ([103], [])
    assert list(fired(seen)) == ["success_without_work"]


def test_failure_with_retries_left_and_not_killed():
    seen = observed(runs=[{"dag_id": "d", "run_id": "r1", "state": "failed"}])
    seen.tis[1] = {"dag_id": "d", "run_id": "r1", "task_id": "b", "state": "failed", "try_number": 1,
                   "note": "TaskTerminated"}
    seen.tries[2] = {"dag_id": "d", "run_id": "r1", "task_id": "b", "try_number": 1, "state": "failed",
                     "error": "TaskTerminated"}
    assert sorted(fired(seen)) == ["failed_try_not_killed", "failure_with_retries_left"]


def test_failure_after_every_retry_killed_is_fine():
    tries = [{"dag_id": "d", "run_id": "r1", "task_id": "b", "try_number": n, "state": "failed", "error": "x"}
             for n in (1, 2, 3)]
    seen = observed(runs=[{"dag_id": "d", "run_id": "r1", "state": "failed"}],
                    killed_tries={("d", "r1", "a", 1), *(("d", "r1", "b", n) for n in (1, 2, 3))})
    seen.tis[1] = {"dag_id": "d", "run_id": "r1", "task_id": "b", "state": "failed", "try_number": 3, "note": "x"}
    seen.tries[2:] = tries
    seen.markers.update({("d", "r1", "b", n): ([200 + n], []) for n in (1, 2, 3)})
    assert fired(seen) == {}


def test_markers_are_read_per_try(tmp_path):
    folder = tmp_path / "chaos_chain" / "r001"
    folder.mkdir(parents=True)
    (folder / "a.1").write_text("11\n")
    (folder / "a.2").write_text("12\n")
    (folder / "a.2.done").write_text("12\n")
    (folder / "task.with.dots.1").write_text("13\n14\n")
    assert read_markers(tmp_path) == {
        ("chaos_chain", "r001", "a", 1): ([11], []),
        ("chaos_chain", "r001", "a", 2): ([12], [12]),
        ("chaos_chain", "r001", "task.with.dots", 1): ([13, 14], []),
    }
