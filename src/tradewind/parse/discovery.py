"""Which files of the DAG folders are imported: ignore files and the safe-mode heuristic.

Ignore files (``.airflowignore``, ``.tradewindignore``) hold one pattern a line; ``#`` starts a
comment; a file's patterns apply to its folder and everything below it. Two syntaxes, chosen by
``[core] dag_ignore_file_syntax`` as in Airflow:

- ``regexp`` (the default, Airflow 2's): each pattern is a regular expression searched
  (``re.search``) in the path relative to the ignore file's folder; any match ignores the path.
- ``glob`` (Airflow 3's default): ``.gitignore`` rules. ``*``/``?``/``[...]`` do not cross ``/``,
  ``**`` does; a pattern with a ``/`` at its start or middle is anchored to the ignore file's
  folder, otherwise it matches a file or folder name at any depth; a trailing ``/`` matches
  folders only; ``!pattern`` re-includes what an earlier pattern ignored (the last matching
  pattern decides).

Safe mode (``[core] dag_discovery_safe_mode``, on by default) imports a file only when its bytes
contain ``airflow`` or ``tradewind`` and ``dag`` or ``asset`` (any case): Airflow's heuristic
(Airflow 3 added "asset" for files holding only ``@asset`` definitions), with Tradewind's own
name allowed. A file skipped by safe mode is logged once (INFO), so a DAG never vanishes without
a trace.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("tradewind.parse.dagbag")

IGNORE_FILE_NAMES = (".tradewindignore", ".airflowignore")
SYNTAXES = ("regexp", "glob")

_NAME_WORDS = (b"airflow", b"tradewind")
_DEFINITION_WORDS = (b"dag", b"asset")
_reported_skips: set[tuple[str, float]] = set()


@dataclass(frozen=True)
class GlobRule:
    """One ``.gitignore``-style pattern of an ignore file."""

    regex: re.Pattern[str]
    negate: bool
    dir_only: bool
    anchored: bool  # matched against the path relative to the ignore file's folder, else the name


#: (folder of the ignore file, its rules): each folder inherits its parents' list.
Rules = list[tuple[Path, list[Any]]]


def discovery_options(config: Any) -> dict[str, Any]:
    """``list_dag_files`` keyword arguments from ``[core] dag_discovery_safe_mode`` / ``dag_ignore_file_syntax``."""
    safe = str(config.get("core", "dag_discovery_safe_mode", fallback="True")).strip().lower()
    syntax = str(config.get("core", "dag_ignore_file_syntax", fallback="regexp")).strip().lower()
    return {"safe_mode": safe not in ("false", "0", "no", "off", "f", "n"), "ignore_syntax": syntax}


def check_syntax(syntax: str) -> str:
    if syntax not in SYNTAXES:
        raise ValueError(f"[core] dag_ignore_file_syntax = {syntax!r} is not supported: use 'regexp' or 'glob'")
    return syntax


def might_contain_dag(path: Path) -> bool:
    """Airflow's safe-mode heuristic on the file's bytes (see the module docstring); logs a skip once."""
    try:
        content = path.read_bytes().lower()
    except OSError:
        return False
    if any(w in content for w in _NAME_WORDS) and any(w in content for w in _DEFINITION_WORDS):
        return True
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError:
        return False
    if key not in _reported_skips:
        _reported_skips.add(key)
        log.info("Not importing %s: safe mode ([core] dag_discovery_safe_mode) imports only files that mention "
                 "'airflow' or 'tradewind' and 'dag' or 'asset'", path)
    return False


# --------------------------------------------------------------------------- reading ignore files
def _pattern_lines(ignore_file: Path) -> list[tuple[int, str]]:
    lines = []
    for number, raw in enumerate(ignore_file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append((number, line))
    return lines


def read_rules(directory: Path, syntax: str) -> list[Any]:
    """The rules of ``directory``'s ignore files; an invalid pattern is logged and skipped."""
    rules: list[Any] = []
    for name in IGNORE_FILE_NAMES:
        ignore_file = directory / name
        if not ignore_file.is_file():
            continue
        for number, line in _pattern_lines(ignore_file):
            try:
                rules.append(re.compile(line) if syntax == "regexp" else compile_glob(line))
            except (re.error, ValueError) as exc:
                log.warning("%s:%d: ignoring invalid pattern %r (%s)", ignore_file, number, line, exc)
    return rules


def compile_glob(pattern: str) -> GlobRule:
    negate = pattern.startswith("!")
    body = pattern[1:] if negate else pattern
    dir_only = body.endswith("/")
    body = body.rstrip("/")
    anchored = "/" in body  # a leading or middle separator anchors the pattern to the ignore file's folder
    body = body.lstrip("/")
    if not body:
        raise ValueError("the pattern matches nothing")
    return GlobRule(re.compile(_glob_regex(body)), negate, dir_only, anchored)


def _glob_regex(body: str) -> str:
    parts: list[str] = []
    segments = body.split("/")
    for index, segment in enumerate(segments):
        first, last = index == 0, index == len(segments) - 1
        if segment == "**":
            if first:
                parts.append(".*" if last else "(?:.*/)?")  # any leading folders (or none)
            else:
                parts.append("/.*" if last else "(?:/.*)?")  # everything inside / any folders between
            continue
        after_leading_doublestar = index == 1 and segments[0] == "**"
        if not first and not after_leading_doublestar:
            parts.append("/")
        parts.append(_segment_regex(segment))
    return "^" + "".join(parts) + "$"


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and i + 1 < len(segment):
            i += 1
            out.append(re.escape(segment[i]))
        elif char == "[":
            end = segment.find("]", i + 2 if segment[i + 1:i + 2] in ("!", "^") else i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                inner = segment[i + 1:end]
                if inner[:1] in ("!", "^"):
                    inner = "^" + inner[1:]
                out.append("[" + inner.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


# --------------------------------------------------------------------------- matching
def is_ignored(path: Path, rules: Rules, syntax: str, *, is_dir: bool) -> bool:
    """Whether ``path`` is ignored by ``rules`` (the ignore files of its folder and its parents)."""
    if syntax == "regexp":
        for base, patterns in rules:
            rel = path.relative_to(base).as_posix()
            if any(p.search(rel) for p in patterns):
                return True
        return False
    ignored = False
    for base, globs in rules:
        for rule in globs:
            if rule.dir_only and not is_dir:
                continue
            target = path.relative_to(base).as_posix() if rule.anchored else path.name
            if rule.regex.match(target):
                ignored = not rule.negate
    return ignored
