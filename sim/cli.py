"""The ``convsim`` command: one grammar (argparse) over the library's API.

Every handler hands its options' text to the functions a notebook calls (:mod:`sim.experiments.api`,
parsed by :mod:`sim.experiments.options`), so a value means the same in both. The heavy modules (pandas,
the engine) are imported by the handlers, never here: ``convsim --help`` stays quick.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sim import files
from sim.errors import ConvsimError, ScenarioWarning

if TYPE_CHECKING:
    from sim.io import results
    from sim.model import scenario as scenario_file

DESCRIPTION = """\
convsim simulates a contact centre's inbound conversations - contacts writing on WhatsApp, web chat,
Messenger or e-mail, the inbound workflow that asks, looks up and routes, the assignment to an agent, the
conversation and its close - from a scenario file (YAML), with every assignment strategy meeting the very
same contacts. Run a scenario and get its tables and KPIs, compare strategies over many days with
confidence intervals, find the agents each team needs per interval to meet service targets (staff) and a
roster of shifts that covers them (schedule), fit a scenario to a platform's log, and write an HTML report.
A scenario is a file or a shipped name (default, multiskill); strategies are chosen with --strategy,
repeated or comma-separated; each command writes to its --out folder and prints what it found."""

EPILOG = """\
examples:
  convsim run default --strategy round_robin,least_busy --out out/run
  convsim compare default --strategy round_robin,least_busy,skill_based --replications 30
  convsim staff default --target 'service_level>=80%@60s' --target 'abandonment_rate<=5%' --interval 30m
  convsim report out/run

'convsim COMMAND --help' explains a command's options."""


# ----------------------------------------------------------------------------- what every command shares


def _progress(args: argparse.Namespace) -> bool:
    """Progress bars: on a terminal, unless --quiet."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def _info(args: argparse.Namespace, text: str = "") -> None:
    """A line about the run (where the files are, how long it took): left out with --quiet."""
    if not getattr(args, "quiet", False):
        print(text)


def _detail(args: argparse.Namespace, text: str) -> None:
    """A line of more detail, shown with --verbose (on stderr, beside the per-run lines)."""
    if getattr(args, "verbose", False):
        print(f"convsim: {text}", file=sys.stderr)


def _warn(text: str) -> None:
    print(f"convsim: warning: {one_line(text)}", file=sys.stderr)


def _scenario(args: argparse.Namespace) -> scenario_file.Scenario:
    from sim.experiments import options

    scenario = options.scenario(args.scenario)
    agents = sum(spec.count for spec in scenario.agents)
    _detail(args, f"scenario {scenario.name} ({scenario.source}): {scenario.duration / 3600:g} h from "
                  f"{scenario.start}, seed {scenario.seed}, {len(scenario.teams)} team(s), {agents} agent(s)")
    return scenario


# ----------------------------------------------------------------------------- the commands


def _run(args: argparse.Namespace) -> int:
    from sim.experiments import options, runner
    from sim.io import results

    scenario = _scenario(args)
    names = options.strategies(args.strategy) or [scenario.strategy.name]  # fail before running anything
    started = time.perf_counter()
    levelled = scenario.handling.mode == "messages"  # message-level handling streams its messages too
    with results.EventStream(args.out, csv=args.csv) as stream, (
            results.MessageStream(args.out, csv=args.csv) if levelled else contextlib.nullcontext()) as messages:
        result = runner.run(scenario, names, seed=args.seed, progress=_progress(args), event_sink=stream,
                            replications=args.replications, message_sink=messages)
    elapsed = time.perf_counter() - started
    written = stream.paths + (messages.paths if messages else []) + results.write(
        result, args.out, csv=args.csv, events=False, provenance=_provenance(args, scenario))
    print(result.kpis(formatted=True).to_string())
    if args.replications > 1:
        _info(args, f"(means over {args.replications} replications; summary.json holds their 95% intervals)")
    _info(args)
    _info(args, f"{len(result.conversations):,} conversations over {len(result.summary)} run(s) in {elapsed:.2f} s; "
                f"files in {args.out}/: {', '.join(p.name for p in written)}")
    return 0


def _check(args: argparse.Namespace) -> int:
    """Read the scenario and make its run ready, as a run would (its first day of generated arrivals): what
    would be refused is an error, what is most likely a slip a warning, one a line."""
    from sim.engine import compiled
    from sim.model import arrivals
    from sim.model import scenario as scenario_file

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScenarioWarning)
        scenario = scenario_file.load(args.scenario)
        day = scenario.model_copy(update={"duration": min(scenario.duration, 86400.0)})
        trace = arrivals.for_scenario(scenario if scenario.arrivals.trace is not None else day)
        compiled.compile_run(scenario, trace)
    for warning in caught:
        print(f"warning: {one_line(str(warning.message))}")
    agents = sum(spec.count for spec in scenario.agents)
    print(f"{scenario.source}: ok, {len(caught)} warning(s); {len(scenario.teams)} team(s), {agents} agent(s), "
          f"{len(scenario.workflow)} workflow step(s)")
    return 0


def _strategies(args: argparse.Namespace) -> int:
    from strategies import registry

    for kind, title in (("strategy", "agent selection (strategy:)"),
                        ("selection", "conversation selection (selection:)")):
        print(title)
        for name, cls in sorted(registry.available(kind).items()):
            doc = (getattr(cls, "__doc__", "") or "").strip().splitlines()
            print(f"  {name:<22} {doc[0] if doc else ''}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from sim.experiments import api, options
    from sim.io import results

    scenario = _scenario(args)
    named = list(args.strategies or []) + list(args.strategy or [])
    if not options.strategies(named):
        raise ConvsimError("compare: name the strategies to compare with --strategy A,B (the first is the baseline)")
    if args.strategies:
        _warn("--strategies is deprecated: use --strategy A,B (or repeat --strategy); the first is the baseline")
    folder = Path(args.out)
    found = api.compare(scenario, named, args.replications, folder, args.workers, _progress(args), args.scheduler)
    names = found.strategies
    written = results.write_comparison(found.table, folder, names[0], _provenance(args, scenario))
    print(str(found))
    _info(args)
    _info(args, f"{len(names)} strategies x {args.replications} replications; files in {folder}/: "
                f"{', '.join(p.name for p in written)}, runs/")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from sim.experiments import options
    from sim.experiments import replications as experiment
    from sim.io import results
    from sim.model import yamltext

    scenario = _scenario(args)
    spec = yamltext.read(Path(args.grid), "grid")
    if not isinstance(spec, dict) or not isinstance(spec.get("parameters"), dict):
        raise ConvsimError(f"{args.grid}: expected a mapping with 'parameters' (a dotted path: a list of values)")
    unknown = set(spec) - {"parameters", "strategies", "replications"}
    if unknown:
        raise ConvsimError(f"{args.grid}: unknown key(s) {', '.join(sorted(map(repr, map(str, unknown))))}; "
                           "expected parameters, strategies, replications")
    strategies = args.strategy or spec.get("strategies") or [scenario.strategy.name]  # --strategy: the grid's
    strategies = [strategies] if isinstance(strategies, str) else strategies
    replications = spec.get("replications", 10)
    experiment.check_grid(spec["parameters"], replications, strategies, args.grid)
    strategies = options.strategies(strategies)
    folder = Path(args.out)
    table = experiment.sweep(scenario, spec["parameters"], replications, strategies, folder, args.workers,
                             progress=_progress(args), scheduler=args.scheduler)
    results.write_sweep(table, folder, _provenance(args, scenario))
    keys = [*spec["parameters"], "strategy"]
    means = table[table["kpi"].isin(["service_level", "abandonment_rate", "first_response_time_mean"])]
    print(means.pivot_table(index=keys, columns="kpi", values="value", observed=True).round(4).to_string())
    _info(args)
    _info(args, f"{len(table) // table['kpi'].nunique():,} runs; the tidy table is in {folder}/sweep.parquet")
    return 0


def _concurrency(args: argparse.Namespace) -> int:
    from sim.experiments import concurrency, options
    from sim.io import results

    scenario = _scenario(args)
    strategy = options.strategy(args.strategy)
    try:
        caps = sorted({int(cap) for cap in args.caps.split(",") if cap.strip()})
    except ValueError:
        raise ConvsimError(f"--caps: expected whole numbers separated by commas, got {args.caps!r}") from None
    if not caps or caps[0] < 1:
        raise ConvsimError(f"--caps: expected caps of at least 1, got {args.caps!r}")
    folder = Path(args.out)
    table = concurrency.study(scenario, caps, args.replications, strategy, args.workers, progress=_progress(args))
    results.write_concurrency(table, folder, _provenance(args, scenario))
    means = concurrency.summarise(table).pivot_table(index=["cap", "handling"], columns="kpi", values="mean",
                                                     observed=True)
    print(means[[k for k in ("service_level", "first_response_time_mean", "response_time_mean") if k in means]]
          .round(3).to_string())
    _info(args)
    _info(args, f"the tidy table is in {folder}/concurrency.parquet; convsim report {folder} draws it")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from sim.experiments import validation

    started = time.perf_counter()
    table = validation.run(args.size, args.replications, args.workers, progress=_progress(args))
    for line in validation.format_table(table):
        print(line)
    failed = int((~table["passed"]).sum())
    print(f"\n{len(table) - failed} passed, {failed} failed "
          f"(|z| <= {validation.Z_LIMIT:g}; {time.perf_counter() - started:.1f} s)")
    return 1 if failed else 0


def _trace_generate(args: argparse.Namespace) -> int:
    from sim.model import arrivals
    from sim.model.streams import Streams

    scenario = _scenario(args)
    if scenario.arrivals.generate is None:
        raise ConvsimError(f"{args.scenario}: arrivals: the scenario has no generate section to draw from")
    duration = args.days * 86400.0
    rng = Streams(scenario.seed if args.seed is None else args.seed).generator("arrivals")
    trace = arrivals.generate(scenario.arrivals.generate, duration, rng, scenario.start)
    path = arrivals.write(trace, args.out, scenario.start)
    _info(args, f"{len(trace):,} messages from {trace['contact_id'].nunique():,} contacts over {args.days} day(s) "
                f"written to {path}")
    return 0


def fit_destination(log: str | Path) -> Path:
    """Where ``trace fit`` writes its fragment without --out: beside the log, ``NAME.fit.yaml``."""
    log = Path(log)
    return log.with_name(f"{log.stem}.fit.yaml")


def _trace_fit(args: argparse.Namespace) -> int:
    import yaml

    from sim.analysis import calibration
    from sim.experiments import options

    names = options.strategies(args.strategy, "--strategy") if args.strategy else None
    mapping = options.columns(args.columns, "--columns")
    out = Path(args.out) if args.out else fit_destination(args.log)
    log = calibration.select(calibration.read_log(Path(args.log)), names, mapping)
    try:
        start = dt.datetime.fromisoformat(args.start) if args.start else None
    except ValueError:
        raise ConvsimError(f"--start {args.start!r}: expected a date and time such as 2026-11-02T08:00") from None
    fragment, fits = calibration.fit(log, start)
    text = yaml.safe_dump(fragment, sort_keys=False, default_flow_style=None, width=110)
    files.atomic_write(out, lambda p: p.write_text(text))
    if "strategy" in log:
        held = list(dict.fromkeys(log["strategy"].astype(str)))
        _detail(args, f"fitted the runs of {', '.join(held)}" + ("" if args.strategy or len(held) == 1 else
                      " (their arrivals averaged; choose with --strategy)"))
    for name, candidates in fits.items():
        unit = "" if name == "exchanges" else " s"
        print(f"{name}: " + "; ".join(f"{f.family} mean {f.mean:.1f}{unit} sd {f.sd:.1f}{unit} (AIC {f.aic:.1f})"
                                      for f in candidates) + f" -> {candidates[0].family}")
    if "arrivals" in fragment:
        generate = fragment["arrivals"]["generate"]
        print(f"arrivals: {sum(generate['profile']) / 4:,.0f} contacts on an average day, weekday multipliers "
              f"{generate['weekdays']}, overdispersion {generate['overdispersion']}")
    else:
        print(f"silence: {fragment['handling']['messages']['silent_probability']:.1%} of the agent's replies")
    _info(args, f"scenario fragment written to {out}")
    return 0


def _trace_show(args: argparse.Namespace) -> int:
    from sim.experiments import options
    from sim.io import report
    from sim.model import arrivals

    trace = arrivals.read_plain(Path(args.file), options.columns(args.columns, "--columns"))
    stamps = trace["timestamp"]
    span = stamps.max() - stamps.min()
    hours = max(span.total_seconds() / 3600, 1e-9)
    print(f"{args.file}: {len(trace):,} messages from {trace['contact_id'].nunique():,} contacts")
    print(f"span: {stamps.min()} to {stamps.max()} ({span})")
    print(f"rate: {len(trace) / hours:,.1f} messages per hour on average")
    mix = trace["channel"].value_counts(normalize=True)
    print("channels: " + ", ".join(f"{name} {share:.1%}" for name, share in mix.items()))
    png = Path(args.png or Path(args.file).with_suffix(".png"))
    report.save(report.arrival_profile(stamps, f"Arrival profile of {Path(args.file).name}"), png)
    _info(args, f"profile drawn to {png}")
    return 0


def _planning(args: argparse.Namespace) -> dict[str, Any]:
    """The arguments staff and schedule share, as the API takes them (their text parsed there)."""
    return {"targets": args.target, "strategy": args.strategy, "interval": args.interval,
            "replications": args.replications, "confidence": args.confidence, "shrinkage": args.shrinkage,
            "max_occupancy": args.max_occupancy, "cost": args.cost, "fte_hours": args.fte_hours,
            "days_per_week": args.days_per_week, "workers": args.workers, "progress": _progress(args),
            "scheduler": args.scheduler}


def _staff(args: argparse.Namespace) -> int:
    from sim.experiments import api, staffing
    from sim.io import results

    scenario = _scenario(args)
    study = api.staff(scenario, **_planning(args))
    written = results.write_staffing(study, args.out, _provenance(args, scenario))
    for line in staffing.describe(study):
        print(line)
    _info(args)
    _info(args, f"files in {args.out}/: {', '.join(p.name for p in written)}")
    return 0


def _schedule(args: argparse.Namespace) -> int:
    from sim.experiments import api, schedule, staffing
    from sim.io import results

    scenario = _scenario(args)
    templates = schedule.templates(args.templates)
    plan = api.schedule(scenario, shift_templates=templates, repairs=args.repairs, **_planning(args))
    written = results.write_schedule(plan, args.out, _provenance(args, scenario))
    for line in [*staffing.describe(plan.study), "", *schedule.describe(plan)]:
        print(line)
    _info(args)
    _info(args, f"files in {args.out}/: {', '.join(p.name for p in written)}")
    _info(args, f"replay the roster: convsim run {Path(args.out) / 'roster.yaml'}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from sim.io import report

    path = report.build(args.folder, args.title)
    _info(args, f"report written: {path.resolve()}")
    return 0


def _process_log(args: argparse.Namespace) -> int:
    from sim.io import process_log

    path = process_log.export(Path(args.folder), args.format)
    _info(args, f"process log written: {path} (case:concept:name, concept:name, time:timestamp, org:resource, "
                "org:group; pm4py, Disco, ProM and Celonis read it)")
    return 0


# ----------------------------------------------------------------------------- the grammar


def _count(text: str, most: int = 1_000_000) -> int:
    """A command-line count: a whole number from 1 to ``most``."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= most:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {most:,}, got {text!r}")
    return value


def _replications(text: str) -> int:
    from sim.experiments import runner

    return _count(text, runner.MAX_REPLICATIONS)


def _seed(text: str) -> int:
    """A seed: a whole number from 0 to MAX_SEED."""
    from sim.model import scenario as scenario_file

    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= scenario_file.MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to {scenario_file.MAX_SEED}, got {text!r}")
    return value


def _scheduler(text: str) -> str:
    """A Dask scheduler's address (scheme://host:port, host:port) or 'local'."""
    if text != "local" and not re.fullmatch(r"([a-z][a-z0-9+.-]*://)?[^\s:/]+:\d{1,5}/?", text):
        raise argparse.ArgumentTypeError(f"expected 'local' or an address such as tcp://host:8786, got {text!r}")
    return text


def _names(text: str) -> list[str]:
    """--strategy's text: a name, or names separated by commas (text without any is kept as it is, for
    :func:`sim.experiments.options.strategies` to refuse in words, as the API does)."""
    return [name.strip() for name in text.split(",") if name.strip()] or [text]


def _strategy(command: argparse.ArgumentParser, help: str) -> None:
    """--strategy, as every command that chooses strategies reads it: repeated, comma-separated, or both."""
    command.add_argument("--strategy", action="extend", type=_names, metavar="NAME[,NAME...]",
                         help=f"{help}; repeat, or separate names by commas ('convsim strategies' lists them)")


def _executor(command: argparse.ArgumentParser, dask: bool = False) -> None:
    """Where a command's runs go: ``--workers`` local processes, or with ``dask`` also a ``--scheduler``."""
    command.add_argument("--workers", type=_count, default=os.cpu_count() or 1, metavar="N",
                         help="local processes that simulate in parallel (default: the cores)")
    if dask:
        command.add_argument("--scheduler", type=_scheduler, metavar="ADDRESS",
                             help="run on a Dask cluster: its scheduler's address (tcp://host:8786), or 'local'")


def _scenario_argument(command: argparse.ArgumentParser, extra: str = "") -> None:
    command.add_argument("scenario", help="scenario YAML file, or a shipped scenario's name (default, multiskill)"
                         + extra)


def _planning_options(command: argparse.ArgumentParser, out: str) -> None:
    """The options of staff and schedule: targets, the search, shrinkage, occupancy and cost."""
    _scenario_argument(command)
    command.add_argument("--target", action="append", required=True, metavar="TARGET",
                         help="e.g. service_level>=80%%@60s, service_level_from_queue>=0.8@20s, asa_from_queue<=30s, "
                              "abandonment_rate<=5%% (repeat; all must hold)")
    _strategy(command, "the assignment strategy to staff for, one (default: the scenario's)")
    command.add_argument("--interval", metavar="DURATION",
                         help="the planning interval: 15m, 30m or 1h … (default: the scenario's interval)")
    command.add_argument("--replications", type=_count, default=20, metavar="N",
                         help="days simulated per trial (default 20)")
    command.add_argument("--confidence", type=float, default=0.9,
                         help="one-sided confidence that each interval meets the targets (default 0.9)")
    command.add_argument("--shrinkage", default="0", metavar="SHARE",
                         help="share of paid time off the queue, 0.3 or 30%%: scheduled = productive / (1 - shrinkage) "
                              "(default 0)")
    command.add_argument("--max-occupancy", metavar="SHARE",
                         help="at most this share of agents' time busy, 0.85 or 85%% (default: no cap)")
    command.add_argument("--cost", action="append", metavar="[TYPE=]COST",
                         help="cost per agent-hour, for all (25) or an agent type or team (support-es=28); repeat")
    command.add_argument("--fte-hours", type=float, default=40.0, help="paid hours a week of one FTE (default 40)")
    command.add_argument("--days-per-week", type=int, default=7, help="days a week the day is worked (default 7)")
    _executor(command, dask=True)
    command.add_argument("--out", default=out, metavar="FOLDER", help=f"output folder (default {out})")


class _Version(argparse.Action):
    """--version: convsim's version, from the installed package's metadata (read only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"convsim {version()}")
        parser.exit()


def version() -> str:
    """convsim's version, as installed."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("convsim")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _common() -> argparse.ArgumentParser:
    """The global flags, accepted before the command and after it alike."""
    common = argparse.ArgumentParser(add_help=False)
    loudness = common.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                          help="print only the results: no progress bars, no lines about files and times")
    loudness.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                          help="print more: the scenario read, a line per finished run, what was fitted")
    return common


def parser() -> argparse.ArgumentParser:
    common = _common()
    top = argparse.ArgumentParser(prog="convsim", description=DESCRIPTION, epilog=EPILOG, parents=[common],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--version", action=_Version, help="print convsim's version and exit")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                  title="commands", help="what to do (each has its own --help)")

    def command(name: str, help: str, handler: Callable[[argparse.Namespace], int],
                within: Any = commands) -> argparse.ArgumentParser:
        made = within.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".", parents=[common])
        made.set_defaults(handler=handler)
        return made

    run = command("run", "simulate a scenario once per strategy and write the tables", _run)
    _scenario_argument(run)
    _strategy(run, "the strategies to run, each on the same contacts (default: the scenario's)")
    run.add_argument("--seed", type=_seed, help="random seed (default: the scenario's)")
    run.add_argument("--out", default="out", metavar="FOLDER", help="output folder (default: out)")
    run.add_argument("--replications", type=_replications, default=1, metavar="N",
                     help="days simulated per strategy, on seeds seed … seed+N-1 (default 1)")
    run.add_argument("--csv", action="store_true", help="also write every table as CSV")

    check = command("check", "validate a scenario and list what it most likely gets wrong", _check)
    check.add_argument("scenario", help="scenario YAML file")

    compare = command("compare", "strategies on common random numbers, with replications and confidence "
                      "intervals", _compare)
    _scenario_argument(compare)
    _strategy(compare, "the strategies to compare; the first is the baseline of the paired differences")
    compare.add_argument("--strategies", action="extend", type=_names, metavar="A,B",
                         help="deprecated: the same as --strategy A,B")
    compare.add_argument("--replications", type=_replications, default=30, metavar="N",
                         help="days simulated per strategy (default 30)")
    compare.add_argument("--out", default="out/compare", metavar="FOLDER",
                         help="output folder; rerun to resume (default out/compare)")
    _executor(compare, dask=True)

    sweep = command("sweep", "vary scenario parameters over a grid, with replications", _sweep)
    _scenario_argument(sweep)
    sweep.add_argument("--grid", required=True, metavar="FILE",
                       help="YAML: parameters (dotted path: values), replications, strategies")
    _strategy(sweep, "the strategies to run at every point (default: the grid's, else the scenario's)")
    sweep.add_argument("--out", default="out/sweep", metavar="FOLDER",
                       help="output folder; rerun to resume (default out/sweep)")
    _executor(sweep, dask=True)

    chats = command("concurrency", "service and response time against the cap on chats per agent, lumped model "
                    "against message-level handling, on the same arrivals", _concurrency)
    _scenario_argument(chats, ", with handling.handle_time and handling.messages")
    chats.add_argument("--caps", default="1,2,3,4,5,6", help="caps on conversations per agent (default 1,2,3,4,5,6)")
    chats.add_argument("--replications", type=_replications, default=5, metavar="N",
                       help="days per cap and mode (default 5)")
    _strategy(chats, "the assignment strategy, one (default: the scenario's)")
    chats.add_argument("--out", default="out/concurrency", metavar="FOLDER",
                       help="output folder (default out/concurrency)")
    _executor(chats)

    staff = command("staff", "agents needed per team and interval for service targets", _staff)
    _planning_options(staff, "out/staff")
    roster = command("schedule", "a roster of shift templates that meets the targets, by an integer program, "
                     "simulated and repaired", _schedule)
    _planning_options(roster, "out/schedule")
    roster.add_argument("--templates", required=True, metavar="FILE",
                        help="shift templates (YAML: templates: name, length, starts, break, days, min, max)")
    roster.add_argument("--repairs", type=int, default=4,
                        help="rounds of simulating the roster and covering what it misses (default 4)")

    reporting = command("report", "write report.html and figures for an output folder", _report)
    reporting.add_argument("folder", help="the --out folder of run, compare, sweep, concurrency, staff or schedule")
    reporting.add_argument("--title", help="the report's title (default: from the folder's name)")

    mining = command("process-log", "a run's event log in the process-mining layout (pm4py, XES)", _process_log)
    mining.add_argument("folder", help="the --out folder of convsim run (with events.parquet)")
    mining.add_argument("--format", choices=["csv", "parquet", "xes"], default="csv",
                        help="the file's format: csv, parquet or xes (default csv)")

    validate = command("validate", "check the simulator against queueing theory", _validate)
    validate.add_argument("--size", choices=["quick", "full"], default="quick",
                          help="quick (about ten seconds) or full (minutes; narrower intervals)")
    validate.add_argument("--replications", type=_count, metavar="N",
                          help="independent runs per case (default: the size's)")
    _executor(validate)

    trace = commands.add_parser("trace", help="generate, fit or show arrival traces",
                                description="Generate, fit or show arrival traces.", parents=[common])
    traces = trace.add_subparsers(dest="trace_command", required=True, metavar="TRACE_COMMAND",
                                  title="trace commands", help="what to do with a trace (each has its own --help)")
    generate = command("generate", "draw a trace from a scenario's generate section", _trace_generate, traces)
    _scenario_argument(generate)
    generate.add_argument("--days", type=_count, default=1, metavar="N", help="days to draw (default 1)")
    generate.add_argument("--seed", type=_seed, help="random seed (default: the scenario's)")
    generate.add_argument("--out", required=True, metavar="FILE", help="the trace to write: a .csv or .parquet file")
    fit = command("fit", "fit a scenario fragment to a conversation log or a message log", _trace_fit, traces)
    fit.add_argument("log", help="conversations.parquet (ours) or a CSV/Parquet export in that layout; "
                     "messages.parquet (a message log: message-level handling's reply, think times and exchanges)")
    fit.add_argument("--out", metavar="FILE",
                     help="the YAML fragment to write (default: beside the log, its name with .fit.yaml)")
    _strategy(fit, "fit only these strategies' runs of a results folder (default: every run, their arrivals "
                   "averaged, not added up)")
    fit.add_argument("--columns", metavar="OURS=THEIRS,...",
                     help="the export's column names: ours=theirs pairs, comma-separated "
                          "(opened_ts=created_at,outcome=status), as trace show takes them")
    fit.add_argument("--start", help="wall-clock time of opened_at = 0, when the log has no opened_ts")
    show = command("show", "profile a trace file and draw its arrival profile", _trace_show, traces)
    show.add_argument("file", help="the trace: a CSV or Parquet file, a row per inbound message")
    show.add_argument("--columns", metavar="OURS=THEIRS,...",
                      help="our=theirs column names, comma-separated (timestamp=sent_at,contact_id=from)")
    show.add_argument("--png", metavar="FILE", help="where to draw the profile (default: the file's name, .png)")

    command("strategies", "list the strategies that can be named", _strategies)
    return top


def _provenance(args: argparse.Namespace, scenario: scenario_file.Scenario) -> results.Provenance:
    """What the results folder records of this command: the command line and the scenario it ran."""
    from sim.io import results

    return results.Provenance.of(scenario, ["convsim", *args.argv])


# their --out is a results folder, locked while they write it
FOLDER_COMMANDS = ("run", "compare", "sweep", "concurrency", "staff", "schedule")


def one_line(text: str) -> str:
    """A message as one line: control characters (a newline, a terminal escape) shown escaped, never raw."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text.strip())


def _error(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename!r}: {exc.strerror or exc}" if exc.strerror else f"{exc.filename!r}: {exc}"
    return str(exc)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline


class _Escaped(io.TextIOBase):
    """stdout with control characters (a terminal escape in a file's name) shown escaped, never raw."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(_CONTROL.sub(lambda found: repr(found.group())[1:-1], text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def _one_line_warnings(shown: Callable[..., None]) -> Callable[..., None]:
    """``warnings.showwarning`` that prints a scenario's warnings one a line on stderr, as errors are, and
    leaves others to ``shown``."""
    def show(message: Warning | str, category: type[Warning], *rest: object, **more: object) -> None:
        if issubclass(category, ScenarioWarning):
            print(f"convsim: warning: {one_line(str(message))}", file=sys.stderr)
        else:
            shown(message, category, *rest, **more)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    try:
        with contextlib.redirect_stdout(_Escaped(sys.stdout)), warnings.catch_warnings():
            warnings.showwarning = _one_line_warnings(warnings.showwarning)
            return _main(argv)
    except BrokenPipeError:  # the reader went away (convsim strategies | head): stop quietly, as tools do
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        return 141
    except KeyboardInterrupt:  # Ctrl-C: the runs' pools are let go and no partial file is left (sim.files)
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        print("convsim: interrupted", file=sys.stderr)
        return 130


@contextlib.contextmanager
def _reporting(args: argparse.Namespace) -> Iterator[None]:
    """--verbose: the executors write a line per finished run."""
    if not getattr(args, "verbose", False):
        yield
        return
    from sim.experiments.executor import reporting

    with reporting(True):
        yield


def _main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    args.argv = argv
    try:
        for option in ("out", "png", "grid"):
            if getattr(args, option, None) == "":
                raise ConvsimError(f"--{option}: an empty path")
        with _reporting(args):
            if args.command in FOLDER_COMMANDS:
                with files.locked(args.out):
                    return args.handler(args)
            return args.handler(args)
    except (ConvsimError, OSError) as exc:  # OSError: the machine's (a full disk, a read-only folder …)
        if isinstance(exc, BrokenPipeError) and exc.filename is None:
            raise  # stdout's reader went away (an output FIFO's names its file)
        print(f"convsim: error: {one_line(_error(exc))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
