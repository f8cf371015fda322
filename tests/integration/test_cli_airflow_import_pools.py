"""``tradewind pools import|export`` with the files ``airflow pools export`` writes.

Fixtures written by us after Airflow's shape: ``{name: {"description", "slots"}}`` (Airflow
before 2.7) and ``{name: {"description", "include_deferred", "slots"}}`` (2.7+ and 3), written
with json.dumps(sort_keys=True, indent=4); Airflow 3's multi-team mode adds ``team_name``.
"""

from __future__ import annotations

import json

import pytest
from cli_support import Home

pytestmark = pytest.mark.slow

AIRFLOW_2_6 = json.dumps({
    "default_pool": {"description": "Default pool", "slots": 64},
    "gpu": {"description": "The two GPUs", "slots": 2},
}, sort_keys=True, indent=4)

AIRFLOW_3 = json.dumps({
    "api_quota": {"description": "Partner API", "include_deferred": True, "slots": 5},
    "default_pool": {"description": "Default pool", "include_deferred": False, "slots": 64},
    "gpu": {"description": "The two GPUs", "include_deferred": False, "slots": "2", "team_name": None},
}, sort_keys=True, indent=4)


def _pools(home: Home) -> dict[str, tuple[int, str | None]]:
    return {p["pool"]: (p["slots"], p["description"]) for p in home.json("pools", "list")}


def test_airflow_2_and_3_pool_files_import(home, tmp_path):
    old = tmp_path / "pools.json"
    old.write_text(AIRFLOW_2_6)
    assert f"Uploaded 2 pool(s) from {old}" in home.ok("pools", "import", str(old)).stdout
    assert _pools(home) == {"default_pool": (64, "Default pool"), "gpu": (2, "The two GPUs")}

    new = tmp_path / "pools-3.json"
    new.write_text(AIRFLOW_3)
    home.ok("pools", "set", "gpu", "9", "changed here")
    result = home.ok("pools", "import", str(new))  # existing pools are updated, as in Airflow
    assert "Uploaded 3 pool(s)" in result.stdout
    assert _pools(home) == {"api_quota": (5, "Partner API"), "default_pool": (64, "Default pool"),
                            "gpu": (2, "The two GPUs")}
    # include_deferred=true cannot mean the same here: said, not silently dropped.
    assert f"{new}: pool 'api_quota': include_deferred ignored: deferred tasks never take pool slots" in result.stderr


def test_bad_pools_are_named_and_nothing_is_imported(home, tmp_path):
    before = _pools(home)
    cases = [
        ({"ok": {"slots": 1, "description": ""}, "bad": {"slots": -1, "description": "unlimited"}},
         "pool 'bad': field 'slots' is -1 (unlimited in Airflow)"),
        ({"ok": {"slots": 1, "description": ""}, "bad": {"description": "no size"}}, "pool 'bad': field 'slots' is required"),
        ({"ok": {"slots": 1, "description": ""}, "bad": {"slots": "many", "description": ""}},
         "pool 'bad': field 'slots' must be a whole number, got 'many'"),
        ({"ok": {"slots": 1, "description": ""}, "bad": {"slots": 1, "descr": ""}}, "pool 'bad': unknown field(s) descr"),
        ({"ok": {"slots": 1, "description": ""}, "bad": 4}, "pool 'bad': expected an object with slots and description"),
        ({"ok": {"slots": 1, "description": ""}, "": {"slots": 1, "description": ""}}, "pool name must not be empty"),
    ]
    for number, (data, message) in enumerate(cases):
        source = tmp_path / f"pools-{number}.json"
        source.write_text(json.dumps(data))
        result = home.run("pools", "import", str(source))
        assert result.returncode == 1, (data, result.stdout)
        assert str(source) in result.stderr and message in result.stderr, (data, result.stderr)
    broken = tmp_path / "broken.json"
    broken.write_text('{"gpu": {"slots": 2,')
    result = home.run("pools", "import", str(broken))
    assert result.returncode == 1 and f"{broken}: invalid JSON at line 1" in result.stderr
    assert _pools(home) == before


def test_export_is_airflows_shape_and_round_trips(home, tmp_path):
    home.ok("pools", "set", "gpu", "2", "The two GPUs")
    target = tmp_path / "out.json"
    assert "Exported 2 pools" in home.ok("pools", "export", str(target)).stdout
    assert json.loads(target.read_text()) == {
        "default_pool": {"description": "Default pool", "include_deferred": False, "slots": 128},
        "gpu": {"description": "The two GPUs", "include_deferred": False, "slots": 2},
    }
    assert json.loads(home.ok("pools", "export", "-").stdout) == json.loads(target.read_text())
    fresh = Home(tmp_path / "fresh")
    fresh.ok("db", "migrate")
    fresh.ok("pools", "import", str(target))
    assert _pools(fresh) == _pools(home)
