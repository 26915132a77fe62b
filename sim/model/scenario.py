"""The scenario file: schema, YAML loading, and errors that name the file, the field and the value."""

from __future__ import annotations

import datetime as dt
import itertools
import reprlib
import warnings
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from sim import units
from sim.errors import ScenarioError, ScenarioWarning
from sim.model import lint, loops, yamltext
from sim.model.distributions import Constant, Distribution
from sim.units import Seconds

Probability = Annotated[float, Field(ge=0, le=1)]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SEED = 2**63 - 2**20  # seeds are 64-bit; replications add to them
MAX_INTERVAL_ROWS = 1_000_000  # rows of the intervals table, per team and run
MAX_AGENTS = 1_000_000
MAX_RETURNS = 10_000  # conversations one contact may open by returning
SHARES_TOLERANCE = 1e-9  # how far from 1 shares may add up (weights are normalised instead)
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


def _weights(value: Any) -> tuple[Any, bool]:
    """A mapping of shares, and whether it was given as ``{weights: {...}}`` (to be normalised)."""
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("weights"), dict):
        return value["weights"], True
    return value, False


def _summed(shares: dict[Any, float], weighted: bool) -> None:
    """Shares must add up to 1; weights (``{weights: {...}}``) to any positive total."""
    total = sum(shares.values())
    if not 0 < total < float("inf"):
        raise ValueError(f"shares must add up to a positive finite total, got {shares!r}")
    if not weighted and abs(total - 1) > SHARES_TOLERANCE:
        terms = " + ".join(f"{key} {share:g}" for key, share in list(shares.items())[:8])
        raise ValueError(f"shares add up to {total:.12g} ({terms}{' …' if len(shares) > 8 else ''}), not 1; "
                         "correct them, or give weights to be normalised as {weights: {...}}")


def _shares(value: Any) -> dict[str, float]:
    value, weighted = _weights(value)
    if not isinstance(value, dict) or not value:
        raise ValueError(f"expected a mapping of value to share, got {value!r}")
    shares = {}
    for key, share in value.items():
        if isinstance(share, bool) or not isinstance(share, int | float) or not share >= 0:
            raise ValueError(f"share of {key!r} must be a number >= 0, got {share!r}")
        shares[str(key)] = float(share)
    _summed(shares, weighted)
    total = sum(shares.values())
    return {key: share / total for key, share in shares.items()}


Shares = Annotated[dict[str, float], BeforeValidator(_shares)]
"""Value → share. Shares add up to 1 (within 1e-9), or are weights, written ``{weights: {a: 3, b: 1}}``,
normalised to add up to 1."""


class StrategySpec(_Model):
    """A strategy by name with its constructor parameters; YAML may give just the name."""

    name: str
    params: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value}
        if isinstance(value, dict) and "params" not in value:
            params = {k: v for k, v in value.items() if k != "name"}
            return {"name": value.get("name"), "params": params}
        return value

    def __str__(self) -> str:
        return self.name


# ----------------------------------------------------------------------------------------- arrivals


class FollowUps(_Model):
    """Further messages a contact sends after the opening one: they join the open conversation."""

    mean: float = Field(ge=0, le=1000, description="mean number of follow-up messages per opening message")
    delay: Distribution = Field(description="delay of each follow-up after the previous message")


class Returns(_Model):
    """A share of contacts who write again later: a new message that opens a conversation of its own
    (if the first one is closed by then)."""

    share: Probability
    delay: Distribution


REPEAT = ("the period after which the values start again, written to say a cycle other than whole days is "
          "meant; it must equal their number x their step. Without it, values that last other than whole days "
          "and run out within the scenario are an error")


class ContactType(_Model):
    """One type of contact with its own profile (ContactCenters' contact types): new contacts per hour
    for consecutive intervals of ``profile_step`` from midnight, repeated; its own channel and
    attribute shares (default: the generator's)."""

    profile: list[Annotated[float, Field(ge=0)]] = Field(min_length=1)
    profile_step: Seconds | None = Field(None, gt=0, description="default: the generator's profile_step")
    repeat: Seconds | None = Field(None, gt=0, description=REPEAT)
    channels: Shares | None = None
    attributes: dict[str, Shares] = {}


class Generate(_Model):
    """Synthetic days: non-homogeneous Poisson arrivals of new contacts, piecewise constant per interval.

    ``profile`` gives new contacts per hour for consecutive intervals of ``profile_step``, from midnight
    of the scenario's first day, repeated; or ``types`` give a profile each, every contact then carrying
    its type as the attribute ``type``. ``weekdays`` scales each weekday; ``overdispersion`` is the
    coefficient of variation of a Gamma day-level multiplier of mean 1 (0: Poisson day totals), the
    day's busyness shared by every type."""

    profile: list[Annotated[float, Field(ge=0)]] | None = Field(None, min_length=1)
    types: dict[str, ContactType] = Field({}, description="contact types, each with its own profile")
    profile_step: Seconds = Field(3600.0, gt=0, description="length of each profile value's interval")
    repeat: Seconds | None = Field(None, gt=0, description=REPEAT)
    volume: float = Field(1.0, ge=0, description="multiplier on every rate of the profile")
    weekdays: dict[Weekday, Annotated[float, Field(ge=0)]] = Field({}, description="rate multiplier per weekday")
    overdispersion: float = Field(0.0, ge=0, le=10, description="coefficient of variation of the day multiplier")
    channels: Shares
    attributes: dict[str, Shares] = {}
    follow_ups: FollowUps | None = None
    returns: Returns | None = None

    @model_validator(mode="after")
    def _profile_or_types(self) -> Generate:
        if (self.profile is None) == (not self.types):
            raise ValueError("give exactly one of 'profile' or 'types'")
        if self.types and "type" in self.attributes:
            raise ValueError("attributes: 'type' is set by 'types'")
        if self.types and self.repeat is not None:
            raise ValueError("repeat: give it to the type whose profile it is (types.NAME.repeat)")
        return self


class TraceFile(_Model):
    """An arrival trace file (CSV or Parquet), path relative to the scenario file."""

    path: str
    columns: dict[str, str] = Field({}, description="our column name -> the file's column name")
    on_bad_rows: Literal["error", "drop"] = "error"


class Arrivals(_Model):
    trace: TraceFile | None = None
    generate: Generate | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Arrivals:
        if (self.trace is None) == (self.generate is None):
            raise ValueError("give exactly one of 'trace' or 'generate'")
        return self


# ------------------------------------------------------------------------------- contacts, handling


class Returning(_Model):
    """After a conversation closes, its contact may write again, opening a new one."""

    probability: Probability
    delay: Distribution


class Contacts(_Model):
    patience: Varying | None = Field(None, description="time a contact waits in the queue; none: forever")
    silent_share: Probability = Field(
        0.0, description="share of contacts who stop replying after the agent's first message")
    returning: Returning | None = None
    known_fields: list[str] = Field(
        [], description="contact attributes the platform already holds at opening, read from the arrivals (trace "
        "columns or generated attributes). An attribute not listed is the contact's true value only: the "
        "workflow knows it once an ask or lookup step sets it, and a branch, skills_from or priority field "
        "that nothing sets is an error")


class Case(_Model):
    """A distribution for the conversations that match: ``when`` the contact's true attributes (trace
    columns, generated attributes) or ``channel`` take these values, and opened within ``hours`` of the day."""

    when: dict[str, str | list[str]] = {}
    hours: Annotated[tuple[float, float], BeforeValidator(units.clock_span)] | None = None
    dist: Distribution


class ByCase(_Model):
    """A quantity whose distribution depends on the contact, the channel and the period of the day: the
    first case that matches, else ``otherwise``."""

    cases: list[Case] = Field(min_length=1)
    otherwise: Distribution


def _by_case(value: Any) -> str:
    return "~cases" if isinstance(value, ByCase) or (isinstance(value, dict) and "cases" in value) else "~dist"


# the tags start with "~": error messages leave them out of the field's path
Varying = Annotated[Annotated[Distribution, Tag("~dist")] | Annotated[ByCase, Tag("~cases")], Discriminator(_by_case)]
"""A distribution, or distributions by case (a mapping with ``cases``)."""


class Counts(_Model):
    """A number of exchanges by its shares: count -> share, adding up to 1 (or ``{weights: {...}}``,
    normalised)."""

    shares: dict[Annotated[int, Field(ge=1)], Annotated[float, Field(ge=0)]] = Field(min_length=1)

    @field_validator("shares", mode="before")
    @classmethod
    def _summed(cls, value: Any) -> Any:
        value, weighted = _weights(value)
        if isinstance(value, dict) and value and all(
                isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value.values()):
            _summed(value, weighted)
            total = sum(value.values())
            return {count: share / total for count, share in value.items()} if weighted else value
        return value

    @field_validator("shares")
    @classmethod
    def _normalised(cls, shares: dict[int, float]) -> dict[int, float]:
        total = sum(shares.values())
        if not 0 < total < float("inf"):
            raise ValueError(f"shares must add up to a positive finite total, got {shares!r}")
        return {count: share / total for count, share in sorted(shares.items())}

    @property
    def mean(self) -> float:
        return sum(count * share for count, share in self.shares.items())


def _exchanges(value: Any) -> Any:
    """A number of exchanges as YAML gives it: a count, a mapping count -> share, or a distribution."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError("a conversation has at least one exchange")
        return Constant(value=float(value))
    if isinstance(value, dict) and "dist" not in value and "shares" not in value:
        return {"shares": value}
    return value


def _counts_or_dist(value: Any) -> str:
    return "~counts" if isinstance(value, Counts) or (isinstance(value, dict) and "shares" in value) else "~dist"


Exchanges = Annotated[Annotated[Annotated[Distribution, Tag("~dist")] | Annotated[Counts, Tag("~counts")],
                                Discriminator(_counts_or_dist)], BeforeValidator(_exchanges)]
"""Agent replies in a conversation: a count, shares of counts, or a distribution rounded to a count (at least 1)."""


class Messages(_Model):
    """Message-level handling: after assignment, turns of an agent reply (``reply_time``, the agent's
    writing, divided by its speed; replies to the agent's open chats queue for its attention, first come
    first served) and the contact's answer (``think_time``), until the conversation's number of
    ``exchanges`` (agent replies) is reached, or the contact goes silent (``silent_probability`` after
    each agent reply; the conversation then auto-closes). ``exchanges`` or ``resolve_probability`` (after
    each agent reply, the conversation is resolved: a geometric number of exchanges; 0: never) is given."""

    reply_time: Distribution
    think_time: Distribution
    exchanges: Exchanges | None = None
    resolve_probability: Probability | None = None
    silent_probability: Probability = Field(0.0, description="after each agent reply, the contact goes silent")

    @model_validator(mode="after")
    def _one_ending(self) -> Messages:
        if (self.exchanges is None) == (self.resolve_probability is None):
            raise ValueError("give exactly one of 'exchanges' or 'resolve_probability'")
        return self

    @property
    def mean_exchanges(self) -> float:
        """The mean number of agent replies of a conversation the agent resolves (silence left aside)."""
        if self.exchanges is not None:
            return self.exchanges.mean
        return 1 / self.resolve_probability if self.resolve_probability else float("inf")


class Handling(_Model):
    """How agents handle an assigned conversation: ``mode: lumped`` (the default and the fast path: a first
    response, then one handle time stretched by the agent's load) or ``mode: messages`` (turns of
    messages, see :class:`Messages`; ``first_response``, ``handle_time`` and ``slowdown`` then do not
    apply, except a trace's ``handle_time`` column, which is the lumped mode's)."""

    mode: Literal["lumped", "messages"] = "lumped"
    first_response: Distribution = Constant(value=0.0)
    handle_time: Varying | None = None
    slowdown: float = Field(0.0, ge=0, description="handle time x (1 + slowdown x (concurrent - 1))")
    auto_close: Seconds = Field(1800.0, gt=0, description="close after the contact is silent this long")
    messages: Messages | None = Field(None, description="the turns of message-level handling")

    @model_validator(mode="after")
    def _mode(self) -> Handling:
        if self.mode == "lumped" and self.handle_time is None:
            raise ValueError("handle_time: Field required (mode lumped)")
        if self.mode == "messages" and self.messages is None:
            raise ValueError("messages: Field required (mode messages)")
        return self


class Team(_Model):
    first_response: Distribution | None = None
    handle_time: Varying | None = None


class Shift(_Model):
    start: float
    end: float

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            start, sep, end = value.partition("-")
            if not sep:
                raise ValueError(f"expected a shift HH:MM-HH:MM, got {value!r}")
            return {"start": units.clock(start), "end": units.clock(end)}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Shift:
        if self.end <= self.start:
            raise ValueError(
                f"shift ends ({self.end / 3600:g}h) before it starts ({self.start / 3600:g}h); "
                "write a shift past midnight as e.g. 22:00-30:00"
            )
        return self


class Headcount(_Model):
    """Agents of a group online per period, from midnight of each day, repeated daily (ContactCenters'
    staffing per period). When it drops, ``idle_first``: idle agents leave first and no agent of the
    group takes new work until as few are online as the period asks (the others leave as they finish);
    ``named``: agents n+1 … leave at once, as a shift ending would have them."""

    periods: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)
    step: Seconds = Field(3600.0, gt=0, description="length of each period")
    repeat: Seconds | None = Field(None, gt=0, description=REPEAT)
    on_drop: Literal["idle_first", "named"] = "idle_first"

    def changes(self, start: dt.datetime, horizon: float) -> list[tuple[float, int]]:
        """When the headcount changes over ``horizon`` seconds from ``start``: (time, agents from then)."""
        midnight = -units.time_of_day(start)  # the first day's midnight, seconds from t = 0 (<= 0)
        changes: list[tuple[float, int]] = []
        k = int(-midnight // self.step)  # the period running at t = 0, counted from that midnight
        while (begin := midnight + k * self.step) < horizon:
            count = self.periods[k % len(self.periods)]
            if not changes or count != changes[-1][1]:
                changes.append((max(begin, 0.0), count))
            k += 1
        return changes

    def spans(self, start: dt.datetime, horizon: float, number: int) -> list[tuple[float, float]]:
        """The spans when at least ``number`` agents are online."""
        spans: list[tuple[float, float]] = []
        changes = self.changes(start, horizon)
        for (begin, count), (end, _) in zip(changes, [*changes[1:], (horizon, 0)], strict=True):
            if count >= number:
                if spans and spans[-1][1] == begin:
                    spans[-1] = (spans[-1][0], end)
                else:
                    spans.append((begin, end))
        return spans


class AgentSpec(_Model):
    """One agent, or ``count`` identical agents named id-1 … id-n."""

    id: str = Field(min_length=1)
    count: int = Field(1, ge=1, le=100_000, description="default: the most agents of the headcount table")
    team: str
    serves: list[str] = Field([], description="further teams whose queues these agents take from, in order")
    skills: dict[str, Annotated[int, Field(ge=1, le=10)]] = {}
    capacity: int = Field(1, ge=1, le=10_000, description="most conversations open at once")
    shifts: list[Shift] = Field([], description="daily online intervals; none: always online")
    days: list[Weekday] = Field(list(WEEKDAYS), description="weekdays the shifts apply")
    speed: float = Field(1.0, gt=0, description="response and handle times are divided by this")
    headcount: Headcount | None = Field(None, description="agents online per period of the day, instead of shifts")

    @model_validator(mode="before")
    @classmethod
    def _count_from_headcount(cls, value: Any) -> Any:
        if isinstance(value, dict) and "count" not in value and isinstance(value.get("headcount"), dict):
            periods = value["headcount"].get("periods")
            if isinstance(periods, list) and periods and all(isinstance(p, int) for p in periods):
                return {**value, "count": max(max(periods), 1)}
        return value

    @model_validator(mode="after")
    def _headcount_fits(self) -> AgentSpec:
        if self.headcount is not None:
            if self.shifts:
                raise ValueError("give either 'shifts' or 'headcount', not both")
            if max(self.headcount.periods) > self.count:
                raise ValueError(f"headcount.periods: up to {max(self.headcount.periods)} agents online, but count is "
                                 f"{self.count}")
        return self

    @field_validator("shifts")
    @classmethod
    def _no_overlap(cls, shifts: list[Shift]) -> list[Shift]:
        ordered = sorted(shifts, key=lambda s: s.start)
        for before, after in itertools.pairwise(ordered):
            if after.start < before.end:
                raise ValueError(f"shifts overlap: {_hm(before)} and {_hm(after)}")
        return ordered

    def ids(self) -> list[str]:
        return [self.id] if self.count == 1 else [f"{self.id}-{i}" for i in range(1, self.count + 1)]

    def online(self, start: dt.datetime, horizon: float, number: int = 1) -> list[tuple[float, float]]:
        """The shifts as absolute (begin, end) seconds from ``start``, merged, over ``horizon`` seconds; with
        a headcount table, the spans the group's ``number``-th agent (from 1) is among those online."""
        if self.headcount is not None:
            return self.headcount.spans(start, horizon, number)
        if not self.shifts:
            return [(0.0, float("inf"))]
        midnight = -units.time_of_day(start)
        days = {WEEKDAYS.index(d) for d in self.days}
        spans: list[tuple[float, float]] = []
        for day in range(-2, int(horizon // 86400) + 2):
            if (start.weekday() + day) % 7 not in days:
                continue
            for shift in self.shifts:
                begin, end = midnight + day * 86400 + shift.start, midnight + day * 86400 + shift.end
                if end <= 0 or begin >= horizon:
                    continue
                begin = max(begin, 0.0)
                if spans and begin <= spans[-1][1]:
                    spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
                else:
                    spans.append((begin, end))
        return sorted(spans)


def _hm(shift: Shift) -> str:
    def fmt(s: float) -> str:
        return f"{int(s // 3600):02d}:{int(s % 3600 // 60):02d}"

    return f"{fmt(shift.start)}-{fmt(shift.end)}"


# --------------------------------------------------------------------------------------- workflow


class _Step(_Model):
    """A workflow step. Whatever a step takes time for (the contact's answer, the CRM's reply, the bot's
    work) is its ``duration``; the older names ``delay`` (ask) and ``latency`` (lookup) still load, with a
    warning."""

    id: str | None = None
    _renamed: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        for old, new in cls._renamed.items():
            if old in value:
                if new in value:
                    raise ValueError(f"give '{new}' only ('{old}' is its old name)")
                warnings.warn(f"workflow step {value.get('id') or value.get('type')!r}: '{old}' is now called "
                              f"'{new}'", FutureWarning, stacklevel=2)
                value = {(new if key == old else key): item for key, item in value.items()}
        return value


class Ask(_Step):
    """Ask the contact a question; the answer sets a contact field."""

    type: Literal["ask"]
    field: str
    answers: Shares = Field(description="answer shares, used when the trace does not give the field")
    answer_probability: Probability = 1.0
    duration: Distribution = Field(Constant(value=0.0), description="time the contact takes to answer")
    _renamed: ClassVar[dict[str, str]] = {"delay": "duration"}
    timeout: Seconds = 300.0
    on_no_answer: str | None = Field(None, description="step id to go to when unanswered; default: next")


class Lookup(_Step):
    """Enrich from a CRM or HTTP call: sets fields after a latency, or fails."""

    type: Literal["lookup"]
    fields: dict[str, Shares] = Field(min_length=1)
    duration: Distribution = Field(Constant(value=0.0), description="time the lookup takes")
    _renamed: ClassVar[dict[str, str]] = {"latency": "duration"}
    failure_probability: Probability = 0.0
    on_failure: str | None = None


class Rule(_Model):
    when: dict[str, str | list[str]] = Field(min_length=1)
    team: str | None = None
    goto: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Rule:
        if (self.team is None) == (self.goto is None):
            raise ValueError("a rule gives exactly one of 'team' or 'goto'")
        return self


class Branch(_Step):
    """Route on field values: the first rule whose fields all match wins, else the default team."""

    type: Literal["branch"]
    rules: list[Rule] = []
    default: str


class Hours(_Step):
    """Business hours: inside them go on, outside go to the ``outside`` step. A ``close`` at or before
    ``open`` closes the next day (``open: "22:00", close: "06:00"`` is the night); ``days`` are the days
    the span opens, every day by default (as agents' shifts)."""

    type: Literal["hours"]
    open: Annotated[float, BeforeValidator(units.clock)]
    close: Annotated[float, BeforeValidator(units.clock)]
    days: list[Weekday] = Field(list(WEEKDAYS), description="weekdays the span opens; default: every day")
    outside: str

    @model_validator(mode="after")
    def _span(self) -> Hours:
        if self.close == self.open:
            raise ValueError("open and close are the same time; for always open leave the hours step out")
        if self.span()[1] - self.open > 86400:
            raise ValueError("open for more than a day; for always open leave the hours step out")
        return self

    def span(self) -> tuple[float, float]:
        """Open and close as seconds after the opening day's midnight (close past midnight: above 24 h)."""
        return self.open, self.close if self.close > self.open else self.close + 86400.0


class Bot(_Step):
    """An AI agent: resolves a share of conversations after a while, else hands over."""

    type: Literal["bot"]
    resolve_probability: Probability
    duration: Distribution
    category: str = "bot_resolved"


class Assign(_Step):
    """Auto-assignment to an agent of a team by a strategy."""

    type: Literal["assign"]
    team: str | list[str] | None = Field(None, description="default: the team the workflow routed to; a list: "
                                         "the conversation waits in the first team's queue and any listed "
                                         "team's agents may take it (rings: the bullseye strategy)")
    strategy: StrategySpec | None = Field(None, description="default: the run's strategy")
    only_online: bool = True
    max_open: int | None = Field(None, ge=1, description="only agents with fewer open conversations")
    skills_from: list[str] = Field([], description="fields whose values name the skills required")
    timeout: Seconds | None = None
    on_timeout: str | None = None

    def teams(self) -> list[str]:
        """The teams named, in order (none: the routed team)."""
        return [] if self.team is None else [self.team] if isinstance(self.team, str) else list(self.team)

    @model_validator(mode="after")
    def _timeout_branch(self) -> Assign:
        if (isinstance(self.team, list) and len(set(self.team)) != len(self.team)) or self.team == []:
            raise ValueError(f"team: a list of distinct teams, got {self.team!r}")
        if (self.timeout is None) != (self.on_timeout is None):
            raise ValueError("give both 'timeout' and 'on_timeout', or neither")
        return self


class Close(_Step):
    type: Literal["close"]
    category: str


Step = Annotated[Ask | Lookup | Branch | Hours | Bot | Assign | Close, Field(discriminator="type")]


class Outbound(_Model):
    """A conversation opened by the business (source ``user``): no inbound workflow."""

    at: Seconds
    contact_id: str
    channel: str
    team: str


# --------------------------------------------------------------------------------------- scenario


class Scenario(_Model):
    name: str = "scenario"
    description: str = ""
    start: dt.datetime = Field(dt.datetime(2026, 1, 5), description="wall-clock time of t = 0")
    duration: Seconds = Field(gt=0, le=3660 * 86400.0, description="at most ten years")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    interval: Seconds = Field(900.0, gt=0, description="length of the intervals table's rows")
    service_target: Seconds = Field(60.0, description="first response within this counts as in service level")
    warmup: Seconds = Field(0.0, description="conversations opened before this are left out of the KPIs; "
                            "before the end of the run")
    strategy: StrategySpec = StrategySpec(name="round_robin")
    selection: StrategySpec = Field(StrategySpec(name="oldest_first"), description="which waiting conversation "
                                    "an agent with a free slot takes, among the queues it serves")
    channel_weights: dict[str, Annotated[float, Field(gt=0)] | Literal["all"]] = Field(
        {}, description="capacity units a conversation of the channel takes (default 1; all: the whole agent)")
    drain: bool = Field(False, description="no arrivals after 'duration'; run on until every conversation is closed")
    on_shift_end: Literal["finish", "handback"] = "finish"
    record_events: bool = True
    channels: list[str] = Field(min_length=1)
    arrivals: Arrivals
    contacts: Contacts = Contacts()
    handling: Handling
    teams: dict[str, Team] = Field(min_length=1)
    agents: list[AgentSpec] = Field(min_length=1)
    workflow: list[Step] = Field(min_length=1)
    outbound: list[Outbound] = []
    base_dir: Path = Field(Path("."), exclude=True, description="folder that relative paths start from")
    source: str = Field("<scenario>", exclude=True, description="where the scenario was read from, for errors")

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        teams = set(self.teams)
        channels = set(self.channels)
        step_ids = [step.id for step in self.workflow if step.id is not None]

        def need(kind: str, name: str | None, known: set[str], where: str) -> None:
            if name is not None and name not in known:
                raise ValueError(f"{where}: unknown {kind} {name!r}; known: {', '.join(sorted(known))}")

        duplicated = _twice(step_ids)
        if duplicated:
            raise ValueError(f"workflow: step ids used twice: {duplicated}")
        ids = set(step_ids)
        for i, step in enumerate(self.workflow):
            where = f"workflow.{i}"
            for target in ("on_no_answer", "on_failure", "outside", "on_timeout"):
                need("step id", getattr(step, target, None), ids, f"{where}.{target}")
            if isinstance(step, Branch):
                need("team", step.default, teams, f"{where}.default")
                for j, rule in enumerate(step.rules):
                    need("team", rule.team, teams, f"{where}.rules.{j}.team")
                    need("step id", rule.goto, ids, f"{where}.rules.{j}.goto")
            if isinstance(step, Assign):
                for j, team in enumerate(step.teams()):
                    need("team", team, teams, f"{where}.team" + (f".{j}" if isinstance(step.team, list) else ""))
        agent_ids: list[str] = []
        for i, agent in enumerate(self.agents):
            need("team", agent.team, teams, f"agents.{i}.team")
            for j, served in enumerate(agent.serves):
                need("team", served, teams, f"agents.{i}.serves.{j}")
            agent_ids += agent.ids()
        duplicated = _twice(agent_ids)  # (linear: a hundred thousand agents are checked at once)
        if duplicated:
            raise ValueError(f"agents: ids used twice: {duplicated}")
        duplicated = _twice(self.channels)
        if duplicated:
            raise ValueError(f"channels: named twice: {duplicated}")
        first, last = dt.datetime(1677, 9, 22), dt.datetime(2262, 4, 11)  # nanosecond timestamps' range
        start = self.start.replace(tzinfo=None)
        if not first + dt.timedelta(days=1) <= start <= last - dt.timedelta(days=1, seconds=self.duration):
            raise ValueError(f"start: {self.start.isoformat()} and a duration of {self.duration:g} s leave the times "
                             f"a table can hold ({first:%Y-%m-%d} to {last:%Y-%m-%d})")
        if self.arrivals.generate is not None:
            for channel in self.arrivals.generate.channels:
                need("channel", channel, channels, "arrivals.generate.channels")
            for name, kind in self.arrivals.generate.types.items():
                for channel in kind.channels or {}:
                    need("channel", channel, channels, f"arrivals.generate.types.{name}.channels")
        for channel in self.channel_weights:
            need("channel", channel, channels, "channel_weights")
        for i, outbound in enumerate(self.outbound):
            need("team", outbound.team, teams, f"outbound.{i}.team")
            need("channel", outbound.channel, channels, f"outbound.{i}.channel")
            if outbound.at >= self.duration:
                raise ValueError(f"outbound.{i}.at: {outbound.at:g} s is not before the scenario's end "
                                 f"({self.duration:g} s)")
        return self

    @model_validator(mode="after")
    def _bounded(self) -> Scenario:
        """Loops that never end, and tables too long to hold, refused before anything runs."""
        loops.check(self.workflow)
        rows = self.duration / self.interval
        if rows > MAX_INTERVAL_ROWS:
            raise ValueError(f"interval: {self.interval:g} s makes {rows:,.0f} rows of the intervals table over the "
                             f"scenario, more than {MAX_INTERVAL_ROWS:,}")
        agents = sum(spec.count for spec in self.agents)
        if agents > MAX_AGENTS:
            raise ValueError(f"agents: {agents:,} agents, more than {MAX_AGENTS:,}")
        returning = self.contacts.returning
        if returning is not None:
            mean = returning.delay.mean
            passes = min(1 / (1 - returning.probability) if returning.probability < 1 else float("inf"),
                         self.duration / mean if mean > 0 else float("inf"))
            if passes > MAX_RETURNS:
                raise ValueError(f"contacts.returning: with probability {returning.probability:g} and a mean delay of "
                                 f"{mean:g} s a contact opens up to {passes:,.0f} conversations, more than "
                                 f"{MAX_RETURNS:,}; lower the probability or lengthen the delay")
        return self

    @model_validator(mode="after")
    def _linted(self) -> Scenario:
        """What would silently go wrong (sim.model.lint), refused: fields read that nothing sets, profiles that
        start again part-way through a day, a warm-up past the end."""
        found = lint.errors(self)
        if found:
            raise ValueError("; ".join(found))
        return self

    def agent_teams(self) -> dict[str, list[str]]:
        """Per agent group id, the teams it serves in order: its own, then ``serves``."""
        return {spec.id: list(dict.fromkeys([spec.team, *spec.serves])) for spec in self.agents}

    def strategies(self) -> list[StrategySpec]:
        """The strategies this scenario names: its own and any an assign step sets."""
        named = [self.strategy]
        named += [s.strategy for s in self.workflow if isinstance(s, Assign) and s.strategy is not None]
        return named


def _twice(names: list[str]) -> str:
    """The names given more than once (at most ten shown), in linear time."""
    counts = Counter(names)
    twice = sorted(name for name, count in counts.items() if count > 1)
    return ", ".join(twice[:10]) + (f" and {len(twice) - 10} more" if len(twice) > 10 else "")


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file, or a shipped scenario by name (``"default"``, ``"multiskill"``);
    any problem becomes a ScenarioError naming the file."""
    path = shipped(path) or Path(path)
    data = yamltext.read(path, "scenario")  # one-line errors; duplicate keys, alias bombs, deep nesting refused
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping of scenario fields, got {type(data).__name__}")
    return parse(data, source=str(path), base_dir=path.parent)


def shipped(name: str | Path) -> Path | None:
    """The file of a scenario shipped with convsim, for a bare name that is not a file here."""
    if isinstance(name, Path) or Path(name).suffix or "/" in name or Path(name).exists():
        return None
    found = resources.files("scenarios") / f"{name}.yaml"
    return Path(str(found)) if found.is_file() else None


def parse(data: dict[str, Any], source: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Validate a scenario given as a mapping (as YAML would load it)."""
    try:
        scenario = Scenario.model_validate({**data, "base_dir": base_dir or Path("."), "source": source})
    except ValidationError as exc:
        raise ScenarioError(f"{source}: {_describe(exc)}") from None
    for text in lint.warnings(scenario):
        warnings.warn(_printable(f"{source}: {text}"), ScenarioWarning, stacklevel=2)
    return scenario


_ERRORS = 8  # problems named in one message
_SHOWN = reprlib.Repr()  # a value shown without formatting it whole (an alias bomb's value is huge)
_SHOWN.maxstring = _SHOWN.maxother = 80
_SHOWN.maxlevel = 3


def _printable(text: str) -> str:
    """Text with its control characters (a newline, a terminal escape a user's value brought) escaped."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _describe(exc: ValidationError) -> str:
    lines = []
    errors = exc.errors(include_url=False)
    for error in errors[:_ERRORS]:
        where = ".".join(str(part) for part in error["loc"] if not str(part).startswith("~"))
        message = error["msg"].removeprefix("Value error, ")
        value = error.get("input")
        shown = "" if error["type"] in ("missing",) or isinstance(value, dict) else f" (got {_SHOWN.repr(value)[:80]})"
        if not where:  # the scenario's own checks name their fields
            lines.append(_printable(f"{message[:4000]}{shown}"))
            continue
        lines.append(_printable(f"{where[:200]}: {message[:400]}{shown}"))
    more = f"; and {len(errors) - _ERRORS} more problem(s)" if len(errors) > _ERRORS else ""
    return "; ".join(lines) + more
