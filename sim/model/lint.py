"""What a scenario would get wrong without a word: checks across its parts, run whenever a scenario is read.

A scenario can validate field by field and still not do what its author meant: a branch on a field the
platform never learns (every conversation takes the default), a profile that starts again after 23 hours,
a warm-up that leaves nothing to count. :func:`errors` names such a scenario's faults, each as
``where: what`` (the scenario refuses to load); :func:`warnings` names what is legal but most likely a
slip (a step no conversation reaches, a team nobody is routed to, business hours shut while agents work).

Which fields the workflow knows: a conversation's fields are those ``contacts.known_fields`` lists (read
at opening from the contact's attributes), those an ask step sets (when answered) and those a lookup step
sets (when it succeeds). The arrivals' attributes, trace columns and generated ones alike, are the
contact's true values: the platform holds one at opening only when ``contacts.known_fields`` lists it.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sim import units
from sim.model import loops

if TYPE_CHECKING:
    from sim.model.scenario import Scenario

DAY = 86400.0
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS_CHECKED = 15 * DAY  # business hours against agents: two weeks hold every weekday's pattern
_SHOWN = 6  # names listed in one message


def errors(scenario: Scenario) -> list[str]:
    """The scenario's faults, each ``where: what``: fields read but never set, profiles that silently
    start again part-way through a day, a warm-up at or past the end."""
    found = _unset_fields(scenario)
    found += _cycles(scenario)
    if scenario.warmup >= scenario.duration:
        found.append(f"warmup: {_span(scenario.warmup)} is at or past the scenario's end (duration "
                     f"{_span(scenario.duration)}): no conversation would be counted and every rate would be NaN; "
                     "make it a part of the run's beginning")
    return found


def warnings(scenario: Scenario) -> list[str]:
    """What is legal but most likely a slip, each ``where: what``: steps no conversation reaches, teams no
    conversation is routed to, business hours shut all day while agents are online."""
    workflow = scenario.workflow
    reachable = _reach(_graph(workflow), [0])
    found = [f"workflow.{i} ({_named(step)}): no conversation reaches this step (the step before it never goes on "
             "to it, and no branch rule, outside, on_no_answer, on_failure or on_timeout names its id)"
             for i, step in enumerate(workflow) if i not in reachable]
    found += _unrouted(scenario, reachable)
    found += _shut_hours(scenario, reachable)
    return found


# ------------------------------------------------------------------------------------ fields


def _graph(workflow: list[Any]) -> list[list[int]]:
    return [[j for j, _ in ways] for ways in loops.edges(workflow)]


def _reach(graph: list[list[int]], sources: list[int]) -> set[int]:
    """The steps reached from ``sources`` (included)."""
    seen = {s for s in sources if s < len(graph)}
    todo = list(seen)
    while todo:
        for j in graph[todo.pop()]:
            if j not in seen:
                seen.add(j)
                todo.append(j)
    return seen


def _generated(scenario: Scenario) -> list[str]:
    """The contact attributes the scenario's generator draws (none for a trace)."""
    spec = scenario.arrivals.generate
    if spec is None:
        return []
    names = list(spec.attributes) + [name for kind in spec.types.values() for name in kind.attributes]
    return list(dict.fromkeys(names + (["type"] if spec.types else [])))


def _unset_fields(scenario: Scenario) -> list[str]:
    """Fields a branch rule, ``skills_from`` or the priority selection reads that nothing sets before."""
    workflow = scenario.workflow
    graph = _graph(workflow)
    reachable = _reach(graph, [0])
    known = list(scenario.contacts.known_fields)
    setters: dict[str, list[int]] = defaultdict(list)  # field -> the steps that set it
    for i, step in enumerate(workflow):
        if step.type == "ask" and step.answer_probability > 0:
            setters[step.field].append(i)
        elif step.type == "lookup" and step.failure_probability < 1:
            for field in step.fields:
                setters[field].append(i)
    uses: list[tuple[str, str, int | None, str]] = []  # (where, field, step reading it or None: anywhere, what then)
    for i, step in enumerate(workflow):
        if i not in reachable:
            continue  # (said by a warning)
        if step.type == "branch":
            for j, rule in enumerate(step.rules):
                uses += [(f"workflow.{i}.rules.{j}.when", field, i, "the rule never matches")
                         for field in rule.when]
        elif step.type == "assign":
            uses += [(f"workflow.{i}.skills_from", field, i, "no skill is ever required from it")
                     for field in step.skills_from]
    field = scenario.selection.params.get("field")
    if scenario.selection.name == "priority" and isinstance(field, str):
        uses.append(("selection.field", field, None, "every conversation has the same priority"))
    learnable = list(dict.fromkeys(known + [f for f, steps in setters.items() if any(s in reachable for s in steps)]))
    after: dict[str, set[int]] = {}  # field -> the steps a conversation may reach with it set
    found: dict[tuple[str, str], list[str]] = {}  # (field, what is wrong) -> where
    for where, field, reader, consequence in uses:
        if field in known:
            continue
        steps = [s for s in setters.get(field, []) if s in reachable]
        if field not in after:
            after[field] = _reach(graph, [s + 1 for s in steps])
        if steps and (reader is None or reader in after[field]):
            continue
        if steps:
            why = (f"the field {field!r} is set only after this step, by "
                   f"{', '.join(f'workflow.{s} ({_named(workflow[s])})' for s in steps[:_SHOWN])}, on no way to it, "
                   f"so {consequence}")
        else:
            unreached = [s for s in setters.get(field, []) if s not in reachable]
            by = (f" (the steps that would, {', '.join(f'workflow.{s}' for s in unreached[:_SHOWN])}, are never "
                  "reached)") if unreached else ""
            why = (f"nothing sets the field {field!r}, so {consequence}: it is not in contacts.known_fields and "
                   f"no ask or lookup step sets it{by}")
        found.setdefault((field, why), []).append(where)
    return [f"{', '.join(wheres)}: {why}{_hint(scenario, field, learnable)} (fields the workflow can know: "
            f"{', '.join(learnable) or 'none'})" for (field, why), wheres in found.items()]


def _hint(scenario: Scenario, field: str, learnable: list[str]) -> str:
    """Why a field may be missing, and what might be meant."""
    if field in _generated(scenario):
        return (f"; the arrivals generate {field!r}, but a generated attribute, like a trace column, is the "
                "contact's true value, which the platform holds at opening only when contacts.known_fields lists "
                "it: list it there, or ask or look it up before this step")
    if field == "channel":
        return "; the channel is not a contact field a workflow reads"
    close = difflib.get_close_matches(field, learnable + _generated(scenario), n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    if scenario.arrivals.trace is not None:
        return ("; a trace column is held at opening only when contacts.known_fields lists it, else ask or look "
                "it up")
    return ""


# ------------------------------------------------------------------------------------ profiles


def _cycles(scenario: Scenario) -> list[str]:
    """Profiles and headcount tables whose values run out part-way through a day and start again."""
    offset = units.time_of_day(scenario.start)  # they are laid from the first day's midnight
    tables: list[tuple[str, int, float, float | None, str]] = []
    spec = scenario.arrivals.generate
    if spec is not None:
        if spec.profile is not None:
            tables.append(("arrivals.generate", len(spec.profile), spec.profile_step, spec.repeat, "profile"))
        for name, kind in spec.types.items():
            step = spec.profile_step if kind.profile_step is None else kind.profile_step
            tables.append((f"arrivals.generate.types.{name}", len(kind.profile), step, kind.repeat, "profile"))
    for i, agent in enumerate(scenario.agents):
        if agent.headcount is not None:
            table = agent.headcount
            tables.append((f"agents.{i}.headcount", len(table.periods), table.step, table.repeat, "periods"))
    found = []
    for where, count, step, repeat, name in tables:
        period = count * step
        if repeat is not None:
            if abs(repeat - period) > 1e-6 * max(period, 1.0):
                found.append(f"{where}.repeat: {_span(repeat)}, but the {count} {name} values of {_span(step)} "
                             f"repeat every {_span(period)}")
            continue
        if count == 1 or _whole_days(period) or offset + scenario.duration <= period * (1 + 1e-12):
            continue
        per_day = DAY / step
        whole = f"{per_day:g} values a day (or {7 * per_day:g} for a week)" if per_day == round(per_day) else \
            "values that fill whole days"
        found.append(f"{where}.{name}: {count} values of {_span(step)} last {_span(period)}, not a whole number of "
                     f"days, and the scenario runs past them, so they silently start again after {_span(period)} "
                     f"(counted from midnight of its first day); give {whole}, or write repeat: {_span(period)} "
                     "if that cycle is meant")
    return found


def _whole_days(seconds: float) -> bool:
    days = seconds / DAY
    return round(days) >= 1 and abs(days - round(days)) < 1e-9


# ------------------------------------------------------------------------------------ warnings


def _unrouted(scenario: Scenario, reachable: set[int]) -> list[str]:
    """Teams whose queue no conversation ever joins."""
    workflow = scenario.workflow
    routed = {outbound.team for outbound in scenario.outbound}
    for i, step in enumerate(workflow):
        if i in reachable and step.type == "branch":
            routed |= {rule.team for rule in step.rules if rule.team is not None} | {step.default}
        elif i in reachable and step.type == "assign":
            routed |= set(step.teams())
    # an assign step naming no team takes the routed team, or the first team when nothing has routed yet: walk
    # the ways a conversation goes unrouted (past a branch only by a goto rule, never past an assign step)
    ids = {step.id: k for k, step in enumerate(workflow) if step.id is not None}
    unrouted = [[ids[rule.goto] for rule in step.rules if rule.goto is not None] if step.type == "branch" else
                [] if step.type == "assign" else ways for step, ways in zip(workflow, _graph(workflow), strict=True)]
    if any(workflow[i].type == "assign" and workflow[i].team is None for i in _reach(unrouted, [0])):
        routed.add(next(iter(scenario.teams)))
    found = []
    groups: dict[str, list[Any]] = defaultdict(list)  # team -> its own agent groups
    for spec in scenario.agents:
        groups[spec.team].append(spec)
    for team in scenario.teams:
        if team in routed:
            continue
        own = [spec.id for spec in groups[team]]
        elsewhere = sorted({name for spec in groups[team] for name in spec.serves} & routed)
        agents = ""
        if own:
            agents = f"; its agents ({_listed(own)}) " + (
                f"take only from the queues of {', '.join(elsewhere)}" if elsewhere else "stay idle")
        found.append(f"teams.{team}: no conversation is routed to this team (no branch rule or default, assign "
                     f"step or outbound conversation names it){agents}")
    return found


def _shut_hours(scenario: Scenario, reachable: set[int]) -> list[str]:
    """Hours steps shut a whole day of the run while agents are online: every contact is sent outside."""
    hours = [(i, step) for i, step in enumerate(scenario.workflow) if i in reachable and step.type == "hours"]
    if not hours:
        return []
    start = scenario.start.replace(tzinfo=None)
    horizon = min(scenario.duration, _HOURS_CHECKED)
    midnight = -units.time_of_day(start)
    days = [(max(midnight + k * DAY, 0.0), min(midnight + (k + 1) * DAY, horizon))
            for k in range(int((horizon - midnight) // DAY) + 1)]
    days = [(begin, end) for begin, end in days if end > begin]
    working: list[dict[str, None]] = [{} for _ in days]  # per day of the run, the agent groups online in it
    for spec in scenario.agents:
        for begin, end in spec.online(start, horizon):
            first = max(int((begin - midnight) // DAY), 0)
            for k in range(first, len(days)):
                if days[k][0] >= end:
                    break
                if days[k][1] > begin:
                    working[k][spec.id] = None
    found = []
    for i, step in hours:
        weekdays = {_DAYS.index(day) for day in step.days}
        opened, closed = step.span()
        spans = [(midnight + k * DAY + opened, midnight + k * DAY + closed) for k in range(-2, len(days) + 1)
                 if (start.weekday() + k) % 7 in weekdays]
        shut = [(begin, list(working[k])) for k, (begin, end) in enumerate(days)
                if working[k] and not any(b < end and e > begin for b, e in spans)]
        if shut:
            when = ", ".join(f"{(start + dt.timedelta(seconds=begin)):%a %Y-%m-%d}" for begin, _ in shut[:_SHOWN])
            more = f" and {len(shut) - _SHOWN} more" if len(shut) > _SHOWN else ""
            checked = " (the first two weeks checked)" if scenario.duration > horizon else ""
            found.append(f"workflow.{i} ({_named(step)}): shut all day on {when}{more}{checked} while agents are "
                         f"online ({_listed(shut[0][1])}): every contact reaching it then goes to {step.outside!r}; "
                         f"its days are {', '.join(step.days)}")
    return found


# ------------------------------------------------------------------------------------ wording


def _named(step: Any) -> str:
    return step.type + (f" {step.id!r}" if step.id else "")


def _listed(names: list[str]) -> str:
    return ", ".join(names[:_SHOWN]) + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def _span(seconds: float) -> str:
    """A duration as a scenario file writes it: 23h, 90m, 2d, 45s."""
    for unit, size in (("d", DAY), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
