"""Variable (env, backend, default, KeyError) and Param/ParamsDict."""

from __future__ import annotations

import pytest

from tradewind import Param, Variable
from tradewind.definition.exceptions import ParamValidationError
from tradewind.definition.params import ParamsDict
from tradewind.definition.variable import VariableBackend, get_variable_backend, set_variable_backend


class DictBackend:
    def __init__(self) -> None:
        self.data: dict[str, tuple[str, str | None]] = {}

    def get(self, key: str) -> str | None:
        item = self.data.get(key)
        return item[0] if item else None

    def set(self, key: str, value: str, description: str | None) -> None:
        self.data[key] = (value, description)

    def delete(self, key: str) -> bool:
        return self.data.pop(key, None) is not None


@pytest.fixture
def backend():
    store = DictBackend()
    previous = set_variable_backend(store)
    yield store
    set_variable_backend(previous)


@pytest.fixture
def no_backend():
    previous = set_variable_backend(None)
    yield
    set_variable_backend(previous)


def test_env_variable_wins_over_backend(monkeypatch, backend) -> None:
    backend.set("my_key", "from-db", None)
    monkeypatch.setenv("TRADEWIND_VAR_MY_KEY", "from-env")
    assert Variable.get("my_key") == "from-env"
    monkeypatch.delenv("TRADEWIND_VAR_MY_KEY")
    assert Variable.get("my_key") == "from-db"


def test_airflow_env_prefix_is_honoured(monkeypatch, no_backend) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_LEGACY", "old")
    assert Variable.get("legacy") == "old"


def test_json_round_trip_and_description(backend) -> None:
    Variable.set("cfg", {"a": [1, 2]}, serialize_json=True, description="settings")
    assert Variable.get("cfg", deserialize_json=True) == {"a": [1, 2]}
    assert backend.data["cfg"][1] == "settings"
    Variable.set("n", 5)
    assert Variable.get("n") == "5"


def test_default_is_returned_as_is_and_missing_raises_keyerror(backend) -> None:
    assert Variable.get("absent", default_var={"x": 1}, deserialize_json=True) == {"x": 1}
    assert Variable.get("absent", default_var=None) is None
    with pytest.raises(KeyError, match="Variable absent does not exist"):
        Variable.get("absent")


def test_delete_and_setdefault(backend) -> None:
    assert Variable.setdefault("k", "v") == "v"
    assert Variable.get("k") == "v"
    assert Variable.setdefault("k", "other") == "v"
    assert Variable.delete("k") is True
    assert Variable.delete("k") is False


def test_bad_json_names_the_variable(backend) -> None:
    Variable.set("broken", "{not json")
    with pytest.raises(ValueError, match="Variable broken is not valid JSON"):
        Variable.get("broken", deserialize_json=True)


def test_writing_without_backend_is_a_clear_error(no_backend) -> None:
    assert get_variable_backend() is None
    with pytest.raises(RuntimeError, match="no variable backend"):
        Variable.set("k", "v")
    with pytest.raises(KeyError):
        Variable.get("k")


def test_backend_protocol_is_runtime_checkable() -> None:
    assert isinstance(DictBackend(), VariableBackend)


def test_param_keeps_schema_and_resolves() -> None:
    p = Param(5, description="count", type="integer", minimum=0)
    assert p.schema == {"type": "integer", "minimum": 0}
    assert p.resolve() == 5 and p.resolve(7) == 7
    assert p.dump() == {"value": 5, "description": "count", "schema": {"type": "integer", "minimum": 0}}
    with pytest.raises(ParamValidationError, match="no default"):
        Param().resolve()


def test_params_dict_returns_values_and_keeps_params() -> None:
    pd = ParamsDict({"a": 1, "b": Param("x", description="bee")})
    assert pd["a"] == 1 and pd["b"] == "x"
    pd["b"] = "y"  # a plain value updates the Param, keeping its description
    assert pd.get_param("b").description == "bee" and pd["b"] == "y"
    assert dict(pd) == {"a": 1, "b": "y"}
    assert pd.serialize()["b"] == {"value": "y", "description": "bee", "schema": {}}
    copy = pd.copy()
    copy["a"] = 2
    assert pd["a"] == 1


def test_params_dict_validate_names_param_without_value() -> None:
    pd = ParamsDict({"needed": Param(description="must be given")})
    with pytest.raises(ParamValidationError, match="needed"):
        pd.validate()
    assert pd.dump() == {"needed": None}
