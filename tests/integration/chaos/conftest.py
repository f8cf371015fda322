"""Fixtures of the chaos suite: the seed, and a database URL per set-up (SQLite file or a fresh
database on the session's PostgreSQL server; under ``CI=true`` a missing PostgreSQL fails)."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

# chaos_support is imported as a top-level module, like the other integration helpers.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def chaos_seed() -> int:
    """``TRADEWIND_CHAOS_SEED`` to replay a run; a fresh random seed otherwise (printed by the test)."""
    value = os.environ.get("TRADEWIND_CHAOS_SEED")
    return int(value) if value else random.SystemRandom().randrange(1, 2**31)


@pytest.fixture
def chaos_postgres_url(request: pytest.FixtureRequest):
    """Factory: an empty database on the session's PostgreSQL server, dropped after the test."""
    created: list[str] = []

    def make() -> str:
        server = request.getfixturevalue("pg_server")
        name = server.new_database_name("chaos")
        server.execute_autocommit(f'CREATE DATABASE "{name}"')
        created.append(name)
        return server.url(name)

    yield make
    if created:
        server = request.getfixturevalue("pg_server")
        for name in created:
            server.execute_autocommit(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
