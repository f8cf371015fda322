"""The Airflow internals the amazon provider's bridged modules call: ``airflow.utils.helpers.prune_dict``
and ``chunks``, ``conf.getimport``, and the runtime providers manager (end to end:
tests/providers/test_provider_amazon.py)."""

from __future__ import annotations

import pytest

from tradewind.compat.airflow_config import AirflowConfigException, AirflowConfigShim
from tradewind.compat.provider_bridge import ProvidersManagerTaskRuntime, chunks, prune_dict


def test_prune_dict_strict_drops_only_none_and_keeps_emptied_containers():
    value = {"a": None, "b": {"c": None}, "d": [None, 1, {}], "e": 0, "f": ""}
    assert prune_dict(value) == {"b": {}, "d": [1, {}], "e": 0, "f": ""}


def test_prune_dict_truthy_drops_falsy_values_and_containers_left_empty():
    value = {"a": 0, "b": {"c": ""}, "d": [0, 1, [None]], "e": "x"}
    assert prune_dict(value, mode="truthy") == {"d": [1], "e": "x"}


def test_prune_dict_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="mode must be 'strict' or 'truthy'"):
        prune_dict({}, mode="loose")


def test_chunks_slices_and_refuses_a_non_positive_size():
    assert list(chunks(list(range(5)), 2)) == [[0, 1], [2, 3], [4]]
    assert list(chunks([], 3)) == []
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        list(chunks([1], 0))


def test_conf_getimport_imports_the_named_object_or_returns_none(monkeypatch):
    conf = AirflowConfigShim()
    monkeypatch.setenv("AIRFLOW__AWS__SESSION_FACTORY", "collections.OrderedDict")
    import collections

    assert conf.getimport("aws", "session_factory") is collections.OrderedDict
    monkeypatch.setenv("AIRFLOW__AWS__SESSION_FACTORY", "")
    assert conf.getimport("aws", "session_factory", fallback=None) is None
    monkeypatch.setenv("AIRFLOW__AWS__SESSION_FACTORY", "collections.NoSuchThing")
    with pytest.raises(AirflowConfigException, match="session_factory = 'collections.NoSuchThing'"):
        conf.getimport("aws", "session_factory")


def test_providers_manager_lists_no_provider_without_provider_distributions():
    """The test interpreter has no apache-airflow-providers-* installed: nothing is invented."""
    manager = ProvidersManagerTaskRuntime()
    assert manager.providers == {} and manager.hooks == {}
