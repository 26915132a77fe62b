"""Common random numbers: one random stream per purpose, its variates indexed by message.

Every random quantity of a conversation (patience, answers, handle time …) is the ``i``-th variate of
its purpose's own stream, where ``i`` is the index in the arrival trace of the message that opened the
conversation, and ``generation`` counts returns of the contact after it. So two strategies run on one
seed meet the very same contacts with the very same draws, whatever order things happen in.
Variates are drawn in bulk, a block at a time, and kept in compact arrays of doubles (indexing gives a
Python float, cheap); a block
is a pure function of (seed, purpose, generation, block number), so old blocks can be dropped.
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Callable
from typing import Protocol

import numpy as np

BLOCK_BITS = 12
BLOCK = 1 << BLOCK_BITS
KEPT = 16  # blocks kept per purpose: 512 KB, the last 65,536 messages' variates (an older one is drawn again)
Sampler = Callable[[np.random.Generator, int], np.ndarray]


def _code(part: str | int) -> int:
    return zlib.crc32(part.encode()) if isinstance(part, str) else int(part)


class Keyed(Protocol):
    """What draws are indexed by: the opening message's index and the contact's returns since."""

    root: int
    generation: int


class Fixed:
    """Draws of a constant: no stream needed."""

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value

    def at(self, generation: int, index: int) -> float:
        return self.value

    def of(self, conversation: Keyed) -> float:
        return self.value


class Given:
    """Values the trace gives for the conversations its messages open (a handle time, a patience),
    falling back to ``draws`` where it gives none (NaN) and for conversations of returning contacts."""

    __slots__ = ("draws", "values")

    def __init__(self, values: list[float], draws: Draws | Fixed | None) -> None:
        self.values = values
        self.draws = draws

    def of(self, conversation: Keyed) -> float:
        if not conversation.generation and conversation.root < len(self.values):
            value = self.values[conversation.root]
            if value == value:
                return value
        if self.draws is None:
            return float("inf")
        return self.draws.of(conversation)


class Streams:
    """The random streams of one run, all derived from its seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def generator(self, *key: str | int) -> np.random.Generator:
        """An independent generator for ``key`` (say "arrivals", or ("ask", 2, "answer"))."""
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=tuple(map(_code, key))))

    def draws(self, sampler: Sampler, *key: str | int) -> Draws:
        return Draws(self, sampler, key)


class Draws:
    """Lazily drawn variates of one purpose: ``at(generation, index)``."""

    __slots__ = ("_blocks", "_key", "_sampler", "_streams")

    def __init__(self, streams: Streams, sampler: Sampler, key: tuple[str | int, ...]) -> None:
        self._streams = streams
        self._sampler = sampler
        self._key = key
        self._blocks: dict[tuple[int, int], array] = {}

    def at(self, generation: int, index: int) -> float:
        block = self._blocks.get((generation, index >> BLOCK_BITS))
        if block is None:
            block = self._draw(generation, index >> BLOCK_BITS)
        return block[index & (BLOCK - 1)]

    def of(self, conversation: Keyed) -> float:
        """The variate of the conversation: indexed by its opening message and generation."""
        index = conversation.root
        block = self._blocks.get((conversation.generation, index >> BLOCK_BITS))
        if block is None:
            block = self._draw(conversation.generation, index >> BLOCK_BITS)
        return block[index & (BLOCK - 1)]

    def _draw(self, generation: int, number: int) -> array:
        """Draw a block; past ``KEPT`` blocks the oldest is dropped (drawn again, identically, if
        ever asked for), so memory stays bounded however long the run."""
        blocks = self._blocks
        if len(blocks) >= KEPT:
            del blocks[next(iter(blocks))]
        rng = self._streams.generator(*self._key, generation, number)
        block = blocks[generation, number] = array("d", self._sampler(rng, BLOCK).astype(float).tobytes())
        return block


def uniform(rng: np.random.Generator, n: int) -> np.ndarray:
    """Sampler of U(0, 1) variates, for probabilities and categorical choices."""
    return rng.random(n)
