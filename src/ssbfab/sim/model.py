"""The SimPy model of a production line: one replication of a `LineModel`.

Entities are lots. A lot of step s is `lot` units of s's unit; to start it a machine
takes, from the buffer after each upstream step u, lot x ratio(u -> s) units of u's
good output (an assembly step waits for all its inputs, taking them in the order of
its `inputs:`; a step feeding several consumers shares one buffer among them, so its
output splits by what each consumer draws, which in the long run is the edges'
shares and can never deadlock on a split). First steps draw unlimited raw material.

Stations are pools of machines, one SimPy process per machine:
- processing time per lot (or per batch cycle) from the machine's distribution;
- failures on operating time: time to failure ~ Exponential(MTBF) counted only
  while processing, repair ~ Exponential(MTTR) (exponential repairs: the least
  informative law with the given mean, and the one of the textbook availability
  MTBF/(MTBF+MTTR)); the interrupted lot resumes after repair;
- planned maintenance every `every` operating hours for `duration`, staggered
  across a station's machines so they do not all stop at once;
- scrap per lot ~ Binomial(pieces, 1 - yield) with pieces of one unit (1 kg, 1 m²,
  1 sheet, 1 cell); a lot's good output is lot - scrapped pieces; a step with
  `rework` sends Binomial(scrap, share) of them to rework (a side process without
  time or machines here) and Binomial(that, rework yield) come back as good output,
  counted as `reworked` (part of good);
- a finished lot waits in its machine while the buffer after the step is full
  (the machine is blocked); the final step ships to an unlimited sink.

The dry room (one per plant, at the configuration's class; a zoned plant has one room
per named zone besides, at the zone's class, each with excursions of its own, an argon
zone none; a step meets its own room's water) has excursions as a
Poisson process (rate from dry_rooms.yaml, per operating hour) with exponential
durations, at the class's peak dew point. Steps with `moisture:` data either scrap
an extra fraction of every lot that meets an excursion (`loss`) or start no lot
during one (`stop`, counted as down time). Sulfide exposure is the kg·h of
moisture-sensitive material in the WIP (machines and output buffer) of dry-room
steps while the dew point is above the threshold. The H2S estimate is, for each
lot processed at a step with `h2s_release` (cm³ per g of moisture-sensitive
material at the reference dew point, one pass through the step, as measured by
GM R&D for 30 min at -40 °C): h2s_release x g of sensitive material x
ppmv(dew point at the time) / ppmv(reference dew point), ppmv by the Magnus
formula (units.dew_point_to_ppmv): linear in the water the material meets.

Statistics are accumulated at state changes only (no per-event lists): per
station the machine-hours busy, down, blocked and starved, the time-integrals of
machine and buffer contents, units started, good and scrapped; per buffer the
amount-weighted birth times for the lead time. Everything is reset at the end of
the warm-up and closed at the horizon.

Counts are exact: a station counts whole pieces (lot / pieces units each) and a
buffer whole quanta (buffer.py), so units started = good + scrapped + in process
holds exactly at any lot or buffer size; they become floats in units only in the
dict a replication returns.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import simpy

from ..data.schema import capacity_fraction
from . import streams
from .buffer import Buffer
from .linemodel import LineModel, MachineSpec, StepModel

if TYPE_CHECKING:
    import numpy as np

BUSY, DOWN, BLOCKED, STARVED = 0, 1, 2, 3
INF = math.inf


class Station:
    """One step's machines and counters (plain attributes: read in the hot loop)."""

    __slots__ = ("model", "acc", "out", "inputs", "pieces", "piece", "piece_q", "yield_",
                 "effect", "extra_loss", "started", "good", "scrapped", "lots", "wm", "wm_area",
                 "wm_last", "loader_busy", "loader_q", "machines", "units_exc", "units_norm",
                 "scrap_rng", "draw_scrap", "inproc_start", "held_start", "level_start", "sink",
                 "reworked", "rework_rng", "rework_share", "rework_yield",
                 "dose_xs", "dose_fs", "open_share", "dose_inputs", "dose_sum", "dose_lots",
                 "cond_xs", "cond_rs", "full_capacity_at", "capacity_sum")

    # set by `run_replication` from the replication's streams
    scrap_rng: np.random.Generator
    rework_rng: np.random.Generator
    draw_scrap: Callable[[], int]

    def __init__(self, model: StepModel):
        self.model = model
        self.acc = [0.0, 0.0, 0.0, 0.0]  # machine-hours busy, down, blocked, starved
        self.out: Buffer | None = None
        self.inputs: list[tuple[Buffer, int | float]] = []  # (buffer, quanta taken per lot)
        self.pieces = model.pieces  # pieces per lot: the unit of every count below
        self.piece = model.lot / model.pieces  # units per piece
        self.piece_q = model.piece_quanta  # quanta per piece in the buffer after the step
        self.yield_ = model.yield_
        self.effect = model.excursion_effect
        self.extra_loss = model.extra_loss
        self.started = self.good = self.scrapped = 0  # pieces
        self.reworked = 0  # pieces of scrap reworked back into good output (part of good)
        self.rework_share = model.rework_share
        self.rework_yield = model.rework_yield
        self.dose_xs = model.dose_doses  # empty: no dose curve
        self.dose_fs = model.dose_losses
        self.open_share = model.open_share
        self.dose_inputs = model.dose_from_inputs  # the inputs' wait in the dry room counts
        self.dose_sum = 0.0  # ppmv·h over the lots finished in the measured window
        self.dose_lots = 0
        self.cond_xs = model.cond_doses  # empty: the dose leaves the conductivity alone
        self.cond_rs = model.cond_retentions
        self.full_capacity_at = model.full_capacity_at
        self.capacity_sum = 0.0  # capacity fraction over the lots finished in the window
        self.lots = 0  # lots started since time 0 (station operations, for the benchmark)
        self.wm = 0  # pieces in machines (started, not yet in the buffer)
        self.wm_area = 0.0  # piece·h
        self.wm_last = 0.0
        self.loader_busy = False
        self.loader_q: deque = deque()
        # per machine [state, since, pieces in process, good pieces held (blocked)]
        self.machines: list[list] = []
        self.units_exc = self.units_norm = 0  # pieces processed during / outside excursions
        self.inproc_start = 0
        self.held_start = 0  # good pieces held by blocked machines at the end of the warm-up
        self.level_start: float = 0  # quanta in the buffer after the step then
        self.sink = True


class DryRoom:
    __slots__ = ("active", "count", "calm", "since", "hours", "snap", "exposure", "stations",
                 "events", "hours_sq", "hours_max", "exposure_sq", "exposure_max",
                 "water_t", "water_w", "water_s")

    def __init__(self, env, ppmv: float = 0.0):
        self.active = False
        self.count = 0  # excursions begun so far
        self.calm = env.event()  # fires when the current excursion ends
        self.since = 0.0
        self.hours = 0.0
        self.snap = 0.0
        self.exposure = 0.0
        # per excursion in the measured window: how many, and the sum of squares and the
        # largest of their hours and exposures (the rare-event intervals need them)
        self.events = 0
        self.hours_sq = self.hours_max = self.exposure_sq = self.exposure_max = 0.0
        self.stations: list[tuple[Station, float]] = []  # dry-room stations, kg per unit
        # the room's water integral W(t) = ∫ ppmv dt, piecewise linear: breakpoints at
        # the starts and ends of excursions (time, W, ppmv from then on)
        self.water_t = [0.0]
        self.water_w = [0.0]
        self.water_s = [ppmv]

    def set_water(self, now: float, ppmv: float) -> None:
        """From `now` on the room holds `ppmv` (an excursion begins or ends)."""
        self.water_w.append(self.water(now))
        self.water_t.append(now)
        self.water_s.append(ppmv)

    def water(self, t: float) -> float:
        """∫_0^t ppmv dt (ppmv·h): a lot's dose over [a, b] is water(b) - water(a)."""
        i = bisect.bisect_right(self.water_t, t) - 1
        return self.water_w[i] + self.water_s[i] * (t - self.water_t[i])

    def add(self, hours: float, exposure: float) -> None:
        """Account one excursion's hours and kg·h of exposure in the measured window."""
        self.hours += hours
        self.hours_sq += hours * hours
        self.hours_max = max(self.hours_max, hours)
        self.exposure += exposure
        self.exposure_sq += exposure * exposure
        self.exposure_max = max(self.exposure_max, exposure)

    def sensitive_area(self, now: float) -> float:
        """kg·h of moisture-sensitive material held by dry-room steps up to `now`."""
        total = 0.0
        for st, kg in self.stations:
            a = (st.wm_area + st.wm * (now - st.wm_last)) * st.piece
            if st.out is not None:
                a += st.out.area_at(now)
            total += kg * a
        return total


class Context:
    __slots__ = ("warmup", "lead_sum", "lead_w")

    def __init__(self, warmup: float):
        self.warmup = warmup
        self.lead_sum = 0.0
        self.lead_w = 0.0


# ----------------------------------------------------------------------------- machines


def _transition(env, acc, ms, state):
    now = env._now
    acc[ms[0]] += now - ms[1]
    ms[0] = state
    ms[1] = now


def _take_inputs(env, st: Station, ms):
    """Take one lot's inputs (waiting as starved if needed); the lot's birth time and
    the earliest time its inputs entered their buffers (the longest wait)."""
    birth = entered = INF
    for buf, need in st.inputs:
        b = buf.take(need)
        e = buf.last_entered
        if b is None:
            if ms[0] != STARVED:
                _transition(env, st.acc, ms, STARVED)
            ev = buf.wait_take(need)
            b = yield ev
            e = ev.entered
        if b < birth:
            birth = b
        if e < entered:
            entered = e
    return birth, entered


def _interrupted(env, st: Station, spec: MachineSpec, ms, rem, ttf, ttm, draw_ttf, draw_repair):
    """Process `rem` hours of work through failures and planned stops (operating time)."""
    acc = st.acc
    timeout = env.timeout
    while True:
        step = min(rem, ttf, ttm)
        if step > 0:
            yield timeout(step)
        rem -= step
        ttf -= step
        ttm -= step
        if rem <= 1e-12:
            return ttf, ttm
        _transition(env, acc, ms, DOWN)
        if ttf <= ttm:
            yield timeout(draw_repair())
            ttf = draw_ttf()
        else:
            yield timeout(spec.maint_duration)
            ttm = spec.maint_every
        _transition(env, acc, ms, BUSY)


def _dose_loss(st: Station, dr: DryRoom, since: float, now: float) -> float:
    """Share of a lot lost to the water it met since `since` (the loss curve at the
    dose = open share × ∫ ppmv dt); the dose is tallied for the statistics."""
    import numpy as np

    dose = st.open_share * (dr.water(now) - dr.water(since))
    st.dose_sum += dose
    st.dose_lots += 1
    if st.cond_xs:  # the conductivity the lot keeps sets the capacity of its cells
        st.capacity_sum += capacity_fraction(float(np.interp(dose, st.cond_xs, st.cond_rs)),
                                             st.full_capacity_at)
    return float(np.interp(dose, st.dose_xs, st.dose_fs))


def _complete(st: Station, ms, scrap_hit: bool, loss: float = 0.0) -> int:
    """Draw a finished lot's scrap and count it; its good pieces. `loss`: the share a
    moisture dose took (a step with a dose curve), on top of the level's scrap."""
    P = st.pieces
    if loss > 0:
        sc = int(st.scrap_rng.binomial(P, 1.0 - st.yield_ * (1.0 - loss)))
    elif scrap_hit and st.extra_loss > 0:
        sc = int(st.scrap_rng.binomial(P, 1.0 - st.yield_ * (1.0 - st.extra_loss)))
    else:
        sc = st.draw_scrap()
    if sc and st.rework_share > 0:  # of the scrap, a share is reworked, a yield of it back
        back = int(st.rework_rng.binomial(int(st.rework_rng.binomial(sc, st.rework_share)),
                                          st.rework_yield))
        st.reworked += back
        sc -= back
    good = P - sc
    st.good += good
    st.scrapped += sc
    ms[2] -= P  # no longer in process: counted as good or scrapped
    if st.effect:
        if scrap_hit:
            st.units_exc += P
        else:
            st.units_norm += P
    return good


def _wait_calm(env, st: Station, ms, dr: DryRoom):
    while dr.active:
        if ms[0] != DOWN:
            _transition(env, st.acc, ms, DOWN)
        yield dr.calm


def continuous_machine(env, st: Station, spec: MachineSpec, ms, dr: DryRoom, ctx: Context,
                       draw_time, draw_ttf, draw_repair, ttm):
    """A machine that processes one lot at a time.

    The common path (one input available, no failure during the lot, room in the
    buffer) is written inline: it costs one kernel event per lot and no sub-generator."""
    timeout = env.timeout
    acc = st.acc
    L = st.pieces
    piece = st.piece
    piece_q = st.piece_q
    n_inputs = len(st.inputs)
    if n_inputs == 1:
        in_buf, in_need = st.inputs[0]
    effect = st.effect
    out = st.out  # None: the final step ships to the sink
    no_scrap = st.yield_ >= 1.0 and not effect
    dosed = bool(st.dose_xs)
    ttf = draw_ttf()
    while True:
        if n_inputs == 1:
            birth = in_buf.take(in_need)
            entered = in_buf.last_entered
            if birth is None:
                if ms[0] != STARVED:
                    _transition(env, acc, ms, STARVED)
                ev = in_buf.wait_take(in_need)
                birth = yield ev
                entered = ev.entered
        elif n_inputs:
            birth, entered = yield from _take_inputs(env, st, ms)
        else:
            birth = entered = env._now
        since = entered if st.dose_inputs else env._now  # the lot meets the room from then
        if effect:
            if effect == "stop" and dr.active:
                yield from _wait_calm(env, st, ms, dr)
            c0 = dr.count
            a0 = dr.active
        now = env._now
        if ms[0] != BUSY:
            acc[ms[0]] += now - ms[1]
            ms[0] = BUSY
            ms[1] = now
        st.wm_area += st.wm * (now - st.wm_last)
        st.wm_last = now
        st.wm += L
        st.started += L
        st.lots += 1
        ms[2] = L
        t = draw_time()
        if t < ttf and t < ttm:
            ttf -= t
            ttm -= t
            yield timeout(t)
        else:
            ttf, ttm = yield from _interrupted(env, st, spec, ms, t, ttf, ttm, draw_ttf,
                                               draw_repair)
        if no_scrap:
            good = L
            st.good += L
            ms[2] = 0
        else:
            loss = _dose_loss(st, dr, since, env._now) if dosed else 0.0
            good = _complete(st, ms, effect != "" and (a0 or dr.active or dr.count != c0), loss)
        if out is None:
            now = env._now
            if now > ctx.warmup:
                ctx.lead_sum += good * piece * (now - birth)
                ctx.lead_w += good * piece
        elif good and not out.give(good * piece_q, birth):
            _transition(env, acc, ms, BLOCKED)
            ms[3] = good
            yield out.wait_give(good * piece_q, birth)
            ms[3] = 0
        now = env._now
        st.wm_area += st.wm * (now - st.wm_last)
        st.wm_last = now
        st.wm -= L


def batch_machine(env, st: Station, spec: MachineSpec, ms, dr: DryRoom, ctx: Context,
                  draw_time, draw_ttf, draw_repair, ttm):
    """A machine that loads `batch_lots` lots, then runs one cycle for all of them."""
    timeout = env.timeout
    acc = st.acc
    L = st.pieces
    piece = st.piece
    piece_q = st.piece_q
    k = spec.batch_lots
    n_inputs = len(st.inputs)
    if n_inputs == 1:
        in_buf, in_need = st.inputs[0]
    effect = st.effect
    out = st.out
    ttf = draw_ttf()
    while True:
        if k > 1:
            # one machine of the station loads at a time, so arriving lots fill one
            # batch after another instead of spreading over half-empty machines
            if st.loader_busy:
                if ms[0] != STARVED:
                    _transition(env, acc, ms, STARVED)
                ev = env.event()
                st.loader_q.append(ev)
                yield ev  # the token is handed over with the event
            else:
                st.loader_busy = True
        births = []
        sinces = []
        for _ in range(k):
            if n_inputs == 1:
                birth = in_buf.take(in_need)
                entered = in_buf.last_entered
                if birth is None:
                    if ms[0] != STARVED:
                        _transition(env, acc, ms, STARVED)
                    ev = in_buf.wait_take(in_need)
                    birth = yield ev
                    entered = ev.entered
            elif n_inputs:
                birth, entered = yield from _take_inputs(env, st, ms)
            else:
                birth = entered = env._now
            sinces.append(entered if st.dose_inputs else env._now)
            now = env._now
            st.wm_area += st.wm * (now - st.wm_last)
            st.wm_last = now
            st.wm += L
            st.started += L
            st.lots += 1
            ms[2] += L
            births.append(birth)
        if k > 1:
            if st.loader_q:
                st.loader_q.popleft().succeed()
            else:
                st.loader_busy = False
        if effect:
            if effect == "stop" and dr.active:
                yield from _wait_calm(env, st, ms, dr)
            c0 = dr.count
            a0 = dr.active
        if ms[0] != BUSY:
            _transition(env, acc, ms, BUSY)
        t = draw_time()
        if t < ttf and t < ttm:
            ttf -= t
            ttm -= t
            yield timeout(t)
        else:
            ttf, ttm = yield from _interrupted(env, st, spec, ms, t, ttf, ttm, draw_ttf,
                                               draw_repair)
        hit = effect != "" and (a0 or dr.active or dr.count != c0)
        now = env._now
        goods = [_complete(st, ms, hit, _dose_loss(st, dr, since, now) if st.dose_xs else 0.0)
                 for since in sinces]
        ms[3] = sum(goods)
        for good, birth in zip(goods, births, strict=True):
            if out is None:
                now = env._now
                if now > ctx.warmup:
                    ctx.lead_sum += good * piece * (now - birth)
                    ctx.lead_w += good * piece
            elif good and not out.give(good * piece_q, birth):
                _transition(env, acc, ms, BLOCKED)
                yield out.wait_give(good * piece_q, birth)
            ms[3] -= good
            now = env._now
            st.wm_area += st.wm * (now - st.wm_last)
            st.wm_last = now
            st.wm -= L


# ----------------------------------------------------------------------------- dry room


def dry_room_process(env, dr: DryRoom, m, rng, ctx: Context):
    gap = streams.exponential(rng, 1.0 / m.rate)
    length = streams.exponential(rng, m.duration)
    counts_exposure = m.peak > m.threshold and not (m.dew_point > m.threshold)
    while True:
        yield env.timeout(gap())
        dr.set_water(env._now, m.ppmv_peak)
        dr.active = True
        dr.count += 1
        dr.events += 1
        dr.since = env._now
        if counts_exposure:
            dr.snap = dr.sensitive_area(env._now)
        yield env.timeout(length())
        now = env._now
        dr.add(now - max(dr.since, ctx.warmup),
               dr.sensitive_area(now) - dr.snap if counts_exposure else 0.0)
        dr.set_water(now, m.ppmv)
        dr.active = False
        calm, dr.calm = dr.calm, env.event()
        calm.succeed()


# ----------------------------------------------------------------------------- one run


def run_replication(model: LineModel, seed: int, rep: int, progress=None) -> dict:
    """Simulate one replication; raw accumulators of the measured window as a dict.

    `progress(fraction)` is called with the fraction of the horizon simulated. The
    CPU seconds it took (`cpu_s`) are in the dict for benchmarks; they never enter
    the statistics, which depend on the seed alone."""
    import time

    cpu0 = time.process_time()
    env = simpy.Environment()
    rep_seq = streams.replication_seed(seed, rep)
    # one stream per step, the plant's dry room, then each zone's room (spawned children
    # are numbered, so a plant without zones draws exactly what it drew before zones)
    seqs = rep_seq.spawn(len(model.steps) + 1 + len(model.rooms))
    ctx = Context(model.warmup)
    room_models = (model.dry_room, *model.rooms)
    rooms = [DryRoom(env, m.ppmv if math.isfinite(m.ppmv) else 0.0) for m in room_models]
    stations = [Station(s) for s in model.steps]
    for st, sm in zip(stations, model.steps, strict=True):
        if math.isfinite(sm.buffer_capacity):
            st.out = Buffer(env, sm.capacity_quanta, sm.quantum, sm.name)
            st.sink = False
    for st, sm in zip(stations, model.steps, strict=True):
        for (u, _), need_q in zip(sm.inputs, sm.input_quanta, strict=True):
            buf = stations[u].out
            assert buf is not None  # a step that feeds another has a finite buffer
            st.inputs.append((buf, need_q))
        if sm.environment == "dry_room" and sm.sensitive_kg > 0:
            rooms[sm.room].stations.append((st, sm.sensitive_kg))
    import numpy as np

    for i, (st, sm) in enumerate(zip(stations, model.steps, strict=True)):
        options = list(dict.fromkeys(m.option for m in sm.machines))
        # the rework stream is spawned last, so the other streams stay as they were
        child = seqs[i].spawn(1 + 3 * len(options) + (1 if sm.rework_share > 0 else 0))
        st.scrap_rng = np.random.Generator(np.random.PCG64(child[0]))
        st.rework_rng = np.random.Generator(np.random.PCG64(child[-1]))
        st.draw_scrap = streams.scrap_counts(st.scrap_rng, st.pieces, st.yield_)
        draws = {}
        for j, opt in enumerate(options):
            spec = next(m for m in sm.machines if m.option == opt)
            g = [np.random.Generator(np.random.PCG64(c)) for c in child[1 + 3 * j: 4 + 3 * j]]
            draws[opt] = (streams.times(g[0], spec.mean_time, spec.distribution, spec.cv),
                          streams.exponential(g[1], spec.mtbf),
                          streams.exponential(g[2], spec.mttr) if spec.mttr > 0
                          else streams.constant(0.0))
        n = len(sm.machines)
        for j, spec in enumerate(sm.machines):
            # [state, since, pieces in process, good pieces finished but not yet shipped]
            ms = [STARVED, 0.0, 0, 0]
            st.machines.append(ms)
            ttm = spec.maint_every * (j + 1) / n if math.isfinite(spec.maint_every) else INF
            proc = batch_machine if spec.batch_lots > 0 else continuous_machine
            env.process(proc(env, st, spec, ms, rooms[sm.room], ctx, *draws[spec.option], ttm))
    room_seqs = [seqs[len(model.steps)], *seqs[len(model.steps) + 1:]]
    for dr, m, sq in zip(rooms, room_models, room_seqs, strict=True):
        if m.present and m.rate > 0:
            env.process(dry_room_process(env, dr, m, np.random.Generator(np.random.PCG64(sq)),
                                         ctx))
    if model.warmup > 0:
        env.process(_warmup_reset(env, model.warmup, stations, rooms))
    chunks = 20 if progress is not None else 1
    for c in range(1, chunks + 1):
        env.run(until=model.hours * c / chunks)
        if progress is not None:
            progress(c / chunks)
    raw = _collect(env, model, stations, rooms, ctx)
    raw["cpu_s"] = time.process_time() - cpu0
    return raw


def _warmup_reset(env, warmup: float, stations: list[Station], rooms: list[DryRoom]):
    yield env.timeout(warmup)
    now = env._now
    for st in stations:
        st.acc[:] = [0.0, 0.0, 0.0, 0.0]
        for ms in st.machines:
            ms[1] = now
        st.started = st.good = st.scrapped = st.reworked = 0
        st.units_exc = st.units_norm = 0
        st.dose_sum = 0.0
        st.dose_lots = 0
        st.capacity_sum = 0.0
        st.inproc_start = sum(ms[2] for ms in st.machines)
        st.held_start = sum(ms[3] for ms in st.machines)
        st.level_start = st.out.level if st.out is not None else 0
        st.wm_area = 0.0
        st.wm_last = now
        if st.out is not None:
            st.out.reset_area(now)
    for dr in rooms:
        dr.hours = dr.exposure = 0.0
        dr.hours_sq = dr.hours_max = dr.exposure_sq = dr.exposure_max = 0.0
        dr.events = 1 if dr.active else 0  # an excursion under way counts from now on
        if dr.active:
            dr.since = now
            dr.snap = 0.0  # every area was just reset to zero


def _collect(env, model: LineModel, stations: list[Station], rooms: list[DryRoom],
             ctx: Context) -> dict:
    T = model.hours
    window = T - model.warmup
    steps = []
    for st, sm in zip(stations, model.steps, strict=True):
        acc = list(st.acc)
        for ms in st.machines:
            acc[ms[0]] += T - ms[1]
        p = st.piece
        machine_area = (st.wm_area + st.wm * (T - st.wm_last)) * p
        out = st.out
        buffer_area = out.area_at(T) if out is not None else 0.0
        # the exact counts of the measured window as Python ints (pieces; quanta for
        # the buffer), for conservation checks: what went into the buffer is what the
        # step finished less what it still holds; what left it, that less what the
        # buffer kept (its level counted by the buffer itself)
        held = sum(ms[3] for ms in st.machines)
        level = int(out.level) if out is not None else 0
        given = ((st.good - held + st.held_start) * int(sm.piece_quanta)
                 if out is not None else 0)
        exact = {"started": st.started, "good": st.good, "scrapped": st.scrapped,
                 "reworked": st.reworked,
                 "inproc_end": sum(ms[2] for ms in st.machines), "held_end": held,
                 "given": given, "taken": given - (level - int(st.level_start)),
                 "buffer_end": level}
        u = sm.quantum if out is not None else 0.0
        steps.append({
            "step": sm.name, "machines": len(sm.machines),
            "busy_h": acc[BUSY], "down_h": acc[DOWN], "blocked_h": acc[BLOCKED],
            "starved_h": acc[STARVED],
            "started": st.started * p, "good": st.good * p, "scrapped": st.scrapped * p,
            "reworked": st.reworked * p,
            "inproc_start": st.inproc_start * p,
            "inproc_end": exact["inproc_end"] * p,
            "in_machines_end": st.wm * p,
            "machine_area": machine_area, "buffer_area": buffer_area,
            "buffer_end": exact["buffer_end"] * u,
            "held_end": exact["held_end"] * p,
            "taken": exact["taken"] * u,
            "given": exact["given"] * u,
            "lots": st.lots,
            "units_exc": st.units_exc * p, "units_norm": st.units_norm * p,
            # mean water dose of the lots finished (ppmv·h; NaN without a dose curve)
            "water_dose": st.dose_sum / st.dose_lots if st.dose_lots else math.nan,
            # mean share of the design capacity its lots leave the cells (NaN: no curve)
            "capacity_retained": (st.capacity_sum / st.dose_lots if st.cond_xs and st.dose_lots
                                  else math.nan),
            "exact": exact,
        })
    # the rooms' figures pooled (a plant without zones has one room: its dry room's)
    room_models = (model.dry_room, *model.rooms)
    exposure = 0.0
    for dr, m in zip(rooms, room_models, strict=True):
        if dr.active:  # the excursion under way at the end counts up to the end
            dr.add(T - max(dr.since, model.warmup),
                   dr.sensitive_area(T) - dr.snap
                   if m.peak > m.threshold and not (m.dew_point > m.threshold) else 0.0)
        if m.present and m.dew_point > m.threshold:
            exposure += dr.sensitive_area(T)  # the set point itself is above the threshold
        else:
            exposure += dr.exposure
    h2s = 0.0
    for s, sm in zip(steps, model.steps, strict=True):
        h2s += sm.h2s_process_cm3 * s["started"]  # the process's own vent, any room
        if sm.h2s_cm3 > 0:
            m = room_models[sm.room]
            h2s += sm.h2s_cm3 * (
                s["units_norm"] * m.water_ratio + s["units_exc"] * m.water_ratio_peak)
    return {
        "window_h": window, "events": _events(env), "steps": steps,
        "lead_sum": ctx.lead_sum, "lead_w": ctx.lead_w,
        "excursion_hours": sum(dr.hours for dr in rooms), "exposure_kg_h": exposure,
        "h2s_cm3": h2s, "excursions": sum(dr.events for dr in rooms),
        "excursion_hours_sq": sum(dr.hours_sq for dr in rooms),
        "excursion_hours_max": max(dr.hours_max for dr in rooms),
        "exposure_kg_h_sq": sum(dr.exposure_sq for dr in rooms),
        "exposure_kg_h_max": max(dr.exposure_max for dr in rooms),
        "sensitive_kg_h": sum(dr.sensitive_area(T) for dr in rooms),
    }


def _events(env) -> int:
    """Kernel events scheduled so far: SimPy numbers every event it schedules (its
    private counter `_eid`, present in SimPy 4.1, the version pinned)."""
    counter = getattr(env, "_eid", None)
    return next(counter) if counter is not None else -1
