"""The task-instance page (``/dags/{dag_id}/runs/{run_id}/tasks/{task_id}?map_index=-1``).

The page is a frame; ``static/task_instance.js`` fills it from:

- ``GET /ui/data/dags/{dag_id}/runs/{run_id}/tasks/{task_id}?map_index=`` — everything the header,
  the Details, Rendered and Mapped tabs show, in one answer the page polls while it is open: the
  instance (REST API shape), its task's definition, every try (with its rendered fields, secrets
  masked), the mapped instances when the task is mapped and this is its ``-1`` page, and the
  "why is this not running" reasons while the instance has not started or finished;
- ``GET /ui/data/.../xcom?map_index=`` — the instance's XCom entries with their values
  pretty-printed as text (secret-looking keys masked, as the REST API does), each cut to
  :data:`XCOM_PREVIEW_CHARS` characters; ``GET /ui/data/.../xcom/value?key=&map_index=`` answers
  one whole value as a text attachment (a huge value never reaches the page's DOM whole);
- ``GET /ui/data/dags/{dag_id}/runs/{run_id}/panel`` — what the grid's run panel and task
  tooltips show beyond the grid's own data: the run (REST API shape, with its note and conf),
  its DAG version number and every task instance's timing in the run;
- ``GET /ui/data/.../logs/{try_number}/download?map_index=`` — the whole log file of one try
  as an attachment (the Log tab itself follows the REST log endpoint with its continuation token);
- the REST API for clear (``clearTaskInstances``) and mark (``PATCH .../taskInstances``),
  each previewed with ``dry_run`` first.

Log files are only ever read at the path the try's ids give under ``[logging] base_log_folder``
(:func:`tradewind.execute.logs.log_path`), and only when that path resolves inside the folder
with one directory level per id — an id holding a path separator never reaches the disk.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from tradewind.definition.masking import mask_value, redact
from tradewind.observe.api import schemas
from tradewind.observe.api.auth import Principal, authorize, authorize_page
from tradewind.observe.api.errors import not_found
from tradewind.observe.api.routes.logs import owned_log_file
from tradewind.observe.api.routes.common import now, read, run_or_404, run_snapshot, ti_or_404
from tradewind.observe.api.routes.task_instances import ti_dicts
from tradewind.observe.ui.pages import render_page
from tradewind.persist.queries import ui_grid_panel
from tradewind.persist.queries import ui_task_instance as queries
from tradewind.persist.queries.task_instances import get_ti, list_tries
from tradewind.persist.queries.xcom import decode_value
from tradewind.workloads import TaskKey
from tradewind.states import FINISHED_TI_STATES, TaskInstanceState

router = APIRouter(include_in_schema=False)

DATA = "/ui/data/dags/{dag_id}/runs/{run_id}/tasks/{task_id}"
RUN_PANEL = "/ui/data/dags/{dag_id}/runs/{run_id}/panel"
#: How much of one XCom value the page receives; the rest is behind the value's download.
XCOM_PREVIEW_CHARS = 20_000
#: States in which "why is this not running" has an answer (not running, not finished).
_WAITING = frozenset(s.value for s in TaskInstanceState) - {s.value for s in FINISHED_TI_STATES} - {"running"}


@router.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}")
def task_instance_page(request: Request, dag_id: str, run_id: str, task_id: str, map_index: int = Query(-1),
                       principal: Principal = Depends(authorize_page("task_instance", "read"))) -> HTMLResponse:
    """The page frame; 404 (as a page) when the instance does not exist."""
    with read(request) as session:
        # An expanded mapped task has no -1 instance any more: its -1 page lists the instances.
        exists = get_ti(session, dag_id, run_id, task_id, map_index) is not None or (
            map_index < 0 and queries.has_mapped_instances(session, dag_id, run_id, task_id))
    title = task_id if map_index < 0 else f"{task_id} [{map_index}]"
    page_data = {
        "dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": map_index,
        "can_edit": principal.can("task_instance", "edit"),
        "can_read_xcom": principal.can("xcom", "read"),
        "can_read_log": principal.can("task_log", "read"),
    }
    if not exists:
        return render_page(request, principal, "task_instance.html", title=title, active_nav="dags",
                           page_data=None, status_code=404, missing=True, **page_data)
    return render_page(request, principal, "task_instance.html", title=title, active_nav="dags",
                       page_data=page_data, missing=False, **page_data)


def _task_dict(task: Any) -> dict[str, Any] | None:
    """The parts of the task's definition the page shows (None when the DAG no longer has it)."""
    if task is None:
        return None
    return {
        "task_id": task.task_id, "task_display_name": task.task_display_name or task.task_id,
        "operator": task.operator, "trigger_rule": task.trigger_rule, "retries": task.retries,
        "pool": task.pool, "queue": task.queue, "owner": task.owner,
        "template_fields": list(task.template_fields), "upstream": list(task.upstream),
        "downstream": list(task.downstream), "task_group": task.task_group, "doc_md": task.doc_md,
        "is_mapped": bool(task.extra.get("is_mapped")), "is_setup": task.is_setup, "is_teardown": task.is_teardown,
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@router.get(DATA)
def task_instance_data(request: Request, dag_id: str, run_id: str, task_id: str, map_index: int = Query(-1),
                       _user: Principal = Depends(authorize("task_instance", "read"))) -> dict[str, Any]:
    """One poll of the page: instance, task, tries, mapped instances and unmet dependencies."""
    from tradewind.schedule.deps import failed_deps

    with read(request) as session:
        run = run_or_404(session, dag_id, run_id)
        ti = get_ti(session, dag_id, run_id, task_id, map_index)
        mapped = _mapped(session, dag_id, run_id, task_id) if map_index < 0 else None
        if ti is None and not mapped:
            ti_or_404(session, dag_id, run_id, task_id, map_index)
        snapshot = run_snapshot(session, run)
        task = snapshot.tasks.get(task_id)
        if not mapped and not (task is not None and task.extra.get("is_mapped")):
            mapped = None  # an ordinary task: no Mapped tab
        ti_out, tries, dependencies = None, [], None
        if ti is not None:
            [ti_out] = ti_dicts(session, [ti], {(dag_id, run_id): run.logical_date})
            ti_out["task_display_name"] = (task.task_display_name or task_id) if task is not None else task_id
            tries = [schemas.try_dict(row, max_tries=ti.max_tries)
                     for row in list_tries(session, dag_id, run_id, task_id, map_index)]
            if ti.state in _WAITING and task is not None:
                reasons = failed_deps(session, ti, snapshot, now=now(),
                                      parallelism=request.app.state.config.parallelism, run=run)
                dependencies = [{"name": "Dependency not met", "reason": r} for r in reasons]
        finished = {s.value for s in FINISHED_TI_STATES}
        return {
            "task_instance": ti_out, "task": _task_dict(task), "tries": tries, "mapped": mapped,
            "dependencies": dependencies, "run_state": run.state,
            "finished": (ti.state in finished) if ti is not None else all(m["state"] in finished for m in mapped),
        }


def _mapped(session: Any, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
    """The expanded instances of a task in a run (empty for an unmapped or not yet expanded task)."""
    return [{"map_index": m, "rendered_map_index": label, "state": None if state == "none" else state,
             "try_number": tries, "start_date": _iso(start), "end_date": _iso(end), "duration": duration}
            for m, label, state, tries, start, end, duration
            in queries.mapped_instances(session, dag_id, run_id, task_id)]


def _pretty(value: Any) -> str:
    """An XCom value as readable text: strings as they are, anything else as indented JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


@router.get(DATA + "/xcom")
def task_instance_xcom(request: Request, dag_id: str, run_id: str, task_id: str, map_index: int = Query(-1),
                       _user: Principal = Depends(authorize("xcom", "read"))) -> dict[str, Any]:
    """The instance's XCom entries with values as text; secret-looking keys (at any depth) masked."""
    with read(request) as session:
        ti_or_404(session, dag_id, run_id, task_id, map_index)
        rows = queries.instance_xcoms(session, dag_id, run_id, task_id, map_index)
        entries = []
        for row in rows:
            text = _xcom_text(row)
            entries.append({"key": row.key, "timestamp": _iso(row.timestamp), "map_index": row.map_index,
                            "value": text[:XCOM_PREVIEW_CHARS], "size": len(text),
                            "truncated": len(text) > XCOM_PREVIEW_CHARS})
    return {"xcom_entries": entries, "total_entries": len(entries)}


def _xcom_text(row: Any) -> str:
    try:
        value = decode_value(row.value)
    except ValueError:
        value = row.value
    return _pretty(mask_value(row.key, redact(value)))


@router.get(DATA + "/xcom/value")
def task_instance_xcom_value(request: Request, dag_id: str, run_id: str, task_id: str, key: str = Query(...),
                             map_index: int = Query(-1),
                             _user: Principal = Depends(authorize("xcom", "read"))) -> Response:
    """One whole XCom value as text (masked as in the list), downloaded as an attachment."""
    with read(request) as session:
        ti_or_404(session, dag_id, run_id, task_id, map_index)
        row = next((r for r in queries.instance_xcoms(session, dag_id, run_id, task_id, map_index) if r.key == key),
                   None)
        if row is None:
            raise not_found(f"Task instance {task_id} of run '{run_id}' has no XCom with key '{key}'",
                            title="XCom not found")
        text = _xcom_text(row)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{dag_id}_{task_id}_{key}")
    return Response(text, media_type="text/plain; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{safe}.txt"'})


@router.get(RUN_PANEL)
def run_panel_data(request: Request, dag_id: str, run_id: str,
                   _user: Principal = Depends(authorize("dag_run", "read"))) -> dict[str, Any]:
    """The grid's run panel: the run with its note, its DAG version and its instances' timings.

    ``instances`` maps a task id to ``[map_index, state, try_number, start, end, duration]`` rows.
    """
    from tradewind.observe.api.routes.dag_runs import run_dicts

    with read(request) as session:
        run = run_or_404(session, dag_id, run_id)
        [out] = run_dicts(session, [run])
        out["dag_version_number"] = ui_grid_panel.version_number(session, run.dag_version_id)
        times: dict[str, list[list[Any]]] = {}
        for task_id, m, state, tries, start, end, duration in ui_grid_panel.run_instance_times(session, dag_id, run_id):
            times.setdefault(task_id, []).append([m, None if state == "none" else state, tries, _iso(start),
                                                  _iso(end), duration])
    return {"run": out, "instances": times}


@router.get(DATA + "/logs/{try_number}/download")
def download_log(request: Request, dag_id: str, run_id: str, task_id: str, try_number: int,
                 map_index: int = Query(-1),
                 _user: Principal = Depends(authorize("task_log", "read"))) -> FileResponse:
    """The whole log file of one try as a text attachment (404 for a try without a file)."""
    with read(request) as session:
        ti = ti_or_404(session, dag_id, run_id, task_id, map_index)
        current = ti.try_number
    if try_number < 1 or try_number > current:
        raise not_found(f"Task instance {task_id} of run '{run_id}' has no try number {try_number} "
                        f"(it has had {current})", title="Try not found")
    path = owned_log_file(request.app.state.config.logs_folder, TaskKey(dag_id, run_id, task_id, map_index, try_number))
    if path is None or not path.is_file():
        raise not_found("no log file for this try", title="Log not found")
    suffix = f"_{map_index}" if map_index >= 0 else ""
    filename = f"{dag_id}_{task_id}{suffix}_attempt{try_number}.log"
    return FileResponse(path, media_type="text/plain; charset=utf-8", filename=filename)
