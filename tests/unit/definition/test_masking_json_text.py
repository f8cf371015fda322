"""Stored JSON text (an audit entry's extra) is shown with its secrets hidden."""

from __future__ import annotations

import json

from tradewind.definition.masking import MASK, redact_json_text


def test_secret_keys_inside_stored_json_are_masked_and_other_values_kept() -> None:
    text = json.dumps({"conf": {"db_password": "conf-pass-9", "rows": 3}, "note": "<b>x</b>"})
    shown = json.loads(redact_json_text(text))
    assert shown == {"conf": {"db_password": MASK, "rows": 3}, "note": "<b>x</b>"}


def test_empty_non_json_and_secret_free_text_pass_through_unchanged() -> None:
    assert redact_json_text(None) is None and redact_json_text("") == ""
    assert redact_json_text("not json at all") == "not json at all"
    assert redact_json_text('{"conf": {},  "n": 1}') == '{"conf": {},  "n": 1}'  # spelling kept
