"""The ``convsim`` command."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

import pandas as pd

from sim import metrics, output, runner
from sim import scenario as scenario_file
from sim.errors import ConvsimError
from strategies import registry


def _run(args: argparse.Namespace) -> int:
    scenario = scenario_file.load(args.scenario)
    names = args.strategy or [scenario.strategy.name]
    for name in args.strategy or ():  # fail before running anything
        registry.resolve(name)
    started = time.perf_counter()
    with output.EventStream(args.out, csv=args.csv) as stream:
        result = runner.run(scenario, names, seed=args.seed, progress=True, event_sink=stream)
    elapsed = time.perf_counter() - started
    written = stream.paths + output.write(result, args.out, csv=args.csv, events=False)
    print(_kpi_table(result))
    print(f"\n{len(result.conversations):,} conversations over {len(names)} run(s) in {elapsed:.2f} s; "
          f"files in {args.out}/: {', '.join(p.name for p in written)}")
    return 0


def _kpi_table(result: runner.Result) -> str:
    table = result.kpis()
    formatted = table.apply(lambda row: row.map(lambda v: _format(row.name, v)), axis=1)
    return formatted.to_string()


def _format(kpi: str, value: float) -> str:
    unit = metrics.KPIS[kpi]
    if pd.isna(value):
        return "-"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "seconds":
        return f"{value:.1f} s"
    if unit == "index":
        return f"{value:.3f}"
    return f"{value:,.0f}"


def _strategies(args: argparse.Namespace) -> int:
    for name, cls in sorted(registry.available().items()):
        doc = (getattr(cls, "__doc__", "") or "").strip().splitlines()
        print(f"{name:<14} {doc[0] if doc else ''}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from sim import validation

    started = time.perf_counter()
    table = validation.run(args.size, args.replications, args.workers, progress=True)
    for line in validation.format_table(table):
        print(line)
    failed = int((~table["passed"]).sum())
    print(f"\n{len(table) - failed} passed, {failed} failed "
          f"(|z| <= {validation.Z_LIMIT:g}; {time.perf_counter() - started:.1f} s)")
    return 1 if failed else 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="convsim", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="simulate a scenario once per strategy and write the tables")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--strategy", action="append", metavar="NAME",
                     help="strategy to run (repeat for several; default: the scenario's)")
    run.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    run.add_argument("--out", default="out", help="output folder (default: out)")
    run.add_argument("--csv", action="store_true", help="also write every table as CSV")
    run.set_defaults(handler=_run)
    validate = commands.add_parser("validate", help="check the simulator against queueing theory")
    validate.add_argument("--size", choices=["quick", "full"], default="quick",
                          help="quick (about ten seconds) or full (minutes; narrower intervals)")
    validate.add_argument("--replications", type=int, help="independent runs per case")
    validate.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: cores)")
    validate.set_defaults(handler=_validate)
    listing = commands.add_parser("strategies", help="list the strategies that can be named")
    listing.set_defaults(handler=_strategies)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConvsimError as exc:
        print(f"convsim: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
