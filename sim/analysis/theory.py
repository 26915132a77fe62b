"""Closed forms: Erlang B, Erlang C (M/M/n), M/M/n with priority classes (Cobham), Erlang A (M/M/n+M),
and square-root staffing.

Rates are per second, times in seconds. ``load`` is the offered load in Erlangs (λ × mean handle).
Everything is computed in a numerically stable way for hundreds of agents and loads near 1: Erlang B
by its recursion, Erlang A through the regularised lower incomplete gamma function in log space.

Service level has three definitions in the literature; each is named apart here:

- ``service_level_all``: arrivals whose wait ended within t (answered, or abandoned, within t) over
  all arrivals — P(W ≤ t), the classic Erlang C service level (no abandonment: the same as the next);
- ``service_level_answered_of_all``: arrivals answered within t over all arrivals;
- ``service_level_answered_of_answered``: answered within t over answered arrivals.

Our KPI ``service_level`` (sim.analysis.metrics) is *answered within t over all offered*:
``service_level_answered_of_all``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property

from scipy import integrate, optimize, special, stats


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of M/M/n/n: the stable recursion B(k) = a B(k-1) / (k + a B(k-1))."""
    if agents < 0 or load < 0:
        raise ValueError(f"agents and load must not be negative, got {agents}, {load}")
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


@dataclass(frozen=True)
class ErlangC:
    """M/M/n: Poisson arrivals (``arrival_rate`` per second), exponential handle times of mean
    ``mean_handle`` seconds, ``agents`` servers, infinite patience."""

    arrival_rate: float
    mean_handle: float
    agents: int

    @property
    def load(self) -> float:
        return self.arrival_rate * self.mean_handle

    @property
    def occupancy(self) -> float:
        return self.load / self.agents

    @cached_property
    def p_wait(self) -> float:
        """Probability that an arrival waits (the Erlang C formula); 1 when load ≥ agents."""
        if self.load >= self.agents:
            return 1.0
        blocking = erlang_b(self.agents, self.load)
        return self.agents * blocking / (self.agents - self.load * (1 - blocking))

    @property
    def _drain_rate(self) -> float:
        return self.agents / self.mean_handle - self.arrival_rate

    @property
    def mean_wait(self) -> float:
        """Mean wait in the queue of all arrivals, seconds."""
        return self.p_wait / self._drain_rate if self._drain_rate > 0 else math.inf

    def service_level(self, target: float) -> float:
        """P(W ≤ target): answered within the target over all arrivals."""
        if self._drain_rate <= 0:
            return 0.0
        return 1 - self.p_wait * math.exp(-self._drain_rate * target)

    @property
    def mean_queue(self) -> float:
        """Mean number waiting (Little's law: λ × mean wait)."""
        return self.arrival_rate * self.mean_wait


@dataclass(frozen=True)
class PriorityErlangC:
    """M/M/n with non-preemptive priority classes: Poisson arrivals of each class (``arrival_rates`` per
    second, highest priority first), one exponential handle time of mean ``mean_handle`` seconds for
    every class, ``agents`` servers, first come first served within a class, infinite patience.

    Cobham's formula (A. Cobham, "Priority assignment in waiting line problems", Operations Research 2
    (1954) 70–76): class k waits on average W_k = C(n, a) / (n μ) / ((1 − σ_{k−1})(1 − σ_k)), with
    σ_k = Σ_{i≤k} λ_i / (n μ) and C(n, a) Erlang C's probability of waiting for the total load."""

    arrival_rates: tuple[float, ...]
    mean_handle: float
    agents: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "arrival_rates", tuple(self.arrival_rates))
        if not self.arrival_rates or min(self.arrival_rates) < 0:
            raise ValueError(f"arrival_rates: one or more rates >= 0 needed, got {list(self.arrival_rates)}")

    @property
    def pooled(self) -> ErlangC:
        """The same queue without priorities (every class together, first come first served)."""
        return ErlangC(sum(self.arrival_rates), self.mean_handle, self.agents)

    @cached_property
    def mean_waits(self) -> tuple[float, ...]:
        """Mean wait in the queue of each class, seconds; ``math.inf`` for a class with σ_k ≥ 1."""
        capacity = self.agents / self.mean_handle
        base = self.pooled.p_wait / capacity  # the wait until the first agent frees, given all are busy
        sigmas = list(itertools.accumulate((rate / capacity for rate in self.arrival_rates), initial=0.0))
        return tuple(base / ((1 - above) * (1 - upto)) if upto < 1 else math.inf
                     for above, upto in itertools.pairwise(sigmas))

    @property
    def mean_wait(self) -> float:
        """Mean wait of all arrivals, seconds: the classes' waits weighted by their arrival rates."""
        total = sum(self.arrival_rates)
        return sum(r * w for r, w in zip(self.arrival_rates, self.mean_waits, strict=True)) / total if total else 0.0


@dataclass(frozen=True)
class ErlangA:
    """M/M/n+M (Palm/Erlang-A): as Erlang C, and each waiting contact abandons after an exponential
    patience of mean ``mean_patience`` seconds. Stable at any load, overload included.

    With θ = 1/mean patience, x = n μ / θ and y = λ / θ, the queue's sums reduce to the lower
    incomplete gamma function γ(x, y): P(V > t) = P(wait) γ(x, y e^{-θt}) / γ(x, y) for the offered
    wait V (the wait of an infinitely patient arrival).
    """

    arrival_rate: float
    mean_handle: float
    agents: int
    mean_patience: float

    @property
    def load(self) -> float:
        return self.arrival_rate * self.mean_handle

    @property
    def _theta(self) -> float:
        return 1 / self.mean_patience

    @property
    def _x(self) -> float:
        return self.agents / self.mean_handle / self._theta

    @property
    def _y(self) -> float:
        return self.arrival_rate / self._theta

    def _log_lower_gamma(self, a: float, z: float) -> float:
        return log_lower_gamma(a, z)

    @cached_property
    def _log_a(self) -> float:
        """log A(x, y), A = x e^y y^-x γ(x, y) = Σ_j Π_{i≤j} y / (x + i)."""
        x, y = self._x, self._y
        return math.log(x) + y - x * math.log(y) + self._log_lower_gamma(x, y)

    @cached_property
    def p_wait(self) -> float:
        """Probability that an arrival finds every agent busy: A B / (1 + (A - 1) B)."""
        blocking = erlang_b(self.agents, self.load)
        a = math.exp(self._log_a)
        return a * blocking / (1 + (a - 1) * blocking)

    @cached_property
    def p_abandon(self) -> float:
        """Probability that an arrival abandons: P(wait) (1 / (ρ A) + 1 - 1 / ρ), ρ = λ / (n μ)."""
        rho = self._y / self._x
        return self.p_wait * (1 / (rho * math.exp(self._log_a)) + 1 - 1 / rho)

    @property
    def p_answered(self) -> float:
        return 1 - self.p_abandon

    @property
    def mean_wait(self) -> float:
        """Mean wait of all arrivals (answered or abandoned), seconds: P(abandon) / θ."""
        return self.p_abandon * self.mean_patience

    @property
    def mean_queue(self) -> float:
        return self.arrival_rate * self.mean_wait

    @property
    def occupancy(self) -> float:
        """Busy agents' share: the load actually served, λ P(answered) × mean handle / n."""
        return self.load * self.p_answered / self.agents

    def p_offered_wait_exceeds(self, t: float) -> float:
        """P(V > t), V the offered wait (the wait of an arrival with infinite patience)."""
        x, y = self._x, self._y
        shrunk = y * math.exp(-self._theta * t)
        if shrunk <= 0:
            return 0.0
        log_ratio = self._log_lower_gamma(x, shrunk) - self._log_lower_gamma(x, y)
        return self.p_wait * math.exp(log_ratio)

    def service_level_all(self, t: float) -> float:
        """P(W ≤ t): the wait ended (answered or abandoned) within t, over all arrivals."""
        return 1 - self.p_offered_wait_exceeds(t) * math.exp(-self._theta * t)

    def service_level_answered_of_all(self, t: float) -> float:
        """Answered within t over all arrivals: P(V ≤ t and V < patience)."""
        x, y = self._x, self._y
        shrunk = y * math.exp(-self._theta * t)
        upper = self._gamma_ratio(x + 1, y, x, y) - self._gamma_ratio(x + 1, shrunk, x, y)
        return 1 - self.p_wait + self.p_wait * upper / y

    def service_level_answered_of_answered(self, t: float) -> float:
        """Answered within t over answered arrivals."""
        return self.service_level_answered_of_all(t) / self.p_answered

    def _gamma_ratio(self, a: float, z: float, b: float, w: float) -> float:
        """γ(a, z) / γ(b, w), in log space."""
        if z <= 0:
            return 0.0
        return math.exp(self._log_lower_gamma(a, z) - self._log_lower_gamma(b, w))

    @cached_property
    def mean_wait_answered(self) -> float:
        """Mean wait of answered arrivals, seconds: E[V; V < patience] / P(answered)."""
        x, y = self._x, self._y
        log_norm = math.log(y) + self._log_lower_gamma(x, y)

        def density(w: float) -> float:  # the substitution w = y e^{-θ v}
            return math.log(y / w) * math.exp(x * math.log(w) - w - log_norm) if w > 0 else 0.0

        mode = min(x, y)
        pieces = sorted({0.0, mode / 2, mode, y})
        total = sum(integrate.quad(density, lo, hi, limit=200)[0] for lo, hi in itertools.pairwise(pieces))
        return self.p_wait * total * self.mean_patience / self.p_answered


def log_lower_gamma(a: float, z: float) -> float:
    """log γ(a, z), the unregularised lower incomplete gamma function, for z > 0.

    Where the regularised P(a, z) underflows (z far below a, as with very patient contacts) the
    series γ(a, z) = z^a e^-z Σ_k z^k / (a (a+1) … (a+k)) is summed in log space instead."""
    regularised = special.gammainc(a, z)
    if regularised > 1e-250:
        return math.log(regularised) + special.gammaln(a)
    term, total, k = 1 / a, 1 / a, 0
    while term > total * 1e-17:
        k += 1
        term *= z / (a + k)
        total += term
    return a * math.log(z) - z + math.log(total)


def agents_for_service_level(arrival_rate: float, mean_handle: float, target: float, level: float,
                             mean_patience: float | None = None, max_abandon: float | None = None) -> int:
    """The fewest agents whose service level (answered within ``target`` over all arrivals) is at
    least ``level`` — by Erlang C, or by Erlang A when ``mean_patience`` is given, where
    ``max_abandon`` may also bound the abandonment probability."""
    load = arrival_rate * mean_handle
    agents = max(1, math.floor(load) + (mean_patience is None))
    while True:
        if mean_patience is None:
            model = ErlangC(arrival_rate, mean_handle, agents)
            ok = model.service_level(target) >= level
        else:
            model_a = ErlangA(arrival_rate, mean_handle, agents, mean_patience)
            ok = model_a.service_level_answered_of_all(target) >= level and (
                max_abandon is None or model_a.p_abandon <= max_abandon)
        if ok:
            return agents
        agents += 1


def halfin_whitt_beta(p_wait: float) -> float:
    """The β of square-root staffing for a target probability of waiting (Halfin-Whitt):
    P(wait) ≈ [1 + β Φ(β) / φ(β)]⁻¹."""
    if not 0 < p_wait < 1:
        raise ValueError(f"p_wait must be in (0, 1), got {p_wait}")
    return optimize.brentq(lambda b: 1 / (1 + b * stats.norm.cdf(b) / stats.norm.pdf(b)) - p_wait, 1e-9, 10)


def square_root_staffing(load: float, beta: float) -> int:
    """Agents by the square-root rule: ⌈a + β √a⌉."""
    return math.ceil(load + beta * math.sqrt(load) - 1e-12)



@dataclass(frozen=True)
class MachineRepairman:
    """The finite-source queue M/M/1//N (the machine-repairman model): one agent holding ``chats``
    never-ending conversations, each contact answering after an exponential think time of mean
    ``mean_think`` seconds, the agent writing replies of exponential length (mean ``mean_reply``) one at
    a time, first come first served.

    P(n messages await the agent) ∝ N! / (N − n)! · rⁿ with r = mean_reply / mean_think (in log space)."""

    chats: int
    mean_think: float
    mean_reply: float

    @cached_property
    def p(self) -> list[float]:
        """The stationary distribution of the number of messages at the agent (awaiting or being answered)."""
        n, r = self.chats, self.mean_reply / self.mean_think
        logs = [math.lgamma(n + 1) - math.lgamma(n - k + 1) + k * math.log(r) for k in range(n + 1)]
        top = max(logs)
        weights = [math.exp(v - top) for v in logs]
        total = math.fsum(weights)
        return [w / total for w in weights]

    @property
    def utilisation(self) -> float:
        """The share of time the agent writes: 1 − P(nothing awaits)."""
        return 1 - self.p[0]

    @property
    def throughput(self) -> float:
        """Replies per second."""
        return self.utilisation / self.mean_reply

    @property
    def mean_at_agent(self) -> float:
        """Mean number of messages awaiting a reply or being answered."""
        return math.fsum(k * pk for k, pk in enumerate(self.p))

    @property
    def mean_response(self) -> float:
        """Mean response time (a contact's message → the agent's reply), seconds: N / X − think time."""
        return self.chats / self.throughput - self.mean_think

    @property
    def mean_wait(self) -> float:
        """Mean wait for the agent's attention before it starts writing, seconds."""
        return self.mean_response - self.mean_reply


__all__ = ["ErlangA", "ErlangC", "MachineRepairman", "PriorityErlangC", "agents_for_service_level", "erlang_b",
           "halfin_whitt_beta", "square_root_staffing"]
