"""Strategies by name: the built-ins, ``module:Class`` paths and ``convsim.strategies`` entry points.

Consulted when a scenario is compiled for running, never by the scenario's parser."""

from __future__ import annotations

import importlib
import typing
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

import pydantic

from sim.errors import StrategyError
from strategies.base import Strategy
from strategies.least_busy import LeastBusy
from strategies.longest_idle import LongestIdle
from strategies.random_choice import RandomChoice
from strategies.round_robin import RoundRobin
from strategies.skill_based import SkillBased
from strategies.sticky import Sticky

_BUILT_IN: dict[str, type[Strategy]] = {cls.name: cls for cls in (
    LeastBusy, LongestIdle, RandomChoice, RoundRobin, SkillBased, Sticky)}


def register(name: str) -> Callable[[type[Strategy]], type[Strategy]]:
    """Class decorator that makes a strategy of this process available under ``name``."""

    def wrap(cls: type[Strategy]) -> type[Strategy]:
        cls.name = name
        _BUILT_IN[name] = cls
        return cls

    return wrap


def available() -> dict[str, type[Strategy]]:
    """Every strategy that can be named: built-ins and installed entry points, by name."""
    found = dict(_BUILT_IN)
    for entry in entry_points(group="convsim.strategies"):
        found.setdefault(entry.name, entry)  # loaded only when named
    return found


def resolve(name: str) -> type[Strategy]:
    """The strategy class for a registered name or an explicit ``module:Class`` path."""
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise StrategyError(f"strategy {name!r} cannot be loaded: {exc}") from None
    else:
        found = available().get(name)
        if found is None:
            known = ", ".join(sorted(available()))
            raise StrategyError(f"unknown strategy {name!r}; known strategies: {known}")
        cls = found if isinstance(found, type) else found.load()
    if not (isinstance(cls, type) and callable(getattr(cls, "choose", None))):
        raise StrategyError(f"strategy {name!r} is not a class with a choose() method")
    return cls


def make(name: str, params: Mapping[str, Any] | None = None) -> Strategy:
    """A fresh strategy instance, its parameters checked against the class's constructor."""
    cls = resolve(name)
    params = dict(params or {})
    try:
        hints = typing.get_type_hints(cls.__init__, include_extras=True)
    except (NameError, TypeError):
        hints = {}
    for key, value in params.items():
        if key in hints:
            try:
                params[key] = pydantic.TypeAdapter(hints[key]).validate_python(value)
            except pydantic.ValidationError as exc:
                reason = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
                raise StrategyError(f"strategy {name!r}: parameter {key}={value!r}: {reason}") from None
    try:
        strategy = cls(**params)
    except TypeError as exc:
        raise StrategyError(f"strategy {name!r}: bad parameters {params!r}: {exc}") from None
    if not getattr(strategy, "name", ""):
        strategy.name = name
    return strategy
