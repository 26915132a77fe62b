"""Strategies a user might write, loaded by ``module:Class`` in the tests."""

from strategies import Strategy


class HighestRank(Strategy):
    """Always the candidate last in the roster."""

    def choose(self, conversation, candidates, now):
        return max(candidates, key=lambda agent: agent.rank, default=None)


class Faulty(Strategy):
    """Returns an agent of the team whether or not it is a candidate: a bug the world must catch."""

    def choose(self, conversation, candidates, now):
        return conversation.team.agents[0]


class Plain:
    """No base class: the lowest-ranked candidate."""

    def choose(self, conversation, candidates, now):
        return min(candidates, key=lambda agent: agent.rank, default=None)
