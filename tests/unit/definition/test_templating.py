"""Jinja templating: context variables, files, native rendering, user macros/filters, errors."""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pytest

from tradewind.definition.templating import (
    TemplateRenderError,
    json_safe,
    literal,
    make_jinja_env,
    render_task_fields,
    render_value,
)

LOGICAL = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def fake_dag(tmp_path: Path | None = None, **attrs):
    base = dict(
        dag_id="d",
        fileloc=str(tmp_path / "dags" / "my_dag.py") if tmp_path else None,
        template_searchpath=None,
        user_defined_macros=None,
        user_defined_filters=None,
        render_template_as_native_obj=False,
    )
    base.update(attrs)
    return SimpleNamespace(**base)


class FakeTask:
    template_fields = ("bash_command", "env", "op_kwargs")
    template_ext = (".sh", ".bash")

    def __init__(self, **values):
        self.task_id = "my_task"
        self.bash_command = values.get("bash_command", "echo {{ ds }}")
        self.env = values.get("env", {"DAY": "{{ ds_nodash }}"})
        self.op_kwargs = values.get("op_kwargs", {})


CTX = {"ds": "2024-01-02", "ds_nodash": "20240102", "logical_date": LOGICAL, "params": {"n": 3}}


def test_renders_context_variables_in_strings():
    env = make_jinja_env(fake_dag())
    assert render_value("run {{ ds }} / {{ params.n }}", CTX, env) == "run 2024-01-02 / 3"


def test_plain_strings_pass_through_unchanged():
    env = make_jinja_env(fake_dag())
    assert render_value("no templates here", CTX, env) == "no templates here"


def test_nested_structures_are_rendered_and_keep_their_types():
    Pair = namedtuple("Pair", "left right")
    env = make_jinja_env(fake_dag())
    value = {
        "list": ["{{ ds }}", 1, None],
        "tuple": ("{{ ds_nodash }}",),
        "set": {"{{ params.n }}"},
        "pair": Pair("{{ ds }}", "x"),
        "nested": {"deep": [{"k": "{{ ds }}"}]},
        "{{ key_not_rendered }}": "v",
    }
    out = render_value(value, CTX, env)
    assert out["list"] == ["2024-01-02", 1, None]
    assert out["tuple"] == ("20240102",)
    assert out["set"] == {"3"}
    assert out["pair"] == Pair("2024-01-02", "x") and isinstance(out["pair"], Pair)
    assert out["nested"] == {"deep": [{"k": "2024-01-02"}]}
    assert "{{ key_not_rendered }}" in out


def test_undefined_variable_is_an_error_naming_it():
    env = make_jinja_env(fake_dag())
    with pytest.raises(jinja2.UndefinedError, match="'no_such_var' is undefined"):
        render_value("{{ no_such_var }}", CTX, env)


def test_render_task_fields_error_names_task_and_field():
    task = FakeTask(env={"X": "{{ missing_thing }}"})
    with pytest.raises(TemplateRenderError) as err:
        render_task_fields(task, CTX, make_jinja_env(fake_dag()))
    msg = str(err.value)
    assert "'my_task'" in msg and "'env'" in msg and "missing_thing" in msg


def test_render_task_fields_missing_attribute_is_named():
    task = FakeTask()
    task.template_fields = ("bash_command", "nope")
    with pytest.raises(TemplateRenderError, match="template field 'nope'.*no attribute"):
        render_task_fields(task, CTX, make_jinja_env(fake_dag()))


def test_render_task_fields_renders_in_place_and_returns_json_safe_values():
    task = FakeTask(op_kwargs={"when": "{{ logical_date }}", "at": LOGICAL, "obj": Path("/tmp/x")})
    rendered = render_task_fields(task, CTX, make_jinja_env(fake_dag()))
    assert task.bash_command == "echo 2024-01-02"
    assert task.env == {"DAY": "20240102"}
    assert task.op_kwargs["at"] is LOGICAL
    assert rendered == {
        "bash_command": "echo 2024-01-02",
        "env": {"DAY": "20240102"},
        "op_kwargs": {"when": "2024-01-02 03:04:05+00:00", "at": "2024-01-02T03:04:05+00:00", "obj": "/tmp/x"},
    }


def test_template_file_from_dag_folder(tmp_path):
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "run.sh").write_text("echo {{ ds }} {{ params.n }}\n")
    task = FakeTask(bash_command="run.sh")
    render_task_fields(task, CTX, make_jinja_env(fake_dag(tmp_path)))
    assert task.bash_command == "echo 2024-01-02 3\n"  # trailing newline kept, like Airflow


def test_template_file_from_template_searchpath(tmp_path):
    sql_dir = tmp_path / "sql"
    (sql_dir / "sub").mkdir(parents=True)
    (sql_dir / "sub" / "q.sql").write_text("SELECT * FROM t WHERE day = '{{ ds }}'")
    env = make_jinja_env(fake_dag(tmp_path, template_searchpath=[str(sql_dir)]))
    out = render_value("sub/q.sql", CTX, env, template_ext=(".sql",))
    assert out == "SELECT * FROM t WHERE day = '2024-01-02'"
    # Without the extension being templated the string is left alone.
    assert render_value("sub/q.sql", CTX, env) == "sub/q.sql"


def test_missing_template_file_names_file_and_folders(tmp_path):
    env = make_jinja_env(fake_dag(tmp_path, template_searchpath=str(tmp_path / "sql")))
    with pytest.raises(jinja2.TemplateNotFound) as err:
        render_value("nothere.sql", CTX, env, template_ext=(".sql",))
    assert "nothere.sql" in str(err.value) and str(tmp_path / "sql") in str(err.value)


def test_native_rendering_returns_python_objects():
    env = make_jinja_env(fake_dag(render_template_as_native_obj=True))
    ctx = {**CTX, "items": [1, 2, 3]}
    assert render_value("{{ items }}", ctx, env) == [1, 2, 3]
    assert render_value("{{ params.n + 1 }}", ctx, env) == 4
    assert render_value({"a": "{{ {'k': 1} }}"}, ctx, env) == {"a": {"k": 1}}
    # A string environment renders the same template to text.
    assert render_value("{{ items }}", ctx, make_jinja_env(fake_dag())) == "[1, 2, 3]"


def test_native_flag_argument_overrides_dag():
    env = make_jinja_env(fake_dag(render_template_as_native_obj=False), native=True)
    assert render_value("{{ 1 + 1 }}", {}, env) == 2


def test_user_defined_macros_and_filters():
    dag = fake_dag(
        user_defined_macros={"project": "acme", "double": lambda x: x * 2},
        user_defined_filters={"shout": lambda s: s.upper() + "!"},
    )
    env = make_jinja_env(dag)
    assert render_value("{{ project | shout }} {{ double(21) }}", CTX, env) == "ACME! 42"


def test_airflow_filters():
    env = make_jinja_env(fake_dag())
    ctx = {"d": LOGICAL}
    assert render_value("{{ d | ds }}", ctx, env) == "2024-01-02"
    assert render_value("{{ d | ds_nodash }}", ctx, env) == "20240102"
    assert render_value("{{ d | ts }}", ctx, env) == "2024-01-02T03:04:05+00:00"
    assert render_value("{{ d | ts_nodash }}", ctx, env) == "20240102T030405"
    assert render_value("{{ d | ts_nodash_with_tz }}", ctx, env) == "20240102T030405+0000"


def test_literal_is_not_rendered():
    env = make_jinja_env(fake_dag())
    assert render_value(literal("{{ not_rendered }}"), CTX, env) == "{{ not_rendered }}"
    assert render_value(["{{ ds }}", literal("{{ x }}")], CTX, env) == ["2024-01-02", "{{ x }}"]


def test_objects_with_template_fields_are_rendered_in_place():
    class Holder:
        template_fields = ("path",)

        def __init__(self):
            self.path = "/data/{{ ds }}"
            self.untouched = "{{ ds }}"

    holder = Holder()
    out = render_value({"h": holder}, CTX, make_jinja_env(fake_dag()))
    assert out["h"] is holder and holder.path == "/data/2024-01-02" and holder.untouched == "{{ ds }}"


def test_sandbox_blocks_dunder_access():
    env = make_jinja_env(fake_dag())
    with pytest.raises(jinja2.exceptions.SecurityError):
        render_value("{{ ''.__class__.__mro__ }}", {}, env)


def test_do_extension_available():
    env = make_jinja_env(fake_dag())
    assert render_value("{% set xs = [] %}{% do xs.append(1) %}{{ xs }}", {}, env) == "[1]"


def test_json_safe():
    assert json_safe({"a": (1, 2), 3: {"x"}, "d": LOGICAL, "f": float("nan")}) == {
        "a": [1, 2], "3": ["x"], "d": "2024-01-02T03:04:05+00:00", "f": "nan"}
    assert json_safe(SimpleNamespace()) == "namespace()"
