"""The inbound workflow: its steps, each a SimPy process function (or, taking no time, a plain call).

Each step runs for one conversation and returns where to go next: ``None`` for the following step,
the index of a step to jump to, or END. The workflow ends at the assign step (the team's queue takes the
conversation on; an assign timeout resumes the workflow at its branch), when a step closes the
conversation, or after its last step (the conversation is then closed by the workflow). A conversation's
workflow becomes a SimPy process only when it reaches a step that takes time.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from sim import units
from sim.engine import events as ev
from sim.engine.entities import Assignment, Attribute, Conversation, Team
from sim.engine.invariants import InvariantError
from sim.model import scenario as sc
from sim.model.distributions import Constant
from sim.model.streams import Draws, Fixed, Streams, uniform
from strategies import Strategy

if TYPE_CHECKING:
    from sim.engine.world import World

Run = Generator[simpy.Event, Any, int | None]
END = -1  # a step's answer: the workflow is over (the queue takes the conversation on)


class Choice:
    """A categorical draw from shares, by a uniform variate."""

    def __init__(self, shares: dict[str, float]) -> None:
        self.values = list(shares)
        self.bounds = list(itertools.accumulate(shares.values()))

    def __call__(self, u: float) -> str:
        return self.values[min(bisect.bisect_right(self.bounds, u), len(self.values) - 1)]


@dataclass(frozen=True)
class Parts:
    """What steps are compiled from, besides their own spec."""

    scenario: sc.Scenario
    teams: dict[str, Team]
    attributes: dict[str, Attribute]
    streams: Streams
    goto: dict[str, int]  # step ids to indices
    weighted: bool  # capacity counted in units per channel


class Step:
    """A compiled workflow step; ``instant`` steps take no simulated time. Running, a step is handed
    the world it acts in."""

    instant = False

    def __init__(self, parts: Parts, index: int) -> None:
        self.index = index
        self.streams = parts.streams
        self.attributes = parts.attributes

    def draws(self, dist: Any, purpose: str) -> Draws | Fixed:
        if isinstance(dist, Constant):
            return Fixed(dist.value)
        return self.streams.draws(dist.sample, "step", self.index, purpose)

    def uniforms(self, purpose: str) -> Draws:
        return self.streams.draws(uniform, "step", self.index, purpose)

    def reveal(self, conversation: Conversation, field: str, choice: Choice, u: float) -> None:
        """Set a field: the contact's own value when the trace gives one, else drawn from shares."""
        known = self.attributes.get(field)
        value = known.of(conversation.root) if known is not None else None
        conversation.fields[field] = value if value is not None else choice(u)

    def run(self, world: World, conversation: Conversation) -> Run:
        raise NotImplementedError

    def apply(self, world: World, conversation: Conversation) -> int | None:
        raise NotImplementedError


class AskStep(Step):
    def __init__(self, parts: Parts, index: int, spec: sc.Ask) -> None:
        super().__init__(parts, index)
        self.field = spec.field
        self.choice = Choice(spec.answers)
        self.answer_probability = spec.answer_probability
        self.timeout = spec.timeout
        self.on_no_answer = parts.goto.get(spec.on_no_answer) if spec.on_no_answer else None
        self.answers = self.uniforms("answers")
        self.answered = self.uniforms("answered")
        self.delay = self.draws(spec.duration, "delay")

    def run(self, world: World, conversation: Conversation) -> Run:
        world.log(ev.QUESTION_ASKED, conversation)
        delay = self.delay.of(conversation)
        if self.answered.of(conversation) < self.answer_probability and delay <= self.timeout:
            if delay > 0:
                yield world.env.timeout(delay)
            self.reveal(conversation, self.field, self.choice, self.answers.of(conversation))
            world.log(ev.QUESTION_ANSWERED, conversation)
            return None
        yield world.env.timeout(self.timeout)
        world.log(ev.QUESTION_TIMEOUT, conversation)
        return self.on_no_answer


class LookupStep(Step):
    def __init__(self, parts: Parts, index: int, spec: sc.Lookup) -> None:
        super().__init__(parts, index)
        self.fields = [(field, Choice(shares), self.uniforms(f"value:{field}"))
                       for field, shares in spec.fields.items()]
        self.failure_probability = spec.failure_probability
        self.on_failure = parts.goto.get(spec.on_failure) if spec.on_failure else None
        self.latency = self.draws(spec.duration, "latency")
        self.failed = self.uniforms("failed")

    def run(self, world: World, conversation: Conversation) -> Run:
        latency = self.latency.of(conversation)
        if latency > 0:
            yield world.env.timeout(latency)
        if self.failed.of(conversation) < self.failure_probability:
            world.log(ev.LOOKUP_FAILED, conversation)
            return self.on_failure
        for field, choice, draws in self.fields:
            self.reveal(conversation, field, choice, draws.of(conversation))
        world.log(ev.LOOKUP_DONE, conversation)
        return None


class BranchStep(Step):
    instant = True

    def __init__(self, parts: Parts, index: int, spec: sc.Branch) -> None:
        super().__init__(parts, index)
        self.rules = [
            ({f: (v,) if isinstance(v, str) else tuple(v) for f, v in rule.when.items()},
             parts.teams[rule.team] if rule.team else None, parts.goto.get(rule.goto) if rule.goto else None)
            for rule in spec.rules
        ]
        self.default = parts.teams[spec.default]

    def apply(self, world: World, conversation: Conversation) -> int | None:
        fields = conversation.fields
        for when, team, target in self.rules:
            if all(fields.get(field) in values for field, values in when.items()):
                if team is None:
                    return target
                conversation.team = team
                break
        else:
            conversation.team = self.default
        world.log(ev.ROUTED, conversation)
        return None


class HoursStep(Step):
    instant = True

    def __init__(self, parts: Parts, index: int, spec: sc.Hours) -> None:
        super().__init__(parts, index)
        start = parts.scenario.start
        self.offset = units.time_of_day(start)
        self.weekday = start.weekday()
        self.days = {sc.WEEKDAYS.index(day) for day in spec.days}
        self.open, self.close = spec.span()
        self.outside = parts.goto[spec.outside]

    def apply(self, world: World, conversation: Conversation) -> int | None:
        clock = self.offset + world.env.now
        day, second = divmod(clock, 86400.0)
        for back in (0, 1, 2):  # a span opened today, or yesterday or before it and running past midnight
            if (self.weekday + int(day) - back) % 7 in self.days and self.open <= second + back * 86400.0 < self.close:
                return None
        world.log(ev.OUT_OF_HOURS, conversation)
        return self.outside


class BotStep(Step):
    def __init__(self, parts: Parts, index: int, spec: sc.Bot) -> None:
        super().__init__(parts, index)
        self.resolve_probability = spec.resolve_probability
        self.category = spec.category
        self.duration = self.draws(spec.duration, "duration")
        self.resolves = self.uniforms("resolves")

    def run(self, world: World, conversation: Conversation) -> Run:
        conversation.bot = True
        world.log(ev.BOT_STARTED, conversation)
        duration = self.duration.of(conversation)
        if duration > 0:
            yield world.env.timeout(duration)
        if self.resolves.of(conversation) < self.resolve_probability:
            world.close(conversation, ev.BOT_RESOLVED, self.category)
        else:
            world.log(ev.BOT_HANDOVER, conversation)
        return None


class AssignStep(Step):
    """Auto-assignment: the workflow ends here. A conversation no agent can take waits in the team's
    queue; if the step's timeout runs out first, the workflow goes on at ``on_timeout``."""

    instant = True

    def __init__(self, parts: Parts, index: int, spec: sc.Assign, strategy: Strategy) -> None:
        super().__init__(parts, index)
        teams = tuple(parts.teams[name] for name in spec.teams()) or None
        self.assignment = Assignment(teams, strategy, spec.only_online, spec.max_open, tuple(spec.skills_from),
                                     spec.timeout, parts.goto.get(spec.on_timeout) if spec.on_timeout else None,
                                     weighted=parts.weighted)

    def apply(self, world: World, conversation: Conversation) -> int | None:
        assignment = self.assignment
        team = assignment.teams[0] if assignment.teams else conversation.team or world.first_team
        if team is not conversation.team:
            conversation.team = team
            world.log(ev.ROUTED, conversation)
        if assignment.skills_from:
            fields = conversation.fields
            conversation.required_skills = tuple(fields[f] for f in assignment.skills_from if f in fields)
        world.request_agent(conversation, assignment, team)
        return END


class CloseStep(Step):
    instant = True

    def __init__(self, parts: Parts, index: int, spec: sc.Close) -> None:
        super().__init__(parts, index)
        self.category = spec.category

    def apply(self, world: World, conversation: Conversation) -> int | None:
        world.close(conversation, ev.CLOSED_BY_WORKFLOW, self.category)
        return None


_STEPS: dict[type, type[Step]] = {sc.Ask: AskStep, sc.Lookup: LookupStep, sc.Branch: BranchStep,
                                  sc.Hours: HoursStep, sc.Bot: BotStep, sc.Close: CloseStep}


class Workflow:
    """The scenario's inbound workflow, compiled for one run: its steps, and the way through them."""

    def __init__(self, scenario: sc.Scenario, teams: dict[str, Team], attributes: dict[str, Attribute],
                 streams: Streams, default: Strategy, strategy: Callable[[str, dict[str, Any]], Strategy],
                 override: bool, weighted: bool) -> None:
        """``default``: the run's strategy; ``strategy(name, params)``: the run's instance of another,
        for assign steps that name their own (unless ``override``: the run's strategy then rules)."""
        specs = scenario.workflow
        parts = Parts(scenario, teams, attributes, streams,
                      {spec.id: i for i, spec in enumerate(specs) if spec.id is not None}, weighted)
        self.steps: list[Step] = []
        for i, spec in enumerate(specs):
            if isinstance(spec, sc.Assign):
                own = spec.strategy is not None and not override
                chosen = strategy(spec.strategy.name, spec.strategy.params) if own else default
                self.steps.append(AssignStep(parts, i, spec, chosen))
            else:
                self.steps.append(_STEPS[type(spec)](parts, i, spec))

    def start(self, world: World, conversation: Conversation, step: int | None = 0) -> None:
        """Run the workflow from ``step`` (None: past the last step) for the conversation.

        Steps that take no time run at once; the first step that waits makes the rest a SimPy process,
        so a conversation whose workflow never waits costs no process at all."""
        steps = self._steps(world, conversation, len(self.steps) if step is None else step)
        try:
            event = next(steps)
        except StopIteration:
            return
        world.env.process(_resumed(steps, event))

    def _steps(self, world: World, conversation: Conversation, i: int) -> Generator[simpy.Event, Any, None]:
        env, steps, n = world.env, self.steps, len(self.steps)
        same_instant, now = 0, env.now
        while i < n:
            step = steps[i]
            target = step.apply(world, conversation) if step.instant else (yield from step.run(world, conversation))
            if target == END or not conversation.is_open:
                return
            i = i + 1 if target is None else target
            same_instant = same_instant + 1 if env.now == now else 0
            now = env.now
            if same_instant > n:
                raise InvariantError(f"conversation {conversation.id} at t={now:g}: the workflow loops through "
                                     f"step {i} and others without time passing")
        world.close(conversation, ev.CLOSED_BY_WORKFLOW, "workflow_end")


def _resumed(steps: Generator[simpy.Event, Any, None], first: simpy.Event) -> Generator[simpy.Event, Any, None]:
    """A process that carries on a generator already run up to its first wait, ``first``."""
    value = yield first
    while True:
        try:
            event = steps.send(value)
        except StopIteration:
            return
        value = yield event
