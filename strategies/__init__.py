"""Assignment strategies: which available agent a waiting conversation goes to.

A strategy is a small class, made fresh for every run, with one method::

    choose(conversation, candidates, now) -> agent | None

``candidates`` are the routed team's agents that may take the conversation now (online, when the
assign step says so, and below their capacity); ``None`` leaves the conversation waiting in the team
queue. What a strategy sees is the contract in :mod:`strategies.base` (read-only views); look
strategies up by name with :func:`strategies.registry.make`.
"""

from strategies.base import AgentView, ConversationView, Selection, Strategy, TeamView
from strategies.registry import available, make, register

__all__ = ["AgentView", "ConversationView", "Selection", "Strategy", "TeamView", "available", "make", "register"]
