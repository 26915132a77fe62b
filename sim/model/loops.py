"""Loops in a workflow that would never end, found when the scenario is read.

A conversation's draws are its own and the same on every pass (its answer, its lookup, its bot outcome),
so a loop through ask, lookup, branch and bot steps taken once is taken forever: only an ``hours`` step
(the clock moves on) or an ``assign`` step's timeout (an agent frees up) can lead out of a loop later.
Such a loop must also take time: one that can go round in under ``MIN_PASS`` would spin without the
simulated clock moving on (or barely), and hang the run.
"""

from __future__ import annotations

from typing import Any

MIN_PASS = 1.0  # seconds a pass round a loop takes at least


def _time(dist: Any) -> float:
    """A step's time: a constant's value, otherwise the distribution's mean."""
    return float(getattr(dist, "value", None) if getattr(dist, "dist", None) == "constant" else dist.mean)


def edges(workflow: list[Any]) -> list[list[tuple[int, float]]]:
    """Each step's ways on (to a step's index; the end is left out), each with the time it takes."""
    ids = {step.id: i for i, step in enumerate(workflow) if step.id is not None}
    n = len(workflow)
    out: list[list[tuple[int, float]]] = []
    for i, step in enumerate(workflow):
        following = i + 1 if i + 1 < n else None

        def to(target: str | None, following: int | None = following) -> int | None:
            return ids.get(target) if target is not None else following

        kind, ways = step.type, []
        if kind == "ask":
            answered = step.answer_probability > 0
            if answered:
                ways.append((following, _time(step.duration)))
            certain = getattr(step.duration, "dist", None) == "constant" and step.duration.value <= step.timeout
            if step.answer_probability < 1 or not certain:
                ways.append((to(step.on_no_answer), step.timeout))
        elif kind == "lookup":
            took = _time(step.duration)
            if step.failure_probability < 1:
                ways.append((following, took))
            if step.failure_probability > 0:
                ways.append((to(step.on_failure), took))
        elif kind == "branch":
            ways += [(ids.get(rule.goto), 0.0) for rule in step.rules if rule.goto is not None]
            ways.append((following, 0.0))
        elif kind == "hours":
            ways += [(following, 0.0), (ids.get(step.outside), 0.0)]
        elif kind == "bot" and step.resolve_probability < 1:
            ways.append((following, _time(step.duration)))
        elif kind == "assign" and step.timeout is not None:
            ways.append((to(step.on_timeout), step.timeout))
        out.append([(j, t) for j, t in ways if j is not None])
    return out


def _cycles(graph: list[list[int]]) -> list[list[int]]:
    """The strongly connected parts of a graph that hold a cycle (Tarjan's algorithm, without recursion)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    found = []
    counter = 0
    for root in range(len(graph)):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            for k in range(position, len(graph[node])):
                child = graph[node][k]
                if child not in index:
                    work.append((node, k + 1))
                    work.append((child, 0))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                if low[node] == index[node]:
                    part = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        part.append(member)
                        if member == node:
                            break
                    if len(part) > 1 or node in graph[node]:
                        found.append(sorted(part))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return found


def _named(workflow: list[Any], part: list[int]) -> str:
    shown = [f"{i} ({workflow[i].type}{' ' + repr(workflow[i].id) if workflow[i].id else ''})" for i in part[:8]]
    return ", ".join(shown) + (f" and {len(part) - 8} more" if len(part) > 8 else "")


def check(workflow: list[Any]) -> None:
    """Raise ValueError naming the steps of a loop that never ends, or that goes round without time passing."""
    ways = edges(workflow)
    for part in _cycles([[j for j, _ in step] for step in ways]):
        if not any(workflow[i].type in ("hours", "assign") for i in part):
            raise ValueError(f"workflow: steps {_named(workflow, part)} make a loop a conversation never leaves "
                             "(its answers, lookups and bot outcomes are the same on every pass); only an hours "
                             "step or an assign step's timeout can lead out of a loop")
    fast = [[j for j, t in step if t < MIN_PASS] for step in ways]
    for part in _cycles(fast):
        raise ValueError(f"workflow: steps {_named(workflow, part)} make a loop that goes round in under "
                         f"{MIN_PASS:g} s (a zero-time loop would hang the run); give a step on it a timeout "
                         "or duration of at least that")
