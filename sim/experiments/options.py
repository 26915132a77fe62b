"""What ``convsim``'s options and the Python API's arguments accept, parsed in one place: a scenario by
path or shipped name, strategies as names or comma lists, durations ("30m"), shares (0.3 or "30%"),
service targets and costs as text. The command line hands its options' text here as typed, so a value
means the same in a notebook and in a shell, and is refused with the same words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim import units
from sim.errors import ConvsimError
from sim.model import scenario as scenario_file
from sim.model.scenario import Scenario

if TYPE_CHECKING:
    from sim.experiments.staffing import Planning, Target


def scenario(value: Scenario | str | Path) -> Scenario:
    """A Scenario as given, or read from a file or a shipped scenario's name (``"default"``)."""
    return value if isinstance(value, Scenario) else scenario_file.load(value)


def strategies(value: str | Sequence[str] | None, where: str = "strategy") -> list[str]:
    """Strategy names from a name, a comma list (``"round_robin,least_busy"``) or a list of either, in
    order, each once; every name is looked up now, so a typo fails before anything runs."""
    from strategies import registry

    items = [value] if isinstance(value, str) else list(value or [])
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ConvsimError(f"{where}: expected strategy names, got {item!r}")
        found = [name.strip() for name in item.split(",") if name.strip()]
        if not found:
            raise ConvsimError(f"{where} {item!r}: name at least one strategy (a name, or names separated by commas)")
        names += found
    for name in names:
        registry.resolve(name)
    return list(dict.fromkeys(names))


def strategy(value: str | Sequence[str] | None, where: str = "strategy") -> str | None:
    """One strategy (or None: the scenario's own), written as :func:`strategies` reads them."""
    names = strategies(value, where)
    if len(names) > 1:
        raise ConvsimError(f"{where}: this takes one strategy, got {len(names)} ({', '.join(names)})")
    return names[0] if names else None


def duration(value: float | str | None, where: str) -> float | None:
    """Seconds from a number or a duration such as "90s", "30m", "1h" (None stays None)."""
    if value is None:
        return None
    try:
        return units.duration(value)
    except (ValueError, TypeError) as exc:
        raise ConvsimError(f"{where} {value!r}: {exc}") from None


def share(value: float | str | None, where: str) -> float | None:
    """A share from a number (0.3) or a percentage ("30%"), from 0 to 1 (None stays None)."""
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value[:-1]) / 100 if isinstance(value, str) and value.strip().endswith("%") else float(value)
    except (ValueError, TypeError):
        raise ConvsimError(f"{where} {value!r}: expected a share such as 0.3 or 30%") from None
    if not 0 <= number <= 1:
        raise ConvsimError(f"{where} {value!r}: a share is from 0 to 1 (or 0% to 100%)")
    return number


def targets(value: str | Target | Sequence[str | Target]) -> tuple[Target, ...]:
    """Service targets from text (``"service_level>=80%@60s"``, ``"abandonment_rate<=0.05"``) or Targets."""
    from sim.experiments.staffing import Target

    items = [value] if isinstance(value, str | Target) else list(value or [])
    found = tuple(item if isinstance(item, Target) else Target.parse(item) for item in items)
    if not found:
        raise ConvsimError("staffing needs at least one target, e.g. service_level>=80%@60s")
    return found


def interval(value: float | str | None, scenario: Scenario) -> float | None:
    """A staffing interval ("30m", 1800; None: the scenario's), refused under a minute before any study runs."""
    seconds = duration(value, "interval")
    width = scenario.interval if seconds is None else seconds
    if width < 60:
        where = f"interval {value!r}" if seconds is not None else f"{scenario.source}: interval"
        raise ConvsimError(f"{where}: {width:g} s is under a minute; staffing intervals are 15m, 30m, 1h …")
    return seconds


def cost(value: float | str | Mapping[str, float] | Sequence[str | float] | None,
         scenario: Scenario | None = None) -> dict[str, float]:
    """Cost per agent-hour by agent type: a number for all (25, "25"), ``"TYPE=COST"`` (an agent group's id
    or a team: ``"support-es=28"``), a list of those, or a mapping (``{"*": 25, "support-es": 28}``)."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        pairs = [(str(kind), amount) for kind, amount in value.items()]
    else:
        pairs = []
        for item in [value] if isinstance(value, str | int | float) else list(value):
            kind, _, amount = item.rpartition("=") if isinstance(item, str) else ("", "", item)
            pairs.append((kind or "*", amount))
    rates = {}
    for kind, amount in pairs:
        try:
            if isinstance(amount, bool):
                raise ValueError
            rates[kind] = float(amount)
        except (ValueError, TypeError):
            raise ConvsimError(f"cost {value!r}: expected a cost per agent-hour (25) or TYPE=COST "
                               "(support-es=28; TYPE an agent group id or a team)") from None
    if scenario is not None:
        unknown = set(rates) - {"*", *scenario.teams, *(spec.id for spec in scenario.agents)}
        if unknown:
            raise ConvsimError(f"cost: unknown agent type(s) {', '.join(sorted(unknown))}; the scenario's: "
                               f"{', '.join(spec.id for spec in scenario.agents)} (or a team)")
    return rates


def planning(scenario: Scenario, shrinkage: float | str = 0.0, max_occupancy: float | str | None = None,
             cost_per_hour: Any = None, fte_hours: float = 40.0, days_per_week: int = 7) -> Planning:
    """The :class:`~sim.experiments.staffing.Planning` of a study, from numbers or text ("30%", "support-es=28")."""
    from sim.experiments.staffing import Planning

    return Planning(share(shrinkage, "shrinkage") or 0.0, share(max_occupancy, "max occupancy"),
                    cost(cost_per_hour, scenario), float(fte_hours), int(days_per_week))


def columns(value: str | Mapping[str, str] | None, where: str = "columns") -> dict[str, str]:
    """A column mapping, ours to theirs: ``"timestamp=sent_at,contact_id=from"`` or a mapping."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(ours): str(theirs) for ours, theirs in value.items()}
    pairs = [item.split("=", 1) for item in value.split(",")]
    if any(len(pair) != 2 or not all(part.strip() for part in pair) for pair in pairs):
        raise ConvsimError(f"{where} {value!r}: expected our=theirs pairs, comma-separated "
                           "(timestamp=sent_at,contact_id=from)")
    return {ours.strip(): theirs.strip() for ours, theirs in pairs}
