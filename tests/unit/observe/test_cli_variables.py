from __future__ import annotations

import json

from sqlalchemy import select

from tradewind.persist.models import AuditLog


def test_set_get_list_delete(invoke, db):
    assert invoke("variables", "set", "env", "prod", "--description", "where").exit_code == 0
    assert invoke("variables", "get", "env").output == "prod\n"
    rows = json.loads(invoke("variables", "list", "-o", "json").output)
    assert rows == [{"key": "env"}]  # keys only, as Airflow's list: values through `get`
    assert invoke("variables", "delete", "env").exit_code == 0
    missing = invoke("variables", "get", "env")
    assert missing.exit_code == 1
    assert "variable 'env' does not exist" in missing.output
    assert invoke("variables", "delete", "env").exit_code == 1


def test_get_default_when_missing(invoke, db):
    result = invoke("variables", "get", "nothing", "--default", "fallback")
    assert result.exit_code == 0
    assert result.output == "fallback\n"


def test_json_values(invoke, db):
    assert invoke("variables", "set", "limits", '{"rows": 100}', "--json").exit_code == 0
    out = invoke("variables", "get", "limits", "--json")
    assert json.loads(out.output) == {"rows": 100}
    bad = invoke("variables", "set", "broken", "{rows: 1}", "--json")
    assert bad.exit_code == 1
    assert "not valid JSON" in bad.output
    text = invoke("variables", "set", "plain", "not json")
    assert text.exit_code == 0
    not_json = invoke("variables", "get", "plain", "--json")
    assert not_json.exit_code == 1 and "plain" in not_json.output


def test_import_export_round_trip(invoke, db, tmp_path):
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"a": "text", "b": {"nested": [1, 2]}, "c": 3}))
    result = invoke("variables", "import", str(source))
    assert result.exit_code == 0, result.output
    assert "3 of 3" in result.output
    assert invoke("variables", "get", "a").output == "text\n"
    assert json.loads(invoke("variables", "get", "b").output) == {"nested": [1, 2]}
    target = tmp_path / "out.json"
    assert invoke("variables", "export", str(target)).exit_code == 0
    assert json.loads(target.read_text()) == {"a": "text", "b": {"nested": [1, 2]}, "c": 3}


def test_import_bad_file_is_a_clear_error(invoke, db, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"a": ')
    result = invoke("variables", "import", str(broken))
    assert result.exit_code == 1
    assert "invalid JSON at line 1" in result.output
    assert invoke("variables", "import", str(tmp_path / "missing.json")).exit_code == 1
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    not_object = invoke("variables", "import", str(listing))
    assert not_object.exit_code == 1 and "JSON object" in not_object.output


def test_import_fail_on_existing_changes_nothing(invoke, db, tmp_path):
    invoke("variables", "set", "a", "old")
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"a": "new", "z": "zz"}))
    result = invoke("variables", "import", str(source), "--action-on-existing-key", "fail")
    assert result.exit_code == 1
    assert invoke("variables", "get", "a").output == "old\n"
    assert invoke("variables", "get", "z").exit_code == 1


def test_variable_changes_are_audit_logged(invoke, db):
    invoke("variables", "set", "k", "v")
    invoke("variables", "delete", "k")
    with db.session_scope() as session:
        events = [row.event for row in session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert events == ["variable.set", "variable.delete"]
