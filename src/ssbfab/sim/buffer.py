"""The finite buffer after a step: a level of good units with blocking and FIFO order.

Why not `simpy.Container`: every get and put there is a kernel event even when it
can be served at once, which triples the events per lot. Here `take` and `give`
serve at once when they can (no event) and hand back an event to wait on only when
they cannot, so a lot that flows without waiting costs a single kernel event (its
processing time).

Amounts are exact integers of a quantum (`quantum_for` below), never floats: a
float level with a tolerance lets a consumer draw from an empty buffer once the
tolerance exceeds its lot (a tolerance relative to a buffer of 1e9 units is
larger than a lot of 1 unit), and the line then ships material nobody made. With
integers the level is exactly what went in minus what came out, whatever the sizes.

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

from collections import deque


def quantum_for(amounts: list[float]) -> int:
    """Quanta per unit that make every amount (a float in the buffer's unit) an exact
    integer: a float is m·2^-k exactly, so 2^max(k) quanta per unit represent all of
    them without rounding (`to_quanta`)."""
    return max(a.as_integer_ratio()[1] for a in amounts)


def to_quanta(amount: float, per_unit: int) -> int:
    """`amount` (units) as an exact integer of quanta; `per_unit` from `quantum_for`."""
    num, den = amount.as_integer_ratio()
    if per_unit % den:
        raise ValueError(f"{amount!r} is not a whole number of 1/{per_unit} units")
    return num * (per_unit // den)


class Buffer:
    __slots__ = ("env", "capacity", "level", "takers", "givers", "chunks", "area", "last",
                 "unit", "name", "taken", "given")

    def __init__(self, env, capacity: int, per_unit: int, name: str = ""):
        """`capacity` and every amount below in quanta; `per_unit` quanta per unit."""
        self.env = env
        self.capacity = capacity
        self.level = 0
        self.takers: deque = deque()  # (amount, event)
        self.givers: deque = deque()  # (amount, birth, event)
        self.chunks: deque = deque()  # [amount, birth]
        self.area = 0.0  # quanta·h
        self.last = 0.0
        self.unit = 1.0 / per_unit  # units per quantum (a power of two: exact)
        self.name = name
        self.taken = 0  # totals since time 0, for conservation checks
        self.given = 0

    # ---------------------------------------------------------------- taking
    def take(self, amount: int) -> float | None:
        """Take `amount` now and return its mean birth time, or None if it must wait."""
        if self.takers or self.level < amount:
            return None
        now = self.env._now
        self.area += self.level * (now - self.last)
        self.last = now
        self.level -= amount
        self.taken += amount
        birth = self._pop(amount)
        if self.givers:
            self._settle()
        return birth

    def wait_take(self, amount: int):
        """An event whose value is the birth time, once `amount` has been taken."""
        ev = self.env.event()
        self.takers.append((amount, ev))
        if self.givers:
            # a waiting taker lets a blocked lot overfill the buffer (see module doc)
            self._settle()
        return ev

    # ---------------------------------------------------------------- giving
    def give(self, amount: int, birth: float) -> bool:
        """Put a finished lot in now (True) or report that it must wait (False)."""
        if self.givers or (self.level + amount > self.capacity and not self.takers):
            return False
        now = self.env._now
        self.area += self.level * (now - self.last)
        self.last = now
        self.level += amount
        self.given += amount
        self.chunks.append([amount, birth])
        if self.takers:
            self._settle()
        return True

    def wait_give(self, amount: int, birth: float):
        """An event that fires once the lot is in the buffer."""
        ev = self.env.event()
        self.givers.append((amount, birth, ev))
        return ev

    # ---------------------------------------------------------------- internals
    def _pop(self, amount: int) -> float:
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
                self.taken += amount
                ev.succeed(self._pop(amount))
                moved = True
            givers = self.givers
            while givers and (self.level + givers[0][0] <= self.capacity or self.takers):
                amount, birth, ev = givers.popleft()
                now = env._now
                self.area += self.level * (now - self.last)
                self.last = now
                self.level += amount
                self.given += amount
                self.chunks.append([amount, birth])
                ev.succeed()
                moved = True

    def area_at(self, now: float) -> float:
        """Time-integral of the level up to `now` (unit·h)."""
        return (self.area + self.level * (now - self.last)) * self.unit

    def reset_area(self, now: float) -> None:
        self.area = 0.0
        self.last = now
