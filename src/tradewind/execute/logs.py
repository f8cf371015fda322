"""Per-try log files: where they live and how a try's output gets into them.

Layout (Airflow 3)::

    <base_log_folder>/dag_id=<dag_id>/run_id=<run_id>/task_id=<task_id>/[map_index=<i>/]attempt=<n>.log

Every line is timestamped in UTC with Airflow's shape::

    [2024-01-01T00:00:00.123+0000] {module.py:42} INFO - message

:class:`TryLogCapture` installs, for the duration of one try:

* a file handler on the root logger (so ``tradewind.task``, operator loggers and
  the user's own ``logging`` calls all land in the file);
* ``sys.stdout``/``sys.stderr`` replaced by line-buffered streams that log each
  line (``print()`` in user code), tagged ``{stdout}``/``{stderr}``;
* optionally (in a dedicated try process) file descriptors 1 and 2 redirected
  to pipes read by a thread, so output of subprocesses and C code is captured
  and timestamped too. In-process tries (``dags test``) leave the descriptors
  alone so the caller's terminal keeps working.
"""

from __future__ import annotations

import io
import logging
import os
import selectors
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from tradewind.definition.masking import redact_text
from tradewind.workloads import TaskKey

#: Logger of the task runner and of ``context["ti"].log``.
TASK_LOGGER = "tradewind.task"


def log_path(base_folder: str | os.PathLike[str], key: TaskKey) -> Path:
    """Path of the log file of try ``key`` under ``base_folder`` (Airflow 3 layout)."""
    path = Path(base_folder) / f"dag_id={key.dag_id}" / f"run_id={key.run_id}" / f"task_id={key.task_id}"
    if key.map_index >= 0:
        path = path / f"map_index={key.map_index}"
    return path / f"attempt={key.try_number}.log"


class TryLogFormatter(logging.Formatter):
    """``[2024-01-01T00:00:00.123+0000] {file.py:12} INFO - message`` (UTC, milliseconds).

    Registered secrets (:mod:`tradewind.definition.masking`) are replaced by ``***``.
    """

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        moment = datetime.fromtimestamp(record.created, timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}+0000"

    def format(self, record: logging.LogRecord) -> str:
        origin = getattr(record, "tw_origin", None) or f"{record.filename}:{record.lineno}"
        text = f"[{self.formatTime(record)}] {{{origin}}} {record.levelname} - {record.getMessage()}"
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text = f"{text}\n{record.exc_text}"
        if record.stack_info:
            text = f"{text}\n{self.formatStack(record.stack_info)}"
        return redact_text(text)  # registered secrets (e.g. secret Variables) become ***


_guard = threading.local()


class LoggingStream(io.TextIOBase):
    """A text stream that logs each complete line (``print()`` -> log file).

    Re-entrancy guarded: if a logging handler itself writes to this stream
    (logging's error path prints to ``sys.stderr``), the text goes to ``fallback``.
    """

    def __init__(self, logger: logging.Logger, level: int, origin: str, fallback: IO[str] | None) -> None:
        super().__init__()
        self._logger = logger
        self._level = level
        self._origin = origin
        self._fallback = fallback
        self._buffer = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:  # type: ignore[override]
        if getattr(_guard, "active", False):
            if self._fallback is not None:
                self._fallback.write(text)
            return len(text)
        with self._lock:
            self._buffer += text
            if "\n" not in self._buffer:
                return len(text)
            *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            rest, self._buffer = self._buffer, ""
        if rest:
            self._emit(rest)

    def _emit(self, line: str) -> None:
        _guard.active = True
        try:
            self._logger.log(self._level, "%s", line.rstrip("\r"), extra={"tw_origin": self._origin})
        finally:
            _guard.active = False

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


class _FdPump:
    """Redirects fds 1 and 2 into pipes; a thread turns what arrives into log lines."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._saved: dict[int, int] = {}
        self._readers: dict[int, tuple[str, int]] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        for fd, origin, level in ((1, "stdout", logging.INFO), (2, "stderr", logging.ERROR)):
            read_end, write_end = os.pipe()
            self._saved[fd] = os.dup(fd)
            os.dup2(write_end, fd)
            os.close(write_end)
            self._readers[read_end] = (origin, level)
        self._thread = threading.Thread(target=self._pump, name="tradewind-log-pump", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        selector = selectors.DefaultSelector()
        partial: dict[int, bytes] = {}
        for read_end in self._readers:
            selector.register(read_end, selectors.EVENT_READ)
            partial[read_end] = b""
        open_ends = set(self._readers)
        while open_ends:
            for selkey, _ in selector.select():
                fd = selkey.fd
                chunk = os.read(fd, 65536)
                origin, level = self._readers[fd]
                if not chunk:
                    selector.unregister(fd)
                    open_ends.discard(fd)
                    if partial[fd]:
                        self._log(level, origin, partial[fd])
                    continue
                *lines, partial[fd] = (partial[fd] + chunk).split(b"\n")
                for line in lines:
                    self._log(level, origin, line)
        selector.close()

    def _log(self, level: int, origin: str, raw: bytes) -> None:
        line = raw.decode("utf-8", errors="replace").rstrip("\r")
        self._logger.log(level, "%s", line, extra={"tw_origin": origin})

    def stop(self, timeout: float = 2.0) -> None:
        # Restoring fds 1/2 closes our last copy of the pipes' write ends, so the
        # pump sees EOF — unless a leftover grandchild still holds one; hence the timeout.
        for fd, saved in self._saved.items():
            os.dup2(saved, fd)
            os.close(saved)
        self._saved.clear()
        if self._thread is not None:
            self._thread.join(timeout)
            if not self._thread.is_alive():
                for read_end in self._readers:
                    os.close(read_end)
        self._readers.clear()


class TryLogCapture:
    """Context manager: route everything a try logs or prints into its log file.

    ``capture_fds``: also redirect file descriptors 1/2 (only in a dedicated try process).
    ``echo``: also write the formatted lines to this stream (``dags test`` shows them).
    """

    def __init__(
        self,
        path: Path,
        *,
        level: int | str = logging.INFO,
        capture_fds: bool = False,
        echo: IO[str] | None = None,
    ) -> None:
        self.path = path
        self.level = _level_number(level)
        self.capture_fds = capture_fds
        self.echo = echo
        self._handlers: list[logging.Handler] = []
        self._saved_streams: tuple[Any, Any] | None = None
        self._saved_level: int | None = None
        self._pump: _FdPump | None = None

    def __enter__(self) -> "TryLogCapture":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        formatter = TryLogFormatter()
        file_handler = logging.FileHandler(self.path, mode="a", encoding="utf-8")
        file_handler.setFormatter(formatter)
        self._handlers.append(file_handler)
        if self.echo is not None:
            echo_handler = logging.StreamHandler(self.echo)
            echo_handler.setFormatter(formatter)
            self._handlers.append(echo_handler)
        root = logging.getLogger()
        for handler in self._handlers:
            root.addHandler(handler)
        self._saved_level = root.level
        # setLevel clears the level cache of every logger (SQLAlchemy has hundreds): in a forked
        # try that writes to, and so copies, a page per logger. Only call it on a change (the
        # fork server sets these levels once, see forkserver._Server).
        _set_level(root, self.level)
        _set_level(logging.getLogger(TASK_LOGGER), self.level)
        output = logging.getLogger(f"{TASK_LOGGER}.output")
        if self.capture_fds:
            self._pump = _FdPump(output)
            self._pump.start()
        self._saved_streams = (sys.stdout, sys.stderr)
        fallback = self.echo or sys.__stderr__
        sys.stdout = LoggingStream(output, logging.INFO, "stdout", fallback)  # type: ignore[assignment]
        sys.stderr = LoggingStream(output, logging.ERROR, "stderr", fallback)  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Undo everything :meth:`__enter__` did (idempotent)."""
        if self._saved_streams is not None:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # a user replaced the stream with something odd
                    pass
            sys.stdout, sys.stderr = self._saved_streams
            self._saved_streams = None
        if self._pump is not None:
            self._pump.stop()
            self._pump = None
        root = logging.getLogger()
        for handler in self._handlers:
            root.removeHandler(handler)
            handler.close()
        self._handlers.clear()
        if self._saved_level is not None:
            _set_level(root, self._saved_level)
            self._saved_level = None


def _set_level(logger: logging.Logger, level: int) -> None:
    """``logger.setLevel(level)`` unless it already has that level."""
    if logger.level != level:
        logger.setLevel(level)


def task_log_level(config: Any) -> int:
    """``[logging] logging_level`` as a number (ValueError naming the setting if unknown)."""
    return _level_number(config.get("logging", "logging_level", "INFO"))


def _level_number(level: int | str) -> int:
    """A level name (any case) or number as a number (ValueError naming the setting if unknown)."""
    number = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(number, int):
        raise ValueError(f"unknown logging level {level!r} in [logging] logging_level")
    return number
