"""The finite buffer after a step: a level of good units with blocking and FIFO order.

Why not `simpy.Container`: every get and put there is a kernel event even when it
can be served at once, which triples the events per lot. Here `take` and `give`
serve at once when they can (no event) and hand back an event to wait on only when
they cannot, so a lot that flows without waiting costs a single kernel event (its
processing time).

Amounts are whole numbers of a quantum (`quantum_for` below), never float units
with a tolerance: a tolerance lets a consumer draw from an empty buffer once it
exceeds the consumer's draw (a tolerance relative to a buffer of 1e9 units is larger
than a lot of 1 unit), and the line then ships material nobody made. The quantum is
a power of two 2^30 times finer than the smallest amount the buffer passes, so a
draw moves by less than a billionth of itself when rounded to it. The whole numbers
are held as floats when every level the buffer can reach is below 2^53 (float sums,
differences and comparisons of such whole numbers are exact, and twice as fast as
Python's multi-digit integers), and as Python integers otherwise (`_quantise` in
linemodel.py decides): either way the level is exactly what went in minus what came
out, whatever the sizes.

Semantics:
- Requests are served strictly first come, first served, both for takers (the
  consumers' machines, each asking for one lot's input) and for givers (upstream
  machines holding a finished lot: a full buffer blocks them).
- A finished lot goes in whole: it waits while level + lot > capacity, unless a
  consumer is already waiting for more than the buffer holds. Then the lot goes in
  even though it overfills the buffer by less than one lot: without this rule a lot
  too big for the room left could wait for a consumer that waits for it (a
  deadlock the real line would avoid by moving the material).
- The buffer keeps the birth times (start at the line's first step) of what it
  holds as FIFO chunks, so a taker learns the amount-weighted birth of the units it
  took; the final step turns that into the lead time.
- The time-weighted level (area) is accumulated at each change, for WIP means.
"""

from __future__ import annotations

import math
import sys
from collections import deque

# Bits of resolution below a buffer's smallest amount (a piece of the upstream lot or
# a consumer's draw per lot).
RESOLUTION_BITS = 30


def quantum_for(amounts: list[float]) -> float:
    """Units per quantum for a buffer passing `amounts` (units): a power of two, between
    2^-31 and 2^-30 of the smallest amount. 0.0 if that is below the smallest normal
    float (amounts under about 1e-299 units)."""
    _, e = math.frexp(min(amounts))  # min = m·2^e with 0.5 <= m < 1
    q = math.ldexp(1.0, e - 1 - RESOLUTION_BITS)
    return q if q >= sys.float_info.min else 0.0


def to_quanta(amount: float, quantum: float) -> int:
    """`amount` (units) as a whole number of quanta (exact division by a power of two,
    then rounded: at least 2^30 for every amount `quantum_for` was given)."""
    return round(amount / quantum)


class Buffer:
    __slots__ = ("env", "capacity", "level", "takers", "givers", "chunks", "area", "last",
                 "unit", "name")

    def __init__(self, env, capacity: int | float, unit: float, name: str = ""):
        """`capacity` and every amount below in whole quanta (all ints, or all floats
        holding whole numbers below 2^53); `unit`: units per quantum."""
        self.env = env
        self.capacity = capacity
        self.level = 0.0 if isinstance(capacity, float) else 0
        self.takers: deque = deque()  # (amount, event)
        self.givers: deque = deque()  # (amount, birth, event)
        self.chunks: deque = deque()  # [amount, birth]
        self.area = 0.0  # quanta·h
        self.last = 0.0
        self.unit = unit
        self.name = name

    # ---------------------------------------------------------------- taking
    def take(self, amount) -> float | None:
        """Take `amount` now and return its mean birth time, or None if it must wait."""
        if self.takers or self.level < amount:
            return None
        now = self.env._now
        self.area += self.level * (now - self.last)
        self.last = now
        self.level -= amount
        birth = self._pop(amount)
        if self.givers:
            self._settle()
        return birth

    def wait_take(self, amount):
        """An event whose value is the birth time, once `amount` has been taken."""
        ev = self.env.event()
        self.takers.append((amount, ev))
        if self.givers:
            # a waiting taker lets a blocked lot overfill the buffer (see module doc)
            self._settle()
        return ev

    # ---------------------------------------------------------------- giving
    def give(self, amount, birth: float) -> bool:
        """Put a finished lot in now (True) or report that it must wait (False)."""
        if self.givers or (self.level + amount > self.capacity and not self.takers):
            return False
        now = self.env._now
        self.area += self.level * (now - self.last)
        self.last = now
        self.level += amount
        self.chunks.append([amount, birth])
        if self.takers:
            self._settle()
        return True

    def wait_give(self, amount, birth: float):
        """An event that fires once the lot is in the buffer."""
        ev = self.env.event()
        self.givers.append((amount, birth, ev))
        return ev

    # ---------------------------------------------------------------- internals
    def _pop(self, amount) -> float:
        """Remove `amount` from the FIFO chunks; amount-weighted mean birth."""
        chunks = self.chunks
        rem = amount
        wsum = 0.0
        while rem:
            c = chunks[0]
            if c[0] <= rem:
                rem -= c[0]
                wsum += c[0] * c[1]
                chunks.popleft()
            else:
                c[0] -= rem
                wsum += rem * c[1]
                rem = 0
        return wsum / amount if amount > 0 else self.env._now

    def _settle(self) -> None:
        """Serve waiting takers and givers, first come first served, until neither can move."""
        env = self.env
        moved = True
        while moved:
            moved = False
            takers = self.takers
            while takers and self.level >= takers[0][0]:
                amount, ev = takers.popleft()
                now = env._now
                self.area += self.level * (now - self.last)
                self.last = now
                self.level -= amount
                ev.succeed(self._pop(amount))
                moved = True
            givers = self.givers
            while givers and (self.level + givers[0][0] <= self.capacity or self.takers):
                amount, birth, ev = givers.popleft()
                now = env._now
                self.area += self.level * (now - self.last)
                self.last = now
                self.level += amount
                self.chunks.append([amount, birth])
                ev.succeed()
                moved = True

    def area_at(self, now: float) -> float:
        """Time-integral of the level up to `now` (unit·h)."""
        return (self.area + self.level * (now - self.last)) * self.unit

    def reset_area(self, now: float) -> None:
        self.area = 0.0
        self.last = now
