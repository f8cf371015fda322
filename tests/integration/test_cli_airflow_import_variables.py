"""``tradewind variables import|export`` with the files ``airflow variables export`` writes.

Fixtures written by us after Airflow's shapes: Airflow 2 writes ``{key: value}`` (JSON text
decoded, json.dump(sort_keys=True, indent=4)); newer Airflow 3 releases write
``{key: {"value": v, "description": d}}`` for a variable with a description, and Airflow 3
also imports .yaml and .env files. Everything runs through the real CLI.
"""

from __future__ import annotations

import json

import pytest
from cli_support import Home

pytestmark = pytest.mark.slow

AIRFLOW2_JSON = json.dumps({
    "color": "blue",
    "count": 3,
    "empty": "",
    "enabled": True,
    "limits": {"rows": 5},
    "tags": ["a", "b"],
    "timing": {"unit": "s", "value": 30},  # a JSON value that merely has a "value" key
}, sort_keys=True, indent=4)

AIRFLOW3_JSON = json.dumps({
    "color": {"description": "Theme colour", "value": "blue"},
    "count": 3,
    "empty": "",
    "enabled": True,
    "limits": {"description": "Row limits", "value": {"rows": 5}},
    "tags": ["a", "b"],
    "timing": {"unit": "s", "value": 30},
}, sort_keys=True, indent=4)

AIRFLOW3_YAML = """\
color:
  value: blue
  description: Theme colour
count: 3
empty: ''
enabled: true
limits:
  value:
    rows: 5
  description: Row limits
tags: [a, b]
timing:
  unit: s
  value: 30
"""

# Airflow 3's .env variables file: every value is text, stored as it is.
AIRFLOW3_ENV = """\
# variables for the move
color=blue
count=3
limits={"rows": 5}
"""

STORED = {"color": "blue", "count": "3", "empty": "", "enabled": "true", "limits": '{"rows": 5}',
          "tags": '["a", "b"]', "timing": '{"unit": "s", "value": 30}'}


def _stored(home: Home) -> dict[str, tuple[str, str | None]]:
    return home.stored_variables()


@pytest.mark.parametrize("name,text,described", [
    ("vars.json", AIRFLOW2_JSON, False),
    ("airflow3.json", AIRFLOW3_JSON, True),
    ("vars.yaml", AIRFLOW3_YAML, True),
    ("variables.txt", AIRFLOW2_JSON, False),  # Airflow 2 reads any file name as JSON
])
def test_airflow_variable_files_import_unchanged(home, tmp_path, name, text, described):
    source = tmp_path / name
    source.write_text(text)
    result = home.ok("variables", "import", str(source))
    assert f"7 of 7 variables imported from {source}" in result.stdout
    stored = _stored(home)
    assert {key: json.loads(val) if key != "color" and val else val for key, (val, _) in stored.items()} == {
        key: json.loads(val) if key != "color" and val else val for key, val in STORED.items()}
    descriptions = {key: desc for key, (_, desc) in stored.items() if desc}
    assert descriptions == ({"color": "Theme colour", "limits": "Row limits"} if described else {})
    assert json.loads(home.ok("variables", "get", "limits", "--json").stdout) == {"rows": 5}
    assert json.loads(home.ok("variables", "get", "timing", "--json").stdout) == {"unit": "s", "value": 30}


def test_env_file_values_are_text(home, tmp_path):
    source = tmp_path / "vars.env"
    source.write_text(AIRFLOW3_ENV)
    assert "3 of 3 variables imported" in home.ok("variables", "import", str(source)).stdout
    assert _stored(home) == {"color": ("blue", None), "count": ("3", None), "limits": ('{"rows": 5}', None)}


def test_existing_keys_overwrite_skip_or_fail(home, tmp_path):
    home.ok("variables", "set", "color", "red")
    source = tmp_path / "vars.json"
    source.write_text(json.dumps({"color": "blue", "size": "L"}))
    failed = home.run("variables", "import", str(source), "-a", "fail")
    assert failed.returncode == 1 and f"{source}: variables already exist: color" in failed.stderr
    assert _stored(home) == {"color": ("red", None)}
    skipped = home.ok("variables", "import", str(source), "--action-on-existing-key", "skip")
    assert "1 of 2 variables imported" in skipped.stdout and "1 skipped (already exist): color" in skipped.stdout
    assert _stored(home) == {"color": ("red", None), "size": ("L", None)}
    home.ok("variables", "import", str(source))  # Airflow's default: overwrite
    assert _stored(home)["color"] == ("blue", None)


def test_bad_entries_are_named_and_nothing_is_imported(home, tmp_path):
    cases = [
        ("date.yaml", "ok: fine\nwhen: 2024-01-01\n", "variable 'when': the value is not JSON"),
        ("dup.env", "ok=1\nkey=a\nkey=b\n", "variable 'key' is defined 2 times"),
        ("desc.json", json.dumps({"ok": "1", "bad": {"value": "x", "description": 5}}),
         "variable 'bad': field 'description' must be a string, got int"),
        ("broken.json", '{"ok": "1", ', "invalid JSON at line 1"),
        ("list.json", "[1, 2]", "expected a JSON object"),
        ("empty.json", "", "the file is empty"),
        ("line.env", "ok=1\nnot a pair\n", "line.env:2: expected KEY=VALUE"),
    ]
    for name, text, message in cases:
        source = tmp_path / name
        source.write_text(text)
        result = home.run("variables", "import", str(source))
        assert result.returncode == 1, (name, result.stdout)
        assert str(source) in result.stderr and message in result.stderr, (name, result.stderr)
    long_key = tmp_path / "long.json"
    long_key.write_text(json.dumps({"ok": "1", "k" * 300: "v"}))
    result = home.run("variables", "import", str(long_key))
    assert result.returncode == 1 and "is longer than" in result.stderr and "nothing imported" in result.stderr
    assert _stored(home) == {}


def test_export_writes_what_airflow_imports(home, tmp_path):
    source = tmp_path / "airflow3.json"
    source.write_text(AIRFLOW3_JSON)
    home.ok("variables", "import", str(source))
    home.ok("variables", "set", "wrapped_lookalike", '{"value": 1}', "--json")

    # Default: Airflow 3's form, descriptions kept; a value that looks like that form is wrapped
    # too, so Airflow 3's import (which unwraps any object with "value") reads it back unchanged.
    target = tmp_path / "out.json"
    done = home.ok("variables", "export", str(target))
    assert "8 variables exported" in done.stdout and "3 of them written as" in done.stdout
    expected = json.loads(AIRFLOW3_JSON)
    expected["wrapped_lookalike"] = {"value": {"value": 1}, "description": None}
    expected["timing"] = {"unit": "s", "value": 30}
    assert json.loads(target.read_text()) == expected

    # --plain: Airflow 2's {key: value}, no descriptions.
    plain = json.loads(home.ok("variables", "export", "-", "--plain").stdout)
    assert plain["color"] == "blue" and plain["limits"] == {"rows": 5} and plain["wrapped_lookalike"] == {"value": 1}

    fresh = Home(tmp_path / "fresh")
    fresh.ok("db", "migrate")
    fresh.ok("variables", "import", str(target))
    assert _stored(fresh) == _stored(home)


def test_a_json_string_value_survives_a_round_trip(home, tmp_path):
    # Text that is itself JSON of a string ('"quoted"') is written raw, so it comes back the same.
    home.ok("variables", "set", "quoted", '"quoted"')
    target = tmp_path / "out.json"
    home.ok("variables", "export", str(target))
    assert json.loads(target.read_text()) == {"quoted": '"quoted"'}
    home.ok("variables", "delete", "quoted")
    home.ok("variables", "import", str(target))
    assert _stored(home) == {"quoted": ('"quoted"', None)}
