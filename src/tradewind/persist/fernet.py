"""The Fernet keys that encrypt connection passwords and extras, and variable values, at rest.

``[core] fernet_key`` holds one key or several comma-separated keys (Airflow's format). Several
keys make a MultiFernet: the first encrypts, every key decrypts — so a key is rotated by putting
the new one first, running ``tradewind rotate-fernet-key`` (re-encrypts every stored connection and variable
with the first key), then dropping the old one.

When ``[core] fernet_key`` is empty a key is generated on first use into
``$TRADEWIND_HOME/fernet_key`` (mode 0600) and shared by every process of this home. There is no
built-in default key: a default would make "encrypted" data readable by anyone.

``cryptography`` is imported inside functions so processes that never touch a connection or a
variable do not pay for it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.fernet import MultiFernet

FERNET_KEY_FILE = "fernet_key"


class FernetKeyError(ValueError):
    """A configured or stored Fernet key that cannot be used; the message says which and where."""


def fernet_keys(config: Any) -> list[str]:
    """The keys in order (first encrypts): ``[core] fernet_key``, else the home's generated key."""
    configured = (config.get("core", "fernet_key") or "").strip()
    if configured:
        keys = [part.strip() for part in configured.split(",") if part.strip()]
        if not keys:
            raise FernetKeyError("[core] fernet_key holds only commas; give one key or comma-separated keys")
        return keys
    return [_home_key(Path(config.home) / FERNET_KEY_FILE)]


def build_fernet(keys: list[str], *, source: str = "[core] fernet_key") -> "MultiFernet":
    """A MultiFernet over ``keys``; a malformed key is named by its position (never printed)."""
    from cryptography.fernet import Fernet, MultiFernet

    if not keys:
        raise FernetKeyError(f"{source}: no key given")
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            raise FernetKeyError(
                f"{source}: key {position} of {len(keys)} is not a Fernet key (32 url-safe base64-encoded "
                "bytes; make one with `python -c \"from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())\"`)"
            ) from None
    return MultiFernet(fernets)


def fernet_from_config(config: Any) -> "MultiFernet":
    """The MultiFernet for this deployment (see the module docstring for where the keys come from)."""
    configured = bool((config.get("core", "fernet_key") or "").strip())
    source = "[core] fernet_key" if configured else str(Path(config.home) / FERNET_KEY_FILE)
    return build_fernet(fernet_keys(config), source=source)


def generate_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def _home_key(path: Path) -> str:
    """The key in ``path``, created (0600) on first use; when two processes race, the first link wins.

    The key is written to a private temporary file and hard-linked into place, so a reader never
    sees a half-written file.
    """
    try:
        existing = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(generate_key() + "\n")
    try:
        os.link(temporary, path)
    except FileExistsError:  # another process linked its key first: use that one
        pass
    finally:
        temporary.unlink()
    return path.read_text(encoding="ascii").strip()


# ------------------------------------------------------------------ which key for a database
#: Normalised database URL -> the settings of the process that opened it (registered at start-up).
_REGISTERED_CONFIGS: dict[str, Any] = {}
#: Registrations not normalised yet: registering stays free of SQLAlchemy imports (CLI start-up).
_PENDING: list[tuple[Any, Any]] = []
#: Cache of built MultiFernets, keyed by (home, configured keys): building one reads a key file.
_FERNET_CACHE: dict[tuple[str, str], "MultiFernet"] = {}


def _url_key(url: Any) -> str:
    """One spelling per database: the URL as the engine sees it, password included (never printed)."""
    from sqlalchemy.engine import make_url

    from tradewind.persist.db import normalise_url

    if not isinstance(url, str):
        return url.render_as_string(hide_password=False)
    return make_url(normalise_url(url)).render_as_string(hide_password=False)


def register_config_for_database(config: Any, url: Any = None) -> None:
    """Record that ``config``'s Fernet keys encrypt what is stored in ``url`` (default ``config.database_url``).

    Called where a process builds its settings (the CLI's root command, so every server it
    starts, and the children forked from them, share it). Queries that get only a session (the
    variables store) find their key through :func:`fernet_for_bind`.
    """
    _PENDING.append((config.database_url if url is None else url, config))


def cached_fernet(config: Any) -> "MultiFernet":
    """:func:`fernet_from_config`, built once per home and key setting in this process."""
    cache_key = (str(config.home), (config.get("core", "fernet_key") or "").strip())
    fernet = _FERNET_CACHE.get(cache_key)
    if fernet is None:
        fernet = _FERNET_CACHE[cache_key] = fernet_from_config(config)
    return fernet


def fernet_for_bind(bind: Any) -> "MultiFernet":
    """The MultiFernet for the database behind ``bind`` (an Engine or Connection).

    The settings registered for that database URL (:func:`register_config_for_database`) when
    there are some; otherwise those of the home the database belongs to (:func:`_unregistered_config`).
    """
    while _PENDING:
        url, config = _PENDING.pop(0)
        _REGISTERED_CONFIGS[_url_key(url)] = config
    engine = getattr(bind, "engine", bind)
    config = _REGISTERED_CONFIGS.get(_url_key(engine.url))
    if config is None:
        config = _unregistered_config(engine.url)
    return cached_fernet(config)


def _unregistered_config(url: Any) -> Any:
    """Settings for a database no one registered: a SQLite file in a Tradewind home (beside its
    ``tradewind.cfg`` or ``fernet_key``, or named ``tradewind.db``) is that home's, so every process
    of the home agrees on the key; anything else uses this process's ``TRADEWIND_HOME``."""
    from tradewind.config import Config

    database = url.database if url.get_backend_name() == "sqlite" else None
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database).resolve()
        home = path.parent
        if path.name == "tradewind.db" or (home / "tradewind.cfg").exists() or (home / FERNET_KEY_FILE).exists():
            return Config.load(home=home)
    return Config.load()
