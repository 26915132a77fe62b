"""Compile, then run: a scenario, its arrival trace and a seed become everything one run needs.

:func:`compile_run` turns the trace into compact arrays, builds the teams and agents with their shifts,
makes the run's strategy instances and workflow steps, and draws nothing yet (each random quantity is a
stream keyed to its purpose, read by conversation). Every scenario error is raised here, before anything
runs; the world (:mod:`sim.engine.world`) then holds the dynamics only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim import units
from sim.engine.entities import INF, Agent, Attribute, ChatAgent, Group, Team
from sim.engine.handling import MessageDraws
from sim.engine.records import RunInfo
from sim.engine.workflow import Workflow
from sim.errors import ScenarioError, StrategyError, TraceError
from sim.model.arrivals import GIVEN
from sim.model.distributions import Constant
from sim.model.scenario import Ask, ByCase, Scenario
from sim.model.streams import Draws, Fixed, Given, Streams, uniform
from strategies import Selection, Strategy
from strategies import registry as strategy_registry


@dataclass
class CompiledRun:
    """One run, ready to simulate: the trace as arrays, teams, agents and shifts, strategies, the
    workflow, and the contacts' draws (patience, silence, returns)."""

    scenario: Scenario
    seed: int
    strategy_name: str
    streams: Streams
    trace_time: np.ndarray
    trace_contact: np.ndarray
    trace_channel: np.ndarray
    contact_ids: pd.Index  # contact ids by index; contacts only the business writes to come last
    contact_index: dict[str, int]  # outbound contacts' indices
    channels: list[str]
    given: dict[str, list[float]]  # trace columns that replace drawn values
    attributes: dict[str, Attribute]  # the trace's contact attributes
    known_fields: list[tuple[str, Attribute]]  # attributes the platform knows at opening
    learnable_fields: tuple[str, ...]  # fields a conversation may come to know
    teams: dict[str, Team]
    agents: list[Agent]
    shifts: list[list[tuple[float, float]]]  # per agent: online spans by its shifts (none: by headcount)
    groups: list[tuple[Group, list[tuple[float, int]]]]  # headcount groups: (start, agents online) changes
    default_strategy: Strategy
    selection: Selection
    channel_weights: list[float] | None  # capacity units per channel (INF: all); None: one each
    workflow: Workflow
    patience: Draws | Fixed | Given | CaseDraws | None
    silent: Draws | None
    return_draw: Draws | None
    return_delay: Draws | Fixed | None
    messages: MessageDraws | None = None  # message-level handling's draws (turns, exchanges, silence)

    @property
    def info(self) -> RunInfo:
        """What the run is, and the names its records' codes stand for."""
        scenario = self.scenario
        return RunInfo(strategy=self.strategy_name, seed=self.seed, start=scenario.start, duration=scenario.duration,
                       interval=scenario.interval, service_target=scenario.service_target, warmup=scenario.warmup,
                       contact_ids=self.contact_ids, channels=self.channels, teams=list(self.teams),
                       agent_ids=[a.id for a in self.agents], handling=scenario.handling.mode)


class CaseDraws:
    """Draws whose distribution depends on the conversation: the first case whose contact attributes,
    channel and hours of the day (at opening) match, each case with a stream of its own."""

    __slots__ = ("cases", "offset", "otherwise")

    def __init__(self, cases: list[tuple[list[tuple[Attribute | None, frozenset[str]]], tuple[float, float] | None,
                                         Draws | Fixed]], otherwise: Draws | Fixed, offset: float) -> None:
        self.cases = cases
        self.otherwise = otherwise
        self.offset = offset  # time of day at t = 0

    def of(self, conversation: Any) -> float:
        for conditions, hours, draws in self.cases:
            if hours is not None:
                clock = (self.offset + conversation.opened_at) % 86400.0
                if not (hours[0] <= clock < hours[1] or hours[0] <= clock + 86400.0 < hours[1]):
                    continue
            for attribute, values in conditions:
                value = conversation.channel if attribute is None else attribute.of(conversation.root)
                if value not in values:
                    break
            else:
                return draws.of(conversation)
        return self.otherwise.of(conversation)


class _Strategies:
    """One instance per distinct strategy and parameters in a run, fresh for every run."""

    def __init__(self, streams: Streams, source: str) -> None:
        self.streams = streams
        self.source = source
        self.made: dict[tuple[str, str], Strategy] = {}

    def __call__(self, name: str, params: dict[str, Any]) -> Strategy:
        key = (name, repr(sorted(params.items())))
        if key not in self.made:
            try:
                strategy = strategy_registry.make(name, params)
            except StrategyError as exc:
                raise ScenarioError(f"{self.source}: {exc}") from None
            prepare = getattr(strategy, "prepare", None)
            if prepare is not None:
                prepare(self.streams.generator("strategy", name))
            self.made[key] = strategy
        return self.made[key]


def draws(streams: Streams, dist: Any, *key: str | int) -> Draws | Fixed:
    """The values of a distribution, one per conversation, from the stream keyed ``key``."""
    if isinstance(dist, Constant):
        return Fixed(dist.value)
    return streams.draws(dist.sample, *key)


def varying(scenario: Scenario, attributes: dict[str, Attribute], streams: Streams, dist: Any, where: str,
            *key: str | int) -> Draws | Fixed | CaseDraws:
    """:func:`draws`, or for a distribution by case (``where`` names it in errors) a :class:`CaseDraws`."""
    if not isinstance(dist, ByCase):
        return draws(streams, dist, *key)
    cases = []
    for k, case in enumerate(dist.cases):
        conditions = []
        for field, values in case.when.items():
            if field != "channel" and field not in attributes:
                raise ScenarioError(f"{scenario.source}: {where}.cases.{k}.when: {field!r} is neither 'channel' nor "
                                    f"a contact attribute of the arrivals ({', '.join(attributes) or 'none'})")
            wanted = frozenset([values] if isinstance(values, str) else values)
            conditions.append((None if field == "channel" else attributes[field], wanted))
        cases.append((conditions, case.hours, draws(streams, case.dist, *key, "case", k)))
    return CaseDraws(cases, draws(streams, dist.otherwise, *key), units.time_of_day(scenario.start))


def compile_run(scenario: Scenario, trace: pd.DataFrame, strategy: str | None = None,
                seed: int | None = None) -> CompiledRun:
    """Everything a run of ``scenario`` on ``trace`` needs, under ``strategy`` (default: the scenario's
    own, which then also leaves assign steps their own) and ``seed`` (default: the scenario's)."""
    seed = scenario.seed if seed is None else seed
    streams = Streams(seed)
    trace_time, trace_contact, contact_ids, contact_index = _contacts(scenario, trace)
    _check_times(trace_time, scenario)
    channels = list(scenario.channels)
    given = {column: trace[column].to_numpy(dtype=float).tolist() for column in GIVEN if column in trace}
    attributes = {column: Attribute(values.cat.codes.to_numpy(), [str(c) for c in values.cat.categories])
                  for column in trace.columns.difference(["time", "contact_id", "channel", *GIVEN])
                  for values in [trace[column].astype("category")]}
    teams = _teams(scenario, streams, given, attributes)
    agents, shifts, groups = _agents(scenario, teams)
    make_strategy = _Strategies(streams, scenario.source)
    for spec in scenario.strategies():  # every named strategy must load, used in this run or not
        make_strategy(spec.name, spec.params)
    # A strategy named for the run takes the parameters the scenario gives it anywhere.
    strategy_name = strategy or scenario.strategy.name
    params = next((s.params for s in scenario.strategies() if s.name == strategy_name), {})
    default_strategy = make_strategy(strategy_name, params)
    try:
        selection = strategy_registry.make(scenario.selection.name, scenario.selection.params, kind="selection")
    except StrategyError as exc:
        raise ScenarioError(f"{scenario.source}: selection: {exc}") from None
    weights = [scenario.channel_weights.get(c, 1.0) for c in channels] if scenario.channel_weights else None
    workflow = Workflow(scenario, teams, attributes, streams, default_strategy, make_strategy,
                        override=strategy is not None, weighted=weights is not None)
    _connect(scenario, teams, agents, selection)
    _check_skills(scenario, attributes, agents)
    contacts = scenario.contacts
    unknown = [f for f in contacts.known_fields if f not in attributes]
    if unknown:
        raise ScenarioError(f"{scenario.source}: contacts.known_fields: {', '.join(map(repr, unknown))} not in "
                            f"the trace, whose attributes are: {', '.join(attributes) or 'none'}")
    patience = varying(scenario, attributes, streams, contacts.patience, "contacts.patience",
                       "patience") if contacts.patience else None
    if "patience" in given:
        patience = Given(given["patience"], patience)
    returning = contacts.returning
    return CompiledRun(
        scenario=scenario, seed=seed, strategy_name=strategy_name, streams=streams, trace_time=trace_time,
        trace_contact=trace_contact, trace_channel=_channels(trace, channels), contact_ids=contact_ids,
        contact_index=contact_index, channels=channels, given=given, attributes=attributes,
        known_fields=[(f, attributes[f]) for f in contacts.known_fields],
        learnable_fields=_learnable_fields(scenario), teams=teams, agents=agents, shifts=shifts, groups=groups,
        default_strategy=default_strategy, selection=selection,
        channel_weights=[INF if w == "all" else w for w in weights] if weights else None, workflow=workflow,
        patience=patience,
        silent=streams.draws(uniform, "silent") if contacts.silent_share else None,
        return_draw=streams.draws(uniform, "return") if returning else None,
        return_delay=draws(streams, returning.delay, "return_delay") if returning else None,
        messages=_messages(scenario, streams),
    )


def _messages(scenario: Scenario, streams: Streams) -> MessageDraws | None:
    """Message-level handling's draws; a never-ending conversation cannot be drained."""
    if scenario.handling.mode != "messages":
        return None
    if scenario.drain and scenario.handling.messages.mean_exchanges == INF:
        raise ScenarioError(f"{scenario.source}: drain: conversations that never end (handling.messages."
                            "resolve_probability 0) cannot be drained; set drain: false")
    return MessageDraws(scenario, streams)


def _contacts(scenario: Scenario, trace: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.Index, dict[str, int]]:
    """The trace's times and contact indices; contacts are indices, those only the business writes to
    after the trace's."""
    contacts = trace["contact_id"].astype("category")
    ids = contacts.cat.categories.astype(str)
    # (no hash table of the ids is kept: pandas' would hold every id as a Python string, 50 bytes a contact)
    outbound = pd.Index(list(dict.fromkeys(o.contact_id for o in scenario.outbound)), dtype=ids.dtype)
    extra = outbound[~outbound.isin(ids)] if len(outbound) else outbound
    contact_ids = ids.append(extra) if len(extra) else ids
    contact_index = {contact_id: int(np.flatnonzero(contact_ids == contact_id)[0]) for contact_id in outbound}
    return trace["time"].to_numpy(dtype=float), contacts.cat.codes.to_numpy(), contact_ids, contact_index


def _check_times(times: np.ndarray, scenario: Scenario) -> None:
    """A trace's times lie in the scenario's [0, duration): a row at or after the end (or before the start,
    or not a finite number) is an error, as the trace file's loader says, never silently left out."""
    outside = ~((times >= 0) & (times < scenario.duration))
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise TraceError(f"{scenario.source}: trace: {int(outside.sum())} row(s) with a time outside the "
                         f"scenario's [0, {scenario.duration:g}) s, first at row {row}: time {float(times[row])!r}")


def _channels(trace: pd.DataFrame, channels: list[str]) -> np.ndarray:
    codes = pd.Categorical(trace["channel"].astype(str), categories=channels).codes
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise TraceError(f"trace row {row}: channel {trace['channel'].iloc[row]!r} is not one of the "
                         f"scenario's channels ({', '.join(channels)})")
    return codes


def _teams(scenario: Scenario, streams: Streams, given: dict[str, list[float]],
           attributes: dict[str, Attribute]) -> dict[str, Team]:
    handling = scenario.handling
    teams = {}
    for index, (name, spec) in enumerate(scenario.teams.items()):
        where = f"teams.{name}.handle_time" if spec.handle_time else "handling.handle_time"
        dist = spec.handle_time or handling.handle_time  # none in message-level handling
        handle_times = Fixed(float("nan")) if dist is None else varying(scenario, attributes, streams, dist, where,
                                                                         "handle_time", name)
        if "handle_time" in given:
            handle_times = Given(given["handle_time"], handle_times)
        first_response = draws(streams, spec.first_response or handling.first_response, "first_response", name)
        teams[name] = Team(index, name, first_response, handle_times)
    return teams


def _agents(scenario: Scenario, teams: dict[str, Team]
            ) -> tuple[list[Agent], list[list[tuple[float, float]]], list[tuple[Group, list[tuple[float, int]]]]]:
    """Every agent, in the order of the scenario, on the rosters of the teams it serves; each one's
    online spans by its shifts; and the groups whose headcount follows a table (ContactCenters' rule)."""
    agents, shifts, groups = [], [], []
    served = scenario.agent_teams()
    kind = ChatAgent if scenario.handling.mode == "messages" else Agent
    for spec in scenario.agents:
        own = tuple(teams[name] for name in served[spec.id])
        members = []
        dynamic = spec.headcount is not None and spec.headcount.on_drop == "idle_first"
        for number, agent_id in enumerate(spec.ids(), start=1):
            agent = kind(len(agents), agent_id, own, spec)
            for team in own:
                team.agents.append(agent)
                team.free[agent] = None
            agents.append(agent)
            members.append(agent)
            shifts.append([] if dynamic else spec.online(scenario.start, scenario.duration, number))
        if dynamic:
            group = Group(members)
            for agent in members:
                agent.group = group
            groups.append((group, spec.headcount.changes(scenario.start, scenario.duration)))
    return agents, shifts, groups


def _connect(scenario: Scenario, teams: dict[str, Team], agents: list[Agent], selection: Selection) -> None:
    """Who serves which queue: a team listed after the first by an assign step serves the first's queue;
    an agent takes from its own teams' queues and those they serve, in its order of preference."""
    for step in scenario.workflow:
        names = step.teams() if hasattr(step, "teams") else []
        for name in names[1:]:
            if teams[name] not in teams[names[0]].servers:
                teams[names[0]].servers.append(teams[name])
    for team in teams.values():
        team.simple = team.servers == [team] and selection.in_queue_order
    for agent in agents:
        queues = []
        for team in agent.teams:
            queues += [team, *(q for q in teams.values() if team in q.servers and q is not team)]
        agent.queues = list(dict.fromkeys(queues))


def _check_skills(scenario: Scenario, attributes: dict[str, Attribute], agents: list[Agent]) -> None:
    """Every value a skills_from field can take must be a skill some agent holds."""
    held = {skill for agent in agents for skill in agent.skills}
    for i, step in enumerate(scenario.workflow):
        for field in getattr(step, "skills_from", ()):
            values = set(attributes[field].categories) if field in attributes else set()
            for other in scenario.workflow:
                if isinstance(other, Ask) and other.field == field:
                    values |= set(other.answers)
                values |= set(getattr(other, "fields", {}).get(field, {}))
            missing = sorted(values - held)
            if missing:
                raise ScenarioError(f"{scenario.source}: workflow.{i}.skills_from: field {field!r} can be "
                                    f"{', '.join(map(repr, missing))}, a skill no agent has")


def _learnable_fields(scenario: Scenario) -> tuple[str, ...]:
    """Contact fields a conversation may come to know: read at opening, asked, or looked up."""
    names = list(scenario.contacts.known_fields)
    for step in scenario.workflow:
        names += [step.field] if isinstance(step, Ask) else list(getattr(step, "fields", {}))
    return tuple(dict.fromkeys(names))
