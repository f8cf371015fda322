"""One window of a try's log as whole lines, for the UI's log viewer (``static/log_viewer.js``).

``GET /ui/data/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/logs/{try_number}/lines?map_index=``
answers at most :data:`MAX_LINES` lines (and :data:`WINDOW_BYTES` bytes) of the try's log file:

- no ``before``/``after``: the tail of the log (the end of the file);
- ``before=<byte>``: the lines that end at or before that byte offset (the page above);
- ``after=<byte>``: the lines that start at that offset (the page below, or what a running try
  wrote since the last poll; a partial last line is held back while the try still writes).

Answer: ``{"lines": [[offset, text], ...], "start", "end", "size", "still_writing",
"try_number", "state"}`` where ``offset`` is the byte offset of the line in the file, ``start``
and ``end`` bound the window in bytes (``end`` is where the next page starts) and ``size`` is the
file's length when read. The viewer keeps a bounded number of lines in the page and asks for more
by offset, so a log of millions of lines is never sent or drawn whole.

The file is found exactly as the REST API finds it (:func:`~tradewind.observe.api.routes.logs.try_log_file`):
only that try's own file under ``[logging] base_log_folder``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from tradewind.observe.api.auth import Principal, authorize
from tradewind.observe.api.errors import bad_request
from tradewind.observe.api.routes.common import read, ti_or_404
from tradewind.observe.api.routes.logs import read_whole_lines, try_log_file

router = APIRouter(include_in_schema=False)

#: Most lines and bytes in one answer.
MAX_LINES = 2000
WINDOW_BYTES = 512 * 1024


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


def _split(data: bytes, base: int) -> list[list[Any]]:
    """``[[offset, text], ...]`` of newline-terminated ``data`` read from offset ``base``."""
    lines: list[list[Any]] = []
    if not data:
        return lines
    position = base
    for raw in data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"):
        lines.append([position, _decode(raw)])
        position += len(raw) + 1
    return lines


def read_before(path: Path, before: int, *, max_lines: int = MAX_LINES,
                window: int = WINDOW_BYTES) -> tuple[list[list[Any]], int, int]:
    """(lines, start, end): the whole lines ending at or before byte ``before`` (at most ``max_lines``)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return [], 0, 0
    end = min(before, size)
    begin = max(0, end - window)
    with open(path, "rb") as handle:
        handle.seek(begin)
        data = handle.read(end - begin)
    if end < size and not data.endswith(b"\n"):
        # ``before`` cut a line: stop at the last full line (the next page starts there).
        cut = data.rfind(b"\n")
        if cut >= 0:
            data = data[:cut + 1]
    end = begin + len(data)
    if begin > 0:
        cut = data.find(b"\n")
        if 0 <= cut < len(data) - 1:  # drop the partial first line, unless it is all there is
            data = data[cut + 1:]
            begin += cut + 1
    lines = _split(data, begin)
    if len(lines) > max_lines:
        lines = lines[-max_lines:]
        begin = lines[0][0]
    return lines, begin, end


def read_after(path: Path, after: int, *, still_writing: bool, max_lines: int = MAX_LINES,
               window: int = WINDOW_BYTES) -> tuple[list[list[Any]], int, int]:
    """(lines, start, end): whole lines from byte ``after`` on (at most ``max_lines``); while the
    try still writes, a last line without its newline waits for the next call."""
    got = read_whole_lines(path, after, window, still_writing=still_writing)
    if got is None:
        return [], after, after
    data = got[0]
    lines = _split(data, after)
    end = after + len(data)
    if len(lines) > max_lines:
        end = lines[max_lines][0]
        lines = lines[:max_lines]
    return lines, after, end


@router.get("/ui/data/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/logs/{try_number}/lines")
def log_lines(request: Request, dag_id: str, run_id: str, task_id: str, try_number: int,
              map_index: int = Query(-1), before: int | None = Query(None, ge=0),
              after: int | None = Query(None, ge=0), limit: int = Query(MAX_LINES, ge=1, le=MAX_LINES),
              _user: Principal = Depends(authorize("task_log", "read"))) -> dict[str, Any]:
    """One window of the try's log (see the module's docstring)."""
    if before is not None and after is not None:
        raise bad_request("give before or after, not both", field="before")
    with read(request) as session:
        ti = ti_or_404(session, dag_id, run_id, task_id, map_index)
        tries, state = ti.try_number, ti.state
    path, still_writing = try_log_file(request, dag_id, run_id, task_id, try_number, map_index)
    if after is not None:
        lines, start, end = read_after(path, after, still_writing=still_writing, max_lines=limit)
    else:
        lines, start, end = read_before(path, before if before is not None else 1 << 62, max_lines=limit)
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    return {"lines": lines, "start": start, "end": end, "size": size, "still_writing": still_writing,
            "try_number": tries, "state": state}
