"""Duration distributions a scenario can name, each drawn in bulk from a numpy Generator.

Analysts think in means and spreads, so lognormal and gamma take ``mean`` and ``sd`` (in seconds or
"2m"-style durations) rather than shape parameters.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class Lognormal(_Distribution):
    dist: Literal["lognormal"] = "lognormal"
    mean_: Seconds = Field(alias="mean", gt=0)
    sd: Seconds = Field(gt=0)

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


Distribution = Annotated[
    Constant | Exponential | Lognormal | Gamma | Uniform, Field(discriminator="dist")
]
