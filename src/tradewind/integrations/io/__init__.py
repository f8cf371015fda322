"""Object storage (Airflow's AIP-58 ``airflow.io``): ``ObjectStoragePath``, ``attach``, ``get_fs`` and
``FileTransferOperator``, on fsspec and universal_pathlib (the ``io`` extra; s3fs for ``s3://``).

Names load on first use, so importing this package (or a DAG file naming them) stays cheap.
See docs/object-storage.md.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "ObjectStoragePath": "path",
    "FileTransferOperator": "operators",
    "ObjectStore": "store",
    "ObjectStorageError": "store",
    "attach": "store",
    "get_fs": "store",
    "has_fs": "store",
    "register_filesystem": "store",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
