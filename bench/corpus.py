"""Conformance corpus: other people's Airflow DAG files, parsed and run by the real Tradewind CLI.

Run with ``.venv/bin/python bench/corpus.py [--source NAME ...] [--no-run] [--json out.json]``. Never
part of the test suite; it takes minutes. See docs/conformance.md.

1. Assemble: the sources of ``bench/corpus_sources.py`` are extracted into ``--corpus-dir``
   (default /tmp/corpus, outside the repository): git sources with ``git archive <commit>`` from the
   local mirrors, wheels with ``pip download --no-deps`` (cached in ~/.cache/tradewind-corpus).
2. Classify each DAG file: Airflow 2 or 3 style, and the provider packages it imports.
3. Parse: each DAGs folder becomes a fresh TRADEWIND_HOME; ``dags reserialize``, then
   ``dags list-import-errors -o json`` and ``dags list -o json``. A file is parsed when it has no
   import error and at least one DAG came from it.
4. Run: DAGs of parsed files that pass the offline rule (``OFFLINE_BLOCKERS`` in
   tests/conformance/wheel_corpus.py) run with ``dags test <dag_id> <date>`` under a per-DAG timeout.
5. Report: per source and Airflow version, files parsed / total and DAGs succeeded / runnable, and
   every failure with its first error line, grouped by cause (``--report`` writes it as Markdown).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests" / "conformance"))

from corpus_sources import GIT_SOURCES, WHEEL_SOURCES, GitSource, WheelSource  # noqa: E402
from wheel_corpus import (  # noqa: E402
    CorpusHome, FileInfo, RunResult, classify_error, classify_file, defines_no_dag_at_import, download_wheel,
    extract_prefix, first_error_line, is_dag_file, offline_blockers,
)

#: Files written to show an error (the book's chapter on testing) that the source's .airflowignore does
#: not already skip: Airflow refuses them too.
EXPECTED_FAILURES: dict[tuple[str, str], str] = {
    ("book-dpwaa-1st", "chapter09/dags/testme.py"): "five tasks with one id on purpose (Airflow: DuplicateTaskIdError)",
    ("book-dpwaa-1st", "chapter09/dags/bash_operator_no_command.py"): "BashOperator without bash_command on purpose",
    ("book-dpwaa-2nd", "chapter10/dags/04_nodags.py"): "defines no DAG on purpose",
}


#: (source, dag_id) -> why Apache Airflow's run of it fails too (checked by reading the DAG).
EXPECTED_RUN_FAILURES: dict[tuple[str, str], str] = {
    ("book-dpwaa-1st", "08_trigger_rules"): "a task raises on purpose to show trigger rules",
    ("book-dpwaa-1st", "05_task_groups_umbrella"): "its branch returns ids without the task group's prefix "
                                                   "(Airflow: invalid branch_task_ids)",
    ("book-dpwaa-1st", "chapter12_task_failure_callback"): "bash_command='exit 1' on purpose",
    ("book-dpwaa-1st", "chapter12_task_failure_email"): "bash_command='exit 1' on purpose",
    ("book-dpwaa-2nd", "08_trigger_rules"): "a task raises on purpose to show trigger rules",
    ("book-dpwaa-2nd", "03_task_failure_callback"): "bash_command='exit 1' on purpose",
    ("book-dpwaa-2nd", "04_task_failure_email"): "bash_command='exit 1' on purpose",
    ("guide-astro-2-9-examples", "toy_auto_pause"): "a task raises on purpose (auto-pause after failed runs)",
    ("tutorial-heumsi-kr", "05_conditional_tasks_with_depends_on_past"): "task_2 raises on purpose",
    ("tutorial-heumsi-kr", "06_conditional_tasks_with_wait_for_downstream"): "task_2 raises on purpose",
    ("wheel-airflow-core-3.3.2", "example_failed_dag"): "fails on purpose (stack-trace rendering example)",
    ("wheel-airflow-core-3.3.2", "example_passing_params_via_test_command"):
        "renders {{ params.foo }}, which only `tasks test -t` supplies (Airflow's StrictUndefined fails too)",
    ("wheel-airflow-2.10.5", "example_passing_params_via_test_command"):
        "renders {{ params.foo }}, which only `tasks test -t` supplies (Airflow's StrictUndefined fails too)",
    ("wheel-airflow-2.10.5", "tutorial_taskflow_templates"): "reads sql/test.sql, which the 2.10.5 wheel lacks",
    ("wheel-airflow-core-3.3.2", "read_asset_event_from_classic"):
        "offline there is no event of s3://output/1.txt: [-1] of an empty list (as in tests/conformance)",
    ("wheel-airflow-2.10.5", "read_dataset_event_from_classic"):
        "Airflow 2.10's template context has no Dataset (as in tests/conformance)",
}


@dataclass
class CorpusFile:
    source: str
    folder: str  # DAGs folder, relative to the source's root
    path: str  # relative to the DAGs folder
    style: str
    providers: list[str]
    blockers: list[str]
    parsed: bool = False
    dag_ids: list[str] = field(default_factory=list)
    error: str = ""
    cause: str = ""
    key: str = ""
    expected: str = ""
    runs: list[RunResult] = field(default_factory=list)

    @property
    def source_path(self) -> str:
        return f"{self.folder}/{self.path}".lstrip("/")


# ----------------------------------------------------------------------------- assembling
def _extract_git(src: GitSource, mirrors: Path, dest: Path) -> None:
    mirror = mirrors / src.repo.replace("/", "+") / "repo"
    if not mirror.exists():
        raise FileNotFoundError(f"{src.name}: no mirror of {src.repo} at {mirror} (fetch it first)")
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(mirror), "archive", "--format=tar", src.commit],
                             check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)


def _airflowignored(root: Path, folder: str, rel: Path) -> bool:
    """Whether a ``.airflowignore`` of the DAGs folder (or a subfolder on the way) skips the file:
    Airflow does not load it, so it is not counted. Patterns are tried both as regular expressions
    (Airflow 2's default syntax) and as globs (Airflow 3's)."""
    in_folder = rel.relative_to(folder) if folder else rel
    base = root / folder if folder else root
    for depth in range(len(in_folder.parts)):
        ignore = base.joinpath(*in_folder.parts[:depth]) / ".airflowignore"
        if not ignore.exists():
            continue
        below = str(Path(*in_folder.parts[depth:]))
        for pattern in ignore.read_text(errors="replace").splitlines():
            pattern = pattern.split("#", 1)[0].strip()
            if not pattern:
                continue
            try:
                if re.search(pattern, below):
                    return True
            except re.error:
                pass
            if fnmatch.fnmatch(below, pattern) or fnmatch.fnmatch(below, pattern.rstrip("/") + "/*"):
                return True
    return False


def _folder_of(rel: Path, single: str | None) -> str:
    if single is not None:
        return single
    for parent in rel.parents:
        if parent.name in {"dags", "example_dags"}:
            return str(parent)
    return str(rel.parent)


def assemble(corpus: Path, mirrors: Path, wheel_cache: Path, names: set[str] | None,
             console: Console) -> tuple[list[CorpusFile], dict[str, Path]]:
    """Extract every source; return its DAG files and each source's root directory."""
    files: list[CorpusFile] = []
    ignored: list[str] = []
    roots: dict[str, Path] = {}
    sources: list[GitSource | WheelSource] = [*GIT_SOURCES, *WHEEL_SOURCES]
    for src in sources:
        if names and src.name not in names:
            continue
        root = corpus / "src" / src.name
        if not root.exists():
            if isinstance(src, GitSource):
                _extract_git(src, mirrors, root)
            else:
                extract_prefix(download_wheel(src.dist, src.version, wheel_cache), src.prefix, root)
        roots[src.name] = root
        single = src.single_folder if isinstance(src, GitSource) else ""
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root)
            if isinstance(src, GitSource) and not str(rel).startswith(src.include):
                continue
            if any(fragment in f"/{rel}" for fragment in src.exclude):
                continue
            text = path.read_text(errors="replace")
            if not is_dag_file(text):
                continue
            folder = _folder_of(rel, single)
            if _airflowignored(root, folder, rel):
                ignored.append(f"{src.name}/{rel}")
                continue
            info = classify_file(text, src.airflow)
            files.append(CorpusFile(
                source=src.name, folder=folder, path=str(rel.relative_to(folder)) if folder else str(rel),
                style=info.style, providers=info.providers, blockers=offline_blockers(text, info),
                expected=EXPECTED_FAILURES.get((src.name, str(rel)), "")))
    console.print(f"[bold]{len(files)}[/] DAG files from {len(roots)} sources in {corpus / 'src'} "
                  f"({len(ignored)} more skipped by the sources' .airflowignore: {', '.join(ignored)})")
    return files, roots


# ----------------------------------------------------------------------------- parsing and running
SOURCES: dict[str, GitSource | WheelSource] = {s.name: s for s in (*GIT_SOURCES, *WHEEL_SOURCES)}


def _parse_folder(corpus: Path, root: Path, source: str, folder: str, members: list[CorpusFile]) -> CorpusHome:
    slug = folder.replace("/", "__") or "root"
    src = SOURCES[source]
    extras = [root / p for p in getattr(src, "home_files", ())]
    # a package serves the folders of its own chapter only (each chapter has its own "custom")
    pythonpath = [root / p for p in getattr(src, "pythonpath", ()) if p.split("/")[0] == folder.split("/")[0]]
    home = CorpusHome(corpus / "homes" / source / slug, root / folder if folder else root,
                      home_files=extras, pythonpath=pythonpath)
    try:
        errors, by_file = home.parse()
    except Exception as exc:  # the CLI itself failed: every file of the folder counts as failed
        for f in members:
            f.error = first_error_line(str(exc))
            f.cause, f.key = "CLI failed", f.error[:80]
        return home
    for f in members:
        if f.path in errors:
            f.error = errors[f.path]
            f.cause, f.key = classify_error(f.error)
            f.error = first_error_line(f.error)
        elif by_file.get(f.path):
            f.parsed, f.dag_ids = True, sorted(by_file[f.path])
        elif defines_no_dag_at_import((home.dags / f.path).read_text(errors="replace")):
            f.parsed = True  # nothing builds a DAG at import: Airflow lists none from it either
        else:
            f.cause, f.key = "no DAG found, no import error", f.path
            f.error = "the file imported without error but no DAG came from it"
    return home


def parse_and_run(files: list[CorpusFile], roots: dict[str, Path], corpus: Path, run: bool, timeout: float,
                  jobs: int, console: Console, on_folder_done: Callable[[], None] | None = None) -> None:
    """Parse every DAGs folder and run its offline-runnable DAGs; ``on_folder_done`` is called (under
    a lock) after each folder, so a partial report can be written while the rest goes on."""
    groups: dict[tuple[str, str], list[CorpusFile]] = defaultdict(list)
    for f in files:
        groups[(f.source, f.folder)].append(f)
    lock = threading.Lock()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        parse_task = progress.add_task("parsing folders", total=len(groups))
        run_task = progress.add_task("running DAGs (dags test)", total=None if run else 0)

        def work(key: tuple[str, str]) -> None:
            source, folder = key
            members = groups[key]
            home = _parse_folder(corpus, roots[source], source, folder, members)
            progress.advance(parse_task)
            if not run:
                if on_folder_done:
                    with lock:
                        on_folder_done()
                return
            in_folder = {d for f in members for d in f.dag_ids}
            for f in members:  # now that the folder's DAG ids are known (TriggerDagRunOperator targets)
                f.blockers = offline_blockers((home.dags / f.path).read_text(errors="replace"),
                                              FileInfo(f.style, f.providers), in_folder)
            todo = [(f, d) for f in members if f.parsed and not f.blockers for d in f.dag_ids]
            with lock:
                total = progress.tasks[run_task].total or 0
                progress.update(run_task, total=total + len(todo))
            for f, dag_id in todo:
                f.runs.append(home.dags_test(dag_id, timeout=timeout))
                progress.advance(run_task)
            if on_folder_done:
                with lock:
                    on_folder_done()

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(work, sorted(groups)))


# ----------------------------------------------------------------------------- reporting
def summarise(files: list[CorpusFile]) -> dict:
    rows: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for f in files:
        for key in ((f.source, f.style), ("ALL", f.style), ("ALL", "2+3")):
            row = rows[key]
            if f.expected:
                row["expected_failures"] += 1
                continue
            row["files"] += 1
            row["parsed"] += f.parsed
            info = FileInfo("", f.providers)
            if info.supported:
                row["supported_files"] += 1
                row["supported_parsed"] += f.parsed
            if not info.core_only:
                row["files_with_providers"] += 1
            else:
                row["core_files"] += 1
                row["core_parsed"] += f.parsed
            for r in f.runs:
                if (f.source, r.dag_id) in EXPECTED_RUN_FAILURES:
                    row["expected_run_failures"] += 1
                    continue
                row["runnable"] += 1
                row["succeeded"] += r.state == "success"
    failures: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for f in files:
        if f.expected:
            continue
        if not f.parsed:
            failures[f"parse: {f.cause}"][f.key].append(
                {"source": f.source, "file": f.source_path, "style": f.style, "providers": f.providers,
                 "error": f.error})
        for r in f.runs:
            if (f.source, r.dag_id) in EXPECTED_RUN_FAILURES:
                continue
            if r.state != "success":
                task, _, rest = r.error.partition(": ")
                message = rest if task in r.tasks else r.error  # "task: Error..." from the task's log
                cause, key = classify_error(message) if message else ("run failed", r.state)
                failures[f"run: {cause}"][key].append(
                    {"source": f.source, "file": f.source_path, "dag_id": r.dag_id, "style": f.style,
                     "state": r.state, "error": r.error,
                     "failed_tasks": {t: s for t, s in r.tasks.items() if s not in ("success", "skipped")}})
    return {"summary": [{"source": s, "airflow": v, **dict(c)} for (s, v), c in sorted(rows.items())],
            "failures": {c: dict(k) for c, k in sorted(failures.items())},
            "expected_failures": [{"source": f.source, "file": f.source_path, "reason": f.expected,
                                   "parsed": f.parsed, "error": f.error} for f in files if f.expected],
            "expected_run_failures": [{"source": f.source, "dag_id": r.dag_id, "state": r.state,
                                       "reason": EXPECTED_RUN_FAILURES[(f.source, r.dag_id)]}
                                      for f in files for r in f.runs if (f.source, r.dag_id) in EXPECTED_RUN_FAILURES]}


def print_table(result: dict, console: Console) -> None:
    table = Table(title="Conformance corpus")
    for col in ("source", "Airflow", "files parsed", "core-only parsed", "supported parsed",
                "DAGs succeeded / runnable"):
        table.add_column(col)
    for row in result["summary"]:
        table.add_row(row["source"], row["airflow"], f"{row.get('parsed', 0)}/{row.get('files', 0)}",
                      f"{row.get('core_parsed', 0)}/{row.get('core_files', 0)}",
                      f"{row.get('supported_parsed', 0)}/{row.get('supported_files', 0)}",
                      f"{row.get('succeeded', 0)}/{row.get('runnable', 0)}")
    console.print(table)
    for cause, keys in result["failures"].items():
        console.print(f"[bold red]{cause}[/] ({sum(len(v) for v in keys.values())})")
        for key, items in sorted(keys.items(), key=lambda kv: -len(kv[1])):
            console.print(f"  [bold]{key}[/] ({len(items)})")
            for item in items:
                console.print(f"    {item['source']}/{item['file']}: {item['error'][:200]}", markup=False)


def markdown(result: dict, sources: list[GitSource | WheelSource]) -> str:
    out = ["# Conformance corpus report", "",
           "Generated by `bench/corpus.py` (see docs/conformance.md). Core-only = Airflow core, the",
           "standard provider and Python; supported = core-only or providers Tradewind serves; runnable =",
           "parsed and passing the offline rule.", "",
           "| source | Airflow | files parsed | core-only parsed | supported parsed | DAGs succeeded / runnable |",
           "|---|---|---|---|---|---|"]
    for row in result["summary"]:
        out.append(f"| {row['source']} | {row['airflow']} | {row.get('parsed', 0)}/{row.get('files', 0)} | "
                   f"{row.get('core_parsed', 0)}/{row.get('core_files', 0)} | "
                   f"{row.get('supported_parsed', 0)}/{row.get('supported_files', 0)} | "
                   f"{row.get('succeeded', 0)}/{row.get('runnable', 0)} |")
    out += ["", "## Failures by cause (cause -> key -> files -> first error line)", ""]
    for cause, keys in result["failures"].items():
        out.append(f"### {cause} ({sum(len(v) for v in keys.values())})")
        for key, items in sorted(keys.items(), key=lambda kv: -len(kv[1])):
            out.append(f"- **`{key}`** ({len(items)})")
            for item in items:
                where = f"{item['source']}/{item['file']}" + (f" [{item['dag_id']}]" if "dag_id" in item else "")
                extra = f" failed tasks: {item['failed_tasks']}" if item.get("failed_tasks") else ""
                out.append(f"  - {where} (Airflow {item['style']}): `{item['error'][:300]}`{extra}")
        out.append("")
    out += ["## Files and runs that fail in Airflow too (not counted)", ""]
    for item in result["expected_failures"]:
        out.append(f"- {item['source']}/{item['file']}: {item['reason']} -> "
                   f"{'parsed' if item['parsed'] else item['error'][:200]}")
    for item in result.get("expected_run_failures", []):
        out.append(f"- run of {item['source']} {item['dag_id']}: {item['reason']} -> {item['state']}")
    out += ["", "## Sources", ""]
    for src in sources:
        pin = src.commit if isinstance(src, GitSource) else src.version
        out.append(f"- {src.name}: {src.url} @ {pin}")
    return "\n".join(out) + "\n"


def _resummarise(args: argparse.Namespace, names: set[str] | None, console: Console) -> int:
    files = []
    for item in json.loads(args.from_json.read_text())["files"]:
        runs = [RunResult(**r) for r in item.pop("runs")]
        f = CorpusFile(**item)
        f.runs = runs
        f.expected = EXPECTED_FAILURES.get((f.source, f.source_path), "")
        if f.error and not f.parsed:  # causes as the current rules name them
            f.cause, f.key = classify_error(f.error)
        if not names or f.source in names:
            files.append(f)
    result = summarise(files)
    print_table(result, console)
    if args.report:
        picked = [s for s in (*GIT_SOURCES, *WHEEL_SOURCES) if not names or s.name in names]
        args.report.write_text(markdown(result, picked))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus-dir", type=Path, default=Path("/tmp/corpus"))
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--wheel-cache", type=Path, default=Path.home() / ".cache" / "tradewind-corpus")
    parser.add_argument("--source", action="append", help="only this source (repeatable)")
    parser.add_argument("--no-run", action="store_true", help="parse only, no dags test")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per dags test")
    parser.add_argument("--jobs", type=int, default=2, help="DAGs folders handled at once")
    parser.add_argument("--tradewind-src", type=Path,
                        help="run Tradewind from this src directory (e.g. a `git archive HEAD` export) instead "
                             "of the working tree, so others' uncommitted edits do not count")
    parser.add_argument("--from-json", type=Path,
                        help="re-summarise an earlier --json result (no assembling, parsing or running)")
    parser.add_argument("--json", type=Path, help="write the full result as JSON ('-' for stdout)")
    parser.add_argument("--report", type=Path, help="write the Markdown report here")
    args = parser.parse_args(argv)
    console = Console(stderr=args.json == Path("-"))
    if args.tradewind_src:
        os.environ["TRADEWIND_CORPUS_SRC"] = str(args.tradewind_src.resolve())
    names = set(args.source) if args.source else None
    if args.from_json:
        return _resummarise(args, names, console)
    files, roots = assemble(args.corpus_dir, args.mirrors, args.wheel_cache, names, console)
    picked = [s for s in (*GIT_SOURCES, *WHEEL_SOURCES) if not names or s.name in names]
    done = {"folders": 0}

    def partial_report() -> None:  # the folders done so far, rewritten as each one finishes
        done["folders"] += 1
        if args.report:
            finished = {(f.source, f.folder) for f in files if f.parsed or f.cause}
            partial = summarise([f for f in files if (f.source, f.folder) in finished])
            args.report.write_text(f"> PARTIAL: {done['folders']} DAGs folders done so far\n\n"
                                   + markdown(partial, picked))

    parse_and_run(files, roots, args.corpus_dir, not args.no_run, args.timeout, args.jobs, console, partial_report)
    result = summarise(files)
    result["files"] = [{**asdict(f), "runs": [asdict(r) for r in f.runs]} for f in files]
    print_table(result, console)
    if args.report:
        args.report.write_text(markdown(result, picked))
        console.print(f"report: {args.report}")
    if args.json:
        text = json.dumps(result, indent=2, default=str)
        if args.json == Path("-"):
            print(text)
        else:
            args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
