"""Conservation on random small lines (hypothesis), and reproducibility."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_lines import config_with, days_for, load_line, step
from ssbfab.io import json_clean
from ssbfab.sim import bare_config, compile_config, simulate
from ssbfab.sim.model import run_replication

SHAPES = {
    "serial2": [[], [0]],
    "serial4": [[], [0], [1], [2]],
    "merge": [[], [], [0, 1], [2]],  # two branches meet at assembly
    "diamond": [[], [0], [0], [1, 2]],  # one step feeds two, which meet again
}


@st.composite
def lines(draw):
    shape = draw(st.sampled_from(sorted(SHAPES)))
    ins = SHAPES[shape]
    lots = [draw(st.integers(1, 12)) for _ in ins]
    steps = []
    for i, inputs in enumerate(ins):
        edges = []
        for u in inputs:
            k = draw(st.integers(1, 3))  # units of u per unit of this step
            edges.append({"step": f"s{u}", "per_cell": f"{k} cell"})
        kw: dict = {"lot": lots[i], "yield_": f"{draw(st.integers(40, 100))} %"}
        if draw(st.booleans()):
            kw["batch"] = lots[i] * draw(st.integers(1, 4))
            kw["cycle"] = draw(st.sampled_from([0.3, 1.0, 2.5]))
        else:
            kw["rate"] = draw(st.sampled_from([2, 7, 20, 60]))
        kw["dist"] = draw(st.sampled_from(["deterministic", "exponential", "gamma", "lognormal"]))
        if kw["dist"] in ("gamma", "lognormal"):
            kw["cv"] = f"{draw(st.integers(5, 90))} %"
        if draw(st.booleans()):
            kw["mtbf"] = draw(st.sampled_from([3, 20, 100]))
            kw["mttr"] = draw(st.sampled_from([0.5, 2, 8]))
        if draw(st.booleans()):
            kw["maintenance"] = {"every": f"{draw(st.sampled_from([5, 40]))} h",
                                 "duration": "1 h"}
        steps.append(step(f"s{i}", inputs=edges or None, buffer=1, **kw))
    # buffers: sometimes the smallest that holds one consumer lot (the deadlock edge)
    for i, inputs in enumerate(ins):
        for j, u in enumerate(inputs):
            need = lots[i] * int(steps[i]["inputs"][j]["per_cell"].split()[0])
            least = math.ceil(need / lots[u])
            steps[u]["buffer"] = max(steps[u]["buffer"], least + draw(st.integers(0, 3)))
    machines = {f"s{i}": draw(st.integers(1, 3)) for i in range(len(ins))}
    return shape, steps, machines


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines())
def test_units_are_conserved_on_random_lines(tmp_path, shared, line):
    shape, steps, machines = line
    route = load_line(tmp_path, steps, name=f"random-{shape}", shared=shared)
    cfg = config_with(route, machines=machines)
    model = compile_config(cfg, days=days_for(route, 150), warmup_days=0)
    raw = run_replication(model, seed=7, rep=0)
    T = model.hours
    rows = {s["step"]: s for s in raw["steps"]}
    for sm in model.steps:
        r = rows[sm.name]
        scale = max(1.0, r["started"])
        # units started = good + scrapped + still in process
        assert r["started"] == pytest.approx(r["good"] + r["scrapped"] + r["inproc_end"],
                                             abs=1e-9 * scale)
        assert r["scrapped"] >= -1e-9 and r["good"] >= -1e-9
        # every machine-hour is busy, down, blocked or starved
        hours = r["busy_h"] + r["down_h"] + r["blocked_h"] + r["starved_h"]
        assert hours == pytest.approx(len(sm.machines) * T, rel=1e-9)
        if sm.buffer_capacity != math.inf:
            assert r["buffer_end"] >= 0
    # what left a buffer (what its step made, less what is held blocked, less the
    # buffer's level) is what the consumers' lots took (plus, at an assembly step,
    # inputs of lots whose other inputs have not arrived yet)
    for ci, c in enumerate(model.steps):
        for u, need in c.inputs:
            taken_by_c = rows[c.name]["started"] / c.lot * need
            consumers = [x for x in model.steps if any(uu == u for uu, _ in x.inputs)]
            if len(consumers) == 1:
                taken = rows[model.steps[u].name]["taken"]
                slack = 0.0 if len(c.inputs) == 1 else len(c.machines) * need
                assert taken_by_c - 1e-6 <= taken <= taken_by_c + slack + 1e-6, (ci, u)


@pytest.fixture(scope="module")
def small_route(tmp_path_factory, shared):
    return load_line(tmp_path_factory.mktemp("det"), [
        step("a", rate=30, dist="gamma", cv="30 %", lot=5, buffer=3, mtbf=20, mttr=2,
             yield_="95 %"),
        step("b", batch=20, cycle=0.8, lot=5, buffer=4, inputs=["a"], yield_="97 %"),
        step("c", rate=25, dist="exponential", lot=5, inputs=["b"], yield_="99 %"),
    ], shared=shared)


def _doc(res) -> dict:
    """The JSON document (NaN written as null, as the CLI does) without the wall time."""
    d = json_clean(res.stats.to_dict())
    d.pop("wall_s")
    return d


def test_same_seed_same_document_and_different_seeds_differ(small_route):
    days = days_for(small_route, 400)
    a = simulate(bare_config(small_route), days=days, warmup_days=1, reps=2, seed=42, workers=1)
    b = simulate(bare_config(small_route), days=days, warmup_days=1, reps=2, seed=42, workers=1)
    c = simulate(bare_config(small_route), days=days, warmup_days=1, reps=2, seed=43, workers=1)
    assert _doc(a) == _doc(b)
    assert _doc(a) != _doc(c)
    assert a.stats.good_cells_per_year.mean != c.stats.good_cells_per_year.mean


def test_worker_processes_give_the_same_numbers(small_route):
    days = days_for(small_route, 300)
    one = simulate(bare_config(small_route), days=days, warmup_days=1, reps=3, seed=9, workers=1)
    two = simulate(bare_config(small_route), days=days, warmup_days=1, reps=3, seed=9, workers=2)
    assert _doc(one) == _doc(two)
    for name in one.tables:
        assert one.tables[name].equals(two.tables[name]), name
