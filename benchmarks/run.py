"""The benchmark suite: ``make bench`` (or ``python benchmarks/run.py [--quick] [--only memory]``).

Prints one table: each figure the median of several runs, each ratio between figures measured in
the same session, each target next to its figure. Every measurement runs in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SIZES = {
    "full": {"mmc": 200_000, "lifecycle": 1_000_000, "messages": 200_000, "trace": 1_000_000, "sweep": 200,
             "staffing": 30, "multiskill": 30, "repeats": 3},
    "quick": {"mmc": 2_000, "lifecycle": 5_000, "messages": 5_000, "trace": 5_000, "sweep": 4, "staffing": 2,
              "multiskill": 1, "repeats": 1},
}
SERVERS = (10, 50, 200)
PATIENCE = 600.0  # seconds, twice the mean service time
MEMORY_MB = 600  # peak resident memory of a million conversations: log streamed or off, trace replay too


def measure(case: str, repeats: int, **arguments: Any) -> dict[str, float]:
    """Medians over ``repeats`` fresh processes, each with its own seed."""
    runs = []
    for repeat in range(repeats):
        done = subprocess.run([sys.executable, str(HERE / "cases.py"), case,
                               json.dumps({**arguments, "seed": repeat + 1})],
                              capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"benchmark case {case} {arguments} failed:\n{done.stderr}")
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def row(name: str, figure: str, target: str = "", met: bool | None = None) -> str:
    verdict = "" if met is None else ("met" if met else "MISSED")
    return f"{name:<44} {figure:>34}  {target:<30} {verdict}"


def speed(size: dict[str, int], repeats: int) -> None:
    n = size["mmc"]
    for patience in (None, PATIENCE):
        label = "M/M/c" if patience is None else "M/M/c+M"
        for c in SERVERS:
            ours = measure("mmc_ours", repeats, c=c, n=n, patience=patience)
            floor = measure("mmc_simpy", repeats, c=c, n=n, patience=patience)
            ciw = measure("mmc_ciw", repeats, c=c, n=n, patience=patience)
            us = {name: 1e6 * m["seconds"] / m["items"] for name, m in
                  (("ours", ours), ("simpy", floor), ("ciw", ciw))}
            print(row(f"{label} c={c}, load {0.9}, {n:,} conversations",
                      f"ours {us['ours']:.1f} us, SimPy {us['simpy']:.1f}, Ciw {us['ciw']:.1f}"))
            print(row("  ours / bare SimPy", f"{us['ours'] / us['simpy']:.2f}x", "<= 1.5x",
                      us["ours"] <= 1.5 * us["simpy"]))
            print(row("  ours / Ciw", f"{us['ours'] / us['ciw']:.2f}x", "< 1x", us["ours"] < us["ciw"]))

    m = measure("multiskill", repeats, days=size["multiskill"])
    print(row(f"multi-skill day x{size['multiskill']}, {m['items']:,.0f} conversations (overflow, longest waiting)",
              f"{m['items'] / m['seconds']:,.0f} conversations/s simulated"))


def memory(size: dict[str, int], repeats: int) -> None:
    """A million conversations (the default day, repeated): event log off, streamed, and the same arrivals
    replayed from a Parquet trace — each peak beside the target."""
    conversations = size["lifecycle"]
    for events in (False, True):
        m = measure("lifecycle", repeats, conversations=conversations, events=events)
        label = f"full lifecycle, {m['items']:,.0f} conversations, event log {'streamed' if events else 'off'}"
        rate = m["items"] / m["simulate_seconds"]
        print(row(label, f"{rate:,.0f} conversations/s simulated", ">= 20,000/s" if not events else "",
                  rate >= 20_000 if not events else None))
        print(row("  with tables and files written", f"{m['items'] / m['seconds']:,.0f} conversations/s"))
        print(row("  SimPy events per conversation", f"{m['simpy_events']:.2f}"))
        print(row("  peak resident memory", f"{m['peak_rss_mb']:,.0f} MB", f"< {MEMORY_MB} MB",
                  m["peak_rss_mb"] < MEMORY_MB))

    m = measure("lifecycle", repeats, conversations=conversations, events=False, replay=True)
    print(row(f"trace replay from Parquet, {m['items']:,.0f} conversations",
              f"{m['items'] / m['seconds']:,.0f} conversations/s, files written"))
    print(row("  peak resident memory", f"{m['peak_rss_mb']:,.0f} MB", f"< {MEMORY_MB} MB",
              m["peak_rss_mb"] < MEMORY_MB))


def lifecycle(size: dict[str, int], repeats: int) -> None:
    m = measure("lifecycle", repeats, conversations=size["messages"], events=False, messages=True)
    rate = m["items"] / m["simulate_seconds"]
    print(row(f"message-level handling, default days, {m['items']:,.0f} conversations",
              f"{rate:,.0f} conversations/s simulated", ">= 8,000/s", rate >= 8_000))
    print(row("  agent replies per conversation answered", f"{m['replies']:.1f}", "about 10"))
    print(row("  with tables and files written", f"{m['items'] / m['seconds']:,.0f} conversations/s"))

    m = measure("lifecycle", repeats, conversations=size["lifecycle"], events=False, month=True)
    print(row(f"30-day month, {m['items']:,.0f} conversations, event log off",
              f"{m['items'] / m['simulate_seconds']:,.0f} conversations/s simulated"))
    print(row("  peak resident memory", f"{m['peak_rss_mb']:,.0f} MB", "< 1 GB", m["peak_rss_mb"] < 1024))

    rows = size["trace"]
    for suffix in ("csv", "parquet"):
        m = measure("trace_load", repeats, rows=rows, suffix=suffix)
        print(row(f"trace load, {m['items']:,.0f} rows, {suffix}", f"{m['seconds']:.2f} s",
                  "seconds for a million rows"))


def batches(size: dict[str, int], repeats: int) -> None:
    runs = size["sweep"]
    one = measure("sweep", repeats, runs=runs, workers=1)
    two = measure("sweep", repeats, runs=runs, workers=2)
    per_second = {1: one["items"] / one["seconds"], 2: two["items"] / two["seconds"]}
    print(row(f"sweep, {runs} runs of the default day, 1 worker", f"{per_second[1]:.2f} runs/s"))
    print(row("  2 workers", f"{per_second[2]:.2f} runs/s"))
    print(row("  speed-up, 2 workers / 1", f"{per_second[2] / per_second[1]:.2f}x", ">= 1.8x",
              per_second[2] >= 1.8 * per_second[1]))

    days = size["staffing"]
    for workers in (1, 2):
        m = measure("staffing_study", repeats, replications=days, workers=workers)
        print(row(f"staffing study, default day, 30 min, {days} days a trial" if workers == 1 else "  2 workers",
                  f"{m['seconds']:.1f} s, {m['items'] / m['seconds']:.1f} days/s", "a minute at most" * (workers == 2),
                  m["seconds"] <= 60 if workers == 2 else None))


SECTIONS = {"speed": speed, "memory": memory, "lifecycle": lifecycle, "batches": batches}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat: checks that it runs")
    parser.add_argument("--repeats", type=int, help="runs per figure (default 3; 1 with --quick)")
    parser.add_argument("--only", action="append", choices=sorted(SECTIONS),
                        help="one section (repeat for several): speed (M/M/c, multi-skill), memory (a million "
                             "conversations: log off, streamed, trace replay), lifecycle (messages, month, "
                             "trace load), batches (sweep, staffing)")
    args = parser.parse_args()
    size = SIZES["quick" if args.quick else "full"]
    repeats = args.repeats or size["repeats"]
    print(f"convsim benchmarks: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"median of {repeats} run(s) per figure\n")
    print(row("case", "figure", "target"))
    for name, section in SECTIONS.items():
        if not args.only or name in args.only:
            section(size, repeats)


if __name__ == "__main__":
    main()
