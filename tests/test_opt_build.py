"""The optimiser's Pyomo model at a plan worked out by hand, without a solver.

The plant is test_opt_numbers' (two classes, a powder step with two options, a cell
step with two levels). For each level and class, every variable is set to what the
plan of test_cost_parts' `config` (2 small + 1 large powder machines, 1 assembler)
makes per good cell: the chosen level and class, the flows through the yields, the
dispatch of the powder step's work in merit order, the dry room's area (the plant has
no named zones: its one zone is the plant's, `PLANT_ZONE`). Then
- the objective is `evaluate`'s cost per kWh of that plan (the same roll-up), and
- every row holds, and the rows' left-hand sides are the hand values (capacity
  slack, dispatch, areas, machines needed), so a changed coefficient, sign, index or
  bound of a row shows even where the row is not binding;
and a plan one machine short breaks exactly the capacity row of that step.
"""

from __future__ import annotations

import pyomo.environ as pyo
import pytest

from ssbfab.cost import evaluate
from ssbfab.data.schema import PLANT_ZONE
from ssbfab.opt.build import build_model, parameter_values, set_parameters
from ssbfab.opt.data import ANY, Structure, numbers
from test_cost_parts import CELLS, HOURS, config
from test_cost_primaries import plant  # noqa: F401 (a fixture)
from test_opt_numbers import GWH, Y_CELL, Y_POWDER

CAP = {"small": 20 * HOURS / CELLS, "large": 200 * HOURS / CELLS,
       "assembler": 1000 * HOURS / CELLS}  # nominal units per machine-year per good cell
RATE_FACTOR = {"fast": 2.0, "slow": 1.0}
DRY_AREA = 2 * 100 + 150  # m², the powder machines


def _set_plan(m, nb, level: str, dpc: str, machines: dict[str, int]) -> dict[str, float]:
    """Fix every variable at the hand plan; returns the hand numbers."""
    other = {"fast": "slow", "slow": "fast"}[level]
    wet_dry = {"dry": "wet", "wet": "dry"}[dpc]
    g_powder = 0.5 / Y_CELL[level]  # kg of powder per good cell
    work = g_powder / Y_POWDER[dpc]  # kg started (the powder step's rate factor is 1)
    on_small = min(work, machines["small"] * CAP["small"])
    values = [
        (m.z["powder_step", "nominal"], 1), (m.z["cell_step", level], 1),
        (m.z["cell_step", other], 0), (m.w[PLANT_ZONE, dpc], 1), (m.w[PLANT_ZONE, wet_dry], 0),
        (m.g["cell_step", level, ANY], 1.0), (m.g["cell_step", other, ANY], 0.0),
        (m.g["powder_step", "nominal", dpc], g_powder),
        (m.g["powder_step", "nominal", wet_dry], 0.0),
        (m.x["powder_step", "small", "nominal"], on_small),
        (m.x["powder_step", "large", "nominal"], work - on_small),
        # the dry room's area as a share of the largest it can be
        (m.a[PLANT_ZONE, dpc], _dry_area(machines) / nb.amax),
        (m.a[PLANT_ZONE, wet_dry], 0.0),
    ]
    values += [(m.n[s, e], machines[e]) for (s, e) in m.SE]
    for var, v in values:
        var.fix(v)
    assert all(v.fixed for v in m.component_data_objects(pyo.Var))
    return {"work_powder": work, "work_cell": 1.0 / Y_CELL[level] / RATE_FACTOR[level],
            "on_small": on_small, "g_powder": g_powder}


def _dry_area(machines: dict[str, int]) -> float:
    return machines["small"] * 100.0 + machines["large"] * 150.0


def _lhs(con) -> float:
    return pyo.value(con.body)


def _violated(m, tol: float = 1e-9) -> list[str]:
    out = []
    for c in m.component_data_objects(pyo.Constraint, active=True):
        v = pyo.value(c.body)
        lo, hi = pyo.value(c.lower), pyo.value(c.upper)
        if (lo is not None and v < lo - tol) or (hi is not None and v > hi + tol):
            out.append(c.name)
    return out


@pytest.fixture
def built(plant):  # noqa: F811
    # per test, not per module: mutmut maps a test to the functions it sees called
    st = Structure.of(plant)
    nb = numbers(plant, st, GWH)
    return st, nb, build_model(st, nb)


@pytest.mark.parametrize("level, dpc", [("fast", "dry"), ("slow", "wet")])
def test_a_hand_plan_is_feasible_and_priced_like_evaluate(plant, built, level, dpc):  # noqa: F811
    st, nb, m = built
    machines = {"small": 2, "large": 1, "assembler": 1}
    h = _set_plan(m, nb, level, dpc, machines)
    assert _violated(m) == []
    cost = evaluate(config(plant, dpc, level=level))
    assert cost.feasible
    assert pyo.value(m.cost) == pytest.approx(cost.cost_per_kwh, rel=1e-9)
    # capacity: installed minus started work, per good cell (nominal-rate units)
    installed = 2 * CAP["small"] + CAP["large"]
    assert _lhs(m.capacity["powder_step"]) == pytest.approx(installed - h["work_powder"], rel=1e-9)
    assert _lhs(m.capacity["cell_step"]) == pytest.approx(CAP["assembler"] - h["work_cell"],
                                                          rel=1e-9)
    # the dispatch shares exactly the work; each option within its own machines
    assert _lhs(m.dispatch["powder_step", "nominal"]) == pytest.approx(0.0, abs=1e-12)
    assert _lhs(m.dispatch_capacity["powder_step", "small"]) == pytest.approx(
        h["on_small"] - 2 * CAP["small"], abs=1e-12)
    assert _lhs(m.dispatch_capacity["powder_step", "large"]) == pytest.approx(
        h["work_powder"] - h["on_small"] - CAP["large"], rel=1e-9)
    # flows: the cell step makes one good cell, the powder step what it draws
    assert _lhs(m.flow_balance["cell_step"]) == pytest.approx(1.0, rel=1e-12)
    assert _lhs(m.flow_balance["powder_step"]) == pytest.approx(0.0, abs=1e-12)
    assert _lhs(m.class_link["powder_step", dpc]) == pytest.approx(
        h["g_powder"] - nb.gmax["powder_step"], abs=1e-12)
    assert _lhs(m.level_link["cell_step", level]) == pytest.approx(1.0 - 1.0, abs=1e-12)
    # site areas as shares of their limits (1e6 m² each); the dry room split by class
    assert _lhs(m.floor_area) == pytest.approx((DRY_AREA + 200) / 1e6, rel=1e-12)
    assert _lhs(m.dry_room_area) == pytest.approx(DRY_AREA / 1e6, rel=1e-12)
    assert _lhs(m.dry_split[PLANT_ZONE]) == pytest.approx(0.0, abs=1e-12)
    assert _lhs(m.machines_needed["powder_step"]) == 3 - nb.kmin[("powder_step", "nominal")]
    assert _lhs(m.machines_needed["cell_step"]) == 1 - nb.kmin[("cell_step", level)]
    assert _lhs(m.machine_cost_floor["powder_step"]) == pytest.approx(
        2 * nb.c_n[("powder_step", "small")] + nb.c_n[("powder_step", "large")]
        - nb.phi[("powder_step", "nominal")], rel=1e-9)
    assert pyo.value(m.h2s_release.body) == 0.0  # no limit: every share is 0


def test_one_machine_short_breaks_the_capacity_row_of_that_step(plant, built):  # noqa: F811
    _, nb, m = built
    # one large machine carries the powder step (1.2 > 0.59 per good cell) and the cell
    # step's one assembler its own
    _set_plan(m, nb, "fast", "dry", {"small": 0, "large": 1, "assembler": 1})
    assert _violated(m) == []
    _set_plan(m, nb, "fast", "dry", {"small": 2, "large": 0, "assembler": 1})
    # the small machines' 0.24 cannot carry 0.59: the step is short, and the work
    # dispatched beyond them lands on the large option, which has no machine
    assert _violated(m) == ["capacity[powder_step]", "dispatch_capacity[powder_step,large]"]


def test_new_numbers_reach_the_built_model(plant, built):  # noqa: F811
    """set_parameters pushes a scenario's numbers in place: a derate of 0.5 at the
    powder step halves its derated capacity, not its dispatch capacity."""
    st, _, m = built
    half = numbers(plant, st, GWH, derate={"powder_step": 0.5})
    set_parameters(m, st, half)
    for e in ("small", "large"):
        assert pyo.value(m.cap_derated["powder_step", e]) == pytest.approx(0.5 * CAP[e],
                                                                          rel=1e-12)
        assert pyo.value(m.cap["powder_step", e]) == pytest.approx(CAP[e], rel=1e-12)
        assert pyo.value(m.nub["powder_step", e]) == half.nub[("powder_step", e)]
    assert pyo.value(m.cap_derated["cell_step", "assembler"]) == pytest.approx(
        CAP["assembler"], rel=1e-12)
    v = parameter_values(st, half)
    assert v["work"][("powder_step", "nominal", "dry")] == pytest.approx(
        1 / Y_POWDER["dry"], rel=1e-12)
    assert v["work"][("cell_step", "fast", ANY)] == pytest.approx(1 / 0.9 / 2, rel=1e-12)
    assert v["draw"][("powder_step", "cell_step", "slow", ANY)] == pytest.approx(
        0.5 / 0.95, rel=1e-12)
