"""One benchmark measurement, run in a fresh process so that its peak memory is its own.

    python benchmarks/cases.py CASE '{"json": "arguments"}'

prints one JSON line: wall seconds, items simulated, peak resident memory, and case-specific figures.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

MEAN_SERVICE = 300.0  # seconds
LOAD = 0.9


def _mmc_rates(c: int) -> tuple[float, float]:
    mu = 1 / MEAN_SERVICE
    return LOAD * c * mu, mu


def mmc_ours(c: int, n: int, patience: float | None, seed: int) -> dict[str, Any]:
    """Our simulator in M/M/c mode: capacity 1, a workflow of one assign step, no delays."""
    import sim

    lam, _ = _mmc_rates(c)
    data = {
        "duration": n / lam, "seed": seed, "channels": ["chat"], "record_events": False,
        "arrivals": {"generate": {"profile": [lam * 3600], "channels": {"chat": 1}}},
        "handling": {"handle_time": {"dist": "exponential", "mean": MEAN_SERVICE}},
        "teams": {"queue": {}}, "agents": [{"id": "agent", "count": c, "team": "queue"}],
        "workflow": [{"type": "assign"}], "strategy": "round_robin",
    }
    if patience is not None:
        data["contacts"] = {"patience": {"dist": "exponential", "mean": patience}}
    scenario = sim.parse(data)
    simulate = sim.simulate  # imported here, not timed (sim's API is imported on first use)
    started = time.perf_counter()
    records = simulate(scenario, check=False)
    return {"seconds": time.perf_counter() - started, "items": len(records.conversations["id"])}


def mmc_simpy(c: int, n: int, patience: float | None, seed: int) -> dict[str, Any]:
    """The floor: a bare SimPy M/M/c(+M) model, a Resource and one process per customer, waits kept."""
    import simpy

    lam, mu = _mmc_rates(c)
    rng = random.Random(seed)
    env = simpy.Environment()
    agents = simpy.Resource(env, c)
    waits: list[float] = []

    def customer() -> Any:
        arrived = env.now
        with agents.request() as request:
            if patience is None:
                yield request
            else:
                outcome = yield request | env.timeout(rng.expovariate(1 / patience))
                if request not in outcome:
                    return  # abandoned
            waits.append(env.now - arrived)
            yield env.timeout(rng.expovariate(mu))

    def source() -> Any:
        for _ in range(n):
            yield env.timeout(rng.expovariate(lam))
            env.process(customer())

    started = time.perf_counter()
    env.process(source())
    env.run()
    return {"seconds": time.perf_counter() - started, "items": n}


def mmc_ciw(c: int, n: int, patience: float | None, seed: int) -> dict[str, Any]:
    """Ciw on the same parameters, records kept as Ciw always keeps them."""
    import ciw

    lam, mu = _mmc_rates(c)
    options: dict[str, Any] = {}
    if patience is not None:
        options["reneging_time_distributions"] = [ciw.dists.Exponential(rate=1 / patience)]
    network = ciw.create_network(arrival_distributions=[ciw.dists.Exponential(rate=lam)],
                                 service_distributions=[ciw.dists.Exponential(rate=mu)],
                                 number_of_servers=[c], **options)
    ciw.seed(seed)
    started = time.perf_counter()
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_customers(n, method="Arrive")
    return {"seconds": time.perf_counter() - started, "items": n}


def _scaled_default(conversations: int, events: bool) -> Any:
    import sim

    scenario = sim.load(Path(__file__).resolve().parent.parent / "scenarios" / "default.yaml")
    per_day = 1632  # conversations of the default day, measured
    days = max(1, round(conversations / per_day))
    return scenario.model_copy(update={"duration": days * 86400.0, "record_events": events})


MESSAGES = {  # the default day in message-level handling: about ten exchanges a conversation
    "reply_time": {"dist": "lognormal", "mean": "20s", "sd": "15s"},
    "think_time": {"dist": "lognormal", "mean": "45s", "sd": "40s"},
    "exchanges": {"dist": "lognormal", "mean": 11, "sd": 4},
    "silent_probability": 0.01,
}


def _messages(scenario: Any) -> Any:
    """The scenario with message-level handling (the default day's turns: :data:`MESSAGES`)."""
    from sim.model.scenario import Messages

    handling = scenario.handling.model_copy(update={"mode": "messages", "messages": Messages.model_validate(MESSAGES)})
    return scenario.model_copy(update={"handling": handling})


def _scaled_month(conversations: int, events: bool) -> Any:
    """The default scenario over 30 days, its volume and its agents multiplied to reach ``conversations``."""
    import sim

    scenario = sim.load(Path(__file__).resolve().parent.parent / "scenarios" / "default.yaml")
    factor = conversations / (30 * 1632)
    generate = scenario.arrivals.generate.model_copy(update={"volume": factor})
    agents = [a.model_copy(update={"count": max(1, round(a.count * factor))}) for a in scenario.agents]
    return scenario.model_copy(update={"duration": 30 * 86400.0, "record_events": events, "agents": agents,
                                       "arrivals": scenario.arrivals.model_copy(update={"generate": generate})})


def write_trace(conversations: int, seed: int, path: str) -> dict[str, Any]:
    """The arrivals :func:`lifecycle` generates for ``conversations`` and ``seed``, written as a trace file
    (ISO timestamps, as a platform's export has them) — in its own process, so that drawing them does not
    count in the replaying process's peak memory."""
    from sim.model import arrivals

    scenario = _scaled_default(conversations, False)
    trace = arrivals.for_scenario(scenario, seed)
    arrivals.write(trace, path, scenario.start)
    return {"items": len(trace)}


def _replaying(scenario: Any, conversations: int, seed: int, folder: str) -> Any:
    """The scenario with its generated arrivals replaced by the same arrivals read from a Parquet trace."""
    from sim.model.scenario import Arrivals, TraceFile

    path = Path(folder) / "trace.parquet"
    subprocess.run([sys.executable, __file__, "write_trace",
                    json.dumps({"conversations": conversations, "seed": seed, "path": str(path)})],
                   check=True, capture_output=True)
    return scenario.model_copy(update={"arrivals": Arrivals(trace=TraceFile(path=str(path)))})


def lifecycle(conversations: int, events: bool, seed: int, month: bool = False,
              messages: bool = False, replay: bool = False) -> dict[str, Any]:
    """The default scenario repeated day after day: every step, shift, return and table, files written;
    with ``messages``, in message-level handling (its messages table written too); with ``replay``, the
    same arrivals read from a Parquet trace file (written first, by another process) instead of drawn.

    The event log, when kept, is streamed to a Parquet file as it is produced."""
    from sim import memory
    from sim.analysis import metrics
    from sim.analysis.result import tables
    from sim.engine.compiled import compile_run
    from sim.engine.world import World
    from sim.io import results as output
    from sim.model import arrivals

    scenario = (_scaled_month if month else _scaled_default)(conversations, events)
    if messages:
        scenario = _messages(scenario)
    with tempfile.TemporaryDirectory() as folder, output.EventStream(folder) as stream:
        if replay:
            scenario = _replaying(scenario, conversations, seed, folder)
        started = time.perf_counter()
        trace = arrivals.for_scenario(scenario, seed)
        sink = (lambda columns, info: stream(metrics.events(columns, info))) if events else None
        world = World(compile_run(scenario, trace, None, seed), sink, check=False)
        del trace  # compiled into arrays: let go of before the run, as sim.simulate does
        memory.release()
        world.run()
        simulated = time.perf_counter()
        records = world.records()
        result = tables(records)
        output.write(result, folder, events=False)
    done = time.perf_counter()
    n = len(records.conversations["id"])
    figures = {"seconds": done - started, "simulate_seconds": simulated - started, "items": n,
               "simpy_events": next(world.env._eid) / n}
    if messages:
        handled = records.conversations["exchanges"] > 0
        figures["replies"] = float(records.conversations["exchanges"][handled].mean())  # per conversation answered
    return figures


def _one_run(seed: int) -> float:
    import sim

    result = sim.run(Path(__file__).resolve().parent.parent / "scenarios" / "default.yaml", seed=seed)
    return float(result.summary.loc[0, "service_level"])


def sweep(runs: int, workers: int, seed: int) -> dict[str, Any]:
    """Independent runs of the default day (one seed each) on a pool of worker processes."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_one_run, range(workers)))  # start every worker and import everything first
        started = time.perf_counter()
        list(pool.map(_one_run, range(seed, seed + runs)))
        return {"seconds": time.perf_counter() - started, "items": runs}


def trace_load(rows: int, suffix: str, seed: int) -> dict[str, Any]:
    """Loading an exported trace of ``rows`` messages (made first, not timed) through the full checks."""
    import sim
    from sim.model import arrivals
    from sim.model.streams import Streams

    scenario = sim.load(Path(__file__).resolve().parent.parent / "scenarios" / "default.yaml")
    spec = scenario.arrivals.generate
    days = max(1, round(rows / 3200))  # the default day has about 3,200 messages
    trace = arrivals.generate(spec, days * 86400.0, Streams(seed).generator("arrivals"), scenario.start)
    with tempfile.TemporaryDirectory() as folder:
        path = arrivals.write(trace, Path(folder) / f"trace.{suffix}", scenario.start)
        long = scenario.model_copy(update={"duration": days * 86400.0})
        started = time.perf_counter()
        loaded = arrivals.load(path, long, sim.model.scenario.TraceFile(path=str(path)))
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "items": len(loaded)}


def staffing_study(replications: int, workers: int, seed: int) -> dict[str, Any]:
    """A staffing study of the default day: 30-minute intervals, 80 % in 60 s and at most 5 % abandoning."""
    import sim
    from sim.experiments import staffing

    scenario = sim.load(Path(__file__).resolve().parent.parent / "scenarios" / "default.yaml")
    targets = [staffing.Target.parse("service_level>=0.8@60s"), staffing.Target.parse("abandonment_rate<=0.05")]
    started = time.perf_counter()
    study = staffing.requirement(scenario.model_copy(update={"seed": seed}), targets, interval=1800,
                                 replications=replications, workers=workers)
    return {"seconds": time.perf_counter() - started, "items": study.settings["simulated_days"],
            "rounds": study.settings["rounds"]}


def multiskill(days: int, seed: int) -> dict[str, Any]:
    """The multi-skill scenario (types × groups, overflow, longest-waiting selection, headcount tables),
    ``days`` of it in one run, invariants off."""
    import sim
    from sim.experiments.replications import with_values
    from sim.model import arrivals

    scenario = sim.load(Path(__file__).resolve().parent.parent / "scenarios" / "multiskill.yaml")
    scenario = with_values(scenario, {"duration": days * 86400.0, "drain": False, "record_events": False})
    trace = arrivals.for_scenario(scenario, seed)
    simulate = sim.simulate
    started = time.perf_counter()
    records = simulate(scenario, seed=seed, trace=trace, check=False)
    return {"seconds": time.perf_counter() - started, "items": len(records.conversations["id"])}


CASES: dict[str, Callable[..., dict[str, Any]]] = {
    "mmc_ours": mmc_ours, "mmc_simpy": mmc_simpy, "mmc_ciw": mmc_ciw, "lifecycle": lifecycle, "sweep": sweep,
    "trace_load": trace_load, "staffing_study": staffing_study, "multiskill": multiskill,
    "write_trace": write_trace,
}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    figures = CASES[sys.argv[1]](**json.loads(sys.argv[2]))
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))
