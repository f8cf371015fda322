"""Human-in-the-loop operators (Airflow 3.1's ``airflow.providers.standard.operators.hitl``).

A HITL task asks people a question and waits, without holding a worker slot, for one of them
to answer through the REST API (``/api/v2/hitlDetails``), the CLI (``tradewind tasks respond``)
or the UI:

* :class:`HITLOperator` — choose from ``options`` (one, or several with ``multiple=True``) and
  fill in a form described by ``params``; returns ``{"chosen_options", "params_input",
  "responded_at", "responded_by_user"}`` as its XCom.
* :class:`ApprovalOperator` — "Approve" or "Reject"; a rejection skips the downstream tasks
  (or fails the task with ``fail_on_reject=True``).
* :class:`HITLBranchOperator` — the chosen options (mapped through ``options_mapping``) are the
  downstream task ids that run; the others are skipped.
* :class:`HITLEntryOperator` — a form only: the single option "OK".

``execute`` calls the ``notifiers`` and defers to :class:`~tradewind.definition.triggers.hitl.HITLTrigger`,
which carries the request; the schedule layer records it, and a response (or, past
``response_timeout``, the ``defaults``) resumes the task in ``execute_complete``. Without
defaults a timeout fails the task with :class:`HITLTimeoutError`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from tradewind.definition import timezone as tz
from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.exceptions import (
    InvalidTaskArgumentError,
    ParamValidationError,
    TradewindException,
)
from tradewind.definition.notifications import BaseNotifier
from tradewind.definition.operators.python import _expand_branch_ids
from tradewind.definition.params import Param, ParamsDict
from tradewind.definition.triggers.hitl import HITLTrigger

__all__ = [
    "ApprovalOperator",
    "HITLBranchOperator",
    "HITLEntryOperator",
    "HITLOperator",
    "HITLRejectException",
    "HITLTimeoutError",
    "HITLTriggerEventError",
    "HITLUser",
    "validate_response",
]

log = logging.getLogger(__name__)

#: Airflow's ``HITLUser`` is a TypedDict ``{"id": str, "name": str}``; a dict is what it builds.
HITLUser = dict


class HITLTriggerEventError(Exception):
    """The wait for a response ended in an error (Airflow's class of the same name)."""


class HITLTimeoutError(HITLTriggerEventError):
    """The response deadline passed and the request has no defaults to fall back on."""


class HITLRejectException(TradewindException):
    """An ``ApprovalOperator`` with ``fail_on_reject=True`` received "Reject"."""


def _users(value: Any, where: str) -> list[dict[str, str]]:
    if value is None:
        return []
    items = [value] if isinstance(value, Mapping) else value
    users = []
    for item in items:
        if not (isinstance(item, Mapping) and isinstance(item.get("id"), str) and isinstance(item.get("name"), str)):
            raise InvalidTaskArgumentError(
                f"assigned_users of {where} must be {{'id': str, 'name': str}} dicts (Airflow's HITLUser), got {item!r}")
        users.append({"id": item["id"], "name": item["name"]})
    return users


def validate_response(options: Sequence[str], multiple: bool, params: Mapping[str, dict[str, Any]],
                      chosen_options: Sequence[str], params_input: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check a response against its request; return the params input with the defaults filled in.

    Raises ``ValueError`` naming what is wrong: no option, an unknown option, several options
    when ``multiple`` is False, an unknown param, or a value that does not fit its param's schema.
    Shared by the operator (when it resumes) and the schedule layer (before it accepts an answer).
    """
    chosen = list(chosen_options or [])
    if not chosen:
        raise ValueError("a response must choose at least one option")
    if not all(isinstance(c, str) for c in chosen):
        raise ValueError(f"chosen options must be strings, got {chosen!r}")
    unknown = sorted(set(chosen) - set(options))
    if unknown:
        raise ValueError(f"Responses {unknown} not in {list(options)}")
    if not multiple and len(chosen) > 1:
        raise ValueError(f"only one option may be chosen (multiple=False), got {chosen}")
    given = dict(params_input or {})
    extra = sorted(set(given) - set(params))
    if extra:
        raise ValueError(f"params_input has {extra}, which are not params of this request ({sorted(params)})")
    result = {}
    for name, spec in params.items():
        spec = spec if isinstance(spec, dict) and "schema" in spec else {"value": spec, "schema": {}}
        param = Param(spec.get("value"), spec.get("description"), **(spec.get("schema") or {}))
        try:
            result[name] = param.resolve(given[name]) if name in given else param.resolve()
        except ParamValidationError as exc:
            raise ValueError(f"param {name!r}: {exc}") from None
    return result


class HITLOperator(BaseOperator):
    """Ask people to choose among ``options`` (and fill in ``params``), then continue with the answer.

    :param subject: the headline shown to respondents (templated).
    :param options: the choices; at least one.
    :param body: details, Markdown (templated).
    :param defaults: option(s) taken when ``response_timeout`` passes without an answer.
    :param multiple: whether several options may be chosen.
    :param params: form fields, as DAG params (``Param`` or plain defaults).
    :param notifiers: ``BaseNotifier``\\ s called (with the task's context) when the request is made.
    :param assigned_users: ``{"id", "name"}`` dicts: only these users may answer (default: anyone
        allowed to edit task instances).
    :param response_timeout: how long to wait for an answer. ``execution_timeout`` given without it
        is taken as the response timeout, as in Airflow (noted in the task log).
    """

    template_fields = ("subject", "body")
    ui_color = "#10b981"

    def __init__(self, *, subject: str, options: list[str], body: str | None = None,
                 defaults: str | list[str] | None = None, multiple: bool = False,
                 params: ParamsDict | dict[str, Any] | None = None,
                 notifiers: Sequence[BaseNotifier] | BaseNotifier | None = None,
                 assigned_users: dict[str, str] | list[dict[str, str]] | None = None,
                 response_timeout: timedelta | float | None = None, **kwargs: Any) -> None:
        super().__init__(params=params, **kwargs)
        where = f"{type(self).__name__} {self.task_id!r}"
        if self.execution_timeout and response_timeout is None:
            # Airflow: execution_timeout used to bound the wait; now response_timeout does.
            response_timeout, self.execution_timeout = self.execution_timeout, None
            self.deprecation_notes.append(
                "execution_timeout of a HITL operator is taken as response_timeout (deprecated in Airflow); "
                "pass response_timeout instead")
        if response_timeout is not None and not isinstance(response_timeout, timedelta):
            try:
                response_timeout = timedelta(seconds=float(response_timeout))
            except (TypeError, ValueError):
                raise InvalidTaskArgumentError(
                    f"response_timeout of {where} must be a timedelta or seconds, got {response_timeout!r}") from None
        self.response_timeout = response_timeout
        self.subject = subject
        self.body = body
        self.options = list(options) if isinstance(options, (list, tuple)) else options
        self.defaults = [defaults] if isinstance(defaults, str) else (list(defaults) if defaults is not None else None)
        self.multiple = multiple
        # Only the task's own params are form fields (Airflow filters out the DAG's).
        self.hitl_params = params.copy() if isinstance(params, ParamsDict) else ParamsDict(params or {})
        if isinstance(notifiers, BaseNotifier):
            notifiers = [notifiers]
        self.notifiers: list[BaseNotifier] = list(notifiers or [])
        for notifier in self.notifiers:
            if not callable(notifier):
                raise InvalidTaskArgumentError(f"notifiers of {where} must be BaseNotifier objects, got {notifier!r}")
        self.assigned_users = _users(assigned_users, where)
        self.hitl_summary_extra: dict[str, Any] = {}
        self.validate_options()
        self.validate_params()
        self.validate_defaults()

    # ------------------------------------------------------------------ validation (parse time)
    def _where(self) -> str:
        return f"{type(self).__name__} {self.task_id!r}"

    def validate_options(self) -> None:
        if not self.options or not isinstance(self.options, list) or not all(isinstance(o, str) for o in self.options):
            raise InvalidTaskArgumentError(f'"options" of {self._where()} cannot be empty and must be strings, '
                                           f"got {self.options!r}")

    def validate_params(self) -> None:
        if "_options" in self.hitl_params:
            raise InvalidTaskArgumentError(f'"_options" is not allowed in params of {self._where()}')

    def validate_defaults(self) -> None:
        if self.defaults is None:
            return
        if not set(self.defaults).issubset(self.options):
            raise InvalidTaskArgumentError(
                f'defaults "{self.defaults}" of {self._where()} should be a subset of options "{self.options}"')
        if not self.multiple and len(self.defaults) > 1:
            raise InvalidTaskArgumentError(
                f'More than one defaults given when "multiple" is set to False ({self._where()})')

    # ------------------------------------------------------------------ the request
    @property
    def serialized_params(self) -> dict[str, dict[str, Any]]:
        return self.hitl_params.serialize()

    @property
    def hitl_summary(self) -> dict[str, Any]:
        """The request as Airflow summarises it for listeners (after templates are rendered)."""
        return {"subject": self.subject, "body": self.body, "options": self.options, "defaults": self.defaults,
                "multiple": self.multiple, "assigned_users": self.assigned_users,
                "serialized_params": self.serialized_params or None, **self.hitl_summary_extra}

    def execute(self, context: dict[str, Any]) -> Any:
        timeout_at = tz.utcnow() + self.response_timeout if self.response_timeout else None
        self.hitl_summary_extra["timeout_datetime"] = timeout_at.isoformat() if timeout_at else None
        self.task_logger(context).info("Waiting for response to %r (options %s)", self.subject, self.options)
        for notifier in self.notifiers:
            notifier(context)
        self.defer(
            trigger=HITLTrigger(options=self.options, params=self.serialized_params, defaults=self.defaults,
                                multiple=self.multiple, timeout_datetime=timeout_at, subject=self.subject,
                                body=self.body, assigned_users=self.assigned_users),
            method_name="execute_complete",
        )

    def execute_complete(self, context: dict[str, Any], event: dict[str, Any]) -> Any:
        if "error" in event:
            self.hitl_summary_extra["error_type"] = event.get("error_type")
            if event.get("error_type") == "timeout":
                raise HITLTimeoutError(event)
            raise HITLTriggerEventError(event)
        chosen = list(event["chosen_options"])
        params_input = event.get("params_input") or {}
        self.validate_chosen_options(chosen)
        if not event.get("timedout"):  # the defaults after a timeout are the author's own values
            self.validate_params_input(params_input)
        responded_at = event.get("responded_at")
        who = event.get("responded_by_user")
        logger = self.task_logger(context)
        if who is None:
            logger.info("[HITL] no response before the timeout: the defaults %s apply", chosen)
        else:
            logger.info("[HITL] responded_by=%s (id=%s) options=%s at %s", who.get("name"), who.get("id"),
                        chosen, responded_at)
        self.hitl_summary_extra.update({"chosen_options": chosen, "params_input": params_input,
                                        "responded_by_user": who})
        return {
            "chosen_options": chosen,
            "params_input": params_input,
            "responded_at": responded_at,
            "responded_by_user": who,
        }

    def validate_chosen_options(self, chosen_options: list[str]) -> None:
        diff = set(chosen_options) - set(self.options)
        if diff:
            raise ValueError(f"Responses {diff} not in {self.options}")

    def validate_params_input(self, params_input: Mapping[str, Any]) -> None:
        if self.hitl_params and params_input and set(self.hitl_params) ^ set(params_input):
            raise ValueError(f"params_input {dict(params_input)} does not match params {self.hitl_params}")
        for key, value in params_input.items():
            if key in self.hitl_params:
                try:
                    self.hitl_params.get_param(key).resolve(value)
                except ParamValidationError as exc:
                    raise ValueError(f"param {key!r}: {exc}") from None
            self.hitl_params[key] = value

    # ------------------------------------------------------------------ links
    def generate_link_to_ui(self, *, task_instance: Any, base_url: str | None = None,
                            options: str | list[str] | None = None,
                            params_input: dict[str, Any] | None = None) -> str:
        """A link to this request's page in the UI, with options/params pre-filled as query arguments.

        ``base_url`` defaults to the ``TRADEWIND__API__BASE_URL`` environment variable (the
        definition layer reads no config file); without either it raises ``ValueError``.
        """
        import os

        query: dict[str, Any] = {}
        options = [options] if isinstance(options, str) else options
        if options:
            diff = set(options) - set(self.options)
            if diff:
                raise ValueError(f"options {diff} are not valid options")
            query["_options"] = options
        if params_input:
            diff = set(params_input) - set(self.hitl_params)
            if diff:
                raise ValueError(f"params {diff} are not valid params")
            query.update(params_input)
        base = base_url or os.environ.get("TRADEWIND__API__BASE_URL") or os.environ.get("AIRFLOW__API__BASE_URL")
        if not base:
            raise ValueError("Not able to retrieve base_url (pass base_url= or set TRADEWIND__API__BASE_URL)")
        query["map_index"] = getattr(task_instance, "map_index", -1)
        path = (f"/dags/{quote(task_instance.dag_id, safe='')}/runs/{quote(task_instance.run_id, safe='')}"
                f"/tasks/{quote(task_instance.task_id, safe='')}/required_actions")
        return f"{base.rstrip('/')}{path}?{urlencode(query, doseq=True)}"

    @staticmethod
    def generate_link_to_ui_from_context(*, context: dict[str, Any], base_url: str | None = None,
                                         options: list[str] | None = None,
                                         params_input: dict[str, Any] | None = None) -> str:
        task = context["task"]
        if not isinstance(task, HITLOperator):
            raise ValueError("This method only supports HITLOperator")
        return task.generate_link_to_ui(task_instance=context["task_instance"], base_url=base_url,
                                        options=options, params_input=params_input)


class ApprovalOperator(HITLOperator):
    """"Approve" or "Reject". Approve: downstream tasks run. Reject: the direct downstream tasks
    are skipped (all downstream tasks with ``ignore_downstream_trigger_rules=True``; teardowns
    never), or the task fails with ``fail_on_reject=True`` (Airflow discourages it)."""

    inherits_from_skipmixin = True
    FIXED_ARGS = ("options", "multiple")
    APPROVE = "Approve"
    REJECT = "Reject"

    def __init__(self, *, ignore_downstream_trigger_rules: bool = False, fail_on_reject: bool = False,
                 **kwargs: Any) -> None:
        for arg in self.FIXED_ARGS:
            if arg in kwargs:
                raise InvalidTaskArgumentError(
                    f"Passing {arg} to ApprovalOperator is not allowed (task {kwargs.get('task_id')!r})")
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules
        self.fail_on_reject = fail_on_reject
        super().__init__(options=[self.APPROVE, self.REJECT], multiple=False, **kwargs)
        self.hitl_summary_extra.update({"ignore_downstream_trigger_rules": ignore_downstream_trigger_rules,
                                        "fail_on_reject": fail_on_reject})

    def execute_complete(self, context: dict[str, Any], event: dict[str, Any]) -> Any:
        result = super().execute_complete(context, event)
        approved = result["chosen_options"][0] == self.APPROVE
        self.hitl_summary_extra["approved"] = approved
        logger = self.task_logger(context)
        if approved:
            logger.info("Approved. Proceeding with downstream tasks...")
            return result
        if self.fail_on_reject:
            raise HITLRejectException('Receive "Reject"')
        relatives = (self.get_flat_relatives(upstream=False) if self.ignore_downstream_trigger_rules
                     else self.get_direct_relatives(upstream=False))
        to_skip = sorted(t.task_id for t in relatives if not t.is_teardown)
        if not to_skip:
            logger.info("No downstream tasks; nothing to do.")
            return result
        logger.info("Rejected. Skipping downstream tasks %s", to_skip)
        context["ti"].skip_tasks(to_skip)
        return result


class HITLBranchOperator(HITLOperator):
    """The chosen options name the downstream tasks (or task groups) to run; ``options_mapping``
    maps an option to a task id when they differ. Every other direct downstream task is skipped;
    the XCom is the list of branches, as for Airflow's branch operators."""

    inherits_from_skipmixin = True

    def __init__(self, *, options_mapping: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options_mapping = dict(options_mapping or {})
        self.validate_options_mapping()
        self.hitl_summary_extra["options_mapping"] = self.options_mapping

    def validate_options_mapping(self) -> None:
        invalid = sorted(set(self.options_mapping) - set(self.options))
        if invalid:
            raise InvalidTaskArgumentError(
                f"`options_mapping` of {self._where()} contains keys that are not in `options`: {invalid}")
        bad = {k: (v, type(v).__name__) for k, v in self.options_mapping.items() if not isinstance(v, str)}
        if bad:
            raise InvalidTaskArgumentError(
                f"`options_mapping` values of {self._where()} must be strings (task_ids). Invalid entries: {bad}")

    def execute_complete(self, context: dict[str, Any], event: dict[str, Any]) -> Any:
        result = super().execute_complete(context, event)
        branches = [self.options_mapping.get(o, o) for o in result["chosen_options"]]
        self.hitl_summary_extra["branches_to_execute"] = branches
        chosen = _expand_branch_ids(self, branches)
        to_skip = sorted(self.downstream_task_ids - chosen)
        self.task_logger(context).info("Following branch %s; skipping %s", sorted(chosen), to_skip)
        if to_skip:
            context["ti"].skip_tasks(to_skip)
        return branches


class HITLEntryOperator(HITLOperator):
    """A form to fill in (``params``), confirmed with the single option "OK" (also its default)."""

    OK = "OK"

    def __init__(self, **kwargs: Any) -> None:
        if "options" not in kwargs:
            kwargs["options"] = [self.OK]
            kwargs.setdefault("defaults", [self.OK])
        super().__init__(**kwargs)
