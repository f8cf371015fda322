"""What a forked try inherits from its fork server: never a pooled database connection, and
the try's logging levels, which its log capture sets and restores."""

from __future__ import annotations

import logging
import os

from sqlalchemy import text

from tradewind.execute.logs import TASK_LOGGER, TryLogCapture, task_log_level


def _in_child(check) -> int:
    """Run ``check()`` in a forked child; its exit code (0: it returned True)."""
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if check() else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_child_never_uses_a_connection_pooled_before_the_fork(db):
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert db.engine.pool.checkedin() == 1
    parent_pool = db.engine.pool

    def check() -> bool:
        fresh = db.engine.pool is not parent_pool and db.engine.pool.checkedin() == 0
        with db.engine.connect() as conn:  # and the child can open its own
            return fresh and conn.execute(text("SELECT 1")).scalar() == 1

    assert _in_child(check) == 0


def test_a_child_of_an_engine_without_pooled_connections_keeps_its_pool_and_connects(db):
    db.engine.dispose()
    parent_pool = db.engine.pool

    def check() -> bool:
        with db.engine.connect() as conn:
            return db.engine.pool is parent_pool and conn.execute(text("SELECT 1")).scalar() == 1

    assert _in_child(check) == 0


def test_log_capture_sets_the_try_level_and_restores_the_root_level(tmp_path):
    root = logging.getLogger()
    before = root.level
    try:
        root.setLevel(logging.WARNING)
        with TryLogCapture(tmp_path / "a.log", level="DEBUG"):
            assert root.level == logging.DEBUG
            assert logging.getLogger(TASK_LOGGER).level == logging.DEBUG
            logging.getLogger(TASK_LOGGER).debug("seen")
        assert root.level == logging.WARNING
        # Already at the try's level (a fork server sets it once): still captured, still restored.
        root.setLevel(logging.INFO)
        with TryLogCapture(tmp_path / "b.log", level="INFO"):
            logging.getLogger(TASK_LOGGER).info("also seen")
        assert root.level == logging.INFO
    finally:
        root.setLevel(before)
    assert "seen" in (tmp_path / "a.log").read_text()
    assert "also seen" in (tmp_path / "b.log").read_text()


class _Config:
    def __init__(self, value: str) -> None:
        self.value = value

    def get(self, section: str, key: str, default: str | None = None) -> str:
        assert (section, key) == ("logging", "logging_level")
        return self.value


def test_task_log_level_reads_the_setting_and_names_it_when_wrong():
    assert task_log_level(_Config("debug")) == logging.DEBUG
    try:
        task_log_level(_Config("LOUD"))
    except ValueError as exc:
        assert "[logging] logging_level" in str(exc) and "LOUD" in str(exc)
    else:
        raise AssertionError("no error for an unknown level")
