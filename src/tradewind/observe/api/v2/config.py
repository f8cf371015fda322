"""``/api/v2/config``: the effective configuration (Airflow 3's Config resource).

Answers JSON (``{"sections": [{"name", "options": [{"key", "value"}]}]}``) or, when the
``Accept`` header asks for ``text/plain``, the ini text Airflow prints; any other media type is
a 406. Secrets are never shown: a value under a key Tradewind knows to hold one (the database
URL, the API secret key, the Fernet key, the SMTP password, the Celery broker) or whose name
says so (``*password*``, ``*secret*``, ``*token*``...) reads ``< hidden >``, as in Airflow.

``[api] expose_config`` (Airflow's switch) defaults to ``False``, as in Airflow 3: both routes then
answer 403 naming the key; ``True`` and ``non-sensitive-only`` both answer with secrets hidden.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import PlainTextResponse, Response

from tradewind.config import Setting
from tradewind.definition.masking import DEFAULT_SENSITIVE_NAMES
from tradewind.observe.api.errors import ApiError, not_found
from tradewind.observe.api.routes.common import can
from tradewind.observe.api.v2.common import API_V2, Model

router = APIRouter(prefix=API_V2, tags=["Config"])

HIDDEN = "< hidden >"

#: Settings whose values are secrets whatever their names say.
SENSITIVE_SETTINGS = frozenset({
    ("database", "url"), ("core", "fernet_key"), ("api", "secret_key"), ("smtp", "smtp_password"),
    ("celery", "broker_url"), ("celery", "result_backend"),
})

JSON = "application/json"
TEXT = "text/plain"


class ConfigOption(Model):
    key: str
    value: str | tuple[str, str]


class ConfigSection(Model):
    name: str
    options: list[ConfigOption]


class Config(Model):
    sections: list[ConfigSection]


def is_sensitive(section: str, key: str) -> bool:
    """Whether the value of ``[section] key`` is a secret the API never shows."""
    return (section, key) in SENSITIVE_SETTINGS or any(part in key.lower() for part in DEFAULT_SENSITIVE_NAMES)


def shown_value(setting: Setting) -> str:
    return HIDDEN if setting.value and is_sensitive(setting.section, setting.key) else setting.value


def _check_exposed(config: Any) -> None:
    """403 unless ``[api] expose_config`` is true (or Airflow's ``non-sensitive-only``)."""
    if config.get("api", "expose_config").strip().lower() == "non-sensitive-only" or config.getbool(
            "api", "expose_config"):
        return
    raise ApiError(403, "Your Tradewind administrator chose not to expose the configuration, most likely for "
                        "security reasons: [api] expose_config is False. Set it to True (environment variable "
                        "TRADEWIND__API__EXPOSE_CONFIG=True) to allow reading it.")


def _media_type(accept: str | None) -> str:
    """The answer's media type from ``Accept`` (JSON for ``*/*`` or none); 406 for anything else."""
    wanted = [part.split(";")[0].strip().lower() for part in (accept or "*/*").split(",")]
    for media in wanted:
        if media in {JSON, "application/*", "*/*", ""}:
            return JSON
        if media in {TEXT, "text/*"}:
            return TEXT
    raise ApiError(406, f"Only {JSON} or {TEXT} is supported, not {accept!r}")


def _sections(settings: list[Setting]) -> list[ConfigSection]:
    grouped: dict[str, list[ConfigOption]] = {}
    for setting in settings:
        grouped.setdefault(setting.section, []).append(ConfigOption(key=setting.key, value=shown_value(setting)))
    return [ConfigSection(name=name, options=options) for name, options in grouped.items()]


def _answer(sections: list[ConfigSection], media: str) -> Config | Response:
    if media == JSON:
        return Config(sections=sections)
    blocks = []
    for section in sections:
        lines = [f"[{section.name}]"] + [f"{option.key} = {option.value}" for option in section.options]
        blocks.append("\n".join(lines) + "\n")
    return PlainTextResponse("\n".join(blocks))


@router.get("/config", response_model=Config,
            responses={200: {"content": {TEXT: {"schema": {"type": "string"}}}}}, summary="Get Config")
def get_config(request: Request, section: str | None = None,
               accept: str = Header("*/*", description=f"{JSON} (default) or {TEXT}."),
               _user: Any = can("config", "read")) -> Config | Response:
    config = request.app.state.config
    _check_exposed(config)
    media = _media_type(accept)
    settings = config.effective()
    if section is not None:
        settings = [s for s in settings if s.section == section.lower()]
        if not settings:
            raise not_found(f"Section {section} not found.", title="Config section not found")
    return _answer(_sections(settings), media)


@router.get("/config/section/{section}/option/{option}", response_model=Config,
            responses={200: {"content": {TEXT: {"schema": {"type": "string"}}}}}, summary="Get Config Value")
def get_config_value(request: Request, section: str, option: str,
                     accept: str = Header("*/*", description=f"{JSON} (default) or {TEXT}."),
                     _user: Any = can("config", "read")) -> Config | Response:
    config = request.app.state.config
    _check_exposed(config)
    media = _media_type(accept)
    if config.source(section, option) == "unknown":
        raise not_found(f"Option [{section}/{option}] not found.", title="Config option not found")
    setting = Setting(section.lower(), option.lower(), config.get(section, option), config.source(section, option))
    return _answer(_sections([setting]), media)
