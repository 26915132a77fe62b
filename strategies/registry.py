"""Strategies by name: the built-ins, ``module:Class`` paths and ``convsim.strategies`` entry points.

Consulted when a scenario is compiled for running, never by the scenario's parser."""

from __future__ import annotations

import importlib
import typing
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any, Literal

import pydantic

from sim.errors import StrategyError
from strategies.base import Selection, Strategy
from strategies.bullseye import Bullseye
from strategies.least_busy import LeastBusy
from strategies.least_open_below_cap import LeastOpenBelowCap
from strategies.longest_idle import LongestIdle
from strategies.random_choice import RandomChoice
from strategies.round_robin import RoundRobin
from strategies.selection import LongestWaiting, OldestFirst, Priority
from strategies.skill_based import SkillBased
from strategies.sticky import Sticky

_BUILT_IN: dict[str, type[Strategy]] = {cls.name: cls for cls in (
    Bullseye, LeastBusy, LeastOpenBelowCap, LongestIdle, RandomChoice, RoundRobin, SkillBased, Sticky)}
_SELECTIONS: dict[str, type[Selection]] = {cls.name: cls for cls in (LongestWaiting, OldestFirst, Priority)}


def register(name: str) -> Callable[[type[Strategy]], type[Strategy]]:
    """Class decorator that makes a strategy of this process available under ``name``."""

    def wrap(cls: type[Strategy]) -> type[Strategy]:
        cls.name = name
        _BUILT_IN[name] = cls
        return cls

    return wrap


_KINDS: dict[str, tuple[dict[str, type], str, str]] = {  # kind: built-ins, entry-point group, the method
    "strategy": (_BUILT_IN, "convsim.strategies", "choose"),
    "selection": (_SELECTIONS, "convsim.selections", "order"),
}
Kind = Literal["strategy", "selection"]


def available(kind: Kind = "strategy") -> dict[str, Any]:
    """Every strategy (or selection policy) that can be named: built-ins and installed entry points."""
    built_in, group, _ = _KINDS[kind]
    found: dict[str, Any] = dict(built_in)
    for entry in entry_points(group=group):
        found.setdefault(entry.name, entry)  # loaded only when named
    return found


def resolve(name: str, kind: Kind = "strategy") -> type:
    """The class for a registered name or an explicit ``module:Class`` path."""
    method = _KINDS[kind][2]
    if ":" in name:
        module_name, _, attr = name.partition(":")
        if not module_name or module_name.startswith(".") or not attr:
            raise StrategyError(f"{kind} {name!r}: expected module:Class, e.g. my_policies:Busiest")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise StrategyError(f"{kind} {name!r} cannot be loaded: {exc}") from None
        except (Exception, SystemExit) as exc:  # the module's own code failed (or exited) as it was imported
            raise StrategyError(f"{kind} {name!r} cannot be loaded: importing {module_name!r} raised "
                                f"{type(exc).__name__}: {exc}") from None
    else:
        found = _KINDS[kind][0].get(name) or available(kind).get(name)  # (a built-in: no scan of entry points)
        if found is None:
            known = ", ".join(sorted(available(kind)))
            plural = "strategies" if kind == "strategy" else "selections"
            raise StrategyError(f"unknown {kind} {name!r}; known {plural}: {known}")
        try:
            cls = found if isinstance(found, type) else found.load()
        except (Exception, SystemExit) as exc:  # an installed entry point that fails to import
            raise StrategyError(f"{kind} {name!r} cannot be loaded: {type(exc).__name__}: {exc}") from None
    if not (isinstance(cls, type) and callable(getattr(cls, method, None))):
        raise StrategyError(f"{kind} {name!r} is not a class with a {method}() method")
    return cls


def make(name: str, params: Mapping[str, Any] | None = None, kind: Kind = "strategy") -> Any:
    """A fresh instance, its parameters checked against the class's constructor."""
    cls = resolve(name, kind)
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
                raise StrategyError(f"{kind} {name!r}: parameter {key}={value!r}: {reason}") from None
    try:
        made = cls(**params)
    except (TypeError, ValueError) as exc:
        raise StrategyError(f"{kind} {name!r}: bad parameters {params!r}: {exc}") from None
    except (Exception, SystemExit) as exc:  # a user's class failed as it was made
        raise StrategyError(f"{kind} {name!r}: making it raised {type(exc).__name__}: {exc}") from None
    if not getattr(made, "name", ""):
        made.name = name
    if kind == "strategy" and not hasattr(made, "wake_after"):
        made.wake_after = None  # a plain class with choose() asks for no further dispatch
    if not cls.__module__.startswith("strategies."):
        _guard(made, name, kind)
    return made


def _guard(made: Any, name: str, kind: Kind) -> None:
    """A user's policy whose own code fails (raises, or exits) during a run fails as a StrategyError
    naming it, never as a traceback out of the engine; built-in policies are not wrapped."""
    for method in ("prepare", _KINDS[kind][2]):
        inner = getattr(made, method, None)
        if inner is None:
            continue

        def guarded(*args: Any, _inner: Callable[..., Any] = inner, _method: str = method) -> Any:
            try:
                return _inner(*args)
            except (Exception, SystemExit) as exc:
                raise StrategyError(f"{kind} {name!r}: its {_method}() raised {type(exc).__name__}: {exc}") from None

        try:
            setattr(made, method, guarded)
        except AttributeError:  # __slots__: left as it is
            return
