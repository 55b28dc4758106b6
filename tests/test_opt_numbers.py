"""Every number of the optimiser's MILP for a two-step plant, by hand.

The plant is test_cost_primaries' (the parts plant of test_cost_parts with a
moisture-sensitive powder that is reworked and releases H2S): two classes whose
yields, water ratios and dry-room prices differ, a powder step with two options (one
cheaper per machine and per kWh, the other faster) and a cell step with two levels
that neither dominates (one faster and frugal, one better-yielding). Bounds, big-Ms,
capacities, costs and H2S coefficients are computed here from the data, with the
convention's weights (`categories.weights`, checked by hand in test_cost_rollup), so
a swapped yield, class, option or level changes an asserted number.
"""

from __future__ import annotations

import math

import pytest

from ssbfab import categories
from ssbfab.errors import InputError
from ssbfab.opt.data import ANY, Structure, _ceil, numbers
from test_cost_parts import BUILDING, CELL_KWH, CELLS, HOURS, LABOUR, PRICE_E
from test_cost_primaries import BACK, POWDER_KG, RELEASE, SHARE, magnus_ppmv, plant  # noqa: F401

GWH = CELLS * CELL_KWH / 1e6
KWH = GWH * 1e6
Y_POWDER = {"wet": 0.72 + 0.28 * SHARE * BACK, "dry": 0.90 + 0.10 * SHARE * BACK}
Y_CELL = {"fast": 0.90, "slow": 0.95}
RATIO = {d: magnus_ppmv(t) / magnus_ppmv(-40.0) for d, t in (("wet", -40.0), ("dry", -60.0))}


@pytest.fixture
def model(plant):  # noqa: F811
    # per test, not per module: mutmut maps a test to the functions it sees called
    st = Structure.of(plant)
    return st, numbers(plant, st, GWH)


def test_the_structure(model):
    st, _ = model
    assert st.steps == ("powder_step", "cell_step") and st.final == "cell_step"
    assert st.classes == ("wet", "dry")
    assert st.flow_classes == {"powder_step": ("wet", "dry"), "cell_step": (ANY,)}
    assert st.multi == frozenset({"powder_step"}) and st.dry_steps == ("powder_step",)
    assert st.levels == {"powder_step": ("nominal",), "cell_step": ("fast", "slow")}
    assert st.consumers == {"powder_step": ("cell_step",), "cell_step": ()}
    assert st.twins == () and st.energy_step is None


def test_yields_bounds_and_big_ms_by_hand(model):
    _, nb = model
    for d, y in Y_POWDER.items():
        assert nb.yields[("powder_step", "nominal", d)] == pytest.approx(y, rel=1e-12)
        assert nb.inv_y[("powder_step", "nominal", d)] == pytest.approx(1 / y, rel=1e-12)
    for lv, y in Y_CELL.items():
        assert nb.yields[("cell_step", lv, ANY)] == pytest.approx(y, rel=1e-12)
    assert nb.zub == {("powder_step", "nominal"): 1.0, ("cell_step", "fast"): 1.0,
                      ("cell_step", "slow"): 1.0}  # neither level dominates the other
    assert nb.inv_rf == {("powder_step", "nominal"): 1.0, ("cell_step", "fast"): 0.5,
                         ("cell_step", "slow"): 1.0}
    # good output per good cell: the cell step makes 1; the powder step most at the
    # cell step's worst yield (0.5 kg / 0.90), least at its best (0.5 kg / 0.95)
    g_hi, g_lo = 0.5 / 0.90, 0.5 / 0.95
    assert nb.gmax == {"cell_step": 1.0, "powder_step": pytest.approx(g_hi, rel=1e-12)}
    assert nb.gmin == {"cell_step": 1.0, "powder_step": pytest.approx(g_lo, rel=1e-12)}
    assert nb.smax[("powder_step", "nominal")] == pytest.approx(g_hi / Y_POWDER["wet"], rel=1e-12)
    assert nb.smin[("powder_step", "nominal")] == pytest.approx(g_lo / Y_POWDER["dry"], rel=1e-12)
    for lv, y in Y_CELL.items():
        assert nb.smax[("cell_step", lv)] == pytest.approx(1 / y, rel=1e-12)
        assert nb.smin[("cell_step", lv)] == pytest.approx(1 / y, rel=1e-12)
    assert nb.gub[("powder_step", "nominal", "wet")] == pytest.approx(g_hi, rel=1e-12)
    assert nb.ratio == {("powder_step", "cell_step"): pytest.approx(0.5, rel=1e-12)}
    assert nb.cells_per_year == pytest.approx(CELLS, rel=1e-12)
    assert nb.kwh_per_year == pytest.approx(KWH, rel=1e-12)
    assert nb.infeasible == [] and nb.cells_at == {}


def test_machines_by_hand(model):
    _, nb = model
    cap = {"small": 20 * HOURS / CELLS, "large": 200 * HOURS / CELLS,
           "assembler": 1000 * HOURS / CELLS}
    for (_, e), v in nb.cap.items():
        assert v == pytest.approx(cap[e], rel=1e-12), e
    # most machines: the largest need (worst yields) on that option alone
    need_powder = 0.5 / 0.90 / Y_POWDER["wet"]
    need_cell = max(1 / 0.90 * 0.5, 1 / 0.95)  # started x 1/rate_factor at each level
    assert nb.nub == {("powder_step", "small"): math.ceil(need_powder / cap["small"]),
                      ("powder_step", "large"): math.ceil(need_powder / cap["large"]),
                      ("cell_step", "assembler"): math.ceil(need_cell / cap["assembler"])}
    assert nb.nub[("powder_step", "small")] == 6  # 0.668 / 0.12 = 5.6
    assert nb.nlb == {k: 0 for k in nb.nub}
    # fewest machines: the smallest need on the fastest open option
    least_powder = 0.5 / 0.95 / Y_POWDER["dry"]
    assert nb.kmin[("powder_step", "nominal")] == math.ceil(least_powder / cap["large"]) == 1
    assert nb.kmin[("cell_step", "fast")] == nb.kmin[("cell_step", "slow")] == 1
    assert nb.footprint == {("powder_step", "small"): 100.0, ("powder_step", "large"): 150.0,
                            ("cell_step", "assembler"): 200.0}
    assert nb.derate == {"powder_step": 1.0, "cell_step": 1.0}


def test_costs_by_hand(plant, model):  # noqa: F811
    _, nb = model
    w = categories.weights(plant.economics, "batpac5")

    def per_machine(capex, operators, footprint):
        return (capex * w["equipment_capex"] + operators * HOURS * LABOUR * w["labour"]
                + footprint * BUILDING * w["building_capex"]) / KWH

    assert nb.c_n[("powder_step", "small")] == pytest.approx(per_machine(1e6, 1, 100), rel=1e-9)
    assert nb.c_n[("powder_step", "large")] == pytest.approx(per_machine(1.5e6, 1, 150), rel=1e-9)
    assert nb.c_n[("cell_step", "assembler")] == pytest.approx(per_machine(2e6, 2, 200), rel=1e-9)
    # the least whole-machine cost that covers the powder step's smallest need
    least = 0.5 / 0.95 / Y_POWDER["dry"]
    small, large = nb.c_n[("powder_step", "small")], nb.c_n[("powder_step", "large")]
    n_small = math.ceil(least / (20 * HOURS / CELLS))
    assert nb.phi[("powder_step", "nominal")] == pytest.approx(min(large, n_small * small),
                                                               rel=1e-9)
    # dry room per m² of class d: building extra, equipment, energy
    for d, (extra, equip, kw) in {"wet": (100, 200, 0.1), "dry": (500, 400, 0.3)}.items():
        hand = (extra * w["building_capex"] + equip * w["dry_room_capex"]
                + kw * HOURS * PRICE_E * w["dry_room_energy"]) / KWH
        assert nb.c_a[d] == pytest.approx(hand, rel=1e-9), d
    # energy per unit started on each powder option (its dispatch), per good cell
    for e, kwh_per_kg in (("small", 10 / 20), ("large", 200 / 200)):
        assert nb.c_x[("powder_step", e, "nominal")] == pytest.approx(
            kwh_per_kg * PRICE_E * w["process_energy"] * CELLS / KWH, rel=1e-9)
    # per unit of good output: powder's price, rework and H2S through its yield; the
    # cell step's pouch and energy (it has one option) through its level's yield
    for d, y in Y_POWDER.items():
        fp = 0.90 * (1.0 if d == "dry" else 0.80)
        h2s_m3 = POWDER_KG * RELEASE * 1e-3 * RATIO[d]
        unit = (POWDER_KG * 10.0 * w["materials"] + h2s_m3 * 7.0 * w["h2s_abatement"]
                + (1 - fp) * SHARE * 3.0 * w["rework"])
        assert nb.c_g[("powder_step", "nominal", d)] == pytest.approx(
            unit / y * CELLS / KWH, rel=1e-9), d
        assert nb.h2s[("powder_step", "nominal", d)] == pytest.approx(
            h2s_m3 / y * CELLS, rel=1e-9), d
    for lv, (ef, rf) in {"fast": (0.5, 2.0), "slow": (1.0, 1.0)}.items():
        pouch = 0.030 * 8.0 * 0.6  # less its 40 % scrap credit
        energy = 20 * ef / (1000 * rf) * PRICE_E
        assert nb.c_g[("cell_step", lv, ANY)] == pytest.approx(
            (pouch * w["materials"] + energy * w["process_energy"]) / Y_CELL[lv] * CELLS / KWH,
            rel=1e-9), lv
        assert nb.h2s[("cell_step", lv, ANY)] == 0.0
    # the pouch's credit for the 30 g that stay in each good cell: a constant
    assert nb.c0 == pytest.approx(0.030 * 8.0 * 0.4 * w["materials"] * CELLS / KWH, rel=1e-9)
    assert nb.h2s_limit == math.inf


def test_an_h2s_limit_below_the_least_release_proves_no_plan(plant):  # noqa: F811
    """The least H2S any plan releases is the powder step's smallest start (the best
    yields downstream) in the driest class (the least water): just above it there is
    a plan, just below it a proof that there is none."""
    least = 0.5 / 0.95 / Y_POWDER["dry"] * POWDER_KG * RELEASE * 1e-3 * RATIO["dry"] * CELLS  # m³/yr
    assert RATIO["dry"] < 0.2  # -60 °C holds far less water than -40 °C
    st = Structure.of(plant)
    for factor, proved in ((1.001, False), (0.999, True)):
        site = plant.plant.model_copy(update={"h2s_limit": least * factor})
        nb = numbers(plant.model_copy(update={"plant": site}), st, GWH)
        assert nb.h2s_limit == pytest.approx(least * factor, rel=1e-12)
        said = [m for m in nb.infeasible if "plant.h2s_limit" in m]
        assert bool(said) == proved, (factor, nb.infeasible)


@pytest.mark.parametrize("gwh", [0.0, -1.0, math.inf, math.nan])
def test_a_target_that_is_not_a_positive_number_is_refused(plant, model, gwh):  # noqa: F811
    st, _ = model
    with pytest.raises(InputError) as e:
        numbers(plant, st, gwh)
    assert e.value.problems[0].field == "capacity_gwh"


@pytest.mark.parametrize("derate, field", [({"powder_stp": 0.9}, "derate.powder_stp"),
                                           ({"cell_step": 0.0}, "derate.cell_step"),
                                           ({"cell_step": math.nan}, "derate.cell_step")])
def test_a_bad_derate_is_refused(plant, model, derate, field):  # noqa: F811
    st, _ = model
    with pytest.raises(InputError) as e:
        numbers(plant, st, GWH, derate=derate)
    assert e.value.problems[0].field == field


def test_a_derate_asks_for_machines_where_it_is_given(plant, model):  # noqa: F811
    st, nb = model
    d = numbers(plant, st, GWH, derate={"powder_step": 0.5})
    assert d.derate == {"powder_step": 0.5, "cell_step": 1.0}
    need = 0.5 / 0.90 / Y_POWDER["wet"] / 0.5
    assert d.nub[("powder_step", "small")] == math.ceil(need / (20 * HOURS / CELLS)) == 12
    assert d.nub[("cell_step", "assembler")] == nb.nub[("cell_step", "assembler")]
    assert d.kmin[("powder_step", "nominal")] == math.ceil(
        0.5 / 0.95 / Y_POWDER["dry"] / 0.5 / (200 * HOURS / CELLS)) == 1


@pytest.mark.parametrize("x, n", [(3.0000000001, 3), (3.0, 3), (2.9999, 3), (3.01, 4),
                                  (0.0, 0), (-2.0, 0), (1e-6, 1)])
def test_ceil_forgives_float_noise_only(x, n):
    assert _ceil(x) == n
