"""``/api/v2/providers``: the Airflow providers usable here (Airflow 3's Provider resource).

The rows ``tradewind providers list`` shows (:func:`tradewind.compat.providers.list_providers`):
providers Tradewind implements natively and installed ``apache-airflow-providers-*``
distributions it bridges. ``version`` is the installed distribution's, else ``tradewind <version>``
(the code that answers); ``description`` says how the provider is served.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from tradewind.observe.api.pagination import Page
from tradewind.observe.api.routes.common import can
from tradewind.observe.api.v2.common import API_V2, Model, page_v2

router = APIRouter(prefix=API_V2, tags=["Provider"])

_MODES = {
    "native": "implemented by Tradewind",
    "bridged": "installed distribution, run on Tradewind",
    "native+bridged": "implemented by Tradewind, other modules from the installed distribution",
}


class ProviderResponse(Model):
    package_name: str
    description: str
    version: str
    documentation_url: str | None = None


class ProviderCollectionResponse(Model):
    providers: list[ProviderResponse]
    total_entries: int


def provider_body(info: Any) -> ProviderResponse:
    """One :class:`~tradewind.compat.providers.ProviderInfo` as Airflow 3 shows a provider."""
    how = _MODES.get(info.mode, info.mode)
    description = f"{info.name} ({how})" + (f": {info.native}" if info.native else "")
    docs = (f"https://airflow.apache.org/docs/{info.package}/{info.installed_version}/"
            if info.installed_version else None)
    return ProviderResponse(package_name=info.package, description=description, version=info.version,
                            documentation_url=docs)


@router.get("/providers", response_model=ProviderCollectionResponse, summary="Get Providers")
def get_providers(page: Page = Depends(page_v2), _user: Any = can("provider", "read")) -> ProviderCollectionResponse:
    from tradewind.compat.providers import list_providers

    rows = list_providers()
    chosen = rows[page.offset:page.offset + page.limit]
    return ProviderCollectionResponse(providers=[provider_body(r) for r in chosen], total_entries=len(rows))
