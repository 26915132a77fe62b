"""The routing contract: what a strategy sees of agents and conversations, and the strategy protocol.

Strategies see read-only views, never the engine's objects: these protocols list everything a strategy
may read. The engine hands its own entities, which provide exactly these attributes, so dispatch reads
plain attributes at full speed; a strategy that writes to a view, or reads what is not listed here,
is outside the contract. Nothing here imports the engine.
"""

from __future__ import annotations

import inspect
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class TeamView(Hashable, Protocol):
    """A team, as a key a strategy may keep state under (a rotation pointer per team, say)."""

    @property
    def name(self) -> str: ...


@runtime_checkable
class AgentView(Hashable, Protocol):
    """An agent: ``team`` is its own team, ``teams`` every team whose queue it serves, its own first, in
    its order of preference; ``rank`` is its position in the roster; ``skills`` maps a skill to its level
    (1–10); ``open`` counts its open conversations; ``load`` the capacity units they take (one each unless
    the scenario weighs channels), at most ``capacity``; ``idle_since`` is the time of its last change of
    load or of coming online."""

    @property
    def id(self) -> str: ...
    @property
    def team(self) -> TeamView: ...
    @property
    def teams(self) -> tuple[TeamView, ...]: ...
    @property
    def rank(self) -> int: ...
    @property
    def skills(self) -> Mapping[str, int]: ...
    @property
    def capacity(self) -> int: ...
    @property
    def open(self) -> int: ...
    @property
    def load(self) -> float: ...
    @property
    def online(self) -> bool: ...
    @property
    def idle_since(self) -> float: ...


@runtime_checkable
class ConversationView(Hashable, Protocol):
    """A conversation waiting for an agent: its ``channel``, the ``team`` whose queue it waits in and the
    ``teams`` whose agents may take it (that team first, then any more its assign step lists, in order),
    the contact ``fields`` the workflow has learned, the ``required_skills`` its assign step reads from
    them, when it was ``queued_at``, and the agent who handled the contact's previous conversation."""

    @property
    def id(self) -> int: ...
    @property
    def channel(self) -> str: ...
    @property
    def team(self) -> TeamView: ...
    @property
    def teams(self) -> tuple[TeamView, ...]: ...
    @property
    def fields(self) -> Mapping[str, str]: ...
    @property
    def required_skills(self) -> tuple[str, ...]: ...
    @property
    def queued_at(self) -> float: ...
    @property
    def previous_agent(self) -> AgentView | None: ...


class Strategy:
    """Base class: subclasses set their parameters in ``__init__`` and implement :meth:`choose`.

    ``wake_after`` (seconds, a tuple of them, or None) asks the engine to dispatch again for a
    conversation that has waited that long, for strategies whose choice changes with the wait (skill
    relaxation, bullseye rings).
    """

    name: str = ""
    wake_after: float | tuple[float, ...] | None = None
    rng: np.random.Generator

    def prepare(self, rng: np.random.Generator) -> None:
        """Called once before a run with the strategy's own random stream."""
        self.rng = rng

    def choose(self, conversation: ConversationView, candidates: Collection[AgentView],
               now: float) -> AgentView | None:
        """The candidate that takes ``conversation`` now, or None to leave it waiting."""
        raise NotImplementedError

    def __repr__(self) -> str:
        params = inspect.signature(type(self).__init__).parameters
        shown = ", ".join(f"{p}={getattr(self, p)!r}" for p in params if p != "self" and hasattr(self, p))
        return f"{type(self).__name__}({shown})"


class Selection:
    """Conversation selection: when an agent frees a slot or comes online, the order in which the
    waiting conversations of the queues it serves are offered (each to the run's strategy, which picks
    the agent). ``order`` gets the queues in the agent's order of preference, each oldest first (those
    handed back at a shift's end ahead), and returns the conversations in the order to try them.

    A policy that keeps the queues' own order says so with ``in_queue_order``: the engine then walks the
    queues without asking (the default, :class:`strategies.selection.OldestFirst`).
    """

    name: str = ""
    in_queue_order = False

    def order(self, queues: Sequence[Iterable[ConversationView]], now: float) -> Iterable[ConversationView]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return Strategy.__repr__(self)  # type: ignore[arg-type]


def least_busy(candidates: Collection[AgentView]) -> AgentView | None:
    """The candidate with the fewest open conversations, ties to the one idle the longest."""
    best = None
    for agent in candidates:
        if best is None or (agent.open, agent.idle_since) < (best.open, best.idle_since):
            best = agent
    return best
