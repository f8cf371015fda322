"""``GET /api/v2/.../taskInstances/{task_id}/logs/{try_number}``: one try's log as Airflow 3's
structured messages.

The file is found and read with ``/api/v1``'s code (:mod:`tradewind.observe.api.routes.logs`):
only that try's own file under ``[logging] base_log_folder``, at most
:data:`~tradewind.observe.api.routes.logs.MAX_CHUNK` bytes per read, whole lines only while the
try still writes, and the same continuation token (byte offset + end of log).

Each line Tradewind wrote (``[2024-01-01T00:00:00.123+0000] {file.py:12} INFO - message``, see
:class:`tradewind.execute.logs.TryLogFormatter`) becomes ``{"timestamp", "level", "event",
"filename", "lineno"}`` (``"chan": "stdout"``/``"stderr"`` for captured output instead of file
and line); a line without that prefix (a traceback's) is added to the previous message's
``event``, or stands alone when it opens the page.

``application/json`` answers one page and its ``continuation_token`` (pass it back as ``token``
for the next page; ``full_content`` starts from the beginning). ``application/x-ndjson`` streams
every message from the token's position to the current end, one JSON object per line, reading
the file a page at a time (a huge log is never held whole); its last line is
``{"continuation_token": ...}``, the token to follow on from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
import pathlib
from typing import Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import ConfigDict

from tradewind.observe.api.routes.common import can
from tradewind.observe.api.routes.logs import decode_token, encode_token, read_chunk, try_log_file
from tradewind.observe.api.v2.common import API_V2, Model

router = APIRouter(prefix=API_V2, tags=["Task Instance"])

NDJSON = "application/x-ndjson"

#: ``[timestamp] {origin} LEVEL - message`` as :class:`tradewind.execute.logs.TryLogFormatter` writes it.
_LINE = re.compile(r"^\[(?P<ts>\d{4}-\d\d-\d\dT[^\]]+)\] \{(?P<origin>[^}]*)\} (?P<level>[A-Z]+) - (?P<event>.*)$")
_FILE_LINE = re.compile(r"^(?P<file>.+):(?P<line>\d+)$")


class StructuredLogMessage(Model):
    """One log message: ``event`` (the text), ``timestamp``, ``level`` and where it came from."""

    model_config = ConfigDict(extra="allow")

    timestamp: datetime | None = None
    event: str


class TaskInstancesLogResponse(Model):
    content: list[StructuredLogMessage] | list[str]
    continuation_token: str | None = None


def _timestamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None


def _message(match: re.Match[str]) -> dict[str, Any]:
    message: dict[str, Any] = {"timestamp": _timestamp(match["ts"]), "event": match["event"],
                               "level": match["level"].lower()}
    origin = match["origin"]
    where = _FILE_LINE.match(origin)
    if where is not None:
        message.update(filename=where["file"], lineno=int(where["line"]))
    elif origin:
        message["chan"] = origin
    return message


def parse_log(text: str) -> list[dict[str, Any]]:
    """The messages of a run of log lines; continuation lines join the message before them."""
    messages: list[dict[str, Any]] = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is not None:
            messages.append(_message(match))
        elif messages:
            messages[-1]["event"] += "\n" + line
        else:
            messages.append({"event": line})
    return messages


def _ndjson(path: pathlib.Path, start: int, still_writing: bool) -> Iterator[bytes]:
    """Every message from byte ``start`` on, a page at a time, then the token to follow on from."""
    position = start
    while True:
        text, position, ended = read_chunk(path, position, still_writing=still_writing)
        for message in parse_log(text):
            yield (json.dumps(StructuredLogMessage(**message).model_dump(mode="json", exclude_none=True)) + "\n"
                   ).encode()
        if ended or not text:
            break
    yield (json.dumps({"continuation_token": encode_token(position, ended)}) + "\n").encode()


@router.get("/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}",
            response_model=TaskInstancesLogResponse, response_model_exclude_none=True,
            responses={200: {"content": {NDJSON: {"schema": {"type": "string"}}}}}, summary="Get Log")
def get_log(
    request: Request,
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    try_number: int = Path(ge=0),
    full_content: bool = Query(False, description="From the beginning of the log, ignoring token."),
    map_index: int = Query(-1, description="Map index of a mapped task's instance."),
    token: str | None = Query(None, description="continuation_token of the previous answer."),
    accept: str = Header("*/*", description="application/json (one page) or application/x-ndjson (a stream)."),
    _user: Any = can("task_log", "read"),
) -> Any:
    path, still_writing = try_log_file(request, dag_id, dag_run_id, task_id, try_number, map_index)
    start = 0 if full_content or not token else decode_token(token)
    if NDJSON in accept and "application/json" not in accept:
        return StreamingResponse(_ndjson(path, start, still_writing), media_type=NDJSON)
    text, position, ended = read_chunk(path, start, still_writing=still_writing)
    return TaskInstancesLogResponse(content=[StructuredLogMessage(**m) for m in parse_log(text)],
                                    continuation_token=encode_token(position, ended))
