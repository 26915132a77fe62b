"""The errors a user may see: each names the file, the field or row, and the bad value."""


class ConvsimError(Exception):
    """Base of the errors convsim reports to its users."""


class ScenarioError(ConvsimError):
    """A scenario file that cannot be read or does not validate."""


class TraceError(ConvsimError):
    """An arrival trace that cannot be read or holds bad rows."""


class StrategyError(ScenarioError):
    """A strategy, named by a scenario or a command, that cannot be found or loaded."""


class ScenarioWarning(UserWarning):
    """A scenario that loads and runs, but most likely not as its author meant (a step no conversation
    reaches, a team nobody is routed to …): ``convsim check`` lists them."""
