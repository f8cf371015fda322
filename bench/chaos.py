"""Chaos at length: 100 seeded random ``kill -9`` per set-up, and the figures.

Run with ``.venv/bin/python bench/chaos.py [--kills 100] [--seed N] [--setups a,b]``. Never part
of the test suite (the bounded version is ``tests/integration/chaos``, whose harness this reuses).

Set-ups: ``sqlite-scheduler`` (one ``tradewind scheduler``), ``sqlite-standalone`` (one
``tradewind standalone``) and ``postgres-2-schedulers`` (two ``tradewind scheduler`` processes on
the tests' throwaway PostgreSQL server, ``tests/pg.py``). Victims: the top-level process, its DAG
processor, its fork server, running tries, parse children and whole process groups; only a
killed top-level process is restarted (as systemd would).

Printed per set-up: kills by victim kind, runs and tries by state, each invariant's violations
(``tests/integration/chaos/chaos_support.py`` defines them) and the time each kind of helper
took to come back (median/max). ``--verbose`` prints the event log as it happens; ``--json``
writes the figures to a file. The exit code is 1 when any invariant was violated.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for folder in ("tests/integration/chaos", "tests/integration", "tests", "bench"):
    sys.path.insert(0, str(REPO / folder))

from chaos_support import INVARIANTS, KINDS, SETUPS, Chaos, Knobs, Result  # noqa: E402
from run import BenchError, start_postgres  # noqa: E402  (bench/run.py's helpers)


def run_setup(name: str, seed: int, knobs: Knobs, verbose: bool, keep: bool) -> Result:
    setup = SETUPS[name]
    root = Path(tempfile.mkdtemp(prefix=f"tradewind-chaos-{name}-"))
    server = None
    try:
        db_url = None
        if setup.backend == "postgres":
            server = start_postgres()
            server.execute_autocommit('CREATE DATABASE "chaos"')
            db_url = server.url("chaos")
        say = (lambda line: print(f"[{name}] {line}", flush=True)) if verbose else None
        return Chaos(setup, root, seed=seed, knobs=knobs, db_url=db_url, say=say).run()
    finally:
        if server is not None:
            server.stop()
        if keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def figures(result: Result) -> dict:
    kills = result.kills_by_kind()
    return {
        "setup": result.setup,
        "seed": result.seed,
        "seconds": round(result.seconds, 1),
        "kills": {kind: kills.get(kind, 0) for kind in KINDS},
        "runs": dict(result.runs),
        "tries": dict(result.tries),
        "violations": {name: len(result.violations[name]) for name in INVARIANTS},
        "helper_back_s": {
            kind: {"n": len(times), "median": round(statistics.median(times), 2), "max": round(max(times), 2)}
            for kind, times in sorted(result.helper_back.items()) if times
        },
        "top_level_exits_not_killed": result.unexpected_exits,
        "violation_examples": {name: items[:5] for name, items in result.violations.items() if items},
    }


def print_figures(fig: dict) -> None:
    print(f"\n== {fig['setup']}  (seed {fig['seed']}, {fig['seconds']:.0f}s)")
    print("  kills by victim  " + ", ".join(f"{k} {n}" for k, n in fig["kills"].items()))
    print(f"  kills in all     {sum(fig['kills'].values())}")
    print("  runs             " + ", ".join(f"{k} {n}" for k, n in sorted(fig["runs"].items())))
    print("  tries            " + ", ".join(f"{k} {n}" for k, n in sorted(fig["tries"].items())))
    print("  invariants (violations):")
    for name, count in fig["violations"].items():
        print(f"    {name:28s} {count}")
    print("  helper back (s)   n     median  max")
    for kind, t in fig["helper_back_s"].items():
        print(f"    {kind:28s} {t['n']:4d}  {t['median']:6.2f}  {t['max']:6.2f}")
    if fig["top_level_exits_not_killed"]:
        print(f"  top-level processes that exited without being killed: {fig['top_level_exits_not_killed']}")
    for name, items in fig["violation_examples"].items():
        for item in items:
            print(f"  e.g. {name}: {item}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100, help="kills per set-up (default 100)")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: a random one, printed)")
    parser.add_argument("--setups", default=",".join(SETUPS), help=f"comma-separated, from {', '.join(SETUPS)}")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds for every run to end after the kills")
    parser.add_argument("--helper-deadline", type=float, default=20.0, help="seconds for a helper to come back")
    parser.add_argument("--verbose", action="store_true", help="print the event log as it happens")
    parser.add_argument("--keep", action="store_true", help="keep each set-up's home and markers")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.setups.split(",") if n.strip()]
    unknown = [n for n in names if n not in SETUPS]
    if unknown:
        parser.error(f"unknown set-up(s) {', '.join(unknown)}; choose from {', '.join(SETUPS)}")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    print(f"chaos bench: seed {seed}, {args.kills} kills per set-up, set-ups {', '.join(names)}", flush=True)
    knobs = Knobs(kills=args.kills, drain=args.drain, helper_deadline=args.helper_deadline)
    all_figures = []
    for name in names:
        try:
            result = run_setup(name, seed, knobs, args.verbose, args.keep)
        except BenchError as exc:
            print(f"\n== {name}: cannot run: {exc}")
            return 2
        fig = figures(result)
        all_figures.append(fig)
        print_figures(fig)
        if not result.ok:
            report = Path(tempfile.gettempdir()) / f"tradewind-chaos-{name}-{seed}.txt"
            report.write_text(result.report())
            print(f"  event log, violations and process output: {report}")
            print(f"  replay: .venv/bin/python bench/chaos.py --setups {name} --seed {seed} --kills {args.kills}")
        sys.stdout.flush()
    if args.json is not None:
        args.json.write_text(json.dumps(all_figures, indent=2))
    return 1 if any(any(f["violations"].values()) for f in all_figures) else 0


if __name__ == "__main__":
    sys.exit(main())
