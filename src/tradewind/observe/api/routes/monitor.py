"""``GET /api/v1/version``: the running Tradewind version (public, like health)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tradewind.observe.api import v1_models as m
from tradewind.observe.api.routes.common import API

router = APIRouter(prefix=API, tags=["Monitor"])


@router.get("/version", summary="Get the version", response_model=m.VersionInfo)
def get_version() -> dict[str, Any]:
    from tradewind.observe.api.app import _version

    return {"version": _version(), "git_version": None}
