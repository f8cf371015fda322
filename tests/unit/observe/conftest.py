"""CLI test helpers: invoke the real Click command tree in-process against a tmp home."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tradewind.observe.cli.main import cli


@pytest.fixture
def invoke(config, monkeypatch):
    """``invoke(*args)`` runs ``tradewind <args>`` with TRADEWIND_HOME = the test's home."""
    for name in list(__import__("os").environ):
        if name.startswith("TRADEWIND__") or name == "TRADEWIND_HOME":
            monkeypatch.delenv(name, raising=False)
    env = {"TRADEWIND_HOME": str(config.home), "TRADEWIND__CORE__LOAD_EXAMPLES": "False"}

    def run(*args: str, input: str | None = None, extra_env: dict[str, str] | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, list(args), env={**env, **(extra_env or {})}, input=input, catch_exceptions=True)

    return run


@pytest.fixture
def home(config) -> Path:
    return config.home
