"""Secret masking: the key-name rule, redacting structures, and secrets scrubbed from task logs."""

from __future__ import annotations

import logging

import pytest

from tradewind.definition import masking
from tradewind.definition.variable import Variable, set_variable_backend
from tradewind.execute.logs import TryLogCapture


@pytest.fixture(autouse=True)
def clean_masker():
    masking.forget_secrets()
    masking.configure()
    yield
    masking.forget_secrets()
    masking.configure()


@pytest.mark.parametrize(
    "key", ["password", "DB_PASSWORD", "github_token", "aws_secret_access_key", "stripe_api_key", "passwd",
            "Authorization", "private_key_pem", "access_token"],
)
def test_secret_looking_keys_are_masked(key):
    assert masking.is_sensitive_key(key)
    assert masking.mask_value(key, "hunter22") == "***"


def test_other_keys_and_empty_values_are_shown():
    assert masking.mask_value("region", "eu-west-1") == "eu-west-1"
    assert masking.mask_value("password", "") == ""
    assert masking.mask_value("password", None) is None


def test_configured_names_extend_the_rule_and_hiding_can_be_turned_off():
    assert not masking.is_sensitive_key("customer_ssn")
    masking.configure("ssn, pin")
    assert masking.is_sensitive_key("customer_ssn") and masking.is_sensitive_key("PIN_CODE")
    masking.configure(hide_sensitive=False)
    assert masking.mask_value("password", "x") == "x"


def test_redact_walks_structures_without_changing_the_input():
    conf = {"user": "ada", "password": "pw-123456", "nested": {"api_key": {"a": 1}, "n": [1, "x"]}}
    assert masking.redact(conf) == {"user": "ada", "password": "***", "nested": {"api_key": "***", "n": [1, "x"]}}
    assert conf["password"] == "pw-123456"


def test_registered_secrets_are_replaced_in_text_longest_first_short_ones_ignored():
    masking.mask_secret("abcdef")
    masking.mask_secret("abcdefghij")
    masking.mask_secret("abc")  # too short to mask safely
    assert masking.redact_text("x abcdefghij y abcdef z abc") == "x *** y *** z abc"
    masking.mask_secret({"user": "ada-lovelace", "password": "pa55word!"}, "conn")
    assert masking.redact_text("ada-lovelace pa55word!") == "ada-lovelace ***"


class _Backend:
    def __init__(self, values):
        self.values = values

    def get(self, key):
        return self.values.get(key)

    def set(self, key, value, description):
        self.values[key] = value

    def delete(self, key):
        return self.values.pop(key, None) is not None


def test_secret_variable_read_in_a_try_never_reaches_its_log(tmp_path):
    """As Airflow: a Variable with a secret-looking key is masked in the log however it is printed."""
    previous = set_variable_backend(_Backend({"db_password": "correct-horse", "region": "eu-west-1"}))
    log_file = tmp_path / "attempt=1.log"
    try:
        with TryLogCapture(log_file):
            password = Variable.get("db_password")
            region = Variable.get("region")
            print(f"connecting with {password} in {region}")
            logging.getLogger("tradewind.task").info("dsn=postgres://app:%s@db/x", password)
            try:
                raise RuntimeError(f"login failed for password {password}")
            except RuntimeError:
                logging.getLogger("tradewind.task").exception("boom")
    finally:
        set_variable_backend(previous)
    text = log_file.read_text()
    assert "correct-horse" not in text
    assert "connecting with *** in eu-west-1" in text
    assert "dsn=postgres://app:***@db/x" in text
    assert "login failed for password ***" in text
