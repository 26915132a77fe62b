"""Duration distributions a scenario can name, each drawn in bulk from a numpy Generator.

Analysts think in means and spreads, so lognormal and gamma take ``mean`` and ``sd`` (in seconds or
"2m"-style durations) rather than shape parameters; a bare duration (``30s``) is a constant.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from sim.units import Seconds


class _Distribution(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        raise NotImplementedError

    @property
    def mean(self) -> float:
        raise NotImplementedError


class Constant(_Distribution):
    dist: Literal["constant"] = "constant"
    value: Seconds

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value)

    @property
    def mean(self) -> float:
        return self.value


class Exponential(_Distribution):
    dist: Literal["exponential"] = "exponential"
    mean_: Seconds = Field(alias="mean", gt=0)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.standard_exponential(n) * self.mean_

    @property
    def mean(self) -> float:
        return self.mean_


def _drawable(shape: float, scale: float, dist: str) -> None:
    """Parameters whose draws are finite numbers (a mean of 1e200 with an sd of 1e-200 is not)."""
    if not (0 < shape < math.inf and 0 < scale < math.inf and math.isfinite(shape * scale)):
        raise ValueError(f"{dist}: mean and sd too far apart to draw from (shape {shape:g}, scale {scale:g}); "
                         "use a constant for a fixed value")


class Lognormal(_Distribution):
    dist: Literal["lognormal"] = "lognormal"
    mean_: Seconds = Field(alias="mean", gt=0)
    sd: Seconds = Field(gt=0)

    @model_validator(mode="after")
    def _finite(self) -> Lognormal:
        sigma2 = math.log1p((self.sd / self.mean_) ** 2) if self.sd / self.mean_ < 1e150 else math.inf
        _drawable(sigma2, self.mean_, "lognormal")
        if sigma2 > 50:  # exp(8 sigma): draws overflow to infinity
            raise ValueError(f"lognormal: sd {self.sd:g} is too large for mean {self.mean_:g} (at most "
                             f"{self.mean_ * math.sqrt(math.expm1(50)):.3g})")
        return self

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        sigma2 = math.log1p((self.sd / self.mean_) ** 2)
        mu = math.log(self.mean_) - sigma2 / 2
        return np.exp(mu + math.sqrt(sigma2) * rng.standard_normal(n))

    @property
    def mean(self) -> float:
        return self.mean_


class Gamma(_Distribution):
    dist: Literal["gamma"] = "gamma"
    mean_: Seconds = Field(alias="mean", gt=0)
    sd: Seconds = Field(gt=0)

    @model_validator(mode="after")
    def _finite(self) -> Gamma:
        ratio = self.mean_ / self.sd
        shape = ratio * ratio if ratio < 1e150 else math.inf
        _drawable(shape, self.mean_ / shape if shape else math.inf, "gamma")
        if shape < 1e-3 or shape > 1e12:
            raise ValueError(f"gamma: mean {self.mean_:g} and sd {self.sd:g} give shape {shape:.3g}, outside "
                             "[0.001, 1e12]; use a constant for a fixed value")
        return self

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        shape = (self.mean_ / self.sd) ** 2
        return rng.standard_gamma(shape, n) * (self.mean_ / shape)

    @property
    def mean(self) -> float:
        return self.mean_


class Uniform(_Distribution):
    dist: Literal["uniform"] = "uniform"
    low: Seconds
    high: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) is below low ({self.low})")
        return self

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2


def _constant(value: object) -> object:
    """A bare duration ("30s", 12) stands for the constant distribution of that value."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {"dist": "constant", "value": value}
    return value


Distribution = Annotated[
    Constant | Exponential | Lognormal | Gamma | Uniform, Field(discriminator="dist"), BeforeValidator(_constant)
]
"""A distribution by name (``{dist: lognormal, mean: 9m, sd: 6m}``), or a bare duration for a constant."""
