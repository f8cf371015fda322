"""The test harness's PostgreSQL server is real, isolated per test, and fast to reset."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from tradewind.persist.db import Database
from tradewind.persist.models import Variable

try:  # tests/ is on sys.path (see tests/conftest.py)
    from pg import PgServer, find_pg_bindir
except ImportError:  # pragma: no cover
    from tests.pg import PgServer, find_pg_bindir


@pytest.mark.postgres
def test_server_runs_postgres_on_localhost(pg_server: PgServer, pg_url: str) -> None:
    db = Database.from_url(pg_url)
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("SHOW fsync")).scalar() == "off"
            assert conn.execute(text("SELECT version()")).scalar().startswith("PostgreSQL")
            # pg_url is empty: no schema.
            assert conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar() == 0
    finally:
        db.engine.dispose()
    assert pg_server.bindir == find_pg_bindir()
    assert str(pg_server.port) in pg_url


@pytest.mark.postgres
def test_pg_db_is_fresh_each_time_part_one(pg_db: Database) -> None:
    with pg_db.session_scope() as s:
        assert s.get(Variable, "leak") is None
        s.add(Variable(key="leak", val="x"))


@pytest.mark.postgres
def test_pg_db_is_fresh_each_time_part_two(pg_db: Database) -> None:
    with pg_db.session_scope() as s:
        assert s.get(Variable, "leak") is None
        s.add(Variable(key="leak", val="x"))


@pytest.mark.postgres
def test_server_files_are_not_in_pytest_tmp(pg_server: PgServer) -> None:
    # The postgres user must be able to reach the data dir when we run as root.
    assert (pg_server.datadir / "PG_VERSION").is_file()
    assert "pytest-of" not in str(pg_server.root)


INNER_CONFTEST = """
from pg import pg_server  # noqa: F401
"""
INNER_TEST = """
def test_needs_postgres(pg_server):
    pass
"""


def _run_inner_session(tmp_path, *, ci: str | None):
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "conftest.py").write_text(INNER_CONFTEST)
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])  # tests/
    env["TRADEWIND_TEST_PG_BINDIR"] = str(tmp_path / "no-such-bindir")
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "-p", "no:xdist", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize("ci", [None, "false"])
def test_missing_binaries_skip_outside_ci(tmp_path, ci) -> None:
    proc = _run_inner_session(tmp_path, ci=ci)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout and "install-services.sh" in proc.stdout


def test_missing_binaries_fail_loudly_in_ci(tmp_path) -> None:
    proc = _run_inner_session(tmp_path, ci="true")
    assert proc.returncode != 0
    assert "CI=true but PostgreSQL is unavailable" in proc.stdout and "install-services.sh" in proc.stdout


@pytest.mark.postgres
def test_servers_of_dead_test_processes_are_reaped(pg_server: PgServer) -> None:
    import subprocess
    import sys
    from pathlib import Path

    tests_dir = Path(__file__).resolve().parents[2]
    # A child test process starts a server and dies without cleaning up (like a killed session).
    script = (
        "import os, sys; sys.path.insert(0, sys.argv[1]); from pg import PgServer; "
        "s = PgServer.create(); s.start(); print(s.root, flush=True); os._exit(0)"
    )
    out = subprocess.run([sys.executable, "-c", script, str(tests_dir)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    orphan = Path(out.stdout.strip())
    assert (orphan / "data" / "postmaster.pid").exists()

    try:
        from pg import reap_stale_servers
    except ImportError:  # pragma: no cover
        from tests.pg import reap_stale_servers
    assert reap_stale_servers() >= 1
    assert not orphan.exists()
    # Our own (live) server is untouched.
    assert (pg_server.datadir / "postmaster.pid").exists()
