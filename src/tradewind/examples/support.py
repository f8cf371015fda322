"""Helpers shared by the example pipelines (kept outside ``dags/`` so the parser never scans it).

Everything here runs inside task processes (at render or execute time), never at
parse time, so looking up a Variable or the settings file costs parsing nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

from tradewind import Variable
from tradewind.config import Config

#: Variable that, when set, overrides where the examples write their files.
DATA_FOLDER_VARIABLE = "data_folder"


def data_folder() -> str:
    """Folder the examples write to: Variable ``data_folder``, else ``[core] data_folder``.

    ``[core] data_folder`` defaults to ``$TRADEWIND_HOME/data``; the task runner
    sets ``TRADEWIND_HOME`` in every task process, so each home gets its own files.
    """
    override = Variable.get(DATA_FOLDER_VARIABLE, default_var=None)
    if override:
        return str(Path(override).expanduser())
    return str(Config.load().data_folder)


def safe_name(value: str) -> str:
    """A run id (``manual__2024-01-01T00:00:00+00:00``) made safe as one folder name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", value).strip("_") or "run"


def run_folder(pipeline: str, run_id: str) -> Path:
    """``<data folder>/<pipeline>/<run id>/``, created if missing."""
    folder = Path(data_folder()) / pipeline / safe_name(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
