"""Probability distributions named in scenario files, sampled from an injected generator.

A distribution is written as a mapping: ``{dist: exponential, mean: 180}``,
``{dist: lognormal, mean: 300, sd: 200}``, ``{dist: fixed, value: 30}``,
``{dist: uniform, min: 10, max: 20}``. Log-normal is given by the mean and standard
deviation of the values themselves (not of their logarithm), which is how call-center
data is usually summarised: sigma² = ln(1 + sd²/mean²), mu = ln(mean) - sigma²/2.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Literal

import msgspec


class Dist(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    dist: Literal["exponential", "lognormal", "fixed", "uniform"]
    mean: float = 0.0
    sd: float = 0.0
    value: float = 0.0
    min: float = 0.0
    max: float = 0.0

    def __post_init__(self) -> None:
        if self.dist in ("exponential", "lognormal") and self.mean <= 0:
            article = "an" if self.dist[0] in "aeiou" else "a"
            raise ValueError(f"{article} {self.dist} distribution needs a positive 'mean'")
        if self.dist == "lognormal" and self.sd <= 0:
            raise ValueError("a lognormal distribution needs a positive 'sd'")
        if self.dist == "fixed" and self.value < 0:
            raise ValueError("a fixed distribution needs a 'value' of 0 or more")
        if self.dist == "uniform" and not 0 <= self.min <= self.max:
            raise ValueError("a uniform distribution needs 0 <= min <= max")

    @property
    def expected(self) -> float:
        return {
            "exponential": self.mean,
            "lognormal": self.mean,
            "fixed": self.value,
            "uniform": (self.min + self.max) / 2,
        }[self.dist]

    def sampler(self, rng: random.Random) -> Sampler:
        return Sampler(self, rng)


class Sampler:
    """Draws from one distribution with one generator; ``draw`` (or calling the sampler)
    gives the next value. ``draw`` is the bare function, for hot loops."""

    __slots__ = ("draw",)

    def __init__(self, d: Dist, rng: random.Random) -> None:
        self.draw: Callable[[], float]
        if d.dist == "exponential":
            rate = 1.0 / d.mean
            expovariate = rng.expovariate
            self.draw = lambda: expovariate(rate)
        elif d.dist == "lognormal":
            sigma2 = math.log(1.0 + (d.sd / d.mean) ** 2)
            mu, sigma = math.log(d.mean) - sigma2 / 2.0, math.sqrt(sigma2)
            lognormvariate = rng.lognormvariate
            self.draw = lambda: lognormvariate(mu, sigma)
        elif d.dist == "fixed":
            value = float(d.value)
            self.draw = lambda: value
        else:
            lo, hi = d.min, d.max
            uniform = rng.uniform
            self.draw = lambda: uniform(lo, hi)

    def __call__(self) -> float:
        return self.draw()


def fixed(value: float) -> Dist:
    return Dist(dist="fixed", value=value)


def exponential(mean: float) -> Dist:
    return Dist(dist="exponential", mean=mean)
