"""``BashOperator``: run a command with ``bash -c`` in its own process group.

Output lines (stdout and stderr merged) stream to the task log as they come; the
last line is the return value (pushed as XCom by the runner when
``do_xcom_push``). Exit code ``skip_on_exit_code`` (99 by default) marks the task
skipped, any other non-zero code fails it.

The command never outlives the task. bash runs in its own session and process group
(``start_new_session``), so that a timeout or kill can signal the whole command without
signalling the try process itself:

* interrupted (``execution_timeout``, the executor's kill, ``on_kill``): SIGTERM to the
  group and to every descendant that left it (``setsid``), then SIGKILL after a grace period;
* finished (any exit code): background jobs still in its group (``sleep 60 &``,
  ``nohup ... &``) are SIGKILLed — one ``killpg`` call, nothing to do when the group is empty.

Jobs that left the group and lost their parent are caught one level up: in a try process
forked by the local executor they are re-parented to the try (a child subreaper) and killed
when it ends, even if it dies abruptly (see :mod:`tradewind.execute.executors.forkserver`).
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
from collections.abc import Callable, Container
from typing import Any

from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.exceptions import TaskSkipped, TradewindException

#: Seconds between SIGTERM and SIGKILL when stopping the command's process group.
_TERM_GRACE = 5.0


def context_env_vars(context: dict[str, Any]) -> dict[str, str]:
    """``AIRFLOW_CTX_*`` (and ``TRADEWIND_CTX_*``) variables describing the running task."""
    ti = context.get("ti")
    dag_run = context.get("dag_run")
    dag = context.get("dag")
    task = context.get("task")
    logical_date = context.get("logical_date")
    values = {
        "DAG_ID": getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None),
        "TASK_ID": getattr(ti, "task_id", None) or getattr(task, "task_id", None),
        "DAG_RUN_ID": getattr(ti, "run_id", None) or context.get("run_id") or getattr(dag_run, "run_id", None),
        "TRY_NUMBER": getattr(ti, "try_number", None),
        "LOGICAL_DATE": logical_date.isoformat() if hasattr(logical_date, "isoformat") else None,
        "DAG_OWNER": getattr(task, "owner", None),
    }
    if values["LOGICAL_DATE"]:
        values["EXECUTION_DATE"] = values["LOGICAL_DATE"]
    env: dict[str, str] = {}
    for name, value in values.items():
        if value is not None:
            env[f"AIRFLOW_CTX_{name}"] = str(value)
            env[f"TRADEWIND_CTX_{name}"] = str(value)
    return env


class BashOperator(BaseOperator):
    """Runs ``bash_command`` (a command string, or a ``.sh``/``.bash`` template file)."""

    template_fields = ("bash_command", "env", "cwd")
    template_fields_renderers = {"bash_command": "bash", "env": "json"}
    template_ext = (".sh", ".bash")
    ui_color = "#f0ede4"

    def __init__(
        self,
        *,
        bash_command: Any,
        env: dict[str, str] | None = None,
        append_env: bool = False,
        output_encoding: str = "utf-8",
        skip_on_exit_code: int | Container[int] | None = 99,
        cwd: str | None = None,
        output_processor: Callable[[str], Any] | None = None,
        skip_exit_code: int | Container[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if skip_exit_code is not None:  # Airflow 2's name, deprecated there
            self.deprecation_notes.append("skip_exit_code is deprecated (Airflow 2); use skip_on_exit_code")
            skip_on_exit_code = skip_exit_code
        if output_processor is not None and not callable(output_processor):
            raise TradewindException(
                f"output_processor of task {self.task_id!r} must be callable, got {output_processor!r}")
        #: Applied to the command's last output line before it is returned (and pushed to XCom).
        self.output_processor = output_processor
        self.bash_command = bash_command
        self.env = env
        self.append_env = append_env
        self.output_encoding = output_encoding
        if skip_on_exit_code is None:
            self.skip_on_exit_code: Container[int] = ()
        elif isinstance(skip_on_exit_code, int):
            self.skip_on_exit_code = (skip_on_exit_code,)
        else:
            self.skip_on_exit_code = tuple(skip_on_exit_code)  # type: ignore[arg-type]
        self.cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None

    def get_env(self, context: dict[str, Any]) -> dict[str, str]:
        """The command's environment: ``env`` (or the worker's), plus the task's context vars."""
        if self.env is None:
            env = dict(os.environ)
        elif self.append_env:
            env = {**os.environ, **self.env}
        else:
            env = dict(self.env)
        env.update(context_env_vars(context))
        return {str(k): str(v) for k, v in env.items()}

    def _check(self) -> None:
        if not isinstance(self.bash_command, str) or not self.bash_command.strip():
            raise TradewindException(
                f"bash_command of task {self.task_id!r} must be a non-empty string, got {self.bash_command!r}"
            )
        if self.cwd is not None:
            if not os.path.exists(self.cwd):
                raise TradewindException(f"Can not find the cwd: {self.cwd} (task {self.task_id!r})")
            if not os.path.isdir(self.cwd):
                raise TradewindException(f"The cwd {self.cwd} must be a directory (task {self.task_id!r})")

    def execute(self, context: dict[str, Any]) -> str | None:
        self._check()
        log = self.task_logger(context)
        bash = shutil.which("bash") or "bash"
        log.info("Running command: %s", [bash, "-c", self.bash_command])
        process = subprocess.Popen(
            [bash, "-c", self.bash_command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.cwd,
            env=self.get_env(context),
            start_new_session=True,  # own process group, so a kill reaches every child
            restore_signals=True,  # SIGPIPE back to default, as shell pipelines expect
        )
        self._process = process
        try:
            assert process.stdout is not None
            log.info("Output:")
            last_line = self._stream_output(process, log)
            exit_code = process.wait()
        except BaseException:
            # TaskTimeout from the runner's timer, KeyboardInterrupt, SystemExit...
            self._terminate(process)
            raise
        finally:
            if process.stdout is not None:
                process.stdout.close()
            self._process = None
        _kill_group(process.pid, signal.SIGKILL)  # background jobs the command left running
        log.info("Command exited with return code %s", exit_code)
        if exit_code in self.skip_on_exit_code:
            raise TaskSkipped(f"Bash command returned exit code {exit_code}. Skipping.")
        if exit_code != 0:
            raise TradewindException(
                f"Bash command failed. The command returned a non-zero exit code {exit_code}."
            )
        if self.output_processor is not None:
            return self.output_processor(last_line if last_line is not None else "")
        return last_line

    def _stream_output(self, process: subprocess.Popen[bytes], log: Any) -> str | None:
        """Log the output line by line until bash exits; return the last line.

        Ends when bash exits even if a background job it left still holds the output pipe
        (``sleep 60 &``): what bash wrote before exiting is drained, the rest is not waited
        for — the job is killed right after. bash's exit is watched with a pidfd (no polling;
        a 0.2 s poll where pidfds are unavailable).
        """
        assert process.stdout is not None
        fd = process.stdout.fileno()
        lines = _LineSplitter(self.output_encoding, log)
        selector = selectors.DefaultSelector()
        selector.register(fd, selectors.EVENT_READ, "out")
        pidfd = _pidfd_open(process.pid)
        if pidfd is not None:
            selector.register(pidfd, selectors.EVENT_READ, "exit")
        try:
            while True:
                ready = {key.data for key, _ in selector.select(None if pidfd is not None else 0.2)}
                if "out" in ready:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break  # every writer closed the pipe: the usual end
                    lines.feed(chunk)
                elif "exit" in ready or (pidfd is None and process.poll() is not None):
                    _drain(fd, lines)  # bash exited, but a leftover job holds the pipe open
                    break
        finally:
            selector.close()
            if pidfd is not None:
                os.close(pidfd)
        return lines.finish()

    def on_kill(self) -> None:
        if self._process is not None:
            self._terminate(self._process)

    def _terminate(self, process: subprocess.Popen[bytes]) -> None:
        """SIGTERM the command's process group and its descendants that left the group, then
        SIGKILL whatever lingers after the grace period."""
        if process.poll() is not None:
            _kill_group(process.pid, signal.SIGKILL)
            return
        # Descendants that started their own session are not in the group: name them now,
        # while they are still bash's descendants (psutil checks identity before signalling).
        escaped = _descendants_outside_group(process.pid)
        self.log.info("Sending SIGTERM to process group %s", process.pid)
        _kill_group(process.pid, signal.SIGTERM)
        _signal_all(escaped, signal.SIGTERM)
        try:
            process.wait(timeout=_TERM_GRACE)
        except subprocess.TimeoutExpired:
            self.log.warning("Process group %s did not stop; sending SIGKILL", process.pid)
        # Children that ignored SIGTERM may outlive the shell; the group id is still theirs
        # (Linux does not reuse a pid while it names a live process group).
        _kill_group(process.pid, signal.SIGKILL)
        _signal_all(escaped, signal.SIGKILL)
        process.wait()


class _LineSplitter:
    """Turns output chunks into logged lines; remembers the last one (the XCom value)."""

    def __init__(self, encoding: str, log: Any) -> None:
        self.encoding = encoding
        self.log = log
        self.pending = b""
        self.last: str | None = None

    def feed(self, chunk: bytes) -> None:
        *complete, self.pending = (self.pending + chunk).split(b"\n")
        for raw in complete:
            self._line(raw)

    def finish(self) -> str | None:
        if self.pending:
            self._line(self.pending)
            self.pending = b""
        return self.last

    def _line(self, raw: bytes) -> None:
        self.last = raw.decode(self.encoding, errors="backslashreplace").rstrip()
        self.log.info("%s", self.last)


def _pidfd_open(pid: int) -> int | None:
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return opener(pid)
    except OSError:  # kernel older than 5.3, or seccomp forbids it
        return None


def _drain(fd: int, lines: _LineSplitter) -> None:
    """Read what is already in the pipe without waiting for the writers still holding it."""
    os.set_blocking(fd, False)
    try:
        while chunk := os.read(fd, 65536):
            lines.feed(chunk)
    except BlockingIOError:
        pass


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is empty (or only zombies of another owner remain)


def _descendants_outside_group(pid: int) -> list[Any]:
    import psutil  # only on this rare path: a scan of every process (~ms)

    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    outside = []
    for proc in descendants:
        try:
            if os.getpgid(proc.pid) != pid:
                outside.append(proc)
        except OSError:
            continue
    return outside


def _signal_all(processes: list[Any], sig: int) -> None:
    for proc in processes:
        try:
            proc.send_signal(sig)
        except Exception:  # psutil.NoSuchProcess/AccessDenied: gone or not ours
            pass
