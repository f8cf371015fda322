"""Python callables run in another interpreter: ``PythonVirtualenvOperator`` and ``ExternalPythonOperator``.

The callable's *source* (``inspect.getsource``, dedented, decorators removed) is run by the other
interpreter in a child process, so the function must be self-contained: its imports inside its
body, no closures over DAG-file globals. Arguments and the return value cross the process
boundary as **JSON** — Tradewind's contract, where Airflow pickles them (``pickle``/``dill``):
``op_args``, ``op_kwargs`` and the context entries the function names (``ds``, ``params``,
``run_id``, ...) must be JSON values, and so must the result (it is the task's XCom anyway).
A context entry that is not JSON (``ti``, ``dag``, datetimes) is refused with its name; pass
a template such as ``"{{ ts }}"`` through ``op_kwargs`` instead.

``serializer="pickle"`` / ``"dill"`` / ``"cloudpickle"`` (Airflow's; ``use_dill=True`` is
``"dill"``) pickle them instead: arguments with the standard library (the other two load plain
pickles), the result with the chosen library in the child. That library must be importable where
the function runs — a venv with ``system_site_packages=False`` gets it added to its requirements,
as in Airflow — and a missing one fails the try naming it.

The child's stdout and stderr go line by line into the task log. A non-zero exit fails the try
with the child's last output lines (the traceback); ``skip_on_exit_code`` turns chosen exit
codes into a skip (a function can ``sys.exit(code)``).

``PythonVirtualenvOperator`` makes a virtual environment (``python -m venv``, then
``pip install`` of ``requirements``) in a temporary directory removed after the try, or — with
``venv_cache_path`` — once per distinct set of options under that folder, reused by later tries.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tradewind.definition.exceptions import TaskSkipped, TradewindException
from tradewind.definition.operators.python import BranchPythonOperator, PythonOperator, determine_kwargs

# subprocess, tempfile, shutil, hashlib and ast are imported where used: this module is imported
# with the TaskFlow decorators by every task try, most of which never start another interpreter.

__all__ = [
    "RUNNER_SCRIPT", "BranchExternalPythonOperator", "BranchPythonVirtualenvOperator", "ExternalPythonOperator",
    "PythonVirtualenvOperator", "callable_source", "runner_input",
]

#: What the child runs: read the input, define the function from its source, call it, write the result.
#: Usage: ``python runner.py input.json result.json`` (also used by ``@task.docker``).
RUNNER_SCRIPT = '''\
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    _tw_input = json.load(f)
_tw_serializer = _tw_input.get("serializer", "json")
if _tw_serializer != "json":
    try:
        _tw_lib = __import__(_tw_serializer)
    except ImportError:
        sys.stderr.write("serializer=%r needs the %s package in the environment that runs %s() (%s): add %r "
                         "to requirements, or install it there\\n"
                         % (_tw_serializer, _tw_serializer, _tw_input["name"], sys.executable, _tw_serializer))
        sys.exit(4)
    with open(_tw_input["args_file"], "rb") as f:
        _tw_input["args"], _tw_input["kwargs"] = _tw_lib.load(f)
virtualenv_string_args = _tw_input["string_args"]
_tw_namespace = {"__name__": "__tradewind_task__", "virtualenv_string_args": virtualenv_string_args}
exec(compile(_tw_input["source"], _tw_input["filename"], "exec"), _tw_namespace)
_tw_result = _tw_namespace[_tw_input["name"]](*_tw_input["args"], **_tw_input["kwargs"])
if _tw_serializer != "json":
    with open(sys.argv[2], "wb") as f:
        _tw_lib.dump(_tw_result, f)
    sys.exit(0)
try:
    _tw_text = json.dumps(_tw_result)
except (TypeError, ValueError) as exc:
    sys.stderr.write("The return value of %s() is not JSON-serializable (%s); return JSON values only\\n"
                     % (_tw_input["name"], exc))
    sys.exit(3)
with open(sys.argv[2], "w", encoding="utf-8") as f:
    f.write(_tw_text)
'''
#: Airflow's ``serializer`` choices (``use_dill=True`` is ``"dill"``) and our own default, JSON.
SERIALIZERS = ("json", "pickle", "dill", "cloudpickle")
_TAIL_LINES = 20


def callable_source(python_callable: Callable[..., Any], task_id: str) -> tuple[str, str]:
    """``(source, function name)``: the function's own source, dedented, without its decorators."""
    import ast

    name = getattr(python_callable, "__name__", "")
    if name == "<lambda>" or not inspect.isfunction(python_callable):
        raise TradewindException(f"task {task_id!r}: the python_callable of a virtualenv/external-python task must "
                                 f"be a function defined with def (its source is run elsewhere), got {python_callable!r}")
    try:
        source = textwrap.dedent(inspect.getsource(python_callable))
    except (OSError, TypeError) as exc:
        raise TradewindException(f"task {task_id!r}: cannot read the source of {name}(): {exc}") from None
    tree = ast.parse(source)
    func = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if func is None or isinstance(func, ast.AsyncFunctionDef):
        raise TradewindException(f"task {task_id!r}: {name}() must be a plain (not async) function")
    lines = source.splitlines(keepends=True)
    return "".join(lines[func.lineno - 1:]), func.name


def runner_input(operator: Any, kwargs: Mapping[str, Any], string_args: Sequence[str] = (),
                 serializer: str = "json") -> dict[str, Any]:
    """The JSON input of :data:`RUNNER_SCRIPT` for ``operator.python_callable`` with ``op_args`` and the
    entries of ``kwargs`` (context + op_kwargs) the function accepts; a value that cannot cross (not
    JSON, or not picklable with a pickle ``serializer``) is named. With a pickle serializer the caller
    writes ``args``/``kwargs`` to the pickle file ``args_file`` instead of the JSON."""
    import pickle

    source, name = callable_source(operator.python_callable, operator.task_id)
    accepted = determine_kwargs(operator.python_callable, operator.op_args, kwargs)

    def checked(what: str, value: Any) -> Any:
        try:
            # Arguments are pickled with the standard library: dill and cloudpickle load plain pickles,
            # so Tradewind's own environment does not need them (only the function's does).
            json.dumps(value) if serializer == "json" else pickle.dumps(value)
        except Exception as exc:  # noqa: BLE001 - any failure to serialise is named below
            hint = " (a context entry; pass a template like '{{ ts }}' through op_kwargs instead)" \
                if what not in ("op_args", *operator.op_kwargs) else ""
            how = "as JSON" if serializer == "json" else f"with pickle (serializer={serializer!r})"
            raise TradewindException(f"task {operator.task_id!r}: {what} cannot be passed to the other interpreter "
                                     f"{how}: {exc}{hint}") from None
        return value

    return {"source": source, "name": name, "string_args": list(string_args), "serializer": serializer,
            "filename": f"<task {operator.task_id}: {name}()>", "args": checked("op_args", operator.op_args),
            "kwargs": {key: checked(key, value) for key, value in accepted.items()}}


class _ExternalInterpreterOperator(PythonOperator):
    """Shared part: build the JSON input, run the child, stream its output, read its JSON result."""

    template_fields = ("op_args", "op_kwargs", "templates_dict")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        string_args: Iterable[str] | None = None,
        skip_on_exit_code: int | Iterable[int] | None = None,
        env_vars: Mapping[str, str] | None = None,
        inherit_env: bool = True,
        expect_airflow: bool = True,
        use_dill: bool = False,
        serializer: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(python_callable=python_callable, **kwargs)
        chosen = "dill" if use_dill and serializer is None else (serializer or "json")
        if chosen not in SERIALIZERS:
            raise TradewindException(f"task {self.task_id!r}: serializer {chosen!r} is not one of {list(SERIALIZERS)} "
                                     "(json is Tradewind's default; pickle, dill and cloudpickle are Airflow's)")
        if use_dill:
            self.deprecation_notes.append("use_dill=True is deprecated (Airflow 2.9): use serializer='dill'")
        self.serializer = chosen
        callable_source(python_callable, self.task_id)  # a lambda or unreadable source fails at parse time
        self.string_args = [str(s) for s in (string_args or [])]
        if skip_on_exit_code is None:
            self.skip_on_exit_code: tuple[int, ...] = ()
        elif isinstance(skip_on_exit_code, int):
            self.skip_on_exit_code = (skip_on_exit_code,)
        else:
            self.skip_on_exit_code = tuple(int(c) for c in skip_on_exit_code)
        self.env_vars = dict(env_vars or {})
        self.inherit_env = inherit_env
        self.expect_airflow = expect_airflow

    def interpreter(self, workdir: Path, log: Any) -> str:
        """The python executable to run the callable with (may prepare it in ``workdir``)."""
        raise NotImplementedError

    def execute_callable(self, kwargs: Mapping[str, Any]) -> Any:
        context = kwargs
        log = self.task_logger(dict(context))
        import tempfile

        payload = runner_input(self, kwargs, self.string_args, self.serializer)
        name = payload["name"]
        with tempfile.TemporaryDirectory(prefix="tradewind-pyenv-") as tmp:
            workdir = Path(tmp)
            python = self.interpreter(workdir, log)
            if self.serializer != "json":
                import pickle

                payload["args_file"] = str(workdir / "args.pickle")
                Path(payload["args_file"]).write_bytes(pickle.dumps((payload.pop("args"), payload.pop("kwargs"))))
            (workdir / "input.json").write_text(json.dumps(payload), encoding="utf-8")
            (workdir / "runner.py").write_text(RUNNER_SCRIPT, encoding="utf-8")
            result_path = workdir / "result.json"
            log.info("Running %s() with %s (arguments and result through %s)", name, python, self.serializer)
            code, tail = self._run_child([python, str(workdir / "runner.py"), str(workdir / "input.json"),
                                          str(result_path)], log)
            if code in self.skip_on_exit_code:
                raise TaskSkipped(f"Process exited with code {code}; skipping (skip_on_exit_code)")
            if code != 0:
                shown = "".join(tail).rstrip()
                raise TradewindException(f"{name}() failed in {python} (exit code {code}):\n{shown}")
            if self.serializer != "json":
                return self._load_pickled(result_path.read_bytes(), name)
            return json.loads(result_path.read_text(encoding="utf-8"))

    def _load_pickled(self, data: bytes, name: str) -> Any:
        """The child's result: loaded with the serializer's library when Tradewind's environment has
        it, else with plain pickle (enough for plain values, which is what an XCom holds)."""
        import importlib
        import pickle

        try:
            loads = importlib.import_module(self.serializer).loads
        except ImportError:
            loads = pickle.loads
        try:
            return loads(data)
        except ModuleNotFoundError as exc:
            raise TradewindException(f"task {self.task_id!r}: the result of {name}() (serializer="
                                     f"{self.serializer!r}) needs the module {exc.name!r} to load in Tradewind's "
                                     f"environment ({sys.executable}): install it there, or return plain values"
                                     ) from None

    def _run_child(self, command: Sequence[str], log: Any) -> tuple[int, list[str]]:
        import subprocess

        env = {**(os.environ if self.inherit_env else {}), **self.env_vars, "PYTHONUNBUFFERED": "1"}
        tail: list[str] = []
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                   text=True, errors="replace", start_new_session=True)
        try:
            assert process.stdout is not None
            for line in process.stdout:
                log.info("%s", line.rstrip("\n"))
                tail.append(line)
                del tail[:-_TAIL_LINES]
            return process.wait(), tail
        finally:
            if process.poll() is None:  # interrupted (timeout, kill): do not leave the child behind
                process.kill()
                process.wait()


class ExternalPythonOperator(_ExternalInterpreterOperator):
    """Runs the callable with an existing interpreter ``python`` (e.g. a prepared venv's ``bin/python``)."""

    template_fields = ("python", "op_args", "op_kwargs", "templates_dict")

    def __init__(self, *, python: str, python_callable: Callable[..., Any], **kwargs: Any) -> None:
        if not python:
            raise TradewindException(f"task {kwargs.get('task_id')!r}: ExternalPythonOperator needs python= "
                                     "(the path of an interpreter)")
        super().__init__(python_callable=python_callable, **kwargs)
        self.python = python

    def interpreter(self, workdir: Path, log: Any) -> str:
        path = Path(os.path.expanduser(self.python))
        if not path.is_file() or not os.access(path, os.X_OK):
            raise TradewindException(f"task {self.task_id!r}: python {self.python!r} is not an executable file")
        return str(path)


class PythonVirtualenvOperator(_ExternalInterpreterOperator):
    """Runs the callable in a new virtual environment with ``requirements`` installed by pip."""

    template_fields = ("requirements", "op_args", "op_kwargs", "templates_dict")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        requirements: str | Iterable[str] | None = None,
        python_version: str | None = None,
        system_site_packages: bool = True,
        pip_install_options: Iterable[str] | None = None,
        index_urls: Iterable[str] | None = None,
        venv_cache_path: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(python_callable=python_callable, **kwargs)
        if isinstance(requirements, str):
            requirements = requirements.splitlines()
        self.requirements = sorted({r.strip() for r in requirements or () if r.strip() and not r.startswith("#")})
        self.python_version = str(python_version) if python_version else None
        self.system_site_packages = system_site_packages
        self.pip_install_options = list(pip_install_options or [])
        self.index_urls = list(index_urls or [])
        self.venv_cache_path = Path(venv_cache_path) if venv_cache_path else None

    def base_python(self) -> str:
        """The interpreter the venv is made from: ``python<python_version>`` on PATH, else this one."""
        import shutil

        if not self.python_version:
            return sys.executable
        found = shutil.which(f"python{self.python_version}")
        if found is None:
            raise TradewindException(f"task {self.task_id!r}: python_version={self.python_version!r} asked for, but "
                                     f"python{self.python_version} is not on PATH")
        return found

    def interpreter(self, workdir: Path, log: Any) -> str:
        if self.venv_cache_path is None:
            return str(self._create_venv(workdir / "venv", log) / "bin" / "python")
        return str(self._cached_venv(log) / "bin" / "python")

    def venv_key(self) -> str:
        """A hash of everything that shapes the environment (the cache folder's name)."""
        import hashlib

        spec = json.dumps([self.base_python(), self.system_site_packages, self.requirements_list(),
                           self.pip_install_options, self.index_urls])
        return hashlib.sha256(spec.encode()).hexdigest()[:16]

    def _cached_venv(self, log: Any) -> Path:
        import fcntl
        import shutil

        assert self.venv_cache_path is not None
        self.venv_cache_path.mkdir(parents=True, exist_ok=True)
        target = self.venv_cache_path / f"venv-{self.venv_key()}"
        with open(self.venv_cache_path / f"venv-{self.venv_key()}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one try builds it, the others wait and reuse it
            if (target / ".tradewind-complete").exists():
                log.info("Reusing the cached virtualenv %s", target)
                return target
            shutil.rmtree(target, ignore_errors=True)
            self._create_venv(target, log)
            (target / ".tradewind-complete").write_text(json.dumps(self.requirements_list()))
        return target

    def requirements_list(self) -> list[str]:
        """``requirements`` plus the serializer's library in an isolated venv (Airflow adds ``dill`` /
        ``cloudpickle`` when ``system_site_packages=False``; otherwise the host's copy is used)."""
        requirements = list(self.requirements)
        names = {r.split("=")[0].split("<")[0].split(">")[0].split("[")[0].strip().lower() for r in requirements}
        if not self.system_site_packages and self.serializer in ("dill", "cloudpickle") \
                and self.serializer not in names:
            requirements.append(self.serializer)
        return requirements

    def _create_venv(self, target: Path, log: Any) -> Path:
        command = [self.base_python(), "-m", "venv", str(target)]
        if self.system_site_packages:
            command.append("--system-site-packages")
        requirements = self.requirements_list()
        if not requirements:
            command.append("--without-pip")  # nothing to install: skip ensurepip (seconds)
        log.info("Creating a virtualenv: %s", " ".join(command))
        self._checked(command, log, "creating the virtualenv")
        if requirements:
            pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                   *self.pip_install_options]
            if self.index_urls:
                pip += ["--index-url", self.index_urls[0]]
                for extra in self.index_urls[1:]:
                    pip += ["--extra-index-url", extra]
            self._checked([*pip, *requirements], log, "installing the requirements")
        return target

    def _checked(self, command: list[str], log: Any, doing: str) -> None:
        code, tail = self._run_child(command, log)
        if code != 0:
            raise TradewindException(f"task {self.task_id!r}: {doing} failed (exit code {code}):\n"
                                     + "".join(tail).rstrip())


class _BranchExternalMixin:
    """The callable, run in the other interpreter, returns the task id(s) to follow (Airflow's
    ``BranchPythonVirtualenvOperator`` / ``BranchExternalPythonOperator``); the other direct
    downstream tasks are skipped, as for :class:`BranchPythonOperator`."""

    inherits_from_skipmixin = True

    def execute(self, context: dict[str, Any]) -> Any:
        branches = super().execute(context)  # type: ignore[misc]
        BranchPythonOperator.skip_all_except(self, context["ti"], branches)  # type: ignore[arg-type]
        return branches


class BranchPythonVirtualenvOperator(_BranchExternalMixin, PythonVirtualenvOperator):
    """:class:`PythonVirtualenvOperator` whose result chooses the branches to follow."""


class BranchExternalPythonOperator(_BranchExternalMixin, ExternalPythonOperator):
    """:class:`ExternalPythonOperator` whose result chooses the branches to follow."""
