"""Random streams: one numpy Generator per replication, station and purpose.

Seeds: SeedSequence(seed) spawns one child per replication (child i is
SeedSequence(seed, spawn_key=(i,)), so a worker process rebuilds it from the seed
and the replication number alone); each replication spawns one child per station
plus one for the dry room; a station spawns separate streams for scrap and for
each equipment option's processing times and failures. Separate purposes keep
common random numbers between what-ifs: adding a machine or changing an MTBF does
not shift the processing times or scrap a station draws.

Draws come in blocks (numpy costs about a microsecond per call however many values
it returns) through a generator's `__next__`, which costs a few tens of nanoseconds.
The block size is fixed, so the same seed gives the same numbers on any machine.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

BLOCK = 512
T = TypeVar("T")


def replication_seed(seed: int, rep: int) -> np.random.SeedSequence:
    """The stream of replication `rep` (identical to SeedSequence(seed).spawn(n)[rep])."""
    return np.random.SeedSequence(seed, spawn_key=(rep,))


def _blocks(fn: Callable[[int], np.ndarray]) -> Iterator[Any]:
    # the draws as Python numbers of the array's kind: floats, or ints for counts
    while True:
        yield from fn(BLOCK).tolist()


def constant(value: T) -> Callable[[], T]:
    return itertools.repeat(value).__next__


def times(rng: np.random.Generator, mean: float, distribution: str, cv: float) -> Callable[[], float]:
    """Draws of a processing time with the given mean (h) and coefficient of variation."""
    if distribution == "exponential":
        return _blocks(lambda n: rng.exponential(mean, n)).__next__
    if distribution == "deterministic" or cv <= 0:
        return constant(mean)
    if distribution == "gamma":
        shape = 1.0 / (cv * cv)
        return _blocks(lambda n: rng.gamma(shape, mean / shape, n)).__next__
    if distribution == "lognormal":
        sigma2 = math.log1p(cv * cv)
        mu = math.log(mean) - sigma2 / 2
        return _blocks(lambda n: rng.lognormal(mu, math.sqrt(sigma2), n)).__next__
    raise ValueError(f"unknown distribution {distribution!r}")


def exponential(rng: np.random.Generator, mean: float) -> Callable[[], float]:
    """Exponential draws with the given mean; infinity forever if the mean is infinite."""
    if not math.isfinite(mean):
        return constant(math.inf)
    return _blocks(lambda n: rng.exponential(mean, n)).__next__


def scrap_counts(rng: np.random.Generator, pieces: int, yield_: float) -> Callable[[], int]:
    """Scrapped pieces of a lot: Binomial(pieces, 1 - yield)."""
    if yield_ >= 1.0:
        return constant(0)
    return _blocks(lambda n: rng.binomial(pieces, 1.0 - yield_, n)).__next__
