"""Errors of the REST API in Airflow's problem format.

Every error body is ``{"detail": ..., "status": ..., "title": ..., "type": ...}`` (RFC 7807 as
Airflow's stable API returns it), so clients written for Airflow can show ``detail``. A 422 also
names the fields at fault in ``field`` (the first one) and ``errors`` (all of them, with the
location in the request, e.g. ``["body", "conf", "rows"]``).

Under ``/api/v2`` a request validation error has Airflow 3's body instead: ``{"detail": [{"loc",
"msg", "type", "field"}, ...]}`` (FastAPI's ``HTTPValidationError``, which Airflow 3 returns); every
other error keeps ``detail`` as its message, as Airflow 3's ``HTTPExceptionResponse``.

Routes raise :class:`ApiError` (or the helpers :func:`not_found`, :func:`conflict`,
:func:`bad_request`, :func:`unprocessable`); :func:`install_error_handlers` turns those,
FastAPI's request validation errors and plain ``HTTPException``s into the same body.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

#: Base of the ``type`` URIs (Airflow points at its API reference's "Errors" section).
TYPE_BASE = "https://tradewind.dev/docs/rest-api#errors"

#: HTTP status -> (title, type suffix), Airflow's names.
_KINDS: dict[int, tuple[str, str]] = {
    400: ("Bad Request", "BadRequest"),
    401: ("Unauthorized", "Unauthenticated"),
    403: ("Forbidden", "PermissionDenied"),
    404: ("Not Found", "NotFound"),
    405: ("Method Not Allowed", "MethodNotAllowed"),
    406: ("Not Acceptable", "NotAcceptable"),
    409: ("Conflict", "AlreadyExists"),
    413: ("Content Too Large", "PayloadTooLarge"),
    415: ("Unsupported Media Type", "UnsupportedMediaType"),
    422: ("Unprocessable Entity", "Unprocessable"),
    429: ("Too Many Requests", "TooManyRequests"),
    500: ("Internal Server Error", "Unknown"),
}


class ApiError(Exception):
    """An error the API reports to the client; ``field`` names the input at fault (422/400)."""

    def __init__(self, status: int, detail: str, *, title: str | None = None, field: str | None = None,
                 errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.field = field
        self.errors = errors
        self.headers = headers


def not_found(detail: str, *, title: str | None = None) -> ApiError:
    return ApiError(404, detail, title=title)


def conflict(detail: str, *, title: str | None = None) -> ApiError:
    return ApiError(409, detail, title=title)


def bad_request(detail: str, *, field: str | None = None) -> ApiError:
    return ApiError(400, detail, field=field)


def unprocessable(detail: str, *, field: str | None = None, errors: list[dict[str, Any]] | None = None) -> ApiError:
    return ApiError(422, detail, field=field, errors=errors)


def problem(status: int, detail: Any, *, title: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The problem document for ``status``."""
    default_title, kind = _KINDS.get(status, ("Error", "Unknown"))
    body: dict[str, Any] = {"detail": detail, "status": status, "title": title or default_title,
                            "type": f"{TYPE_BASE}/{kind}"}
    if extra:
        body.update(extra)
    return body


def problem_response(status: int, detail: Any, *, title: str | None = None, extra: dict[str, Any] | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(problem(status, detail, title=title, extra=extra), status_code=status, headers=headers,
                        media_type="application/problem+json")


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "conf", "rows")`` -> ``"conf.rows"``; ``("query", "limit")`` -> ``"limit"``."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        out.append({"loc": loc, "field": _field_name(loc), "msg": err.get("msg", ""), "type": err.get("type", "")})
    return out


def is_v2(request: Request) -> bool:
    """A request to Airflow 3's API (``/api/v2``), whose 422 body lists the errors in ``detail``."""
    return request.url.path.startswith("/api/v2/")


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem document."""

    @app.exception_handler(ApiError)
    def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        if exc.status == 422 and is_v2(request):
            # Airflow 3 answers every 422 as HTTPValidationError: the errors, each with its location.
            errors = exc.errors or [{"loc": ["request", exc.field] if exc.field else ["request"],
                                     "field": exc.field or "", "msg": exc.detail, "type": "value_error"}]
            return JSONResponse({"detail": errors, "field": exc.field or errors[0].get("field", "")},
                                status_code=422, headers=exc.headers)
        extra: dict[str, Any] = {}
        if exc.field is not None:
            extra["field"] = exc.field
        if exc.errors is not None:
            extra["errors"] = exc.errors
        return problem_response(exc.status, exc.detail, title=exc.title, extra=extra, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        first = errors[0] if errors else {"field": "", "msg": "invalid request"}
        if is_v2(request):
            # Airflow 3's HTTPValidationError: ``detail`` is the list of errors, each with its ``loc``.
            return JSONResponse({"detail": errors, "field": first["field"]}, status_code=422)
        detail = "; ".join(f"{e['field']}: {e['msg']}" for e in errors) or "invalid request"
        return problem_response(422, detail, extra={"field": first["field"], "errors": errors})

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if exc.detail is not None else _KINDS.get(exc.status_code, ("Error", ""))[0]
        return problem_response(exc.status_code, detail, headers=getattr(exc, "headers", None))

    # A number in a path, query or body that passed validation as ``int`` but does not fit the
    # database's integer columns: SQLite's driver raises OverflowError before sending the query,
    # PostgreSQL answers "out of range" (a DataError). Either way the request is at fault, not us.
    @app.exception_handler(OverflowError)
    def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        return _unfit_value(request, f"a number in the request is out of range for the database: {exc}")

    from sqlalchemy.exc import DataError

    @app.exception_handler(DataError)
    def _data_error(request: Request, exc: DataError) -> JSONResponse:
        return _unfit_value(request, f"a value in the request does not fit the database: {exc.orig}")


def _unfit_value(request: Request, message: str) -> JSONResponse:
    """A 422 for a value that passed validation but does not fit the database, in each API's body."""
    if is_v2(request):
        return JSONResponse({"detail": [{"loc": ["request"], "msg": message, "type": "value_error"}]},
                            status_code=422)
    return problem_response(422, message)
