"""``GET .../taskInstances/{task_id}/logs/{try_number}``: the log of one try, followable.

Only the log file of that try is read: its path is built from the instance's ids with
:func:`tradewind.execute.logs.log_path` and must resolve inside ``[logging] base_log_folder``.

Following a running try: each answer carries ``continuation_token`` (base64url JSON of the byte
offset read so far and whether the log has ended). Passing it back returns only what was
written since. While the try runs, a partial last line is held back until its newline arrives.
``full_content=true`` returns everything from the start. ``Accept: text/plain`` gets the bare
text, with the token in the ``X-Continuation-Token`` header.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from tradewind.execute.logs import log_path
from tradewind.observe.api import v1_models as m
from tradewind.observe.api.errors import bad_request, not_found
from tradewind.observe.api.routes.common import API, can, read, ti_or_404
from tradewind.observe.api.routes.dag_sources import wants_text
from tradewind.workloads import TaskKey

router = APIRouter(prefix=API, tags=["TaskInstance"])

#: Most bytes one call returns; a longer log is read over several calls with the token.
MAX_CHUNK = 1024 * 1024
#: States of a try whose log may still grow (anything else: the log is complete).
WRITING_STATES = {"running", "queued", "scheduled", "none", "up_for_reschedule", "deferred"}

TOKEN_HEADER = "X-Continuation-Token"


def encode_token(position: int, end_of_log: bool) -> str:
    raw = json.dumps({"log_pos": position, "end_of_log": end_of_log}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> int:
    """The byte offset in a continuation token; 400 naming ``token`` when it is not one of ours."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position = data["log_pos"]
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            raise ValueError(position)
        return position
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise bad_request("token is not a continuation token returned by this endpoint", field="token") from None


def _safe_id(value: str) -> bool:
    """False for an id that could change a log path's shape (separators, NUL, control characters)."""
    return bool(value) and not any(ch in "/\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value)


def owned_log_file(base_folder: str | Path, key: TaskKey) -> Path | None:
    """The log file of try ``key``, or None when its ids would lead anywhere but that try's own file.

    Each id is one directory level under ``base_folder`` (:func:`log_path`); an id holding a path
    separator or a control character, or a path resolving elsewhere (a symlink out), is refused.
    """
    if not all(_safe_id(v) for v in (key.dag_id, key.run_id, key.task_id)):
        return None
    base = Path(base_folder).resolve()
    path = log_path(base, key).resolve()
    if base not in path.parents or len(path.relative_to(base).parts) != (5 if key.map_index >= 0 else 4):
        return None
    return path


def read_whole_lines(path: Path, start: int, limit: int, *, still_writing: bool) -> tuple[bytes, bool] | None:
    """(bytes, more after them) of ``path`` from byte ``start``, at most ``limit``, ending at a line
    end: a last line cut by the limit, or still being written, waits for the next read (unless it
    alone is longer than ``limit``). None when the file is missing."""
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            data = handle.read(limit)
            more = bool(handle.read(1))
    except FileNotFoundError:
        return None
    if (still_writing or more) and data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n")
        data = data[:cut + 1] if cut >= 0 else (data if more else b"")
    return data, more


def read_chunk(path: Path, start: int, *, still_writing: bool) -> tuple[str, int, bool]:
    """(text, next offset, end of log) reading ``path`` from byte ``start``."""
    got = read_whole_lines(path, start, MAX_CHUNK, still_writing=still_writing)
    if got is None:
        return "", start, not still_writing
    data, more = got
    return data.decode("utf-8", errors="replace"), start + len(data), not still_writing and not more


def try_log_file(request: Request, dag_id: str, dag_run_id: str, task_id: str, try_number: int,
                 map_index: int) -> tuple[Path, bool]:
    """(the try's log file, whether the try may still write to it); a 404 for an unknown task
    instance, a try it has not had, or a try without a log file. Both API versions serve logs this way."""
    with read(request) as session:
        ti = ti_or_404(session, dag_id, dag_run_id, task_id, map_index)
        current, state = ti.try_number, ti.state
    if try_number < 1 or try_number > max(current, 0):
        raise not_found(f"Task instance {task_id} of run '{dag_run_id}' has no try number {try_number} "
                        f"(it has had {current})", title="Try not found")
    path = owned_log_file(request.app.state.config.logs_folder,
                          TaskKey(dag_id, dag_run_id, task_id, map_index, try_number))
    if path is None:
        raise not_found("no log file for this try", title="Log not found")
    return path, try_number == current and state in WRITING_STATES


def _log(request: Request, dag_id: str, dag_run_id: str, task_id: str, try_number: int, map_index: int,
         full_content: bool, token: str | None) -> Response:
    path, still_writing = try_log_file(request, dag_id, dag_run_id, task_id, try_number, map_index)
    start = 0 if full_content or not token else decode_token(token)
    content, position, ended = read_chunk(path, start, still_writing=still_writing)
    next_token = encode_token(position, ended)
    if wants_text(request):
        return PlainTextResponse(content, headers={TOKEN_HEADER: next_token})
    body: dict[str, Any] = {"content": content, "continuation_token": next_token, "end_of_log": ended}
    return JSONResponse(body)


_LOG_RESPONSES: dict[int | str, dict[str, Any]] = m.text_or_json(m.LogChunk)


@router.get("/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}",
            summary="Get the log of one try", responses=_LOG_RESPONSES)
def get_log(
    request: Request,
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    try_number: int,
    map_index: int = Query(-1, description="Map index of a mapped task's instance."),
    full_content: bool = Query(False, description="The whole log from the start, ignoring token."),
    token: str | None = Query(None, description="continuation_token of the previous answer."),
    _user: Any = can("task_log", "read"),
) -> Response:
    return _log(request, dag_id, dag_run_id, task_id, try_number, map_index, full_content, token)
