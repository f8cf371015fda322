"""Hiding secrets: which key names are secret, masking values, and scrubbing registered secrets.

Two rules, as in Airflow:

* **Key names.** A key whose lower-cased name contains one of :data:`DEFAULT_SENSITIVE_NAMES`
  (``password``, ``secret``, ``token``, ``api_key``, ...) or of ``[core] sensitive_var_conn_names``
  holds a secret: :func:`mask_value` / :func:`redact` show ``***`` for it. The API and UI use
  them for Variable values, rendered fields and conf.
* **Registered values.** Secrets met at run time (a Variable with a secret-looking key read by a
  task, a value passed to :func:`mask_secret`) are remembered in this process, and
  :func:`redact_text` replaces each occurrence with ``***``; the task log formatter applies it
  to every line, so ``print(Variable.get("db_password"))`` logs ``***``.

Lives in the definition layer (pure Python, no DB) so DAG authors, the task runner and the API
can all use it. The registry is per process, like a task's log capture.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"

#: Airflow's DEFAULT_SENSITIVE_FIELDS: a key containing any of these holds a secret.
DEFAULT_SENSITIVE_NAMES: frozenset[str] = frozenset({
    "access_token",
    "api_key",
    "apikey",
    "authorization",
    "passphrase",
    "passwd",
    "password",
    "private_key",
    "secret",
    "token",
    "keyfile_dict",
    "service_account",
})

#: Registered secrets shorter than this are not scrubbed from text: masking every "a" or "1"
#: would garble logs and reveal the secret by what disappeared (Airflow's default is 5 too).
MIN_LENGTH_MASKED_SECRET = 5

_lock = threading.Lock()
_extra_names: frozenset[str] = frozenset()
_hide_by_name = True
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def configure(extra_names: str | Iterable[str] = (), *, hide_sensitive: bool = True) -> None:
    """Add ``[core] sensitive_var_conn_names`` (comma-separated or a list) to the key-name rule.

    ``hide_sensitive=False`` (``[core] hide_sensitive_var_conn_fields``) turns the key-name rule
    off; registered secrets are still scrubbed from logs.
    """
    global _extra_names, _hide_by_name
    if isinstance(extra_names, str):
        extra_names = extra_names.split(",")
    names = frozenset(name.strip().lower() for name in extra_names if name and name.strip())
    with _lock:
        _extra_names = names
        _hide_by_name = hide_sensitive


def configure_from(config: Any) -> None:
    """:func:`configure` from a :class:`~tradewind.config.Config`."""
    configure(config.get("core", "sensitive_var_conn_names"),
              hide_sensitive=config.getbool("core", "hide_sensitive_var_conn_fields"))


def is_sensitive_key(key: Any) -> bool:
    """True when the key's name says its value is a secret (``DB_PASSWORD``, ``github_token``...)."""
    if not isinstance(key, str) or not _hide_by_name:
        return False
    name = key.lower()
    return any(part in name for part in DEFAULT_SENSITIVE_NAMES) or any(part in name for part in _extra_names)


def mask_value(key: Any, value: Any) -> Any:
    """``***`` for a non-empty value under a secret-looking key; the value otherwise."""
    if is_sensitive_key(key) and value not in (None, ""):
        return MASK
    return value


def redact(value: Any, key: Any = None) -> Any:
    """A copy of ``value`` with secrets hidden, for showing (never for storing).

    Dict entries under secret-looking keys become ``***`` (whole sub-structures too); every
    string has registered secrets replaced (:func:`redact_text`). Other values are returned as is.
    """
    if key is not None and is_sensitive_key(key) and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(item) for item in value)
    return value


def mask_secret(secret: Any, name: str | None = None) -> None:
    """Remember a secret so :func:`redact_text` hides it (Airflow's ``mask_secret``).

    A string is registered as is; a dict registers the strings under secret-looking keys (all of
    them when ``name`` itself looks secret); a list registers its items the same way.
    """
    global _pattern
    found: list[str] = []
    _collect(secret, name, found, inherit=name is None or is_sensitive_key(name))
    fresh = [s for s in found if len(s) >= MIN_LENGTH_MASKED_SECRET]
    if not fresh:
        return
    with _lock:
        before = len(_secrets)
        _secrets.update(fresh)
        if len(_secrets) != before:
            ordered = sorted(_secrets, key=len, reverse=True)  # longest first: no partial leftovers
            _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def _collect(value: Any, name: str | None, out: list[str], *, inherit: bool) -> None:
    if isinstance(value, str):
        if inherit:
            out.append(value)
            stripped = value.strip()
            if stripped != value and stripped:
                out.append(stripped)
    elif isinstance(value, dict):
        for key, item in value.items():
            _collect(item, str(key), out, inherit=inherit or is_sensitive_key(str(key)))
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            _collect(item, name, out, inherit=inherit)


def redact_json_text(text: str | None) -> str | None:
    """Stored JSON text (an audit entry's ``extra``) with secrets hidden as :func:`redact` does,
    re-encoded compactly; text that is not JSON gets :func:`redact_text`."""
    if not text:
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return redact_text(text)
    shown = redact(value)
    # Unchanged text when nothing was hidden (the stored spelling is what clients compare).
    return text if shown == value else json.dumps(shown, separators=(",", ":"), ensure_ascii=False, default=str)


def redact_text(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def forget_secrets() -> None:
    """Drop every registered secret (a new try in a reused process starts clean; tests)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None
