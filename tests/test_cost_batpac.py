"""The costing conventions against hand roll-ups.

A plant laid out after BatPaC 5.0's 50 GWh/yr baseline (REFERENCE.md §1 table: labour
hours, equipment, area per step; 200 M accepted cells/yr; 68 Ah cells) is priced by
`evaluate`, and the cell cost is rolled up here by hand from REFERENCE.md §1's rules.
The data files for this test are written here (not the shipped ones), so that the
test checks the convention, whatever the shipped data say.
"""

from __future__ import annotations

import textwrap

import pytest

from ssbfab.config import PlantConfig, StepChoice
from ssbfab.cost import evaluate
from ssbfab.data import load_shared, resolve_route

HOURS = 320 * 3 * 8  # BatPaC: 320 effective days, 3 shifts x 8 h
CELLS = 200e6  # accepted cells per year
CELL_KWH = 68 * 3.67 / 1000
# step: (labour h/yr, equipment M$, area m2, yield, environment) from REFERENCE.md §1
# (the dry room's 8,000 h of labour ride on slitting; its 61,000 m2 are the three
# dry-room steps' floor)
STEPS = {
    "pos_mixing": (200_000, 200, 8_000, 0.99, "ambient"),
    "pos_coating": (59_000, 90, 16_000, 0.95, "ambient"),
    "pos_calendering": (61_000, 25, 2_100, 1.0, "ambient"),
    "slitting": (260_000 + 8_000, 30, 20_000, 0.99, "dry_room"),
    "stacking": (700_000, 170, 25_000, 1.0, "dry_room"),
    "filling": (132_000, 25, 16_000, 1.0, "dry_room"),
    "formation": (560_000, 830, 110_000, 0.95, "ambient"),
}
DRY_ROOM_EQUIPMENT = 7.3e6  # dry room + control, for 61,000 m2
# materials bought at a step, kg per unit started, and their price in $/kg
MATERIALS = {"pos_mixing": ("mat_a", 0.30, 26.0), "stacking": ("mat_b", 0.20, 10.0),
             "filling": ("mat_c", 0.05, 8.0)}

ECONOMICS = """\
source: "Argonne BatPaC 5.0 (REFERENCE.md section 1)"
currency_year: 2022
currency_rates: {{}}
operating_days_per_year: 320
shifts_per_day: 3
shift_length: "8 h"
labour_rate: "25 USD/h"
building_cost: "3000 USD/m^2"
electricity_price: "0.08 USD/kWh"
batpac5:
  equipment_life: "10 yr"
  building_life: "20 yr"
  variable_overhead_of_labour: "40 %"
  variable_overhead_of_depreciation: "20 %"
  gsa_of_labour_and_overhead: "25 %"
  gsa_of_depreciation: "25 %"
  rnd_of_depreciation: "40 %"
  launch_of_materials: "5 %"
  launch_of_labour_and_overhead: "10 %"
  working_capital_of_variable_cost: "15 %"
  profit_of_investment: "5 %"
  warranty_of_price: "5.6 %"
  include_profit_and_warranty: {profit}
annuity:
  discount_rate: "8 %"
  equipment_life: "10 yr"
  building_life: "25 yr"
  fixed_om_of_capex: "3 %"
  overhead_of_labour: "40 %"
"""

DRY_ROOMS = f"""\
source: "BatPaC 5.0 dry room: 7.3 M$ for 61,000 m2, no energy term"
sulfide_exposure_threshold: "-45 degC"
h2s_reference_dew_point: "-40 degC"
classes:
  - name: batpac
    dew_point: "-40 degC"
    building_extra_cost: "0 USD/m^2"
    equipment_cost: "{DRY_ROOM_EQUIPMENT / 61_000!r} USD/m^2"
    power: "0 kW/m^2"
    excursions: {{rate: "12 1/yr", duration: "2 h", peak: "-30 degC"}}
"""

MATERIALS_FILE = """\
source: test data
materials:
  cath: {price: "26 USD/kg", density: "4.65 g/cm^3", specific_capacity: "200 mA*h/g"}
  anod: {price: "10 USD/kg", density: "2.24 g/cm^3", specific_capacity: "360 mA*h/g"}
  film: {price: "0.9 USD/m^2", density: "0.95 g/cm^3"}
  mat_a: {price: "26 USD/kg"}
  mat_b: {price: "10 USD/kg"}
  mat_c: {price: "8 USD/kg"}
"""


def _route_text() -> str:
    lines = []
    names = list(STEPS)
    for i, (name, (hours, musd, area, y, env)) in enumerate(STEPS.items()):
        step = [f"  - name: {name}", "    unit: cell", "    per_cell: cell",
                f"    environment: {env}", f'    yield: "{100 * y:g} %"', '    lot_size: "1000 cell"']
        if i:
            step.append(f"    inputs: [{names[i - 1]}]")
        if name in MATERIALS:
            m, q, _ = MATERIALS[name]
            step.append(f'    materials: [{{material: {m}, amount: "{q} kg/cell"}}]')
        step += ["    options:", f"      - name: {name}_machine", f'        capex: "{musd} MUSD"',
                 '        rate: "30000 cell/h"', f'        footprint: "{area} m^2"',
                 f"        operators_per_shift: {hours / HOURS!r}"]
        lines += step
    return textwrap.dedent("""\
        source: "test plant after BatPaC 5.0's baseline (REFERENCE.md section 1)"
        name: batpac-check
        form: liquid
        electrolyte: test
        cell:
          capacity: "68 A*h"
          nominal_voltage: "3.67 V"
          electrode_width: "0.3 m"
          electrode_height: "0.1 m"
          cathode: {components: {cath: "100 %"}, active: cath, thickness: "60 um", porosity: "25 %"}
          anode: {components: {anod: "100 %"}, active: anod, porosity: "30 %"}
          separator: {components: {film: "100 %"}, thickness: "15 um", porosity: "40 %"}
          packaging: {mat_c: "10 g"}
        plant: {floor_area: "1e6 m^2", dry_room_area: "1e6 m^2", default_capacity: "50 GWh/yr"}
        line:
        """) + "\n".join(lines) + "\n"


def _plant(tmp_path, profit: bool = False):
    d = tmp_path / ("lines_profit" if profit else "lines")
    (d / "routes").mkdir(parents=True)
    (d / "economics.yaml").write_text(ECONOMICS.format(profit="true" if profit else "false"))
    (d / "dry_rooms.yaml").write_text(DRY_ROOMS)
    (d / "materials.yaml").write_text(MATERIALS_FILE)
    (d / "routes" / "batpac-check.yaml").write_text(_route_text())
    route = resolve_route("batpac-check", d, shared=load_shared(d))
    steps = {s.name: StepChoice("nominal", {s.options[0].name: 1}, 1000.0) for s in route.line}
    return PlantConfig(route, steps, "batpac", CELLS * CELL_KWH / 1e6)


def _primary():
    """Materials, labour, equipment, building and dry-room capital by hand."""
    names = list(STEPS)
    materials = 0.0
    for name, (_m, q, price) in MATERIALS.items():
        downstream = 1.0
        for n in names[names.index(name):]:
            downstream *= STEPS[n][3]
        materials += CELLS * q * price / downstream  # bought = design / yields to the end
    labour = sum(h for h, *_ in STEPS.values()) * 25.0
    equipment = sum(e for _, e, *_ in STEPS.values()) * 1e6
    building = sum(a for _, _, a, *_ in STEPS.values()) * 3000.0
    return materials, labour, equipment, building, DRY_ROOM_EQUIPMENT


def test_batpac5_reproduces_the_hand_rollup(tmp_path):
    config = _plant(tmp_path)
    m, lab, eq, bld, dry = _primary()
    dep = eq / 10 + bld / 20 + dry / 10  # straight line: equipment 10 yr, building 20 yr
    vo = 0.40 * lab + 0.20 * dep
    gsa = 0.25 * (lab + vo) + 0.25 * dep
    rnd = 0.40 * dep
    per_year = m + lab + vo + dep + gsa + rnd
    c = evaluate(config, costing="batpac5")
    assert c.good_kwh_per_year == pytest.approx(CELLS * CELL_KWH, rel=1e-12)
    assert c.cost_per_kwh == pytest.approx(per_year / (CELLS * CELL_KWH), rel=1e-3)
    assert c.cost_per_kwh == pytest.approx(per_year / (CELLS * CELL_KWH), rel=1e-9)
    assert c.per_year["materials"] == pytest.approx(m, rel=1e-9)
    assert c.per_year["labour"] == pytest.approx(lab, rel=1e-9)
    assert c.overhead_items["variable_overhead"] * c.good_kwh_per_year == pytest.approx(vo, rel=1e-9)
    assert c.overhead_items["gsa"] * c.good_kwh_per_year == pytest.approx(gsa, rel=1e-9)
    assert c.overhead_items["rnd"] * c.good_kwh_per_year == pytest.approx(rnd, rel=1e-9)
    assert c.capex_total == pytest.approx(eq + bld + dry, rel=1e-12)
    assert c.dry_room_area_m2 == pytest.approx(61_000)
    # the breakdown adds up, by category and by step
    assert sum(c.by_category.values()) == pytest.approx(c.cost_per_kwh, rel=1e-12)
    assert c.by_step["usd_per_kwh"].sum() == pytest.approx(c.cost_per_kwh, rel=1e-12)
    by_step = c.by_step.groupby("category")["usd_per_year"].sum()
    for cat, v in c.per_year.items():
        assert by_step[cat] == pytest.approx(v, rel=1e-9, abs=1e-6)


def test_batpac5_profit_and_warranty_when_switched_on(tmp_path):
    config = _plant(tmp_path, profit=True)
    m, lab, eq, bld, dry = _primary()
    dep = eq / 10 + bld / 20 + dry / 10
    vo = 0.40 * lab + 0.20 * dep
    cost = m + lab + vo + dep + 0.25 * (lab + vo) + 0.25 * dep + 0.40 * dep
    launch = 0.05 * m + 0.10 * (lab + vo)
    working = 0.15 * (m + lab + vo)  # no energy in this plant
    profit = 0.05 * (eq + bld + dry + launch + working)
    price = (cost + profit) / (1 - 0.056)  # warranty is 5.6 % of the price
    c = evaluate(config, costing="batpac5")
    assert c.cost_per_kwh * c.good_kwh_per_year == pytest.approx(price, rel=1e-9)
    assert c.investment["investment_usd"] == pytest.approx(eq + bld + dry + launch + working, rel=1e-9)


def test_annuity_uses_the_capital_recovery_factor(tmp_path):
    config = _plant(tmp_path)
    m, lab, eq, bld, dry = _primary()
    r = 0.08
    crf10 = r * (1 + r) ** 10 / ((1 + r) ** 10 - 1)  # textbook form, not the code's
    crf25 = r * (1 + r) ** 25 / ((1 + r) ** 25 - 1)
    assert crf10 == pytest.approx(0.149029, abs=1e-6)  # tables: 8 %, 10 yr
    per_year = (m + lab + (eq + dry) * crf10 + bld * crf25 + 0.03 * (eq + bld + dry) + 0.40 * lab)
    c = evaluate(config, costing="annuity")
    assert c.cost_per_kwh * c.good_kwh_per_year == pytest.approx(per_year, rel=1e-9)
    assert sum(c.by_category.values()) == pytest.approx(c.cost_per_kwh, rel=1e-12)


def test_shipped_economics_are_batpac5(shared):
    """The shipped lines/economics.yaml carries REFERENCE.md §1's numbers."""
    e = shared.economics
    b = e.batpac5
    assert (e.operating_days_per_year, e.shifts_per_day, e.shift_length) == (320, 3, 8)
    assert e.labour_rate == pytest.approx(25) and e.building_cost == pytest.approx(3000)
    assert (b.equipment_life, b.building_life) == pytest.approx((10, 20))
    assert (b.variable_overhead_of_labour, b.variable_overhead_of_depreciation) == pytest.approx((0.4, 0.2))
    assert (b.gsa_of_labour_and_overhead, b.gsa_of_depreciation, b.rnd_of_depreciation) == \
        pytest.approx((0.25, 0.25, 0.4))
    assert (b.launch_of_materials, b.launch_of_labour_and_overhead,
            b.working_capital_of_variable_cost) == pytest.approx((0.05, 0.10, 0.15))
    assert (b.profit_of_investment, b.warranty_of_price) == pytest.approx((0.05, 0.056))
    assert b.include_profit_and_warranty is False
