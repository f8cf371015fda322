"""CPU cost of one no-op try under the local executor: the fork server's process-tree CPU.

Run with ``.venv/bin/python bench/try_cost.py [--width 1000] [--repeat 3] [--profile DIR]``.
Never part of the test suite.

Each repeat starts ``tradewind standalone`` on a fresh ``TRADEWIND_HOME`` whose DAG folder holds
one fan-out DAG (``start -> width no-op PythonOperators -> end``, bench/scale_dags.py), triggers
one run and waits for its success. The fork server forks one child per try and reaps it, so the
CPU of every try ends up in the server's ``/proc/<pid>/stat`` (``utime + stime`` of the server
itself, ``cutime + cstime`` of its reaped children); the delta over the run divided by the
number of tries is the cost of one try, fork to recorded outcome, including the server's own
share (reading the request, forking, reaping, reporting).

``--profile DIR`` sets ``TRADEWIND_PROFILE_TRY_DIR`` so each forked try writes a cProfile of
itself (``<pid>.prof``) into DIR; the merged profile's top functions are printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import BenchError, Standalone, free_port, make_env, run_cli, trigger_and_wait  # noqa: E402
from scale_dags import write_fanout  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int) -> tuple[float, float, int]:
    """(utime + stime, cutime + cstime, minflt + cminflt) of ``pid``: its own CPU, that of its
    reaped children, and the minor page faults of both (mostly copy-on-write after fork)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    # After the ")" of comm: state is field 0, minflt 7, cminflt 8, utime 11, stime 12, cutime 13, cstime 14.
    own, children = (int(fields[11]) + int(fields[12])) / CLK_TCK, (int(fields[13]) + int(fields[14])) / CLK_TCK
    return own, children, int(fields[7]) + int(fields[8])


def find_forkserver(root: psutil.Process, timeout: float = 30) -> psutil.Process:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        for proc in root.children(recursive=True):
            try:
                if any("forkserver" in part for part in proc.cmdline()):
                    return proc
            except psutil.Error:
                continue
        time.sleep(0.05)
    raise BenchError("no fork server process found under standalone")


def one_repeat(width: int, profile_dir: Path | None, keep: bool, perf_out: Path | None = None) -> dict:
    root = Path(tempfile.mkdtemp(prefix="tradewind-trycost-"))
    try:
        dags = root / "dags"
        [dag_id] = write_fanout(dags, width, dag_id=f"trycost_fanout_{width}")
        home = root / "home"
        env = make_env(home, free_port())
        env["TRADEWIND__CORE__DAGS_FOLDER"] = str(dags)
        if profile_dir is not None:
            profile_dir.mkdir(parents=True, exist_ok=True)
            env["TRADEWIND_PROFILE_TRY_DIR"] = str(profile_dir)
        sa = Standalone(home, env, int(env["TRADEWIND__API__PORT"]))
        try:
            sa.wait_healthy()
            sa.wait_dags([dag_id])
            run_cli(["dags", "unpause", dag_id], env)
            server = find_forkserver(sa.ps)
            perf = None
            if perf_out is not None:  # children forked from now on are followed (perf's inherit)
                perf = subprocess.Popen(["perf", "record", "-q", "-g", "-o", str(perf_out), "-p", str(server.pid)])
                time.sleep(1.0)
            before = tree_cpu_s(server.pid)
            run = trigger_and_wait(sa, dag_id, timeout=600)
            after = tree_cpu_s(server.pid)
            if perf is not None:
                perf.send_signal(signal.SIGINT)
                perf.wait()
            rss_mb = server.memory_info().rss / 2**20
        finally:
            sa.stop()
        tries = len(run["tis"])
        own, children = after[0] - before[0], after[1] - before[1]
        return {"tries": tries, "cpu_s": own + children, "cpu_ms_per_try": (own + children) * 1000 / tries,
                "server_ms_per_try": own * 1000 / tries, "children_ms_per_try": children * 1000 / tries,
                "faults_per_try": (after[2] - before[2]) / tries,
                "e2e_s": run["e2e_s"], "server_rss_mb": rss_mb}
    finally:
        if keep:
            print(f"  kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def print_profile(profile_dir: Path, top: int) -> None:
    import pstats

    files = sorted(profile_dir.glob("*.prof"))
    if not files:
        print(f"no profiles in {profile_dir}")
        return
    stats = pstats.Stats(str(files[0]))
    for extra in files[1:]:
        stats.add(str(extra))
    stats.files = []  # do not list every file
    print(f"\nmerged cProfile (CPU time) of {len(files)} tries (cumulative):")
    stats.sort_stats("cumulative").print_stats(top)
    print("\nby own time:")
    stats.sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1000, help="parallel no-op tasks (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="repeats; the median is reported (default 3)")
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile per try into this folder")
    parser.add_argument("--top", type=int, default=40, help="functions shown from the profile")
    parser.add_argument("--perf", type=Path, default=None,
                        help="also record the fork server and its tries with `perf record -g` into this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary homes")
    args = parser.parse_args(argv)
    samples = []
    for i in range(args.repeat):
        try:
            sample = one_repeat(args.width, args.profile, args.keep, args.perf)
        except BenchError as exc:
            print(f"benchmark failed: {str(exc)[:1500]}", file=sys.stderr)
            return 1
        print(f"repeat {i + 1}/{args.repeat}: {sample['tries']} tries, {sample['cpu_s']:.2f} s CPU, "
              f"{sample['cpu_ms_per_try']:.2f} ms/try (server {sample['server_ms_per_try']:.2f}, tries "
              f"{sample['children_ms_per_try']:.2f}), {sample['faults_per_try']:.0f} page faults/try, run {sample['e2e_s']:.2f} s, "
              f"server RSS {sample['server_rss_mb']:.0f} MB", file=sys.stderr, flush=True)
        samples.append(sample)
    median = statistics.median(s["cpu_ms_per_try"] for s in samples)
    faults = statistics.median(s["faults_per_try"] for s in samples)
    print(f"fork-server tree CPU per no-op try (median of {len(samples)}): {median:.2f} ms (target <= 3 ms), "
          f"{faults:.0f} page faults")
    if args.profile is not None:
        print_profile(args.profile, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
