"""Headcount tables: a group's agents online per period, by ContactCenters' rule when it drops — idle
agents leave first (the highest-numbered), and if busy ones are still too many, none of the group takes
new work until enough have finished and left."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.engine.entities import Agent, Group

if TYPE_CHECKING:
    from sim.engine.world import World


class Headcounts:
    """The headcount groups of one world."""

    def __init__(self, world: World) -> None:
        self.world = world

    def process(self, group: Group, changes: list[tuple[float, int]]) -> Generator[simpy.Event, Any, None]:
        """The group's headcount over the run: ``changes`` are (time, agents online from then)."""
        env = self.world.env
        for begin, target in changes:
            if begin > env.now:
                yield env.timeout(begin - env.now)
            self.staff(group, target)

    def staff(self, group: Group, target: int) -> None:
        """A new headcount: agents come online (lowest-numbered first), or idle ones leave."""
        world = self.world
        group.target = target
        online = [agent for agent in group.agents if agent.online]
        excess = len(online) - target
        for agent in reversed(online):
            if excess <= 0:
                break
            if not agent.open:
                world.go_offline(agent)
                excess -= 1
        if excess > 0:
            for agent in online:
                if agent.online and not agent.draining:
                    agent.draining = True
                    for team in agent.teams:
                        team.available.pop(agent, None)
            return
        self.undrain(group)
        for agent in group.agents:
            if excess >= 0:
                break
            if not agent.online:
                world.go_online(agent)
                excess += 1

    def leave(self, agent: Agent) -> None:
        """A draining agent has finished its last conversation: it leaves, and once the group is down to
        its headcount the others take work again."""
        group = agent.group
        self.world.go_offline(agent)
        if group.online() <= group.target:
            self.undrain(group)

    def undrain(self, group: Group) -> None:
        world = self.world
        for agent in group.agents:
            if agent.draining:
                agent.draining = False
                if not world.full(agent):
                    for team in agent.teams:
                        team.available[agent] = None
                world.offer(agent)
