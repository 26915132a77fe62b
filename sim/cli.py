"""The ``convsim`` command."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sim import files
from sim.analysis import comparison
from sim.errors import ConvsimError
from sim.experiments import runner
from sim.files import atomic_write
from sim.io import results
from sim.model import scenario as scenario_file
from sim.model.streams import Streams
from strategies import registry

if TYPE_CHECKING:
    from sim.experiments import staffing


def _run(args: argparse.Namespace) -> int:
    scenario = scenario_file.load(args.scenario)
    names = args.strategy or [scenario.strategy.name]
    for name in args.strategy or ():  # fail before running anything
        registry.resolve(name)
    started = time.perf_counter()
    levelled = scenario.handling.mode == "messages"  # message-level handling streams its messages too
    with results.EventStream(args.out, csv=args.csv) as stream, (
            results.MessageStream(args.out, csv=args.csv) if levelled else contextlib.nullcontext()) as messages:
        result = runner.run(scenario, names, seed=args.seed, progress=True, event_sink=stream,
                            replications=args.replications, message_sink=messages)
    elapsed = time.perf_counter() - started
    written = stream.paths + (messages.paths if messages else []) + results.write(
        result, args.out, csv=args.csv, events=False, provenance=_provenance(args, scenario))
    print(result.kpis(formatted=True).to_string())
    if args.replications > 1:
        print(f"(means over {args.replications} replications; summary.json holds their 95% intervals)")
    print(f"\n{len(result.conversations):,} conversations over {len(result.summary)} run(s) in {elapsed:.2f} s; "
          f"files in {args.out}/: {', '.join(p.name for p in written)}")
    return 0


def _strategies(args: argparse.Namespace) -> int:
    for kind, title in (("strategy", "agent selection (strategy:)"),
                        ("selection", "conversation selection (selection:)")):
        print(title)
        for name, cls in sorted(registry.available(kind).items()):
            doc = (getattr(cls, "__doc__", "") or "").strip().splitlines()
            print(f"  {name:<22} {doc[0] if doc else ''}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from sim.experiments import replications as experiment

    scenario = scenario_file.load(args.scenario)
    names = [name.strip() for name in args.strategies.split(",") if name.strip()]
    if not names:
        raise ConvsimError(f"--strategies {args.strategies!r}: name at least one strategy (comma-separated)")
    for name in names:
        registry.resolve(name)
    folder = Path(args.out)
    table = experiment.replicate(scenario, names, args.replications, folder, args.workers, progress=True,
                                 scheduler=args.scheduler)
    written = results.write_comparison(table, folder, names[0], _provenance(args, scenario))
    for line in comparison.format_comparison(comparison.compare(table, names[0]), names[0]):
        print(line)
    print(f"\n{len(names)} strategies x {args.replications} replications; files in {folder}/: "
          f"{', '.join(p.name for p in written)}, runs/")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from sim.experiments import replications as experiment
    from sim.model import yamltext

    scenario = scenario_file.load(args.scenario)
    spec = yamltext.read(Path(args.grid), "grid")
    if not isinstance(spec, dict) or not isinstance(spec.get("parameters"), dict):
        raise ConvsimError(f"{args.grid}: expected a mapping with 'parameters' (a dotted path: a list of values)")
    unknown = set(spec) - {"parameters", "strategies", "replications"}
    if unknown:
        raise ConvsimError(f"{args.grid}: unknown key(s) {', '.join(sorted(map(repr, map(str, unknown))))}; "
                           "expected parameters, strategies, replications")
    strategies = spec.get("strategies") or [scenario.strategy.name]
    strategies = [strategies] if isinstance(strategies, str) else strategies
    replications = spec.get("replications", 10)
    experiment.check_grid(spec["parameters"], replications, strategies, args.grid)
    for name in strategies:
        registry.resolve(name)
    folder = Path(args.out)
    table = experiment.sweep(scenario, spec["parameters"], replications, strategies, folder, args.workers,
                             progress=True, scheduler=args.scheduler)
    results.write_sweep(table, folder, _provenance(args, scenario))
    keys = [*spec["parameters"], "strategy"]
    means = table[table["kpi"].isin(["service_level", "abandonment_rate", "first_response_time_mean"])]
    print(means.pivot_table(index=keys, columns="kpi", values="value", observed=True).round(4).to_string())
    print(f"\n{len(table) // table['kpi'].nunique():,} runs; the tidy table is in {folder}/sweep.parquet")
    return 0


def _concurrency(args: argparse.Namespace) -> int:
    from sim.experiments import concurrency

    scenario = scenario_file.load(args.scenario)
    try:
        caps = sorted({int(cap) for cap in args.caps.split(",") if cap.strip()})
    except ValueError:
        raise ConvsimError(f"--caps: expected whole numbers separated by commas, got {args.caps!r}") from None
    if not caps or caps[0] < 1:
        raise ConvsimError(f"--caps: expected caps of at least 1, got {args.caps!r}")
    folder = Path(args.out)
    table = concurrency.study(scenario, caps, args.replications, args.strategy, args.workers, progress=True)
    results.write_concurrency(table, folder, _provenance(args, scenario))
    means = concurrency.summarise(table).pivot_table(index=["cap", "handling"], columns="kpi", values="mean",
                                                     observed=True)
    print(means[[k for k in ("service_level", "first_response_time_mean", "response_time_mean") if k in means]]
          .round(3).to_string())
    print(f"\nthe tidy table is in {folder}/concurrency.parquet; convsim report {folder} draws it")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from sim.experiments import validation

    started = time.perf_counter()
    table = validation.run(args.size, args.replications, args.workers, progress=True)
    for line in validation.format_table(table):
        print(line)
    failed = int((~table["passed"]).sum())
    print(f"\n{len(table) - failed} passed, {failed} failed "
          f"(|z| <= {validation.Z_LIMIT:g}; {time.perf_counter() - started:.1f} s)")
    return 1 if failed else 0


def _trace_generate(args: argparse.Namespace) -> int:
    from sim.model import arrivals

    scenario = scenario_file.load(args.scenario)
    if scenario.arrivals.generate is None:
        raise ConvsimError(f"{args.scenario}: arrivals: the scenario has no generate section to draw from")
    duration = args.days * 86400.0
    rng = Streams(scenario.seed if args.seed is None else args.seed).generator("arrivals")
    trace = arrivals.generate(scenario.arrivals.generate, duration, rng, scenario.start)
    path = arrivals.write(trace, args.out, scenario.start)
    print(f"{len(trace):,} messages from {trace['contact_id'].nunique():,} contacts over {args.days} day(s) "
          f"written to {path}")
    return 0


def _trace_fit(args: argparse.Namespace) -> int:
    import yaml

    from sim.analysis import calibration

    log = calibration.read_log(Path(args.log))
    try:
        start = dt.datetime.fromisoformat(args.start) if args.start else None
    except ValueError:
        raise ConvsimError(f"--start {args.start!r}: expected a date and time such as 2026-11-02T08:00") from None
    fragment, fits = calibration.fit(log, start)
    text = yaml.safe_dump(fragment, sort_keys=False, default_flow_style=None, width=110)
    atomic_write(Path(args.out), lambda p: p.write_text(text))
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
    print(f"scenario fragment written to {args.out}")
    return 0


def _trace_show(args: argparse.Namespace) -> int:
    from sim.io import report
    from sim.model import arrivals

    pairs = [item.split("=", 1) for item in args.columns.split(",")] if args.columns else []
    if any(len(pair) != 2 or not all(pair) for pair in pairs):
        raise ConvsimError(f"--columns {args.columns!r}: expected our=theirs pairs, comma-separated "
                           "(timestamp=sent_at,contact_id=from)")
    columns = dict(pairs)
    trace = arrivals.read_plain(Path(args.file), columns)
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
    print(f"profile drawn to {png}")
    return 0


def _planned(args: argparse.Namespace) -> tuple[list[staffing.Target], scenario_file.Scenario, float | None,
                                                  staffing.Planning]:
    """What staff and schedule share: the targets, the scenario, the interval and the planning settings."""
    from sim import units
    from sim.experiments import staffing

    targets = [staffing.Target.parse(text) for text in args.target]
    scenario = scenario_file.load(args.scenario)
    if args.strategy:
        registry.resolve(args.strategy)
    try:
        interval = units.duration(args.interval) if args.interval else None
    except (ValueError, TypeError) as exc:
        raise ConvsimError(f"--interval {args.interval!r}: {exc}") from None
    width = scenario.interval if interval is None else interval
    if width < 60:  # checked before the study runs, not after it
        where = f"--interval {args.interval!r}" if interval is not None else f"{scenario.source}: interval"
        raise ConvsimError(f"{where}: {width:g} s is under a minute; staffing intervals are 15m, 30m, 1h …")
    cost = {}
    for text in args.cost or ():
        kind, _, amount = text.rpartition("=")
        try:
            cost[kind or "*"] = float(amount)
        except ValueError:
            raise ConvsimError(f"--cost {text!r}: expected a cost per agent-hour (25) or TYPE=COST "
                               "(support-es=28; TYPE an agent group id or a team)") from None
    unknown = set(cost) - {"*", *scenario.teams, *(spec.id for spec in scenario.agents)}
    if unknown:
        raise ConvsimError(f"--cost: unknown agent type(s) {', '.join(sorted(unknown))}; the scenario's: "
                           f"{', '.join(spec.id for spec in scenario.agents)} (or a team)")
    planning = staffing.Planning(args.shrinkage, args.max_occupancy, cost, args.fte_hours, args.days_per_week)
    return targets, scenario, interval, planning


def _staff(args: argparse.Namespace) -> int:
    from sim.experiments import staffing

    targets, scenario, interval, planning = _planned(args)
    study = staffing.requirement(scenario, targets, args.strategy, interval, args.replications, args.confidence,
                                 args.workers, progress=True, scheduler=args.scheduler, planning=planning)
    written = results.write_staffing(study, args.out, _provenance(args, scenario))
    for line in staffing.describe(study):
        print(line)
    print(f"\nfiles in {args.out}/: {', '.join(p.name for p in written)}")
    return 0


def _schedule(args: argparse.Namespace) -> int:
    from sim.experiments import schedule, staffing

    targets, scenario, interval, planning = _planned(args)
    templates = schedule.templates(args.templates)
    plan = schedule.schedule(scenario, targets, templates, args.strategy, interval, args.replications,
                             args.confidence, planning, args.repairs, args.workers, progress=True,
                             scheduler=args.scheduler)
    written = results.write_schedule(plan, args.out, _provenance(args, scenario))
    for line in [*staffing.describe(plan.study), "", *schedule.describe(plan)]:
        print(line)
    print(f"\nfiles in {args.out}/: {', '.join(p.name for p in written)}")
    print(f"replay the roster: convsim run {Path(args.out) / 'roster.yaml'}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from sim.io import report

    path = report.build(args.folder, args.title)
    print(f"report written: {path.resolve()}")
    return 0


def _process_log(args: argparse.Namespace) -> int:
    from sim.io import process_log

    path = process_log.export(Path(args.folder), args.format)
    print(f"process log written: {path} (case:concept:name, concept:name, time:timestamp, org:resource, "
          "org:group; pm4py, Disco, ProM and Celonis read it)")
    return 0


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
    return _count(text, runner.MAX_REPLICATIONS)


def _seed(text: str) -> int:
    """A seed: a whole number from 0 to MAX_SEED."""
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


def _executor(command: argparse.ArgumentParser, dask: bool = False) -> None:
    """Where a command's runs go: ``--workers`` local processes, or with ``dask`` also a ``--scheduler``."""
    command.add_argument("--workers", type=_count, default=os.cpu_count() or 1, help="processes (default: cores)")
    if dask:
        command.add_argument("--scheduler", type=_scheduler,
                             help="a Dask scheduler's address (tcp://host:port), or 'local'")


def _share(text: str) -> float:
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share such as 0.3 or 30%, got {text!r}") from None


def _planning(command: argparse.ArgumentParser, out: str) -> None:
    """The options of staff and schedule: targets, the search, shrinkage, occupancy and cost."""
    command.add_argument("scenario")
    command.add_argument("--target", action="append", required=True, metavar="TARGET",
                         help="e.g. service_level>=0.8@60s, service_level_from_queue>=0.8@20s, asa_from_queue<=30s, "
                              "abandonment_rate<=0.05 (repeat; all must hold)")
    command.add_argument("--strategy", help="assignment strategy (default: the scenario's)")
    command.add_argument("--interval", help="15m, 30m or 1h … (default: the scenario's interval)")
    command.add_argument("--replications", type=_count, default=20, help="days simulated per trial (default 20)")
    command.add_argument("--confidence", type=float, default=0.9,
                         help="one-sided confidence that each interval meets the targets (default 0.9)")
    command.add_argument("--shrinkage", type=_share, default=0.0,
                         help="share of paid time off the queue: scheduled = productive / (1 - shrinkage) (default 0)")
    command.add_argument("--max-occupancy", type=_share, help="at most this share of agents' time busy (e.g. 0.85)")
    command.add_argument("--cost", action="append", metavar="[TYPE=]COST",
                         help="cost per agent-hour, for all (25) or an agent type or team (support-es=28); repeat")
    command.add_argument("--fte-hours", type=float, default=40.0, help="paid hours a week of one FTE (default 40)")
    command.add_argument("--days-per-week", type=int, default=7, help="days a week the day is worked (default 7)")
    _executor(command, dask=True)
    command.add_argument("--out", default=out, help=f"output folder (default {out})")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="convsim", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="simulate a scenario once per strategy and write the tables")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--strategy", action="append", metavar="NAME",
                     help="strategy to run (repeat for several; default: the scenario's)")
    run.add_argument("--seed", type=_seed, help="random seed (default: the scenario's)")
    run.add_argument("--out", default="out", help="output folder (default: out)")
    run.add_argument("--replications", type=_replications, default=1, metavar="N",
                     help="days simulated per strategy, on seeds seed … seed+N-1 (default 1)")
    run.add_argument("--csv", action="store_true", help="also write every table as CSV")
    run.set_defaults(handler=_run)
    compare = commands.add_parser("compare", help="strategies on common random numbers, with replications")
    compare.add_argument("scenario")
    compare.add_argument("--strategies", required=True, help="comma-separated; the first is the baseline")
    compare.add_argument("--replications", type=_replications, default=30)
    compare.add_argument("--out", default="out/compare", help="output folder; rerun to resume (default out/compare)")
    _executor(compare, dask=True)
    compare.set_defaults(handler=_compare)
    sweep = commands.add_parser("sweep", help="vary scenario parameters over a grid, with replications")
    sweep.add_argument("scenario")
    sweep.add_argument("--grid", required=True, help="YAML: parameters (dotted path: values), replications, strategies")
    sweep.add_argument("--out", default="out/sweep", help="output folder; rerun to resume (default out/sweep)")
    _executor(sweep, dask=True)
    sweep.set_defaults(handler=_sweep)
    chats = commands.add_parser("concurrency", help="service and response time against the cap on chats per "
                                "agent, lumped model against message-level handling, on the same arrivals")
    chats.add_argument("scenario", help="scenario YAML file, with handling.handle_time and handling.messages")
    chats.add_argument("--caps", default="1,2,3,4,5,6", help="caps on conversations per agent (default 1,2,3,4,5,6)")
    chats.add_argument("--replications", type=_replications, default=5, help="days per cap and mode (default 5)")
    chats.add_argument("--strategy", help="assignment strategy (default: the scenario's)")
    chats.add_argument("--out", default="out/concurrency", help="output folder (default out/concurrency)")
    _executor(chats)
    chats.set_defaults(handler=_concurrency)
    staff = commands.add_parser("staff", help="agents needed per team and interval for service targets")
    _planning(staff, "out/staff")
    staff.set_defaults(handler=_staff)
    roster = commands.add_parser("schedule", help="a roster of shift templates that meets the targets, "
                                 "by an integer program, simulated and repaired")
    _planning(roster, "out/schedule")
    roster.add_argument("--templates", required=True, metavar="FILE",
                        help="shift templates (YAML: templates: name, length, starts, break, days, min, max)")
    roster.add_argument("--repairs", type=int, default=4,
                        help="rounds of simulating the roster and covering what it misses (default 4)")
    roster.set_defaults(handler=_schedule)
    reporting = commands.add_parser("report", help="write report.html and figures for an output folder")
    reporting.add_argument("folder", help="the --out folder of run, compare, sweep or staff")
    reporting.add_argument("--title", help="the report's title (default: from the folder's name)")
    reporting.set_defaults(handler=_report)
    mining = commands.add_parser("process-log", help="a run's event log in the process-mining layout (pm4py, XES)")
    mining.add_argument("folder", help="the --out folder of convsim run (with events.parquet)")
    mining.add_argument("--format", choices=["csv", "parquet", "xes"], default="csv", help="default csv")
    mining.set_defaults(handler=_process_log)
    validate = commands.add_parser("validate", help="check the simulator against queueing theory")
    validate.add_argument("--size", choices=["quick", "full"], default="quick",
                          help="quick (about ten seconds) or full (minutes; narrower intervals)")
    validate.add_argument("--replications", type=_count, help="independent runs per case")
    _executor(validate)
    validate.set_defaults(handler=_validate)
    trace = commands.add_parser("trace", help="generate, fit or show arrival traces")
    traces = trace.add_subparsers(dest="trace_command", required=True)
    generate = traces.add_parser("generate", help="draw a trace from a scenario's generate section")
    generate.add_argument("scenario")
    generate.add_argument("--days", type=_count, default=1)
    generate.add_argument("--seed", type=_seed)
    generate.add_argument("--out", required=True, help="a .csv or .parquet file")
    generate.set_defaults(handler=_trace_generate)
    fit = traces.add_parser("fit", help="fit a scenario fragment to a conversation log or a message log")
    fit.add_argument("log", help="conversations.parquet (ours) or a CSV/Parquet export in that layout; "
                     "messages.parquet (a message log: message-level handling's reply, think times and exchanges)")
    fit.add_argument("--out", required=True, help="the YAML fragment to write")
    fit.add_argument("--start", help="wall-clock time of opened_at = 0, when the log has no opened_ts")
    fit.set_defaults(handler=_trace_fit)
    show = traces.add_parser("show", help="profile a trace file and draw its arrival profile")
    show.add_argument("file")
    show.add_argument("--columns", help="our=theirs column names, comma-separated (timestamp=sent_at,...)")
    show.add_argument("--png", help="where to draw the profile (default: the file's name, .png)")
    show.set_defaults(handler=_trace_show)
    listing = commands.add_parser("strategies", help="list the strategies that can be named")
    listing.set_defaults(handler=_strategies)
    return top


def _provenance(args: argparse.Namespace, scenario: scenario_file.Scenario) -> results.Provenance:
    """What the results folder records of this command: the command line and the scenario it ran."""
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


def main(argv: Sequence[str] | None = None) -> int:
    try:
        with contextlib.redirect_stdout(_Escaped(sys.stdout)):
            return _main(argv)
    except BrokenPipeError:  # the reader went away (convsim strategies | head): stop quietly, as tools do
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        return 141


def _main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    args.argv = argv
    try:
        for option in ("out", "png", "grid"):
            if getattr(args, option, None) == "":
                raise ConvsimError(f"--{option}: an empty path")
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
