"""``BaseOperator``: the common arguments, ``default_args`` inheritance and the graph edges of a task.

Every operator subclass gets its ``__init__`` wrapped by :class:`BaseOperatorMeta`
(as Airflow's ``apply_defaults``): any keyword argument of that ``__init__`` that
the caller did not pass is taken from the merged ``default_args`` of the DAG, the
enclosing task groups and the operator's own ``default_args``. Operators must be
built with keyword arguments, as in Airflow.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from tradewind.definition import timezone as tz_helpers
from tradewind.definition.exceptions import (
    DagCycleError,
    DagDefinitionError,
    InvalidTaskArgumentError,
    TradewindException,
)
from tradewind.definition.helpers import DagContext, DependencyMixin, TaskGroupContext, validate_key
from tradewind.definition.params import ParamsDict
from tradewind.definition.xcom_arg import XComArg, contains_resolvable, iter_xcom_args, resolve_xcom_args
from tradewind.states import TriggerRule, WeightRule

__all__ = ["BaseOperator", "BaseOperatorMeta"]

#: Airflow arguments accepted for compatibility that Tradewind does not act on (yet).
_ACCEPTED_AND_IGNORED = frozenset(
    {"sla", "resources", "executor", "map_index_template", "logger_name", "allow_nested_operators"}
)
#: Arguments never filled from default_args (they say *where* the task is, not how it runs).
_NOT_FROM_DEFAULTS = frozenset({"task_id", "dag", "task_group", "default_args"})


def _wrap_init(func: Callable[..., None]) -> Callable[..., None]:
    signature = inspect.signature(func)
    fillable = {
        name
        for name, p in signature.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "self" and name not in _NOT_FROM_DEFAULTS
    }
    passes_defaults = "default_args" in signature.parameters or any(
        p.kind is p.VAR_KEYWORD for p in signature.parameters.values()
    )

    @functools.wraps(func)
    def init_with_defaults(self: Any, *args: Any, **kwargs: Any) -> None:
        if args:
            raise TradewindException(
                f"Use keyword arguments when initializing operators ({type(self).__name__} got positional "
                f"arguments {args!r})"
            )
        depth = self.__dict__.get("_init_depth", 0)
        self.__dict__["_init_depth"] = depth + 1
        try:
            dag = kwargs.get("dag") or DagContext.get_current_dag()
            group = kwargs.get("task_group") or TaskGroupContext.get_current(dag)
            merged: dict[str, Any] = {}
            if dag is not None:
                merged.update(dag.default_args)
            if group is not None:
                merged.update(group.default_args)
            merged.update(kwargs.get("default_args") or {})
            for name in fillable:
                if name not in kwargs and name in merged:
                    kwargs[name] = merged[name]
            if passes_defaults:
                kwargs["default_args"] = merged
            func(self, **kwargs)
        finally:
            self.__dict__["_init_depth"] = depth
        if depth == 0:
            self._post_init()

    init_with_defaults.__signature__ = signature  # type: ignore[attr-defined]
    return init_with_defaults


class BaseOperatorMeta(type):
    """Wraps each operator class's own ``__init__`` so ``default_args`` apply to it."""

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kw: Any) -> type:
        if "__init__" in namespace:
            namespace["__init__"] = _wrap_init(namespace["__init__"])
        return super().__new__(mcls, name, bases, namespace, **kw)


def _as_timedelta(value: Any, name: str, where: str) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    raise InvalidTaskArgumentError(f"{name} of {where} must be a timedelta or a number of seconds, got {value!r}")


class BaseOperator(DependencyMixin, metaclass=BaseOperatorMeta):
    """Base class of every task (Airflow's ``BaseOperator``). Subclasses implement ``execute``."""

    template_fields: ClassVar[tuple[str, ...]] = ()
    template_ext: ClassVar[tuple[str, ...]] = ()
    template_fields_renderers: ClassVar[dict[str, str]] = {}
    ui_color: ClassVar[str] = "#fff"
    ui_fgcolor: ClassVar[str] = "#000"
    #: Shown instead of the class name (``"@task"`` for TaskFlow tasks).
    custom_operator_name: ClassVar[str | None] = None
    #: EmptyOperator-like tasks the scheduler may mark success without running.
    inherits_from_empty_operator: ClassVar[bool] = False
    is_setup: bool = False
    is_teardown: bool = False
    #: Teardowns only: whether this teardown's failure fails the DAG run (Airflow's default: no).
    on_failure_fail_dagrun: bool = False

    def __init__(
        self,
        *,
        task_id: str,
        owner: str = "airflow",
        email: str | Iterable[str] | None = None,
        email_on_retry: bool = True,
        email_on_failure: bool = True,
        retries: int | None = 0,
        retry_delay: timedelta | float = timedelta(seconds=300),
        retry_exponential_backoff: bool = False,
        max_retry_delay: timedelta | float | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        depends_on_past: bool = False,
        wait_for_downstream: bool = False,
        dag: Any = None,
        params: dict[str, Any] | None = None,
        default_args: dict[str, Any] | None = None,
        priority_weight: int = 1,
        weight_rule: str | WeightRule = WeightRule.DOWNSTREAM,
        queue: str = "default",
        executor: str | None = None,
        pool: str | None = None,
        pool_slots: int = 1,
        execution_timeout: timedelta | float | None = None,
        on_execute_callback: Any = None,
        on_failure_callback: Any = None,
        on_success_callback: Any = None,
        on_retry_callback: Any = None,
        on_skipped_callback: Any = None,
        trigger_rule: str | TriggerRule = TriggerRule.ALL_SUCCESS,
        max_active_tis_per_dag: int | None = None,
        max_active_tis_per_dagrun: int | None = None,
        executor_config: dict[str, Any] | None = None,
        run_as_user: str | None = None,
        do_xcom_push: bool = True,
        multiple_outputs: bool = False,
        inlets: Any = None,
        outlets: Any = None,
        task_group: Any = None,
        doc: str | None = None,
        doc_md: str | None = None,
        doc_json: str | None = None,
        doc_yaml: str | None = None,
        doc_rst: str | None = None,
        task_display_name: str | None = None,
        task_concurrency: int | None = None,
        pre_execute: Callable[..., Any] | None = None,
        post_execute: Callable[..., Any] | None = None,
        wait_for_past_depends_before_skipping: bool = False,
        ignore_first_depends_on_past: bool = True,
        **kwargs: Any,
    ) -> None:
        unknown = {k: v for k, v in kwargs.items() if k not in _ACCEPTED_AND_IGNORED}
        if unknown:
            raise InvalidTaskArgumentError(
                f"Invalid arguments were passed to {type(self).__name__} (task_id: {task_id}). "
                f"Invalid arguments were: {unknown!r}"
            )
        self.default_args = dict(default_args or {})
        dag = dag or DagContext.get_current_dag()
        if task_group is None:
            task_group = TaskGroupContext.get_current(dag)
        dag_label = f" in DAG {dag.dag_id!r}" if dag is not None else ""
        validate_key(task_id, "task_id", where=dag_label.strip())
        self._label = task_id
        self.task_id = validate_key(
            task_group.child_id(task_id) if task_group is not None else task_id, "task_id", where=dag_label.strip()
        )
        where = f"task {self.task_id!r}{dag_label}"
        self.owner = owner
        self.email = [email] if isinstance(email, str) else (list(email) if email else None)
        self.email_on_retry = email_on_retry
        self.email_on_failure = email_on_failure
        self.retries = self._check_int(0 if retries is None else retries, "retries", where, minimum=0)
        self.retry_delay = _as_timedelta(retry_delay, "retry_delay", where)
        self.retry_exponential_backoff = retry_exponential_backoff
        self.max_retry_delay = _as_timedelta(max_retry_delay, "max_retry_delay", where)
        self.execution_timeout = _as_timedelta(execution_timeout, "execution_timeout", where)
        try:
            zone = dag.timezone if dag is not None else None
            self.start_date = None if start_date is None else tz_helpers.to_utc(start_date, zone)
            self.end_date = None if end_date is None else tz_helpers.to_utc(end_date, zone)
        except tz_helpers.TimezoneError as exc:
            raise InvalidTaskArgumentError(f"{where}: {exc}") from None
        self.wait_for_downstream = wait_for_downstream
        self.depends_on_past = depends_on_past or wait_for_downstream
        #: Airflow-era arguments this task still uses; the runner logs each at the start of every try.
        self.deprecation_notes: list[str] = []
        self._note_arguments_not_acted_on(kwargs, wait_for_past_depends_before_skipping, ignore_first_depends_on_past)
        for name, hook in (("pre_execute", pre_execute), ("post_execute", post_execute)):
            if hook is not None and not callable(hook):
                raise InvalidTaskArgumentError(f"{name} of {where} must be callable, got {hook!r}")
        #: Airflow 2's ``pre_execute=`` / ``post_execute=`` hooks, called by the methods of those names.
        self._pre_execute_hook, self._post_execute_hook = pre_execute, post_execute
        self.wait_for_past_depends_before_skipping = wait_for_past_depends_before_skipping
        self.ignore_first_depends_on_past = ignore_first_depends_on_past
        try:
            self.trigger_rule = TriggerRule.parse(trigger_rule)
        except ValueError as exc:
            raise InvalidTaskArgumentError(f"{where}: {exc}") from None
        if str(trigger_rule) == "dummy":
            self.deprecation_notes.append("trigger_rule 'dummy' is deprecated (Airflow 1/2); use 'always'")
        try:
            self.weight_rule = WeightRule(str(weight_rule))
        except ValueError:
            valid = ", ".join(r.value for r in WeightRule)
            raise InvalidTaskArgumentError(f"{where}: invalid weight_rule {weight_rule!r}; valid: {valid}") from None
        self.priority_weight = self._check_int(priority_weight, "priority_weight", where)
        self.queue = queue
        if executor is not None and (not isinstance(executor, str) or not executor.strip()):
            raise InvalidTaskArgumentError(f"{where}: executor must be an executor name such as 'celery', got {executor!r}")
        #: The executor that runs this task (Airflow 2.10's ``executor=``); None: the default one.
        self.executor = executor.strip() if executor is not None else None
        self.pool = pool or "default_pool"
        self.pool_slots = self._check_int(pool_slots, "pool_slots", where, minimum=1)
        self.on_execute_callback = on_execute_callback
        self.on_failure_callback = on_failure_callback
        self.on_success_callback = on_success_callback
        self.on_retry_callback = on_retry_callback
        self.on_skipped_callback = on_skipped_callback
        self.max_active_tis_per_dag = max_active_tis_per_dag if max_active_tis_per_dag is not None \
            else task_concurrency
        self.max_active_tis_per_dagrun = max_active_tis_per_dagrun
        self.executor_config = executor_config or {}
        self.run_as_user = run_as_user
        self.do_xcom_push = do_xcom_push
        self.multiple_outputs = multiple_outputs
        self.inlets = list(inlets) if isinstance(inlets, (list, tuple)) else ([inlets] if inlets else [])
        self.outlets = list(outlets) if isinstance(outlets, (list, tuple)) else ([outlets] if outlets else [])
        self.doc, self.doc_md, self.doc_json, self.doc_yaml, self.doc_rst = doc, doc_md, doc_json, doc_yaml, doc_rst
        self.task_display_name = task_display_name or task_id
        # Kept as given so a plain value can update a DAG Param without losing its schema.
        self._params_source = {**(self.default_args.get("params") or {}), **(params or {})}
        self.params = ParamsDict(self._params_source)
        self.upstream_task_ids: set[str] = set()
        self.downstream_task_ids: set[str] = set()
        self.task_group = task_group
        self._dag = None
        if dag is not None:
            dag.add_task(self)

    def _note_arguments_not_acted_on(self, kwargs: dict[str, Any], wait_before_skipping: bool,
                                     ignore_first: bool) -> None:
        """Arguments Airflow acts on and Tradewind accepts without doing so: a note in every try's log."""
        sla = kwargs.get("sla", self.default_args.get("sla"))
        if sla is not None:
            self.deprecation_notes.append(
                "sla is accepted but Tradewind records no SLA misses (Airflow 2; removed in Airflow 3)")
        if kwargs.get("resources") is not None:
            self.deprecation_notes.append("resources is accepted but Tradewind reserves no resources for a task")
        if wait_before_skipping:
            self.deprecation_notes.append(
                "wait_for_past_depends_before_skipping is accepted but not acted on: a skipped upstream skips "
                "this task without waiting for its previous run")
        if not ignore_first:
            self.deprecation_notes.append(
                "ignore_first_depends_on_past is deprecated (Airflow 2.3) and has no effect: the first run never "
                "waits for a previous one")

    @staticmethod
    def _check_int(value: Any, name: str, where: str, minimum: int | None = None) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise InvalidTaskArgumentError(f"{name} of {where} must be an integer, got {value!r}") from None
        if isinstance(value, bool) or (isinstance(value, float) and number != value):
            raise InvalidTaskArgumentError(f"{name} of {where} must be an integer, got {value!r}")
        if minimum is not None and number < minimum:
            raise InvalidTaskArgumentError(f"{name} of {where} must be at least {minimum}, got {value!r}")
        return number

    def _post_init(self) -> None:
        """After the outermost ``__init__``: XComArgs in template fields become upstream edges."""
        self.__dict__["_init_done"] = True
        for name in self.template_fields:
            self._wire_xcom_args(getattr(self, name, None))

    def _wire_xcom_args(self, value: Any) -> None:
        for arg in iter_xcom_args(value):
            arg.operator._add_downstream_edge(self)

    def __setattr__(self, key: str, value: Any) -> None:
        super().__setattr__(key, value)
        # Airflow wires XComArgs assigned to template fields after construction, too.
        if self.__dict__.get("_init_done") and key in self.template_fields:
            self._wire_xcom_args(value)

    def __repr__(self) -> str:
        return f"<Task({self.task_type}): {self.task_id}>"

    # -- setup / teardown (see definition/setup_teardown.py) ---------------------------------
    def as_setup(self) -> "BaseOperator":
        """Mark this task as a setup task (it creates what its work tasks need); returns it."""
        from tradewind.definition.setup_teardown import mark_setup

        return mark_setup(self)

    def as_teardown(self, *, setups: Any = None, on_failure_fail_dagrun: bool | None = None) -> "BaseOperator":
        """Mark this task as a teardown of ``setups`` (wired upstream of it); returns it.

        It runs when its upstream is done, even after a failure, if one of its setups succeeded;
        its own failure fails the run only with ``on_failure_fail_dagrun=True``.
        """
        from tradewind.definition.setup_teardown import mark_teardown

        return mark_teardown(self, setups=setups, on_failure_fail_dagrun=on_failure_fail_dagrun)

    def __enter__(self) -> "BaseOperator":
        """``with teardown_task:``: tasks made in the block run between its setups and it."""
        from tradewind.definition.setup_teardown import enter_scope

        enter_scope(self)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        from tradewind.definition.setup_teardown import exit_scope

        exit_scope(self)

    # -- dynamic task mapping -----------------------------------------------------------------
    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """The fixed arguments of a mapped task: ``Op.partial(task_id=..., ...).expand(arg=[...])``
        (see :mod:`tradewind.definition.mapped`)."""
        from tradewind.definition.mapped import OperatorPartial

        return OperatorPartial(cls, kwargs)

    # -- DAG membership ---------------------------------------------------------------------
    @property
    def dag(self) -> Any:
        return self._dag

    @dag.setter
    def dag(self, dag: Any) -> None:
        if dag is self._dag:
            return
        if self._dag is not None:
            raise DagDefinitionError(
                f"Task {self.task_id!r} already belongs to DAG {self._dag.dag_id!r}; cannot move it to {dag.dag_id!r}"
            )
        dag.add_task(self)

    def has_dag(self) -> bool:
        return self._dag is not None

    def get_dag(self) -> Any:
        return self._dag

    @property
    def dag_id(self) -> str:
        return self._dag.dag_id if self._dag is not None else f"adhoc_{self.owner}"

    @property
    def task_type(self) -> str:
        return type(self).__name__

    @property
    def operator_name(self) -> str:
        return self.custom_operator_name or type(self).__name__

    @property
    def label(self) -> str:
        """The task id without task-group prefixes."""
        return self._label

    @property
    def node_id(self) -> str:
        return self.task_id

    @property
    def output(self) -> XComArg:
        """The task's return value as an ``XComArg``."""
        return XComArg(self)

    # -- graph -------------------------------------------------------------------------------
    @property
    def roots(self) -> list["BaseOperator"]:
        return [self]

    @property
    def leaves(self) -> list["BaseOperator"]:
        return [self]

    def _add_downstream_edge(self, other: "BaseOperator") -> None:
        if getattr(other, "is_edge_modifier", False):
            # `task >> Label(...)`: the label links this task once it knows its downstream side.
            other.add_upstream_task(self)
            return
        if other is self:
            raise DagCycleError(f"Cycle detected in DAG {self.dag_id!r}: {self.task_id} -> {self.task_id}")
        if self._dag is not None and other._dag is not None and self._dag is not other._dag:
            raise DagDefinitionError(
                f"Tried to set relationships between tasks in more than one DAG: "
                f"{self.task_id!r} in {self._dag.dag_id!r} and {other.task_id!r} in {other._dag.dag_id!r}"
            )
        # A task without a DAG joins the DAG of the task it is wired to.
        if self._dag is None and other._dag is not None:
            other._dag.add_task(self)
        elif other._dag is None and self._dag is not None:
            self._dag.add_task(other)
        self.downstream_task_ids.add(other.task_id)
        other.upstream_task_ids.add(self.task_id)

    def _relatives(self, ids: set[str]) -> list["BaseOperator"]:
        if self._dag is None:
            return []
        return [self._dag.task_dict[i] for i in sorted(ids) if i in self._dag.task_dict]

    @property
    def upstream_list(self) -> list["BaseOperator"]:
        return self._relatives(self.upstream_task_ids)

    @property
    def downstream_list(self) -> list["BaseOperator"]:
        return self._relatives(self.downstream_task_ids)

    def get_direct_relative_ids(self, upstream: bool = False) -> set[str]:
        return set(self.upstream_task_ids if upstream else self.downstream_task_ids)

    def get_direct_relatives(self, upstream: bool = False) -> list["BaseOperator"]:
        return self.upstream_list if upstream else self.downstream_list

    def get_flat_relative_ids(self, *, upstream: bool = False) -> set[str]:
        """Ids of every task reachable downstream (or upstream), recursively."""
        if self._dag is None:
            return self.get_direct_relative_ids(upstream)
        return self._dag.get_flat_relative_ids(self.task_id, upstream=upstream)

    def get_flat_relatives(self, upstream: bool = False) -> list["BaseOperator"]:
        return self._relatives(self.get_flat_relative_ids(upstream=upstream))

    @property
    def priority_weight_total(self) -> int:
        """Effective priority: own weight plus all downstream (or upstream) weights per ``weight_rule``."""
        if self.weight_rule == WeightRule.ABSOLUTE or self._dag is None:
            return self.priority_weight
        ids = self.get_flat_relative_ids(upstream=self.weight_rule == WeightRule.UPSTREAM)
        return self.priority_weight + sum(self._dag.task_dict[i].priority_weight for i in ids)

    # -- running -------------------------------------------------------------------------------
    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"tradewind.task.operators.{type(self).__module__}.{type(self).__name__}")

    def task_logger(self, context: dict[str, Any] | None) -> logging.Logger:
        """The try's logger (``context["ti"].log``) when running under the runner, else ``self.log``."""
        ti = (context or {}).get("ti")
        logger = getattr(ti, "log", None)
        return logger if isinstance(logger, logging.Logger) else self.log

    def execute(self, context: dict[str, Any]) -> Any:
        """Do the task's work; the return value is pushed as XCom when ``do_xcom_push``."""
        raise NotImplementedError(f"{type(self).__name__} must implement execute(context)")

    def pre_execute(self, context: dict[str, Any]) -> None:
        """Called by the runner right before ``execute``; runs the ``pre_execute=`` hook if given."""
        hook = self.__dict__.get("_pre_execute_hook")
        if hook is not None:
            hook(context)

    def post_execute(self, context: dict[str, Any], result: Any = None) -> None:
        """Called by the runner right after a successful ``execute``; runs the ``post_execute=`` hook."""
        hook = self.__dict__.get("_post_execute_hook")
        if hook is not None:
            hook(context, result)

    def on_kill(self) -> None:
        """Called when the task is killed (timeout, external stop): release external resources."""

    def defer(self, *, trigger: Any, method_name: str, kwargs: dict[str, Any] | None = None,
              timeout: timedelta | float | None = None) -> None:
        """Give the worker slot back until ``trigger`` fires, then resume in ``method_name``.

        Raises :class:`~tradewind.definition.exceptions.TaskDeferred` (never returns): the
        runner stores the trigger, the triggerer runs it, and a new process calls
        ``self.<method_name>(context, event=<payload>, **kwargs)``. ``timeout`` (timedelta or
        seconds) fails the task with ``TaskDeferralTimeout`` if the trigger has not fired by then.
        """
        from tradewind.definition.exceptions import TaskDeferred

        if not isinstance(method_name, str) or not callable(getattr(self, method_name, None)):
            raise InvalidTaskArgumentError(
                f"task {self.task_id!r}: defer(method_name={method_name!r}) does not name a method of "
                f"{type(self).__name__}")
        if timeout is not None and not isinstance(timeout, timedelta):
            timeout = timedelta(seconds=float(timeout))
        raise TaskDeferred(trigger=trigger, method_name=method_name, kwargs=kwargs, timeout=timeout)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None,
                         context: dict[str, Any]) -> Any:
        """Continue after a deferral: call ``next_method`` with the trigger's event (Airflow).

        ``__fail__`` is the scheduler's or triggerer's verdict that the wait failed: the trigger
        timed out (:class:`TaskDeferralTimeout`) or raised (:class:`TaskDeferralError`), so the
        try fails here and the usual retry policy applies.
        """
        from tradewind.definition.exceptions import TaskDeferralError, TaskDeferralTimeout
        from tradewind.definition.triggers.base import FAIL_METHOD, TRIGGER_TIMEOUT

        kwargs = dict(next_kwargs or {})
        if next_method == FAIL_METHOD:
            lines = kwargs.get("traceback")
            if lines:
                self.task_logger(context).error("Trigger failed:\n%s", "".join(lines))
            error = kwargs.get("error") or "the trigger failed"
            raise (TaskDeferralTimeout if error == TRIGGER_TIMEOUT else TaskDeferralError)(error)
        method = getattr(self, next_method, None)
        if not callable(method):
            raise TaskDeferralError(f"task {self.task_id!r} cannot resume: {type(self).__name__} has no "
                                    f"method {next_method!r}")
        return method(context, **kwargs)

    def render_template_fields(self, context: dict[str, Any], jinja_env: Any = None) -> dict[str, Any]:
        """Render ``template_fields`` in place (Jinja), then resolve XComArgs/DagParams in them.

        Returns the rendered values, JSON-safe, for storage. Values pulled from XCom
        are never rendered as templates themselves.
        """
        from tradewind.definition import templating

        if jinja_env is None:
            jinja_env = templating.make_jinja_env(self._dag)
        rendered = dict(templating.render_task_fields(self, context, jinja_env) or {})
        for name in self.template_fields:
            value = getattr(self, name, None)
            if contains_resolvable(value):
                resolved = resolve_xcom_args(value, context)
                object.__setattr__(self, name, resolved)
                rendered[name] = templating.json_safe(resolved)
        self.__dict__["times_rendered"] = self.times_rendered + 1
        return rendered

    #: How many times render_template_fields ran on this object (Airflow's counter; provider
    #: operators such as SqlToSlackWebhookOperator render some fields only on a second pass).
    times_rendered: int = 0

    def get_template_env(self, dag: Any = None) -> Any:
        """The Jinja environment of ``dag`` (default: this task's DAG), as the runner builds it."""
        from tradewind.definition import templating

        return templating.make_jinja_env(dag if dag is not None else self._dag)

    def _do_render_template_fields(self, parent: Any, template_fields: Any, context: dict[str, Any],
                                   jinja_env: Any, seen_oids: Any) -> None:
        """Render ``template_fields`` of ``parent`` in place, then resolve XComArgs in them (Airflow's
        Templater method, which provider operators overriding render_template_fields call)."""
        from tradewind.definition import templating

        exts = tuple(getattr(parent, "template_ext", ()) or ())
        for name in template_fields:
            if not hasattr(parent, name):
                raise templating.TemplateRenderError(
                    f"template field {name!r} is listed but {type(parent).__name__} has no attribute {name!r}")
            value = templating.render_value(getattr(parent, name), context, jinja_env, template_ext=exts)
            if contains_resolvable(value):
                value = resolve_xcom_args(value, context)
            object.__setattr__(parent, name, value)

    def render_template(self, content: Any, context: dict[str, Any], jinja_env: Any = None) -> Any:
        """Render one value (string, list, dict...) with this task's DAG's Jinja environment."""
        from tradewind.definition import templating

        if jinja_env is None:
            jinja_env = templating.make_jinja_env(self._dag)
        return templating.render_value(content, context, jinja_env, template_ext=self.template_ext)

    def xcom_push(self, context: dict[str, Any], key: str, value: Any) -> None:
        context["ti"].xcom_push(key=key, value=value)

    def xcom_pull(self, context: dict[str, Any], task_ids: Any = None, key: str = "return_value",
                  **kwargs: Any) -> Any:
        return context["ti"].xcom_pull(task_ids=task_ids, key=key, **kwargs)
